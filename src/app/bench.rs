//! `ndelab bench simulate` and `ndelab bench train`: one JSON line each, for bench/.

use super::Error;
use crate::train::bench::{step_rate, BenchSetup};
use crate::{spec, ui};
use std::path::Path;

/// Samples per second of the spec's simulator over `n` samples.
pub fn bench_simulate(spec: &Path, overrides: &[String], n: usize) -> Result<(), Error> {
    let plan = spec::load(spec, overrides)?;
    let sim = plan.dataset.simulator.build().map_err(crate::data::DataError::from)?;
    ui::answer(crate::sim::throughput(sim.as_ref(), n));
    Ok(())
}

/// Gradient steps per second of the spec's estimator on synthetic batches.
pub fn bench_train(spec: &Path, overrides: &[String], warmup: usize, steps: usize) -> Result<(), Error> {
    let plan = spec::load(spec, overrides)?;
    let setup = BenchSetup {
        model: &plan.model,
        training: &plan.training,
        simulator: &plan.dataset.simulator,
        parameters: plan.dataset.infer.len(),
        seed: plan.seed,
    };
    let rate = step_rate(&setup, warmup, steps.max(1))?;
    ui::answer(serde_json::to_string(&rate).unwrap_or_default());
    Ok(())
}
