//! What a source declares: its fields, their kinds, the usual source headers, and its own
//! row checks. The engine in `engine.rs` does everything else.

use crate::engine::RowCheck;

/// How the text of one cell becomes a canonical value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldKind {
    /// Trimmed text, kept exactly (record keys, institutions, school names).
    Text,
    /// A person's name: trimmed, full-width spaces folded (`poprecon_model::normalize_name`).
    Name,
    /// A resident ID (GB 11643). Writes `<field>` (the valid normalised ID, else null) and
    /// `<field>_input` (the normalised text as given, so linkage can still compare digits).
    ResidentId,
    /// A 12-digit village code, flagged `unknown_village` when not in the division table.
    Village,
    /// A 6-digit county-level area code (social-security insured area).
    AreaCode,
    /// GB/T 2261.1 sex, stored as its code (0, 1, 2, 9).
    Sex,
    /// A calendar date.
    Date,
    /// A month-precision date (an enrolment month): `2019-09`, `201909`, `2019年9月` and
    /// `2019/9` read as the first day of the month; a whole date is kept as written.
    Month,
    /// A date with an optional time: `<field>` is the date, `<field>_time` the date-time
    /// where a time was given.
    DateTime,
    /// A whole number within bounds; accepts `第2孩`, `二`, `3剂` and the like.
    Int { min: i32, max: i32 },
    /// A decimal number within bounds.
    Float { min: f64, max: f64 },
    /// Yes/no (`是/否`, `1/0`, `Y/N`, `true/false`).
    Bool,
    /// A birth-certificate number: one capital letter and nine digits.
    Certificate,
    /// A closed vocabulary: source spellings mapped to canonical English codes.
    Code(&'static CodeMap),
}

impl FieldKind {
    /// The kind's name for people and for `poprecon sources`: `text`, `resident_id`,
    /// `date`, `month`, `int`, `code` ….
    pub fn name(&self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Name => "name",
            FieldKind::ResidentId => "resident_id",
            FieldKind::Village => "village",
            FieldKind::AreaCode => "area_code",
            FieldKind::Sex => "sex",
            FieldKind::Date => "date",
            FieldKind::DateTime => "datetime",
            FieldKind::Month => "month",
            FieldKind::Int { .. } => "int",
            FieldKind::Float { .. } => "float",
            FieldKind::Bool => "bool",
            FieldKind::Certificate => "certificate",
            FieldKind::Code(_) => "code",
        }
    }
}

/// A coded field's extra spellings from the pipeline (`[sources.<s>.codes.<field>]`):
/// field → (spelling → canonical code of the field's [`CodeMap`]).
pub type CodeExtensions =
    std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>;

/// A closed vocabulary: a national or industry code list, its usual labels and the
/// canonical English code each stands for. Spellings are compared after NFKC, trimming
/// and ASCII lower-casing.
#[derive(Debug, PartialEq)]
pub struct CodeMap {
    /// The vocabulary's name, used in reason codes and messages.
    pub name: &'static str,
    /// `(source spelling, canonical code)`.
    pub entries: &'static [(&'static str, &'static str)],
}

impl CodeMap {
    /// The canonical code of a spelling, if the vocabulary knows it.
    pub fn lookup(&self, raw: &str) -> Option<&'static str> {
        let key = code_key(raw);
        self.entries
            .iter()
            .find(|(spelling, _)| code_key(spelling) == key)
            .map(|(_, code)| *code)
    }

    /// The canonical codes, each once, in the order of the list.
    pub fn codes(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for (_, code) in self.entries {
            if !out.contains(code) {
                out.push(code);
            }
        }
        out
    }

    /// The canonical code `code` as a static string, if it is one of this list's codes.
    pub fn canonical(&self, code: &str) -> Option<&'static str> {
        self.entries
            .iter()
            .map(|(_, c)| *c)
            .find(|c| *c == code.trim())
    }
}

/// A spelling as code lists compare it: NFKC (full-width letters, digits and brackets
/// folded), trimmed, ASCII lower case.
pub fn code_key(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let trimmed = raw.trim();
    if trimmed.is_ascii() {
        return trimmed.to_ascii_lowercase();
    }
    let folded: String = trimmed.nfkc().collect();
    folded.trim().to_ascii_lowercase()
}

/// A [`CodeMap`] with the pipeline's extensions, ready for lookups during ingest.
#[derive(Debug, Clone)]
pub struct CodeTable {
    map: &'static CodeMap,
    spellings: std::collections::HashMap<String, &'static str>,
}

