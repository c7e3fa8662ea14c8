//! The experiment spec: typed, with a documented default for every field.
//!
//! These types hold data only. Loading (`spec::load`) parses YAML into them; checking values
//! that serde cannot (`batch_size > 0`, a loss that fits the model, ...) is `spec::validate`.

use super::{number, tagged};
use crate::sim::SimulatorSpec;
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
    pub model: crate::nn::ModelSpec,
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
///
/// In YAML the simulator is named by `simulator:` and its settings, all optional, are the
/// section of the same name (`gw_bbh: { detectors: [H1, L1] }`); see [`SimulatorSpec`].
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetSpec {
    /// The simulator and its settings.
    pub simulator: SimulatorSpec,
    /// Seed of the simulated samples; defaults to the top-level `seed`.
    pub seed: Option<u64>,
    /// Training samples. Default 100_000.
    pub n_train: usize,
    /// Validation samples (early stopping, best epoch). Default 10_000.
    pub n_val: usize,
    /// Test samples (NLL, KL to the true posterior). Default 1_000.
    pub n_test: usize,
    /// Parameters the estimator infers, by name; the others are marginalised. Default: the
    /// simulator's choice (all sampled parameters for `linear_gaussian`; m1, m2, d_L, t0 for
    /// `gw_bbh`, the phase marginalised).
    pub infer: Option<Vec<String>>,
    /// `fixed`: one noise realisation per sample, cached. `fresh`: the noise-free signals are
    /// cached and new noise is drawn every epoch, so the network never sees the same noisy
    /// sample twice (less overfitting at equal simulation cost). Default: the simulator's
    /// choice (fresh for `gw_bbh`, fixed for `linear_gaussian`). Validation and test noise is
    /// always fixed.
    pub noise: Option<NoiseMode>,
}

/// The fields of a dataset section other than the simulator's settings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DatasetFields {
    simulator: String,
    #[serde(default, deserialize_with = "opt_u64")]
    seed: Option<u64>,
    #[serde(default = "default_n_train", deserialize_with = "number::usize")]
    n_train: usize,
    #[serde(default = "default_n_val", deserialize_with = "number::usize")]
    n_val: usize,
    #[serde(default = "default_n_test", deserialize_with = "number::usize")]
    n_test: usize,
    #[serde(default)]
    infer: Option<Vec<String>>,
    #[serde(default)]
    noise: Option<NoiseMode>,
}

impl<'de> Deserialize<'de> for DatasetSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        use serde_norway::Value;
        let mut map = serde_norway::Mapping::deserialize(d)?;
        // Simulator sections are taken out first; the rest are the common fields.
        let mut sections = Vec::new();
        for kind in SimulatorSpec::KINDS {
            if let Some(v) = map.remove(*kind) {
                sections.push((*kind, v));
            }
        }
        let f: DatasetFields = tagged::variant(Value::Mapping(map))?;
        if !SimulatorSpec::KINDS.contains(&f.simulator.as_str()) {
            let e = D::Error::unknown_variant(&f.simulator, SimulatorSpec::KINDS);
            return Err(tagged::within("simulator", e));
        }
        let mut own = None;
        for (kind, v) in sections {
            if kind != f.simulator {
                return Err(D::Error::custom(format!(
                    "{mark}{kind}{mark}is set but `dataset.simulator` is {}\nremove the section or change the simulator",
                    f.simulator,
                    mark = tagged::PATH_MARK
                )));
            }
            own = Some(v);
        }
        let simulator = SimulatorSpec::from_section(&f.simulator, own)?;
        Ok(DatasetSpec { simulator, seed: f.seed, n_train: f.n_train, n_val: f.n_val, n_test: f.n_test, infer: f.infer, noise: f.noise })
    }
}

