//! Reading columns of run tables and building small output tables column by column.

use polars::prelude::*;

use crate::VerifyError;

/// A column of `df` as text (cast), or an error naming it.
pub(crate) fn texts(df: &DataFrame, column: &str) -> Result<Vec<Option<String>>, VerifyError> {
    let s = df
        .column(column)
        .and_then(|c| c.as_materialized_series().cast(&DataType::String))
        .map_err(|e| VerifyError::column(column, e))?;
    let ca = s.str().map_err(|e| VerifyError::column(column, e))?;
    Ok(ca.iter().map(|v| v.map(str::to_owned)).collect())
}

/// A column of `df` as numbers (cast), or an error naming it.
pub(crate) fn floats(df: &DataFrame, column: &str) -> Result<Vec<Option<f64>>, VerifyError> {
    let s = df
        .column(column)
        .and_then(|c| c.as_materialized_series().cast(&DataType::Float64))
        .map_err(|e| VerifyError::column(column, e))?;
    let ca = s.f64().map_err(|e| VerifyError::column(column, e))?;
    Ok(ca.iter().collect())
}

/// A column of `df` as booleans (cast), or an error naming it.
pub(crate) fn bools(df: &DataFrame, column: &str) -> Result<Vec<Option<bool>>, VerifyError> {
    let s = df
        .column(column)
        .and_then(|c| c.as_materialized_series().cast(&DataType::Boolean))
        .map_err(|e| VerifyError::column(column, e))?;
    let ca = s.bool().map_err(|e| VerifyError::column(column, e))?;
    Ok(ca.iter().collect())
}

/// [`texts`], all null when the table has no such column.
pub(crate) fn opt_texts(df: &DataFrame, column: &str) -> Result<Vec<Option<String>>, VerifyError> {
    if df.column(column).is_err() {
        return Ok(vec![None; df.height()]);
    }
    texts(df, column)
}

/// [`floats`], all null when the table has no such column.
pub(crate) fn opt_floats(df: &DataFrame, column: &str) -> Result<Vec<Option<f64>>, VerifyError> {
    if df.column(column).is_err() {
        return Ok(vec![None; df.height()]);
    }
    floats(df, column)
}

/// A table built row by row: each call appends one value to its column.
#[derive(Debug, Default)]
pub(crate) struct Frame {
    columns: Vec<(String, Values)>,
}

#[derive(Debug)]
enum Values {
    Text(Vec<Option<String>>),
    Float(Vec<Option<f64>>),
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::Text(v) => v.len(),
            Values::Float(v) => v.len(),
            Values::Int(v) => v.len(),
            Values::Bool(v) => v.len(),
        }
    }
}

impl Frame {
    fn slot(&mut self, name: &str, empty: fn() -> Values) -> &mut Values {
        let i = match self.columns.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                self.columns.push((name.to_owned(), empty()));
                self.columns.len() - 1
            }
        };
        &mut self.columns[i].1
    }

    pub(crate) fn text(&mut self, name: &str, v: Option<String>) {
        if let Values::Text(c) = self.slot(name, || Values::Text(Vec::new())) {
            c.push(v);
        }
    }

    pub(crate) fn float(&mut self, name: &str, v: Option<f64>) {
        if let Values::Float(c) = self.slot(name, || Values::Float(Vec::new())) {
            c.push(v);
        }
    }

    pub(crate) fn int(&mut self, name: &str, v: Option<i64>) {
        if let Values::Int(c) = self.slot(name, || Values::Int(Vec::new())) {
            c.push(v);
        }
    }

    pub(crate) fn boolean(&mut self, name: &str, v: Option<bool>) {
        if let Values::Bool(c) = self.slot(name, || Values::Bool(Vec::new())) {
            c.push(v);
        }
    }

    /// The table, its columns in the order and of the kinds `schema` gives (a table with
    /// no row keeps its columns and types).
    pub(crate) fn finish(self, schema: &[(&str, Kind)]) -> Result<DataFrame, VerifyError> {
        let height = self.columns.first().map_or(0, |(_, v)| v.len());
        let mut cols = Vec::with_capacity(schema.len());
        for (name, kind) in schema {
            let col = match self.columns.iter().find(|(n, _)| n == name) {
                Some((_, Values::Text(v))) => Column::new((*name).into(), v),
                Some((_, Values::Float(v))) => Column::new((*name).into(), v),
                Some((_, Values::Int(v))) => Column::new((*name).into(), v),
                Some((_, Values::Bool(v))) => Column::new((*name).into(), v),
                None if height == 0 => Column::new_empty((*name).into(), &kind.dtype()),
                None => {
                    return Err(VerifyError::Invariant(format!(
                        "output column `{name}` was never written"
                    )));
                }
            };
            cols.push(col);
        }
        DataFrame::new(height, cols).map_err(|e| VerifyError::column("output", e))
    }
}

/// The type of an output column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Float,
    Int,
    Bool,
}

impl Kind {
    fn dtype(self) -> DataType {
        match self {
            Kind::Text => DataType::String,
            Kind::Float => DataType::Float64,
            Kind::Int => DataType::Int64,
            Kind::Bool => DataType::Boolean,
        }
    }
}
