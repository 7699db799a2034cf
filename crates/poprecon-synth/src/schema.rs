//! The nine extracts as real systems export them: file format, encoding, and one usual
//! header per canonical field (each among the aliases the source crates know).

/// A source of domain.md §2, in the order extracts and truth tables list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Src {
    BirthRegistration,
    PrenatalCare,
    HospitalDelivery,
    BirthCertificate,
    Vaccination,
    Household,
    School,
    Marriage,
    SocialSecurity,
}

/// How a family of systems exports its extracts (`poprecon synth --dialect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// Bengbu's systems: the headers below, three `code,name` division files.
    #[default]
    Bengbu,
    /// Another county's systems: other Chinese headers (each among the aliases the source
    /// crates know), the school extract as TSV and social security as XLSX, one 行政区划
    /// table (XLSX, 12-digit padded township and county codes) among the extracts, month
    /// enrolment dates, every 险种, blank pupil IDs (the ID stays in the student number),
    /// a new community per township where only stillbirths' deliveries live, and damaged
    /// mother IDs on the deliveries of women who claim maternity benefit.
    CountyB,
}

impl std::str::FromStr for Dialect {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bengbu" => Ok(Dialect::Bengbu),
            "county-b" => Ok(Dialect::CountyB),
            other => Err(format!(
                "unknown dialect `{other}`; expected `bengbu` or `county-b`"
            )),
        }
    }
}

/// The headers of [`Dialect::CountyB`] that differ from Bengbu's: (source, field, header).
const COUNTY_B_HEADERS: [(Src, &str, &str); 30] = [
    (Src::BirthRegistration, "record_id", "生育登记编号"),
    (Src::BirthRegistration, "child_order", "生育孩次"),
    (
        Src::BirthRegistration,
        "residence_village",
        "居住地村居代码",
    ),
    (Src::PrenatalCare, "record_id", "建册编号"),
    (Src::PrenatalCare, "booking_date", "建档日期"),
    (Src::PrenatalCare, "booking_gestational_weeks", "建档孕周"),
    (Src::PrenatalCare, "residence_village", "居住地村居代码"),
    (Src::HospitalDelivery, "record_id", "住院号"),
    (Src::HospitalDelivery, "mother_id", "产妇身份证号码"),
    (Src::HospitalDelivery, "delivery_date", "分娩日期"),
    (Src::HospitalDelivery, "institution", "分娩机构"),
    (Src::HospitalDelivery, "outcome", "分娩结局"),
    (Src::HospitalDelivery, "residence_village", "居住地村居代码"),
    (Src::BirthCertificate, "certificate_no", "出生证编号"),
    (Src::BirthCertificate, "birth_place_type", "出生地点类型"),
    (Src::Vaccination, "child_code", "受种者编码"),
    (Src::Vaccination, "vaccine", "疫苗种类"),
    (Src::Vaccination, "dose", "接种剂次"),
    (Src::Vaccination, "vaccination_date", "接种时间"),
    (Src::Household, "village", "村居委会代码"),
    (Src::Household, "status", "人口状态"),
    (Src::Household, "relation_to_head", "家庭关系"),
    (Src::School, "student_no", "全国学籍号"),
    (Src::School, "person_id", "身份证件号"),
    (Src::School, "enrolment_date", "入学年月"),
    (Src::Marriage, "kind", "业务类型"),
    (Src::Marriage, "man_id", "男方证件号码"),
    (Src::Marriage, "woman_id", "女方证件号码"),
    (Src::SocialSecurity, "scheme", "参保险种"),
    (
        Src::SocialSecurity,
        "maternity_claim_date",
        "生育待遇申领日期",
    ),
];

/// How a file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileFormat {
    CsvGb18030,
    CsvUtf8Bom,
    CsvUtf8,
    TsvUtf8,
    Xlsx,
    Parquet,
}

/// What a column holds (Parquet column types; XLSX cell kinds are per cell).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColKind {
    Text,
    Date,
}

/// One column: the header written and the canonical field it feeds. The first column of
/// every source is its record key (domain.md §7).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Column {
    pub header: &'static str,
    pub field: &'static str,
    pub kind: ColKind,
}

