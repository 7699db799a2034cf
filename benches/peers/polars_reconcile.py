"""The reconciliation of `duckdb_reconcile.py` written in polars-Python: the same extracts
read (GB18030 transcoded by Python, XLSX read by python-calamine, Parquet as typed), the same
exact-key joins (mother ID as written, birth date, sex), the same seven rules and per-village
indicators, as lazy frames collected once. It is the peer of `poprecon run` in
`polars_vs_poprecon.sh`.

Usage: polars_reconcile.py DATA_DIR [--scan-only]

`--scan-only` reads every extract into memory and stops: the bare-scan time of the inputs
(the floor of any tool that must read them all).

Prints `tool=polars seconds=... live_births=...` and, per rule, the rows found and their
precision and recall against `DATA_DIR/truth/discrepancies.parquet` (matched by the key of
the record the rule is about, as the DuckDB script does).
"""

import io
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl
from python_calamine import CalamineWorkbook

AS_OF = date(2026, 1, 31)
PERIOD = (date(2025, 1, 1), date(2025, 12, 31))

CSV = {
    "birth_registration": "gb18030",
    "hospital_delivery": "gb18030",
    "marriage": "gb18030",
    "vaccination": "utf-8-sig",
    "school": "utf-8",
}
XLSX = ["prenatal_care", "birth_certificate"]
PARQUET = ["household", "social_security"]

RULES = {
    "delivery_without_certificate": "hospital_delivery",
    "delivery_without_prenatal_booking": "hospital_delivery",
    "birth_without_hepb1": "hospital_delivery",
    "maternity_claim_without_delivery": "social_security",
    "student_without_household_registration": "school",
    "registration_without_marriage": "birth_registration",
    "late_prenatal_booking": "prenatal_care",
}


def d(col: str) -> pl.Expr:
    """Dates as the extracts write them: 2025-03-04, 2025/3/4, 20250304, 2025年3月4日."""
    s = pl.col(col).str.strip_chars()
    return pl.coalesce(
        s.str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d", strict=False),
        s.str.split(" ").list.first().str.strptime(pl.Date, "%Y/%m/%d", strict=False),
        s.str.slice(0, 8).str.strptime(pl.Date, "%Y%m%d", strict=False),
        (s.str.split("日").list.first() + "日").str.strptime(pl.Date, "%Y年%m月%d日", strict=False),
    )


def ident(col: str) -> pl.Expr:
    s = pl.col(col).str.strip_chars().str.replace_all("'", "", literal=True).str.to_uppercase()
    return pl.when(s == "").then(None).otherwise(s)


def sex(col: str) -> pl.Expr:
    s = pl.col(col).str.strip_chars()
    return (
        pl.when(s.is_in(["男", "1", "M"]))
        .then(1)
        .when(s.is_in(["女", "2", "F"]))
        .then(2)
        .otherwise(None)
    )


def load(data: Path) -> dict:
    """Every extract as a lazy frame of text columns (Parquet as typed)."""
    ex = data / "extracts"
    out = {}
    for name, enc in CSV.items():
        raw = (ex / f"{name}.csv").read_bytes()
        if enc == "gb18030":
            raw = raw.decode("gb18030").encode("utf-8")
        out[name] = pl.read_csv(io.BytesIO(raw), infer_schema=False).lazy()
    for name in XLSX:
        rows = CalamineWorkbook.from_path(str(ex / f"{name}.xlsx")).get_sheet_by_index(0).to_python()
        header, body = rows[0], rows[1:]

        def text(v):
            if v is None or v == "":
                return None
            if isinstance(v, float) and v.is_integer():
                return str(int(v))
            return str(v)

        cols = {h: [text(r[i]) if i < len(r) else None for r in body] for i, h in enumerate(header)}
        out[name] = pl.DataFrame(cols, schema={h: pl.String for h in header}).lazy()
    for name in PARQUET:
        out[name] = pl.scan_parquet(ex / f"{name}.parquet")
    return out


