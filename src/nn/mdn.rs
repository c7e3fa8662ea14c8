//! The `mdn` estimator: a mixture of K full-covariance Gaussians with weights
//! (Chua & Vallisneri, PRL 124 041102, 2020):
//!
//! q(x|y) = Σₖ πₖ(y) N(x; μₖ(y), Σₖ(y)) from an MLP's features (the head is [`MixtureHead`]).

use super::dense::Mlp;
use super::mixture::MixtureHead;
use super::params::ParamSet;
use super::registry::{BuildContext, EstimatorConfig};
use super::Estimator;
use super::{DensityEstimator, Dev, LossContext, Network, T0, T1, T2};
use crate::math::SampleRng;
use crate::config::number;
use crate::config::{at_least, at_most, hidden_widths};
use crate::config::Violation;
use crate::nn::{EmbeddingSpec, LossKind};
use dfdx::prelude::*;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Settings of the `mdn` estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MdnSpec {
    /// Widths of the hidden layers of the MLP (ReLU).
    #[serde(deserialize_with = "number::vec_usize")]
    pub hidden: Vec<usize>,
    /// Number of mixture components K.
    #[serde(deserialize_with = "number::usize")]
    pub components: usize,
    /// Network that embeds the data y before the estimator sees it (MLP or 1-D CNN).
    #[serde(deserialize_with = "crate::nn::embedding_or_none")]
    pub embedding: Option<EmbeddingSpec>,
}

impl Default for MdnSpec {
    fn default() -> Self {
        MdnSpec { hidden: vec![64, 64], components: 4, embedding: None }
    }
}

impl EstimatorConfig for MdnSpec {
    const KIND: &'static str = "mdn";
    const LOSS: LossKind = LossKind::Nll;
    fn embedding(&self) -> Option<&EmbeddingSpec> {
        self.embedding.as_ref()
    }

    fn validate(&self) -> Result<(), Violation> {
        at_least("model.components", self.components, 1)?;
        at_most("model.components", self.components, 1_024)?;
        hidden_widths(&self.hidden, None)
    }

    fn build(&self, ctx: BuildContext) -> Estimator {
        Estimator::Density(Box::new(MdnNet::new(ctx.dev, ctx.rng, ctx.params, self, ctx.theta_dim, ctx.features)))
    }

    fn example() -> Self {
        MdnSpec { hidden: vec![16], components: 3, embedding: Some(EmbeddingSpec::mlp(vec![8])) }
    }
}

/// The network.
pub struct MdnNet {
    dev: Dev,
    d: usize,
    data_dim: usize,
    trunk: Mlp,
    head: MixtureHead,
    params: ParamSet,
}
thread_safe_on_gpu!(MdnNet);

impl MdnNet {
    /// A new network, initialised from `rng`.
    pub fn new(dev: &Dev, rng: &mut impl Rng, mut params: ParamSet, spec: &MdnSpec, theta_dim: usize, data_dim: usize) -> MdnNet {
        let trunk = Mlp::new(dev, rng, &mut params, "trunk", data_dim, &spec.hidden);
        let head = MixtureHead::new(dev, rng, &mut params, "", trunk.n_out(), theta_dim, spec.components);
        MdnNet { dev: dev.clone(), d: theta_dim, data_dim, trunk, head, params }
    }

    /// log q per row on the tape of `data`.
    fn log_prob_rows<Tp: Tape<f32, Dev>>(&self, data: T2<Tp>, theta: T2, data_grad: bool) -> T1<Tp> {
        self.head.log_prob(&self.params, self.trunk.forward_data(&self.params, data, data_grad), theta)
    }
}

impl Network for MdnNet {
    estimator_accessors!();

    fn loss(&self, theta: T2, data: T2<OwnedTape<f32, Dev>>, ctx: &mut LossContext) -> T0<OwnedTape<f32, Dev>> {
        self.log_prob_rows(data, theta, ctx.data_grad).mean::<(), _>().negate()
    }
}

impl DensityEstimator for MdnNet {
    fn log_prob_z(&self, theta: &[f32], data: &[f32], rows: usize) -> Vec<f64> {
        let x: T2 = self.dev.tensor_from_vec(data.to_vec(), (rows, self.data_dim));
        let t: T2 = self.dev.tensor_from_vec(theta.to_vec(), (rows, self.d));
        self.log_prob_rows(x, t, false).as_vec().into_iter().map(|v| v as f64).collect()
    }

    fn sample_z(&self, n: usize, data: &[f32], rng: &mut SampleRng) -> Vec<f64> {
        let x: T2 = self.dev.tensor_from_vec(data.to_vec(), (1, self.data_dim));
        let mixture = self.head.mixture(&self.params, self.trunk.forward(&self.params, x));
        (0..n).flat_map(|_| mixture.sample(rng)).collect()
    }
}
