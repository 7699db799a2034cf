use crate::*;

const DIVISIONS: &str = r#"
[divisions]
counties = "div/counties.csv"
townships = "div/townships.csv"
villages = "div/villages.csv"
"#;

fn setup(pipeline: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("div")).unwrap();
    std::fs::create_dir_all(d.join("x")).unwrap();
    std::fs::write(d.join("div/counties.csv"), "code,name\n340302,龙子湖区\n").unwrap();
    std::fs::write(
        d.join("div/townships.csv"),
        "code,name\n340302001,东风街道\n",
    )
    .unwrap();
    std::fs::write(
        d.join("div/villages.csv"),
        "code,name,streetCode\n340302001001,东风社区居委会,340302001\n340302001002,勤俭里社区居委会,340302001\n",
    )
    .unwrap();
    for name in ["d1.csv", "d2.csv", "cert.xlsx", "house.parquet", "odd.dat"] {
        std::fs::write(d.join("x").join(name), "").unwrap();
    }
    let path = d.join("p.toml");
    std::fs::write(&path, pipeline).unwrap();
    (dir, path)
}

fn pipeline(extra: &str) -> String {
    format!(
        r#"
[pipeline]
name = "test"
jurisdiction = "3403"
as_of = 2026-01-31
period = {{ start = "2025-01-01", end = 2025-12-31 }}
{DIVISIONS}
{extra}
"#
    )
}

fn load_err(extra: &str) -> String {
    let (_dir, path) = setup(&pipeline(extra));
    Plan::load(&path).unwrap_err().to_string()
}

#[test]
fn a_valid_pipeline_resolves_files_formats_and_maps() {
    let (_dir, path) = setup(&pipeline(
        r#"
[sources.hospital_delivery]
path = "x/d*.csv"
encoding = "gbk"
delimiter = "tab"
[sources.hospital_delivery.columns]
record_id = "编号"
mother_id = ["母亲证件号", "母亲身份证号"]

[sources.birth_certificate]
paths = ["x/cert.xlsx"]
sheet = "出生证"

[sources.household]
path = "x/house.parquet"
"#,
    ));
    let plan = Plan::load(&path).unwrap();
    assert_eq!(plan.jurisdiction, "3403");
    assert_eq!(plan.as_of.to_string(), "2026-01-31");
    assert_eq!(plan.period.0.to_string(), "2025-01-01");
    assert_eq!(plan.divisions.villages.len(), 2);
    assert_eq!(plan.divisions.name("340302001"), Some("东风街道"));
    let ids: Vec<_> = plan.sources.iter().map(|s| s.source.id()).collect();
    assert_eq!(ids, ["hospital_delivery", "birth_certificate", "household"]);
    let d = plan.source("hospital_delivery").unwrap();
    let names: Vec<_> = d
        .files
        .iter()
        .map(|f| f.path.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(names, ["d1.csv", "d2.csv"]);
    assert_eq!(d.files[0].encoding, poprecon_ingest::Encoding::Gb18030);
    assert_eq!(d.files[0].delimiter, b'\t');
    assert_eq!(d.columns["mother_id"], ["母亲证件号", "母亲身份证号"]);
    let c = plan.source("birth_certificate").unwrap();
    assert_eq!(c.files[0].format, poprecon_ingest::Format::Xlsx);
    assert_eq!(c.files[0].sheet.as_deref(), Some("出生证"));
    assert_eq!(
        plan.source("household").unwrap().files[0].format,
        poprecon_ingest::Format::Parquet
    );
}

#[test]
fn unknown_keys_are_rejected_naming_key_and_file() {
    let err = load_err("[sources.household]\npath = \"x/house.parquet\"\nencodng = \"gbk\"\n");
    assert!(err.contains("p.toml"), "{err}");
    assert!(err.contains("encodng"), "{err}");

    let err = load_err("[sources.households]\npath = \"x/house.parquet\"\n");
    assert!(
        err.contains("sources.households") && err.contains("`household`"),
        "{err}"
    );

    let err = load_err(
        "[sources.household]\npath = \"x/house.parquet\"\n[sources.household.columns]\nperson = \"身份证\"\n",
    );
    assert!(err.contains("sources.household.columns.person"), "{err}");
    assert!(err.contains("`person_id`"), "{err}");
}

#[test]
fn bad_settings_are_explained() {
    let err = load_err("[sources.household]\npath = \"x/none*.parquet\"\n");
    assert!(err.contains("matches no file"), "{err}");
    let err = load_err("[sources.household]\npath = \"x/absent.parquet\"\n");
    assert!(err.contains("does not exist"), "{err}");
    let err = load_err("[sources.household]\npath = \"x/odd.dat\"\n");
    assert!(err.contains("hint: set `format"), "{err}");
    let err = load_err("[sources.household]\npath = \"x/d1.csv\"\ndelimiter = \";;\"\n");
    assert!(err.contains("delimiter"), "{err}");
    let err = load_err("");
    assert!(err.contains("reads no source"), "{err}");

    let (_dir, path) = setup(&pipeline("").replace("3403", "34x3"));
    let err = Plan::load(&path).unwrap_err().to_string();
    assert!(err.contains("pipeline.jurisdiction"), "{err}");
    let (_dir, path) = setup(
        &pipeline("[sources.household]\npath = \"x/house.parquet\"\n").replace("3403", "3404"),
    );
    let err = Plan::load(&path).unwrap_err().to_string();
    assert!(err.contains("no village"), "{err}");
    let (_dir, path) = setup(&pipeline("").replace("2026-01-31", "\"31/01/2026\""));
    let err = Plan::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("pipeline.as_of") && err.contains("31/01/2026"),
        "{err}"
    );
}

#[test]
fn division_tables_are_checked() {
    let (dir, path) = setup(&pipeline(
        "[sources.household]\npath = \"x/house.parquet\"\n",
    ));
    std::fs::write(
        dir.path().join("div/villages.csv"),
        "code,name\n340302001001,甲\n34030200100,乙\n",
    )
    .unwrap();
    let err = Plan::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("villages.csv") && err.contains("line 3"),
        "{err}"
    );
    std::fs::write(
        dir.path().join("div/villages.csv"),
        "id,label\n340302001001,甲\n",
    )
    .unwrap();
    let err = Plan::load(&path).unwrap_err().to_string();
    assert!(err.contains("`code` and `name`"), "{err}");
}

#[test]
fn required_fields_are_those_of_the_domain_guide() {
    let expected: [(&str, &[&str]); 5] = [
        (
            "birth_registration",
            &["record_id", "registration_date", "woman_id"],
        ),
        ("prenatal_care", &["record_id", "mother_id", "booking_date"]),
        (
            "hospital_delivery",
            &["record_id", "mother_id", "delivery_date"],
        ),
        (
            "birth_certificate",
            &["certificate_no", "child_sex", "birth_date"],
        ),
        (
            "vaccination",
            &[
                "child_code",
                "birth_date",
                "vaccine",
                "dose",
                "vaccination_date",
            ],
        ),
    ];
    for (id, fields) in expected {
        let s = source_by_id(id).expect("a source");
        let required: Vec<_> = s
            .fields()
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name)
            .collect();
        assert_eq!(required, fields, "{id}");
    }
}

#[test]
fn every_source_has_a_distinct_id_and_a_declared_key() {
    let mut ids: Vec<_> = all_sources().iter().map(|s| s.id()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 9);
    for s in all_sources() {
        assert!(
            poprecon_ingest::field(s, s.key_field()).is_some(),
            "{}",
            s.id()
        );
        assert_eq!(source_by_id(s.id()).map(|x| x.id()), Some(s.id()));
    }
}
