//! The `npse` estimator: neural posterior score estimation (Geffner et al. 2023; Sharrock et
//! al. 2024, as sbi ships it), a score network trained by denoising score matching under a
//! variance-exploding or variance-preserving SDE (Song et al. 2021), sampled through the
//! probability-flow ODE or, as an option, the reverse SDE.
//!
//! The model predicts the noise: with θ_t = m(t) θ + s(t) ε it regresses ε̂(t, θ_t, y) onto ε
//! (the score is −ε̂ / s(t); this is denoising score matching weighted by s², which keeps the
//! loss of every t on one scale). ε̂ = s c² θ_t + N(t, c θ_t, y) with c = 1 / √(m² + s²): the
//! first term is the exact noise of a standard-normal θ (the z-scored parameters' scale), so the
//! network N learns the posterior's departure from it and an untrained model is already a
//! proper density near N(0, I) (EDM's skip connection); its input c θ_t has unit variance, so
//! that the large noise of a VE process does not saturate it. N is `fmpe`'s network: residual
//! blocks gated by the data and the time.
//!
//! The probability-flow ODE dθ/dt = a(t) θ + b(t) ε̂, with a = f's coefficient and b = g² / 2s,
//! carries the base N(0, (m(1)² + s(1)²) I) at t = 1 to q(θ|y) at t = t_min; densities integrate
//! forward with the divergence, a·d + b ∇·ε̂, computed exactly as for `fmpe`, so test NLL, KL,
//! importance sampling and evidences are of that ODE's density whichever sampler draws.

use super::params::ParamSet;
use super::registry::{BuildContext, EstimatorConfig};
use super::solver::SolverSpec;
use super::vector_field::{DataTerms, HostField, VectorField};
use super::Estimator;
use super::{DensityEstimator, Dev, LossContext, Network, T0, T2};
use crate::config::number;
use crate::config::{at_least, at_most, bad, hidden_widths, Violation};
use crate::math::ode::integrate;
use crate::math::SampleRng;
use crate::nn::{EmbeddingSpec, LossKind};
use dfdx::prelude::*;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The noising process, as a spec writes it: `{ kind: vp, beta_min: 0.1, beta_max: 20 }` or
/// `{ kind: ve, sigma_min: 0.01, sigma_max: 10 }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SdeSpec {
    /// Variance preserving: dθ = −½β(t) θ dt + √β(t) dW, β rising linearly from `beta_min` at
    /// t = 0 to `beta_max` at t = 1.
    Vp {
        /// β(0).
        #[serde(deserialize_with = "number::f64")]
        beta_min: f64,
        /// β(1).
        #[serde(deserialize_with = "number::f64")]
        beta_max: f64,
    },
    /// Variance exploding: dθ = √(dσ²/dt) dW, σ(t) = σ_min (σ_max / σ_min)^t.
    Ve {
        /// σ(0).
        #[serde(deserialize_with = "number::f64")]
        sigma_min: f64,
        /// σ(1): larger than the spread of the (z-scored) parameters.
        #[serde(deserialize_with = "number::f64")]
        sigma_max: f64,
    },
}

impl SdeSpec {
    /// The perturbation kernel θ_t = m θ + s ε at t: (m, s).
    fn kernel(&self, t: f64) -> (f64, f64) {
        match *self {
            SdeSpec::Vp { beta_min, beta_max } => {
                let b = beta_min * t + 0.5 * (beta_max - beta_min) * t * t;
                ((-0.5 * b).exp(), (-(-b).exp_m1()).max(1e-24).sqrt())
            }
            SdeSpec::Ve { sigma_min, sigma_max } => (1.0, sigma_min * (sigma_max / sigma_min).powf(t)),
        }
    }

    /// The drift's coefficient a(t) (f = a θ) and the squared diffusion g(t)².
    fn drift_diffusion(&self, t: f64) -> (f64, f64) {
        match *self {
            SdeSpec::Vp { beta_min, beta_max } => {
                let beta = beta_min + (beta_max - beta_min) * t;
                (-0.5 * beta, beta)
            }
            SdeSpec::Ve { sigma_min, sigma_max } => {
                let s = sigma_min * (sigma_max / sigma_min).powf(t);
                (0.0, 2.0 * s * s * (sigma_max / sigma_min).ln())
            }
        }
    }

    /// The scale c(t) = 1 / √(m² + s²) of the network's input.
    fn input_scale(&self, t: f64) -> f64 {
        let (m, s) = self.kernel(t);
        1.0 / (m * m + s * s).sqrt()
    }

