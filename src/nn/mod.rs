//! The network stage: density estimators q(x|y) built with dfdx.
//!
//! Every estimator kind is one file here, registered in `registry.rs`, and implements
//! [`DensityEstimator`] (or [`PointEstimator`] for regression) on z-scored values;
//! [`TrainedModel`] wraps one with the z-scoring of its training data so that other stages work
//! in physical units and never see a dfdx type. Weights are saved as safetensors with the settings that rebuild
//! the network (DINGO's habit: a checkpoint can rebuild itself).

/// The four accessors every estimator implements the same way, from its fields `d`,
/// `data_dim` and `params`.
macro_rules! estimator_accessors {
    () => {
        fn theta_dim(&self) -> usize {
            self.d
        }
        fn data_dim(&self) -> usize {
            self.data_dim
        }
        fn params(&self) -> &ParamSet {
            &self.params
        }
        fn params_mut(&mut self) -> &mut ParamSet {
            &mut self.params
        }
    };
}

/// Marks networks Send + Sync in a CUDA build, as they are on the CPU. dfdx 0.13's CUDA device
/// holds a cudarc 0.9 stream, a raw pointer that cudarc 0.9 does not mark Send or Sync although
/// the CUDA driver API is thread-safe (later cudarc releases mark it both); every other part of
/// a network already is both.
macro_rules! thread_safe_on_gpu {
    ($($t:ty),*) => {
        $(
            // SAFETY: see the macro: the only part that is not Send + Sync is the CUDA stream,
            // which the driver lets any thread use.
            #[cfg(feature = "cuda")]
            unsafe impl Send for $t {}
            // SAFETY: as above.
            #[cfg(feature = "cuda")]
            unsafe impl Sync for $t {}
        )*
    };
}

mod coupling;
mod dense;
mod embedding;
mod error;
pub mod heads;
mod kernels;
mod loss_kind;
mod mixture;
mod model;
#[cfg(any(feature = "cuda", test))]
mod on_device;
mod params;
pub mod recalibration;
#[macro_use]
mod registry;
mod solver;
mod spline;
mod vector_field;

pub use dense::{Dense, Mlp, PairMlp};
pub use embedding::{embedding_or_none, Conv1dSpec, ConvDoesNotFit, Embedded, Embedding, EmbeddingSpec, MlpEmbeddingSpec};
pub use loss_kind::LossKind;
pub use error::NnError;
pub use model::{build, DensityModel, ModelCard, TrainedModel, NN_VERSION};
pub use params::{NamedParam, ParamSet};
pub use recalibration::Recalibration;
pub use registry::{BuildContext, EstimatorConfig};
pub use solver::SolverSpec;

// The estimators, one file each: `file::Variant(Settings)`, in the order the spec's messages
// list them. This list is the registry; adding an estimator is its file and one line here.
estimators! {
    regression::Regression(RegressionSpec),
    gaussian::Gaussian(GaussianSpec),
    mdn::Mdn(MdnSpec),
    cvae::Cvae(CvaeSpec),
    maf::Maf(MafSpec),
    nsf::Nsf(NsfSpec),
    cvae_flow::CvaeFlow(CvaeFlowSpec),
    deep_ensemble::DeepEnsemble(DeepEnsembleSpec),
    fmpe::Fmpe(FmpeSpec),
    npse::Npse(NpseSpec),
}

use crate::math::SampleRng;
use dfdx::prelude::*;

/// The dfdx device ndelab trains on: the CPU, or an NVIDIA GPU in a `--features cuda` build.
#[cfg(not(feature = "cuda"))]
pub type Dev = Cpu;
/// The dfdx device ndelab trains on: the CPU, or an NVIDIA GPU in a `--features cuda` build.
#[cfg(feature = "cuda")]
pub type Dev = Cuda;
/// The device to build networks on: the CPU; in a CUDA build, GPU 0, shared by every network
/// of the process (an error naming the fix when there is none).
pub fn device() -> Result<Dev, NnError> {
    #[cfg(not(feature = "cuda"))]
    {
        Ok(Cpu::default())
    }
    #[cfg(feature = "cuda")]
    {
        struct Gpu(Dev);
        thread_safe_on_gpu!(Gpu);
        static GPU: std::sync::OnceLock<Gpu> = std::sync::OnceLock::new();
        if let Some(d) = GPU.get() {
            return Ok(d.0.clone());
        }
        let d = Cuda::try_build(0, 0).map_err(|e| NnError::NoDevice(format!("{e:?}")))?;
        Ok(GPU.get_or_init(|| Gpu(d)).0.clone())
    }
}

