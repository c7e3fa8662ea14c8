//! Reading Parquet files the user names (training data, observations, reference samples) or
//! ndelab wrote, safely: the counts a file claims are checked before the reader allocates by
//! them, and a reader's panic on a corrupt file becomes an error.

use polars::prelude::*;
use std::fs::File;

/// Readers running whose panics are caught (on any thread: the reader has its own pool);
/// while there are any, the panic hook stays silent.
static QUIET: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The values of column `c` of a frame read from a file, as f64 (nulls as NaN), checked to
/// have as many rows as the frame (a corrupt file can claim otherwise).
pub fn column_f64(df: &DataFrame, c: usize) -> Result<Vec<f64>, String> {
    let col = df.columns().get(c).ok_or_else(|| format!("has no column {c}"))?;
    // Only numbers are numbers: a bool, text or nested column would be cast (true as 1, "3" as
    // 3, text as null) into values nobody meant.
    if !col.dtype().is_primitive_numeric() {
        let what = match col.dtype() {
            DataType::Boolean => "true/false values".to_string(),
            DataType::String => "text".to_string(),
            DataType::List(_) => "a list in each row".to_string(),
            other => format!("values of type {other}"),
        };
        return Err(format!("column `{}` holds {what}, not numbers; write it as a float or integer column", col.name()));
    }
    let s = col.as_materialized_series().cast(&DataType::Float64).map_err(|e| format!("column `{}`: {e}", col.name()))?;
    let ca = s.f64().map_err(|e| e.to_string())?;
    if ca.len() != df.height() {
        return Err(format!("column `{}` has {} rows, the file {}; it is corrupt", col.name(), ca.len(), df.height()));
    }
    Ok((0..ca.len()).map(|i| ca.get(i).unwrap_or(f64::NAN)).collect())
}

/// Reads an open Parquet file. The counts it claims are checked first (`parquet_check`): the
/// reader allocates by them, and a failed allocation aborts rather than unwinds. The reader can
/// also panic on a corrupt file rather than return an error; that panic is caught (silently)
/// and becomes "not a readable Parquet file".
pub fn read_frame(mut file: File) -> Result<DataFrame, String> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                previous(info)
            }
        }));
    });
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| e.to_string())?;
    QUIET.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut reader = ParquetReader::new(std::io::Cursor::new(bytes.as_slice()));
        let meta = reader.get_metadata()?.clone();
        if let Err(e) = super::parquet_check::check(&bytes, &meta) {
            return Ok(Err(e));
        }
        reader.finish().map(Ok)
    }));
    QUIET.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    match read {
        Ok(Ok(frame)) => frame,
        // The reader names types it cannot take by their internal form; say what it means.
        Ok(Err(e)) if e.to_string().contains("Field {") => Err(
            "holds a column of a type ndelab does not read (a fixed-size list or a struct); write one float column per value"
                .to_string(),
        ),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("not a readable Parquet file (corrupt or truncated)".to_string()),
    }
}

