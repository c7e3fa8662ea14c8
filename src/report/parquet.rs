//! metrics.parquet (one row per epoch) and summary.parquet (one row per run).

use super::ReportError;
use crate::train::EpochRecord;
use polars::prelude::*;
use std::fs::File;
use std::path::Path;

/// Columns of metrics.parquet, in order.
pub const METRICS_COLUMNS: [&str; 5] = ["epoch", "train_loss", "val_loss", "lr", "seconds"];

/// Columns of summary.parquet, in order.
pub const SUMMARY_COLUMNS: [&str; 35] = [
    "name",
    "run_key",
    "dataset_key",
    "simulator",
    "model",
    "loss",
    "seed",
    "n_train",
    "theta_dim",
    "data_dim",
    "n_params",
    "epochs_run",
    "best_epoch",
    "best_val_loss",
    "stopped_early",
    "test_nll",
    "test_nll_se",
    "kl_to_truth",
    "kl_to_truth_se",
    "dataset_cache_hit",
    "simulate_s",
    "train_s",
    "eval_s",
    "sample_10k_s",
    "rmse_z",
    "threads",
    "pp_injections",
    "pp_combined_p",
    "pp_min_ks_p",
    "reference_injections",
    "js_median",
    "c2st_mean",
    "is_efficiency_median",
    "js_median_is",
    "c2st_mean_is",
];

/// The posterior checks' aggregates in summary.parquet (null where not computed).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EvalAggregates {
    /// Test injections in the P-P test.
    pub pp_injections: Option<f64>,
    /// Fisher's combination of the parameters' KS p-values.
    pub pp_combined_p: Option<f64>,
    /// The smallest KS p-value of a parameter.
    pub pp_min_ks_p: Option<f64>,
    /// Injections compared with a reference posterior.
    pub reference_injections: Option<f64>,
    /// Median JS divergence (nats) of the 1-D marginals against the reference.
    pub js_median: Option<f64>,
    /// Mean C2ST accuracy against the reference.
    pub c2st_mean: Option<f64>,
    /// Median importance-sampling efficiency n_eff / n.
    pub is_efficiency_median: Option<f64>,
    /// Median JS divergence of the marginals after importance sampling.
    pub js_median_is: Option<f64>,
    /// Mean C2ST accuracy after importance sampling.
    pub c2st_mean_is: Option<f64>,
}

impl EvalAggregates {
    fn columns(&self) -> [(&'static str, Option<f64>); 9] {
        [
            ("pp_injections", self.pp_injections),
            ("pp_combined_p", self.pp_combined_p),
            ("pp_min_ks_p", self.pp_min_ks_p),
            ("reference_injections", self.reference_injections),
            ("js_median", self.js_median),
            ("c2st_mean", self.c2st_mean),
            ("is_efficiency_median", self.is_efficiency_median),
            ("js_median_is", self.js_median_is),
            ("c2st_mean_is", self.c2st_mean_is),
        ]
    }
}

/// The one row of summary.parquet.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Experiment name.
    pub name: String,
    /// Run key (16 hex digits).
    pub run_key: String,
    /// Dataset key (16 hex digits).
    pub dataset_key: String,
    /// Simulator name.
    pub simulator: String,
    /// Model kind.
    pub model: String,
    /// Loss name.
    pub loss: String,
    /// Master seed.
    pub seed: u64,
    /// Training samples.
    pub n_train: u64,
    /// Parameters inferred.
    pub theta_dim: u32,
    /// Data length.
    pub data_dim: u32,
    /// Trainable scalars.
    pub n_params: u64,
    /// Epochs run.
    pub epochs_run: u32,
    /// Epoch whose weights were kept.
    pub best_epoch: u32,
    /// Its validation loss.
    pub best_val_loss: f64,
    /// Whether early stopping ended training.
    pub stopped_early: bool,
    /// Mean test −log q(x|y), nats.
    pub test_nll: Option<f64>,
    /// Its standard error.
    pub test_nll_se: Option<f64>,
    /// Mean KL(p_true || q), nats.
    pub kl_to_truth: Option<f64>,
    /// Its standard error.
    pub kl_to_truth_se: Option<f64>,
    /// Whether the dataset came from the cache.
    pub dataset_cache_hit: bool,
    /// Seconds spent simulating in this run (0 on a cache hit).
    pub simulate_s: f64,
    /// Seconds spent training.
    pub train_s: f64,
    /// Seconds spent evaluating.
    pub eval_s: f64,
    /// Seconds to draw 10⁴ posterior samples for one observation (none for a regression).
    pub sample_10k_s: Option<f64>,
    /// A regression's test RMSE in units of each parameter's std, averaged over parameters.
    pub rmse_z: Option<f64>,
    /// Worker threads.
    pub threads: u32,
    /// Posterior checks (P-P, reference comparisons), where run.
    pub checks: EvalAggregates,
}

