//! Parquet parts canonicalised column by column where their columns are canonical already.
//!
//! Most cells of a system's Parquet extract are already what the engine would make of them:
//! a valid resident ID as its own normal form, a name with nothing to trim or fold, a known
//! village code, a date typed as a date, one of a code list's few spellings. For such a
//! field, [`plan`] takes the part's column as the field's output (its Arrow buffers shared,
//! nothing copied per cell) and lists the rows whose cells are not canonical as they are
//! (a damaged ID, a required field's null, an unknown code…): the *exceptional* rows. The
//! row loop (`engine::process_rows`) then makes the other fields of every row, and every
//! field of the exceptional rows exactly as it always did, so that quarantine, its
//! reasons' precedence, flags and counts stay the same; [`merge`] puts the exceptional rows'
//! values into the fast columns and leaves the quarantined rows out.
//!
//! A field stays with the row loop when the source's `check_row` touches it and other
//! fields (`Source::check_row_fields`, all fields unless the source says otherwise; a check
//! touching one field only is run once per distinct value of that field's column, see
//! [`checked_field`]), when its column's type has no column-wise reading here, or when too
//! many of its cells are not canonical for the column to pay.

use std::collections::HashSet;

use polars::prelude::*;
use polars::series::IsSorted;
use polars::series::builder::SeriesBuilder;
use polars_arrow::array::builder::ShareStrategy;
use poprecon_model::ResidentId;

use crate::engine::{
    Builder, Ctx, RowCheck, Value, clean_text, name_is_normal, parse_cell, push_value,
    village_as_written,
};
use crate::read::{Cell, ParquetTable, PartColumn};
use crate::schema::{FieldKind, FieldSpec};

/// A field whose cells are not canonical in more than one row in this many is made by the
/// row loop: each exceptional row is made whole, so many of them would cost more than the
/// column saves.
const EXCEPTION_SHARE: usize = 8;

/// Most distinct spellings of a coded (or otherwise looked-up) column canonicalised once
/// each; a column with more is made by the row loop.
const DISTINCT_LIMIT: usize = 1024;

/// The fields of one Parquet part that are canonicalised as columns.
pub(crate) struct FastPart {
    /// Per field, its output columns (one; two for resident IDs and date-times) over every
    /// row of the part, canonical wherever the row is not exceptional; `None` for a field the
    /// row loop makes.
    pub(crate) fields: Vec<Option<Vec<Series>>>,
    /// The record key over every row, where the key field's column is taken as it is.
    pub(crate) key: Option<Series>,
    /// Rows the row loop makes whole (every field): a fast field's cell is not canonical
    /// as it is there.
    pub(crate) exceptional: Vec<bool>,
    /// The source's check touches one field only, made here with it: the row loop runs the
    /// check on exceptional rows only.
    pub(crate) check_done: bool,
    /// The fields the row loop makes in every row, in field order.
    pub(crate) row_fields: Vec<usize>,
    /// The columns the row loop fetches (and tests for undecodable text) outside exceptional
    /// rows: all but those only fast fields read (and not the record key, unless
    /// [`Self::key`] is taken from the column), whose cells were tested column by column.
    pub(crate) row_columns: Vec<usize>,
}

impl FastPart {
    /// How many fields are canonicalised as columns.
    pub(crate) fn fields_fast(&self) -> usize {
        self.fields.iter().filter(|f| f.is_some()).count()
    }
}

/// Whether Parquet parts are canonicalised column-wise. Tests turn it off on their thread
/// to compare with the row loop alone; it is always on otherwise.
pub(crate) fn enabled() -> bool {
    #[cfg(test)]
    {
        ROW_LOOP_ONLY.with(|off| !off.get())
    }
    #[cfg(not(test))]
    {
        true
    }
}

