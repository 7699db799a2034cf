#!/usr/bin/env python3
"""Compares every Parquet table of two run folders (or two ingest folders), frame-equal.

Usage: compare_runs.py BEFORE AFTER
  BEFORE, AFTER: run folders (`<out>/latest`) or `poprecon ingest` output folders.

`run_id` differs between runs and is left out; every other column must hold the same values
in the same order (a table whose order differs is compared sorted by all its columns, and
reported as such). Exits 1 when a table is missing on one side or differs. Needs pyarrow
(the peers' venv has it: ~/.cache/poprecon-peers-venv/bin/python).
"""

import pathlib
import sys

import pyarrow as pa
import pyarrow.parquet as pq


def sortable(t):
    """The table with view columns as plain ones (pyarrow cannot sort `binary_view`)."""
    fields = []
    for f in t.schema:
        if f.type == pa.string_view():
            f = f.with_type(pa.large_string())
        elif f.type == pa.binary_view():
            f = f.with_type(pa.large_binary())
        fields.append(f)
    return t.cast(pa.schema(fields))


def load(path):
    t = pq.read_table(path)
    if "run_id" in t.column_names:
        t = t.drop(["run_id"])
    return t


def main():
    before, after = (pathlib.Path(a) for a in sys.argv[1:3])
    names = sorted(
        {p.relative_to(before) for p in before.rglob("*.parquet")}
        | {p.relative_to(after) for p in after.rglob("*.parquet")}
    )
    bad = 0
    for name in names:
        a, b = before / name, after / name
        if not (a.exists() and b.exists()):
            print(f"MISSING  {name} (before: {a.exists()}, after: {b.exists()})")
            bad += 1
            continue
        ta, tb = load(a), load(b)
        if ta.schema != tb.schema:
            print(f"SCHEMA   {name}\n  before: {ta.schema}\n  after:  {tb.schema}")
            bad += 1
        elif ta.equals(tb):
            print(f"equal    {name} ({ta.num_rows} rows)")
        else:
            keys = [(c, "ascending") for c in ta.column_names]
            ta, tb = sortable(ta), sortable(tb)
            if ta.sort_by(keys).equals(tb.sort_by(keys)):
                print(f"sorted   {name} ({ta.num_rows} rows: equal once sorted, order differs)")
            else:
                print(f"DIFFERS  {name} (before {ta.num_rows} rows, after {tb.num_rows})")
                bad += 1
    print(f"{len(names)} tables, {bad} differ")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
