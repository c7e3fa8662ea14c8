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
    /// Parameters the estimator infers, by name; the others are marginalised. Default: all
    /// sampled parameters for `linear_gaussian`; m1, m2, d_L, t0 for `gw_bbh` (phase marginalised).
    #[serde(default)]
    pub infer: Option<Vec<String>>,
    /// `fixed`: one noise realisation per sample, cached. `fresh`: the noise-free signals are
    /// cached and new noise is drawn every epoch, so the network never sees the same noisy
    /// sample twice (less overfitting at equal simulation cost). Default: fresh for `gw_bbh`,
    /// fixed for `linear_gaussian`. Validation and test noise is always fixed.
    #[serde(default)]
    pub noise: Option<NoiseMode>,
    /// Settings of the `linear_gaussian` simulator (all optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear_gaussian: Option<LinearGaussianSpec>,
    /// Settings of the `gw_bbh` simulator (all optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw_bbh: Option<GwBbhSpec>,
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

/// The simulators ndelab knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimulatorKind {
    /// x ~ N(0, prior_std² I), y = A x + ε, ε ~ N(0, noise_std² I): Gaussian posterior in closed form.
    LinearGaussian,
    /// Whitened strain of binary black holes in ground-based detectors (Gabbard et al.'s benchmark).
    GwBbh,
}

impl SimulatorKind {
    /// The spec name of the simulator.
    pub fn as_str(self) -> &'static str {
        match self {
            SimulatorKind::LinearGaussian => "linear_gaussian",
            SimulatorKind::GwBbh => "gw_bbh",
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
        LinearGaussianSpec { theta_dim: 5, data_dim: 10, matrix: MatrixKind::Random, matrix_seed: 0, prior_std: 1.0, noise_std: 1.0 }
    }
}

/// The `gw_bbh` simulator: Gabbard et al.'s benchmark (arXiv:1909.06296) by default — H1,
/// 256 Hz, 1 s, IMRPhenomD without spins, the aLIGO design PSD, whitened as bilby does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GwBbhSpec {
    /// Detectors, each giving one whitened segment: any of H1, L1, V1. Default [H1].
    pub detectors: Vec<String>,
    /// Sampling rate in Hz. Default 256.
    #[serde(deserialize_with = "number::f64")]
    pub sampling_frequency: f64,
    /// Segment length in seconds. Default 1.
    #[serde(deserialize_with = "number::f64")]
    pub duration: f64,
    /// Lowest frequency of the signal in Hz. Default 20.
    #[serde(deserialize_with = "number::f64")]
    pub f_min: f64,
    /// Reference frequency of the phase in Hz. Default 20.
    #[serde(deserialize_with = "number::f64")]
    pub f_ref: f64,
    /// Waveform model: IMRPhenomD, TaylorF2 or IMRPhenomXAS. Default IMRPhenomD.
    pub approximant: Approximant,
    /// GPS reference time; the segment is [reference_time − duration/2, reference_time + duration/2). Default 1126259642.5.
    #[serde(deserialize_with = "number::f64")]
    pub reference_time: f64,
    /// Noise PSD. Default (and only): aLIGO_ZERO_DET_high_P, the aLIGO design curve bilby uses.
    pub psd: PsdKind,
    /// Test signals are redrawn until their network optimal SNR reaches this (0 keeps all). Default 8.
    #[serde(deserialize_with = "number::f64")]
    pub min_test_snr: f64,
    /// Priors: a number fixes a parameter, `{ min, max }` samples it uniformly.
    pub priors: GwPriors,
}

impl Default for GwBbhSpec {
    fn default() -> Self {
        GwBbhSpec {
            detectors: vec!["H1".into()],
            sampling_frequency: 256.0,
            duration: 1.0,
            f_min: 20.0,
            f_ref: 20.0,
            approximant: Approximant::IMRPhenomD,
            reference_time: 1_126_259_642.5,
            psd: PsdKind::AligoZeroDetHighP,
            min_test_snr: 8.0,
            priors: GwPriors::default(),
        }
    }
}

/// Waveform models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::upper_case_acronyms)]
pub enum Approximant {
    /// Post-Newtonian inspiral (ends at the ISCO).
    TaylorF2,
    /// Aligned-spin inspiral, merger and ringdown (Husa et al., Khan et al. 2016).
    IMRPhenomD,
    /// Aligned-spin IMRPhenomX, dominant mode (Pratten et al. 2020).
    IMRPhenomXAS,
}

