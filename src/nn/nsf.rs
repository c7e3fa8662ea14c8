//! The `nsf` estimator: a conditional neural spline flow (Durkan et al., arXiv:1906.04032), as
//! used for gravitational-wave posteriors by Green & Gair (arXiv:2008.03312).
//!
//! A stack of rational-quadratic spline couplings ([`SplineFlow`]) over the z-scored
//! parameters, conditioned on the (embedded) data. Exact log q(x|y); sampling is one inverse
//! pass per coupling for all draws at once.

use super::coupling::SplineFlow;
use super::params::ParamSet;
use super::{DensityEstimator, Dev, LossContext, T0, T2};
use crate::sim::SampleRng;
use crate::spec::NsfSpec;
use dfdx::prelude::*;
use rand::Rng;
use rand_distr::StandardNormal;

/// The flow.
pub struct NsfNet {
    dev: Dev,
    d: usize,
    data_dim: usize,
    flow: SplineFlow,
    params: ParamSet,
}

impl NsfNet {
    /// A new flow over `theta_dim` parameters conditioned on `data_dim` features, registered
    /// after what `params` already holds.
    pub fn new(dev: &Dev, rng: &mut impl Rng, mut params: ParamSet, spec: &NsfSpec, theta_dim: usize, data_dim: usize) -> NsfNet {
        let flow = SplineFlow::new(dev, rng, &mut params, "flow", theta_dim, data_dim, &spec.hidden, spec.blocks, spec.bins, spec.tail_bound);
        NsfNet { dev: dev.clone(), d: theta_dim, data_dim, flow, params }
    }
}

impl DensityEstimator for NsfNet {
    estimator_accessors!();

    fn loss(&self, theta: T2, data: T2<OwnedTape<f32, Dev>>, _ctx: &mut LossContext) -> T0<OwnedTape<f32, Dev>> {
        self.flow.log_prob(&self.params, theta.retaped::<OwnedTape<f32, Dev>>(), data).mean::<(), _>().negate()
    }

    fn log_prob_z(&self, theta: &[f32], data: &[f32], rows: usize) -> Vec<f64> {
        let t: T2 = self.dev.tensor_from_vec(theta.to_vec(), (rows, self.d));
        let y: T2 = self.dev.tensor_from_vec(data.to_vec(), (rows, self.data_dim));
        self.flow.log_prob(&self.params, t, y).as_vec().into_iter().map(|v| v as f64).collect()
    }

    fn sample_z(&self, n: usize, data: &[f32], rng: &mut SampleRng) -> Vec<f64> {
        let u: Vec<f64> = (0..n * self.d).map(|_| rng.sample(StandardNormal)).collect();
        let ctx: T2 = self.dev.tensor_from_vec(data.to_vec(), (1, self.data_dim));
        self.flow.inverse_shared(&self.params, u, &ctx)
    }
}
