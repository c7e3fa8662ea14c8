//! Test-set negative log-likelihood: −(1/N) Σ log q(x_i | y_i) in nats, physical units.

use super::{mean_and_se, Estimate};
use crate::data::Split;
use crate::nn::DensityModel;

/// Mean −log q(θ_true | y) over `test`.
pub fn test_nll(model: &DensityModel, test: &Split) -> Estimate {
    let theta: Vec<f64> = test.theta.values().iter().map(|&v| v as f64).collect();
    let lp = model.log_prob(&theta, test.data.values());
    let nll: Vec<f64> = lp.iter().map(|l| -l).collect();
    mean_and_se(&nll)
}