/// Noise PSDs shipped with ndelab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PsdKind {
    /// data/aLIGO_ZERO_DET_high_P_psd.txt (LIGO-T0900288).
    #[serde(rename = "aLIGO_ZERO_DET_high_P")]
    AligoZeroDetHighP,
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

/// Priors of the `gw_bbh` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GwPriors {
    /// Primary mass, solar masses (m1 ≥ m2 is enforced by swapping). Default U[35, 80].
    pub m1: Prior,
    /// Secondary mass, solar masses. Default U[35, 80].
    pub m2: Prior,
    /// Luminosity distance, Mpc. Default U[1000, 3000].
    #[serde(rename = "d_L")]
    pub d_l: Prior,
    /// Merger time at the geocentre after the reference time, s. Default U[0.15, 0.35].
    pub t0: Prior,
    /// Orbital phase at f_ref, rad. Default U[0, 2π).
    pub phase: Prior,
    /// Right ascension, rad. Default 1.375.
    pub ra: Prior,
    /// Declination, rad. Default −1.2108.
    pub dec: Prior,
    /// Polarisation angle, rad. Default 0.
    pub psi: Prior,
    /// Inclination (angle between total angular momentum and line of sight), rad. Default 0 (face-on).
    pub theta_jn: Prior,
}

impl Default for GwPriors {
    fn default() -> Self {
        GwPriors {
            m1: Prior::Uniform { min: 35.0, max: 80.0 },
            m2: Prior::Uniform { min: 35.0, max: 80.0 },
            d_l: Prior::Uniform { min: 1000.0, max: 3000.0 },
            t0: Prior::Uniform { min: 0.15, max: 0.35 },
            phase: Prior::Uniform { min: 0.0, max: 2.0 * std::f64::consts::PI },
            ra: Prior::Fixed(1.375),
            dec: Prior::Fixed(-1.2108),
            psi: Prior::Fixed(0.0),
            theta_jn: Prior::Fixed(0.0),
        }
    }
}

impl GwPriors {
    /// (name, prior) in the order of the simulator's parameters.
    pub fn named(&self) -> [(&'static str, Prior); 9] {
        [
            ("m1", self.m1),
            ("m2", self.m2),
            ("d_L", self.d_l),
            ("t0", self.t0),
            ("phase", self.phase),
            ("ra", self.ra),
            ("dec", self.dec),
            ("psi", self.psi),
            ("theta_jn", self.theta_jn),
        ]
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
    /// A mixture of full-covariance Gaussians with weights (Chua & Vallisneri 2020).
    Mdn(MdnSpec),
    /// A conditional variational autoencoder (Gabbard et al. 2019, "VItamin").
    Cvae(CvaeSpec),
    /// A conditional masked autoregressive flow (Papamakarios et al. 2017; Green et al. 2020).
    Maf(MafSpec),
    /// A conditional neural spline flow with rational-quadratic couplings (Durkan et al. 2019).
    Nsf(NsfSpec),
    /// The CVAE with a flow prior r(z|y) and a flow decoder r(x|z,y) ("CVAE+", Green et al. 2020).
    CvaeFlow(CvaeFlowSpec),
    /// A point estimate trained with the mean squared error: no posterior.
    Regression(RegressionSpec),
}

impl<'de> Deserialize<'de> for ModelSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (kind, rest) = tagged::split_kind(d, &["regression", "gaussian", "mdn", "cvae", "maf", "nsf", "cvae_flow"])?;
        match kind.as_str() {
            "regression" => Ok(ModelSpec::Regression(tagged::variant(rest)?)),
            "maf" => Ok(ModelSpec::Maf(tagged::variant(rest)?)),
            "mdn" => Ok(ModelSpec::Mdn(tagged::variant(rest)?)),
            "cvae" => Ok(ModelSpec::Cvae(tagged::variant(rest)?)),
            "nsf" => Ok(ModelSpec::Nsf(tagged::variant(rest)?)),
            "cvae_flow" => Ok(ModelSpec::CvaeFlow(tagged::variant(rest)?)),
            _ => Ok(ModelSpec::Gaussian(tagged::variant(rest)?)),
        }
    }
}