/// A runtime-shaped matrix.
pub type T2<Tp = NoneTape> = Tensor<(usize, usize), f32, Dev, Tp>;
/// A scalar.
pub type T0<Tp = NoneTape> = Tensor<(), f32, Dev, Tp>;
/// A runtime-sized vector (one value per row).
pub type T1<Tp = NoneTape> = Tensor<(usize,), f32, Dev, Tp>;

/// A tensor and a second handle to it on a fresh tape, for using one value twice: the tapes
/// merge again wherever the two uses meet.
pub(crate) fn fork<S: Shape, Tp: Tape<f32, Dev>>(t: Tensor<S, f32, Dev, Tp>) -> (Tensor<S, f32, Dev, Tp>, Tensor<S, f32, Dev, Tp>) {
    let (t, tape) = t.split_tape();
    (t.clone().put_tape(tape), t.retaped::<Tp>())
}

/// Each row of a row-major matrix (`cols` wide) repeated `times` times in place.
pub(crate) fn repeat_rows(v: &[f32], cols: usize, times: usize) -> Vec<f32> {
    v.chunks_exact(cols).flat_map(|r| std::iter::repeat_n(r, times).flatten().copied()).collect()
}

/// log of the mean of exp(terms), computed stably (importance-sampling estimates of log q).
pub fn log_mean_exp(terms: &[f64]) -> f64 {
    let mx = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if !mx.is_finite() {
        return mx;
    }
    mx + (terms.iter().map(|t| (t - mx).exp()).sum::<f64>() / terms.len() as f64).ln()
}

/// What a training step passes to a loss besides the batch.
pub struct LossContext {
    /// Randomness of the loss itself (reparameterised latents), seeded per step.
    pub rng: SampleRng,
    /// Weight of a KL term (the CVAE's β, ramped by `training.kl_ramp`); 1 for evaluation.
    pub kl_weight: f32,
    /// A training step (batch statistics in batch norm) rather than evaluation (running ones).
    pub training: bool,
    /// Whether the loss's `data` must pass gradients back: true behind an embedding, whose
    /// features are trained; false for raw data, so that first layers skip that product.
    pub data_grad: bool,
}

impl LossContext {
    /// The context of step `step` of a run with master seed `seed`.
    pub fn seeded(seed: u64, step: u64, kl_weight: f32) -> LossContext {
        LossContext { rng: crate::math::StreamFamily::new(seed, "loss").rng(step), kl_weight, training: false, data_grad: false }
    }

    /// The same, for a training step.
    pub fn training(mut self) -> LossContext {
        self.training = true;
        self
    }
}
/// A flat parameter tensor.
pub type Param = Tensor<(usize,), f32, Dev>;

/// What the training loop sees of any network: its parameters and the loss of a batch,
/// on z-scored θ and y.
pub trait Network: Send + Sync {
    /// Number of parameters θ.
    fn theta_dim(&self) -> usize;
    /// Length of a data vector y.
    fn data_dim(&self) -> usize;
    /// The trainable parameters.
    fn params(&self) -> &ParamSet;
    /// The trainable parameters, for the optimizer.
    fn params_mut(&mut self) -> &mut ParamSet;
    /// Mean training loss of a batch, on a tape for backpropagation.
    ///
    /// # Shapes
    /// `theta`: (batch, theta_dim), `data`: (batch, data_dim) → scalar.
    fn loss(&self, theta: T2, data: T2<OwnedTape<f32, Dev>>, ctx: &mut LossContext) -> T0<OwnedTape<f32, Dev>>;
    /// Folds what the last training step measured into the buffers (batch-norm running
    /// statistics); called by the training loop after every optimizer step.
    fn update_buffers(&mut self) {}
}

