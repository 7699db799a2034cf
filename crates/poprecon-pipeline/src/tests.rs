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

/// `[sources.<s>.codes.<field>]` extends a coded field's list: the plan carries the
/// spellings to every file of the source; a field that is not coded, or a value that is
/// not one of the field's codes, is an error naming the key.
#[test]
fn code_extensions_are_checked_and_carried_to_every_file() {
    let (_dir, path) = setup(&pipeline(
        r#"
[sources.hospital_delivery]
path = "x/d*.csv"
[sources.hospital_delivery.codes.outcome]
"活胎娩出" = "live"
"#,
    ));
    let plan = Plan::load(&path).unwrap();
    let sp = plan.source("hospital_delivery").unwrap();
    assert_eq!(sp.files.len(), 2);
    for f in &sp.files {
        assert_eq!(f.codes["outcome"]["活胎娩出"], "live");
    }
    let err = load_err(
        "[sources.hospital_delivery]\npath = \"x/d1.csv\"\n[sources.hospital_delivery.codes.mother_name]\n\"x\" = \"y\"\n",
    );
    assert!(
        err.contains("sources.hospital_delivery.codes.mother_name")
            && err.contains("no coded field")
            && err.contains("`outcome`"),
        "{err}"
    );
    let err = load_err(
        "[sources.social_security]\npath = \"x/d1.csv\"\n[sources.social_security.codes.scheme]\n\"新农合\" = \"farmers\"\n",
    );
    assert!(
        err.contains("sources.social_security.codes.scheme")
            && err.contains("`farmers`")
            && err.contains("`resident_medical`"),
        "{err}"
    );
}

/// One division table as users hold it (行政区划: a code and a name per level, GBK CSV,
/// township and county codes padded to 12 digits, areas repeated on every village row)
/// gives the same divisions as the three-file form.
#[test]
fn one_division_table_in_gbk_with_padded_codes() {
    let extra = "[sources.household]\npath = \"x/house.parquet\"\n";
    let (dir, path) =
        setup(&pipeline(extra).replace(DIVISIONS, "[divisions]\npath = \"行政区划.csv\"\n"));
    let table = "省份,区县代码,区县名称,乡镇代码,乡镇名称,村居代码,村居名称\n\
        安徽省,340302000000,龙子湖区,340302001000,东风街道,340302001001,东风社区居委会\n\
        安徽省,340302000000,龙子湖区,340302001000,东风街道,340302001002,勤俭里社区居委会\n\
        安徽省,340302000000,龙子湖区,340302001000,东风街道,340302001002,勤俭里社区居委会\n";
    std::fs::write(
        dir.path().join("行政区划.csv"),
        encoding_rs::GB18030.encode(table).0,
    )
    .unwrap();
    let plan = Plan::load(&path).unwrap();
    let three = {
        let (_d, p) = setup(&pipeline(extra));
        Plan::load(&p).unwrap().divisions
    };
    assert_eq!(plan.divisions.counties, three.counties);
    assert_eq!(plan.divisions.townships, three.townships);
    assert_eq!(plan.divisions.villages, three.villages);
    assert_eq!(plan.divisions.name("340302001"), Some("东风街道"));
    assert_eq!(plan.divisions.village_codes().len(), 2);

    // The same table as XLSX, with other headers mapped in the pipeline.
    let xlsx = dir.path().join("areas.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let rows = [
        [
            "县区划",
            "县名",
            "乡镇(街道)代码",
            "乡镇(街道)名称",
            "村(居)代码",
            "村(居)名称",
        ],
        [
            "340302",
            "龙子湖区",
            "340302001",
            "东风街道",
            "340302001001",
            "东风社区居委会",
        ],
        [
            "340302",
            "龙子湖区",
            "340302001",
            "东风街道",
            "340302001002",
            "勤俭里社区居委会",
        ],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            sheet.write_string(r as u32, c as u16, *v).unwrap();
        }
    }
    book.save(&xlsx).unwrap();
    std::fs::write(
        &path,
        pipeline(extra).replace(
            DIVISIONS,
            "[divisions]\npath = \"areas.xlsx\"\n[divisions.columns]\ncounty_code = \"县区划\"\ncounty_name = [\"县名称\", \"县名\"]\n",
        ),
    )
    .unwrap();
    let plan = Plan::load(&path).unwrap();
    assert_eq!(plan.divisions.villages, three.villages);
    assert_eq!(plan.divisions.counties, three.counties);
}