impl CodeTable {
    /// The map's spellings, then the extensions (which win where both name a spelling).
    /// An extension whose value is not one of the map's codes is returned as the error.
    pub fn new(
        map: &'static CodeMap,
        extensions: Option<&std::collections::BTreeMap<String, String>>,
    ) -> Result<Self, (String, String)> {
        let mut spellings: std::collections::HashMap<String, &'static str> = map
            .entries
            .iter()
            .map(|(spelling, code)| (code_key(spelling), *code))
            .collect();
        for (spelling, code) in extensions.into_iter().flatten() {
            let canonical = map
                .canonical(code)
                .ok_or_else(|| (spelling.clone(), code.clone()))?;
            spellings.insert(code_key(spelling), canonical);
        }
        Ok(CodeTable { map, spellings })
    }

    /// The canonical code of a cell's text.
    pub fn lookup(&self, raw: &str) -> Option<&'static str> {
        // Most cells are already in normal form: no allocation for them.
        if let Some(code) = self.spellings.get(raw) {
            return Some(*code);
        }
        self.spellings.get(&code_key(raw)).copied()
    }

    /// The underlying code list.
    pub fn map(&self) -> &'static CodeMap {
        self.map
    }
}

/// One canonical field of a source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldSpec {
    /// Canonical field name (domain.md §2).
    pub name: &'static str,
    /// Chinese label for people.
    pub label_zh: &'static str,
    pub kind: FieldKind,
    /// A row without this field (empty, or an impossible date) is quarantined.
    pub required: bool,
    /// The usual headers of real extracts, tried in order when the pipeline maps nothing.
    pub aliases: &'static [&'static str],
}

impl FieldSpec {
    pub const fn new(name: &'static str, label_zh: &'static str, kind: FieldKind) -> Self {
        FieldSpec {
            name,
            label_zh,
            kind,
            required: false,
            aliases: &[],
        }
    }

    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub const fn aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }
}

/// A source of records: its schema and its own checks. One small implementation per source
/// crate; the ingest engine owns reading, mapping, normalisation and quarantine.
pub trait Source: Send + Sync + std::fmt::Debug {
    /// Source id of domain.md §2 (`hospital_delivery`, `household`, …).
    fn id(&self) -> &'static str;
    /// Chinese name of the source.
    fn label_zh(&self) -> &'static str;
    /// The canonical fields, in output order.
    fn fields(&self) -> &'static [FieldSpec];
    /// The field whose value is the record key (`record_id`, `certificate_no`, …).
    fn key_field(&self) -> &'static str;
    /// Checks that need several fields of one row. Flags go through [`RowCheck::flag`].
    fn check_row(&self, _row: &mut RowCheck<'_>) {}
    /// Every field [`Source::check_row`] reads, sets, clears or flags; `None` (the default)
    /// stands for all of them. The engine canonicalises a Parquet column as a whole for a
    /// field not named here, and for the one field named where only one is (the check is
    /// then a function of its value, run once per distinct value); a source that overrides
    /// `check_row` and names too few fields would see nulls for the others, so debug builds
    /// (and so the tests) panic when a check touches a field it did not declare.
    fn check_row_fields(&self) -> Option<&'static [&'static str]> {
        None
    }
}

/// Looks a field up by name.
pub fn field<'a>(source: &'a dyn Source, name: &str) -> Option<&'a FieldSpec> {
    source.fields().iter().find(|f| f.name == name)
}

/// Shared vocabularies used by several sources.
pub mod vocab {
    use super::CodeMap;

    /// Household registration status (domain.md §8.22).
    pub static HOUSEHOLD_STATUS: CodeMap = CodeMap {
        name: "household_status",
        entries: &[
            ("正常", "active"),
            ("在册", "active"),
            ("在籍", "active"),
            ("正常户口", "active"),
            ("active", "active"),
            ("1", "active"),
            ("迁出", "moved_out"),
            ("已迁出", "moved_out"),
            ("户口迁出", "moved_out"),
            ("moved_out", "moved_out"),
            ("2", "moved_out"),
            ("死亡", "deceased"),
            ("死亡注销", "deceased"),
            ("已死亡", "deceased"),
            ("deceased", "deceased"),
            ("3", "deceased"),
            ("注销", "cancelled"),
            ("已注销", "cancelled"),
            ("户口注销", "cancelled"),
            ("出国注销", "cancelled"),
            ("出国(境)定居注销", "cancelled"),
            ("服兵役注销", "cancelled"),
            ("cancelled", "cancelled"),
            ("4", "cancelled"),
        ],
    };
}

/// Usual headers shared by several sources (source crates never depend on each other, so
/// what they share lives here).
pub mod aliases {
    /// The 12-digit village code of residence (health-side sources).
    pub const RESIDENCE_VILLAGE: &[&str] = &[
        "现居住地村代码",
        "现居住地村居代码",
        "居住地村居代码",
        "居住地村代码",
        "现住址村级代码",
        "现住址村居代码",
        "现住址村代码",
        "现住地村居代码",
        "现居住地代码",
    ];
}
