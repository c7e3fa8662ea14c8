//! The `cvae_flow` estimator, "CVAE+" of Green, Simpson & Gair (arXiv:2002.07656): the CVAE
//! with its latent prior r(z|y) and its decoder r(x|z,y) made conditional normalizing flows,
//! so that a single latent draw can map to a multimodal (e.g. phase) posterior.
//!
//! The encoder q(z|x,y) stays a diagonal Gaussian. Both flows are spline-coupling flows
//! ([`SplineFlow`]). The KL term has no closed form any more, so the loss uses its one-sample
//! estimate at the reparameterised z:
//!
//! −ELBO ≈ −log r(x|z,y) + β [log q(z|x,y) − log r(z|y)],  z = μ + σ ε.
//!
//! log q(x|y) is estimated by importance sampling over z, with the mixture of q(z|x,y) and
//! r(z|y) as the proposal.

use super::coupling::SplineFlow;
use super::dense::PairMlp;
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

/// Tail bound of both flows' splines, in z-scored units (latents are near standard normal).
const TAIL_BOUND: f64 = 5.0;

/// Settings of the `cvae_flow` estimator ("CVAE+").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CvaeFlowSpec {
    /// Dimension of the latent space z.
    #[serde(deserialize_with = "number::usize")]
    pub latent_dim: usize,
    /// Hidden widths of the encoder q(z|x,y) and of every coupling conditioner (ReLU).
    #[serde(deserialize_with = "number::vec_usize")]
    pub hidden: Vec<usize>,
    /// Coupling transforms in each of the two flows (the prior r(z|y) and the decoder r(x|z,y)).
    #[serde(deserialize_with = "number::usize")]
    pub blocks: usize,
    /// Bins of each spline.
    #[serde(deserialize_with = "number::usize")]
    pub bins: usize,
    /// Importance samples per point when estimating log q(x|y).
    #[serde(deserialize_with = "number::usize")]
    pub is_samples: usize,
    /// Network that embeds y for all three parts: a list of MLP widths or a `conv1d` section.
    #[serde(deserialize_with = "crate::nn::embedding_or_none")]
    pub embedding: Option<EmbeddingSpec>,
}

impl Default for CvaeFlowSpec {
    fn default() -> Self {
        CvaeFlowSpec {
            latent_dim: 8,
            hidden: vec![128, 128],
            blocks: 4,
            bins: 8,
            is_samples: 64,
            embedding: Some(EmbeddingSpec::mlp(vec![128, 128])),
        }
    }
}

impl EstimatorConfig for CvaeFlowSpec {
    const KIND: &'static str = "cvae_flow";
    const LOSS: LossKind = LossKind::Elbo;
    const LATENT: bool = true;

    fn embedding(&self) -> Option<&EmbeddingSpec> {
        self.embedding.as_ref()
    }

    fn validate(&self) -> Result<(), Violation> {
        at_least("model.latent_dim", self.latent_dim, 1)?;
        at_most("model.latent_dim", self.latent_dim, 4_096)?;
        at_least("model.blocks", self.blocks, 1)?;
        at_most("model.blocks", self.blocks, 256)?;
        at_least("model.bins", self.bins, 2)?;
        at_most("model.bins", self.bins, 1_024)?;
        at_least("model.is_samples", self.is_samples, 1)?;
        at_most("model.is_samples", self.is_samples, 100_000)?;
        hidden_widths(&self.hidden, Some("the encoder and the flows need at least one hidden layer"))
    }

    fn build(&self, ctx: BuildContext) -> Estimator {
        Estimator::Density(Box::new(CvaeFlowNet::new(ctx.dev, ctx.rng, ctx.params, self, ctx.theta_dim, ctx.features)))
    }

    fn example() -> Self {
        CvaeFlowSpec { latent_dim: 2, hidden: vec![16], blocks: 2, bins: 6, is_samples: 256, embedding: Some(EmbeddingSpec::mlp(vec![16])) }
    }
}

