//! Training checkpoints: everything a killed training needs to go on exactly where it
//! stopped — weights, Adam's moments, the best epoch's weights, the history and the position in
//! the epoch — in one safetensors file replaced atomically.
//!
//! Every draw of training comes from (seed, epoch) and (seed, step), so a run resumed from a
//! checkpoint ends with the same weights, bit for bit, as one never interrupted. A checkpoint is
//! written at the end of every epoch and, within an epoch, once `NDELAB_CHECKPOINT_SECONDS`
//! (default 60) have passed since the last; the file names the run key it belongs to and is
//! used only by that run.

use super::EpochRecord;
use crate::store::entry::replace_atomic;
use crate::store::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where a run's checkpoint lives and how often it is written.
#[derive(Debug, Clone)]
pub struct Checkpointing {
    /// The checkpoint file.
    pub path: PathBuf,
    /// The run key it belongs to.
    pub key: String,
    /// Least time between two checkpoints within an epoch.
    pub every: Duration,
}

impl Checkpointing {
    /// Checkpoints of run `key` at `path`, as often as `NDELAB_CHECKPOINT_SECONDS` says.
    pub fn new(path: PathBuf, key: String) -> Checkpointing {
        let seconds =
            std::env::var("NDELAB_CHECKPOINT_SECONDS").ok().and_then(|v| v.parse::<f64>().ok()).filter(|s| s.is_finite() && *s >= 0.0);
        Checkpointing { path, key, every: Duration::from_secs_f64(seconds.unwrap_or(60.0)) }
    }
}

/// Where training stands, apart from the tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// The run key.
    pub key: String,
    /// The epoch in progress (1-based), or the last one run when `finished`.
    pub epoch: usize,
    /// Batches of that epoch already stepped through.
    pub batches_done: usize,
    /// Sum of their losses weighted by rows, and the rows.
    pub loss_sum: f64,
    /// Rows stepped through in the epoch.
    pub rows: usize,
    /// Steps over the whole run.
    pub step: usize,
    /// Adam's step count.
    pub adam_t: i32,
    /// Lowest validation loss so far (`None` before the first epoch ends).
    pub best_val: Option<f64>,
    /// The epoch of `best_val` (0: none yet).
    pub best_epoch: usize,
    /// Epochs finished.
    pub history: Vec<EpochRecord>,
    /// Training is over (all epochs, or early stopping).
    pub finished: bool,
    /// Early stopping ended it.
    pub stopped_early: bool,
}

/// A checkpoint: the progress and the tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// Where training stands.
    pub progress: Progress,
    /// Every parameter (trainable and buffers) now.
    pub params: Vec<Vec<f32>>,
    /// Adam's first moments.
    pub m: Vec<Vec<f32>>,
    /// Adam's second moments.
    pub v: Vec<Vec<f32>>,
    /// The best epoch's parameters.
    pub best: Vec<Vec<f32>>,
}

const META: &str = "ndelab_checkpoint";

fn other(path: &Path, message: String) -> StoreError {
    StoreError::Io { path: path.to_path_buf(), source: std::io::Error::other(message) }
}

impl Progress {
    /// Progress of run `key` before its first step.
    pub fn start(key: &str) -> Progress {
        Progress {
            key: key.to_string(),
            epoch: 1,
            batches_done: 0,
            loss_sum: 0.0,
            rows: 0,
            step: 0,
            adam_t: 0,
            best_val: None,
            best_epoch: 0,
            history: Vec::new(),
            finished: false,
            stopped_early: false,
        }
    }
}

