//! The `nsf` estimator: a conditional neural spline flow (Durkan et al., arXiv:1906.04032), as
//! used for gravitational-wave posteriors by Green & Gair (arXiv:2008.03312).
//!
//! A stack of rational-quadratic spline couplings ([`SplineFlow`]) over the z-scored
//! parameters, conditioned on the (embedded) data. Exact log q(x|y); sampling is one inverse
//! pass per coupling for all draws at once.

use super::coupling::SplineFlow;
use super::params::ParamSet;
use super::registry::{BuildContext, EstimatorConfig};
use super::Estimator;
use super::{DensityEstimator, Dev, LossContext, Network, T0, T2};
use crate::math::SampleRng;
use crate::config::number;
use crate::config::{at_least, at_most, hidden_widths, positive};
use crate::config::Violation;
use crate::nn::{EmbeddingSpec, LossKind};
use dfdx::prelude::*;
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// Settings of the `nsf` estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NsfSpec {
    /// Number of rational-quadratic coupling transforms (the halves swap between them).
    #[serde(deserialize_with = "number::usize")]
    pub blocks: usize,
    /// Hidden widths of each coupling's conditioner network (ReLU).
    #[serde(deserialize_with = "number::vec_usize")]
    pub hidden: Vec<usize>,
    /// Bins of each spline.
    #[serde(deserialize_with = "number::usize")]
    pub bins: usize,
    /// The splines act on [−B, B] of the z-scored parameters and are the identity outside.
    #[serde(deserialize_with = "number::f64")]
    pub tail_bound: f64,
    /// Network that embeds y for every block: a list of MLP widths or a `conv1d` section.
    #[serde(deserialize_with = "crate::nn::embedding_or_none")]
    pub embedding: Option<EmbeddingSpec>,
}

impl Default for NsfSpec {
    fn default() -> Self {
        NsfSpec { blocks: 5, hidden: vec![64, 64], bins: 8, tail_bound: 5.0, embedding: Some(EmbeddingSpec::mlp(vec![64, 64])) }
    }
}

impl EstimatorConfig for NsfSpec {
    const KIND: &'static str = "nsf";
    const LOSS: LossKind = LossKind::Nll;
    fn embedding(&self) -> Option<&EmbeddingSpec> {
        self.embedding.as_ref()
    }

    fn validate(&self) -> Result<(), Violation> {
        at_least("model.blocks", self.blocks, 1)?;
        at_most("model.blocks", self.blocks, 256)?;
        at_least("model.bins", self.bins, 2)?;
        at_most("model.bins", self.bins, 1_024)?;
        positive("model.tail_bound", self.tail_bound)?;
        hidden_widths(&self.hidden, Some("each coupling's network needs at least one hidden layer"))
    }

    fn build(&self, ctx: BuildContext) -> Estimator {
        Estimator::Density(Box::new(NsfNet::new(ctx.dev, ctx.rng, ctx.params, self, ctx.theta_dim, ctx.features)))
    }

    fn example() -> Self {
        NsfSpec { blocks: 3, hidden: vec![16], bins: 6, tail_bound: 5.0, embedding: Some(EmbeddingSpec::mlp(vec![16])) }
    }
}

/// The flow.
pub struct NsfNet {
    dev: Dev,
    d: usize,
    data_dim: usize,
    flow: SplineFlow,
    params: ParamSet,
}
thread_safe_on_gpu!(NsfNet);

impl NsfNet {
    /// A new flow over `theta_dim` parameters conditioned on `data_dim` features, registered
    /// after what `params` already holds.
    pub fn new(dev: &Dev, rng: &mut impl Rng, mut params: ParamSet, spec: &NsfSpec, theta_dim: usize, data_dim: usize) -> NsfNet {
        let flow =
            SplineFlow::new(dev, rng, &mut params, "flow", theta_dim, data_dim, &spec.hidden, spec.blocks, spec.bins, spec.tail_bound);
        NsfNet { dev: dev.clone(), d: theta_dim, data_dim, flow, params }
    }
}

impl Network for NsfNet {
    estimator_accessors!();

    fn loss(&self, theta: T2, data: T2<OwnedTape<f32, Dev>>, _ctx: &mut LossContext) -> T0<OwnedTape<f32, Dev>> {
        self.flow.log_prob(&self.params, theta.retaped::<OwnedTape<f32, Dev>>(), data).mean::<(), _>().negate()
    }
}

impl DensityEstimator for NsfNet {
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
