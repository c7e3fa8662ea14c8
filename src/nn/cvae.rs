//! The `cvae` estimator: Gabbard et al.'s conditional variational autoencoder
//! (arXiv:1909.06296, "VItamin").
//!
//! Three networks: the encoder E1 r(z|y), the encoder E2 q(z|x,y), both diagonal Gaussians over a
//! latent z, and the decoder D r(x|z,y), a diagonal Gaussian over the parameters. Training
//! minimises −ELBO = E_q[−log r(x|z,y)] + β KL(q(z|x,y) ‖ r(z|y)) with z drawn from E2 by
//! reparameterisation and β ramped from 0 to 1 (`training.kl_ramp`). At test time z ~ E1, then
//! x ~ D. The density q(x|y) = ∫ r(x|z,y) r(z|y) dz is estimated by importance sampling with
//! E2 as the proposal, so that the CVAE can be scored by test NLL and KL like the others.

use super::dense::{Mlp, PairMlp};
use super::heads::DiagGaussianHead;
use super::params::ParamSet;
use super::registry::{BuildContext, EstimatorConfig};
use super::Estimator;
use super::{fork, log_mean_exp, repeat_rows, DensityEstimator, Dev, LossContext, Network, T0, T2};
use crate::math::LN_2PI;
use crate::math::{SampleRng, StreamFamily};
use crate::config::number;
use crate::config::{at_least, at_most, hidden_widths};
use crate::config::Violation;
use crate::nn::{EmbeddingSpec, LossKind};
use dfdx::prelude::*;
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// Settings of the `cvae` estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CvaeSpec {
    /// Dimension of the latent space z (8 in Gabbard et al.; 2 for pictures).
    #[serde(deserialize_with = "number::usize")]
    pub latent_dim: usize,
    /// Widths of the hidden layers of each of the three networks (ReLU).
    #[serde(deserialize_with = "number::vec_usize")]
    pub hidden: Vec<usize>,
    /// Importance samples per point when estimating log q(x|y).
    #[serde(deserialize_with = "number::usize")]
    pub is_samples: usize,
    /// Network that embeds the data y before the estimator sees it (MLP or 1-D CNN).
    #[serde(deserialize_with = "crate::nn::embedding_or_none")]
    pub embedding: Option<EmbeddingSpec>,
}

impl Default for CvaeSpec {
    fn default() -> Self {
        CvaeSpec { latent_dim: 8, hidden: vec![128, 128], is_samples: 64, embedding: None }
    }
}

impl EstimatorConfig for CvaeSpec {
    const KIND: &'static str = "cvae";
    const LOSS: LossKind = LossKind::Elbo;
    const LATENT: bool = true;

    fn embedding(&self) -> Option<&EmbeddingSpec> {
        self.embedding.as_ref()
    }

    fn validate(&self) -> Result<(), Violation> {
        at_least("model.latent_dim", self.latent_dim, 1)?;
        at_most("model.latent_dim", self.latent_dim, 4_096)?;
        at_least("model.is_samples", self.is_samples, 1)?;
        at_most("model.is_samples", self.is_samples, 100_000)?;
        hidden_widths(&self.hidden, Some("the CVAE's networks need at least one hidden layer"))
    }

    fn build(&self, ctx: BuildContext) -> Estimator {
        Estimator::Density(Box::new(CvaeNet::new(ctx.dev, ctx.rng, ctx.params, self, ctx.theta_dim, ctx.features)))
    }

    fn example() -> Self {
        CvaeSpec { latent_dim: 2, hidden: vec![16], is_samples: 128, embedding: None }
    }
}

/// The three networks.
pub struct CvaeNet {
    dev: Dev,
    d: usize,
    latent: usize,
    data_dim: usize,
    is_samples: usize,
    e1: Mlp,
    e1_head: DiagGaussianHead,
    e2: PairMlp,
    e2_head: DiagGaussianHead,
    dec: PairMlp,
    dec_head: DiagGaussianHead,
    params: ParamSet,
}
thread_safe_on_gpu!(CvaeNet);