def reconcile(t: dict):
    delivery = t["hospital_delivery"].select(
        k=pl.col("分娩记录编号").str.strip_chars(),
        m=ident("产妇身份证号"),
        dt=d("分娩时间"),
        sx=sex("新生儿性别"),
        outcome=pl.col("妊娠结局"),
        village=pl.col("现居住地村代码"),
    ).filter(pl.col("dt").is_not_null())
    cert = t["birth_certificate"].select(
        k=pl.col("出生医学证明编号").str.strip_chars(),
        m=ident("母亲有效身份证件号码"),
        dt=d("出生时间"),
        sx=sex("性别"),
    )
    vacc = (
        t["vaccination"]
        .with_columns(vk=pl.col("儿童编码").str.strip_chars(), vdt=d("接种日期"))
        .group_by("vk")
        .agg(
            m=ident("母亲身份证号").first(),
            dt=d("出生日期").first(),
            sx=sex("性别").first(),
            hepb1=pl.col("vdt")
            .filter(
                pl.col("疫苗名称").str.contains("乙肝", literal=True)
                & (pl.col("剂次").str.strip_chars() == "1")
            )
            .min(),
        )
    )
    hh = t["household"].select(pid=ident("公民身份号码"))
    booking = t["prenatal_care"].select(
        k=pl.col("保健手册编号").str.strip_chars(),
        m=ident("孕产妇身份证号"),
        dt=d("建册日期"),
        weeks=pl.col("建册孕周").cast(pl.Float64, strict=False),
    )
    reg = t["birth_registration"].select(
        k=pl.col("登记编号").str.strip_chars(),
        w=ident("女方身份证号"),
        man=ident("男方身份证号"),
        dt=d("登记日期"),
    ).filter(pl.col("dt").is_not_null())
    mar = (
        t["marriage"]
        .filter(pl.col("登记类型") == "结婚")
        .select(w=ident("女方身份证号"), man=ident("男方身份证号"), mdt=d("登记日期"))
    )
    claim = (
        t["social_security"]
        .filter(pl.col("生育津贴申领日期").is_not_null())
        .select(
            k=pl.col("公民身份号码").str.strip_chars(),
            p=ident("公民身份号码"),
            cdt=pl.col("生育津贴申领日期").cast(pl.Date),
        )
    )
    pupil = t["school"].select(k=pl.col("学籍号").str.strip_chars(), p=ident("身份证号"))

    live = delivery.filter(
        (pl.col("outcome") == "活产") & pl.col("dt").is_between(*PERIOD)
    ).cache()
    with_cert = live.join(cert.select("m", "dt", "sx"), on=["m", "dt", "sx"], how="semi", nulls_equal=True)
    booked = (
        live.select("k", "m", "dt")
        .join(booking.select("m", bdt="dt"), on="m")
        .filter(pl.col("bdt").is_between(pl.col("dt") - pl.duration(days=300), pl.col("dt")))
        .select("k")
        .unique()
    )
    vaccinated = (
        live.select("k", "m", "dt", "sx")
        .join(vacc.filter(pl.col("hepb1").is_not_null()).select("m", "dt", "sx"), on=["m", "dt", "sx"], how="semi", nulls_equal=True)
        .select("k")
    )
    claimed = (
        claim.join(delivery.select("m", "dt"), left_on="p", right_on="m")
        .filter((pl.col("dt") - pl.col("cdt")).dt.total_days().abs() <= 180)
        .select("k")
        .unique()
    )
    married = (
        reg.join(mar, on=["w", "man"])
        .filter(pl.col("mdt") < pl.col("dt"))
        .select("k")
        .unique()
    )
    rule = lambda name, frame: frame.select(rule=pl.lit(name), k=pl.col("k"))  # noqa: E731
    found = pl.concat(
        [
            rule(
                "delivery_without_certificate",
                live.filter(pl.col("dt") <= AS_OF - timedelta(days=30)).join(
                    with_cert.select("k"), on="k", how="anti"
                ),
            ),
            rule("delivery_without_prenatal_booking", live.join(booked, on="k", how="anti")),
            rule(
                "birth_without_hepb1",
                live.filter(pl.col("dt") <= AS_OF - timedelta(days=7)).join(
                    vaccinated, on="k", how="anti"
                ),
            ),
            rule("maternity_claim_without_delivery", claim.join(claimed, on="k", how="anti")),
            rule(
                "student_without_household_registration",
                pupil.join(hh, left_on="p", right_on="pid", how="anti"),
            ),
            rule("registration_without_marriage", reg.join(married, on="k", how="anti")),
            rule("late_prenatal_booking", booking.filter(pl.col("weeks") >= 13)),
        ]
    )
    indicators = (
        live.with_columns(
            with_certificate=pl.col("k").is_in(with_cert.select("k").collect().to_series().implode()),
            with_booking=pl.col("k").is_in(booked.collect().to_series().implode()),
        )
        .group_by("village")
        .agg(
            live_births=pl.len(),
            with_certificate=pl.col("with_certificate").sum(),
            with_booking=pl.col("with_booking").sum(),
        )
        .sort("village")
    )
    return pl.collect_all([found, indicators])


def score(found: pl.DataFrame, truth: Path):
    t = pl.read_parquet(truth)
    lines = []
    for rule, source in RULES.items():
        col = f"{source}_key"
        exp = set(t.filter((pl.col("rule_id") == rule) & pl.col(col).is_not_null())[col].to_list())
        got = set(found.filter(pl.col("rule") == rule)["k"].drop_nulls().to_list())
        hits = len(got & exp)
        p = hits / len(got) if got else 1.0
        r = hits / len(exp) if exp else 1.0
        lines.append(f"  {rule:<40} found {len(got):>6} expected {len(exp):>6} P {p:.4f} R {r:.4f}")
    return lines


def main():
    data = Path(sys.argv[1])
    started = time.perf_counter()
    if "--scan-only" in sys.argv:
        frames = pl.collect_all(list(load(data).values()))
        rows = sum(f.height for f in frames)
        print(f"tool=polars-scan seconds={time.perf_counter() - started:.2f} rows={rows}")
        return
    found, indicators = reconcile(load(data))
    births = indicators["live_births"].sum()
    seconds = time.perf_counter() - started
    print(f"tool=polars seconds={seconds:.2f} live_births={births}")
    print("polars against the truth:")
    print("\n".join(score(found, data / "truth" / "discrepancies.parquet")))


if __name__ == "__main__":
    main()