    fn validate(&self, key: &str) -> Result<(), Violation> {
        let (lo, hi, names, hint) = match *self {
            SdeSpec::Vp { beta_min, beta_max } => (beta_min, beta_max, ("beta_min", "beta_max"), "Song et al. use 0.1 and 20"),
            SdeSpec::Ve { sigma_min, sigma_max } => (sigma_min, sigma_max, ("sigma_min", "sigma_max"), "for z-scored parameters 0.01 and 10 serve"),
        };
        if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && lo < hi && hi <= 1e4) {
            return Err(bad(key, format!("needs 0 < {} < {} ≤ 10⁴, got {lo} and {hi}", names.0, names.1), Some(hint)));
        }
        Ok(())
    }
}

/// How `npse` draws: integrating the probability-flow ODE with `model.solver`, or the reverse
/// SDE by Euler–Maruyama with `steps` steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScoreSampler {
    /// The probability-flow ODE (deterministic given the base draw).
    Ode,
    /// The reverse SDE, `steps` Euler–Maruyama steps.
    Sde {
        /// Number of steps.
        #[serde(deserialize_with = "number::usize")]
        steps: usize,
    },
}

/// Settings of the `npse` estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NpseSpec {
    /// The noising SDE.
    pub sde: SdeSpec,
    /// Widths of the residual blocks of the score network (SiLU, gated by data and time).
    #[serde(deserialize_with = "number::vec_usize")]
    pub hidden: Vec<usize>,
    /// Frequencies K of the time features (t, sin 2πkt, cos 2πkt), k = 1..K.
    #[serde(deserialize_with = "number::usize")]
    pub time_frequencies: usize,
    /// The earliest time: training draws t uniformly in [t_min, 1], draws end at t_min.
    #[serde(deserialize_with = "number::f64")]
    pub t_min: f64,
    /// How draws are made.
    pub sampler: ScoreSampler,
    /// How the probability-flow ODE integrates (densities, and draws with `sampler: ode`).
    pub solver: SolverSpec,
    /// Network that embeds y: a list of MLP widths or a `conv1d` section.
    #[serde(deserialize_with = "crate::nn::embedding_or_none")]
    pub embedding: Option<EmbeddingSpec>,
}

impl Default for NpseSpec {
    fn default() -> Self {
        NpseSpec {
            sde: SdeSpec::Vp { beta_min: 0.1, beta_max: 20.0 },
            hidden: vec![128, 128, 128],
            time_frequencies: 4,
            t_min: 1e-3,
            sampler: ScoreSampler::Ode,
            solver: SolverSpec::default(),
            embedding: Some(EmbeddingSpec::mlp(vec![64, 64])),
        }
    }
}

impl EstimatorConfig for NpseSpec {
    const KIND: &'static str = "npse";
    const LOSS: LossKind = LossKind::ScoreMatching;
    fn embedding(&self) -> Option<&EmbeddingSpec> {
        self.embedding.as_ref()
    }

    fn validate(&self) -> Result<(), Violation> {
        hidden_widths(&self.hidden, Some("the score network needs at least one residual block"))?;
        at_most("model.hidden", self.hidden.len(), 256)?;
        at_most("model.time_frequencies", self.time_frequencies, 64)?;
        self.sde.validate("model.sde")?;
        if !(self.t_min.is_finite() && (0.0..=0.1).contains(&self.t_min)) {
            return Err(bad("model.t_min", format!("must be in [0, 0.1], got {}", self.t_min), Some("1e-3 is usual")));
        }
        if matches!(self.sde, SdeSpec::Vp { .. }) && self.t_min <= 0.0 {
            return Err(bad("model.t_min", "must be above 0 for a VP SDE: its noise vanishes at t = 0, and the score with it", Some("1e-3 is usual")));
        }
        if let ScoreSampler::Sde { steps } = self.sampler {
            at_least("model.sampler.steps", steps, 1)?;
            at_most("model.sampler.steps", steps, 100_000)?;
        }
        self.solver.validate("model.solver")
    }

    fn build(&self, ctx: BuildContext) -> Estimator {
        Estimator::Density(Box::new(NpseNet::new(ctx.dev, ctx.rng, ctx.params, self, ctx.theta_dim, ctx.features)))
    }

    fn example() -> Self {
        NpseSpec { hidden: vec![16, 16], embedding: Some(EmbeddingSpec::mlp(vec![16])), ..NpseSpec::default() }
    }
}