/// Encoder, latent prior flow and decoder flow.
pub struct CvaeFlowNet {
    dev: Dev,
    d: usize,
    latent: usize,
    data_dim: usize,
    is_samples: usize,
    encoder: PairMlp,
    encoder_head: DiagGaussianHead,
    prior: SplineFlow,
    /// Mixes z and y into the decoder flow's context.
    decoder_context: PairMlp,
    decoder: SplineFlow,
    params: ParamSet,
}
thread_safe_on_gpu!(CvaeFlowNet);

impl CvaeFlowNet {
    /// A new network over `theta_dim` parameters and `data_dim` features, registered after
    /// what `params` already holds.
    pub fn new(dev: &Dev, rng: &mut impl Rng, mut params: ParamSet, spec: &CvaeFlowSpec, theta_dim: usize, data_dim: usize) -> CvaeFlowNet {
        let l = spec.latent_dim;
        let p = &mut params;
        let encoder = PairMlp::new(dev, rng, p, "encoder", theta_dim, data_dim, &spec.hidden);
        let encoder_head = DiagGaussianHead::new(dev, rng, p, "encoder.head", encoder.n_out(), l);
        let prior = SplineFlow::new(dev, rng, p, "prior", l, data_dim, &spec.hidden, spec.blocks, spec.bins, TAIL_BOUND);
        let decoder_context = PairMlp::new(dev, rng, p, "decoder.context", l, data_dim, &spec.hidden[..1]);
        let c = decoder_context.n_out();
        let decoder = SplineFlow::new(dev, rng, p, "decoder", theta_dim, c, &spec.hidden, spec.blocks, spec.bins, TAIL_BOUND);
        CvaeFlowNet {
            dev: dev.clone(),
            d: theta_dim,
            latent: l,
            data_dim,
            is_samples: spec.is_samples,
            encoder,
            encoder_head,
            prior,
            decoder_context,
            decoder,
            params,
        }
    }

    fn tensor(&self, v: Vec<f32>, rows: usize, cols: usize) -> T2 {
        self.dev.tensor_from_vec(v, (rows, cols))
    }

    /// Latent draws z ~ r(z|y) from base draws u, one y row per draw.
    fn prior_sample(&self, u: Vec<f64>, y: &T2) -> Vec<f64> {
        self.prior.inverse(&self.params, u, y)
    }
}

impl Network for CvaeFlowNet {
    estimator_accessors!();

    fn loss(&self, theta: T2, data: T2<OwnedTape<f32, Dev>>, ctx: &mut LossContext) -> T0<OwnedTape<f32, Dev>> {
        let rows = theta.shape().0;
        let (l, p) = (self.latent, &self.params);
        let (y, y2) = fork(data);
        let (y2, y3) = fork(y2);
        let (mu, log_std) = self.encoder_head.outputs(p, self.encoder.forward(p, theta.clone().retaped::<OwnedTape<f32, Dev>>(), y));
        let eps: Vec<f32> = (0..rows * l).map(|_| ctx.rng.sample::<f32, _>(StandardNormal)).collect();
        let eps = self.tensor(eps, rows, l);
        let (log_std, log_std2) = fork(log_std);
        let z = mu + log_std.exp() * eps.clone();
        let (z, z2) = fork(z);
        // log q(z|x,y) at z = μ + σ ε is log N(ε; 0, I) − Σ log σ.
        let log_q = log_std2.sum::<(usize,), Axis<1>>().negate()
            - eps.square().sum::<(usize,), Axis<1>>().retaped::<OwnedTape<f32, Dev>>() * 0.5
            - 0.5 * l as f32 * LN_2PI as f32;
        let log_prior = self.prior.log_prob(p, z, y2);
        let context = self.decoder_context.forward(p, z2, y3);
        let rec = self.decoder.log_prob(p, theta.retaped::<OwnedTape<f32, Dev>>(), context);
        ((log_q - log_prior) * ctx.kl_weight - rec).mean::<(), _>()
    }
}

