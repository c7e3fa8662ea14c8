//! The `deep_ensemble` estimator: Bayesian neural-network regression that reports its
//! uncertainty, as in Li et al.'s Bayesian networks for GW parameters (arXiv:2003.13928), by a
//! deep ensemble (Lakshminarayanan, Pritzel & Blundell, arXiv:1612.01474).
//!
//! `members` regression networks, each with its own initialisation, predict a Gaussian
//! N(μ_m(y), Σ_m(y)) over the parameters (full covariance, as the `gaussian` estimator: the
//! parameters' posteriors are correlated, masses with masses and distance with inclination)
//! and are trained together on the same batches, each by its own negative log-likelihood (the
//! loss is their mean; their parameters are disjoint, so each learns as if alone). The
//! posterior is their equal-weight mixture q(x|y) = (1/M) Σ_m N(x; μ_m(y), Σ_m(y)): the spread
//! of one member is the data's (aleatoric) noise, the disagreement between members the
//! network's (epistemic) uncertainty. With `components: K` > 1 each member's output is a
//! mixture of K Gaussians (an `mdn`), for posteriors one Gaussian cannot take.
//!
//! Why an ensemble rather than MC dropout: the mixture has a closed-form density, so log q, the
//! test NLL, samples and the P-P test are exact like every other estimator's; MC dropout's
//! predictive density is known only through many stochastic passes, and ensembles are the
//! better calibrated of the two in the comparisons of Ovadia et al. (arXiv:1906.02530).

use super::dense::Mlp;
use super::heads::FullGaussianHead;
use super::mixture::MixtureHead;
use super::params::ParamSet;
use super::registry::{BuildContext, EstimatorConfig};
use super::{DensityEstimator, Dev, Estimator, LossContext, Network, T0, T1, T2};
use crate::nn::log_mean_exp;
use crate::sim::SampleRng;
use crate::spec::number;
use crate::spec::validate::{at_least, hidden_widths};
use crate::spec::{EmbeddingSpec, LossKind, Violation};
use dfdx::prelude::*;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Settings of the `deep_ensemble` estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeepEnsembleSpec {
    /// Members of the ensemble, each a regression network with a Gaussian output. Default 5.
    #[serde(deserialize_with = "number::usize")]
    pub members: usize,
    /// Widths of the hidden layers of each member (ReLU). Default [64, 64].
    #[serde(deserialize_with = "number::vec_usize")]
    pub hidden: Vec<usize>,
    /// Gaussians in each member's output: 1, a Gaussian (Lakshminarayanan et al.); K > 1, a
    /// mixture of K (each member an `mdn`), for posteriors a Gaussian cannot take (skewed,
    /// cut by the prior's edges). Default 1.
    #[serde(deserialize_with = "number::usize")]
    pub components: usize,
    /// Network that embeds the data y, shared by the members (MLP or 1-D CNN). Default none.
    #[serde(deserialize_with = "crate::spec::embedding_or_none")]
    pub embedding: Option<EmbeddingSpec>,
}

impl Default for DeepEnsembleSpec {
    fn default() -> Self {
        DeepEnsembleSpec { members: 5, hidden: vec![64, 64], components: 1, embedding: None }
    }
}

impl EstimatorConfig for DeepEnsembleSpec {
    const KIND: &'static str = "deep_ensemble";
    const LOSS: LossKind = LossKind::Nll;

    fn embedding(&self) -> Option<&EmbeddingSpec> {
        self.embedding.as_ref()
    }

    fn validate(&self) -> Result<(), Violation> {
        at_least("model.members", self.members, 1)?;
        at_least("model.components", self.components, 1)?;
        hidden_widths(&self.hidden, None)
    }

    fn build(&self, ctx: BuildContext) -> Estimator {
        Estimator::Density(Box::new(DeepEnsembleNet::new(ctx.dev, ctx.rng, ctx.params, self, ctx.theta_dim, ctx.features)))
    }

    fn example() -> Self {
        DeepEnsembleSpec { members: 3, hidden: vec![16], components: 2, embedding: None }
    }
}

/// One member: an MLP and a full-covariance Gaussian head, or a mixture of them.
struct Member {
    trunk: Mlp,
    head: MemberHead,
}

enum MemberHead {
    Gaussian(FullGaussianHead),
    Mixture(Box<MixtureHead>),
}

