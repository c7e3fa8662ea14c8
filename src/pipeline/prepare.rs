//! Step 1 of a run: the dataset (from the cache or simulated), the inferred columns and the
//! z-scoring of θ and y.

use crate::data::{self, CacheStatus, Dataset, FreshNoise, ZScore};
use super::PipelineError;
use crate::report::Provenance;
use crate::sim::Simulator;
use crate::spec::Plan;
use crate::store::{Layout, StoreError};
use std::path::Path;
use std::time::Instant;

/// Rows used to fit the data z-scoring when training draws fresh noise.
const ZSCORE_ROWS: usize = 50_000;

/// What training and evaluation start from.
pub struct Prepared {
    /// The dataset, its θ reduced to the inferred parameters.
    pub ds: Dataset,
    /// The simulator that made it.
    pub sim: Box<dyn Simulator>,
    /// Index of each inferred parameter among the simulator's parameters.
    pub keep: Vec<usize>,
    /// Whether the dataset came from the cache.
    pub status: CacheStatus,
    /// Seconds spent simulating (0 on a cache hit).
    pub simulate_s: f64,
    /// Scaling of θ.
    pub theta_z: ZScore,
    /// Scaling of y.
    pub data_z: ZScore,
    /// Master seed (fresh training noise is drawn from it).
    seed: u64,
}

impl Prepared {
    /// Fresh training noise, when the training split holds noise-free signals.
    pub fn noise(&self) -> Option<FreshNoise<'_>> {
        self.ds.train.fresh_noise.then(|| FreshNoise::new(self.sim.as_ref(), self.seed))
    }
}

/// The dataset of `plan` with only the inferred parameters, the simulator, and the indices of
/// the kept parameters.
pub fn dataset(plan: &Plan, layout: &Layout, rebuild: bool) -> Result<(Dataset, Box<dyn Simulator>, Vec<usize>, CacheStatus), PipelineError> {
    let (ds, status, dir) = data::load_or_build(&plan.dataset, layout, rebuild)?;
    let (ds, keep) = inferred(plan, ds, &dir)?;
    Ok((ds, plan.dataset.simulator.build().map_err(data::DataError::from)?, keep, status))
}

/// The dataset a finished run was trained on, read from the cache entry its provenance names
/// when that entry is there: a `files` or `command` run is then evaluated without its source
/// files or program. Otherwise as [`dataset`] (rebuilt if need be).
pub fn dataset_of_run(plan: &Plan, layout: &Layout, run_dir: &Path) -> Result<(Dataset, Box<dyn Simulator>, Vec<usize>), PipelineError> {
    let key = std::fs::read_to_string(run_dir.join("provenance.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("dataset_key")?.as_str().map(str::to_string));
    let cached = match key {
        Some(k) => data::open_cached(layout, &k)?,
        None => None,
    };
    let Some((ds, dir)) = cached else {
        let (ds, sim, keep, _) = dataset(plan, layout, false)?;
        return Ok((ds, sim, keep));
    };
    let (ds, keep) = inferred(plan, ds, &dir)?;
    Ok((ds, plan.dataset.simulator.build().map_err(data::DataError::from)?, keep))
}

/// The columns of `dataset.infer` selected from a dataset read from `dir`, and their indices
/// among the sampled parameters.
fn inferred(plan: &Plan, ds: Dataset, dir: &Path) -> Result<(Dataset, Vec<usize>), PipelineError> {
    let sampled = ds.manifest.parameters.clone();
    let infer = &plan.dataset.infer;
    let keep: Vec<usize> = infer.iter().filter_map(|n| sampled.iter().position(|p| p == n)).collect();
    let ds = ds.select(infer).ok_or_else(|| {
        PipelineError::Store(StoreError::Corrupt { path: dir.to_path_buf(), message: format!("lacks a parameter of dataset.infer {infer:?}") })
    })?;
    Ok((ds, keep))
}

/// Step 1: the dataset and its scalings.
pub fn prepare(plan: &Plan, layout: &Layout, rebuild: bool, prov: &mut Provenance) -> Result<Prepared, PipelineError> {
    let t0 = Instant::now();
    let (ds, sim, keep, status) = dataset(plan, layout, rebuild)?;
    let n = ds.train.len() + ds.val.len() + ds.test.len();
    let simulate_s = match status {
        CacheStatus::Hit => {
            crate::ui::note!("dataset: cache hit ({} train / {} val / {} test)", ds.train.len(), ds.val.len(), ds.test.len());
            0.0
        }
        CacheStatus::Built { seconds } => {
            crate::ui::note!("dataset: simulated {n} samples in {seconds:.2} s ({:.0}/s)", n as f64 / seconds.max(1e-9));
            seconds
        }
    };
    prov.wall_seconds.push(("dataset".into(), t0.elapsed().as_secs_f64()));
    let theta_z = ZScore::fit(ds.train.theta.values(), ds.train.theta.cols);
    let noise = ds.train.fresh_noise.then(|| FreshNoise::new(sim.as_ref(), plan.seed));
    let data_z = ZScore::fit_data(&ds.train, noise, ZSCORE_ROWS);
    Ok(Prepared { ds, sim, keep, status, simulate_s, theta_z, data_z, seed: plan.seed })
}
