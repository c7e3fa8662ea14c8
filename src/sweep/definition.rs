//! Sweep definitions: a base experiment plus axes, in YAML or from Hydra's multirun grammar.
//!
//! ```yaml
//! name: cvae_latent
//! base: ../gw_cvae.yaml              # relative to this file
//! overrides: [dataset.n_train=50_000] # applied to every trial
//! grid: { model.latent_dim: [2, 4, 8] }         # every combination
//! zip: { training.optimizer.lr: [1e-3, 3e-4], training.batch_size: [512, 256] }  # varied together
//! random: { count: 4, seed: 0, params: { training.optimizer.lr: { log_uniform: [1e-4, 1e-2] } } }
//! seeds: [1, 2, 3]                   # replicates of everything above
//! ```

use crate::config::number;
use crate::spec::SpecError;
use serde::{Deserialize, Serialize};
use serde_norway::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A sweep as written in YAML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepDefinition {
    /// Name of the sweep; results go to results/sweeps/<name>/<key>/.
    pub name: String,
    /// The base experiment spec, relative to the sweep file.
    pub base: PathBuf,
    /// Overrides applied to every trial.
    #[serde(default)]
    pub overrides: Vec<String>,
    /// Keys and their values; every combination is a trial.
    #[serde(default)]
    pub grid: BTreeMap<String, Vec<Value>>,
    /// Keys whose value lists (of equal length) are varied together.
    #[serde(default)]
    pub zip: BTreeMap<String, Vec<Value>>,
    /// Random draws of keys from distributions.
    #[serde(default)]
    pub random: Option<RandomAxes>,
    /// Master seeds: every trial above is repeated for each.
    #[serde(default)]
    pub seeds: Vec<u64>,
    /// Defaults for `--backend slurm` (command-line options win).
    #[serde(default)]
    pub slurm: SlurmDefaults,
}

/// `count` random draws of `params`, reproducible from `seed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomAxes {
    /// Number of draws.
    #[serde(deserialize_with = "number::usize")]
    pub count: usize,
    /// Seed of the draws.
    #[serde(default, deserialize_with = "number::u64")]
    pub seed: u64,
    /// Key → distribution.
    pub params: BTreeMap<String, Distribution>,
}

/// Distributions of random axes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// Uniform on [low, high).
    Uniform([f64; 2]),
    /// Uniform in log on [low, high), both positive.
    LogUniform([f64; 2]),
    /// A uniformly chosen integer in [low, high].
    IntUniform([i64; 2]),
    /// One of the listed values.
    Choice(Vec<Value>),
}

/// Slurm settings a sweep file may carry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlurmDefaults {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time`, e.g. `02:00:00`.
    pub time: Option<String>,
    /// `--mem`, e.g. `4G`.
    pub mem: Option<String>,
    /// CPUs per array task.
    pub cpus_per_task: Option<usize>,
    /// Most array tasks running at once (`%N`).
    pub throttle: Option<usize>,
    /// Extra `#SBATCH` lines, verbatim.
    pub extra: Vec<String>,
}

