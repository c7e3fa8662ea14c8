//! The simulation stage: simulators θ → y with their priors, and, where the maths allows,
//! exact likelihoods and closed-form posteriors that evaluation can compare against.
//!
//! Reads the dataset section of a spec; writes nothing (the data stage caches what it makes).

mod declared;
mod distance_prior;
mod error;
#[cfg(feature = "hdf5")]
mod hdf5;
mod noise;
pub mod prior;
#[macro_use]
pub mod registry;

pub use error::SimError;
pub use gw::GwBbh;
pub use linear_gaussian::{LinearGaussian, MatrixKind};
pub use noise::NoiseMode;
pub use prior::Prior;
pub use registry::SimulatorConfig;
use crate::math::{SampleRng, StreamFamily};

// The simulators, one file (or folder) each: `file::Variant(Settings)`, in the order the
// spec's messages list them. This list is the registry; adding a simulator is its file and
// one line here.
simulators! {
    linear_gaussian::LinearGaussian(LinearGaussianSpec),
    gw::GwBbh(GwBbhSpec),
    gw_network::GwNetwork(GwNetworkSpec),
    gaussian_linear::GaussianLinear(GaussianLinearSpec),
    two_moons::TwoMoons(TwoMoonsSpec),
    command::Command(CommandSpec),
    files::Files(FilesSpec),
    ringdown::Ringdown(RingdownSpec),
}

use crate::math::MvNormal;

/// One parameter of a simulator: its name and the support of its prior.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// Name used in specs, tables and plots.
    pub name: String,
    /// Lower end of the prior's support (may be -∞).
    pub lower: f64,
    /// Upper end of the prior's support (may be +∞).
    pub upper: f64,
    /// Period of an angle whose prior covers one whole turn (phase 2π, polarisation π).
    pub period: Option<f64>,
}

/// A posterior that can be sampled and evaluated exactly.
pub trait Posterior: Send + Sync {
    /// log p(θ | y).
    fn log_prob(&self, theta: &[f64]) -> f64;
    /// One draw θ ~ p(θ | y).
    fn sample(&self, rng: &mut SampleRng) -> Vec<f64>;
    /// The marginal over the parameters `keep` (indices, in order), where it has a closed form.
    fn marginal(&self, _keep: &[usize]) -> Option<Box<dyn Posterior>> {
        None
    }
}

impl Posterior for MvNormal {
    fn log_prob(&self, theta: &[f64]) -> f64 {
        MvNormal::log_prob(self, theta)
    }
    fn sample(&self, rng: &mut SampleRng) -> Vec<f64> {
        MvNormal::sample(self, rng)
    }
    fn marginal(&self, keep: &[usize]) -> Option<Box<dyn Posterior>> {
        Some(Box::new(MvNormal::marginal(self, keep)))
    }
}

