//! The exact statistics of verification: binomial tails and tests, the LQAS plan's risks,
//! sample sizes with the finite-population correction, Wilson intervals and Chapman's
//! dual-system estimate with its interval.

/// The normal quantile of a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, n = 9: relative error below 1e-13).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection keeps the series in its accurate range.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// `P(X = k)` for `X ~ Binomial(n, p)`.
pub fn binomial_pmf(k: u64, n: u64, p: f64) -> f64 {
    if k > n {
        return 0.0;
    }
    if p <= 0.0 {
        return if k == 0 { 1.0 } else { 0.0 };
    }
    if p >= 1.0 {
        return if k == n { 1.0 } else { 0.0 };
    }
    let (k, n) = (k as f64, n as f64);
    let ln = ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0)
        + k * p.ln()
        + (n - k) * (1.0 - p).ln();
    ln.exp()
}

/// `P(X ≤ k)` for `X ~ Binomial(n, p)`.
pub fn binomial_cdf(k: u64, n: u64, p: f64) -> f64 {
    (0..=k.min(n))
        .map(|i| binomial_pmf(i, n, p))
        .sum::<f64>()
        .min(1.0)
}

/// The two-sided exact binomial test of `k` successes in `n` trials against `p`: the
/// probability of every outcome no more likely than `k` (the rule of R's `binom.test`).
pub fn binomial_test(k: u64, n: u64, p: f64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    let observed = binomial_pmf(k, n, p);
    // A relative tolerance, as R uses, so that outcomes as likely as `k` count.
    let limit = observed * (1.0 + 1e-7);
    (0..=n)
        .map(|i| binomial_pmf(i, n, p))
        .filter(|q| *q <= limit)
        .sum::<f64>()
        .min(1.0)
}

/// The exact test of two Poisson counts with the same expectation (the records' count `d`
/// against the return's `r`): conditional on `d + r`, `d` is Binomial(d + r, ½).
pub fn poisson_test(d: u64, r: u64) -> f64 {
    binomial_test(d, d + r, 0.5)
}

/// The Wilson score interval (95 %) of `x` successes in `n`.
pub fn wilson(x: u64, n: u64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let (x, n) = (x as f64, n as f64);
    let z2 = Z95 * Z95;
    let p = x / n;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = Z95 / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// A lot quality assurance sampling plan: `n` records per lot (a village's stratum), and
/// the lot passes when at most `d` of them fail. `upper` is the accuracy a lot should reach
/// (80 %), `lower` the accuracy at which it must fail (50 %).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LqasPlan {
    pub n: u64,
    pub d: u64,
    pub upper: f64,
    pub lower: f64,
}

impl Default for LqasPlan {
    fn default() -> Self {
        LqasPlan {
            n: 19,
            d: 6,
            upper: 0.80,
            lower: 0.50,
        }
    }
}

impl LqasPlan {
    /// α: the risk of failing a lot that reaches `upper` (more than `d` failures when each
    /// record fails with probability 1 − upper).
    pub fn alpha(&self) -> f64 {
        1.0 - binomial_cdf(self.d, self.n, 1.0 - self.upper)
    }

    /// β: the risk of passing a lot at `lower` (at most `d` failures when each record fails
    /// with probability 1 − lower).
    pub fn beta(&self) -> f64 {
        binomial_cdf(self.d, self.n, 1.0 - self.lower)
    }

    /// Whether a lot with `failures` among its checked records passes.
    pub fn passes(&self, failures: u64) -> bool {
        failures <= self.d
    }
}

/// The sample size that estimates a share near `p` within `±margin` (95 %) in a stratum of
/// `population` records, with the finite-population correction; never more than the
/// stratum.
pub fn precision_sample_size(population: u64, p: f64, margin: f64) -> u64 {
    if population == 0 {
        return 0;
    }
    let n0 = Z95 * Z95 * p * (1.0 - p) / (margin * margin);
    let n = n0 / (1.0 + (n0 - 1.0) / population as f64);
    (n.ceil() as u64).clamp(1, population)
}

/// Chapman's dual-system estimate of a population seen by two sources: `n1` and `n2`
/// records, `both` seen by both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chapman {
    pub n1: u64,
    pub n2: u64,
    pub both: u64,
    /// `(n1 + 1)(n2 + 1) / (both + 1) − 1`.
    pub estimate: f64,
    /// Seber's variance of the estimate.
    pub variance: f64,
    /// The 95 % interval: Chao's log-normal interval for the unseen part, added to those
    /// seen by either source (so it never falls below them), rounded outward to whole
    /// births.
    pub low: f64,
    pub high: f64,
}

impl Chapman {
    pub fn new(n1: u64, n2: u64, both: u64) -> Chapman {
        let (a, b, m) = (n1 as f64, n2 as f64, both.min(n1).min(n2) as f64);
        let estimate = (a + 1.0) * (b + 1.0) / (m + 1.0) - 1.0;
        let variance = (a + 1.0) * (b + 1.0) * (a - m) * (b - m) / ((m + 1.0).powi(2) * (m + 2.0));
        let seen = a + b - m;
        // The unseen: estimate − seen = (n1 − m)(n2 − m) / (m + 1) ≥ 0.
        let unseen = (a - m) * (b - m) / (m + 1.0);
        let (low, high) = if unseen > 0.0 {
            let c = (Z95 * (1.0 + variance / (unseen * unseen)).ln().sqrt()).exp();
            ((seen + unseen / c).floor(), (seen + unseen * c).ceil())
        } else {
            (seen, seen)
        };
        Chapman {
            n1,
            n2,
            both,
            estimate,
            variance,
            low,
            high,
        }
    }

    /// The estimate of a population made of strata, each estimated on its own (a
    /// post-stratified dual-system estimate): estimates and variances add, and the interval
    /// is Chao's on the strata's unseen births together.
    pub fn combine(parts: &[Chapman]) -> Chapman {
        let sum = |f: fn(&Chapman) -> u64| parts.iter().map(f).sum::<u64>();
        let (n1, n2, both) = (sum(|c| c.n1), sum(|c| c.n2), sum(|c| c.both));
        let estimate: f64 = parts.iter().map(|c| c.estimate).sum();
        let variance: f64 = parts.iter().map(|c| c.variance).sum();
        let seen: f64 = parts
            .iter()
            .map(|c| (c.n1 + c.n2 - c.both.min(c.n1).min(c.n2)) as f64)
            .sum();
        let unseen = estimate - seen;
        let (low, high) = if unseen > 0.0 {
            let c = (Z95 * (1.0 + variance / (unseen * unseen)).ln().sqrt()).exp();
            ((seen + unseen / c).floor(), (seen + unseen * c).ceil())
        } else {
            (seen, seen)
        };
        Chapman {
            n1,
            n2,
            both,
            estimate,
            variance,
            low,
            high,
        }
    }

    /// Whether the interval holds `n`.
    pub fn covers(&self, n: f64) -> bool {
        self.low <= n && n <= self.high
    }
}
