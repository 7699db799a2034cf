#!/usr/bin/env bash
# Peer benchmark: poprecon against Splink 5 (DuckDB) on the same synthetic city, linking
# hospital deliveries to birth certificates. Prints each tool's time and F1, then the ratio.
#
# Usage: benches/peers/splink_vs_poprecon.sh [data-folder]
#   data-folder: where the synthetic city is (or is generated); default
#   $CARGO_TARGET_DIR/peer-city (or target/peer-city).
# Environment: POPRECON_PEER_SCALE (default city), PEER_VENV (default
#   ~/.cache/poprecon-peers-venv), POPRECON_PEER_PROFILE (cargo profile, default release),
#   PEER_CARGO_ARGS (extra cargo arguments, e.g. `--config ...`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
data="$(realpath -m "${1:-$target/peer-city}")"
venv="${PEER_VENV:-$HOME/.cache/poprecon-peers-venv}"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet "splink>=5,<6" duckdb pyarrow

profile="${POPRECON_PEER_PROFILE:-release}"
echo "== poprecon ($profile build; generates the data on first run)"
# shellcheck disable=SC2086
poprecon_line="$(cd "$root" && POPRECON_PEER_DATA="$data" cargo bench --quiet --profile "$profile" ${PEER_CARGO_ARGS:-} -p poprecon-benches --bench link_pair 2>/dev/null | grep '^tool=poprecon')"
echo "$poprecon_line"

echo "== splink"
splink_line="$("$venv/bin/python" "$here/splink_link.py" "$data" | grep '^tool=splink')"
echo "$splink_line"

field() { sed -n "s/.*[[:space:]]$2=\([^[:space:]]*\).*/\1/p" <<<"$1"; }
p_time="$(field "$poprecon_line" link_s)"
s_time="$(field "$splink_line" link_s)"
p_f1="$(field "$poprecon_line" f1)"
s_f1="$(field "$splink_line" f1)"
python3 - "$p_time" "$s_time" "$p_f1" "$s_f1" <<'PY'
import sys
p_time, s_time, p_f1, s_f1 = map(float, sys.argv[1:])
print(f"== ratio: poprecon is {s_time / p_time:.1f}x faster than Splink "
      f"(F1 {p_f1:.4f} vs {s_f1:.4f})")
PY
