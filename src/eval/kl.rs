//! KL(p_true(x|y) || q(x|y)) averaged over test observations, by Monte Carlo:
//! for each y, the mean of log p − log q over draws from the true posterior.
//!
//! Generic over estimators (only `log_prob` is needed), and unbiased; with 256 draws per
//! observation and 1000 observations its standard error is far below the 0.01-nat scale.

use super::{mean_and_se, Estimate};
use crate::data::Split;
use crate::nn::DensityModel;
use crate::math::StreamFamily;
use crate::sim::Simulator;

/// Mean KL(p_true || q) in nats over `test`, with `draws` posterior samples per observation;
/// `keep` are the indices of the inferred parameters among the simulator's (the true posterior
/// is marginalised to them). `None` when the simulator has no closed-form posterior.
pub fn kl_to_truth(model: &DensityModel, sim: &dyn Simulator, keep: &[usize], test: &Split, draws: usize, seed: u64) -> Option<Estimate> {
    if !sim.has_reference_posterior() {
        return None;
    }
    let streams = StreamFamily::new(seed, "eval/kl");
    let d = test.theta.cols;
    let mut per_obs = Vec::with_capacity(test.len());
    for i in 0..test.len() {
        let y32 = test.data_row(i);
        let y: Vec<f64> = y32.iter().map(|&v| v as f64).collect();
        let full = sim.reference_posterior(&y)?;
        let post = if keep.iter().copied().eq(0..sim.parameters().len()) { full } else { full.marginal(keep)? };
        let mut rng = streams.rng(i as u64);
        let mut theta = Vec::with_capacity(draws * d);
        let mut log_p = Vec::with_capacity(draws);
        for _ in 0..draws {
            let t = post.sample(&mut rng);
            log_p.push(post.log_prob(&t));
            theta.extend(t);
        }
        let data: Vec<f32> = y32.iter().copied().cycle().take(draws * y32.len()).collect();
        let log_q = model.log_prob(&theta, &data);
        per_obs.push(log_p.iter().zip(&log_q).map(|(p, q)| p - q).sum::<f64>() / draws as f64);
    }
    Some(mean_and_se(&per_obs))
}
