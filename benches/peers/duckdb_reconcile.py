"""The reconciliation a data engineer would write in DuckDB SQL: the synthetic extracts read
(GB18030 transcoded by Python, XLSX read by python-calamine), births joined on exact keys
(mother ID as written, birth date, sex), seven coverage and record rules, and per-village
indicators. It is the peer of `poprecon run` in `duckdb_vs_poprecon.sh`.

Usage: duckdb_reconcile.py DATA_DIR [--score-run RUN_DIR]

Prints `tool=duckdb seconds=... births=...` and, per rule, the rows found and their
precision and recall against `DATA_DIR/truth/discrepancies.parquet` (matched by the key of
the record the rule is about). With `--score-run`, the same table for poprecon's
`RUN_DIR/discrepancies.parquet`, matched the same way.
"""

import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa
from python_calamine import CalamineWorkbook

AS_OF = "2026-01-31"
PERIOD = ("2025-01-01", "2025-12-31")

# Extract files and their encodings (the synthetic pipeline's, Bengbu dialect).
CSV = {
    "birth_registration": "gb18030",
    "hospital_delivery": "gb18030",
    "marriage": "gb18030",
    "vaccination": "utf-8-sig",
    "school": "utf-8",
}
XLSX = ["prenatal_care", "birth_certificate"]
PARQUET = ["household", "social_security"]

# The rules compared, each with the source whose record key identifies its rows.
RULES = {
    "delivery_without_certificate": "hospital_delivery",
    "delivery_without_prenatal_booking": "hospital_delivery",
    "birth_without_hepb1": "hospital_delivery",
    "maternity_claim_without_delivery": "social_security",
    "student_without_household_registration": "school",
    "registration_without_marriage": "birth_registration",
    "late_prenatal_booking": "prenatal_care",
}

SQL = f"""
-- Dates as the extracts write them: 2025-03-04, 2025/3/4, 20250304, 2025年3月4日, with a time.
CREATE MACRO d(s) AS coalesce(
    try_strptime(left(trim(s), 10), '%Y-%m-%d'),
    try_strptime(split_part(trim(s), ' ', 1), '%Y/%-m/%-d'),
    try_strptime(left(trim(s), 8), '%Y%m%d'),
    try_strptime(split_part(trim(s), '日', 1) || '日', '%Y年%-m月%-d日'))::DATE;
CREATE MACRO id(s) AS nullif(upper(replace(trim(s), '''', '')), '');
CREATE MACRO sex(s) AS CASE trim(s) WHEN '男' THEN 1 WHEN '1' THEN 1 WHEN 'M' THEN 1
    WHEN '女' THEN 2 WHEN '2' THEN 2 WHEN 'F' THEN 2 END;

CREATE TABLE delivery AS SELECT trim("分娩记录编号") AS k, id("产妇身份证号") AS m,
    d("分娩时间") AS dt, sex("新生儿性别") AS sx, "妊娠结局" AS outcome, "现居住地村代码" AS village
    FROM hospital_delivery WHERE d("分娩时间") IS NOT NULL;
CREATE TABLE cert AS SELECT trim("出生医学证明编号") AS k, id("母亲有效身份证件号码") AS m,
    d("出生时间") AS dt, sex("性别") AS sx FROM birth_certificate;
CREATE TABLE vacc AS SELECT trim("儿童编码") AS k, any_value(id("母亲身份证号")) AS m,
    any_value(d("出生日期")) AS dt, any_value(sex("性别")) AS sx,
    min(d("接种日期")) FILTER (WHERE "疫苗名称" LIKE '%乙肝%' AND trim("剂次") = '1') AS hepb1,
    any_value("现居住地村代码") AS village
    FROM vaccination GROUP BY 1;
CREATE TABLE hh AS SELECT id("公民身份号码") AS pid, id("母亲身份证号") AS m,
    "出生日期"::DATE AS dt, sex("性别") AS sx, "户籍地村代码" AS village, "户口状态" AS status
    FROM household;
CREATE TABLE booking AS SELECT trim("保健手册编号") AS k, id("孕产妇身份证号") AS m,
    d("建册日期") AS dt, try_cast("建册孕周" AS DOUBLE) AS weeks, "现居住地村代码" AS village
    FROM prenatal_care;
CREATE TABLE reg AS SELECT trim("登记编号") AS k, id("女方身份证号") AS w, id("男方身份证号") AS man,
    d("登记日期") AS dt FROM birth_registration WHERE d("登记日期") IS NOT NULL;
CREATE TABLE mar AS SELECT id("女方身份证号") AS w, id("男方身份证号") AS man, d("登记日期") AS dt
    FROM marriage WHERE "登记类型" = '结婚';
CREATE TABLE claim AS SELECT trim("公民身份号码") AS k, id("公民身份号码") AS p,
    "生育津贴申领日期"::DATE AS dt FROM social_security WHERE "生育津贴申领日期" IS NOT NULL;
CREATE TABLE pupil AS SELECT trim("学籍号") AS k, id("身份证号") AS p FROM school;

-- Live deliveries of the period, the unit of the delivery rules and indicators.
CREATE TABLE live AS SELECT * FROM delivery
    WHERE outcome = '活产' AND dt BETWEEN DATE '{PERIOD[0]}' AND DATE '{PERIOD[1]}';

CREATE TABLE found AS
SELECT 'delivery_without_certificate' AS rule, l.k FROM live l
    WHERE l.dt <= DATE '{AS_OF}' - 30 AND NOT EXISTS (
        SELECT 1 FROM cert c WHERE c.m = l.m AND c.dt = l.dt AND c.sx IS NOT DISTINCT FROM l.sx)
UNION ALL
SELECT 'delivery_without_prenatal_booking', l.k FROM live l
    WHERE NOT EXISTS (SELECT 1 FROM booking b WHERE b.m = l.m AND b.dt BETWEEN l.dt - 300 AND l.dt)
UNION ALL
SELECT 'birth_without_hepb1', l.k FROM live l
    WHERE l.dt <= DATE '{AS_OF}' - 7 AND NOT EXISTS (
        SELECT 1 FROM vacc v WHERE v.m = l.m AND v.dt = l.dt AND v.sx IS NOT DISTINCT FROM l.sx
        AND v.hepb1 IS NOT NULL)
UNION ALL
SELECT 'maternity_claim_without_delivery', c.k FROM claim c
    WHERE NOT EXISTS (SELECT 1 FROM delivery d WHERE d.m = c.p AND abs(d.dt - c.dt) <= 180)
UNION ALL
SELECT 'student_without_household_registration', s.k FROM pupil s
    WHERE NOT EXISTS (SELECT 1 FROM hh WHERE hh.pid = s.p)
UNION ALL
SELECT 'registration_without_marriage', r.k FROM reg r
    WHERE NOT EXISTS (SELECT 1 FROM mar WHERE mar.w = r.w AND mar.man = r.man AND mar.dt < r.dt)
UNION ALL
SELECT 'late_prenatal_booking', b.k FROM booking b WHERE b.weeks >= 13;

-- Per-village indicators on the delivery's residence: live births, certificates, bookings.
CREATE TABLE indicators AS SELECT l.village,
    count(*) AS live_births,
    count(*) FILTER (WHERE EXISTS (SELECT 1 FROM cert c WHERE c.m = l.m AND c.dt = l.dt)) AS with_certificate,
    count(*) FILTER (WHERE EXISTS (SELECT 1 FROM booking b WHERE b.m = l.m
        AND b.dt BETWEEN l.dt - 300 AND l.dt)) AS with_booking
    FROM live l GROUP BY 1;
"""