impl ModelSpec {
    /// The spec name of the model kind.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelSpec::Gaussian(_) => "gaussian",
            ModelSpec::Mdn(_) => "mdn",
            ModelSpec::Cvae(_) => "cvae",
            ModelSpec::Maf(_) => "maf",
            ModelSpec::Nsf(_) => "nsf",
            ModelSpec::CvaeFlow(_) => "cvae_flow",
            ModelSpec::Regression(_) => "regression",
        }
    }

    /// The network that embeds y, if any.
    pub fn embedding(&self) -> Option<&EmbeddingSpec> {
        match self {
            ModelSpec::Gaussian(m) => m.embedding.as_ref(),
            ModelSpec::Mdn(m) => m.embedding.as_ref(),
            ModelSpec::Cvae(m) => m.embedding.as_ref(),
            ModelSpec::Maf(m) => m.embedding.as_ref(),
            ModelSpec::Nsf(m) => m.embedding.as_ref(),
            ModelSpec::CvaeFlow(m) => m.embedding.as_ref(),
            ModelSpec::Regression(m) => m.embedding.as_ref(),
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
    /// Network that embeds the data y before the estimator sees it (MLP or 1-D CNN). Default none.
    #[serde(deserialize_with = "embedding_or_none")]
    pub embedding: Option<EmbeddingSpec>,
}

impl Default for GaussianSpec {
    fn default() -> Self {
        GaussianSpec { hidden: vec![64, 64], embedding: None }
    }
}

/// Settings of the `mdn` estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MdnSpec {
    /// Widths of the hidden layers of the MLP (ReLU). Default [64, 64].
    #[serde(deserialize_with = "number::vec_usize")]
    pub hidden: Vec<usize>,
    /// Number of mixture components K. Default 4.
    #[serde(deserialize_with = "number::usize")]
    pub components: usize,
    /// Network that embeds the data y before the estimator sees it (MLP or 1-D CNN). Default none.
    #[serde(deserialize_with = "embedding_or_none")]
    pub embedding: Option<EmbeddingSpec>,
}

impl Default for MdnSpec {
    fn default() -> Self {
        MdnSpec { hidden: vec![64, 64], components: 4, embedding: None }
    }
}

/// Settings of the `cvae` estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CvaeSpec {
    /// Dimension of the latent space z (8 in Gabbard et al.; 2 for pictures). Default 8.
    #[serde(deserialize_with = "number::usize")]
    pub latent_dim: usize,
    /// Widths of the hidden layers of each of the three networks (ReLU). Default [128, 128].
    #[serde(deserialize_with = "number::vec_usize")]
    pub hidden: Vec<usize>,
    /// Importance samples per point when estimating log q(x|y). Default 64.
    #[serde(deserialize_with = "number::usize")]
    pub is_samples: usize,
    /// Network that embeds the data y before the estimator sees it (MLP or 1-D CNN). Default none.
    #[serde(deserialize_with = "embedding_or_none")]
    pub embedding: Option<EmbeddingSpec>,
}

impl Default for CvaeSpec {
    fn default() -> Self {
        CvaeSpec { latent_dim: 8, hidden: vec![128, 128], is_samples: 64, embedding: None }
    }
}

/// Settings of the `regression` estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegressionSpec {
    /// Widths of the hidden layers of the MLP (ReLU). Default [64, 64].
    #[serde(deserialize_with = "number::vec_usize")]
    pub hidden: Vec<usize>,
    /// Network that embeds the data y before the estimator sees it (MLP or 1-D CNN). Default none.
    #[serde(deserialize_with = "embedding_or_none")]
    pub embedding: Option<EmbeddingSpec>,
}

impl Default for RegressionSpec {
    fn default() -> Self {
        RegressionSpec { hidden: vec![64, 64], embedding: None }
    }
}

/// Settings of the `maf` estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MafSpec {
    /// Number of MADE blocks (the parameter order is reversed between them). Default 5.
    #[serde(deserialize_with = "number::usize")]
    pub blocks: usize,
    /// Hidden widths of each MADE (ReLU). Default [64, 64].
    #[serde(deserialize_with = "number::vec_usize")]
    pub hidden: Vec<usize>,
    /// Network that embeds y for every block: a list of MLP widths or a `conv1d` section. Default [64, 64].
    #[serde(deserialize_with = "embedding_or_none")]
    pub embedding: Option<EmbeddingSpec>,
    /// Batch normalisation between blocks (batch statistics in training, running averages
    /// otherwise; Papamakarios et al. 2017). Default false.
    pub batch_norm: bool,
}

