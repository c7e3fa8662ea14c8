//! Reference posteriors for one observation, to check an estimator against: exact draws where
//! the simulator has a closed form, the built-in nested sampler on the exact likelihood, or
//! samples a user brings (.npy, .csv, Parquet; e.g. from bilby).

mod files;
mod nested;

pub use files::{read_observations, read_samples, write_samples_npy, SamplesFileError};
pub use nested::{nested_sample, NestedRun, NestedSettings, NestedSpec};

use crate::math::StreamFamily;
use crate::sim::Simulator;
use std::time::Instant;

/// Reference samples of the inferred parameters for one observation.
#[derive(Debug, Clone)]
pub struct ReferenceSamples {
    /// Draws, row-major, one column per inferred parameter.
    pub samples: Vec<f64>,
    /// Where they came from: `exact`, `nested` or the file.
    pub source: String,
    /// log evidence and its standard error (nested sampling only; up to the likelihood's constant).
    pub log_z: Option<(f64, f64)>,
    /// Likelihood calls (nested sampling only).
    pub calls: usize,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// `count` exact posterior draws for data `y`, marginalised to the `keep` parameters, where the
/// simulator has a closed-form posterior.
pub fn exact(sim: &dyn Simulator, y: &[f64], keep: &[usize], count: usize, seed: u64, index: u64) -> Option<ReferenceSamples> {
    let t = Instant::now();
    let full = sim.reference_posterior(y)?;
    let post = if keep.iter().copied().eq(0..sim.parameters().len()) { full } else { full.marginal(keep)? };
    let mut rng = StreamFamily::new(seed, "reference/exact").rng(index);
    let samples = (0..count).flat_map(|_| post.sample(&mut rng)).collect();
    Some(ReferenceSamples { samples, source: "exact".into(), log_z: None, calls: 0, seconds: t.elapsed().as_secs_f64() })
}

/// Posterior draws for data `y` by nested sampling of the exact likelihood over every sampled
/// parameter (so that the ones not inferred, such as the phase, are marginalised), returning
/// `count` equally weighted draws of the `keep` parameters. `None` where the simulator has no
/// likelihood or prior transform, or where the likelihood vanishes everywhere.
pub fn nested(
    sim: &dyn Simulator,
    y: &[f64],
    keep: &[usize],
    count: usize,
    settings: NestedSettings,
    seed: u64,
    index: u64,
) -> Option<ReferenceSamples> {
    let t = Instant::now();
    let params = sim.parameters();
    let dim = params.len();
    let mut probe = vec![0.0; dim];
    sim.prior_transform(&vec![0.5; dim], &mut probe)?;
    sim.log_likelihood(&probe, y)?;
    let periodic: Vec<bool> = params.iter().map(|p| p.period.is_some()).collect();
    let log_like = |u: &[f64]| {
        let mut theta = vec![0.0; dim];
        match sim.prior_transform(u, &mut theta).and_then(|_| sim.log_likelihood(&theta, y)) {
            Some(l) if l.is_finite() => l,
            _ => f64::NEG_INFINITY,
        }
    };
    let mut rng = StreamFamily::new(seed, "reference/nested").rng(index);
    let run = nested_sample(dim, &periodic, log_like, settings, &mut rng);
    if !run.log_z.is_finite() {
        // The likelihood is zero everywhere the prior reaches: there is no posterior to draw.
        return None;
    }
    let cube = run.resample(count, dim, &mut rng);
    let mut samples = Vec::with_capacity(count * keep.len());
    let mut theta = vec![0.0; dim];
    for u in cube.chunks_exact(dim) {
        sim.prior_transform(u, &mut theta)?;
        samples.extend(keep.iter().map(|&k| theta[k]));
    }
    Some(ReferenceSamples {
        samples,
        source: "nested".into(),
        // Nested sampling's volume is the whole cube; the prior is the part that it keeps.
        log_z: Some((run.log_z - sim.log_prior_volume(), run.log_z_err)),
        calls: run.calls,
        seconds: t.elapsed().as_secs_f64(),
    })
}