#[test]
fn division_table_problems_name_the_file_line_and_column() {
    let extra = "[sources.household]\npath = \"x/house.parquet\"\n";
    let one = |table: &str| {
        let (dir, path) =
            setup(&pipeline(extra).replace(DIVISIONS, "[divisions]\npath = \"areas.csv\"\n"));
        std::fs::write(dir.path().join("areas.csv"), table).unwrap();
        let err = Plan::load(&path).unwrap_err().to_string();
        (dir, err)
    };
    let (_d, err) =
        one("村居代码,村居名称,乡镇代码,乡镇名称\n340302001001,甲,340302001,东风街道\n");
    assert!(
        err.contains("areas.csv")
            && err.contains("county_code")
            && err.contains("`区县代码`")
            && err.contains("[divisions.columns]"),
        "{err}"
    );
    let header = "区县代码,区县名称,乡镇代码,乡镇名称,村居代码,村居名称\n";
    let (_d, err) = one(&format!(
        "{header}340302,龙子湖区,340302001,东风街道,340302001001,甲\n340302,龙子湖区,340302001,东风镇,340302001002,乙\n"
    ));
    assert!(
        err.contains("areas.csv") && err.contains("line 3") && err.contains("`340302001`"),
        "{err}"
    );
    let (_d, err) = one(&format!(
        "{header}340302,龙子湖区,340302001111,东风街道,340302001001,甲\n"
    ));
    assert!(
        err.contains("line 2") && err.contains("township code"),
        "{err}"
    );
    let (_d, err) = one(&format!(
        "{header}340302,龙子湖区,340303001,东风街道,340302001001,甲\n"
    ));
    assert!(err.contains("not in township"), "{err}");
    // Both forms at once, or neither, is a setting error naming `divisions`.
    let err = load_err("").replace('\n', " ");
    assert!(err.contains("reads no source"), "{err}");
    let (_dir, path) =
        setup(&pipeline(extra).replace("[divisions]\n", "[divisions]\npath = \"areas.csv\"\n"));
    let err = Plan::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("`divisions`") && err.contains("either one table"),
        "{err}"
    );
}

