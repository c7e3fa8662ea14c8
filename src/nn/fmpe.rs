//! The `fmpe` estimator: flow-matching posterior estimation (Wildberger, Dax et al., NeurIPS
//! 2023, arXiv:2305.17161), a continuous normalizing flow trained by regressing its vector
//! field, with DINGO's conventions: t = 0 is the standard normal, t = 1 the posterior.
//!
//! Training draws t from p(t) = (1 + α) t^α (t = u^(1/(1+α)) for uniform u, as DINGO draws it; α,
//! the time-prior exponent, weights times near the data), θ₀ ~ N(0, I) and regresses v(t, θ_t, y) onto the
//! optimal-transport path's velocity: θ_t = (1 − (1 − σ_min) t) θ₀ + t θ₁, u_t = θ₁ − (1 − σ_min) θ₀.
//! Draws integrate dθ/dt = v from 0 to 1; densities integrate backward from the draw with the
//! divergence, log q(θ₁|y) = log N(θ₀) − ∫₀¹ ∇·v dt, computed exactly (forward-mode tangents,
//! [`super::vector_field`]). One step size serves a chunk of rows, so a row's density can differ
//! from its value in another chunk by the solver's tolerance; chunks are fixed, so the numbers
//! are the same run to run.

use super::params::ParamSet;
use super::registry::{BuildContext, EstimatorConfig};
use super::solver::SolverSpec;
use super::vector_field::{DataTerms, HostField, VectorField};
use super::Estimator;
use super::{DensityEstimator, Dev, LossContext, Network, T0, T2};
use crate::config::number;
use crate::config::{at_most, bad, hidden_widths, Violation};
use crate::math::ode::integrate;
use crate::math::SampleRng;
use crate::nn::{EmbeddingSpec, LossKind};
use dfdx::prelude::*;
use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Settings of the `fmpe` estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FmpeSpec {
    /// Widths of the residual blocks of the vector field (SiLU, gated by data and time).
    #[serde(deserialize_with = "number::vec_usize")]
    pub hidden: Vec<usize>,
    /// Frequencies K of the time features (t, sin 2πkt, cos 2πkt), k = 1..K.
    #[serde(deserialize_with = "number::usize")]
    pub time_frequencies: usize,
    /// Width of the path's end point: θ_t has standard deviation σ_min about θ₁ at t = 1.
    #[serde(deserialize_with = "number::f64")]
    pub sigma_min: f64,
    /// α of the time prior p(t) ∝ t^α: 0 is uniform, larger weights t near the data.
    #[serde(deserialize_with = "number::f64")]
    pub time_prior_exponent: f64,
    /// How draws and densities integrate the ODE.
    pub solver: SolverSpec,
    /// Network that embeds y: a list of MLP widths or a `conv1d` section.
    #[serde(deserialize_with = "crate::nn::embedding_or_none")]
    pub embedding: Option<EmbeddingSpec>,
}

impl Default for FmpeSpec {
    fn default() -> Self {
        FmpeSpec {
            hidden: vec![128, 128, 128],
            time_frequencies: 4,
            sigma_min: 1e-3,
            time_prior_exponent: 0.0,
            solver: SolverSpec::default(),
            embedding: Some(EmbeddingSpec::mlp(vec![64, 64])),
        }
    }
}

impl EstimatorConfig for FmpeSpec {
    const KIND: &'static str = "fmpe";
    const LOSS: LossKind = LossKind::FlowMatching;
    fn embedding(&self) -> Option<&EmbeddingSpec> {
        self.embedding.as_ref()
    }

    fn validate(&self) -> Result<(), Violation> {
        hidden_widths(&self.hidden, Some("the vector field needs at least one residual block"))?;
        at_most("model.hidden", self.hidden.len(), 256)?;
        at_most("model.time_frequencies", self.time_frequencies, 64)?;
        if !(self.sigma_min.is_finite() && (0.0..0.5).contains(&self.sigma_min)) {
            return Err(bad("model.sigma_min", format!("must be in [0, 0.5), got {}", self.sigma_min), Some("DINGO uses 1e-4 to 1e-3")));
        }
        if !(self.time_prior_exponent.is_finite() && self.time_prior_exponent > -1.0 && self.time_prior_exponent <= 100.0) {
            return Err(bad("model.time_prior_exponent", format!("must be in (-1, 100], got {}", self.time_prior_exponent), Some("0 draws t uniformly")));
        }
        self.solver.validate("model.solver")
    }

