//! The sweep stage: many runs of one experiment, from a YAML sweep or from Hydra's multirun
//! grammar (`ndelab run SPEC model.latent_dim=2,4,8 seed=1,2,3`).
//!
//! A sweep expands into trials (overrides of a base spec). Every trial is an ordinary run, keyed
//! by content, so a finished trial is a cache hit and a killed sweep resumes where it stopped.
//! The local executor runs trials as child processes, `--jobs` at a time with
//! `--threads-per-trial` threads each; the Slurm backend writes an array job (one task per
//! trial) and a dependent collect job. Both end in `results/sweeps/<name>/<key>/`:
//! trials.json (the plan), trials.jsonl and summary.parquet (one row per trial, swept keys as
//! columns). The shared results/ folder is the only coordination.

mod collect;
pub mod definition;
mod error;
pub mod expand;
mod local;
pub mod slurm;

pub use collect::{collect, TrialOutcome, TrialStatus};
pub use definition::{SlurmDefaults, SweepDefinition};
pub use error::SweepError;
pub use expand::{expand, Trial};
pub use local::{run_local, LocalOptions};

use crate::pipeline;
use crate::spec;
use crate::store::{KeyRecipe, Layout};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version of the sweep layout; part of the sweep key.
pub const SWEEP_VERSION: &str = "sweep/1";

/// A trial with the run it maps to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedTrial {
    /// The trial.
    #[serde(flatten)]
    pub trial: Trial,
    /// Its run key (16 hex digits).
    pub run_key: String,
    /// Its run folder.
    pub run_dir: PathBuf,
}

/// Everything needed to run and collect a sweep; saved as trials.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SweepPlan {
    /// Sweep name.
    pub name: String,
    /// Sweep key (16 hex digits).
    pub key: String,
    /// Base spec, absolute.
    pub base: PathBuf,
    /// Results root, absolute.
    pub results: PathBuf,
    /// The sweep folder.
    pub dir: PathBuf,
    /// Swept keys, in column order.
    pub swept: Vec<String>,
    /// The trials.
    pub trials: Vec<PlannedTrial>,
    /// Slurm settings from the sweep file.
    #[serde(default)]
    pub slurm: SlurmDefaults,
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Resolves every trial (a bad trial is a spec error before anything runs) and keys the sweep.
pub fn plan(def: &SweepDefinition, layout: &Layout) -> Result<SweepPlan, SweepError> {
    let trials = expand(def);
    let mut planned = Vec::with_capacity(trials.len());
    for t in trials {
        let s = spec::load(&def.base, &t.overrides)
            .map_err(|e| e.help(format!("in trial {} of sweep `{}`: {}", t.index, def.name, t.overrides.join(" "))))?;
        let key = pipeline::keys(&s)?.run.key();
        let run_dir = absolute(&layout.runs(&s.name).join(key.short()));
        planned.push(PlannedTrial { trial: t, run_key: key.short().to_string(), run_dir });
    }
    let swept: Vec<String> = planned.first().map(|t| t.trial.params.iter().map(|(k, _)| k.clone()).collect()).unwrap_or_default();
    let recipe =
        KeyRecipe::new("sweep", SWEEP_VERSION, &(&def.name, planned.iter().map(|t| (&t.trial.params, &t.run_key)).collect::<Vec<_>>()))?;
    let key = recipe.key();
    let dir = absolute(&layout.root().join("sweeps").join(&def.name).join(key.short()));
    Ok(SweepPlan {
        name: def.name.clone(),
        key: key.short().to_string(),
        base: absolute(&def.base),
        results: absolute(layout.root()),
        dir,
        swept,
        trials: planned,
        slurm: def.slurm.clone(),
    })
}

impl SweepPlan {
    /// Writes trials.json into the sweep folder (atomically) and creates logs/.
    pub fn save(&self) -> Result<PathBuf, SweepError> {
        let io = |p: &Path, e| SweepError::Store(crate::store::StoreError::Io { path: p.to_path_buf(), source: e });
        std::fs::create_dir_all(self.dir.join("logs")).map_err(|e| io(&self.dir, e))?;
        let path = self.dir.join("trials.json");
        crate::store::entry::write_atomic(&path, serde_json::to_string_pretty(self).unwrap_or_default().as_bytes())?;
        Ok(path)
    }

    /// Reads a saved plan.
    pub fn load(path: &Path) -> Result<SweepPlan, SweepError> {
        let bad = |message: String| SweepError::BadPlanFile { path: path.to_path_buf(), message };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        Ok(serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?)
    }

    /// The dry-run table: index, status, run key, swept values.
    pub fn table(&self) -> String {
        let mut s = format!("sweep `{}` ({} trials) → {}\n", self.name, self.trials.len(), self.dir.display());
        for t in &self.trials {
            let done = if t.run_dir.join("DONE").is_file() { "done   " } else { "pending" };
            let params: Vec<String> = t.trial.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            s.push_str(&format!("  {:>4}  {done}  {}  {}\n", t.trial.index, t.run_key, params.join(" ")));
        }
        s
    }
}
