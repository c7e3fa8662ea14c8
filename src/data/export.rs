//! `ndelab export-injections`: the test set as files an external sampler can read — whitened
//! data, noise-free signals, true parameters, SNRs (.npy) and a JSON manifest with the
//! conventions needed to undo the whitening.

use super::cache::read_test_signals;
use super::Dataset;
use crate::data::DatasetPlan;
use crate::store::entry::{io_err, write_synced};
use crate::store::{npy, StoreError};
use std::path::Path;

/// Writes the test injections of `ds` (cached at `entry`) and the simulator's text `files`
/// (name, contents: its noise curves) into `out`, which must not exist yet or be empty; the
/// folder appears complete or not at all.
pub fn export_injections(ds: &Dataset, entry: &Path, spec: &DatasetPlan, files: &[(String, String)], out: &Path) -> Result<usize, StoreError> {
    if out.exists() && std::fs::read_dir(out).map_err(|e| io_err(out, e))?.next().is_some() {
        return Err(StoreError::Io {
            path: out.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "the folder exists and is not empty; choose a new --out"),
        });
    }
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
    let name = out.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "injections".into());
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let _registered = crate::store::leftovers::Temporary::register(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| io_err(&tmp, e))?;
    let result = (|| {
        let test = &ds.test;
        let n = test.len();
        let w =
            |file: &str, m: &npy::Matrix| npy::write(&tmp.join(file), m.rows, m.cols, m.values()).map_err(|e| io_err(&tmp.join(file), e));
        w("data.npy", &test.data)?;
        w("theta.npy", &test.theta)?;
        w("signal.npy", &read_test_signals(entry)?)?;
        if let Some(snr) = &test.snr {
            w("snr.npy", snr)?;
        }
        let mut manifest = serde_json::json!({
            "dataset_key": ds.manifest.key,
            "simulator": spec.simulator.kind(),
            "n_injections": n,
            "parameters": ds.manifest.parameters,
            "files": {
                "data.npy": "float32 (n, data_dim): whitened data, signal + noise",
                "signal.npy": "float32 (n, data_dim): noise-free whitened signal",
                "theta.npy": "float32 (n, n_parameters): true values of the sampled parameters",
                "snr.npy": "float32 (n, 1): network optimal SNR",
            },
            "settings": serde_json::to_value(spec.to_spec()).unwrap_or_default(),
        });
        if let Some(conventions) = spec.simulator.export_conventions() {
            manifest[spec.simulator.kind()] = conventions;
        }
        for (name, text) in files {
            write_synced(&tmp.join(name), text.as_bytes())?;
        }
        let text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
        write_synced(&tmp.join("injections.json"), text.as_bytes())?;
        if out.exists() {
            std::fs::remove_dir(out).map_err(|e| io_err(out, e))?;
        }
        std::fs::rename(&tmp, out).map_err(|e| io_err(out, e))?;
        Ok(n)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}
