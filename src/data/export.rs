//! `ndelab export-injections`: the test set as files an external sampler can read — whitened
//! data, noise-free signals, true parameters, SNRs (.npy) and a JSON manifest with the
//! conventions needed to undo the whitening.

use super::cache::read_test_signals;
use super::Dataset;
use crate::spec::{DatasetSpec, Prior, SimulatorKind};
use crate::store::entry::{io_err, write_synced};
use crate::store::{npy, StoreError};
use std::path::Path;

/// Writes the test injections of `ds` (cached at `entry`) into `out`, which must not exist yet
/// or be empty; the folder appears complete or not at all.
pub fn export_injections(ds: &Dataset, entry: &Path, spec: &DatasetSpec, out: &Path) -> Result<usize, StoreError> {
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
            "simulator": spec.simulator.as_str(),
            "n_injections": n,
            "parameters": ds.manifest.parameters,
            "files": {
                "data.npy": "float32 (n, data_dim): whitened data, signal + noise",
                "signal.npy": "float32 (n, data_dim): noise-free whitened signal",
                "theta.npy": "float32 (n, n_parameters): true values of the sampled parameters",
                "snr.npy": "float32 (n, 1): network optimal SNR",
            },
            "settings": serde_json::to_value(spec).unwrap_or_default(),
        });
        if spec.simulator == SimulatorKind::GwBbh {
            let g = spec.gw_bbh.clone().unwrap_or_default();
            let fixed: serde_json::Map<String, serde_json::Value> = g
                .priors
                .named()
                .iter()
                .filter_map(|(k, p)| match p {
                    Prior::Fixed(v) => Some((k.to_string(), serde_json::json!(v))),
                    Prior::Uniform { .. } => None,
                })
                .collect();
            manifest["gw"] = serde_json::json!({
                "detectors": g.detectors,
                "sampling_frequency": g.sampling_frequency,
                "duration": g.duration,
                "start_time": g.reference_time - g.duration / 2.0,
                "geocent_time": "reference_time + t0",
                "reference_time": g.reference_time,
                "f_min": g.f_min,
                "f_ref": g.f_ref,
                "approximant": g.approximant,
                "psd": "aLIGO_ZERO_DET_high_P (bilby's aLIGO_ZERO_DET_high_P_psd.txt)",
                "fixed_parameters": fixed,
                "data_layout": "each row is the detectors' whitened segments one after another, in the order of `detectors`",
                "whitening": "d_w = sqrt(2 fs) * irfft(d_f / ASD) with d_f = rfft(d) / fs and numpy's irfft; so d_f = rfft(d_w) * ASD / sqrt(2 fs) (bins with an infinite PSD are zero)",
                "likelihood": "log L = -1/2 sum (d_w - h_w)^2 + const",
            });
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
