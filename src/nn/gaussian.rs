//! The `gaussian` estimator: q(x|y) = N(μ(y), Σ(y)) with a full covariance
//! (Chua & Vallisneri, PRL 124 041102, 2020): an MLP trunk and a [`FullGaussianHead`].

use super::dense::Mlp;
use super::heads::FullGaussianHead;
use super::params::ParamSet;
use super::registry::{BuildContext, EstimatorConfig};
use super::Estimator;
use super::{DensityEstimator, Dev, LossContext, Network, T0, T2};
use crate::math::SampleRng;
use crate::config::number;
use crate::config::hidden_widths;
use crate::config::Violation;
use crate::nn::{EmbeddingSpec, LossKind};
use dfdx::prelude::*;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Settings of the `gaussian` estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GaussianSpec {
    /// Widths of the hidden layers of the MLP (ReLU).
    #[serde(deserialize_with = "number::vec_usize")]
    pub hidden: Vec<usize>,
    /// Network that embeds the data y before the estimator sees it (MLP or 1-D CNN).
    #[serde(deserialize_with = "crate::nn::embedding_or_none")]
    pub embedding: Option<EmbeddingSpec>,
}

impl Default for GaussianSpec {
    fn default() -> Self {
        GaussianSpec { hidden: vec![64, 64], embedding: None }
    }
}

impl EstimatorConfig for GaussianSpec {
    const KIND: &'static str = "gaussian";
    const LOSS: LossKind = LossKind::Nll;
    fn embedding(&self) -> Option<&EmbeddingSpec> {
        self.embedding.as_ref()
    }

    fn validate(&self) -> Result<(), Violation> {
        hidden_widths(&self.hidden, None)
    }

    fn build(&self, ctx: BuildContext) -> Estimator {
        Estimator::Density(Box::new(GaussianNet::new(ctx.dev, ctx.rng, ctx.params, self, ctx.theta_dim, ctx.features)))
    }

    fn example() -> Self {
        GaussianSpec { hidden: vec![16], embedding: None }
    }
}

/// The network.
pub struct GaussianNet {
    dev: Dev,
    d: usize,
    data_dim: usize,
    trunk: Mlp,
    head: FullGaussianHead,
    params: ParamSet,
}
thread_safe_on_gpu!(GaussianNet);

impl GaussianNet {
    /// A new network for `theta_dim` parameters and `data_dim` data values, initialised from `rng`.
    pub fn new(dev: &Dev, rng: &mut impl Rng, mut params: ParamSet, spec: &GaussianSpec, theta_dim: usize, data_dim: usize) -> GaussianNet {
        let trunk = Mlp::new(dev, rng, &mut params, "trunk", data_dim, &spec.hidden);
        let head = FullGaussianHead::new(dev, rng, &mut params, "head", trunk.n_out(), theta_dim);
        GaussianNet { dev: dev.clone(), d: theta_dim, data_dim, trunk, head, params }
    }
}

impl Network for GaussianNet {
    estimator_accessors!();

    fn loss(&self, theta: T2, data: T2<OwnedTape<f32, Dev>>, ctx: &mut LossContext) -> T0<OwnedTape<f32, Dev>> {
        let h = self.trunk.forward_data(&self.params, data, ctx.data_grad);
        self.head.log_prob(&self.params, h, theta).mean::<(), _>().negate()
    }
}

impl DensityEstimator for GaussianNet {
    fn log_prob_z(&self, theta: &[f32], data: &[f32], rows: usize) -> Vec<f64> {
        let d = self.d;
        let x: T2 = self.dev.tensor_from_vec(data.to_vec(), (rows, self.data_dim));
        let t: T2 = self.dev.tensor_from_vec(theta.to_vec(), (rows, d));
        let h = self.trunk.forward(&self.params, x);
        self.head.log_prob(&self.params, h, t).as_vec().into_iter().map(|v| v as f64).collect()
    }

    fn sample_z(&self, n: usize, data: &[f32], rng: &mut SampleRng) -> Vec<f64> {
        let x: T2 = self.dev.tensor_from_vec(data.to_vec(), (1, self.data_dim));
        let q = &self.head.normals(&self.params, self.trunk.forward(&self.params, x))[0];
        (0..n).flat_map(|_| q.sample(rng)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::StreamFamily;

    /// The tape path (training loss) and the evaluation path (f64 Gaussians) compute the same
    /// density, and gradients reach every parameter.
    #[test]
    fn training_loss_is_the_mean_negative_log_density() {
        let dev = Dev::default();
        let mut rng = StreamFamily::new(1, "t").rng(0);
        let net = GaussianNet::new(&dev, &mut rng, ParamSet::default(), &GaussianSpec { hidden: vec![8], embedding: None }, 3, 4);
        let rows = 5;
        let theta: Vec<f32> = (0..rows * 3).map(|i| (i as f32 * 0.37).sin()).collect();
        let data: Vec<f32> = (0..rows * 4).map(|i| (i as f32 * 0.11).cos()).collect();
        let x: T2 = dev.tensor_from_vec(data.clone(), (rows, 4));
        let normals = net.head.normals(&net.params, net.trunk.forward(&net.params, x));
        let exact: Vec<f64> =
            (0..rows).map(|r| normals[r].log_prob(&theta[r * 3..r * 3 + 3].iter().map(|&v| v as f64).collect::<Vec<_>>())).collect();
        let lp = net.log_prob_z(&theta, &data, rows);
        for (a, b) in lp.iter().zip(&exact) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
        let t: T2 = dev.tensor_from_vec(theta, (rows, 3));
        let y: T2 = dev.tensor_from_vec(data, (rows, 4));
        let mut ctx = LossContext::seeded(0, 0, 1.0);
        let loss = net.loss(t, y.leaky_traced(), &mut ctx);
        let mean_nll = -exact.iter().sum::<f64>() / rows as f64;
        assert!((loss.array() as f64 - mean_nll).abs() < 1e-4);
        let grads = loss.backward();
        for p in &net.params().params {
            let g = grads.get(&p.tensor).as_vec();
            assert!(g.iter().any(|v| *v != 0.0), "no gradient for {}", p.name);
        }
    }
}
