//! Reference samples brought from elsewhere: `.npy` (columns in the run's parameter order),
//! `.csv` or Parquet (columns found by parameter name, e.g. a bilby posterior exported with
//! `result.posterior.to_csv`).

use crate::store::StoreError;
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
    let df = crate::store::parquet::read_frame(file).map_err(|e| fail(path, e))?;
    let header: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
    let cols = columns(path, &header, parameters)?;
    let series = cols.iter().map(|&c| crate::store::parquet::column_f64(&df, c).map_err(|e| fail(path, e))).collect::<Result<Vec<_>, _>>()?;
    let rows = df.height();
    Ok((0..rows).flat_map(|r| series.iter().map(move |s| s[r])).collect())
}

fn columns(path: &Path, header: &[String], parameters: &[String]) -> Result<Vec<usize>, SamplesFileError> {
    parameters
        .iter()
        .map(|p| header.iter().position(|h| h == p).ok_or_else(|| fail(path, format!("no column `{p}` (columns: {})", header.join(", ")))))
        .collect()
}

/// Observations y (`data_dim` values each) from `path`: `.npy` (one row of `data_dim` values,
/// 1-D or 2-D, or several rows), `.csv` (one observation per line, an optional header line) or
/// Parquet (one observation per row, every column a number). Refuses NaN and infinities: a
/// network fed them returns a confident-looking posterior of nothing.
pub fn read_observations(path: &Path, data_dim: usize) -> Result<Vec<Vec<f32>>, SamplesFileError> {
    let rows: Vec<Vec<f64>> = match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "npy" => {
            let m = crate::store::npy::read(path).map_err(|e| fail(path, e))?;
            // A 1-D file of data_dim values is one observation.
            let cols = if m.cols == 1 && m.rows == data_dim { data_dim } else { m.cols };
            m.values().chunks(cols.max(1)).map(|r| r.iter().map(|&v| v as f64).collect()).collect()
        }
        "csv" => {
            let text = std::fs::read_to_string(path).map_err(|e| fail(path, e))?;
            let mut rows = Vec::new();
            for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let cells: Result<Vec<f64>, _> = line.split(',').map(|c| c.trim().parse::<f64>()).collect();
                match cells {
                    Ok(r) => rows.push(r),
                    Err(_) if n == 0 => {} // a header
                    Err(_) => return Err(fail(path, format!("line {}: not a row of numbers", n + 1))),
                }
            }
            rows
        }
        "parquet" => {
            let file = std::fs::File::open(path).map_err(|e| fail(path, e))?;
            let df = crate::store::parquet::read_frame(file).map_err(|e| fail(path, e))?;
            let cols =
                (0..df.width()).map(|c| crate::store::parquet::column_f64(&df, c).map_err(|e| fail(path, e))).collect::<Result<Vec<_>, _>>()?;
            (0..df.height()).map(|r| cols.iter().map(|c| c[r]).collect()).collect()
        }
        _ => return Err(fail(path, "observations must be .npy, .csv or .parquet")),
    };
    if rows.is_empty() {
        return Err(fail(path, "holds no observation"));
    }
    for (r, row) in rows.iter().enumerate() {
        if row.len() != data_dim {
            return Err(fail(path, format!("observation {r} has {} values, the model expects {data_dim} (data_dim)", row.len())));
        }
        if let Some(c) = row.iter().position(|v| !v.is_finite()) {
            return Err(fail(path, format!("observation {r} holds {} at position {c}; observations must be finite", row[c])));
        }
    }
    Ok(rows.into_iter().map(|r| r.into_iter().map(|v| v as f32).collect()).collect())
}

/// Writes samples (rows × `cols`) as .npy, for reuse with `--reference`.
pub fn write_samples_npy(path: &Path, samples: &[f64], cols: usize) -> Result<(), StoreError> {
    let v: Vec<f32> = samples.iter().map(|&x| x as f32).collect();
    crate::store::npy::write(path, samples.len() / cols.max(1), cols, &v)
        .map_err(|e| StoreError::Io { path: path.to_path_buf(), source: e })
}