fn host(t: T2) -> Vec<f64> {
    t.as_vec().into_iter().map(|v| v as f64).collect()
}

fn diag_log_prob(x: &[f64], mean: &[f64], log_std: &[f64]) -> f64 {
    let mut s = -0.5 * x.len() as f64 * LN_2PI;
    for ((x, m), l) in x.iter().zip(mean).zip(log_std) {
        let z = (x - m) * (-l).exp();
        s -= 0.5 * z * z + l;
    }
    s
}

impl CvaeNet {
    /// A new network, initialised from `rng`.
    pub fn new(dev: &Dev, rng: &mut impl Rng, mut params: ParamSet, spec: &CvaeSpec, theta_dim: usize, data_dim: usize) -> CvaeNet {
        let l = spec.latent_dim;
        let e1 = Mlp::new(dev, rng, &mut params, "e1", data_dim, &spec.hidden);
        let e1_head = DiagGaussianHead::new(dev, rng, &mut params, "e1.head", e1.n_out(), l);
        let e2 = PairMlp::new(dev, rng, &mut params, "e2", theta_dim, data_dim, &spec.hidden);
        let e2_head = DiagGaussianHead::new(dev, rng, &mut params, "e2.head", e2.n_out(), l);
        let dec = PairMlp::new(dev, rng, &mut params, "decoder", l, data_dim, &spec.hidden);
        let dec_head = DiagGaussianHead::new(dev, rng, &mut params, "decoder.head", dec.n_out(), theta_dim);
        CvaeNet {
            dev: dev.clone(),
            d: theta_dim,
            latent: l,
            data_dim,
            is_samples: spec.is_samples,
            e1,
            e1_head,
            e2,
            e2_head,
            dec,
            dec_head,
            params,
        }
    }

    fn tensor(&self, v: Vec<f32>, rows: usize, cols: usize) -> T2 {
        self.dev.tensor_from_vec(v, (rows, cols))
    }

    /// (μ, log σ) of r(z|y) for rows of y.
    fn encode1(&self, y: T2) -> (Vec<f64>, Vec<f64>) {
        let (m, l) = self.e1_head.outputs(&self.params, self.e1.forward(&self.params, y));
        (host(m), host(l))
    }

    /// (μ, log σ) of q(z|x,y).
    fn encode2(&self, x: T2, y: T2) -> (Vec<f64>, Vec<f64>) {
        let (m, l) = self.e2_head.outputs(&self.params, self.e2.forward(&self.params, x, y));
        (host(m), host(l))
    }

    /// (μ, log σ) of r(x|z,y).
    fn decode(&self, z: T2, y: T2) -> (Vec<f64>, Vec<f64>) {
        let (m, l) = self.dec_head.outputs(&self.params, self.dec.forward(&self.params, z, y));
        (host(m), host(l))
    }
}

impl Network for CvaeNet {
    estimator_accessors!();

    fn loss(&self, theta: T2, data: T2<OwnedTape<f32, Dev>>, ctx: &mut LossContext) -> T0<OwnedTape<f32, Dev>> {
        let rows = theta.shape().0;
        let p = &self.params;
        let (y, y2) = fork(data);
        let (y2, y3) = fork(y2);
        let dg = ctx.data_grad;
        let (mu1, ls1) = self.e1_head.outputs(p, self.e1.forward_data(p, y, dg));
        let (mu2, ls2) = self.e2_head.outputs(p, self.e2.forward_data(p, theta.retaped::<OwnedTape<f32, Dev>>(), y2, dg));
        let eps: Vec<f32> = (0..rows * self.latent).map(|_| ctx.rng.sample::<f32, _>(StandardNormal)).collect();
        let eps = self.tensor(eps, rows, self.latent);
        let (mu2, mu2b) = fork(mu2);
        let (ls2, ls2b) = fork(ls2);
        let (ls2b, ls2c) = fork(ls2b);
        let z = mu2 + ls2.exp() * eps;
        let (mux, lsx) = self.dec_head.outputs(p, self.dec.forward_data(p, z, y3, dg));
        let rec = DiagGaussianHead::log_prob_of(mux, lsx, theta);
        // KL(N(μ₂, σ₂²) ‖ N(μ₁, σ₁²)) = Σ log σ₁ − log σ₂ + (σ₂² + (μ₂ − μ₁)²) / (2σ₁²) − ½.
        let (ls1, ls1b) = fork(ls1);
        let spread = (ls2b * 2.0).exp() + (mu2b - mu1).square();
        let kl = (ls1 - ls2c + spread * (ls1b * -2.0).exp() * 0.5 - 0.5).sum::<(usize,), Axis<1>>();
        (kl * ctx.kl_weight - rec).mean::<(), _>()
    }
}