fn write(path: &Path, df: PolarsResult<DataFrame>) -> Result<(), ReportError> {
    let err = |m: String| ReportError::Parquet { path: path.display().to_string(), message: m };
    let mut df = df.map_err(|e| err(e.to_string()))?;
    let file = File::create(path).map_err(|e| err(e.to_string()))?;
    ParquetWriter::new(file).finish(&mut df).map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// Writes metrics.parquet from the training history.
pub fn write_metrics(path: &Path, history: &[EpochRecord]) -> Result<(), ReportError> {
    let df = df!(
        "epoch" => history.iter().map(|r| r.epoch as u32).collect::<Vec<_>>(),
        "train_loss" => history.iter().map(|r| r.train_loss).collect::<Vec<_>>(),
        "val_loss" => history.iter().map(|r| r.val_loss).collect::<Vec<_>>(),
        "lr" => history.iter().map(|r| r.lr).collect::<Vec<_>>(),
        "seconds" => history.iter().map(|r| r.seconds).collect::<Vec<_>>(),
    );
    write(path, df)
}

/// Writes summary.parquet.
pub fn write_summary(path: &Path, s: &Summary) -> Result<(), ReportError> {
    let df = df!(
        "name" => [s.name.as_str()],
        "run_key" => [s.run_key.as_str()],
        "dataset_key" => [s.dataset_key.as_str()],
        "simulator" => [s.simulator.as_str()],
        "model" => [s.model.as_str()],
        "loss" => [s.loss.as_str()],
        "seed" => [s.seed],
        "n_train" => [s.n_train],
        "theta_dim" => [s.theta_dim],
        "data_dim" => [s.data_dim],
        "n_params" => [s.n_params],
        "epochs_run" => [s.epochs_run],
        "best_epoch" => [s.best_epoch],
        "best_val_loss" => [s.best_val_loss],
        "stopped_early" => [s.stopped_early],
        "test_nll" => [s.test_nll],
        "test_nll_se" => [s.test_nll_se],
        "kl_to_truth" => [s.kl_to_truth],
        "kl_to_truth_se" => [s.kl_to_truth_se],
        "dataset_cache_hit" => [s.dataset_cache_hit],
        "simulate_s" => [s.simulate_s],
        "train_s" => [s.train_s],
        "eval_s" => [s.eval_s],
        "sample_10k_s" => [s.sample_10k_s],
        "rmse_z" => [s.rmse_z],
        "threads" => [s.threads],
    )
    .and_then(|mut df| {
        for (name, v) in s.checks.columns() {
            df.with_column(Column::new(name.into(), [v]))?;
        }
        Ok(df)
    });
    write(path, df)
}

/// Replaces the posterior-check columns of an existing summary.parquet (written to a
/// temporary file, then renamed over it).
pub fn update_summary(path: &Path, checks: &EvalAggregates) -> Result<(), ReportError> {
    let err = |m: String| ReportError::Parquet { path: path.display().to_string(), message: m };
    let mut df = read_parquet(path)?;
    for (name, v) in checks.columns() {
        df.with_column(Column::new(name.into(), [v])).map_err(|e| err(e.to_string()))?;
    }
    crate::store::entry::replace_atomic(path, |tmp| write(tmp, Ok(df)))
}

/// Reads a Parquet file into a DataFrame.
pub fn read_parquet(path: &Path) -> Result<DataFrame, ReportError> {
    let bad = |message: String| ReportError::Io { path: path.display().to_string(), message };
    let file = File::open(path).map_err(|e| bad(e.to_string()))?;
    crate::store::parquet::read_frame(file).map_err(bad)
}

/// Writes rmse.parquet: one row per parameter with its test RMSE (physical units).
pub fn write_rmse(path: &Path, names: &[String], rmse: &[f64]) -> Result<(), ReportError> {
    write(path, df!("parameter" => names.to_vec(), "rmse" => rmse.to_vec()))
}
