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
//!
//! An equal-weight pool of calibrated members is itself too wide wherever they disagree by as
//! much as their own spread (Gneiting & Ranjan, EJS 7 1747, 2013): on the GW benchmark the
//! merger time's ranks bow into a ∩ although one member trained alone passes. `pool:
//! spread_adjusted` is their spread-adjusted linear pool: every member's Gaussians widened or
//! narrowed about their own means by one factor per parameter, q(x|y) = (1/M) Σ_m N(x; μ_m,
//! D Σ_m D) with D = diag(c), and c fitted after training by the pool's likelihood on the
//! validation split (a proper score, so the fit calibrates rather than sharpens).

use super::dense::Mlp;
use super::heads::FullGaussianHead;
use super::mixture::{Mixture, MixtureHead};
use super::params::ParamSet;
use super::registry::{BuildContext, EstimatorConfig};
use super::{DensityEstimator, Dev, Estimator, LossContext, Network, T0, T1, T2};
use crate::math::MvNormal;
use crate::nn::log_mean_exp;
use crate::math::SampleRng;
use crate::config::number;
use crate::config::{at_least, at_most, hidden_widths};
use crate::config::Violation;
use crate::nn::{EmbeddingSpec, LossKind};
use dfdx::prelude::*;
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Settings of the `deep_ensemble` estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeepEnsembleSpec {
    /// Members of the ensemble, each a regression network with a Gaussian output.
    #[serde(deserialize_with = "number::usize")]
    pub members: usize,
    /// Widths of the hidden layers of each member (ReLU).
    #[serde(deserialize_with = "number::vec_usize")]
    pub hidden: Vec<usize>,
    /// Gaussians in each member's output: 1, a Gaussian (Lakshminarayanan et al.); K > 1, a
    /// mixture of K (each member an `mdn`), for posteriors a Gaussian cannot take (skewed,
    /// cut by the prior's edges).
    #[serde(deserialize_with = "number::usize")]
    pub components: usize,
    /// Network that embeds the data y, shared by the members (MLP or 1-D CNN).
    #[serde(deserialize_with = "crate::nn::embedding_or_none")]
    pub embedding: Option<EmbeddingSpec>,
    /// How the members' densities make q: `linear` (default) or `spread_adjusted`.
    #[serde(skip_serializing_if = "Pool::is_linear")]
    pub pool: Pool,
}

/// How the members' densities are pooled into q.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pool {
    /// q = (1/M) Σ_m q_m, as Lakshminarayanan et al.
    #[default]
    Linear,
    /// Each member's Gaussians scaled about their means by a factor per parameter, fitted
    /// after training by the pool's log-likelihood of the validation split.
    SpreadAdjusted,
}

impl Pool {
    fn is_linear(&self) -> bool {
        *self == Pool::Linear
    }
}

impl Default for DeepEnsembleSpec {
    fn default() -> Self {
        DeepEnsembleSpec { members: 5, hidden: vec![64, 64], components: 1, embedding: None, pool: Pool::Linear }
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
        at_most("model.members", self.members, 1_024)?;
        at_least("model.components", self.components, 1)?;
        at_most("model.components", self.components, 1_024)?;
        hidden_widths(&self.hidden, None)
    }

    fn build(&self, ctx: BuildContext) -> Estimator {
        Estimator::Density(Box::new(DeepEnsembleNet::new(ctx.dev, ctx.rng, ctx.params, self, ctx.theta_dim, ctx.features)))
    }