impl Default for MafSpec {
    fn default() -> Self {
        MafSpec { blocks: 5, hidden: vec![64, 64], embedding: Some(EmbeddingSpec::mlp(vec![64, 64])), batch_norm: false }
    }
}

/// Settings of the `nsf` estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NsfSpec {
    /// Number of rational-quadratic coupling transforms (the halves swap between them). Default 5.
    #[serde(deserialize_with = "number::usize")]
    pub blocks: usize,
    /// Hidden widths of each coupling's conditioner network (ReLU). Default [64, 64].
    #[serde(deserialize_with = "number::vec_usize")]
    pub hidden: Vec<usize>,
    /// Bins of each spline. Default 8.
    #[serde(deserialize_with = "number::usize")]
    pub bins: usize,
    /// The splines act on [−B, B] of the z-scored parameters and are the identity outside. Default 5.
    #[serde(deserialize_with = "number::f64")]
    pub tail_bound: f64,
    /// Network that embeds y for every block: a list of MLP widths or a `conv1d` section. Default [64, 64].
    #[serde(deserialize_with = "embedding_or_none")]
    pub embedding: Option<EmbeddingSpec>,
}

impl Default for NsfSpec {
    fn default() -> Self {
        NsfSpec { blocks: 5, hidden: vec![64, 64], bins: 8, tail_bound: 5.0, embedding: Some(EmbeddingSpec::mlp(vec![64, 64])) }
    }
}

/// Settings of the `cvae_flow` estimator ("CVAE+").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CvaeFlowSpec {
    /// Dimension of the latent space z. Default 8.
    #[serde(deserialize_with = "number::usize")]
    pub latent_dim: usize,
    /// Hidden widths of the encoder q(z|x,y) and of every coupling conditioner (ReLU). Default [128, 128].
    #[serde(deserialize_with = "number::vec_usize")]
    pub hidden: Vec<usize>,
    /// Coupling transforms in each of the two flows (the prior r(z|y) and the decoder r(x|z,y)). Default 4.
    #[serde(deserialize_with = "number::usize")]
    pub blocks: usize,
    /// Bins of each spline. Default 8.
    #[serde(deserialize_with = "number::usize")]
    pub bins: usize,
    /// Importance samples per point when estimating log q(x|y). Default 64.
    #[serde(deserialize_with = "number::usize")]
    pub is_samples: usize,
    /// Network that embeds y for all three parts: a list of MLP widths or a `conv1d` section. Default [128, 128].
    #[serde(deserialize_with = "embedding_or_none")]
    pub embedding: Option<EmbeddingSpec>,
}

impl Default for CvaeFlowSpec {
    fn default() -> Self {
        CvaeFlowSpec {
            latent_dim: 8,
            hidden: vec![128, 128],
            blocks: 4,
            bins: 8,
            is_samples: 64,
            embedding: Some(EmbeddingSpec::mlp(vec![128, 128])),
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
fn embedding_or_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<EmbeddingSpec>, D::Error> {
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
    pub fn lengths(&self, len: usize) -> Result<Vec<(usize, usize, usize)>, String> {
        let mut out = Vec::new();
        let mut l = len;
        for i in 0..self.channels.len() {
            if l < self.kernel {
                return Err(format!("layer {i} gets {l} samples, fewer than the kernel size {}", self.kernel));
            }
            let conv = (l - self.kernel) / self.stride + 1;
            let pooled = conv / self.pool;
            if pooled == 0 {
                return Err(format!("layer {i} makes {conv} samples, fewer than the pooling size {}", self.pool));
            }
            out.push((l, conv, pooled));
            l = pooled;
        }
        Ok(out)
    }
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
}

impl Default for EvalSpec {
    fn default() -> Self {
        EvalSpec {
            metrics: vec![Metric::TestNll, Metric::KlToTruth, Metric::LossCurve],
            kl_samples: 256,
            pp_injections: 256,
            posterior_samples: 2000,
            reference_injections: 4,
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