/// Rows integrated together (one step size each): large enough for efficient products.
const CHUNK: usize = 512;

/// The score model.
pub struct NpseNet {
    dev: Dev,
    d: usize,
    data_dim: usize,
    field: VectorField,
    spec: NpseSpec,
    params: ParamSet,
}
thread_safe_on_gpu!(NpseNet);

impl NpseNet {
    /// A new score model over `theta_dim` parameters conditioned on `data_dim` features.
    pub fn new(dev: &Dev, rng: &mut impl Rng, mut params: ParamSet, spec: &NpseSpec, theta_dim: usize, data_dim: usize) -> NpseNet {
        let field = VectorField::new(dev, rng, &mut params, "score", theta_dim, data_dim, &spec.hidden, spec.time_frequencies);
        NpseNet { dev: dev.clone(), d: theta_dim, data_dim, field, spec: spec.clone(), params }
    }

    /// The base's standard deviation at t = 1.
    fn base_std(&self) -> f64 {
        1.0 / self.spec.sde.input_scale(1.0)
    }

    /// ε̂ = s c² θ + N(t, c θ, y) at t for `rows` rows of θ (f64), and with `divergence` its
    /// divergence per row, s c² d + c ∇·N.
    fn noise(&self, field: &HostField, terms: &DataTerms, t: f64, theta: &[f64], rows: usize, divergence: bool) -> (Vec<f32>, Vec<f32>) {
        let c = self.spec.sde.input_scale(t);
        let skip = self.spec.sde.kernel(t).1 * c * c;
        let x: Vec<f32> = theta.iter().map(|&v| (v * c) as f32).collect();
        let (mut e, mut div) = field.eval(t as f32, &x, rows, terms, divergence);
        e.iter_mut().zip(theta).for_each(|(e, &v)| *e += (skip * v) as f32);
        div.iter_mut().for_each(|v| *v = (skip * self.d as f64 + c * *v as f64) as f32);
        (e, div)
    }

    /// Integrates the probability-flow ODE for `theta` (rows × d) from t0 to t1; with
    /// `divergence` also returns ∫ ∇·F dt along each row's path (from t0 to t1).
    fn flow(&self, field: &HostField, terms: &DataTerms, theta: &mut [f64], rows: usize, t0: f64, t1: f64, divergence: bool) -> Vec<f64> {
        let spec = &self.spec;
        probability_flow(spec.sde, spec.solver, self.d, theta, rows, t0, t1, divergence, |t, x, div| self.noise(field, terms, t, x, rows, div))
    }
}

/// The probability-flow ODE dθ/dt = a θ + (g² / 2s) ε̂ of `sde` for `theta` (rows × d) from t0
/// to t1, ε̂ (and its divergence per row, with `divergence`) from `noise(t, θ, divergence)`;
/// returns ∫ ∇·F dt along each row's path when asked.
#[allow(clippy::too_many_arguments)]
fn probability_flow(
    sde: SdeSpec,
    solver: SolverSpec,
    d: usize,
    theta: &mut [f64],
    rows: usize,
    t0: f64,
    t1: f64,
    divergence: bool,
    mut noise: impl FnMut(f64, &[f64], bool) -> (Vec<f32>, Vec<f32>),
) -> Vec<f64> {
    let mut state = theta.to_vec();
    if divergence {
        state.resize(rows * (d + 1), 0.0);
    }
    integrate(solver.solver(), t0, t1, &mut state, |t, s, ds| {
        let (a, g2) = sde.drift_diffusion(t);
        let b = g2 / (2.0 * sde.kernel(t).1);
        let (e, div) = noise(t, &s[..rows * d], divergence);
        ds[..rows * d].iter_mut().zip(&s[..rows * d]).zip(&e).for_each(|((o, &x), &e)| *o = a * x + b * e as f64);
        ds[rows * d..].iter_mut().zip(&div).for_each(|(o, &v)| *o = a * d as f64 + b * v as f64);
    });
    theta.copy_from_slice(&state[..rows * d]);
    state.split_off(rows * d)
}

