#!/usr/bin/env bash
# Peer benchmark: `poprecon run` against the same reconciliation in polars-Python
# (`polars_reconcile.py`: the extracts of `duckdb_reconcile.py` read the same way, the same
# exact-key joins, seven rules and per-village indicators, as lazy frames) on the same
# synthetic extracts, in one go. Prints each tool's wall time and peak memory
# (`/usr/bin/time -v`), the ratio, and polars' per-rule precision and recall against the
# synthetic truth.
#
# Usage: benches/peers/polars_vs_poprecon.sh [data-folder]
#   data-folder: where the synthetic data is (or is generated); default
#   $CARGO_TARGET_DIR/peer-<scale> (or target/peer-<scale>).
# Environment: POPRECON_PEER_SCALE (default county), POPRECON_PEER_SEED (default 1),
#   PEER_VENV (default ~/.cache/poprecon-peers-venv), POPRECON_PEER_PROFILE (cargo
#   profile of the poprecon binary, default dev: the README's build).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
scale="${POPRECON_PEER_SCALE:-county}"
seed="${POPRECON_PEER_SEED:-1}"
data="$(realpath -m "${1:-$target/peer-$scale}")"
venv="${PEER_VENV:-$HOME/.cache/poprecon-peers-venv}"
profile="${POPRECON_PEER_PROFILE:-dev}"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet "polars>=1.30" pyarrow python-calamine

(cd "$root" && cargo build --quiet --profile "$profile" -p poprecon)
dir="$profile"
[ "$profile" = dev ] && dir=debug
bin="$target/$dir/poprecon"

if [ ! -f "$data/truth/summary.json" ]; then
    "$bin" -q synth --scale "$scale" --seed "$seed" --out "$data" >/dev/null
fi

measure() { # label, command...: prints "label wall_s peak_mib"
    local label="$1" log
    shift
    log="$(mktemp)"
    /usr/bin/time -v "$@" >"$log.out" 2>"$log"
    local wall peak
    wall="$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log" |
        awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')"
    peak="$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log" | awk '{ printf "%.0f", $1/1024 }')"
    echo "$label $wall $peak"
    cat "$log.out" >>"$data/.peer-output"
    rm -f "$log" "$log.out"
}

rm -rf "$data/.peer-run" "$data/.peer-output"
echo "== $scale seed $seed: $data"
p_line="$(measure poprecon "$bin" -q run "$data/pipeline.toml" --out "$data/.peer-run")"
d_line="$(measure polars "$venv/bin/python" "$here/polars_reconcile.py" "$data")"
printf '%-10s %10s %10s\n' tool wall_s peak_MiB
printf '%-10s %10s %10s\n' $p_line
printf '%-10s %10s %10s\n' $d_line
python3 - "$p_line" "$d_line" <<'PY'
import sys
p = sys.argv[1].split()
d = sys.argv[2].split()
print(f"== ratio: polars / poprecon wall time = {float(d[1]) / float(p[1]):.2f} "
      "(above 1: poprecon is faster)")
PY
sed -n '/against the truth/,$p' "$data/.peer-output"