impl Serialize for DatasetSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(8))?;
        map.serialize_entry("simulator", self.simulator.kind())?;
        map.serialize_entry("seed", &self.seed)?;
        map.serialize_entry("n_train", &self.n_train)?;
        map.serialize_entry("n_val", &self.n_val)?;
        map.serialize_entry("n_test", &self.n_test)?;
        map.serialize_entry("infer", &self.infer)?;
        map.serialize_entry("noise", &self.noise)?;
        self.simulator.serialize_section(&mut map)?;
        map.end()
    }
}

/// How training noise is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseMode {
    /// One cached noise realisation per training sample.
    Fixed,
    /// New noise every epoch on cached noise-free signals.
    Fresh,
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

/// A prior: a fixed value or a uniform range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Prior {
    /// The parameter is fixed to this value (not sampled, not inferred).
    Fixed(f64),
    /// Uniform on [min, max).
    Uniform {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
}

impl<'de> Deserialize<'de> for Prior {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = serde_norway::Value::deserialize(d)?;
        match &v {
            serde_norway::Value::Mapping(_) => {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Range {
                    #[serde(deserialize_with = "number::f64")]
                    min: f64,
                    #[serde(deserialize_with = "number::f64")]
                    max: f64,
                }
                let r: Range = tagged::variant(v)?;
                Ok(Prior::Uniform { min: r.min, max: r.max })
            }
            _ => number::f64(v)
                .map(Prior::Fixed)
                .map_err(|_| D::Error::custom("expected a number (fixed value) or `{ min, max }` (uniform prior)")),
        }
    }
}

/// The network that embeds the data y: an MLP, or a 1-D convolutional front-end over the
/// detectors' whitened time series (one input channel per detector) followed by an MLP.
///
/// A bare list `[256, 256]` is short for `{ kind: mlp, hidden: [256, 256] }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EmbeddingSpec {
    /// Dense layers with ReLU.
    Mlp(MlpEmbeddingSpec),
    /// Convolution + ReLU + max-pooling layers, then dense layers (Gabbard et al.'s front-end).
    Conv1d(Conv1dSpec),
}

impl EmbeddingSpec {
    /// An MLP embedding with these hidden widths.
    pub fn mlp(hidden: Vec<usize>) -> EmbeddingSpec {
        EmbeddingSpec::Mlp(MlpEmbeddingSpec { hidden })
    }
}

impl<'de> Deserialize<'de> for EmbeddingSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_norway::Value::deserialize(d)?;
        if let serde_norway::Value::Sequence(_) = value {
            let hidden = number::vec_usize(value).map_err(|e| D::Error::custom(e.to_string()))?;
            return Ok(EmbeddingSpec::mlp(hidden));
        }
        if !matches!(value, serde_norway::Value::Mapping(_)) {
            return Err(D::Error::custom(format!(
                "expected a list of MLP widths such as [256, 256], a section with `kind: conv1d` (or `kind: mlp`), or none; found {}",
                serde_norway::to_string(&value).unwrap_or_default().trim()
            )));
        }
        let (kind, rest) = tagged::split_kind(value, &["mlp", "conv1d"]).map_err(|e| D::Error::custom(e.to_string()))?;
        match kind.as_str() {
            "conv1d" => Ok(EmbeddingSpec::Conv1d(tagged::variant(rest)?)),
            _ => Ok(EmbeddingSpec::Mlp(tagged::variant(rest)?)),
        }
    }
}

/// An `embedding` value: a network, or `null` / `none` for none.
pub fn embedding_or_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<EmbeddingSpec>, D::Error> {
    use serde::de::Error;
    let value = serde_norway::Value::deserialize(d)?;
    match &value {
        serde_norway::Value::Null => Ok(None),
        serde_norway::Value::String(s) if s == "none" => Ok(None),
        _ => EmbeddingSpec::deserialize(value).map(Some).map_err(|e| D::Error::custom(e.to_string())),
    }
}

/// Settings of an MLP embedding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpEmbeddingSpec {
    /// Widths of the dense layers (ReLU).
    #[serde(deserialize_with = "number::vec_usize")]
    pub hidden: Vec<usize>,
}

