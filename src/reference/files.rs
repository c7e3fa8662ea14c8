//! Reference samples brought from elsewhere: `.npy` (columns in the run's parameter order),
//! `.csv` or Parquet (columns found by parameter name, e.g. a bilby posterior exported with
//! `result.posterior.to_csv`).

use crate::store::StoreError;
use polars::prelude::{DataType, ParquetReader, SerReader};
use std::path::{Path, PathBuf};

/// A samples file that cannot be read as asked.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct SamplesFileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub message: String,
}

/// Reads posterior samples of `parameters` from `path`, row-major in that column order.
pub fn read_samples(path: &Path, parameters: &[String]) -> Result<Vec<f64>, SamplesFileError> {
    let bad = |message: String| SamplesFileError { path: path.to_path_buf(), message };
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "npy" => {
            let m = crate::store::npy::read(path).map_err(|e| bad(e.to_string()))?;
            if m.cols != parameters.len() {
                return Err(bad(format!("{} columns, the run infers {} ({})", m.cols, parameters.len(), parameters.join(", "))));
            }
            Ok(m.values().iter().map(|&v| v as f64).collect())
        }
        "csv" => read_csv(path, parameters),
        "parquet" => read_parquet(path, parameters),
        _ => Err(bad("reference samples must be .npy, .csv or .parquet".into())),
    }
}

fn fail(path: &Path, message: impl ToString) -> SamplesFileError {
    SamplesFileError { path: path.to_path_buf(), message: message.to_string() }
}

fn read_csv(path: &Path, parameters: &[String]) -> Result<Vec<f64>, SamplesFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| fail(path, e))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> =
        lines.next().ok_or_else(|| fail(path, "empty file"))?.split(',').map(|h| h.trim().trim_matches('"').to_string()).collect();
    let cols = columns(path, &header, parameters)?;
    let mut out = Vec::new();
    for (n, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        for &c in &cols {
            let cell = cells.get(c).ok_or_else(|| fail(path, format!("line {} has {} cells", n + 2, cells.len())))?;
            out.push(cell.trim().parse::<f64>().map_err(|_| fail(path, format!("line {}: `{}` is not a number", n + 2, cell.trim())))?);
        }
    }
    Ok(out)
}

fn read_parquet(path: &Path, parameters: &[String]) -> Result<Vec<f64>, SamplesFileError> {
    let file = std::fs::File::open(path).map_err(|e| fail(path, e))?;
    let df = ParquetReader::new(file).finish().map_err(|e| fail(path, e))?;
    let header: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
    let cols = columns(path, &header, parameters)?;
    let mut series = Vec::new();
    for &c in &cols {
        let s = df.columns()[c].as_materialized_series().cast(&DataType::Float64).map_err(|e| fail(path, e))?;
        let ca = s.f64().map_err(|e| fail(path, e))?;
        let v: Vec<f64> = (0..ca.len()).map(|i| ca.get(i).unwrap_or(f64::NAN)).collect();
        series.push(v);
    }
    let rows = df.height();
    Ok((0..rows).flat_map(|r| series.iter().map(move |s| s[r])).collect())
}

fn columns(path: &Path, header: &[String], parameters: &[String]) -> Result<Vec<usize>, SamplesFileError> {
    parameters
        .iter()
        .map(|p| header.iter().position(|h| h == p).ok_or_else(|| fail(path, format!("no column `{p}` (columns: {})", header.join(", ")))))
        .collect()
}

/// Writes samples (rows × `cols`) as .npy, for reuse with `--reference`.
pub fn write_samples_npy(path: &Path, samples: &[f64], cols: usize) -> Result<(), StoreError> {
    let v: Vec<f32> = samples.iter().map(|&x| x as f32).collect();
    crate::store::npy::write(path, samples.len() / cols.max(1), cols, &v)
        .map_err(|e| StoreError::Io { path: path.to_path_buf(), source: e })
}
