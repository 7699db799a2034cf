#!/usr/bin/env python3
"""How many births of a synthetic province cross a city: for each birth of the truth, the
cities whose extract files hold its records, and the city of the mother's active household
row (issue #14: which stages can run per city).

Usage: cross_city.py DATA
  DATA: a `poprecon synth --scale province` folder (one file per city and source,
  `extracts/<source>/<city>.<ext>`, and `truth/births.parquet`).

A record's city is the file its key is in (keys are the first column of each CSV and
workbook, `公民身份号码` of the household Parquet, trimmed as ingest trims them). Needs
polars and python-calamine (the peers' venv has both: ~/.cache/poprecon-peers-venv/bin/python).
Reads the 60 M household IDs at once: ~17 GiB resident at the province's scale.
"""

import glob
import os
import sys

import polars as pl
from python_calamine import CalamineWorkbook


def city(path):
    return os.path.basename(path).split(".")[0]


def keyed(keys, path):
    return pl.DataFrame({"key": keys}).with_columns(
        pl.col("key").str.strip_chars(), pl.lit(city(path)).alias("city")
    )


def csv_keys(base, source, encoding):
    out = []
    for p in sorted(glob.glob(f"{base}/{source}/*.csv")):
        text = open(p, "rb").read().decode(encoding)
        out.append(keyed([line.split(",", 1)[0] for line in text.splitlines()[1:]], p))
    return pl.concat(out)


def workbook_keys(base, source):
    out = []
    for p in sorted(glob.glob(f"{base}/{source}/*.xlsx")):
        rows = CalamineWorkbook.from_path(p).get_sheet_by_index(0).to_python()
        out.append(keyed([str(r[0]) for r in rows[1:]], p))
    return pl.concat(out)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    data = sys.argv[1]
    base = f"{data}/extracts"
    household = pl.concat(
        [
            pl.read_parquet(p, columns=["公民身份号码", "户口状态"])
            .rename({"公民身份号码": "key", "户口状态": "status"})
            .with_columns(pl.col("key").str.strip_chars(), pl.lit(city(p)).alias("city"))
            for p in sorted(glob.glob(f"{base}/household/*.parquet"))
        ]
    )
    cities = {
        "hospital_delivery": csv_keys(base, "hospital_delivery", "gb18030"),
        "birth_registration": csv_keys(base, "birth_registration", "gb18030"),
        "vaccination": csv_keys(base, "vaccination", "utf-8-sig"),
        "birth_certificate": workbook_keys(base, "birth_certificate"),
        "prenatal_care": workbook_keys(base, "prenatal_care"),
        "household": household.select("key", "city"),
    }
    births = pl.read_parquet(f"{data}/truth/births.parquet")
    columns = []
    for source, keys in cities.items():
        keys = keys.unique(subset=["key"], keep="first")
        births = births.join(
            keys.rename({"key": f"{source}_key", "city": f"{source}_city"}),
            on=f"{source}_key",
            how="left",
        )
        columns.append(f"{source}_city")
        found = births.filter(pl.col(f"{source}_city").is_not_null()).height
        named = births.filter(pl.col(f"{source}_key").is_not_null()).height
        print(f"{source}: {found} of {named} keys found in a city's file")
    level = ["hospital_delivery_city", "birth_certificate_city", "vaccination_city", "household_city"]

    def spread(cs):
        return pl.concat_list([pl.col(c) for c in cs]).list.drop_nulls().list.unique().list.len()

    births = births.with_columns(
        spread(level).alias("birth_level_cities"), spread(columns).alias("all_cities")
    )
    active = (
        household.filter(pl.col("status").is_in(["正常", "active"]) | pl.col("status").is_null())
        .select(pl.col("key").alias("mother_id"), pl.col("city").alias("mother_city"))
        .unique(subset=["mother_id"])
    )
    births = births.join(active, on="mother_id", how="left").with_columns(
        pl.coalesce([pl.col(c) for c in level]).alias("record_city")
    )
    with_row = births.filter(pl.col("mother_city").is_not_null())
    elsewhere = with_row.filter(
        pl.col("record_city").is_not_null() & (pl.col("mother_city") != pl.col("record_city"))
    )
    print(f"births: {births.height}")
    print(f"  birth-level records in two cities or more: {births.filter(pl.col('birth_level_cities') >= 2).height}")
    print(f"  any record (bookings, registrations too) in two cities or more: {births.filter(pl.col('all_cities') >= 2).height}")
    print(f"  mother with an active household row: {with_row.height}, in another city than the birth's records: {elsewhere.height}")
    print(f"  floating mother (truth): {births.filter(pl.col('mother_floating')).height}")


if __name__ == "__main__":
    main()