#[cfg(test)]
thread_local! {
    static ROW_LOOP_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with the column-wise path off on this thread (the thread that calls `ingest`).
#[cfg(test)]
pub(crate) fn with_row_loop_only<T>(f: impl FnOnce() -> T) -> T {
    ROW_LOOP_ONLY.with(|off| off.set(true));
    let out = f();
    ROW_LOOP_ONLY.with(|off| off.set(false));
    out
}

/// Which fields of `part` are canonicalised as columns, or `None` when none is (the row
/// loop then makes the part as it always did).
pub(crate) fn plan(ctx: &Ctx<'_>, part: &ParquetTable) -> Option<FastPart> {
    let source = ctx.cfg.source;
    let fields = source.fields();
    // Without a declaration, the check may read any field: nothing is fast.
    let touched = source.check_row_fields()?;
    let height = part.height();
    if height == 0 {
        return None;
    }
    let mut columns: Vec<Option<Vec<Series>>> = vec![None; fields.len()];
    let mut exceptional = vec![false; height];
    // A check that touches one field only is a function of that field's value: it is run
    // once per distinct value of the column, after the field's own canonicalisation.
    let checked_alone = match touched {
        [one] => fields.iter().position(|f| f.name == *one),
        _ => None,
    };
    let mut check_done = false;
    for (i, f) in fields.iter().enumerate() {
        let fast = if checked_alone == Some(i) {
            checked_field(ctx, i, f, part)
        } else if touched.contains(&f.name) {
            None
        } else {
            fast_field(ctx, i, f, part)
        };
        let Some(fast) = fast else {
            continue;
        };
        for r in fast.exceptions {
            exceptional[r] = true;
        }
        columns[i] = Some(fast.columns);
        check_done |= checked_alone == Some(i);
    }
    if columns.iter().all(Option::is_none) {
        return None;
    }
    let key_field = fields.iter().position(|f| f.name == source.key_field());
    // The record key is the key column's text, trimmed: a fast key field's text column
    // holds exactly that outside exceptional rows (unless the check made the field).
    let key = key_field
        .filter(|&k| {
            columns[k].is_some()
                && checked_alone != Some(k)
                && matches!(
                    fields[k].kind,
                    FieldKind::Text | FieldKind::Name | FieldKind::Village | FieldKind::ResidentId
                )
        })
        .and_then(|k| match part.column(ctx.mapping[k]?) {
            PartColumn::Text(ca) => Some(ca.clone().into_series()),
            _ => None,
        });
    let mut fast_columns = vec![false; part.width()];
    for (i, column) in ctx.mapping.iter().enumerate() {
        if let Some(c) = *column
            && columns[i].is_some()
        {
            fast_columns[c] = true;
        }
    }
    for (i, column) in ctx.mapping.iter().enumerate() {
        if let Some(c) = *column
            && columns[i].is_none()
        {
            fast_columns[c] = false;
        }
    }
    if let Some(c) = ctx.key_column
        && key.is_none()
    {
        fast_columns[c] = false;
    }
    Some(FastPart {
        row_fields: (0..fields.len())
            .filter(|&i| columns[i].is_none())
            .collect(),
        row_columns: (0..part.width()).filter(|&c| !fast_columns[c]).collect(),
        fields: columns,
        key,
        exceptional,
        check_done,
    })
}

/// The column of the one field the source's check touches, made per distinct cell as the
/// row loop would make it and then check it (`parse_cell`, then `Source::check_row` on a
/// row where every other field is null, which it does not read): a cell whose row would be
/// flagged or quarantined, or hold undecodable text, makes its row exceptional.
fn checked_field(ctx: &Ctx<'_>, i: usize, f: &FieldSpec, part: &ParquetTable) -> Option<FastField> {
    let height = part.height();
    let source = ctx.cfg.source;
    let fields = source.fields();
    let code = ctx.codes[i].as_ref();
    let make = |cell: Cell<'_>| -> Option<Value> {
        if matches!(cell, Cell::Text(text) if text.contains('\u{FFFD}')) {
            return None;
        }
        let (value, invalid) = parse_cell(f, cell, ctx.cfg.known_villages, code);
        if invalid.is_some() || (f.required && value == Value::Null) {
            return None;
        }
        let mut values = vec![Value::Null; fields.len()];
        values[i] = value;
        let mut flags = Vec::new();
        source.check_row(&mut RowCheck::for_columns(
            fields,
            &mut values,
            &mut flags,
            source.check_row_fields(),
        ));
        flags
            .is_empty()
            .then(|| std::mem::replace(&mut values[i], Value::Null))
    };
    let mut builders = ctx.layout.field_builders(i, height);
    let mut exceptions = Vec::new();
    let mut push = |r: usize, value: Option<Value>| match value {
        Some(value) => {
            push_value(&mut builders.iter_mut(), f.kind, value);
            true
        }
        None => {
            builders.iter_mut().for_each(Builder::push_null);
            exceptions.push(r);
            exceptions.len() * EXCEPTION_SHARE <= height
        }
    };
    match ctx.mapping[i].map(|c| part.column(c)) {
        // No column: the check sees the field null in every row.
        None => {
            let value = make(Cell::Empty);
            for r in 0..height {
                if !push(r, value.clone()) {
                    return None;
                }
            }
        }
        Some(PartColumn::Text(ca)) => {
            let mut seen: PlHashMap<Option<&str>, Option<Value>> = PlHashMap::new();
            for (r, cell) in ca.iter().enumerate() {
                // As the reader gives it to the row loop: an empty text is an empty cell.
                let cell = cell.filter(|text| !text.is_empty());
                let value = match seen.get(&cell) {
                    Some(value) => value.clone(),
                    None if seen.len() == DISTINCT_LIMIT => return None,
                    None => {
                        let value = make(cell.map_or(Cell::Empty, Cell::Text));
                        seen.insert(cell, value.clone());
                        value
                    }
                };
                if !push(r, value) {
                    return None;
                }
            }
        }
        Some(_) => return None,
    }
    Some(FastField {
        columns: builders.into_iter().map(Builder::finish_series).collect(),
        exceptions,
    })
}

