//! Sorting a frame by several key columns through one integer key per row.
//!
//! Polars sorts by several columns with one comparison per column behind a dynamic call;
//! a province's `indicator_births` (15 M rows, five text keys, the first of them ~15 values)
//! took 14 s so. Here each key column is replaced by the rank of its value among the
//! column's distinct values (a hash lookup per row, the distinct values sorted once), the
//! ranks are packed into one integer per row, and those are sorted on the pool.

use std::hash::Hash;

use polars::prelude::*;
use rayon::prelude::*;

/// A key column as ranks: 0 for null, then 1, 2, … in the order of the distinct values.
struct Ranked {
    ranks: Vec<u32>,
    /// Bits a rank takes.
    bits: u32,
}

/// Ranks of `values` (in row order) in the order of their distinct values, nulls first,
/// and the distinct values in order (the value of rank `r` is `distinct[r - 1]`).
fn rank<T: Hash + Eq + Ord + Copy + Sync>(
    values: impl Iterator<Item = Option<T>>,
    n: usize,
) -> (Ranked, Vec<T>) {
    let mut seen: PlHashMap<T, u32> = PlHashMap::default();
    let mut distinct: Vec<T> = Vec::new();
    let mut ranks = Vec::with_capacity(n);
    let mut last: Option<(T, u32)> = None;
    for v in values {
        let id = match (v, last) {
            (None, _) => 0,
            (Some(v), Some((p, id))) if p == v => id,
            (Some(v), _) => {
                let id = *seen.entry(v).or_insert_with(|| {
                    distinct.push(v);
                    distinct.len() as u32
                });
                last = Some((v, id));
                id
            }
        };
        ranks.push(id);
    }
    drop(seen);
    // First-seen ids (1-based) to ranks (1-based) in the values' order.
    let mut by_value: Vec<u32> = (0..distinct.len() as u32).collect();
    by_value.par_sort_unstable_by(|&a, &b| distinct[a as usize].cmp(&distinct[b as usize]));
    let mut rank_of = vec![0u32; distinct.len() + 1];
    for (r, &id) in by_value.iter().enumerate() {
        rank_of[id as usize + 1] = r as u32 + 1;
    }
    ranks
        .par_iter_mut()
        .for_each(|id| *id = rank_of[*id as usize]);
    let bits = u32::BITS - (distinct.len() as u32).leading_zeros();
    let in_order = by_value.iter().map(|&id| distinct[id as usize]).collect();
    (Ranked { ranks, bits }, in_order)
}

/// Each row's rank among the distinct values of a text column (0 for null, then 1, 2, … in
/// the values' byte order), and those values in order: the value of rank `r` is
/// `values[r - 1]`. One hash lookup per row (none where a row repeats the row before): an
/// index of each row's value without a map from text to index per row.
pub fn text_ranks(column: &StringChunked) -> (Vec<u32>, Vec<&str>) {
    let (ranked, values) = rank(column.iter(), column.len());
    (ranked.ranks, values)
}

/// A column's ranks: text compared by its bytes, any other type as 64-bit integers (dates,
/// counts, flags).
fn ranked(df: &DataFrame, name: &str) -> PolarsResult<Ranked> {
    let c = df.column(name)?.as_materialized_series();
    Ok(match c.dtype() {
        DataType::String => rank(c.str()?.iter(), c.len()).0,
        _ => rank(c.cast(&DataType::Int64)?.i64()?.iter(), c.len()).0,
    })
}

