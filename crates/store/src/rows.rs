//! Small readers that turn `Any` rows into typed values.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Error, Result};

/// A query on the `Any` driver with its arguments bound.
pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

pub(crate) fn text(row: &AnyRow, col: &str) -> Result<String> {
    Ok(row.try_get::<String, _>(col)?)
}

pub(crate) fn opt_text(row: &AnyRow, col: &str) -> Result<Option<String>> {
    Ok(row.try_get::<Option<String>, _>(col)?)
}

pub(crate) fn int(row: &AnyRow, col: &str) -> Result<i64> {
    Ok(row.try_get::<i64, _>(col)?)
}

pub(crate) fn opt_int(row: &AnyRow, col: &str) -> Result<Option<i64>> {
    Ok(row.try_get::<Option<i64>, _>(col)?)
}

/// Flags are stored as BIGINT 0/1 so both backends read them the same way.
pub(crate) fn flag(row: &AnyRow, col: &str) -> Result<bool> {
    Ok(int(row, col)? != 0)
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> Result<T> {
    let raw = text(row, col)?;
    serde_json::from_str(&raw).map_err(|e| Error::Corrupt(format!("{col}: {e}")))
}

pub(crate) fn opt_json<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> Result<Option<T>> {
    opt_text(row, col)?
        .map(|raw| serde_json::from_str(&raw).map_err(|e| Error::Corrupt(format!("{col}: {e}"))))
        .transpose()
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// Rows per multi-row statement.
pub(crate) const ROWS_PER_INSERT: usize = 64;

/// `($1, …, $width), ($width+1, …)`: `rows` rows of placeholders.
pub(crate) fn placeholder_rows(rows: usize, width: usize) -> String {
    let row = |r: usize| {
        let columns: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
        format!("({})", columns.join(", "))
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}
