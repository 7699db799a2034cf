//! `poprecon init`: a first pipeline file drafted from a folder of extracts.
//!
//! Each file's header is scored against every source's accepted headers (field names and
//! aliases, compared as ingest compares them); a file goes to the source all of whose
//! required fields it has and whose fields it covers best. CSV encodings are detected as
//! ingest detects them, workbook sheets are tried one by one, and a division table is
//! recognised by its columns (one 行政区划 table, or `code,name` files of 6, 9 and 12
//! digits). Only headers are quoted in the draft, never a cell of a row.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use poprecon_ingest::read::{self, TextTable};
use poprecon_ingest::{Encoding, Format, InputFile, Source, normalize_header};

use crate::divisions::{DIVISION_COLUMNS, division_code, division_columns};
use crate::{Divisions, PipelineError, all_sources};

/// What `init` found in the folder and the pipeline text it wrote.
#[derive(Debug)]
pub struct Draft {
    /// The pipeline file's text.
    pub text: String,
    /// Each extract recognised: file, source id, fields found of the source's.
    pub recognised: Vec<(PathBuf, &'static str, usize, usize)>,
    /// Files read but matched to no source and not a division table.
    pub unrecognised: Vec<PathBuf>,
    /// Whether a division table was found.
    pub divisions_found: bool,
}

/// How one file matches one source.
#[derive(Debug, Clone)]
struct Match {
    source: &'static dyn Source,
    /// Per field of the source, the header (as written) that feeds it.
    columns: Vec<Option<String>>,
    /// Headers no field reads.
    unread: Vec<String>,
}

impl Match {
    fn found(&self) -> usize {
        self.columns.iter().flatten().count()
    }