impl State {
    /// Writes the checkpoint (atomically: a kill leaves the previous one or this one).
    pub fn save(&self, path: &Path) -> Result<(), StoreError> {
        let meta = serde_json::to_string(&self.progress).map_err(|e| other(path, e.to_string()))?;
        let groups = [("params", &self.params), ("m", &self.m), ("v", &self.v), ("best", &self.best)];
        let bytes: Vec<(String, Vec<u8>)> = groups
            .iter()
            .flat_map(|(g, list)| {
                list.iter().enumerate().map(move |(i, t)| (format!("{g}.{i}"), t.iter().flat_map(|x| x.to_le_bytes()).collect()))
            })
            .collect();
        let mut views = Vec::with_capacity(bytes.len());
        for (name, b) in &bytes {
            let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![b.len() / 4], b)
                .map_err(|e| other(path, format!("{e:?}")))?;
            views.push((name.clone(), view));
        }
        let metadata: HashMap<String, String> = [(META.to_string(), meta)].into_iter().collect();
        let data = safetensors::serialize(views, &Some(metadata)).map_err(|e| other(path, format!("{e:?}")))?;
        replace_atomic(path, |tmp| crate::store::entry::write_synced(tmp, &data))
    }

    /// Reads the checkpoint of run `key` at `path`; `None` (with the reason) when there is none
    /// or it cannot be used, so that training starts over rather than resuming from something wrong.
    pub fn load(path: &Path, key: &str, shapes: &[usize]) -> Result<Option<State>, String> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| format!("not a checkpoint ({e:?})"))?;
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| format!("{e:?}"))?;
        let text = meta.metadata().as_ref().and_then(|m| m.get(META)).ok_or("no checkpoint metadata")?;
        let progress: Progress = serde_json::from_str(text).map_err(|e| format!("bad checkpoint metadata: {e}"))?;
        if progress.key != key {
            return Err(format!("it belongs to run {}, not {key}", progress.key));
        }
        let group = |g: &str| -> Result<Vec<Vec<f32>>, String> {
            shapes
                .iter()
                .enumerate()
                .map(|(i, &len)| {
                    let t = st.tensor(&format!("{g}.{i}")).map_err(|e| format!("{g}.{i}: {e:?}"))?;
                    if t.data().len() != len * 4 {
                        return Err(format!("{g}.{i} holds {} values, the model {len}", t.data().len() / 4));
                    }
                    Ok(t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
                })
                .collect()
        };
        Ok(Some(State { params: group("params")?, m: group("m")?, v: group("v")?, best: group("best")?, progress }))
    }
}

/// When the next checkpoint within an epoch is due.
pub struct Timer {
    last: Instant,
    every: Duration,
}

impl Timer {
    /// A timer that fires `every` after now.
    pub fn new(every: Duration) -> Timer {
        Timer { last: Instant::now(), every }
    }

    /// Whether a checkpoint is due; restarts the clock if so.
    pub fn due(&mut self) -> bool {
        if self.last.elapsed() >= self.every {
            self.last = Instant::now();
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        let progress = Progress {
            key: "abc".into(),
            epoch: 3,
            batches_done: 7,
            loss_sum: 1.5,
            rows: 700,
            step: 27,
            adam_t: 27,
            best_val: Some(-0.25),
            best_epoch: 2,
            history: vec![EpochRecord { epoch: 1, train_loss: 1.0, val_loss: 0.5, lr: 1e-3, seconds: 0.1 }],
            finished: false,
            stopped_early: false,
        };
        let t = |x: f32| vec![vec![x, 2.0 * x], vec![3.0 * x]];
        State { progress, params: t(1.0), m: t(0.1), v: t(0.01), best: t(-1.0) }
    }

    /// What is saved is what is loaded; another run's checkpoint, other shapes and a truncated
    /// file are refused with the reason.
    #[test]
    fn round_trip_and_refusals() {
        let dir = std::env::temp_dir().join(format!("ndelab-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.safetensors");
        assert_eq!(State::load(&path, "abc", &[2, 1]).unwrap(), None);
        let s = state();
        s.save(&path).unwrap();
        assert_eq!(State::load(&path, "abc", &[2, 1]).unwrap(), Some(s));
        assert_eq!(State::load(&path, "xyz", &[2, 1]).unwrap_err(), "it belongs to run abc, not xyz");
        assert_eq!(State::load(&path, "abc", &[3, 1]).unwrap_err(), "params.0 holds 2 values, the model 3");
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert!(State::load(&path, "abc", &[2, 1]).unwrap_err().starts_with("not a checkpoint"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