/// One field's columns over a whole part, and the rows where they are not canonical.
struct FastField {
    columns: Vec<Series>,
    exceptions: Vec<usize>,
}

/// The field's columns, if its column can be read as a whole.
fn fast_field(ctx: &Ctx<'_>, i: usize, f: &FieldSpec, part: &ParquetTable) -> Option<FastField> {
    let height = part.height();
    let names = &ctx.layout.columns[ctx.layout.field_cols[i].clone()];
    let Some(c) = ctx.mapping[i] else {
        // No column in the file: the field is null in every row, as an empty cell is.
        return Some(FastField {
            columns: names
                .iter()
                .map(|(name, kind)| Series::full_null(name.into(), height, &kind.dtype()))
                .collect(),
            exceptions: Vec::new(),
        });
    };
    let mut exceptions = Vec::new();
    // Records an exceptional row; gives up on the field when there are too many.
    let mut except = |r: usize| {
        exceptions.push(r);
        exceptions.len() * EXCEPTION_SHARE <= height
    };
    let columns = match (f.kind, part.column(c)) {
        (
            FieldKind::Text | FieldKind::Name | FieldKind::Village | FieldKind::ResidentId,
            PartColumn::Text(ca),
        ) => {
            for (r, cell) in ca.iter().enumerate() {
                let canonical = match cell {
                    None => !f.required,
                    Some(text) => canonical_text(f.kind, text, ctx.cfg.known_villages),
                };
                if !canonical && !except(r) {
                    return None;
                }
            }
            let column = unsorted(ca.clone().into_series());
            match f.kind {
                FieldKind::ResidentId => vec![column.clone(), column],
                _ => vec![column],
            }
        }
        (
            FieldKind::Sex
            | FieldKind::Code(_)
            | FieldKind::Bool
            | FieldKind::AreaCode
            | FieldKind::Certificate
            | FieldKind::Int { .. }
            | FieldKind::Float { .. },
            PartColumn::Text(ca),
        ) => {
            // Each distinct spelling is canonicalised once, as the row loop would.
            let code = ctx.codes[i].as_ref();
            let mut seen: PlHashMap<&str, Option<Value>> = PlHashMap::new();
            let mut builders = ctx.layout.field_builders(i, height);
            for (r, cell) in ca.iter().enumerate() {
                let value = match cell {
                    None if f.required => None,
                    None => Some(Value::Null),
                    Some(text) => match seen.get(text) {
                        Some(value) => value.clone(),
                        None if seen.len() == DISTINCT_LIMIT => return None,
                        None => {
                            let value = canonical_value(f, text, ctx, code);
                            seen.insert(text, value.clone());
                            value
                        }
                    },
                };
                match value {
                    Some(value) => push_value(&mut builders.iter_mut(), f.kind, value),
                    None if except(r) => builders.iter_mut().for_each(Builder::push_null),
                    None => return None,
                }
            }
            builders.into_iter().map(Builder::finish_series).collect()
        }
        (FieldKind::Date | FieldKind::Month | FieldKind::DateTime, PartColumn::Date(ca)) => {
            for (r, cell) in ca.iter().enumerate() {
                let canonical = match cell {
                    None => !f.required,
                    // A day the reader cannot turn into a date is an empty cell to it.
                    Some(days) => chrono::NaiveDate::from_epoch_days(days).is_some(),
                };
                if !canonical && !except(r) {
                    return None;
                }
            }
            let date = unsorted(ca.clone().into_date().into_series());
            match f.kind {
                // A date without a time: the time column is null.
                FieldKind::DateTime => {
                    let (name, kind) = &names[1];
                    vec![date, Series::full_null(name.into(), height, &kind.dtype())]
                }
                _ => vec![date],
            }
        }
        (FieldKind::Int { min, max }, PartColumn::Int(ca)) => {
            for (r, cell) in ca.iter().enumerate() {
                let canonical = match cell {
                    None => !f.required,
                    Some(x) => (i64::from(min)..=i64::from(max)).contains(&x),
                };
                if !canonical && !except(r) {
                    return None;
                }
            }
            vec![unsorted(ca.cast(&DataType::Int32).ok()?)]
        }
        _ => return None,
    };
    Some(FastField {
        columns,
        exceptions,
    })
}