/// `init`: each file goes to the source whose required headers it has and whose fields it
/// covers best (a household extract also has the social-security key); a workbook's data
/// sheet is found behind a cover sheet; a file that matches no source is listed, not
/// guessed; the drafted pipeline loads.
#[test]
fn init_recognises_sources_sheets_and_division_tables() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("hh.csv"),
        "公民身份号码,姓名,户籍地村代码,与户主关系,备注,户籍变动登记原因\n340302201601010019,甲,340302001001,户主,,\n",
    )
    .unwrap();
    std::fs::write(d.join("notes.csv"), "备注,说明\nx,y\n").unwrap();
    let mut book = rust_xlsxwriter::Workbook::new();
    book.add_worksheet()
        .set_name("说明")
        .unwrap()
        .write_string(0, 0, "婚姻登记数据")
        .unwrap();
    let sheet = book.add_worksheet().set_name("数据").unwrap();
    for (c, h) in [
        "登记编号",
        "登记类型",
        "男方身份证号",
        "女方身份证号",
        "登记日期",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
        sheet.write_string(1, c as u16, "1").unwrap();
    }
    book.save(d.join("marriage.xlsx")).unwrap();
    std::fs::write(
        d.join("areas.csv"),
        "区县代码,区县名称,乡镇代码,乡镇名称,村居代码,村居名称\n340302,龙子湖区,340302001,东风街道,340302001001,东风社区居委会\n",
    )
    .unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 2, 1).unwrap();
    let draft = init::draft(d, d, today).unwrap();
    let found: Vec<(&str, usize)> = draft
        .recognised
        .iter()
        .map(|(_, s, n, _)| (*s, *n))
        .collect();
    assert_eq!(found, [("household", 4), ("marriage", 5)]);
    assert_eq!(draft.unrecognised, [d.join("notes.csv")]);
    assert!(draft.divisions_found);
    let t = &draft.text;
    assert!(t.contains("sheet = \"数据\""), "{t}");
    assert!(t.contains("path = \"areas.csv\""), "{t}");
    assert!(t.contains("jurisdiction = \"340302001001\""), "{t}");
    assert!(t.contains("as_of = 2026-02-01"), "{t}");
    assert!(t.contains("start = 2025-01-01, end = 2025-12-31"), "{t}");
    assert!(t.contains("headers no field reads: 备注"), "{t}");
    assert!(t.contains("no column found for: sex (性别)"), "{t}");
    assert!(t.contains("#   notes.csv"), "{t}");
    // `户籍变动登记原因` has the shape of `户口登记原因`: offered, commented out.
    assert!(
        t.contains("# registration_reason = \"户籍变动登记原因\"   # check: a guess"),
        "{t}"
    );
    let path = d.join("p.toml");
    std::fs::write(&path, t).unwrap();
    let plan = Plan::load(&path).unwrap();
    assert_eq!(plan.sources.len(), 2);
    assert_eq!(
        plan.source("marriage").unwrap().files[0].sheet.as_deref(),
        Some("数据")
    );
}

/// A plan of `extra` with one source, so that it resolves.
fn load_ok(extra: &str) -> Plan {
    let (_dir, path) = setup(&pipeline(&format!(
        "[sources.hospital_delivery]\npath = \"x/d1.csv\"\n{extra}"
    )));
    Plan::load(&path).expect("the pipeline resolves")
}

/// Sets the dotted `key` (`[section.sub] name = value` form) in TOML text.
fn setting(key: &str, value: i32) -> String {
    let (table, name) = key.rsplit_once('.').unwrap();
    format!("\n[{table}]\n{name} = {value}\n")
}

#[test]
fn a_shared_setting_has_one_home_the_other_key_follows_and_contradictions_are_errors() {
    for (rule, other) in crate::params::shared_keys() {
        // Either key sets both.
        for (set, follows) in [(rule, other), (other, rule)] {
            let plan = load_ok(&setting(set, 17));
            let text = format!("{:?}{:?}{:?}", plan.rules, plan.indicators, plan.linkage);
            let field = |k: &str| k.rsplit('.').next().unwrap().to_owned();
            assert!(
                text.contains(&format!("{}: 17", field(follows))),
                "setting `{set}` leaves `{follows}` behind"
            );
        }
        // Both, equal: fine; different: an error naming both keys.
        let both = |a: i32, b: i32| {
            // Two keys of one section go in one table.
            let (ta, na) = rule.rsplit_once('.').unwrap();
            let (tb, nb) = other.rsplit_once('.').unwrap();
            if ta == tb {
                format!("\n[{ta}]\n{na} = {a}\n{nb} = {b}\n")
            } else {
                setting(rule, a) + &setting(other, b)
            }
        };
        load_ok(&both(17, 17));
        let (_dir, path) = setup(&pipeline(&format!(
            "[sources.hospital_delivery]\npath = \"x/d1.csv\"\n{}",
            both(17, 18)
        )));
        let e = Plan::load(&path).unwrap_err().to_string();
        assert!(
            e.contains(rule) && e.contains(other) && e.contains("17") && e.contains("18"),
            "{e}"
        );
    }
}