const fn t(header: &'static str, field: &'static str) -> Column {
    Column {
        header,
        field,
        kind: ColKind::Text,
    }
}

const fn d(header: &'static str, field: &'static str) -> Column {
    Column {
        header,
        field,
        kind: ColKind::Date,
    }
}

pub(crate) const ALL: [Src; 9] = [
    Src::BirthRegistration,
    Src::PrenatalCare,
    Src::HospitalDelivery,
    Src::BirthCertificate,
    Src::Vaccination,
    Src::Household,
    Src::School,
    Src::Marriage,
    Src::SocialSecurity,
];

static BIRTH_REGISTRATION: [Column; 8] = [
    t("登记编号", "record_id"),
    t("登记日期", "registration_date"),
    t("女方身份证号", "woman_id"),
    t("女方姓名", "woman_name"),
    t("男方身份证号", "man_id"),
    t("男方姓名", "man_name"),
    t("孩次", "child_order"),
    t("现居住地村代码", "residence_village"),
];
static PRENATAL_CARE: [Column; 10] = [
    t("保健手册编号", "record_id"),
    t("孕产妇身份证号", "mother_id"),
    t("孕产妇姓名", "mother_name"),
    t("建册日期", "booking_date"),
    t("建册孕周", "booking_gestational_weeks"),
    t("产检次数", "visit_count"),
    t("预产期", "expected_delivery_date"),
    t("是否高危", "high_risk"),
    t("建册机构", "institution"),
    t("现居住地村代码", "residence_village"),
];
static HOSPITAL_DELIVERY: [Column; 13] = [
    t("分娩记录编号", "record_id"),
    t("产妇身份证号", "mother_id"),
    t("产妇姓名", "mother_name"),
    t("分娩时间", "delivery_date"),
    t("助产机构", "institution"),
    t("分娩方式", "delivery_mode"),
    t("孕周", "gestational_weeks"),
    t("妊娠结局", "outcome"),
    t("胎数", "plurality"),
    t("多胎顺序", "birth_seq"),
    t("新生儿性别", "child_sex"),
    t("出生体重(克)", "birth_weight_g"),
    t("现居住地村代码", "residence_village"),
];
static BIRTH_CERTIFICATE: [Column; 12] = [
    t("出生医学证明编号", "certificate_no"),
    t("新生儿姓名", "child_name"),
    t("性别", "child_sex"),
    t("出生时间", "birth_date"),
    t("出生地点分类", "birth_place_type"),
    t("接生机构名称", "institution"),
    t("母亲有效身份证件号码", "mother_id"),
    t("母亲姓名", "mother_name"),
    t("父亲有效身份证件号码", "father_id"),
    t("父亲姓名", "father_name"),
    t("签发日期", "issue_date"),
    t("签发类型", "issue_type"),
];
static VACCINATION: [Column; 12] = [
    t("儿童编码", "child_code"),
    t("儿童身份证号", "child_id"),
    t("儿童姓名", "child_name"),
    t("性别", "child_sex"),
    t("出生日期", "birth_date"),
    t("母亲身份证号", "mother_id"),
    t("母亲姓名", "mother_name"),
    t("疫苗名称", "vaccine"),
    t("剂次", "dose"),
    t("接种日期", "vaccination_date"),
    t("接种单位", "institution"),
    t("现居住地村代码", "residence_village"),
];
static HOUSEHOLD: [Column; 12] = [
    t("公民身份号码", "person_id"),
    t("姓名", "name"),
    t("性别", "sex"),
    d("出生日期", "birth_date"),
    t("户号", "household_no"),
    t("与户主关系", "relation_to_head"),
    t("户籍地村代码", "village"),
    d("登记日期", "registration_date"),
    t("登记原因", "registration_reason"),
    t("户口状态", "status"),
    t("母亲身份证号", "mother_id"),
    t("父亲身份证号", "father_id"),
];
static SCHOOL: [Column; 8] = [
    t("学籍号", "student_no"),
    t("身份证号", "person_id"),
    t("姓名", "name"),
    t("性别", "sex"),
    t("出生日期", "birth_date"),
    t("学校名称", "school"),
    t("年级", "grade"),
    t("入学日期", "enrolment_date"),
];
static MARRIAGE: [Column; 5] = [
    t("登记编号", "record_id"),
    t("登记类型", "kind"),
    t("男方身份证号", "man_id"),
    t("女方身份证号", "woman_id"),
    t("登记日期", "registration_date"),
];
static SOCIAL_SECURITY: [Column; 7] = [
    t("公民身份号码", "person_id"),
    t("姓名", "name"),
    t("险种", "scheme"),
    t("参保地", "insured_area"),
    t("参保状态", "status"),
    d("参保日期", "start_date"),
    d("生育津贴申领日期", "maternity_claim_date"),
];

