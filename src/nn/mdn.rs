//! The `mdn` estimator: a mixture of K full-covariance Gaussians with weights
//! (Chua & Vallisneri, PRL 124 041102, 2020):
//!
//! q(x|y) = Σₖ πₖ(y) N(x; μₖ(y), Σₖ(y)),  log q = logsumexp_k [log πₖ + log Nₖ].
//!
//! The log-sum-exp subtracts the per-row maximum (taken as a constant, which leaves the value
//! and its gradient unchanged) so that no exponential overflows.

use super::dense::{Dense, Mlp};
use super::heads::FullGaussianHead;
use super::params::ParamSet;
use super::registry::{BuildContext, EstimatorConfig};
use super::Estimator;
use super::{DensityEstimator, Dev, LossContext, Network, T0, T1, T2};
use crate::sim::SampleRng;
use crate::spec::number;
use crate::spec::validate::{at_least, hidden_widths};
use crate::spec::{EmbeddingSpec, LossKind, Violation};
use dfdx::prelude::*;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Settings of the `mdn` estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MdnSpec {
    /// Widths of the hidden layers of the MLP (ReLU). Default [64, 64].
    #[serde(deserialize_with = "number::vec_usize")]
    pub hidden: Vec<usize>,
    /// Number of mixture components K. Default 4.
    #[serde(deserialize_with = "number::usize")]
    pub components: usize,
    /// Network that embeds the data y before the estimator sees it (MLP or 1-D CNN). Default none.
    #[serde(deserialize_with = "crate::spec::embedding_or_none")]
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
    logits: Dense,
    components: Vec<FullGaussianHead>,
    /// Column k of the K×K identity, to pick a mixture weight.
    pick: Vec<T2>,
    params: ParamSet,
}

impl MdnNet {
    /// A new network, initialised from `rng`.
    pub fn new(dev: &Dev, rng: &mut impl Rng, mut params: ParamSet, spec: &MdnSpec, theta_dim: usize, data_dim: usize) -> MdnNet {
        let trunk = Mlp::new(dev, rng, &mut params, "trunk", data_dim, &spec.hidden);
        let h = trunk.n_out();
        let k = spec.components;
        let logits = Dense::new(dev, rng, &mut params, "logits", h, k);
        let components = (0..k).map(|i| FullGaussianHead::new(dev, rng, &mut params, &format!("component.{i}"), h, theta_dim)).collect();
        let pick = (0..k)
            .map(|i| {
                let mut v = vec![0.0f32; k];
                v[i] = 1.0;
                dev.tensor_from_vec(v, (k, 1))
            })
            .collect();
        MdnNet { dev: dev.clone(), d: theta_dim, data_dim, trunk, logits, components, pick, params }
    }

    /// log q per row on the tape of `data`.
    fn log_prob_rows<Tp: Tape<f32, Dev>>(&self, data: T2<Tp>, theta: T2, data_grad: bool) -> T1<Tp> {
        let rows = data.shape().0;
        let (h, tape) = self.trunk.forward_data(&self.params, data, data_grad).split_tape();
        let log_w = self.logits.forward(&self.params, h.clone().put_tape(tape)).log_softmax::<Axis<1>>();
        let (log_w, tape) = log_w.split_tape();
        let mut terms: Vec<T1<Tp>> = Vec::with_capacity(self.components.len());
        let mut tape = Some(tape);
        for (k, comp) in self.components.iter().enumerate() {
            let w = match tape.take() {
                Some(t) => log_w.clone().put_tape(t),
                None => log_w.retaped::<Tp>(),
            };
            let w_k = w.matmul(self.pick[k].clone()).reshape_like(&(rows,));
            terms.push(comp.log_prob(&self.params, h.retaped::<Tp>(), theta.clone()) + w_k);
        }
        // Per-row maximum as a constant shift.
        let values: Vec<Vec<f32>> = terms.iter().map(|t| t.as_vec()).collect();
        let m: Vec<f32> = (0..rows).map(|r| values.iter().map(|v| v[r]).fold(f32::NEG_INFINITY, f32::max)).collect();
        let m: T1 = self.dev.tensor_from_vec(m, (rows,));
        let mut acc: Option<T1<Tp>> = None;
        for t in terms {
            let e = (t - m.clone()).exp();
            acc = Some(match acc {
                None => e,
                Some(a) => a + e,
            });
        }
        acc.expect("at least one component").ln() + m
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
        let h = self.trunk.forward(&self.params, x);
        let w: Vec<f64> =
            self.logits.forward(&self.params, h.clone()).softmax::<Axis<1>>().as_vec().into_iter().map(|v| v as f64).collect();
        let normals: Vec<_> = self.components.iter().map(|c| c.normals(&self.params, h.clone()).remove(0)).collect();
        let mut out = Vec::with_capacity(n * self.d);
        for _ in 0..n {
            let u: f64 = rng.gen();
            let mut acc = 0.0;
            let k = w.iter().position(|&p| {
                acc += p;
                u < acc
            });
            out.extend(normals[k.unwrap_or(w.len() - 1)].sample(rng));
        }
        out
    }
}