/// Whether the row loop would keep `text` as it is for a field of `kind`, flagging nothing
/// (`parse_cell` with `cell_text`): nothing to trim, not empty, no undecodable character,
/// and for a name nothing to fold, for a resident ID a valid one in normal form, for a
/// village twelve digits the division table knows.
fn canonical_text(kind: FieldKind, text: &str, known_villages: Option<&HashSet<String>>) -> bool {
    match kind {
        // Eighteen ASCII characters: nothing to trim, fold or decode.
        FieldKind::ResidentId => ResidentId::is_valid_normal(text),
        FieldKind::Village => {
            village_as_written(text) && known_villages.is_none_or(|k| k.contains(text))
        }
        FieldKind::Text | FieldKind::Name => {
            !text.is_empty()
                && clean_text(text).len() == text.len()
                && !text.contains('\u{FFFD}')
                && (kind == FieldKind::Text || name_is_normal(text))
        }
        _ => false,
    }
}

/// The value the row loop makes of `text` for field `f`, if it flags nothing and is not
/// null; `None` otherwise (the row is then made by the row loop).
fn canonical_value(
    f: &FieldSpec,
    text: &str,
    ctx: &Ctx<'_>,
    code: Option<&crate::schema::CodeTable>,
) -> Option<Value> {
    if text.is_empty() || text.contains('\u{FFFD}') {
        return None;
    }
    match parse_cell(f, Cell::Text(text), ctx.cfg.known_villages, code) {
        (Value::Null, _) | (_, Some(_)) => None,
        (value, None) => Some(value),
    }
}

/// A column taken from the file carries no sortedness the output could rely on.
fn unsorted(mut s: Series) -> Series {
    s.set_sorted_flag(IsSorted::Not);
    s
}

/// Where the rows kept from a part come from, in order: runs of rows taken from the fast
/// columns (rows not exceptional), runs of the exceptional rows' values, made by the row
/// loop; quarantined rows are in neither.
#[derive(Debug, Default)]
pub(crate) struct Segments {
    segments: Vec<Segment>,
    /// The next row of the part.
    row: usize,
    /// The next exceptional row's value.
    patch: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Segment {
    /// `len` rows of the fast column from row `start`.
    Column { start: usize, len: usize },
    /// `len` values of the exceptional rows from the `start`th.
    Patch { start: usize, len: usize },
}

impl Segments {
    /// The next row is kept, taken from the fast columns.
    pub(crate) fn keep(&mut self) {
        match self.segments.last_mut() {
            Some(Segment::Column { start, len }) if *start + *len == self.row => *len += 1,
            _ => self.segments.push(Segment::Column {
                start: self.row,
                len: 1,
            }),
        }
        self.row += 1;
    }

    /// The next row is kept, with the row loop's values.
    pub(crate) fn patch(&mut self) {
        match self.segments.last_mut() {
            Some(Segment::Patch { len, .. }) => *len += 1,
            _ => self.segments.push(Segment::Patch {
                start: self.patch,
                len: 1,
            }),
        }
        self.patch += 1;
        self.row += 1;
    }

    /// The next row is quarantined.
    pub(crate) fn skip(&mut self) {
        self.row += 1;
    }

    pub(crate) fn finish(self) -> Vec<Segment> {
        self.segments
    }
}

/// A fast column with the exceptional rows' values put in and the quarantined rows left
/// out, named `name`. A column whose every row is kept as it is comes back as it is; the
/// others share the column's buffers (their views are copied, not their text).
pub(crate) fn merge(name: &str, column: &Series, patch: &Series, segments: &[Segment]) -> Series {
    if let [Segment::Column { start: 0, len }] = segments
        && *len == column.len()
    {
        let mut out = column.clone();
        out.rename(name.into());
        return out;
    }
    let mut out = SeriesBuilder::new(column.dtype().clone());
    out.reserve(segments.iter().map(Segment::len).sum());
    for segment in segments {
        match *segment {
            Segment::Column { start, len } => {
                out.subslice_extend(column, start, len, ShareStrategy::Always)
            }
            Segment::Patch { start, len } => {
                out.subslice_extend(patch, start, len, ShareStrategy::Always)
            }
        }
    }
    out.freeze(name.into())
}

impl Segment {
    fn len(&self) -> usize {
        match *self {
            Segment::Column { len, .. } | Segment::Patch { len, .. } => len,
        }
    }
}
