#!/usr/bin/env python3
"""Compares the data two `report.html` pages embed, member by member.

Usage: compare_reports.py BEFORE AFTER
  BEFORE, AFTER: `report.html` files, or run folders holding one.

The page data (plain JSON, or gzip and base64) is decoded and compared as JSON values, so
that a change of compression level or of the JSON's spelling does not count; `meta.run_id`
differs between runs and is left out. Exits 1 when a member differs.
"""

import base64
import gzip
import json
import pathlib
import re
import sys

DATA = re.compile(
    r'<script type="application/json" id="report-data" data-encoding="([^"]+)">(.*?)</script>',
    re.S,
)


def load(path):
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / "report.html"
    m = DATA.search(path.read_text(encoding="utf-8"))
    if m is None:
        sys.exit(f"{path}: no page data")
    encoding, payload = m.group(1), m.group(2)
    if encoding == "gzip-base64":
        data = json.loads(gzip.decompress(base64.b64decode(payload)))
    else:
        data = json.loads(payload)
    data.get("meta", {}).pop("run_id", None)
    return data


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    before, after = load(sys.argv[1]), load(sys.argv[2])
    differ = 0
    for key in sorted(set(before) | set(after)):
        same = before.get(key) == after.get(key)
        differ += not same
        print(f"{'equal ' if same else 'DIFFER'}   {key}")
    print(f"{len(set(before) | set(after))} members, {differ} differ")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