#[test]
fn policy_limits_and_attribution_have_sections_of_their_own() {
    let plan = load_ok(
        r#"
[policy]
count_deceased_children = false

[[policy.limits]]
from = 2016-01-01
limit = 2

[attribution]
order = ["household", "mother_household"]
"#,
    );
    assert!(!plan.linkage.count_deceased_children);
    assert_eq!(plan.linkage.policy_limits.len(), 1);
    assert_eq!(
        plan.linkage.attribution,
        [
            poprecon_link::AttributionStep::Household,
            poprecon_link::AttributionStep::MotherHousehold
        ]
    );
    // Without them, domain.md's defaults.
    let plan = load_ok("");
    assert_eq!(
        plan.linkage.policy_limits,
        poprecon_link::LinkConfig::default().policy_limits
    );
    // The old place is named in the error.
    let e = load_err("[linkage]\nattribution = [\"household\"]\n");
    assert!(e.contains("[attribution] order"), "{e}");
}

#[test]
fn the_decisions_file_is_parsed_with_the_pipeline_for_checks_and_linkage() {
    let text = pipeline("[sources.hospital_delivery]\npath = \"x/d1.csv\"\n").replacen(
        "[pipeline]\n",
        "[pipeline]\ndecisions = \"decisions.csv\"\n",
        1,
    );
    let (dir, path) = setup(&text);
    let decisions = dir.path().join("decisions.csv");
    std::fs::write(
        &decisions,
        "source,key,other_source,other_key,decision,reviewer,date\n\
         hospital_delivery,D1,birth_certificate,C1,must_link,王芳,2026-01-16\n\
         hospital_delivery,D2,clinic,C2,cannot_link,王芳,2026-01-16\n",
    )
    .unwrap();
    let e = Plan::load(&path).unwrap_err().to_string();
    assert!(
        e.contains("`pipeline.decisions`")
            && e.contains(
                "decisions file, line 3: `other_source` must be one of `birth_registration`"
            ),
        "{e}"
    );
    std::fs::write(
        &decisions,
        "source,key,other_source,other_key,decision,reviewer,date\n\
         hospital_delivery,D1,birth_certificate,C1,must_link,王芳,2026-01-16\n",
    )
    .unwrap();
    let plan = Plan::load(&path).unwrap();
    let constraints = plan.decisions.link_constraints();
    assert_eq!(constraints.len(), 1);
    assert_eq!(
        (constraints[0].kind, constraints[0].line),
        (poprecon_model::DecisionKind::MustLink, 2)
    );
}

#[test]
fn a_returns_table_is_resolved_and_checked_strictly() {
    let src = "[sources.hospital_delivery]\npath = \"x/d1.csv\"\n";
    let (_dir, path) = setup(&pipeline(&format!(
        "{src}\n[returns]\npath = \"x/d2.csv\"\nband = [0.85, 1.15]\nstatistical_year = true\n[returns.columns]\nvalue = \"上报数\"\n"
    )));
    let plan = Plan::load(&path).unwrap();
    let r = plan.returns.as_ref().expect("a returns plan");
    assert_eq!(r.files.len(), 1);
    assert_eq!(r.settings.band, (0.85, 1.15));
    assert!(r.settings.statistical_year);
    assert_eq!(r.settings.basis, "residence");
    assert_eq!(r.columns["value"], ["上报数"]);
    assert!(
        load_err(&format!(
            "{src}[returns]\npath = \"x/d2.csv\"\nthreshold = 1\n"
        ))
        .contains("unknown field `threshold`")
    );
    let e = load_err(&format!("{src}[returns]\nband = [1.1, 0.9]\n"));
    assert!(e.contains("returns") && e.contains("band"), "{e}");
    let e = load_err(&format!(
        "{src}[returns]\ndual_system = [\"household\", \"school\"]\n"
    ));
    assert!(e.contains("`school`"), "{e}");
    let e = load_err(&format!(
        "{src}[returns]\npath = \"x/d2.csv\"\n[returns.columns]\nreported = \"上报数\"\n"
    ));
    assert!(e.contains("returns.columns.reported"), "{e}");
    let e = load_err(&format!("{src}[returns]\npath = \"x/missing.csv\"\n"));
    assert!(e.contains("missing.csv"), "{e}");
}
