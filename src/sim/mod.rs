//! The simulation stage: simulators θ → y with their priors, and, where the maths allows,
//! exact likelihoods and closed-form posteriors that evaluation can compare against.
//!
//! Reads the dataset section of a spec; writes nothing (the data stage caches what it makes).

mod linear_gaussian;
mod rng;

pub use linear_gaussian::LinearGaussian;
pub use rng::{SampleRng, StreamFamily};

use crate::math::MvNormal;
use crate::spec::{DatasetSpec, SimulatorKind};

/// One parameter of a simulator: its name and the support of its prior.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// Name used in specs, tables and plots.
    pub name: String,
    /// Lower end of the prior's support (may be -∞).
    pub lower: f64,
    /// Upper end of the prior's support (may be +∞).
    pub upper: f64,
}

/// A posterior that can be sampled and evaluated exactly.
pub trait Posterior: Send + Sync {
    /// log p(θ | y).
    fn log_prob(&self, theta: &[f64]) -> f64;
    /// One draw θ ~ p(θ | y).
    fn sample(&self, rng: &mut SampleRng) -> Vec<f64>;
}

impl Posterior for MvNormal {
    fn log_prob(&self, theta: &[f64]) -> f64 {
        MvNormal::log_prob(self, theta)
    }
    fn sample(&self, rng: &mut SampleRng) -> Vec<f64> {
        MvNormal::sample(self, rng)
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
    /// Draws θ from the prior into `theta`.
    fn sample_prior(&self, rng: &mut SampleRng, theta: &mut [f64]);
    /// Simulates y for `theta` into `data`.
    fn simulate(&self, theta: &[f64], rng: &mut SampleRng, data: &mut [f64]);
    /// log p(y | θ), where it can be computed exactly.
    fn log_likelihood(&self, _theta: &[f64], _data: &[f64]) -> Option<f64> {
        None
    }
    /// The exact posterior p(θ | y), where it has a closed form.
    fn reference_posterior(&self, _data: &[f64]) -> Option<Box<dyn Posterior>> {
        None
    }
    /// Whether [`Simulator::reference_posterior`] is available.
    fn has_reference_posterior(&self) -> bool {
        false
    }
}

/// Builds the simulator a resolved dataset section names.
pub fn build(spec: &DatasetSpec) -> Box<dyn Simulator> {
    match spec.simulator {
        SimulatorKind::LinearGaussian => Box::new(LinearGaussian::new(&spec.linear_gaussian.clone().unwrap_or_default())),
    }
}