def load(con, data: Path, tmp: Path):
    """Registers every extract as a table of text columns (Parquet as typed)."""
    ex = data / "extracts"
    for name, enc in CSV.items():
        path = ex / f"{name}.csv"
        if enc == "gb18030":
            utf8 = tmp / f"{name}.csv"
            utf8.write_text(path.read_text(encoding="gb18030"), encoding="utf-8")
            path = utf8
        con.execute(
            f"CREATE TABLE {name} AS SELECT * FROM read_csv('{path}', all_varchar = true,"
            " header = true)"
        )
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
        con.register(f"{name}_arrow", pa.table(cols))
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
    for name in PARQUET:
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet('{ex / name}.parquet')")


def score(con, found_sql: str, truth: Path):
    """Per rule: rows found, expected, precision, recall (matched by the record's key)."""
    lines = []
    for rule, source in RULES.items():
        col = f"{source}_key"
        exp = {
            r[0]
            for r in con.execute(
                f"SELECT {col} FROM read_parquet('{truth}') WHERE rule_id = ? AND {col} IS NOT NULL",
                [rule],
            ).fetchall()
        }
        got = {r[0] for r in con.execute(found_sql, [rule]).fetchall() if r[0] is not None}
        hits = len(got & exp)
        p = hits / len(got) if got else 1.0
        r = hits / len(exp) if exp else 1.0
        lines.append(f"  {rule:<40} found {len(got):>6} expected {len(exp):>6} P {p:.4f} R {r:.4f}")
    return lines


def main():
    data = Path(sys.argv[1])
    run = Path(sys.argv[sys.argv.index("--score-run") + 1]) if "--score-run" in sys.argv else None
    started = time.perf_counter()
    con = duckdb.connect()
    with tempfile.TemporaryDirectory() as tmp:
        load(con, data, Path(tmp))
        con.execute(SQL)
        births = con.execute("SELECT sum(live_births) FROM indicators").fetchone()[0]
        con.execute("COPY indicators TO '" + str(Path(tmp) / "indicators.parquet") + "'")
    seconds = time.perf_counter() - started
    print(f"tool=duckdb seconds={seconds:.2f} live_births={births}")
    truth = data / "truth" / "discrepancies.parquet"
    print("duckdb against the truth:")
    print("\n".join(score(con, "SELECT k FROM found WHERE rule = ?", truth)))
    if run is not None:
        print("poprecon against the truth (same rules, same matching):")
        disc = run / "discrepancies.parquet"
        cases = " ".join(f"WHEN '{r}' THEN {s}_key" for r, s in RULES.items())
        con.execute(
            f"CREATE VIEW pfound AS SELECT rule_id AS rule, CASE rule_id {cases} END AS k"
            f" FROM read_parquet('{disc}') WHERE status <> 'resolved'"
        )
        rows = score(con, "SELECT k FROM pfound WHERE rule = ?", truth)
        print("\n".join(rows))


if __name__ == "__main__":
    main()