    fn build(&self, ctx: BuildContext) -> Estimator {
        Estimator::Density(Box::new(FmpeNet::new(ctx.dev, ctx.rng, ctx.params, self, ctx.theta_dim, ctx.features)))
    }

    fn example() -> Self {
        FmpeSpec { hidden: vec![16, 16], embedding: Some(EmbeddingSpec::mlp(vec![16])), ..FmpeSpec::default() }
    }
}

/// Rows integrated together (one step size each): large enough for efficient products.
const CHUNK: usize = 512;

/// The flow.
pub struct FmpeNet {
    dev: Dev,
    d: usize,
    data_dim: usize,
    field: VectorField,
    spec: FmpeSpec,
    params: ParamSet,
}
thread_safe_on_gpu!(FmpeNet);

impl FmpeNet {
    /// A new flow over `theta_dim` parameters conditioned on `data_dim` features.
    pub fn new(dev: &Dev, rng: &mut impl Rng, mut params: ParamSet, spec: &FmpeSpec, theta_dim: usize, data_dim: usize) -> FmpeNet {
        let field = VectorField::new(dev, rng, &mut params, "field", theta_dim, data_dim, &spec.hidden, spec.time_frequencies);
        FmpeNet { dev: dev.clone(), d: theta_dim, data_dim, field, spec: spec.clone(), params }
    }

    /// Integrates `theta` (rows × d) from t0 to t1 under the field; with `divergence` also
    /// returns ∫ ∇·v dt along each row's path (from t0 to t1).
    fn flow(&self, field: &HostField, terms: &DataTerms, theta: &mut [f64], rows: usize, t0: f64, t1: f64, divergence: bool) -> Vec<f64> {
        let d = self.d;
        let mut state = theta.to_vec();
        if divergence {
            state.resize(rows * (d + 1), 0.0);
        }
        let mut x = vec![0.0f32; rows * d];
        integrate(self.spec.solver.solver(), t0, t1, &mut state, |t, s, ds| {
            x.iter_mut().zip(&s[..rows * d]).for_each(|(x, s)| *x = *s as f32);
            let (v, div) = field.eval(t as f32, &x, rows, terms, divergence);
            ds[..rows * d].iter_mut().zip(&v).for_each(|(o, v)| *o = *v as f64);
            ds[rows * d..].iter_mut().zip(&div).for_each(|(o, v)| *o = *v as f64);
        });
        theta.copy_from_slice(&state[..rows * d]);
        state.split_off(rows * d)
    }
}

/// log N(x; 0, I) of one row.
fn log_standard_normal(x: &[f64]) -> f64 {
    -0.5 * x.iter().map(|v| v * v).sum::<f64>() - 0.5 * x.len() as f64 * (2.0 * std::f64::consts::PI).ln()
}

impl Network for FmpeNet {
    estimator_accessors!();

    fn loss(&self, theta: T2, data: T2<OwnedTape<f32, Dev>>, ctx: &mut LossContext) -> T0<OwnedTape<f32, Dev>> {
        let (rows, d) = *theta.shape();
        let theta1 = super::kernels::linear::host(&theta);
        let power = 1.0 / (1.0 + self.spec.time_prior_exponent);
        let t: Vec<f32> = (0..rows).map(|_| ctx.rng.gen::<f64>().powf(power) as f32).collect();
        let shrink = 1.0 - self.spec.sigma_min as f32;
        let mut at = Vec::with_capacity(rows * d);
        let mut target = Vec::with_capacity(rows * d);
        for (r, row) in theta1.chunks_exact(d).enumerate() {
            for &x1 in row {
                let x0: f32 = ctx.rng.sample(StandardNormal);
                at.push((1.0 - shrink * t[r]) * x0 + t[r] * x1);
                target.push(x1 - shrink * x0);
            }
        }
        let time: T2 = self.dev.tensor_from_vec(self.field.time_rows(&t), (rows, self.field.time_width()));
        let at: T2 = self.dev.tensor_from_vec(at, (rows, d));
        let target: T2 = self.dev.tensor_from_vec(target, (rows, d));
        let v = self.field.forward(&self.params, at, time, data, ctx.data_grad);
        // The squared error summed over parameters, averaged over rows.
        (v - target).square().sum::<(), _>() * (1.0 / rows.max(1) as f32)
    }
}

