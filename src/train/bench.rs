//! Training speed: gradient steps per second of a spec's estimator on synthetic z-scored
//! batches (standard-normal θ and y, a pool of eight cycled), the figure `make bench` sets
//! beside PyTorch's for the same architecture. The step is the one training runs: loss,
//! backward pass, Adam.

use super::{gradient_step, Adam};
use crate::data::Batch;
use crate::nn::{self, LossContext, NnError};
use crate::math::StreamFamily;
use super::{OptimizerSpec, TrainingSpec};
use crate::nn::ModelSpec;
use crate::sim::SimulatorSpec;
use rand::Rng;
use rand_distr::StandardNormal;
use std::time::Instant;

/// What one measurement found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepRate {
    /// The estimator's kind.
    pub kind: &'static str,
    /// Its trainable parameters.
    pub params: usize,
    /// Rows per batch.
    pub batch: usize,
    /// rayon threads.
    pub threads: usize,
    /// Steps timed (after the warm-up).
    pub steps: usize,
    /// Gradient steps per second.
    pub steps_per_s: f64,
}

/// What to time: an estimator inferring `parameters` parameters from a simulator's data,
/// trained as `training` says.
pub struct BenchSetup<'a> {
    /// The estimator.
    pub model: &'a ModelSpec,
    /// Batch size and optimizer.
    pub training: &'a TrainingSpec,
    /// The simulator, for the shape of its data.
    pub simulator: &'a SimulatorSpec,
    /// Parameters inferred.
    pub parameters: usize,
    /// Seed of the initialisation and of the synthetic batches.
    pub seed: u64,
}

/// Times `steps` gradient steps of the estimator after `warmup` untimed ones.
pub fn step_rate(setup: &BenchSetup, warmup: usize, steps: usize) -> Result<StepRate, NnError> {
    let (channels, per_channel) = setup.simulator.data_shape();
    let (d, m, batch) = (setup.parameters, channels * per_channel, setup.training.batch_size);
    let mut est = nn::build(setup.model, d, m, channels, setup.seed)?;
    let net = est.network_mut();
    let OptimizerSpec::Adam(cfg) = &setup.training.optimizer;
    let mut adam = Adam::new(cfg, net.params());
    let streams = StreamFamily::new(setup.seed, "bench-train");
    let pool: Vec<Batch> = (0..8)
        .map(|i| {
            let mut rng = streams.rng(i);
            let mut normals = |n: usize| (0..n).map(|_| rng.sample::<f32, _>(StandardNormal)).collect::<Vec<f32>>();
            Batch { rows: batch, theta: normals(batch * d), data: normals(batch * m) }
        })
        .collect();
    super::keep_freed_memory();
    let seconds = super::on_workers(|| {
        let dev = nn::device()?;
        let mut start = Instant::now();
        for step in 0..warmup + steps {
            if step == warmup {
                start = Instant::now();
            }
            let b = &pool[step % pool.len()];
            let b = Batch { rows: b.rows, theta: b.theta.clone(), data: b.data.clone() };
            // A non-finite loss on random data only skips the update; the timing still counts it.
            let _ = gradient_step(net, &mut adam, &dev, b, LossContext::seeded(setup.seed, step as u64, 1.0).training(), cfg.lr);
        }
        Ok::<f64, NnError>(start.elapsed().as_secs_f64())
    })?;
    Ok(StepRate {
        kind: setup.model.kind(),
        params: net.params().count(),
        batch,
        threads: rayon::current_num_threads(),
        steps,
        steps_per_s: steps as f64 / seconds.max(1e-9),
    })
}