impl SweepDefinition {
    /// Reads a sweep file; `base` is made relative to the current directory.
    pub fn load(path: &Path) -> Result<SweepDefinition, SpecError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SpecError::new(&file, format!("cannot read: {e}")))?;
        let root = crate::spec::yaml_tree(&file, &text)?;
        let mut def: SweepDefinition = crate::spec::typed(&file, &text, &root, &[])?;
        if def.base.is_relative() {
            def.base = path.parent().unwrap_or(Path::new(".")).join(&def.base);
        }
        def.check(&file)?;
        Ok(def)
    }

    /// Whether a command line's overrides make a multirun: some value is a comma list
    /// (`model.latent_dim=2,4,8`).
    pub fn is_multirun(overrides: &[String]) -> bool {
        overrides.iter().any(|o| Self::is_swept(o))
    }

    /// Whether one override sweeps (its value is a comma list).
    pub fn is_swept(o: &str) -> bool {
        o.split_once('=').is_some_and(|(_, v)| crate::spec::Override::is_comma_list(v))
    }

    /// A sweep from `ndelab run SPEC key=a,b ...`: comma lists become grid axes (`seed=1,2` too).
    pub fn multirun(spec: &Path, name: &str, overrides: &[String]) -> Result<SweepDefinition, SpecError> {
        let file = spec.display().to_string();
        let mut def = SweepDefinition {
            name: name.to_string(),
            base: spec.to_path_buf(),
            overrides: Vec::new(),
            grid: BTreeMap::new(),
            zip: BTreeMap::new(),
            random: None,
            seeds: Vec::new(),
            slurm: SlurmDefaults::default(),
        };
        for o in overrides {
            match o.split_once('=') {
                Some((k, v)) if crate::spec::Override::is_comma_list(v) => {
                    let values = split_top_level(v)
                        .iter()
                        .map(|s| {
                            serde_norway::from_str::<Value>(s)
                                .map_err(|e| SpecError::new(&file, format!("override `{o}`: `{s}` is not YAML: {e}")))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    def.grid.insert(k.trim_start_matches('+').to_string(), values);
                }
                _ => def.overrides.push(o.clone()),
            }
        }
        def.check(&file)?;
        Ok(def)
    }

    fn check(&self, file: &str) -> Result<(), SpecError> {
        if !crate::config::is_folder_name(&self.name) {
            return Err(SpecError::new(file, format!("`name`: `{}` cannot name a results folder", self.name))
                .help("use at most 200 letters, digits, `_`, `-` and `.`, not starting with `.`"));
        }
        if let Some((k, _)) = self.grid.iter().find(|(_, v)| v.is_empty()) {
            return Err(SpecError::new(file, format!("`grid.{k}` has no values")));
        }
        let lens: Vec<(&String, usize)> = self.zip.iter().map(|(k, v)| (k, v.len())).collect();
        if let Some(&(k0, n0)) = lens.first() {
            if let Some((k, n)) = lens.iter().find(|(_, n)| *n != n0) {
                return Err(SpecError::new(file, format!("`zip` lists must have equal lengths: `{k0}` has {n0} values, `{k}` has {n}"))
                    .help("give every zipped key the same number of values, or use `grid` for combinations"));
            }
        }
        if let Some(r) = &self.random {
            if r.count == 0 {
                return Err(SpecError::new(file, "`random.count` must be at least 1"));
            }
        }
        self.check_size(file)?;
        if let Some(r) = &self.random {
            for (k, d) in &r.params {
                let ok = match d {
                    Distribution::Uniform([a, b]) => a < b,
                    Distribution::LogUniform([a, b]) => *a > 0.0 && a < b,
                    Distribution::IntUniform([a, b]) => a <= b,
                    Distribution::Choice(v) => !v.is_empty(),
                };
                if !ok {
                    return Err(SpecError::new(
                        file,
                        format!("`random.params.{k}`: needs low < high (and low > 0 for log_uniform), or a non-empty choice"),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl SweepDefinition {
    /// The number of trials, or None where it does not fit a usize.
    pub fn trial_count(&self) -> Option<usize> {
        let mut n: usize = 1;
        for v in self.grid.values() {
            n = n.checked_mul(v.len())?;
        }
        if let Some(z) = self.zip.values().next() {
            n = n.checked_mul(z.len())?;
        }
        if let Some(r) = &self.random {
            n = n.checked_mul(r.count)?;
        }
        n.checked_mul(self.seeds.len().max(1))
    }

    /// Refuses a sweep too large to plan: every trial is resolved and keyed up front.
    fn check_size(&self, file: &str) -> Result<(), SpecError> {
        let count = self.trial_count();
        if count.is_some_and(|n| n <= MAX_TRIALS) {
            return Ok(());
        }
        let mut factors: Vec<String> = self.grid.iter().map(|(k, v)| format!("{} ({k})", v.len())).collect();
        if let Some((k, z)) = self.zip.iter().next() {
            factors.push(format!("{} (zip {k}, ...)", z.len()));
        }
        if let Some(r) = &self.random {
            factors.push(format!("{} (random.count)", r.count));
        }
        if !self.seeds.is_empty() {
            factors.push(format!("{} (seeds)", self.seeds.len()));
        }
        let total = count.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string());
        Err(SpecError::new(file, format!("the sweep has {total} trials ({}), above the limit of {MAX_TRIALS}", factors.join(" x ")))
            .help("split it into several sweeps, or sample the space with `random: { count: N, ... }`"))
    }
}

/// The most trials one sweep may have: each is resolved, keyed and listed before any runs.
pub const MAX_TRIALS: usize = 100_000;

/// Splits `a,b,[c,d]` at commas outside brackets and quotes.
pub fn split_top_level(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (Some(_), _) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.push(c);
            }
            (None, '[' | '{') => {
                depth += 1;
                cur.push(c);
            }
            (None, ']' | '}') => {
                depth -= 1;
                cur.push(c);
            }
            (None, ',') if depth == 0 => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|s| s.trim().to_string()).collect()
}