/// The reverse SDE of `sde` from t = 1 to `t_min` by Euler–Maruyama, `steps` steps, for `theta`
/// (drawn from the base), ε̂ from `noise(t, θ)`; the last step adds no noise.
fn reverse_sde(sde: SdeSpec, t_min: f64, steps: usize, theta: &mut [f64], rng: &mut SampleRng, mut noise: impl FnMut(f64, &[f64]) -> Vec<f32>) {
    let dt = (1.0 - t_min) / steps as f64;
    for k in 0..steps {
        let t = 1.0 - k as f64 * dt;
        let (a, g2) = sde.drift_diffusion(t);
        let s = sde.kernel(t).1;
        let e = noise(t, theta);
        // dθ = [a θ − g² ∇log p] dt + g dW̄, run backward in time; ∇log p = −ε̂ / s.
        let g = if k + 1 < steps { (g2 * dt).sqrt() } else { 0.0 };
        for (x, &e) in theta.iter_mut().zip(&e) {
            *x -= (a * *x + g2 * e as f64 / s) * dt;
            if g > 0.0 {
                *x += g * rng.sample::<f64, _>(StandardNormal);
            }
        }
    }
}

/// log N(x; 0, σ² I) of one row.
fn log_normal(x: &[f64], sigma: f64) -> f64 {
    let d = x.len() as f64;
    -0.5 * x.iter().map(|v| v * v).sum::<f64>() / (sigma * sigma) - d * sigma.ln() - 0.5 * d * (2.0 * std::f64::consts::PI).ln()
}

impl Network for NpseNet {
    estimator_accessors!();

    fn loss(&self, theta: T2, data: T2<OwnedTape<f32, Dev>>, ctx: &mut LossContext) -> T0<OwnedTape<f32, Dev>> {
        let (rows, d) = *theta.shape();
        let theta0 = super::kernels::linear::host(&theta);
        let t_min = self.spec.t_min;
        let t: Vec<f64> = (0..rows).map(|_| t_min + (1.0 - t_min) * ctx.rng.gen::<f64>()).collect();
        let mut noisy = Vec::with_capacity(rows * d);
        let mut target = Vec::with_capacity(rows * d);
        for (r, row) in theta0.chunks_exact(d).enumerate() {
            let (m, s) = self.spec.sde.kernel(t[r]);
            let c = self.spec.sde.input_scale(t[r]);
            for &x in row {
                let e: f64 = ctx.rng.sample(StandardNormal);
                let at = m * x as f64 + s * e;
                noisy.push((at * c) as f32);
                // The network's share of ε: what the skip term s c² θ_t leaves.
                target.push((e - s * c * c * at) as f32);
            }
        }
        let t32: Vec<f32> = t.iter().map(|&t| t as f32).collect();
        let time: T2 = self.dev.tensor_from_vec(self.field.time_rows(&t32), (rows, self.field.time_width()));
        let noisy: T2 = self.dev.tensor_from_vec(noisy, (rows, d));
        let target: T2 = self.dev.tensor_from_vec(target, (rows, d));
        let e = self.field.forward(&self.params, noisy, time, data, ctx.data_grad);
        // The squared error of ε̂ summed over parameters, averaged over rows.
        (e - target).square().sum::<(), _>() * (1.0 / rows.max(1) as f32)
    }
}

impl DensityEstimator for NpseNet {
    fn log_prob_z(&self, theta: &[f32], data: &[f32], rows: usize) -> Vec<f64> {
        let (d, f) = (self.d, self.data_dim);
        let field = self.field.host(&self.params);
        let base = self.base_std();
        let chunks: Vec<(usize, usize)> = (0..rows).step_by(CHUNK).map(|s| (s, (s + CHUNK).min(rows))).collect();
        let parts: Vec<Vec<f64>> = chunks
            .into_par_iter()
            .map(|(s, e)| {
                let n = e - s;
                let terms = field.data_terms(&data[s * f..e * f], n);
                let mut x: Vec<f64> = theta[s * d..e * d].iter().map(|&v| v as f64).collect();
                // From the draw at t_min to the base at 1: log q = log base(θ(1)) + ∫ ∇·F dt.
                let along = self.flow(&field, &terms, &mut x, n, self.spec.t_min, 1.0, true);
                x.chunks_exact(d).zip(along).map(|(x1, a)| log_normal(x1, base) + a).collect()
            })
            .collect();
        parts.concat()
    }

