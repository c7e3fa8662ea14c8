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
use crate::sim::{SampleRng, Simulator};

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
pub fn importance_sample(model: &DensityModel, sim: &dyn Simulator, y: &[f64], keep: &[usize], n: usize, marginal: usize, rng: &mut SampleRng) -> Option<Importance> {
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
    let mut full = vec![0.0; dim];
    let mut log_w = Vec::with_capacity(n);
    for (row, lq) in theta.chunks_exact(d).zip(&log_q) {
        let mut terms = Vec::with_capacity(k);
        let mut log_prior = f64::NEG_INFINITY;
        for _ in 0..k {
            sim.sample_prior(rng, &mut full);
            for (j, &i) in keep.iter().enumerate() {
                full[i] = row[j];
            }
            log_prior = sim.log_prior(&full)?;
            if log_prior == f64::NEG_INFINITY {
                break;
            }
            terms.push(sim.log_likelihood(&full, y)?);
        }
        if log_prior == f64::NEG_INFINITY || terms.is_empty() {
            log_w.push(f64::NEG_INFINITY);
            continue;
        }
        let log_like = log_mean_exp(&terms);
        log_w.push(log_like + (log_prior - log_prior_left_out) - lq);
    }
    let mx = log_w.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if !mx.is_finite() {
        return Some(Importance { n, ess: 0.0, efficiency: 0.0, log_z: f64::NEG_INFINITY, log_z_err: f64::INFINITY });
    }
    let w: Vec<f64> = log_w.iter().map(|l| (l - mx).exp()).collect();
    let (s1, s2): (f64, f64) = (w.iter().sum(), w.iter().map(|x| x * x).sum());
    let ess = s1 * s1 / s2;
    let log_z = mx + (s1 / n as f64).ln();
    Some(Importance { n, ess, efficiency: ess / n as f64, log_z, log_z_err: ((n as f64 - ess).max(0.0) / (n as f64 * ess)).sqrt() })
}
