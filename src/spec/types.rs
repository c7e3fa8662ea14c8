//! The experiment spec: typed, with a documented default for every field.
//!
//! These types hold data only. Loading (`spec::load`) parses YAML into them; checking values
//! that serde cannot (`batch_size > 0`, a loss that fits the model, ...) is `spec::validate`.

use super::{number, tagged};
use serde::{Deserialize, Serialize};

/// One experiment: what to simulate, what to train on it, how, and how to score it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Name of the experiment; the run folder is `results/runs/<name>/<key>/`. Letters, digits, `_`, `-`, `.`.
    pub name: String,
    /// Master seed: network initialisation, shuffling, and the dataset when `dataset.seed` is unset. Default 1.
    #[serde(default = "default_seed", deserialize_with = "number::u64")]
    pub seed: u64,
    /// The simulated data.
    pub dataset: DatasetSpec,
    /// The density estimator q(x|y).
    pub model: ModelSpec,
    /// Training loss; defaults to the loss that fits `model.kind` (`nll` for `gaussian`).
    #[serde(default)]
    pub loss: Option<LossKind>,
    /// How to train.
    #[serde(default)]
    pub training: TrainingSpec,
    /// What to measure after training.
    #[serde(default)]
    pub eval: EvalSpec,
}

fn default_seed() -> u64 {
    1
}

/// Which simulator makes the data, and how many samples of each split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// The simulator: `linear_gaussian`.
    pub simulator: SimulatorKind,
    /// Seed of the simulated samples; defaults to the top-level `seed`.
    #[serde(default, deserialize_with = "opt_u64")]
    pub seed: Option<u64>,
    /// Training samples. Default 100_000.
    #[serde(default = "default_n_train", deserialize_with = "number::usize")]
    pub n_train: usize,
    /// Validation samples (early stopping, best epoch). Default 10_000.
    #[serde(default = "default_n_val", deserialize_with = "number::usize")]
    pub n_val: usize,
    /// Test samples (NLL, KL to the true posterior). Default 1_000.
    #[serde(default = "default_n_test", deserialize_with = "number::usize")]
    pub n_test: usize,
    /// Settings of the `linear_gaussian` simulator (all optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear_gaussian: Option<LinearGaussianSpec>,
}

fn opt_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    number::u64(d).map(Some)
}

fn default_n_train() -> usize {
    100_000
}
fn default_n_val() -> usize {
    10_000
}
fn default_n_test() -> usize {
    1_000
}

/// The simulators ndelab knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimulatorKind {
    /// x ~ N(0, prior_std² I), y = A x + ε, ε ~ N(0, noise_std² I): Gaussian posterior in closed form.
    LinearGaussian,
}

impl SimulatorKind {
    /// The spec name of the simulator.
    pub fn as_str(self) -> &'static str {
        match self {
            SimulatorKind::LinearGaussian => "linear_gaussian",
        }
    }
}

/// x ~ N(0, prior_std² I_d), y = A x + ε with ε ~ N(0, noise_std² I_m).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinearGaussianSpec {
    /// d, the number of parameters x. Default 5.
    #[serde(deserialize_with = "number::usize")]
    pub theta_dim: usize,
    /// m, the number of data values y. Default 10.
    #[serde(deserialize_with = "number::usize")]
    pub data_dim: usize,
    /// The matrix A: `random` (entries N(0, 1/d), drawn from `matrix_seed`) or `identity` (needs m = d).
    pub matrix: MatrixKind,
    /// Seed of the random matrix A, separate from the sample seed so that replicates share one problem. Default 0.
    #[serde(deserialize_with = "number::u64")]
    pub matrix_seed: u64,
    /// Prior standard deviation of every parameter. Default 1.0.
    #[serde(deserialize_with = "number::f64")]
    pub prior_std: f64,
    /// Noise standard deviation of every data value. Default 1.0.
    #[serde(deserialize_with = "number::f64")]
    pub noise_std: f64,
}

impl Default for LinearGaussianSpec {
    fn default() -> Self {
        LinearGaussianSpec {
            theta_dim: 5,
            data_dim: 10,
            matrix: MatrixKind::Random,
            matrix_seed: 0,
            prior_std: 1.0,
            noise_std: 1.0,
        }
    }
}

/// How the linear simulator's matrix is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatrixKind {
    /// Entries drawn from N(0, 1/d) with `matrix_seed`.
    Random,
    /// The identity (data_dim must equal theta_dim).
    Identity,
}

/// The density estimator, chosen by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelSpec {
    /// A full-covariance Gaussian q(x|y) = N(μ(y), Σ(y)) from an MLP (Chua & Vallisneri 2020).
    Gaussian(GaussianSpec),
}

impl<'de> Deserialize<'de> for ModelSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (kind, rest) = tagged::split_kind(d, &["gaussian"])?;
        match kind.as_str() {
            _ => Ok(ModelSpec::Gaussian(tagged::variant(rest)?)),
        }
    }
}