    fn example() -> Self {
        DeepEnsembleSpec { members: 3, hidden: vec![16], components: 2, embedding: None, pool: Pool::SpreadAdjusted }
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
    /// Index in `params` of the spread factors c (one per parameter) of `pool: spread_adjusted`.
    spread: Option<usize>,
}
thread_safe_on_gpu!(DeepEnsembleNet);

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
        // Saved with the weights, never trained: fitted by `calibrate` after training.
        let spread = (spec.pool == Pool::SpreadAdjusted).then(|| params.push_buffer(dev, "pool.spread", vec![1.0; theta_dim]));
        DeepEnsembleNet { dev: dev.clone(), d: theta_dim, data_dim, members, params, spread }
    }

    /// The spread factors c, when the pool is spread-adjusted.
    fn spread(&self) -> Option<Vec<f64>> {
        self.spread.map(|i| self.params.params[i].tensor.as_vec().into_iter().map(|v| v as f64).collect())
    }

    /// Each row's pool as (log weight, Gaussian) pairs, the weights including 1/M.
    fn pools(&self, data: &[f32], rows: usize) -> Vec<Vec<(f64, MvNormal)>> {
        let y: T2 = self.dev.tensor_from_vec(data.to_vec(), (rows, self.data_dim));
        let mut out: Vec<Vec<(f64, MvNormal)>> = (0..rows).map(|_| Vec::new()).collect();
        let log_m = -(self.members.len() as f64).ln();
        for m in &self.members {
            let h = m.trunk.forward(&self.params, y.clone());
            match &m.head {
                MemberHead::Gaussian(g) => {
                    for (o, n) in out.iter_mut().zip(g.normals(&self.params, h)) {
                        o.push((log_m, n));
                    }
                }
                MemberHead::Mixture(x) => {
                    for (o, mix) in out.iter_mut().zip(x.mixtures(&self.params, h)) {
                        o.extend(mix.weights.iter().map(|w| log_m + w.ln()).zip(mix.components));
                    }
                }
            }
        }
        out
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

/// log Σ_k w_k N(x; μ_k, D Σ_k D), D = diag(c), for a pool of (log w_k, N(μ_k, Σ_k)); `log_c`
/// is Σ ln c.
fn spread_log_prob(pool: &[(f64, MvNormal)], x: &[f64], c: &[f64], log_c: f64) -> f64 {
    let terms: Vec<f64> = pool
        .iter()
        .map(|(lw, n)| {
            // N(x; μ, DΣD) = N(μ + D⁻¹(x − μ); μ, Σ) / det D.
            let v: Vec<f64> = x.iter().zip(&n.mean).zip(c).map(|((x, m), c)| m + (x - m) / c).collect();
            lw + n.log_prob(&v) - log_c
        })
        .collect();
    let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !top.is_finite() {
        return top;
    }
    top + terms.iter().map(|t| (t - top).exp()).sum::<f64>().ln()
}

/// Rows per forward pass when fitting the spread.
const CALIBRATION_CHUNK: usize = 4096;

impl DensityEstimator for DeepEnsembleNet {
    fn fits_after_training(&self) -> bool {
        self.spread.is_some()
    }

    /// Fits the spread factors of `pool: spread_adjusted` on held-out rows.
    fn fit_after_training(&mut self, theta: &[f32], data: &[f32], rows: usize) -> Option<String> {
        let index = self.spread?;
        if rows == 0 {
            return None;
        }
        let (c, before, after) = self.fit_spread(theta, data, rows);
        self.params.params[index].tensor.copy_from(&c.iter().map(|&v| v as f32).collect::<Vec<f32>>());
        let shown: Vec<String> = c.iter().map(|v| format!("{v:.3}")).collect();
        Some(format!(
            "pool: spread factors [{}] fitted on {rows} validation rows (mean log q {before:.4} → {after:.4}, z-scored units)",
            shown.join(", ")
        ))
    }

    /// log of the equal-weight mixture of the members' densities (each member's Gaussians
    /// scaled by the fitted spread when the pool is spread-adjusted).
    fn log_prob_z(&self, theta: &[f32], data: &[f32], rows: usize) -> Vec<f64> {
        if let Some(c) = self.spread() {
            let log_c: f64 = c.iter().map(|v| v.ln()).sum();
            let pools = self.pools(data, rows);
            return pools
                .par_iter()
                .zip(theta.par_chunks_exact(self.d))
                .map(|(pool, t)| spread_log_prob(pool, &t.iter().map(|&v| v as f64).collect::<Vec<_>>(), &c, log_c))
                .collect();
        }
        let y: T2 = self.dev.tensor_from_vec(data.to_vec(), (rows, self.data_dim));
        let t: T2 = self.dev.tensor_from_vec(theta.to_vec(), (rows, self.d));
        let per_member: Vec<Vec<f32>> =
            self.members.iter().map(|m| self.member_log_prob(m, y.clone(), t.clone(), false).as_vec()).collect();
        (0..rows).map(|r| log_mean_exp(&per_member.iter().map(|l| l[r] as f64).collect::<Vec<f64>>())).collect()
    }

    /// A member chosen uniformly, then a draw from its Gaussian (or mixture), scaled about
    /// the Gaussian's mean by the fitted spread when the pool is spread-adjusted.
    fn sample_z(&self, n: usize, data: &[f32], rng: &mut SampleRng) -> Vec<f64> {
        if let Some(c) = self.spread() {
            // The pool as one mixture of the scaled Gaussians N(μ, D Σ D): D L is the lower
            // Cholesky factor of D Σ D.
            let (weights, components) = self
                .pools(data, 1)
                .remove(0)
                .into_iter()
                .map(|(lw, n)| {
                    let mut chol = n.chol.clone();
                    for (i, row) in chol.v.chunks_exact_mut(chol.cols).enumerate() {
                        row.iter_mut().for_each(|v| *v *= c[i]);
                    }
                    (lw.exp(), MvNormal::from_chol(n.mean, chol))
                })
                .unzip();
            let mixture = Mixture { weights, components };
            return (0..n).flat_map(|_| mixture.sample(rng)).collect();
        }
        let y: T2 = self.dev.tensor_from_vec(data.to_vec(), (1, self.data_dim));
        let draws: Vec<_> = self.members.iter().map(|m| m.head.draw_from(&self.params, m.trunk.forward(&self.params, y.clone()))).collect();
        (0..n).flat_map(|_| draws[rng.gen_range(0..draws.len())](rng)).collect()
    }
}

impl DeepEnsembleNet {
    /// The spread factors that maximise the pool's mean log-likelihood of (θ, y) rows: one
    /// parameter at a time, a golden-section search on ln c, four sweeps.
    fn fit_spread(&self, theta: &[f32], data: &[f32], rows: usize) -> (Vec<f64>, f64, f64) {
        let mut pools = Vec::with_capacity(rows);
        for start in (0..rows).step_by(CALIBRATION_CHUNK) {
            let end = (start + CALIBRATION_CHUNK).min(rows);
            pools.extend(self.pools(&data[start * self.data_dim..end * self.data_dim], end - start));
        }
        let xs: Vec<Vec<f64>> = theta.chunks_exact(self.d).map(|r| r.iter().map(|&v| v as f64).collect()).collect();
        let score = |log_c: &[f64]| -> f64 {
            let c: Vec<f64> = log_c.iter().map(|v| v.exp()).collect();
            let sum: f64 = log_c.iter().sum();
            pools.par_iter().zip(&xs).map(|(p, x)| spread_log_prob(p, x, &c, sum)).sum::<f64>() / rows.max(1) as f64
        };
        let mut log_c = vec![0.0; self.d];
        let before = score(&log_c);
        let mut current = before;
        // ln c within ±2.3 (c from 0.1 to 10) on the first sweep, then ±0.3 about the last.
        let phi = (5f64.sqrt() - 1.0) / 2.0;
        for (sweep, half) in [2.3, 0.3, 0.3, 0.3].into_iter().enumerate() {
            for j in 0..self.d {
                let centre = if sweep == 0 { 0.0 } else { log_c[j] };
                let at = |v: f64, log_c: &mut Vec<f64>| {
                    log_c[j] = v;
                    score(log_c)
                };
                let (mut a, mut b) = (centre - half, centre + half);
                let mut trial = log_c.clone();
                let (mut x1, mut x2) = (b - phi * (b - a), a + phi * (b - a));
                let (mut f1, mut f2) = (at(x1, &mut trial), at(x2, &mut trial));
                for _ in 0..30 {
                    // Keep the part that holds the larger score (NaN counts as worse).
                    if f1.is_nan() || f2 > f1 {
                        a = x1;
                        (x1, f1) = (x2, f2);
                        x2 = a + phi * (b - a);
                        f2 = at(x2, &mut trial);
                    } else {
                        b = x2;
                        (x2, f2) = (x1, f1);
                        x1 = b - phi * (b - a);
                        f1 = at(x1, &mut trial);
                    }
                }
                let old = log_c[j];
                log_c[j] = (a + b) / 2.0;
                // Keep the old factor unless the new one scores at least as well (NaN never does).
                let f_new = score(&log_c);
                if f_new.is_nan() || f_new < current {
                    log_c[j] = old;
                } else {
                    current = f_new;
                }
            }
        }
        (log_c.iter().map(|v| v.exp()).collect(), before, current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::StreamFamily;

    fn ensemble(components: usize, seed: u64) -> DeepEnsembleNet {
        let spec = DeepEnsembleSpec { members: 3, hidden: vec![16], components, embedding: None, pool: Pool::SpreadAdjusted };
        let dev = Dev::default();
        let mut rng = StreamFamily::new(seed, "init").rng(0);
        DeepEnsembleNet::new(&dev, &mut rng, ParamSet::default(), &spec, 2, 3)
    }

    fn set_spread(net: &mut DeepEnsembleNet, c: &[f32]) {
        let i = net.spread.unwrap();
        net.params.params[i].tensor.copy_from(c);
    }

    /// Rows drawn from a pool whose spread is known: fitting the spread on them finds it again,
    /// and the fitted pool scores them better than the unscaled one.
    #[test]
    fn the_fitted_spread_is_the_one_the_rows_were_drawn_with() {
        for components in [1, 2] {
            let mut net = ensemble(components, 4);
            let truth = [1.6f32, 0.7];
            set_spread(&mut net, &truth);
            let rows = 6000;
            let mut rng = StreamFamily::new(9, "t").rng(0);
            let data: Vec<f32> = (0..rows * 3).map(|i| ((i as f32) * 0.61).sin() * 1.5).collect();
            let theta: Vec<f32> = (0..rows).flat_map(|r| net.sample_z(1, &data[r * 3..(r + 1) * 3], &mut rng)).map(|v| v as f32).collect();
            set_spread(&mut net, &[1.0, 1.0]);
            let (_, before, after) = net.fit_spread(&theta, &data, rows);
            assert!(after > before + 0.01, "components {components}: mean log q {before} → {after}");
            let line = net.fit_after_training(&theta, &data, rows).unwrap();
            let c = net.spread().unwrap();
            assert!((c[0] - 1.6).abs() < 0.06 && (c[1] - 0.7).abs() < 0.03, "components {components}: {c:?}");
            assert!(line.starts_with("pool: spread factors ["), "{line}");
        }
    }

    /// With a spread other than one the pool is still a density, and its draws follow it.
    #[test]
    fn a_spread_pool_integrates_to_one_and_its_draws_follow_it() {
        let mut net = ensemble(2, 6);
        set_spread(&mut net, &[1.4, 0.6]);
        let y = [0.2f32, -0.4, 0.9];
        let (lo, hi, n) = (-9.0f64, 9.0f64, 240usize);
        let h = (hi - lo) / n as f64;
        let theta: Vec<f32> =
            (0..n * n).flat_map(|k| [(lo + ((k / n) as f64 + 0.5) * h) as f32, (lo + ((k % n) as f64 + 0.5) * h) as f32]).collect();
        let data: Vec<f32> = y.iter().copied().cycle().take(n * n * 3).collect();
        let lp = net.log_prob_z(&theta, &data, n * n);
        let total: f64 = lp.iter().map(|l| l.exp()).sum::<f64>() * h * h;
        assert!((total - 1.0).abs() < 0.01, "∫q = {total}");
        // The probability of a box: from draws and from the density.
        let inside = |a: f64, b: f64| (-0.5..1.0).contains(&a) && (-1.0..0.5).contains(&b);
        let mut rng = StreamFamily::new(2, "t").rng(0);
        let draws = net.sample_z(20_000, &y, &mut rng);
        let frac = draws.chunks_exact(2).filter(|r| inside(r[0], r[1])).count() as f64 / 20_000.0;
        let mass: f64 =
            lp.iter().zip(theta.chunks_exact(2)).filter(|(_, t)| inside(t[0] as f64, t[1] as f64)).map(|(l, _)| l.exp() * h * h).sum();
        assert!((frac - mass).abs() < 0.015, "sampled {frac:.4}, integrated {mass:.4}");
    }
}
