//! Importance sampling of an estimator's draws with the exact likelihood, as DINGO does
//! (Dax et al. 2023, "Neural importance sampling for rapid and reliable gravitational-wave
//! inference"): wᵢ = L(θᵢ) π(θᵢ) / q(θᵢ|y) for θᵢ ~ q. The effective sample size n_eff =
//! (Σw)² / Σw² and the efficiency n_eff / n say how close q is to the posterior; the mean weight
//! is an unbiased estimate of the evidence, with σ(log Z) = √((n − n_eff) / (n n_eff)).
//!
//! Parameters the estimator does not infer (the GW phase) are marginalised in the likelihood by
//! Monte Carlo: L̂(θ) = (1/K) Σₖ L(θ, φₖ) with φₖ drawn from their prior, an unbiased estimate
//! of the marginal likelihood, so the weights stay unbiased (pseudo-marginal importance
//! sampling). Their prior must be uniform on a finite range.

use crate::nn::{log_mean_exp, DensityModel};
use crate::math::SampleRng;
use crate::sim::Simulator;

/// What importance sampling tells about one observation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Importance {
    /// Draws used.
    pub n: usize,
    /// Effective sample size.
    pub ess: f64,
    /// n_eff / n.
    pub efficiency: f64,
    /// log evidence (up to the likelihood's constant) and its standard error.
    pub log_z: f64,
    /// Standard error of `log_z`.
    pub log_z_err: f64,
}

/// Importance-samples `n` draws of `model` for data `y` (physical units), with `marginal`
/// prior draws per sample for the parameters not inferred. `None` where the simulator has no
/// likelihood or prior, or a parameter left out has an unbounded prior.
pub fn importance_sample(
    model: &DensityModel,
    sim: &dyn Simulator,
    y: &[f64],
    keep: &[usize],
    n: usize,
    marginal: usize,
    rng: &mut SampleRng,
) -> Option<Importance> {
    weighted_draws(model, sim, y, keep, n, marginal, rng).map(|w| w.summary)
}

/// Draws of the estimator with their importance weights and what they add up to.
#[derive(Debug, Clone, PartialEq)]
pub struct Weighted {
    /// The draws θᵢ ~ q(θ|y), n × (inferred parameters), row-major.
    pub theta: Vec<f64>,
    /// log wᵢ (unnormalised; −∞ outside the prior).
    pub log_w: Vec<f64>,
    /// Effective sample size, efficiency and evidence.
    pub summary: Importance,
}

impl Weighted {
    /// Normalised weights (summing to one).
    pub fn weights(&self) -> Vec<f64> {
        let mx = self.log_w.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = self.log_w.iter().map(|l| if mx.is_finite() { (l - mx).exp() } else { 0.0 }).collect();
        let total: f64 = w.iter().sum();
        w.iter().map(|x| if total > 0.0 { x / total } else { 0.0 }).collect()
    }

    /// `m` unweighted draws: systematic resampling of the weighted ones (equal-weight posterior samples).
    pub fn resample(&self, m: usize, rng: &mut SampleRng) -> Vec<f64> {
        use rand::Rng;
        let d = if self.log_w.is_empty() { 0 } else { self.theta.len() / self.log_w.len() };
        let w = self.weights();
        let mut out = Vec::with_capacity(m * d);
        if w.iter().sum::<f64>() <= 0.0 {
            return out;
        }
        let u0: f64 = rng.gen::<f64>() / m as f64;
        let (mut cum, mut i) = (w[0], 0usize);
        for k in 0..m {
            let u = u0 + k as f64 / m as f64;
            while u > cum && i + 1 < w.len() {
                i += 1;
                cum += w[i];
            }
            out.extend_from_slice(&self.theta[i * d..(i + 1) * d]);
        }
        out
    }
}

/// Importance-samples as [`importance_sample`] and keeps the draws and their weights.
pub fn weighted_draws(
    model: &DensityModel,
    sim: &dyn Simulator,
    y: &[f64],
    keep: &[usize],
    n: usize,
    marginal: usize,
    rng: &mut SampleRng,
) -> Option<Weighted> {
    let params = sim.parameters();
    let dim = params.len();
    let left_out: Vec<usize> = (0..dim).filter(|i| !keep.contains(i)).collect();
    // log π of the left-out parameters (uniform), to divide out of the joint prior.
    let mut log_prior_left_out = 0.0;
    for &i in &left_out {
        let w = params[i].upper - params[i].lower;
        if !w.is_finite() {
            return None;
        }
        log_prior_left_out -= w.ln();
    }
    let y32: Vec<f32> = y.iter().map(|&v| v as f32).collect();
    let theta = model.sample(n, &y32, rng);
    let d = keep.len();
    let data: Vec<f32> = y32.iter().copied().cycle().take(n * y32.len()).collect();
    let log_q = model.log_prob(&theta, &data);
    let k = if left_out.is_empty() { 1 } else { marginal.max(1) };
    // Each draw's marginalising prior draws come from its own stream, so the weights are
    // computed in parallel and do not depend on the thread count.
    let streams = crate::math::StreamFamily::new(rand::Rng::gen(rng), "importance");
    let weight = |(index, (row, lq)): (usize, (&[f64], &f64))| -> Option<f64> {
        let mut rng = streams.rng(index as u64);
        let mut full = vec![0.0; dim];
        let mut terms = Vec::with_capacity(k);
        for _ in 0..k {
            sim.sample_prior(&mut rng, &mut full);
            for (j, &i) in keep.iter().enumerate() {
                full[i] = row[j];
            }
            let log_prior = sim.log_prior(&full)?;
            if log_prior == f64::NEG_INFINITY {
                return Some(f64::NEG_INFINITY);
            }
            terms.push((sim.log_likelihood(&full, y)?, log_prior));
        }
        let log_prior = terms.last().map_or(f64::NEG_INFINITY, |t| t.1);
        let log_like = log_mean_exp(&terms.iter().map(|t| t.0).collect::<Vec<_>>());
        Some(log_like + (log_prior - log_prior_left_out) - lq)
    };
    use rayon::prelude::*;
    let rows: Vec<(&[f64], &f64)> = theta.chunks_exact(d).zip(&log_q).collect();
    let log_w: Vec<f64> = rows.into_par_iter().enumerate().map(weight).collect::<Option<Vec<f64>>>()?;
    let mx = log_w.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if !mx.is_finite() {
        let summary = Importance { n, ess: 0.0, efficiency: 0.0, log_z: f64::NEG_INFINITY, log_z_err: f64::INFINITY };
        return Some(Weighted { theta, log_w, summary });
    }
    let w: Vec<f64> = log_w.iter().map(|l| (l - mx).exp()).collect();
    let (s1, s2): (f64, f64) = (w.iter().sum(), w.iter().map(|x| x * x).sum());
    let ess = s1 * s1 / s2;
    let log_z = mx + (s1 / n as f64).ln();
    let summary =
        Importance { n, ess, efficiency: ess / n as f64, log_z, log_z_err: ((n as f64 - ess).max(0.0) / (n as f64 * ess)).sqrt() };
    Some(Weighted { theta, log_w, summary })
}
