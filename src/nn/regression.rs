//! The `regression` estimator: a point estimate x̂(y) trained with the mean squared error, as in
//! the "real-time regression" papers (George & Huerta, PRD 97 044039; arXiv:1903.01998).
//!
//! It is not a density: it gives no posterior, no NLL and no samples, and evaluation reports the
//! RMSE of each parameter instead.

use super::dense::{Dense, Mlp};
use super::params::ParamSet;
use super::{DensityEstimator, Dev, LossContext, T0, T2};
use crate::sim::SampleRng;
use crate::spec::RegressionSpec;
use dfdx::prelude::*;
use rand::Rng;

/// The network.
pub struct RegressionNet {
    dev: Dev,
    d: usize,
    data_dim: usize,
    trunk: Mlp,
    head: Dense,
    params: ParamSet,
}

impl RegressionNet {
    /// A new network, initialised from `rng`.
    pub fn new(dev: &Dev, rng: &mut impl Rng, mut params: ParamSet, spec: &RegressionSpec, theta_dim: usize, data_dim: usize) -> RegressionNet {
        let trunk = Mlp::new(dev, rng, &mut params, "trunk", data_dim, &spec.hidden);
        let head = Dense::new(dev, rng, &mut params, "head", trunk.n_out(), theta_dim);
        RegressionNet { dev: dev.clone(), d: theta_dim, data_dim, trunk, head, params }
    }
}

impl DensityEstimator for RegressionNet {
    estimator_accessors!();

    fn loss(&self, theta: T2, data: T2<OwnedTape<f32, Dev>>, _ctx: &mut LossContext) -> T0<OwnedTape<f32, Dev>> {
        let est = self.head.forward(&self.params, self.trunk.forward(&self.params, data));
        (est - theta).square().mean::<(), _>()
    }

    fn log_prob_z(&self, _theta: &[f32], _data: &[f32], rows: usize) -> Vec<f64> {
        vec![f64::NAN; rows]
    }

    /// The point estimate, `n` times (a regression has no spread to sample).
    fn sample_z(&self, n: usize, data: &[f32], _rng: &mut SampleRng) -> Vec<f64> {
        let est = self.point_z(data, 1);
        (0..n).flat_map(|_| est.iter().copied()).collect()
    }

    fn point_z(&self, data: &[f32], rows: usize) -> Vec<f64> {
        let y: T2 = self.dev.tensor_from_vec(data.to_vec(), (rows, self.data_dim));
        self.head.forward(&self.params, self.trunk.forward(&self.params, y)).as_vec().into_iter().map(|v| v as f64).collect()
    }

    fn is_density(&self) -> bool {
        false
    }
}