impl Src {
    pub(crate) fn id(self) -> &'static str {
        match self {
            Src::BirthRegistration => "birth_registration",
            Src::PrenatalCare => "prenatal_care",
            Src::HospitalDelivery => "hospital_delivery",
            Src::BirthCertificate => "birth_certificate",
            Src::Vaccination => "vaccination",
            Src::Household => "household",
            Src::School => "school",
            Src::Marriage => "marriage",
            Src::SocialSecurity => "social_security",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn format(self) -> FileFormat {
        match self {
            Src::BirthRegistration | Src::HospitalDelivery | Src::Marriage => {
                FileFormat::CsvGb18030
            }
            Src::PrenatalCare | Src::BirthCertificate => FileFormat::Xlsx,
            Src::Vaccination => FileFormat::CsvUtf8Bom,
            Src::School => FileFormat::CsvUtf8,
            Src::Household | Src::SocialSecurity => FileFormat::Parquet,
        }
    }

    /// Bengbu's file extension (tests read Bengbu's extracts).
    #[cfg(test)]
    pub(crate) fn extension(self) -> &'static str {
        self.extension_in(Dialect::Bengbu)
    }

    /// The file format in a dialect.
    pub(crate) fn format_in(self, dialect: Dialect) -> FileFormat {
        match (dialect, self) {
            (Dialect::CountyB, Src::School) => FileFormat::TsvUtf8,
            (Dialect::CountyB, Src::SocialSecurity) => FileFormat::Xlsx,
            _ => self.format(),
        }
    }

    pub(crate) fn extension_in(self, dialect: Dialect) -> &'static str {
        match self.format_in(dialect) {
            FileFormat::CsvGb18030 | FileFormat::CsvUtf8Bom | FileFormat::CsvUtf8 => "csv",
            FileFormat::TsvUtf8 => "tsv",
            FileFormat::Xlsx => "xlsx",
            FileFormat::Parquet => "parquet",
        }
    }

    pub(crate) fn encoding_in(self, dialect: Dialect) -> Option<&'static str> {
        match self.format_in(dialect) {
            FileFormat::CsvGb18030 => Some("gb18030"),
            FileFormat::CsvUtf8Bom | FileFormat::CsvUtf8 | FileFormat::TsvUtf8 => Some("utf-8"),
            FileFormat::Xlsx | FileFormat::Parquet => None,
        }
    }

    /// The header of a column in a dialect.
    pub(crate) fn header_in(self, column: &Column, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Bengbu => column.header,
            Dialect::CountyB => COUNTY_B_HEADERS
                .iter()
                .find(|(s, f, _)| *s == self && *f == column.field)
                .map_or(column.header, |(_, _, h)| *h),
        }
    }

    pub(crate) fn columns(self) -> &'static [Column] {
        match self {
            Src::BirthRegistration => &BIRTH_REGISTRATION,
            Src::PrenatalCare => &PRENATAL_CARE,
            Src::HospitalDelivery => &HOSPITAL_DELIVERY,
            Src::BirthCertificate => &BIRTH_CERTIFICATE,
            Src::Vaccination => &VACCINATION,
            Src::Household => &HOUSEHOLD,
            Src::School => &SCHOOL,
            Src::Marriage => &MARRIAGE,
            Src::SocialSecurity => &SOCIAL_SECURITY,
        }
    }
}
