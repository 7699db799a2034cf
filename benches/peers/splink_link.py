"""Splink's side of the peer benchmark: deliveries linked to birth certificates.

Reads the canonical tables that poprecon's `link_pair` bench wrote to `<folder>/peer/`
(the same ingested records poprecon links), links them with Splink 5 on DuckDB, and
scores the delivery-certificate pairs against `<folder>/truth/births.parquet`.

Usage: python splink_link.py <folder>

Prints one line of key=value pairs: the seconds of the linkage (training, prediction and
one-to-one clustering; loading excluded), precision, recall and F1, for the pairs above
the threshold (`pairs_*`) and after Splink's one-to-one clustering (the headline figures).
"""

import sys
import time
import tomllib
from pathlib import Path

import duckdb
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

THRESHOLD = 0.9


def prepare(con, folder: Path) -> None:
    peer = folder / "peer"
    # The records poprecon links: born in the period, give or take its 7-day margin.
    period = tomllib.loads((folder / "pipeline.toml").read_text())["pipeline"]["period"]
    start, end = period["start"], period["end"]
    # Same comparison values as poprecon: the mother's ID as typed (normalised), names,
    # sex, the birth date, the birth time to the minute, the institution.
    for name, table, key, date, time_col in [
        ("deliveries", "hospital_delivery", "record_id", "delivery_date", "delivery_date_time"),
        ("certificates", "birth_certificate", "certificate_no", "birth_date", "birth_date_time"),
    ]:
        outcome = "outcome is distinct from 'stillbirth'" if name == "deliveries" else "true"
        con.execute(
            f"""
            create or replace table {name} as
            select
                {key} as unique_id,
                coalesce(mother_id, mother_id_input) as mother_id,
                mother_name,
                child_sex,
                {date} as birth_date,
                strftime({time_col}, '%Y-%m-%d %H:%M') as birth_minute,
                institution
            from read_parquet('{peer / (table + ".parquet")}')
            where {outcome}
              and {date} between date '{start}' - interval 7 day and date '{end}' + interval 7 day
            """
        )


def truth_pairs(con, folder: Path) -> set:
    rows = con.execute(
        f"""
        select hospital_delivery_key, birth_certificate_key
        from read_parquet('{folder / "truth" / "births.parquet"}')
        where hospital_delivery_key is not null and birth_certificate_key is not null
        """
    ).fetchall()
    return set(rows)


def score(got: set, want: set) -> tuple:
    # Births of the period only, as poprecon outputs them: a pair counts when either of its
    # records belongs to a true birth of the period.
    deliveries = {d for d, _ in want}
    certificates = {c for _, c in want}
    got = {(d, c) for d, c in got if d in deliveries or c in certificates}
    hit = len(got & want)
    precision = hit / max(len(got), 1)
    recall = hit / max(len(want), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-300)
    return precision, recall, f1


def main() -> None:
    folder = Path(sys.argv[1])
    con = duckdb.connect()
    prepare(con, folder)
    want = truth_pairs(con, folder)
    db_api = DuckDBAPI(connection=con)
    deliveries = db_api.register("deliveries", dataset_display_name="deliveries")
    certificates = db_api.register("certificates", dataset_display_name="certificates")
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.DamerauLevenshteinAtThresholds("mother_id", [1, 2]),
            cl.JaroWinklerAtThresholds("mother_name", [0.9, 0.7]).configure(
                term_frequency_adjustments=True
            ),
            cl.ExactMatch("child_sex"),
            cl.AbsoluteDateDifferenceAtThresholds(
                "birth_date",
                input_is_string=False,
                metrics=["day", "day"],
                thresholds=[1, 7],
            ),
            cl.ExactMatch("birth_minute"),
            cl.ExactMatch("institution"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("mother_id"),
            block_on("substr(mother_id, 1, 9)", "birth_date"),
            block_on("substr(mother_id, 10, 9)", "birth_date"),
            block_on("mother_name", "birth_date"),
            block_on("institution", "birth_date"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    started = time.perf_counter()
    linker = Linker([deliveries, certificates], settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("mother_id", "birth_date")], recall=0.95
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("mother_id"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    predictions = linker.inference.predict(threshold_match_probability=THRESHOLD)
    clusters = linker.clustering.cluster_using_single_best_links(
        predictions,
        duplicate_free_datasets=["deliveries", "certificates"],
        threshold_match_probability=THRESHOLD,
    )
    # Materialise both results inside the timed section.
    pair_rows = predictions.as_duckdbpyrelation().fetchall()
    cluster_rows = clusters.as_duckdbpyrelation().fetchall()
    elapsed = time.perf_counter() - started

    pairs_df = predictions.as_duckdbpyrelation()
    cols = pairs_df.columns
    got_pairs = set()
    for row in pair_rows:
        r = dict(zip(cols, row))
        a, b = r["unique_id_l"], r["unique_id_r"]
        if r["source_dataset_l"] == "certificates":
            a, b = b, a
        got_pairs.add((a, b))
    ccols = clusters.as_duckdbpyrelation().columns
    by_cluster: dict = {}
    for row in cluster_rows:
        r = dict(zip(ccols, row))
        by_cluster.setdefault(r["cluster_id"], {})[r["source_dataset"]] = r["unique_id"]
    got_one_to_one = {
        (c["deliveries"], c["certificates"])
        for c in by_cluster.values()
        if "deliveries" in c and "certificates" in c
    }
    pp, pr, pf = score(got_pairs, want)
    p, r, f = score(got_one_to_one, want)
    print(
        f"tool=splink version={__import__('splink').__version__} link_s={elapsed:.3f} "
        f"true_pairs={len(want)} "
        f"precision={p:.5f} recall={r:.5f} f1={f:.5f} "
        f"pairs_above_threshold={len(got_pairs)} pairs_precision={pp:.5f} "
        f"pairs_recall={pr:.5f} pairs_f1={pf:.5f}"
    )


if __name__ == "__main__":
    main()
