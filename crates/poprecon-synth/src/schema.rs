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

/// How a file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileFormat {
    CsvGb18030,
    CsvUtf8Bom,
    CsvUtf8,
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

    pub(crate) fn extension(self) -> &'static str {
        match self.format() {
            FileFormat::CsvGb18030 | FileFormat::CsvUtf8Bom | FileFormat::CsvUtf8 => "csv",
            FileFormat::Xlsx => "xlsx",
            FileFormat::Parquet => "parquet",
        }
    }

    /// The `encoding` a pipeline declares for the file (CSV only).
    pub(crate) fn encoding(self) -> Option<&'static str> {
        match self.format() {
            FileFormat::CsvGb18030 => Some("gb18030"),
            FileFormat::CsvUtf8Bom | FileFormat::CsvUtf8 => Some("utf-8"),
            FileFormat::Xlsx | FileFormat::Parquet => None,
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
