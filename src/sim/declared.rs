//! What every simulator of declared parameters shares (an external program, files): the
//! priors come from the spec, the data come in blocks, and there is no noise model or
//! likelihood of ndelab's own. Such a simulator says only how it makes a block.

use super::prior::{log_density_all, sample_all, transform_all, ParameterSpec};
use super::{Parameter, SampleRng, SimError, Simulator};

/// A simulator whose parameters the spec declares and whose data come in blocks.
pub(super) trait DeclaredBlocks: Send + Sync {
    /// The simulator in messages ("the command simulator").
    const NAME: &'static str;
    /// Version of its data; part of the dataset key.
    fn version(&self) -> &'static str;
    /// The declared parameters with their priors, fixed ones included.
    fn declared(&self) -> &[ParameterSpec];
    /// The sampled parameters (θ's columns).
    fn sampled(&self) -> &[Parameter];
    /// Values per sample.
    fn data_dim(&self) -> usize;
    /// Channels per sample.
    fn data_channels(&self) -> usize;
    /// Rows `start..end` of split `split` (whose first row is row `offset` of all splits).
    fn block(&self, seed: u64, split: &str, offset: usize, start: usize, end: usize) -> Result<(Vec<f32>, Vec<f32>), SimError>;
    /// Rows per block.
    fn rows_per_block(&self) -> usize;
}

impl<T: DeclaredBlocks> Simulator for T {
    fn version(&self) -> &'static str {
        DeclaredBlocks::version(self)
    }

    fn parameters(&self) -> &[Parameter] {
        self.sampled()
    }

    fn data_dim(&self) -> usize {
        DeclaredBlocks::data_dim(self)
    }

    fn data_channels(&self) -> usize {
        DeclaredBlocks::data_channels(self)
    }

    fn sample_prior(&self, rng: &mut SampleRng, theta: &mut [f64]) {
        sample_all(self.declared(), rng, theta);
    }

    fn simulate_signal(&self, _theta: &[f64], _signal: &mut [f64]) -> Result<(), SimError> {
        Err(SimError::BlocksOnly(T::NAME))
    }

    fn sample_noise(&self, _rng: &mut SampleRng, noise: &mut [f64]) {
        noise.fill(0.0);
    }

    fn prior_transform(&self, u: &[f64], theta: &mut [f64]) -> Option<()> {
        transform_all(self.declared(), u, theta);
        Some(())
    }

    fn log_prior(&self, theta: &[f64]) -> Option<f64> {
        Some(log_density_all(self.declared(), theta))
    }

    fn simulate_block(&self, seed: u64, split: &str, offset: usize, start: usize, end: usize) -> Option<Result<(Vec<f32>, Vec<f32>), SimError>> {
        Some(self.block(seed, split, offset, start, end))
    }

    fn block_rows(&self) -> Option<usize> {
        Some(self.rows_per_block())
    }
}