impl MemberHead {
    fn log_prob<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, h: T2<Tp>, theta: T2) -> T1<Tp> {
        match self {
            MemberHead::Gaussian(g) => g.log_prob(p, h, theta),
            MemberHead::Mixture(m) => m.log_prob(p, h, theta),
        }
    }

    /// One row's distribution, to draw from.
    fn draw_from(&self, p: &ParamSet, h: T2) -> Box<dyn Fn(&mut SampleRng) -> Vec<f64>> {
        match self {
            MemberHead::Gaussian(g) => {
                let n = g.normals(p, h).remove(0);
                Box::new(move |rng| n.sample(rng))
            }
            MemberHead::Mixture(m) => {
                let mix = m.mixture(p, h);
                Box::new(move |rng| mix.sample(rng))
            }
        }
    }
}

/// The ensemble.
pub struct DeepEnsembleNet {
    dev: Dev,
    d: usize,
    data_dim: usize,
    members: Vec<Member>,
    params: ParamSet,
}

impl DeepEnsembleNet {
    /// `spec.members` networks over `theta_dim` parameters from `data_dim` features, each
    /// initialised from its own draws of `rng`.
    pub fn new(dev: &Dev, rng: &mut impl Rng, mut params: ParamSet, spec: &DeepEnsembleSpec, theta_dim: usize, data_dim: usize) -> Self {
        let members = (0..spec.members)
            .map(|m| {
                let trunk = Mlp::new(dev, rng, &mut params, &format!("member.{m}.trunk"), data_dim, &spec.hidden);
                let name = format!("member.{m}.head");
                let head = match spec.components {
                    1 => MemberHead::Gaussian(FullGaussianHead::new(dev, rng, &mut params, &name, trunk.n_out(), theta_dim)),
                    k => MemberHead::Mixture(Box::new(MixtureHead::new(
                        dev,
                        rng,
                        &mut params,
                        &format!("{name}."),
                        trunk.n_out(),
                        theta_dim,
                        k,
                    ))),
                };
                Member { trunk, head }
            })
            .collect();
        DeepEnsembleNet { dev: dev.clone(), d: theta_dim, data_dim, members, params }
    }

    /// log N(θ; μ_m(y), Σ_m(y)) per row for member `m`.
    fn member_log_prob<Tp: Tape<f32, Dev>>(&self, m: &Member, data: T2<Tp>, theta: T2, data_grad: bool) -> T1<Tp> {
        m.head.log_prob(&self.params, m.trunk.forward_data(&self.params, data, data_grad), theta)
    }
}

impl Network for DeepEnsembleNet {
    estimator_accessors!();

    /// The mean over members of each member's own negative log-likelihood.
    fn loss(&self, theta: T2, data: T2<OwnedTape<f32, Dev>>, ctx: &mut LossContext) -> T0<OwnedTape<f32, Dev>> {
        let scale = 1.0 / self.members.len() as f32;
        let (data, tape) = data.split_tape();
        let mut total: Option<T0<OwnedTape<f32, Dev>>> = None;
        let mut tape = Some(tape);
        for m in &self.members {
            // The first member carries the data's tape; the others join it where the sums meet.
            let y = match tape.take() {
                Some(t) => data.clone().put_tape(t),
                None => data.clone().retaped::<OwnedTape<f32, Dev>>(),
            };
            let nll = self.member_log_prob(m, y, theta.clone(), ctx.data_grad).mean::<(), _>().negate() * scale;
            total = Some(match total {
                Some(t) => t + nll,
                None => nll,
            });
        }
        total.unwrap_or_else(|| self.dev.zeros::<Rank0>().retaped::<OwnedTape<f32, Dev>>())
    }
}

impl DensityEstimator for DeepEnsembleNet {
    /// log of the equal-weight mixture of the members' densities.
    fn log_prob_z(&self, theta: &[f32], data: &[f32], rows: usize) -> Vec<f64> {
        let y: T2 = self.dev.tensor_from_vec(data.to_vec(), (rows, self.data_dim));
        let t: T2 = self.dev.tensor_from_vec(theta.to_vec(), (rows, self.d));
        let per_member: Vec<Vec<f32>> =
            self.members.iter().map(|m| self.member_log_prob(m, y.clone(), t.clone(), false).as_vec()).collect();
        (0..rows).map(|r| log_mean_exp(&per_member.iter().map(|l| l[r] as f64).collect::<Vec<f64>>())).collect()
    }

    /// A member chosen uniformly, then a draw from its Gaussian (or mixture).
    fn sample_z(&self, n: usize, data: &[f32], rng: &mut SampleRng) -> Vec<f64> {
        let y: T2 = self.dev.tensor_from_vec(data.to_vec(), (1, self.data_dim));
        let draws: Vec<_> = self.members.iter().map(|m| m.head.draw_from(&self.params, m.trunk.forward(&self.params, y.clone()))).collect();
        (0..n).flat_map(|_| draws[rng.gen_range(0..draws.len())](rng)).collect()
    }
}