/// A conditional density estimator q(θ|y), working on z-scored θ and y (sbi's contract).
pub trait DensityEstimator: Network {
    /// log q(θ|y) of `rows` z-scored pairs (row-major).
    fn log_prob_z(&self, theta: &[f32], data: &[f32], rows: usize) -> Vec<f64>;
    /// `n` draws of z-scored θ for one z-scored y, row-major.
    fn sample_z(&self, n: usize, data: &[f32], rng: &mut SampleRng) -> Vec<f64>;
    /// Whether the estimator fits something on held-out data after training (`fit_after_training`).
    fn fits_after_training(&self) -> bool {
        false
    }
    /// Fits what is fitted after training on held-out rows (θ and y z-scored, row-major);
    /// returns a line saying what was fitted.
    fn fit_after_training(&mut self, _theta: &[f32], _data: &[f32], _rows: usize) -> Option<String> {
        None
    }
    /// (latent dimension, latent means of `rows` z-scored y) for latent-variable models.
    fn latent(&self, _data: &[f32], _rows: usize) -> Option<(usize, Vec<f64>)> {
        None
    }
}

/// A point estimator θ̂(y) (regression): no density, no samples.
pub trait PointEstimator: Network {
    /// Estimates of `rows` z-scored y, row-major (rows × theta_dim).
    fn predict_z(&self, data: &[f32], rows: usize) -> Vec<f64>;
}

/// A built network: a density estimator or a point estimator.
pub enum Estimator {
    /// q(θ|y): log densities and samples.
    Density(Box<dyn DensityEstimator>),
    /// θ̂(y): point estimates only.
    Point(Box<dyn PointEstimator>),
}

impl Estimator {
    /// The network, for training.
    pub fn network(&self) -> &dyn Network {
        match self {
            Estimator::Density(n) => n.as_ref(),
            Estimator::Point(n) => n.as_ref(),
        }
    }

    /// The network, for the optimizer.
    pub fn network_mut(&mut self) -> &mut dyn Network {
        match self {
            Estimator::Density(n) => n.as_mut(),
            Estimator::Point(n) => n.as_mut(),
        }
    }

    /// The density estimator, unless this is a point estimator.
    pub fn density(&self) -> Option<&dyn DensityEstimator> {
        match self {
            Estimator::Density(n) => Some(n.as_ref()),
            Estimator::Point(_) => None,
        }
    }