impl DensityEstimator for CvaeNet {
    fn log_prob_z(&self, theta: &[f32], data: &[f32], rows: usize) -> Vec<f64> {
        let (d, l, m, k) = (self.d, self.latent, self.data_dim, self.is_samples);
        let mut rng = StreamFamily::new(0, "cvae/importance").rng(0);
        let (mu1, ls1) = self.encode1(self.tensor(data.to_vec(), rows, m));
        let (mu2, ls2) = self.encode2(self.tensor(theta.to_vec(), rows, d), self.tensor(data.to_vec(), rows, m));
        // z_{r,j} ~ q(z|x_r, y_r), j < k.
        let mut z = Vec::with_capacity(rows * k * l);
        let mut log_w = vec![0.0f64; rows * k];
        for r in 0..rows {
            for j in 0..k {
                let zz: Vec<f64> = (0..l).map(|i| mu2[r * l + i] + ls2[r * l + i].exp() * rng.sample::<f64, _>(StandardNormal)).collect();
                let span = r * l..(r + 1) * l;
                log_w[r * k + j] =
                    diag_log_prob(&zz, &mu1[span.clone()], &ls1[span.clone()]) - diag_log_prob(&zz, &mu2[span.clone()], &ls2[span]);
                z.extend(zz.iter().map(|&v| v as f32));
            }
        }
        let (mux, lsx) = self.decode(self.tensor(z, rows * k, l), self.tensor(repeat_rows(data, m, k), rows * k, m));
        (0..rows)
            .map(|r| {
                let x: Vec<f64> = theta[r * d..(r + 1) * d].iter().map(|&v| v as f64).collect();
                let terms: Vec<f64> = (0..k)
                    .map(|j| {
                        let i = r * k + j;
                        log_w[i] + diag_log_prob(&x, &mux[i * d..(i + 1) * d], &lsx[i * d..(i + 1) * d])
                    })
                    .collect();
                log_mean_exp(&terms)
            })
            .collect()
    }

    fn sample_z(&self, n: usize, data: &[f32], rng: &mut SampleRng) -> Vec<f64> {
        let (d, l, m) = (self.d, self.latent, self.data_dim);
        let (mu1, ls1) = self.encode1(self.tensor(data.to_vec(), 1, m));
        let z: Vec<f32> = (0..n * l).map(|i| (mu1[i % l] + ls1[i % l].exp() * rng.sample::<f64, _>(StandardNormal)) as f32).collect();
        let h = self.dec.forward_shared_y(&self.params, self.tensor(z, n, l), self.tensor(data.to_vec(), 1, m));
        let (mux, lsx) = self.dec_head.outputs(&self.params, h);
        let (mux, lsx) = (host(mux), host(lsx));
        (0..n * d).map(|i| mux[i] + lsx[i].exp() * rng.sample::<f64, _>(StandardNormal)).collect()
    }

    fn latent(&self, data: &[f32], rows: usize) -> Option<(usize, Vec<f64>)> {
        Some((self.latent, self.encode1(self.tensor(data.to_vec(), rows, self.data_dim)).0))
    }
}