impl ModelSpec {
    /// The spec name of the model kind.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelSpec::Gaussian(_) => "gaussian",
        }
    }
}

/// Settings of the `gaussian` estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GaussianSpec {
    /// Widths of the hidden layers of the MLP (ReLU). Default [64, 64].
    #[serde(deserialize_with = "number::vec_usize")]
    pub hidden: Vec<usize>,
}

impl Default for GaussianSpec {
    fn default() -> Self {
        GaussianSpec { hidden: vec![64, 64] }
    }
}

/// Training losses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Negative log-likelihood -log q(x|y) (density estimators).
    Nll,
    /// Mean squared error (point-estimate regression).
    Mse,
    /// Negative evidence lower bound (conditional VAEs).
    Elbo,
}

impl LossKind {
    /// The spec name of the loss.
    pub fn as_str(self) -> &'static str {
        match self {
            LossKind::Nll => "nll",
            LossKind::Mse => "mse",
            LossKind::Elbo => "elbo",
        }
    }
}

/// How to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingSpec {
    /// Samples per gradient step. Default 512.
    #[serde(deserialize_with = "number::usize")]
    pub batch_size: usize,
    /// Most epochs to train (early stopping may end sooner). Default 60.
    #[serde(deserialize_with = "number::usize")]
    pub epochs: usize,
    /// The optimizer. Default `{ kind: adam, lr: 1.0e-3 }`.
    pub optimizer: OptimizerSpec,
    /// Learning-rate schedule over the epochs: `constant` or `cosine` (to 0 at the last epoch). Default cosine.
    pub lr_schedule: LrSchedule,
    /// Stop when the validation loss has not improved for `patience` epochs; `null` trains every epoch.
    pub early_stopping: Option<EarlyStoppingSpec>,
}

impl Default for TrainingSpec {
    fn default() -> Self {
        TrainingSpec {
            batch_size: 512,
            epochs: 60,
            optimizer: OptimizerSpec::default(),
            lr_schedule: LrSchedule::Cosine,
            early_stopping: Some(EarlyStoppingSpec::default()),
        }
    }
}

/// The optimizer, chosen by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerSpec {
    /// Adam (Kingma & Ba 2014).
    Adam(AdamSpec),
}

impl<'de> Deserialize<'de> for OptimizerSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (kind, rest) = tagged::split_kind(d, &["adam"])?;
        match kind.as_str() {
            _ => Ok(OptimizerSpec::Adam(tagged::variant(rest)?)),
        }
    }
}

impl Default for OptimizerSpec {
    fn default() -> Self {
        OptimizerSpec::Adam(AdamSpec::default())
    }
}

/// Adam's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdamSpec {
    /// Learning rate. Default 1.0e-3.
    #[serde(deserialize_with = "number::f64")]
    pub lr: f64,
    /// Decay of the first moment. Default 0.9.
    #[serde(deserialize_with = "number::f64")]
    pub beta1: f64,
    /// Decay of the second moment. Default 0.999.
    #[serde(deserialize_with = "number::f64")]
    pub beta2: f64,
    /// Added to the root of the second moment. Default 1.0e-8.
    #[serde(deserialize_with = "number::f64")]
    pub eps: f64,
}

impl Default for AdamSpec {
    fn default() -> Self {
        AdamSpec { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 }
    }
}

/// Learning-rate schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedule {
    /// The optimizer's learning rate throughout.
    Constant,
    /// Cosine annealing from the optimizer's learning rate to 0 over `epochs`.
    Cosine,
}

/// Early stopping on the validation loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EarlyStoppingSpec {
    /// Epochs without improvement before stopping. Default 20.
    #[serde(deserialize_with = "number::usize")]
    pub patience: usize,
}

impl Default for EarlyStoppingSpec {
    fn default() -> Self {
        EarlyStoppingSpec { patience: 20 }
    }
}

/// What to measure after training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalSpec {
    /// Metrics to compute. Default [test_nll, kl_to_truth, loss_curve]; `kl_to_truth` needs a
    /// simulator with an analytic posterior.
    pub metrics: Vec<Metric>,
    /// Posterior draws per test observation for the Monte Carlo KL. Default 256.
    #[serde(deserialize_with = "number::usize")]
    pub kl_samples: usize,
}

impl Default for EvalSpec {
    fn default() -> Self {
        EvalSpec { metrics: vec![Metric::TestNll, Metric::KlToTruth, Metric::LossCurve], kl_samples: 256 }
    }
}

/// Metrics and pictures `eval` can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Mean -log q(x_true|y) over the test set, in nats.
    TestNll,
    /// Mean KL(p_true(x|y) || q(x|y)) over the test set, in nats (simulators with an analytic posterior).
    KlToTruth,
    /// plots/loss_curve.png: training and validation loss per epoch.
    LossCurve,
}