/// Settings of a 1-D convolutional embedding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Conv1dSpec {
    /// Output channels of each convolution layer. Default [16, 16, 32].
    #[serde(deserialize_with = "number::vec_usize")]
    pub channels: Vec<usize>,
    /// Kernel size of every convolution. Default 7.
    #[serde(deserialize_with = "number::usize")]
    pub kernel: usize,
    /// Stride of every convolution. Default 1.
    #[serde(deserialize_with = "number::usize")]
    pub stride: usize,
    /// Max-pooling size after every convolution (1: none). Default 2.
    #[serde(deserialize_with = "number::usize")]
    pub pool: usize,
    /// Dense layers after the convolutions (ReLU). Default [128].
    #[serde(deserialize_with = "number::vec_usize")]
    pub dense: Vec<usize>,
}

impl Conv1dSpec {
    /// (input, convolved, pooled) length of each layer over `len` samples, or why the
    /// data are too short for it.
    pub fn lengths(&self, len: usize) -> Result<Vec<(usize, usize, usize)>, ConvDoesNotFit> {
        let mut out = Vec::new();
        let mut l = len;
        for layer in 0..self.channels.len() {
            if l < self.kernel {
                return Err(ConvDoesNotFit::Kernel { layer, len: l, kernel: self.kernel });
            }
            let conv = (l - self.kernel) / self.stride.max(1) + 1;
            let pooled = conv / self.pool.max(1);
            if pooled == 0 {
                return Err(ConvDoesNotFit::Pool { layer, len: conv, pool: self.pool });
            }
            out.push((l, conv, pooled));
            l = pooled;
        }
        Ok(out)
    }
}

/// Why a convolution stack does not fit series of a given length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvDoesNotFit {
    /// A layer's input is shorter than the kernel.
    #[error("layer {layer} gets {len} samples, fewer than the kernel size {kernel}")]
    Kernel {
        /// The layer.
        layer: usize,
        /// Samples it gets.
        len: usize,
        /// The kernel size.
        kernel: usize,
    },
    /// A layer's convolution is shorter than the pooling.
    #[error("layer {layer} makes {len} samples, fewer than the pooling size {pool}")]
    Pool {
        /// The layer.
        layer: usize,
        /// Samples it makes.
        len: usize,
        /// The pooling size.
        pool: usize,
    },
}

impl Default for Conv1dSpec {
    fn default() -> Self {
        Conv1dSpec { channels: vec![16, 16, 32], kernel: 7, stride: 1, pool: 2, dense: vec![128] }
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
    /// Weight of the KL term of `elbo` rising linearly from 0 at `from_epoch` to 1 at
    /// `to_epoch` (1-based); `null` keeps it at 1. Only for `loss: elbo`. Default null.
    pub kl_ramp: Option<KlRampSpec>,
    /// The order of an epoch's samples: `rows` (default) or `blocks` (for a training split far
    /// larger than memory).
    #[serde(skip_serializing_if = "Shuffle::is_rows")]
    pub shuffle: Shuffle,
    /// After training, recalibrate the posterior's marginals on the validation split so that
    /// its pairs' true parameters rank uniformly among the draws (quantile recalibration,
    /// Kuleshov et al. 2018); applies to draws, not to log q. Default false.
    #[serde(skip_serializing_if = "is_false")]
    pub recalibrate: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// How an epoch's samples are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shuffle {
    /// A fresh permutation of all rows.
    #[default]
    Rows,
    /// The blocks of `BLOCK_ROWS` consecutive rows permuted, and the rows within each block:
    /// a split read from disk is read a block at a time instead of a row at a time. The cache
    /// holds the rows of simulated and `split: shuffled` datasets in random order, so a block
    /// is a random subset of the split.
    Blocks,
}

impl Shuffle {
    /// Rows per block of `blocks`: 8192 rows of 256 float32 values are 8 MiB.
    pub const BLOCK_ROWS: usize = 8192;

