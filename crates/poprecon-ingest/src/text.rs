//! Canonical tables held with each long text stored once per column.
//!
//! A text cell is a 16-byte view; a value longer than 12 bytes also has its bytes in one of
//! the column's buffers, once per cell as the rows are built. Extracts repeat their long
//! values: a child's code, ID and mother's ID on each of its doses, an institution's name and
//! the file's path on each row. [`shared_text`] rebuilds each text column as one chunk whose
//! views point to one copy of each long value, so that a province's vaccination records
//! (7.9 M rows) hold their IDs once per child, not once per dose. The values are unchanged.
//!
//! It is also how rows kept from a filter are made a table of their own: polars' filter
//! copies the views, not the bytes, so the rows of the registry held would otherwise keep
//! every long text of the whole registry (IDs, household numbers, file paths) resident.

use polars::prelude::*;
use polars_arrow::array::{Array, MutableBinaryViewArray, Utf8ViewArray, View};
use polars_arrow::bitmap::MutableBitmap;
use polars_arrow::datatypes::ArrowDataType;
use rayon::prelude::*;

/// Long cells looked at before a column's values are judged too distinct to share: past
/// this many, a column where fewer than one long cell in [`RARE`] repeats an earlier value
/// (a registry's person IDs) is copied as it is, without a lookup per cell.
const PROBE: usize = 1 << 16;
const RARE: usize = 8;

/// `df` with every text column in one chunk and each of its long values stored once; other
/// columns are rechunked. Columns are rebuilt in parallel, each dropped once rebuilt.
pub fn shared_text(df: DataFrame) -> PolarsResult<DataFrame> {
    let height = df.height();
    let columns: Vec<Column> = df
        .into_columns()
        .into_par_iter()
        .map(|c| -> PolarsResult<Column> {
            if c.dtype() != &DataType::String {
                return Ok(c.rechunk());
            }
            let ca = c.str()?;
            let one = StringChunked::with_chunk(ca.name().clone(), shared_chunk(ca)?);
            Ok(one.into_column())
        })
        .collect::<PolarsResult<_>>()?;
    DataFrame::new(height, columns)
}

/// The values of every chunk of `ca`, in order, as one array storing each long value once
/// (or every value as it comes, once the values prove distinct).
fn shared_chunk(ca: &StringChunked) -> PolarsResult<Utf8ViewArray> {
    let len = ca.len();
    let mut store = MutableBinaryViewArray::<str>::with_capacity(0);
    let mut views: Vec<View> = Vec::with_capacity(len);
    let mut validity: Option<MutableBitmap> = None;
    let mut seen: PlHashMap<&[u8], View> = PlHashMap::default();
    let (mut long, mut repeats, mut sharing) = (0usize, 0usize, true);
    let mut previous: Option<(&[u8], View)> = None;
    for arr in ca.downcast_iter() {
        for (i, view) in arr.views().iter().enumerate() {
            if !arr.is_valid(i) {
                let bits = validity.get_or_insert_with(|| {
                    let mut b = MutableBitmap::with_capacity(len);
                    b.extend_constant(views.len(), true);
                    b
                });
                bits.push(false);
                views.push(View::default());
                continue;
            }
            if let Some(bits) = validity.as_mut() {
                bits.push(true);
            }
            if view.length <= View::MAX_INLINE_SIZE {
                views.push(*view);
                continue;
            }
            let bytes = arr.value(i).as_bytes();
            if !sharing {
                views.push(store.push_value_into_buffer(bytes));
                continue;
            }
            long += 1;
            // A row repeating the long value of the row before (a child's doses, a file's
            // path) needs no lookup.
            if let Some((last, v)) = previous
                && last == bytes
            {
                repeats += 1;
                views.push(v);
                continue;
            }
            let shared = match seen.get(bytes) {
                Some(v) => {
                    repeats += 1;
                    *v
                }
                None => {
                    let v = store.push_value_into_buffer(bytes);
                    seen.insert(bytes, v);
                    v
                }
            };
            views.push(shared);
            previous = Some((bytes, shared));
            if long == PROBE && repeats * RARE < long {
                sharing = false;
                seen = PlHashMap::default();
            }
        }
    }
    store.finish_in_progress();
    let (_, buffers) = store.take();
    // Checked as it is made: every view inline or within the store's buffers, UTF-8.
    Utf8ViewArray::try_new(
        ArrowDataType::Utf8View,
        views.into(),
        buffers.into(),
        validity.map(Into::into),
    )
}

/// Bytes a text column's chunks hold: one view per cell and their buffers (polars'
/// `estimated_size` counts each value's length instead).
pub fn text_bytes(df: &DataFrame) -> usize {
    df.columns()
        .iter()
        .filter_map(|c| c.str().ok())
        .flat_map(|ca| ca.downcast_iter())
        .map(|a| a.len() * std::mem::size_of::<View>() + a.total_buffer_len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long(i: usize) -> String {
        format!("安徽省蚌埠市第{i}人民医院")
    }

    #[test]
    fn repeated_long_values_are_stored_once_and_read_back_unchanged() {
        // Two chunks, nulls in the second, short and long values, repeats across chunks,
        // in runs (the row before's value) and not.
        let a: Vec<Option<String>> = (0..300)
            .map(|i| {
                Some(if i % 9 == 0 {
                    "短".to_owned()
                } else {
                    long(i / 4 % 7)
                })
            })
            .collect();
        let b: Vec<Option<String>> = (0..200)
            .map(|i| (i % 5 != 0).then(|| long(i % 11)))
            .collect();
        let mut ca = StringChunked::new("t".into(), &a);
        ca.append(&StringChunked::new("t".into(), &b)).unwrap();
        assert_eq!(ca.chunks().len(), 2);
        let df = DataFrame::new(
            500,
            vec![
                ca.clone().into_column(),
                Column::new("n".into(), (0..500i64).collect::<Vec<_>>()),
            ],
        )
        .unwrap();
        let before = text_bytes(&df);
        let shared = shared_text(df.clone()).unwrap();
        assert!(shared.equals_missing(&df));
        let out = shared.column("t").unwrap().str().unwrap();
        assert_eq!(out.chunks().len(), 1);
        assert_eq!(out.null_count(), 40);
        // Eleven distinct long values, each stored once.
        let stored: usize = (0..11).map(|i| long(i).len()).sum();
        assert_eq!(
            out.downcast_iter().next().unwrap().total_buffer_len(),
            stored
        );
        assert!(text_bytes(&shared) < before);
    }

    #[test]
    fn distinct_values_are_copied_as_they_come() {
        let n = PROBE + 1000;
        let values: Vec<String> = (0..n).map(|i| format!("340302199001{i:06}")).collect();
        let df = DataFrame::new(n, vec![Column::new("id".into(), &values)]).unwrap();
        let shared = shared_text(df.clone()).unwrap();
        assert!(shared.equals(&df));
        let arr = shared.column("id").unwrap().str().unwrap();
        let total: usize = values.iter().map(|v| v.len()).sum();
        assert_eq!(
            arr.downcast_iter().next().unwrap().total_buffer_len(),
            total
        );
    }
}