/// The row numbers in the order of the rows' packed keys (each column's rank in its bits,
/// the first column highest); the row number breaks no tie but its own. The ranks are
/// dropped once packed.
fn order<K>(keys: Vec<Ranked>, n: usize) -> Vec<IdxSize>
where
    K: Ord + Send + Copy + From<u32> + std::ops::Shl<u32, Output = K> + std::ops::BitOr<Output = K>,
{
    let mut keyed: Vec<(K, IdxSize)> = (0..n)
        .into_par_iter()
        .map(|i| {
            let k = keys
                .iter()
                .fold(K::from(0), |k, r| (k << r.bits) | K::from(r.ranks[i]));
            (k, i as IdxSize)
        })
        .collect();
    drop(keys);
    keyed.par_sort_unstable();
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// `df`'s rows in the order of the `by` columns: ascending, nulls first, text by its bytes,
/// as polars' default sort; rows of equal keys keep their order. Each column of `df` is
/// dropped once its rows are taken, so that the table is not held twice.
pub fn sorted(df: DataFrame, by: &[&str]) -> PolarsResult<DataFrame> {
    let keys = by
        .par_iter()
        .map(|name| ranked(&df, name))
        .collect::<PolarsResult<Vec<Ranked>>>()?;
    let bits: u32 = keys.iter().map(|k| k.bits).sum();
    let n = df.height();
    let order = match bits {
        0..=64 => order::<u64>(keys, n),
        65..=128 => order::<u128>(keys, n),
        _ => {
            drop(keys);
            let by: Vec<PlSmallStr> = by.iter().map(|b| PlSmallStr::from(*b)).collect();
            return df.sort(by, SortMultipleOptions::default().with_maintain_order(true));
        }
    };
    let order = IdxCa::from_vec("order".into(), order);
    let columns = df
        .into_columns()
        .into_par_iter()
        .map(|c| c.take(&order))
        .collect::<PolarsResult<Vec<Column>>>()?;
    DataFrame::new(n, columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small linear congruential generator: the frames are the same on every run.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % n
        }
    }

    /// `columns` text columns of `distinct` values each (some sharing a prefix, some
    /// longer than a view's 12 inline bytes, some null), beside an integer, a date and a
    /// flag column with nulls, and the row number (`row`) to see the order of ties.
    fn frame(rows: usize, columns: usize, distinct: u64, seed: u64) -> DataFrame {
        let mut g = Lcg(seed);
        let mut cols: Vec<Column> = (0..columns)
            .map(|c| {
                let values: Vec<Option<String>> = (0..rows)
                    .map(|_| match g.below(distinct + 1) {
                        0 => None,
                        v if v % 3 == 0 => Some(format!("a-long-shared-prefix-{v}")),
                        v => Some(format!("{v}")),
                    })
                    .collect();
                Column::new(format!("t{c}").into(), values)
            })
            .collect();
        let ints: Vec<Option<i32>> = (0..rows)
            .map(|_| (g.below(10) > 0).then(|| g.below(200) as i32 - 100))
            .collect();
        let dates: Vec<Option<i32>> = (0..rows)
            .map(|_| (g.below(10) > 0).then(|| g.below(40) as i32 + 20_000))
            .collect();
        let flags: Vec<Option<bool>> = (0..rows)
            .map(|_| (g.below(10) > 0).then(|| g.below(2) == 0))
            .collect();
        cols.push(Column::new("int".into(), ints));
        cols.push(
            Column::new("date".into(), dates)
                .cast(&DataType::Date)
                .expect("days as dates"),
        );
        cols.push(Column::new("flag".into(), flags));
        cols.push(Column::new(
            "row".into(),
            (0..rows as u32).collect::<Vec<_>>(),
        ));
        DataFrame::new(rows, cols).expect("a frame")
    }

    /// What polars' own stable sort gives.
    fn by_polars(df: &DataFrame, by: &[&str]) -> DataFrame {
        let by: Vec<PlSmallStr> = by.iter().map(|b| PlSmallStr::from(*b)).collect();
        df.sort(by, SortMultipleOptions::default().with_maintain_order(true))
            .expect("sorted")
    }

    #[test]
    fn the_rows_come_in_the_order_polars_gives_ties_in_their_own() {
        type Case<'a> = (&'a [&'a str], usize, u64, std::ops::RangeInclusive<u32>);
        let cases: [Case<'_>; 6] = [
            // Few values: ties everywhere, kept in row order.
            (&["t0", "t1"], 3, 3, 0..=64),
            (&["t1", "int", "t0"], 3, 5, 0..=64),
            (&["flag", "date", "t2"], 3, 50, 0..=64),
            // Many values: over 64 bits of ranks (the 128-bit key).
            (&["t0", "t1", "t2", "t3", "t4"], 5, 20_000, 65..=128),
            // Over 128 bits: polars' sort.
            (
                &["t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9"],
                10,
                20_000,
                129..=u32::MAX,
            ),
            // One column, no ties broken by anything but the row.
            (&["int"], 1, 2, 0..=64),
        ];
        for (seed, (by, columns, distinct, path)) in cases.into_iter().enumerate() {
            let df = frame(30_000, columns, distinct, seed as u64 + 1);
            let bits: u32 = by.iter().map(|b| ranked(&df, b).expect("ranks").bits).sum();
            assert!(path.contains(&bits), "{by:?}: {bits} bits of ranks");
            let ours = sorted(df.clone(), by).expect("sorted");
            assert!(
                ours.equals_missing(&by_polars(&df, by)),
                "{by:?} ({bits} bits of ranks)"
            );
        }
    }

    #[test]
    fn ranks_follow_the_values_with_nulls_first() {
        let values = [
            Some("b"),
            None,
            Some("a"),
            Some("b"),
            Some("c"),
            None,
            Some("a"),
        ];
        let (r, in_order) = rank(values.into_iter(), values.len());
        assert_eq!(r.ranks, [2, 0, 1, 2, 3, 0, 1]);
        assert_eq!(r.bits, 2);
        assert_eq!(in_order, ["a", "b", "c"]);
        let column: StringChunked = values.into_iter().collect();
        assert_eq!(
            text_ranks(&column),
            (vec![2, 0, 1, 2, 3, 0, 1], vec!["a", "b", "c"])
        );
        let (empty, none) = rank(std::iter::empty::<Option<i64>>(), 0);
        assert_eq!((empty.ranks.len(), empty.bits, none.len()), (0, 0, 0));
        let sorted = sorted(DataFrame::empty(), &[]).expect("an empty frame");
        assert_eq!(sorted.height(), 0);
    }
}