    fn is_rows(&self) -> bool {
        *self == Shuffle::Rows
    }
}

/// A linear ramp of the ELBO's KL weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KlRampSpec {
    /// Last epoch with weight 0.
    #[serde(deserialize_with = "number::usize")]
    pub from_epoch: usize,
    /// First epoch with weight 1.
    #[serde(deserialize_with = "number::usize")]
    pub to_epoch: usize,
}

impl KlRampSpec {
    /// The KL weight during (1-based) `epoch`.
    pub fn weight(&self, epoch: usize) -> f32 {
        if epoch <= self.from_epoch {
            0.0
        } else if epoch >= self.to_epoch {
            1.0
        } else {
            (epoch - self.from_epoch) as f32 / (self.to_epoch - self.from_epoch) as f32
        }
    }
}

impl Default for TrainingSpec {
    fn default() -> Self {
        TrainingSpec {
            batch_size: 512,
            epochs: 60,
            optimizer: OptimizerSpec::default(),
            lr_schedule: LrSchedule::Cosine,
            early_stopping: Some(EarlyStoppingSpec::default()),
            kl_ramp: None,
            shuffle: Shuffle::Rows,
            recalibrate: false,
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
    /// Test injections in the P-P test (`pp`); at most n_test. Default 256.
    #[serde(deserialize_with = "number::usize")]
    pub pp_injections: usize,
    /// Posterior draws per injection for `pp` and `c2st`. Default 2000.
    #[serde(deserialize_with = "number::usize")]
    pub posterior_samples: usize,
    /// Injections compared with a reference posterior by `c2st`. Default 4.
    #[serde(deserialize_with = "number::usize")]
    pub reference_injections: usize,
    /// Estimator draws importance-sampled with the exact likelihood per reference injection
    /// (0: none). Default 5000.
    #[serde(deserialize_with = "number::usize")]
    pub importance_samples: usize,
    /// The built-in nested sampler that makes reference posteriors where no exact one exists.
    pub nested: NestedSpec,
}

/// Settings of the built-in nested sampler (constrained random walks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NestedSpec {
    /// Live points. Default 2000 (what matches bilby + dynesty to JS < 0.002 on a GW injection).
    #[serde(deserialize_with = "number::usize")]
    pub live: usize,
    /// Random-walk proposals per replacement. Default 100.
    #[serde(deserialize_with = "number::usize")]
    pub walks: usize,
    /// Stop when the remaining evidence is below this (log units). Default 0.05.
    #[serde(deserialize_with = "number::f64")]
    pub dlogz: f64,
}

impl Default for NestedSpec {
    fn default() -> Self {
        NestedSpec { live: 2000, walks: 100, dlogz: 0.05 }
    }
}

impl Default for EvalSpec {
    fn default() -> Self {
        EvalSpec {
            metrics: vec![Metric::TestNll, Metric::KlToTruth, Metric::LossCurve],
            kl_samples: 256,
            pp_injections: 256,
            posterior_samples: 2000,
            reference_injections: 4,
            importance_samples: 5000,
            nested: NestedSpec::default(),
        }
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
    /// plots/latent_space.png: latent means of the test data coloured by each parameter (cvae).
    LatentPlot,
    /// plots/corner_{0,1,2}.png: 10⁴ posterior samples of three test injections with their true values.
    Corner,
    /// Calibration: eval.parquet, plots/pp.png (P-P with binomial bands, KS p-values) and
    /// plots/sbc.png (rank histograms) over `pp_injections` test injections.
    Pp,
    /// Comparison with reference posteriors (exact, or the built-in nested sampler) on
    /// `reference_injections` injections: JS per marginal, kNN symmetric KL, C2ST,
    /// importance-sampling efficiency, overlaid corner plots.
    C2st,
}