    fn sample_z(&self, n: usize, data: &[f32], rng: &mut SampleRng) -> Vec<f64> {
        let d = self.d;
        let field = self.field.host(&self.params);
        let terms = field.data_terms(data, 1);
        let base = self.base_std();
        let mut x: Vec<f64> = (0..n * d).map(|_| base * rng.sample::<f64, _>(StandardNormal)).collect();
        // Each chunk's SDE noise from its own stream, seeded in order: the same draws on any
        // number of threads.
        let seeds: Vec<u64> = (0..n.div_ceil(CHUNK)).map(|_| rng.gen()).collect();
        x.par_chunks_mut(CHUNK * d).zip(seeds).for_each(|(part, seed)| {
            let rows = part.len() / d;
            match self.spec.sampler {
                ScoreSampler::Ode => {
                    self.flow(&field, &terms, part, rows, 1.0, self.spec.t_min, false);
                }
                ScoreSampler::Sde { steps } => {
                    let mut chunk_rng = SampleRng::seed_from_u64(seed);
                    reverse_sde(self.spec.sde, self.spec.t_min, steps, part, &mut chunk_rng, |t, x| self.noise(&field, &terms, t, x, rows, false).0);
                }
            }
        });
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::StreamFamily;

    fn net(spec: &NpseSpec) -> NpseNet {
        let dev = Dev::default();
        let mut rng = StreamFamily::new(2, "t").rng(0);
        NpseNet::new(&dev, &mut rng, ParamSet::default(), spec, 2, 3)
    }

    /// Both kernels are what their SDEs integrate to: VP keeps m² + s² = 1 and its m is
    /// exp(−½∫β); VE's variance grows as σ(t)², whose derivative is g².
    #[test]
    fn kernels_follow_their_sdes() {
        let vp = SdeSpec::Vp { beta_min: 0.1, beta_max: 20.0 };
        for t in [0.01, 0.3, 1.0] {
            let (m, s) = vp.kernel(t);
            assert!((m * m + s * s - 1.0).abs() < 1e-12);
            // d ln m / dt = a(t).
            let h = 1e-6;
            let slope = (vp.kernel(t + h).0.ln() - vp.kernel(t - h).0.ln()) / (2.0 * h);
            assert!((slope - vp.drift_diffusion(t).0).abs() < 1e-6, "{slope}");
        }
        let ve = SdeSpec::Ve { sigma_min: 0.01, sigma_max: 10.0 };
        for t in [0.0, 0.5, 1.0] {
            let h = 1e-6;
            let dv = (ve.kernel(t + h).1.powi(2) - ve.kernel(t - h).1.powi(2)) / (2.0 * h);
            assert!((dv - ve.drift_diffusion(t).1).abs() < 1e-5 * dv, "{dv}");
        }
        assert!((ve.kernel(1.0).1 - 10.0).abs() < 1e-12);
    }

    /// A draw's density, computed forward from the draw to the base, equals the base density
    /// of its start plus the divergence integral computed along the same path.
    #[test]
    fn density_matches_the_sampling_path() {
        for sde in [SdeSpec::Vp { beta_min: 0.1, beta_max: 20.0 }, SdeSpec::Ve { sigma_min: 0.01, sigma_max: 10.0 }] {
            let solver = SolverSpec::Dopri5 { atol: 1e-8, rtol: 1e-8 };
            let n = net(&NpseSpec { hidden: vec![8, 8], sde, solver, ..NpseSpec::default() });
            let field = n.field.host(&n.params);
            let y = [0.2f32, -0.4, 0.9];
            let terms = field.data_terms(&y, 1);
            let base = n.base_std();
            let x1 = vec![0.3 * base, -1.2 * base, 1.1 * base, 0.4 * base];
            let mut x0 = x1.clone();
            let back = n.flow(&field, &terms, &mut x0, 2, 1.0, n.spec.t_min, true);
            let x0f: Vec<f32> = x0.iter().map(|&v| v as f32).collect();
            let lp = n.log_prob_z(&x0f, &[y, y].concat(), 2);
            for r in 0..2 {
                let want = log_normal(&x1[r * 2..r * 2 + 2], base) - back[r];
                assert!((lp[r] - want).abs() < 2e-3, "{sde:?} row {r}: {} vs {want}", lp[r]);
            }
        }
    }

    /// The loss is the noise regression: with a zero network ε̂ is the skip term, exact for a
    /// standard-normal θ, so the loss of θ ~ N(0, I) data is the loss of the exact noise
    /// prediction, E over t of d (1 − s² c²) = d E[m² c²]; and larger for θ far from N(0, I).
    #[test]
    fn the_loss_of_a_zero_network_is_that_of_the_skip_term() {
        let mut n = net(&NpseSpec { hidden: vec![4], ..NpseSpec::default() });
        for p in n.params.params.iter_mut() {
            let zeros = vec![0.0f32; p.tensor.shape().0];
            p.tensor.copy_from(&zeros);
        }
        let rows = 40_000;
        let mut rng = StreamFamily::new(4, "t").rng(0);
        let normal: Vec<f32> = (0..rows * 2).map(|_| rng.sample::<f32, _>(StandardNormal)).collect();
        let theta: T2 = n.dev.tensor_from_vec(normal, (rows, 2));
        let data: T2 = n.dev.tensor_from_vec(vec![0.5; rows * 3], (rows, 3));
        let loss = n.loss(theta, data.leaky_traced(), &mut LossContext::seeded(1, 0, 1.0)).array() as f64;
        // E_t[m² c²] by the midpoint rule over t ~ U(t_min, 1); m² c² = m² / (m² + s²) = m² for VP.
        let sde = n.spec.sde;
        let t_min = n.spec.t_min;
        let want = 2.0 * (0..10_000).map(|i| t_min + (1.0 - t_min) * (i as f64 + 0.5) / 10_000.0).map(|t| sde.kernel(t).0.powi(2) * sde.input_scale(t).powi(2)).sum::<f64>() / 10_000.0;
        assert!((loss - want).abs() < 0.03, "{loss} vs {want}");
    }

    /// The exact noise of a Gaussian target θ ~ N(μ, v) under `sde`: the marginal at t is
    /// N(m μ, m² v + s²), so ε̂ = s (θ_t − m μ) / (m² v + s²), and ∇·ε̂ = s / (m² v + s²).
    fn exact_noise(sde: SdeSpec, mu: f64, v: f64) -> impl Fn(f64, &[f64], bool) -> (Vec<f32>, Vec<f32>) {
        move |t, x, divergence| {
            let (m, s) = sde.kernel(t);
            let w = m * m * v + s * s;
            let e = x.iter().map(|&x| (s * (x - m * mu) / w) as f32).collect();
            let div = if divergence { vec![(s / w) as f32; x.len()] } else { Vec::new() };
            (e, div)
        }
    }

    /// With the exact score of a Gaussian, the probability-flow ODE carries the base to the
    /// target and gives its density, and the reverse SDE draws it, for both SDEs.
    #[test]
    fn with_the_exact_score_both_samplers_reach_the_target() {
        let (mu, v, t_min) = (0.7f64, 0.25f64, 1e-3);
        let solver = SolverSpec::Dopri5 { atol: 1e-8, rtol: 1e-8 };
        for sde in [SdeSpec::Vp { beta_min: 0.1, beta_max: 20.0 }, SdeSpec::Ve { sigma_min: 0.01, sigma_max: 10.0 }] {
            let noise = exact_noise(sde, mu, v);
            let (m, s) = sde.kernel(t_min);
            let (target_mean, target_var) = (m * mu, m * m * v + s * s);
            // Densities at five points against N(m μ, m² v + s²), the marginal at t_min.
            let points = [-0.5, 0.2, 0.7, 1.0, 1.6];
            for &p in &points {
                let mut x = vec![p];
                let along = probability_flow(sde, solver, 1, &mut x, 1, t_min, 1.0, true, &noise);
                let base = 1.0 / sde.input_scale(1.0);
                let (m1, s1) = sde.kernel(1.0);
                // The base is N(0, m² + s²); the true marginal at 1 is N(m μ, m² v + s²), so
                // compare with the density the flow defines from the true marginal instead.
                let lq_true = log_normal(&[x[0] - m1 * mu], (m1 * m1 * v + s1 * s1).sqrt()) + along[0];
                let want = log_normal(&[p - target_mean], target_var.sqrt());
                assert!((lq_true - want).abs() < 1e-4, "{sde:?} at {p}: {lq_true} vs {want} (base {base})");
            }
            let mut rng = StreamFamily::new(3, "t").rng(0);
            let rows = 20_000;
            let (m1, s1) = sde.kernel(1.0);
            let spread = (m1 * m1 * v + s1 * s1).sqrt();
            let mut x: Vec<f64> = (0..rows).map(|_| m1 * mu + spread * rng.sample::<f64, _>(StandardNormal)).collect();
            reverse_sde(sde, t_min, 1000, &mut x, &mut rng, |t, x| noise(t, x, false).0);
            let mean = x.iter().sum::<f64>() / rows as f64;
            let var = x.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / rows as f64;
            assert!((mean - target_mean).abs() < 0.02 && (var - target_var).abs() < 0.02, "{sde:?}: mean {mean} var {var}");
        }
    }
}
