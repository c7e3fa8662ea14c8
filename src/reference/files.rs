//! Reference samples brought from elsewhere: `.npy` (columns in the run's parameter order),
//! `.csv` or Parquet (columns found by parameter name, e.g. a bilby posterior exported with
//! `result.posterior.to_csv`).

use polars::prelude::{DataType, ParquetReader, SerReader};
use std::path::Path;

/// Reads posterior samples of `parameters` from `path`, row-major in that column order.
pub fn read_samples(path: &Path, parameters: &[String]) -> Result<Vec<f64>, String> {
    let shown = path.display();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "npy" => {
            let m = crate::store::npy::read(path).map_err(|e| format!("{shown}: {e}"))?;
            if m.cols != parameters.len() {
                return Err(format!("{shown}: {} columns, the run infers {} ({})", m.cols, parameters.len(), parameters.join(", ")));
            }
            Ok(m.values().iter().map(|&v| v as f64).collect())
        }
        "csv" => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
            let mut lines = text.lines().filter(|l| !l.trim().is_empty());
            let header: Vec<String> = lines.next().ok_or(format!("{shown}: empty file"))?.split(',').map(|h| h.trim().trim_matches('"').to_string()).collect();
            let cols = columns(&header, parameters, &shown.to_string())?;
            let mut out = Vec::new();
            for (n, line) in lines.enumerate() {
                let cells: Vec<&str> = line.split(',').collect();
                for &c in &cols {
                    let cell = cells.get(c).ok_or(format!("{shown}: line {} has {} cells", n + 2, cells.len()))?;
                    out.push(cell.trim().parse::<f64>().map_err(|_| format!("{shown}: line {}: `{}` is not a number", n + 2, cell.trim()))?);
                }
            }
            Ok(out)
        }
        "parquet" => {
            let file = std::fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
            let df = ParquetReader::new(file).finish().map_err(|e| format!("{shown}: {e}"))?;
            let header: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
            let cols = columns(&header, parameters, &shown.to_string())?;
            let mut series = Vec::new();
            for &c in &cols {
                let s = df.columns()[c].as_materialized_series().cast(&DataType::Float64).map_err(|e| format!("{shown}: {e}"))?;
                let ca = s.f64().map_err(|e| format!("{shown}: {e}"))?;
                let v: Vec<f64> = (0..ca.len()).map(|i| ca.get(i).unwrap_or(f64::NAN)).collect();
                series.push(v);
            }
            let rows = df.height();
            Ok((0..rows).flat_map(|r| series.iter().map(move |s| s[r])).collect())
        }
        _ => Err(format!("{shown}: reference samples must be .npy, .csv or .parquet")),
    }
}

fn columns(header: &[String], parameters: &[String], shown: &str) -> Result<Vec<usize>, String> {
    parameters
        .iter()
        .map(|p| header.iter().position(|h| h == p).ok_or(format!("{shown}: no column `{p}` (columns: {})", header.join(", "))))
        .collect()
}

/// Writes samples (rows × `cols`) as .npy, for reuse with `--reference`.
pub fn write_samples_npy(path: &Path, samples: &[f64], cols: usize) -> Result<(), String> {
    let v: Vec<f32> = samples.iter().map(|&x| x as f32).collect();
    crate::store::npy::write(path, samples.len() / cols.max(1), cols, &v).map_err(|e| format!("{}: {e}", path.display()))
}