    /// The density estimator, to calibrate.
    pub fn density_mut(&mut self) -> Option<&mut dyn DensityEstimator> {
        match self {
            Estimator::Density(n) => Some(n.as_mut()),
            Estimator::Point(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{EmbeddingSpec, GaussianSpec, ModelSpec, NsfSpec};

    /// ∫∫ q(x|y) dx over a fine grid for a 2-parameter problem: every estimator is a density.
    fn integral(model: &ModelSpec) -> f64 {
        let net = small_density(model, 2, 3, 1, 7);
        let y = [0.3f32, -0.8, 1.1];
        let (lo, hi, n) = (-9.0f64, 9.0f64, 180usize);
        let h = (hi - lo) / n as f64;
        let mut theta = Vec::with_capacity(n * n * 2);
        for i in 0..n {
            for j in 0..n {
                theta.push((lo + (i as f64 + 0.5) * h) as f32);
                theta.push((lo + (j as f64 + 0.5) * h) as f32);
            }
        }
        let data: Vec<f32> = y.iter().copied().cycle().take(n * n * 3).collect();
        let mut total = 0.0;
        for (t, d) in theta.chunks(2 * 4096).zip(data.chunks(3 * 4096)) {
            total += net.log_prob_z(t, d, t.len() / 2).iter().map(|l| l.exp()).sum::<f64>();
        }
        total * h * h
    }

    /// A small network of every registered density estimator.
    pub(super) fn small_models() -> Vec<ModelSpec> {
        ModelSpec::examples().into_iter().filter(|m| !m.is_point_estimate()).collect()
    }

    /// A density estimator built from a small spec.
    pub(super) fn small_density(
        model: &ModelSpec,
        theta_dim: usize,
        data_dim: usize,
        channels: usize,
        seed: u64,
    ) -> Box<dyn DensityEstimator> {
        match build(model, theta_dim, data_dim, channels, seed) {
            Ok(Estimator::Density(net)) => net,
            Ok(Estimator::Point(_)) => panic!("{} is not a density estimator", model.kind()),
            Err(e) => panic!("{}: {e}", model.kind()),
        }
    }

    /// The training loss of the flows is the mean negative log density the evaluation path
    /// computes, and gradients reach every parameter, through an MLP or a convolutional
    /// embedding alike.
    #[test]
    fn losses_match_densities_and_train_every_parameter() {
        use crate::nn::Conv1dSpec;
        let conv = EmbeddingSpec::Conv1d(Conv1dSpec { channels: vec![4, 6], kernel: 5, stride: 1, pool: 2, dense: vec![8] });
        let models = [
            ModelSpec::Nsf(NsfSpec { blocks: 2, hidden: vec![8], bins: 4, tail_bound: 3.0, embedding: Some(conv.clone()) }),
            ModelSpec::Gaussian(GaussianSpec { hidden: vec![8], embedding: Some(conv) }),
            ModelSpec::Nsf(NsfSpec { blocks: 3, hidden: vec![8], bins: 5, tail_bound: 3.0, embedding: None }),
        ];
        let (d, channels, len, rows) = (3, 2, 32, 64);
        let dev = Dev::default();
        for model in models {
            let net = small_density(&model, d, channels * len, channels, 5);
            let theta: Vec<f32> = (0..rows * d).map(|i| 2.5 * (i as f32 * 0.77).sin()).collect();
            let data: Vec<f32> = (0..rows * channels * len).map(|i| (i as f32 * 0.13).cos()).collect();
            let lp = net.log_prob_z(&theta, &data, rows);
            let mean_nll = -lp.iter().sum::<f64>() / rows as f64;
            let t: T2 = dev.tensor_from_vec(theta, (rows, d));
            let y: T2 = dev.tensor_from_vec(data, (rows, channels * len));
            let loss = net.loss(t, y.leaky_traced(), &mut LossContext::seeded(0, 0, 1.0));
            assert!((loss.array() as f64 - mean_nll).abs() < 1e-4, "{}: loss {} vs {mean_nll}", model.kind(), loss.array());
            let grads = loss.backward();
            for p in &net.params().params {
                let g = grads.get(&p.tensor).as_vec();
                assert!(g.iter().any(|v| *v != 0.0), "{}: no gradient for {}", model.kind(), p.name);
            }
        }
    }

    #[test]
    fn every_estimator_integrates_to_one() {
        for model in small_models() {
            let z = integral(&model);
            crate::ui::note!("{}: ∫q = {z:.5}", model.kind());
            assert!((z - 1.0).abs() < 0.01, "{}: ∫q = {z}", model.kind());
        }
    }
}

#[cfg(test)]
mod sampling_tests {

    /// Samples follow the density: the probability of a box from 20 000 draws matches the
    /// integral of q over it.
    #[test]
    fn samples_follow_the_density() {
        for model in super::tests::small_models() {
            let net = super::tests::small_density(&model, 2, 3, 1, 11);
            let y = [0.5f32, 0.1, -0.7];
            let mut rng = crate::math::StreamFamily::new(5, "t").rng(0);
            let n = 20_000;
            let s = net.sample_z(n, &y, &mut rng);
            let inside = |a: f64, b: f64| (-0.5..1.0).contains(&a) && (-1.0..0.5).contains(&b);
            let frac = s.chunks_exact(2).filter(|r| inside(r[0], r[1])).count() as f64 / n as f64;
            let (m, h) = (120usize, 1.5 / 120.0);
            let mut theta = Vec::with_capacity(m * m * 2);
            for i in 0..m {
                for j in 0..m {
                    theta.push((-0.5 + (i as f64 + 0.5) * h) as f32);
                    theta.push((-1.0 + (j as f64 + 0.5) * h) as f32);
                }
            }
            let data: Vec<f32> = y.iter().copied().cycle().take(m * m * 3).collect();
            let mass = net.log_prob_z(&theta, &data, m * m).iter().map(|l| l.exp()).sum::<f64>() * h * h;
            assert!((frac - mass).abs() < 0.02, "{}: sampled {frac:.4}, integrated {mass:.4}", model.kind());
        }
    }
}