impl DensityEstimator for FmpeNet {
    fn log_prob_z(&self, theta: &[f32], data: &[f32], rows: usize) -> Vec<f64> {
        let (d, f) = (self.d, self.data_dim);
        let field = self.field.host(&self.params);
        let chunks: Vec<(usize, usize)> = (0..rows).step_by(CHUNK).map(|s| (s, (s + CHUNK).min(rows))).collect();
        let parts: Vec<Vec<f64>> = chunks
            .into_par_iter()
            .map(|(s, e)| {
                let n = e - s;
                let terms = field.data_terms(&data[s * f..e * f], n);
                let mut x: Vec<f64> = theta[s * d..e * d].iter().map(|&v| v as f64).collect();
                // From the draw back to the normal: the divergence integrated from 1 to 0.
                let back = self.flow(&field, &terms, &mut x, n, 1.0, 0.0, true);
                x.chunks_exact(d).zip(back).map(|(x0, a)| log_standard_normal(x0) + a).collect()
            })
            .collect();
        parts.concat()
    }

    fn sample_z(&self, n: usize, data: &[f32], rng: &mut SampleRng) -> Vec<f64> {
        let d = self.d;
        let field = self.field.host(&self.params);
        let terms = field.data_terms(data, 1);
        let mut x: Vec<f64> = (0..n * d).map(|_| rng.sample(StandardNormal)).collect();
        x.par_chunks_mut(CHUNK * d).for_each(|part| {
            let rows = part.len() / d;
            self.flow(&field, &terms, part, rows, 0.0, 1.0, false);
        });
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::StreamFamily;

    fn net(spec: &FmpeSpec) -> FmpeNet {
        let dev = Dev::default();
        let mut rng = StreamFamily::new(2, "t").rng(0);
        FmpeNet::new(&dev, &mut rng, ParamSet::default(), spec, 2, 3)
    }

    /// A draw's density, computed backward from the draw, equals the normal density of its
    /// start plus the divergence integral computed forward along the same path.
    #[test]
    fn density_backward_matches_the_forward_path() {
        let n = net(&FmpeSpec { hidden: vec![8, 8], ..FmpeSpec::default() });
        let field = n.field.host(&n.params);
        let y = [0.2f32, -0.4, 0.9];
        let terms = field.data_terms(&y, 1);
        let x0 = vec![0.3f64, -1.2, 1.1, 0.4];
        let mut x1 = x0.clone();
        let fwd = n.flow(&field, &terms, &mut x1, 2, 0.0, 1.0, true);
        let x1f: Vec<f32> = x1.iter().map(|&v| v as f32).collect();
        let lp = n.log_prob_z(&x1f, &[y, y].concat(), 2);
        for r in 0..2 {
            let want = log_standard_normal(&x0[r * 2..r * 2 + 2]) - fwd[r];
            assert!((lp[r] - want).abs() < 1e-3, "row {r}: {} vs {want}", lp[r]);
        }
    }

    /// The training loss is the flow-matching regression: zero field gives the mean squared
    /// target |θ₁ − (1 − σ_min) θ₀|², whose expectation is |θ₁|² + (1 − σ_min)² d.
    #[test]
    fn the_loss_of_a_zero_field_is_the_mean_squared_velocity() {
        let mut n = net(&FmpeSpec { hidden: vec![4], ..FmpeSpec::default() });
        for p in n.params.params.iter_mut() {
            let zeros = vec![0.0f32; p.tensor.shape().0];
            p.tensor.copy_from(&zeros);
        }
        let rows = 20_000;
        let theta: T2 = n.dev.tensor_from_vec((0..rows * 2).map(|i| if i % 2 == 0 { 1.0 } else { -2.0 }).collect(), (rows, 2));
        let data: T2 = n.dev.tensor_from_vec(vec![0.5; rows * 3], (rows, 3));
        let loss = n.loss(theta, data.leaky_traced(), &mut LossContext::seeded(1, 0, 1.0)).array() as f64;
        let want = 5.0 + 2.0 * (1.0 - 1e-3f64).powi(2);
        assert!((loss - want).abs() < 0.05, "{loss} vs {want}");
    }
}
