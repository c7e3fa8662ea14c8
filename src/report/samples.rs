//! Posterior samples written for other tools: `.npy`, Parquet, or a bilby result JSON (so that
//! bilby's corner and P-P tools read them). Each is written to a synced temporary beside it
//! and renamed into place: a killed writer leaves the old file or none, never half of one.

use super::ReportError;
use crate::store::entry::replace_atomic;
use crate::store::npy;
use polars::prelude::*;
use std::path::Path;

/// Writes `samples` (rows of `names.len()` values; `per_obs` rows per observation) to `path`,
/// in the format its extension names.
pub fn write_samples(path: &Path, names: &[String], samples: &[f64], per_obs: usize) -> Result<(), ReportError> {
    let d = names.len();
    let rows = samples.len() / d.max(1);
    let err = |m: String| ReportError::Io { path: path.display().to_string(), message: m };
    match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => {
            let v: Vec<f32> = samples.iter().map(|&x| x as f32).collect();
            replace_atomic(path, |tmp| npy::write(tmp, rows, d, &v).map_err(|e| err(e.to_string())))
        }
        Some("parquet") => {
            let mut cols = vec![Column::new("observation".into(), (0..rows).map(|i| (i / per_obs.max(1)) as u32).collect::<Vec<_>>())];
            for (k, name) in names.iter().enumerate() {
                cols.push(Column::new(name.as_str().into(), (0..rows).map(|i| samples[i * d + k]).collect::<Vec<_>>()));
            }
            let mut df = DataFrame::new(rows, cols).map_err(|e| err(e.to_string()))?;
            replace_atomic(path, |tmp| {
                let file = std::fs::File::create(tmp).map_err(|e| err(e.to_string()))?;
                ParquetWriter::new(file).finish(&mut df).map(drop).map_err(|e| err(e.to_string()))
            })
        }
        Some("json") => {
            if rows != per_obs {
                return Err(err("a bilby result holds one observation; give --data one row or write .npy/.parquet".into()));
            }
            let content: serde_json::Map<String, serde_json::Value> = names
                .iter()
                .enumerate()
                .map(|(k, n)| (n.clone(), serde_json::json!((0..rows).map(|i| samples[i * d + k]).collect::<Vec<_>>())))
                .collect();
            let label = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
            let result = serde_json::json!({
                "label": label,
                "outdir": path.parent().map(|p| p.display().to_string()).unwrap_or_default(),
                "sampler": "ndelab",
                "search_parameter_keys": names,
                "fixed_parameter_keys": [],
                "constraint_parameter_keys": [],
                "posterior": { "__dataframe__": true, "content": content },
                "log_evidence": null,
                "log_evidence_err": null,
                "log_noise_evidence": null,
                "log_bayes_factor": null,
                "injection_parameters": null,
                "meta_data": { "ndelab_version": env!("CARGO_PKG_VERSION") },
                "sampler_kwargs": {},
                "num_likelihood_evaluations": null,
                "sampling_time": null,
                "version": format!("ndelab={}", env!("CARGO_PKG_VERSION")),
            });
            Ok(crate::store::entry::write_atomic(path, serde_json::to_string(&result).unwrap_or_default().as_bytes())?)
        }
        _ => Err(err("unknown output format: name the file .npy, .parquet or .json (bilby result)".into())),
    }
}

/// Writes importance-weighted draws as Parquet: `observation`, the parameters, `log_weight`
/// (unnormalised) and `weight` (normalised within each observation).
pub fn write_weighted(
    path: &Path,
    names: &[String],
    theta: &[f64],
    log_w: &[f64],
    weight: &[f64],
    observation: &[u32],
) -> Result<(), ReportError> {
    let d = names.len();
    let rows = log_w.len();
    let err = |m: String| ReportError::Io { path: path.display().to_string(), message: m };
    let mut cols = vec![Column::new("observation".into(), observation.to_vec())];
    for (k, name) in names.iter().enumerate() {
        cols.push(Column::new(name.as_str().into(), (0..rows).map(|i| theta[i * d + k]).collect::<Vec<_>>()));
    }
    cols.push(Column::new("log_weight".into(), log_w.to_vec()));
    cols.push(Column::new("weight".into(), weight.to_vec()));
    let mut df = DataFrame::new(rows, cols).map_err(|e| err(e.to_string()))?;
    replace_atomic(path, |tmp| {
        let file = std::fs::File::create(tmp).map_err(|e| err(e.to_string()))?;
        ParquetWriter::new(file).finish(&mut df).map(drop).map_err(|e| err(e.to_string()))
    })
}