/// A simulator: a prior over θ and a stochastic map θ → y.
pub trait Simulator: Send + Sync {
    /// Version string of the simulator's output; part of the dataset key.
    fn version(&self) -> &'static str;
    /// The parameters θ, in order.
    fn parameters(&self) -> &[Parameter];
    /// Length of one data vector y.
    fn data_dim(&self) -> usize;
    /// Number of equal-length series y is made of, one after the other (detectors); 1 for a
    /// plain vector. Convolutional embeddings read each series as a channel.
    fn data_channels(&self) -> usize {
        1
    }
    /// Pairs (a, b) of parameter indices whose prior holds only θ[a] ≥ θ[b] (gw_bbh's m1 ≥ m2):
    /// a posterior's draws that break the order lie outside the support.
    fn ordered(&self) -> Vec<(usize, usize)> {
        Vec::new()
    }
    /// Draws θ from the prior into `theta`.
    fn sample_prior(&self, rng: &mut SampleRng, theta: &mut [f64]);
    /// The noise-free data (signal) for `theta`; fails where the model cannot be evaluated.
    fn simulate_signal(&self, theta: &[f64], signal: &mut [f64]) -> Result<(), SimError>;
    /// One realisation of the additive noise.
    fn sample_noise(&self, rng: &mut SampleRng, noise: &mut [f64]);
    /// y = signal + noise for `theta`.
    fn simulate(&self, theta: &[f64], rng: &mut SampleRng, data: &mut [f64]) -> Result<(), SimError> {
        self.simulate_signal(theta, data)?;
        let mut noise = vec![0.0; data.len()];
        self.sample_noise(rng, &mut noise);
        data.iter_mut().zip(noise).for_each(|(d, n)| *d += n);
        Ok(())
    }
    /// Optimal signal-to-noise ratio of a noise-free signal, where it is defined.
    fn optimal_snr(&self, _signal: &[f64]) -> Option<f64> {
        None
    }
    /// Reference comparisons (`c2st`) use the test injections at least this loud, where a
    /// threshold applies; calibration (P-P) uses every test injection, drawn from the prior.
    fn min_reference_snr(&self) -> Option<f64> {
        None
    }
    /// log p(y | θ), where it can be computed exactly.
    fn log_likelihood(&self, _theta: &[f64], _data: &[f64]) -> Option<f64> {
        None
    }
    /// Maps a point u of the unit cube (one coordinate per parameter) to θ so that u uniform
    /// gives θ from the prior: what nested sampling explores. `None` where not available.
    fn prior_transform(&self, _u: &[f64], _theta: &mut [f64]) -> Option<()> {
        None
    }
    /// log π(θ), normalised; −∞ outside the support.
    fn log_prior(&self, _theta: &[f64]) -> Option<f64> {
        None
    }
    /// ln of the share of the prior transform's unit cube where the prior lives: below 0 where
    /// a constraint the transform cannot express (bilby's on the component masses) cuts the
    /// prior, and the likelihood is −∞ outside it. Nested sampling's evidence is divided by it.
    fn log_prior_volume(&self) -> f64 {
        0.0
    }
    /// The exact posterior p(θ | y), where it has a closed form.
    fn reference_posterior(&self, _data: &[f64]) -> Option<Box<dyn Posterior>> {
        None
    }
    /// Whether [`Simulator::reference_posterior`] is available.
    fn has_reference_posterior(&self) -> bool {
        false
    }
    /// Rows `start..end` of split `split` (`train`, `val` or `test`, whose first row is row
    /// `offset` of the whole dataset) of a dataset with seed `seed`, made as one block by an outside source (an external program, files) instead of
    /// sample by sample: (θ, y), row-major, y with its noise. `None` for simulators that
    /// simulate sample by sample.
    fn simulate_block(
        &self,
        _seed: u64,
        _split: &str,
        _offset: usize,
        _start: usize,
        _end: usize,
    ) -> Option<Result<(Vec<f32>, Vec<f32>), SimError>> {
        None
    }
    /// Rows per block of a block simulator (each block may run in parallel with the others);
    /// `None` for simulators that simulate sample by sample.
    fn block_rows(&self) -> Option<usize> {
        None
    }
    /// The fixed observations of a benchmark task, (true θ, y) each: reference comparisons are
    /// made on these rather than on test injections. Empty for most simulators.
    fn observations(&self) -> Vec<(Vec<f64>, Vec<f64>)> {
        Vec::new()
    }
}

/// Speed of a simulator: noise-free signals per second on one thread and on all of rayon's
/// threads, each sample drawn from its own stream; one JSON line.
pub fn throughput(sim: &dyn Simulator, n: usize) -> String {
    use rayon::prelude::*;
    let streams = StreamFamily::new(0, "bench");
    let one = |i: usize| {
        let mut rng = streams.rng(i as u64);
        let mut theta = vec![0.0; sim.parameters().len()];
        let mut signal = vec![0.0; sim.data_dim()];
        sim.sample_prior(&mut rng, &mut theta);
        sim.simulate_signal(&theta, &mut signal).is_ok() as usize
    };
    let start = std::time::Instant::now();
    let ok: usize = (0..n).map(one).sum();
    let single = n as f64 / start.elapsed().as_secs_f64();
    let start = std::time::Instant::now();
    let ok_par: usize = (0..n).into_par_iter().map(one).sum();
    let parallel = n as f64 / start.elapsed().as_secs_f64();
    serde_json::json!({
        "simulator": sim.version(),
        "n": n,
        "failed": (n - ok) + (n - ok_par),
        "single_thread_per_s": single.round(),
        "threads": rayon::current_num_threads(),
        "all_threads_per_s": parallel.round(),
    })
    .to_string()
}