    fn complete(&self) -> bool {
        self.source
            .fields()
            .iter()
            .zip(&self.columns)
            .all(|(f, c)| !f.required || c.is_some())
    }
}

/// One extract file as `init` read it.
#[derive(Debug)]
struct Extract {
    path: PathBuf,
    format: Format,
    encoding: Option<Encoding>,
    delimiter: u8,
    sheet: Option<String>,
    best: Option<Match>,
}

/// Drafts a pipeline for the files under `dir`, with paths relative to `base` (the folder
/// the pipeline file will be written to). `today` is the default `as_of`.
pub fn draft(dir: &Path, base: &Path, today: NaiveDate) -> Result<Draft, PipelineError> {
    let mut files = Vec::new();
    walk(dir, &mut files).map_err(|source| PipelineError::Io {
        path: dir.to_owned(),
        source,
    })?;
    files.sort();
    let mut extracts = Vec::new();
    let mut one_table: Option<(PathBuf, Option<Encoding>, u8, Option<String>)> = None;
    let mut three: BTreeMap<usize, PathBuf> = BTreeMap::new();
    let mut unrecognised = Vec::new();
    for path in files {
        let Some(format) = Format::from_path(&path) else {
            continue;
        };
        let mut best: Option<(Extract, Vec<String>)> = None;
        for sheet in sheets(&path, format) {
            let Some((header, encoding, delimiter)) = header_of(&path, format, sheet.clone())
            else {
                continue;
            };
            let m = best_source(&header);
            let score = m.as_ref().map_or(0, Match::found);
            let better = match &best {
                None => true,
                Some((e, _)) => score > e.best.as_ref().map_or(0, Match::found),
            };
            if better {
                best = Some((
                    Extract {
                        path: path.clone(),
                        format,
                        encoding,
                        delimiter,
                        sheet: sheet.clone(),
                        best: m,
                    },
                    header,
                ));
            }
        }
        let Some((extract, header)) = best else {
            unrecognised.push(path);
            continue;
        };
        if extract.best.is_some() {
            extracts.push(extract);
        } else if division_columns(&header, &BTreeMap::new()).is_ok() && one_table.is_none() {
            one_table = Some((path, extract.encoding, extract.delimiter, extract.sheet));
        } else if let Some(level) = code_name_level(&extract) {
            three.entry(level).or_insert(path);
        } else {
            unrecognised.push(path);
        }
    }

    let mut text = String::new();
    let w = &mut text;
    let _ = writeln!(
        w,
        "# Written by `poprecon init` from the files under `{}`.\n\
         # Check the lines marked `check:`, then run `poprecon validate` on this file.\n\
         # Every key is described in README.md (\"The pipeline file\"); `poprecon sources`\n\
         # lists each source's fields and the headers it recognises.",
        dir.display()
    );
    // The division table first: the jurisdiction is read off it.
    let mut divisions_section = String::new();
    let divisions = match (&one_table, three.len()) {
        (Some((path, encoding, delimiter, sheet)), _) => {
            let file = InputFile {
                encoding: encoding.unwrap_or_default(),
                delimiter: *delimiter,
                sheet: sheet.clone(),
                ..InputFile::new(path.clone(), Format::from_path(path).unwrap_or(Format::Csv))
            };
            let _ = writeln!(
                divisions_section,
                "\n[divisions]                # recognised by its columns ({})\npath = {}",
                DIVISION_COLUMNS
                    .iter()
                    .map(|(_, label, _)| *label)
                    .collect::<Vec<_>>()
                    .join(", "),
                quote(&relative(path, base))
            );
            write_read_settings(&mut divisions_section, &file, *encoding);
            Divisions::load_table(&file, &BTreeMap::new()).ok()
        }
        (None, 3) => {
            let _ = writeln!(
                divisions_section,
                "\n[divisions]                # `code,name` files"
            );
            for (level, key) in [(6, "counties"), (9, "townships"), (12, "villages")] {
                let _ = writeln!(
                    divisions_section,
                    "{key} = {}",
                    quote(&relative(&three[&level], base))
                );
            }
            Divisions::load(&three[&6], &three[&9], &three[&12]).ok()
        }
        _ => {
            let _ = writeln!(
                divisions_section,
                "\n[divisions]\n# check: no division table was found among the files. Name one table with a row per\n# village and the columns 村居代码, 村居名称, 乡镇代码, 乡镇名称, 区县代码, 区县名称:\npath = \"行政区划.xlsx\""
            );
            None
        }
    };
    let jurisdiction = divisions
        .as_ref()
        .map(|d| jurisdiction_of(d.villages.keys()))
        .unwrap_or_else(|| "34".to_owned());
    let year = today.year() - 1;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pipeline".into());
    let _ = writeln!(
        w,
        "\n[pipeline]\nname = {}\njurisdiction = \"{jurisdiction}\"   # check: the division-code prefix of the area assessed{}\nas_of = {today}            # check: the date of the extracts\nperiod = {{ start = {year}-01-01, end = {year}-12-31 }}   # check: the birth dates assessed",
        quote(&name),
        if divisions.is_some() {
            " (here: what all the table's villages share)"
        } else {
            ""
        }
    );
    w.push_str(&divisions_section);

    let mut recognised = Vec::new();
    for source in all_sources() {
        let mine: Vec<&Extract> = extracts
            .iter()
            .filter(|e| {
                e.best
                    .as_ref()
                    .is_some_and(|m| m.source.id() == source.id())
            })
            .collect();
        if mine.is_empty() {
            continue;
        }
        for e in &mine {
            let m = e.best.as_ref().expect("filtered on a match");
            recognised.push((
                e.path.clone(),
                source.id(),
                m.found(),
                source.fields().len(),
            ));
        }
        write_source(w, source, &mine, base);
    }
    if !unrecognised.is_empty() {
        let _ = writeln!(
            w,
            "\n# Files matched to no source (no source's required columns were all found): add a\n# `[sources.<id>]` section with a `[sources.<id>.columns]` map for each by hand."
        );
        for p in &unrecognised {
            let _ = writeln!(w, "#   {}", relative(p, base));
        }
    }
    Ok(Draft {
        text,
        recognised,
        unrecognised,
        divisions_found: divisions.is_some(),
    })
}

fn write_source(w: &mut String, source: &'static dyn Source, files: &[&Extract], base: &Path) {
    let fields = source.fields();
    let found_in = |i: usize| -> Vec<&String> {
        files
            .iter()
            .filter_map(|e| e.best.as_ref().and_then(|m| m.columns[i].as_ref()))
            .collect()
    };
    let found = (0..fields.len())
        .filter(|&i| !found_in(i).is_empty())
        .count();
    let _ = writeln!(
        w,
        "\n[sources.{}]\n# {}: recognised by its headers ({found} of {} fields found)",
        source.id(),
        source.label_zh(),
        fields.len()
    );
    if let [one] = files {
        let _ = writeln!(w, "path = {}", quote(&relative(&one.path, base)));
    } else {
        let paths: Vec<String> = files
            .iter()
            .map(|e| quote(&relative(&e.path, base)))
            .collect();
        let _ = writeln!(w, "paths = [{}]", paths.join(", "));
    }
    let first = files[0];
    let same = |f: &dyn Fn(&Extract) -> String| files.iter().all(|e| f(e) == f(first));
    if first.format == Format::Csv {
        if same(&|e| format!("{:?}", e.encoding)) {
            if let Some(enc) = first.encoding {
                let _ = writeln!(w, "encoding = \"{}\"   # detected", enc.as_str());
            }
        } else {
            let _ = writeln!(
                w,
                "encoding = \"auto\"   # the files differ: each is detected"
            );
        }
        if first.delimiter != poprecon_ingest::read::default_delimiter(&first.path) {
            let _ = writeln!(w, "delimiter = \"{}\"", delimiter_text(first.delimiter));
        }
    }
    if first.format.is_workbook()
        && let Some(sheet) = &first.sheet
        && same(&|e| format!("{:?}", e.sheet))
    {
        let _ = writeln!(w, "sheet = {}", quote(sheet));
    }
    let mut map = String::new();
    let mut partial = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let headers = found_in(i);
        if headers.is_empty() {
            continue;
        }
        if headers.len() < files.len() {
            partial.push(format!(
                "{} (in {} of {} files)",
                f.name,
                headers.len(),
                files.len()
            ));
            continue;
        }
        let mut distinct: Vec<&String> = Vec::new();
        for h in headers {
            if !distinct.contains(&h) {
                distinct.push(h);
            }
        }
        let value = match distinct.as_slice() {
            [one] => quote(one),
            many => format!(
                "[{}]",
                many.iter().map(|h| quote(h)).collect::<Vec<_>>().join(", ")
            ),
        };
        if distinct.iter().any(|h| h.as_str() != f.label_zh) {
            let _ = writeln!(map, "{} = {value}   # {}", f.name, f.label_zh);
        } else {
            let _ = writeln!(map, "{} = {value}", f.name);
        }
    }
    let _ = write!(w, "[sources.{}.columns]\n{map}", source.id());
    for p in partial {
        let _ = writeln!(
            w,
            "# found in some files only, left to the usual headers: {p}"
        );
    }
    let missing: Vec<String> = fields
        .iter()
        .enumerate()
        .filter(|(i, _)| found_in(*i).is_empty())
        .map(|(_, f)| format!("{} ({})", f.name, f.label_zh))
        .collect();
    if !missing.is_empty() {
        let _ = writeln!(
            w,
            "# no column found for: {}\n#   map them above if the files hold them under other headers",
            missing.join(", ")
        );
    }
    let mut unread: Vec<&String> = Vec::new();
    for e in files {
        for h in &e.best.as_ref().expect("filtered on a match").unread {
            if !unread.contains(&h) {
                unread.push(h);
            }
        }
    }
    // A header that ends like one of a missing field's usual headers (`现住址村居代码` and
    // `现居住地村居代码`) is offered as a commented guess, never mapped: a wrong map would
    // read a column as something it is not.
    for (i, f) in fields.iter().enumerate() {
        if !found_in(i).is_empty() {
            continue;
        }
        if let Some(h) = guess(f, &unread) {
            let _ = writeln!(
                w,
                "# {} = {}   # check: a guess from the header's ending; uncomment (under the columns) if right",
                f.name,
                quote(h)
            );
        }
    }
    if !unread.is_empty() {
        let _ = writeln!(
            w,
            "# headers no field reads: {}",
            unread
                .iter()
                .map(|h| h.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

/// The one unread header that begins with the first character and ends with the last
/// four characters of one of the field's usual headers (`现住址村居代码` for
/// `现居住地村居代码`), if exactly one does.
fn guess<'a>(f: &poprecon_ingest::FieldSpec, unread: &[&'a String]) -> Option<&'a String> {
    let shapes: Vec<(char, String)> = f
        .aliases
        .iter()
        .map(|a| normalize_header(a))
        .filter(|a| a.chars().count() >= 5)
        .filter_map(|a| {
            let skip = a.chars().count() - 4;
            Some((a.chars().next()?, a.chars().skip(skip).collect()))
        })
        .collect();
    let mut hits = unread.iter().filter(|h| {
        let h = normalize_header(h);
        shapes
            .iter()
            .any(|(first, end)| h.starts_with(*first) && h.ends_with(end.as_str()))
    });
    match (hits.next(), hits.next()) {
        (Some(h), None) => Some(h),
        _ => None,
    }
}

fn write_read_settings(w: &mut String, file: &InputFile, detected: Option<Encoding>) {
    if file.format == Format::Csv {
        if let Some(enc) = detected {
            let _ = writeln!(w, "encoding = \"{}\"   # detected", enc.as_str());
        }
        if file.delimiter != poprecon_ingest::read::default_delimiter(&file.path) {
            let _ = writeln!(w, "delimiter = \"{}\"", delimiter_text(file.delimiter));
        }
    }
    if let Some(sheet) = &file.sheet {
        let _ = writeln!(w, "sheet = {}", quote(sheet));
    }
}

fn delimiter_text(d: u8) -> String {
    if d == b'\t' {
        "tab".into()
    } else {
        (d as char).to_string()
    }
}

/// The source whose required fields the header has and whose fields it covers best.
fn best_source(header: &[String]) -> Option<Match> {
    all_sources()
        .into_iter()
        .map(|s| match_source(s, header))
        .filter(Match::complete)
        .max_by(|a, b| {
            a.found().cmp(&b.found()).then_with(|| {
                // Of equal counts, the source whose fields the header covers more of.
                let share = |m: &Match| m.found() as f64 / m.source.fields().len() as f64;
                share(a).total_cmp(&share(b))
            })
        })
}

/// Which header feeds each field of `source`: the field's name, then its aliases, the
/// first header that matches (as ingest resolves a header with no column map).
fn match_source(source: &'static dyn Source, header: &[String]) -> Match {
    let norm: Vec<String> = header.iter().map(|h| normalize_header(h)).collect();
    let mut used = vec![false; header.len()];
    let columns = source
        .fields()
        .iter()
        .map(|f| {
            let i = std::iter::once(f.name)
                .chain(f.aliases.iter().copied())
                .find_map(|a| {
                    let a = normalize_header(a);
                    norm.iter().position(|h| *h == a)
                })?;
            used[i] = true;
            Some(header[i].trim().to_owned())
        })
        .collect();
    let unread = header
        .iter()
        .zip(&used)
        .filter(|(h, u)| !**u && !h.trim().is_empty())
        .map(|(h, _)| h.trim().to_owned())
        .collect();
    Match {
        source,
        columns,
        unread,
    }
}

/// The sheets to try: every sheet of a workbook, `None` for other formats.
fn sheets(path: &Path, format: Format) -> Vec<Option<String>> {
    if !format.is_workbook() {
        return vec![None];
    }
    match read::sheet_names(&InputFile::new(path, format)) {
        Ok(names) => names.into_iter().map(Some).collect(),
        Err(_) => Vec::new(),
    }
}

/// The header of a file (a sheet of a workbook), the encoding detected for CSV, and the
/// delimiter: tab where a comma-separated reading gives one column holding tabs.
fn header_of(
    path: &Path,
    format: Format,
    sheet: Option<String>,
) -> Option<(Vec<String>, Option<Encoding>, u8)> {
    let mut file = InputFile::new(path, format);
    file.sheet = sheet;
    let (header, encoding) = read::read_header(&file).ok()?;
    if format == Format::Csv && header.len() == 1 && header[0].contains('\t') {
        file.delimiter = b'\t';
        let (header, encoding) = read::read_header(&file).ok()?;
        return Some((header, encoding, b'\t'));
    }
    Some((header, encoding, file.delimiter))
}

/// A `code,name` file of the three-file division form: the level by the first code's
/// length (6 county, 9 township, 12 village).
fn code_name_level(e: &Extract) -> Option<usize> {
    if e.format != Format::Csv {
        return None;
    }
    let file = InputFile {
        encoding: e.encoding.unwrap_or_default(),
        delimiter: e.delimiter,
        ..InputFile::new(e.path.clone(), Format::Csv)
    };
    let TextTable { header, rows, .. } = read::read_table(&file).ok()?;
    let first_two: Vec<String> = header.iter().take(2).map(|h| normalize_header(h)).collect();
    if first_two != ["code", "name"] {
        return None;
    }
    let (_, cells) = rows.first()?;
    let code = cells.first()?.trim();
    [6, 9, 12]
        .into_iter()
        .find(|&n| code.len() == n && division_code(code, n).is_some())
}

/// The longest division prefix (12, 9, 6, 4 or 2 digits) that every village shares.
fn jurisdiction_of<'a>(mut villages: impl Iterator<Item = &'a String>) -> String {
    let Some(first) = villages.next() else {
        return "34".into();
    };
    let mut common = first.len();
    for v in villages {
        common = common.min(
            first
                .bytes()
                .zip(v.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    let len = [12, 9, 6, 4, 2]
        .into_iter()
        .find(|&n| n <= common)
        .unwrap_or(2);
    first[..len].to_owned()
}

/// `path` relative to `base` where it lies under it (with `/`), else as given.
fn relative(path: &Path, base: &Path) -> String {
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    match abs(path).strip_prefix(abs(base)) {
        Ok(rel) => rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => abs(path).display().to_string(),
    }
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Every file under `dir`, hidden files and folders skipped.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}