impl DensityEstimator for CvaeFlowNet {
    fn log_prob_z(&self, theta: &[f32], data: &[f32], rows: usize) -> Vec<f64> {
        let (d, l, m, k) = (self.d, self.latent, self.data_dim, self.is_samples);
        let p = &self.params;
        let mut rng = StreamFamily::new(0, "cvae_flow/importance").rng(0);
        let (mu, ls) = self
            .encoder_head
            .outputs(p, self.encoder.forward(p, self.tensor(theta.to_vec(), rows, d), self.tensor(data.to_vec(), rows, m)));
        let (mu, ls) = (mu.as_vec(), ls.as_vec());
        // Defensive importance sampling: half the z from q(z|x,y), half from the prior r(z|y),
        // weighed against the mixture ½q + ½r, so that a weight never exceeds 2 r(x|z,y) even
        // where the encoder is a poor proposal.
        let y = self.tensor(repeat_rows(data, m, k), rows * k, m);
        let from_prior = self.prior_sample((0..rows * k * l).map(|_| rng.sample(StandardNormal)).collect(), &y);
        let mut z = Vec::with_capacity(rows * k * l);
        for r in 0..rows {
            for j in 0..k {
                for i in 0..l {
                    let v = if j % 2 == 0 {
                        mu[r * l + i] as f64 + (ls[r * l + i] as f64).exp() * rng.sample::<f64, _>(StandardNormal)
                    } else {
                        from_prior[(r * k + j) * l + i]
                    };
                    z.push(v as f32);
                }
            }
        }
        let log_q: Vec<f64> = (0..rows * k)
            .map(|row| {
                let r = row / k;
                let mut s = -0.5 * l as f64 * LN_2PI;
                for i in 0..l {
                    let e = (z[row * l + i] as f64 - mu[r * l + i] as f64) * (-(ls[r * l + i] as f64)).exp();
                    s -= 0.5 * e * e + ls[r * l + i] as f64;
                }
                s
            })
            .collect();
        let zt = self.tensor(z, rows * k, l);
        let log_prior = self.prior.log_prob(p, zt.clone(), y.clone()).as_vec();
        let context = self.decoder_context.forward(p, zt, y);
        let x = self.tensor(repeat_rows(theta, d, k), rows * k, d);
        let log_rec = self.decoder.log_prob(p, x, context).as_vec();
        (0..rows)
            .map(|r| {
                let terms: Vec<f64> = (0..k)
                    .map(|j| {
                        let i = r * k + j;
                        let (lq, lr) = (log_q[i], log_prior[i] as f64);
                        let mx = lq.max(lr);
                        let log_mix = mx + (0.5 * ((lq - mx).exp() + (lr - mx).exp())).ln();
                        log_rec[i] as f64 + lr - log_mix
                    })
                    .collect();
                log_mean_exp(&terms)
            })
            .collect()
    }

    fn sample_z(&self, n: usize, data: &[f32], rng: &mut SampleRng) -> Vec<f64> {
        let (d, l, m) = (self.d, self.latent, self.data_dim);
        let y1 = self.tensor(data.to_vec(), 1, m);
        let u: Vec<f64> = (0..n * l).map(|_| rng.sample(StandardNormal)).collect();
        let z = self.prior.inverse_shared(&self.params, u, &y1);
        let zt = self.tensor(z.iter().map(|&v| v as f32).collect(), n, l);
        let context = self.decoder_context.forward_shared_y(&self.params, zt, y1);
        let u: Vec<f64> = (0..n * d).map(|_| rng.sample(StandardNormal)).collect();
        self.decoder.inverse(&self.params, u, &context)
    }

    fn latent(&self, data: &[f32], rows: usize) -> Option<(usize, Vec<f64>)> {
        // The image of the base distribution's centre: the prior flow's "median" latent of each y.
        let y = self.tensor(data.to_vec(), rows, self.data_dim);
        Some((self.latent, self.prior_sample(vec![0.0; rows * self.latent], &y)))
    }
}
