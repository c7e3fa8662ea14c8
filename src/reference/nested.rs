//! The built-in reference sampler: nested sampling (Skilling 2006) with constrained random
//! walks, in the unit cube of the prior transform.
//!
//! Why nested sampling rather than parallel-tempered MCMC: it needs no tuning of temperatures,
//! it finds and weighs separate modes by construction (live points fill every region above the
//! likelihood contour — the GW phase posterior has two modes π apart), it handles bounded
//! priors through the prior transform, and it gives the evidence with an error, which the
//! importance-sampling check of an estimator can be compared with. It is what bilby runs by
//! default (dynesty), so the two are checked against each other like for like.
//!
//! A dead point is replaced by a random walk of `walks` proposals from a random live point,
//! accepting moves that stay inside the cube (periodic coordinates wrap) and above the
//! contour. Proposals are Gaussian with the live points' covariance, scaled to keep the
//! acceptance near one half. Sampling stops when the live points could add less than `dlogz`
//! to log Z.

use crate::math::{cholesky, Mat};
use crate::math::SampleRng;
use crate::config::number;
use rand::Rng;
use serde::{Deserialize, Serialize};
use rand_distr::StandardNormal;
use rayon::prelude::*;

/// Settings of a run.
#[derive(Debug, Clone, Copy)]
pub struct NestedSettings {
    /// Live points.
    pub live: usize,
    /// Proposals per replacement.
    pub walks: usize,
    /// Stop when the remaining evidence is below this (in log Z).
    pub dlogz: f64,
}

impl From<&crate::reference::NestedSpec> for NestedSettings {
    fn from(n: &crate::reference::NestedSpec) -> Self {
        NestedSettings { live: n.live, walks: n.walks, dlogz: n.dlogz }
    }
}

/// What a run returns.
#[derive(Debug, Clone)]
pub struct NestedRun {
    /// Dead and final live points in the unit cube, row-major.
    pub points: Vec<f64>,
    /// Their log posterior weights, normalised (log Σ exp = 0).
    pub log_weights: Vec<f64>,
    /// log evidence and its standard error √(H / live).
    pub log_z: f64,
    /// Standard error of `log_z`.
    pub log_z_err: f64,
    /// Likelihood calls.
    pub calls: usize,
}

fn log_add(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

/// Lower Cholesky factor of the covariance of `live` points (dim columns), regularised.
fn proposal_factor(live: &[Vec<f64>], dim: usize) -> Mat {
    let n = live.len() as f64;
    let mut mean = vec![0.0; dim];
    for p in live {
        for j in 0..dim {
            mean[j] += p[j] / n;
        }
    }
    let mut cov = Mat { rows: dim, cols: dim, v: vec![0.0; dim * dim] };
    for p in live {
        for a in 0..dim {
            for b in 0..dim {
                cov.v[a * dim + b] += (p[a] - mean[a]) * (p[b] - mean[b]) / (n - 1.0);
            }
        }
    }
    for a in 0..dim {
        cov.v[a * dim + a] += 1e-12;
    }
    cholesky(&cov).unwrap_or_else(|| {
        let mut eye = Mat { rows: dim, cols: dim, v: vec![0.0; dim * dim] };
        for a in 0..dim {
            eye.v[a * dim + a] = 0.1;
        }
        eye
    })
}

/// One constrained random walk of nested sampling: steps shaped by the live points'
/// covariance, accepted only above the current likelihood bound.
struct Walk<'a> {
    l_star: f64,
    factor: &'a Mat,
    scale: f64,
    periodic: &'a [bool],
    walks: usize,
}

impl Walk<'_> {
    /// Walks from `u` (log L `lu`) for at least `walks` proposals and one acceptance; returns
    /// the end point, its log L, acceptances and proposals.
    fn from<F: Fn(&[f64]) -> f64>(
        &self,
        mut u: Vec<f64>,
        mut lu: f64,
        log_like: &F,
        calls: &mut usize,
        rng: &mut SampleRng,
    ) -> (Vec<f64>, f64, usize, usize) {
        let dim = u.len();
        let mut accepted = 0usize;
        let mut tries = 0usize;
        while accepted == 0 || tries < self.walks {
            tries += 1;
            let z: Vec<f64> = (0..dim).map(|_| rng.sample(StandardNormal)).collect();
            let mut prop = u.clone();
            for a in 0..dim {
                let step: f64 = (0..=a).map(|b| self.factor.v[a * dim + b] * z[b]).sum();
                prop[a] += self.scale * step;
            }
            let mut inside = true;
            for (a, p) in prop.iter_mut().enumerate() {
                if self.periodic.get(a).copied().unwrap_or(false) {
                    *p = p.rem_euclid(1.0);
                } else if !(0.0..1.0).contains(p) {
                    inside = false;
                }
            }
            if inside {
                let lp = log_like(&prop);
                *calls += 1;
                if lp > self.l_star {
                    u = prop;
                    lu = lp;
                    accepted += 1;
                }
            }
            if tries > 50 * self.walks {
                break;
            }
        }
        (u, lu, accepted, tries)
    }
}

/// Most e-folds of prior volume nested sampling compresses before it stops regardless.
const MAX_SHRINK: f64 = 500.0;

/// Runs nested sampling of `log_like(u)` over the `dim`-dimensional unit cube; coordinates
/// flagged in `periodic` wrap around.
pub fn nested_sample<F>(dim: usize, periodic: &[bool], log_like: F, settings: NestedSettings, rng: &mut SampleRng) -> NestedRun
where
    F: Fn(&[f64]) -> f64 + Sync,
{
    let n = settings.live;
    let mut live: Vec<Vec<f64>> = (0..n).map(|_| (0..dim).map(|_| rng.gen::<f64>()).collect()).collect();
    let mut live_l: Vec<f64> = live.par_iter().map(|u| log_like(u)).collect();
    let mut calls = n;
    let mut dead = Vec::new();
    let mut dead_log_wt = Vec::new();
    let (mut log_z, mut h) = (f64::NEG_INFINITY, 0.0f64);
    let mut log_x = 0.0f64; // log prior volume left
    let shrink = -1.0 / n as f64;
    let mut scale = 1.0f64;
    let mut factor = proposal_factor(&live, dim);
    let mut iteration = 0usize;
    loop {
        let worst = (0..n).min_by(|&a, &b| live_l[a].total_cmp(&live_l[b])).unwrap_or(0);
        let l_star = live_l[worst];
        // Width of the shell: X_{i-1} − X_i = X_{i-1} (1 − e^{−1/n}).
        let log_wt = l_star + log_x + (-(shrink.exp_m1())).ln();
        let new_log_z = log_add(log_z, log_wt);
        // Skilling's update of the information H = ∫ p log(p/π).
        h = if log_z == f64::NEG_INFINITY {
            l_star - new_log_z
        } else {
            (log_wt - new_log_z).exp() * l_star + (log_z - new_log_z).exp() * (h + log_z) - new_log_z
        };
        log_z = new_log_z;
        dead.extend_from_slice(&live[worst]);
        dead_log_wt.push(log_wt);
        log_x += shrink;
        iteration += 1;

        // Stop when the live points cannot add `dlogz` any more.
        let l_max = live_l.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        if l_max + log_x < log_z + settings.dlogz.exp_m1().ln() {
            break;
        }
        // No likelihood anywhere (non-finite data), or far past any posterior's compression
        // (e^-MAX_SHRINK of the prior volume): stop rather than walk for ever.
        if l_max == f64::NEG_INFINITY || -log_x > MAX_SHRINK {
            break;
        }

        if iteration % (n / 10).max(1) == 0 {
            factor = proposal_factor(&live, dim);
        }
        // Replace the dead point by a constrained walk from another live point.
        let start = loop {
            let s = rng.gen_range(0..n);
            if s != worst || n == 1 {
                break s;
            }
        };
        let walk = Walk { l_star, factor: &factor, scale, periodic, walks: settings.walks };
        let (u, lu, accepted, tries) = walk.from(live[start].clone(), live_l[start], &log_like, &mut calls, rng);
        // Aim at an acceptance of one half.
        let acc = accepted as f64 / tries as f64;
        scale *= if acc > 0.5 { (1.0 / dim as f64).exp().min(1.2) } else { (-1.0 / dim as f64).exp().max(0.8) };
        scale = scale.clamp(1e-4, 10.0);
        live[worst] = u;
        live_l[worst] = lu;
    }
    // The live points share the remaining volume equally.
    for (p, &l) in live.iter().zip(&live_l) {
        let log_wt = l + log_x - (n as f64).ln();
        log_z = log_add(log_z, log_wt);
        dead.extend_from_slice(p);
        dead_log_wt.push(log_wt);
    }
    let log_weights: Vec<f64> = dead_log_wt.iter().map(|w| w - log_z).collect();
    NestedRun { points: dead, log_weights, log_z, log_z_err: (h.max(0.0) / n as f64).sqrt(), calls }
}

impl NestedRun {
    /// `count` equally weighted draws (systematic resampling), row-major, in the unit cube.
    pub fn resample(&self, count: usize, dim: usize, rng: &mut SampleRng) -> Vec<f64> {
        let mut out = Vec::with_capacity(count * dim);
        let offset: f64 = rng.gen();
        let mut cum = 0.0;
        let mut next = offset / count as f64;
        for (i, w) in self.log_weights.iter().enumerate() {
            cum += w.exp();
            while next < cum && out.len() < count * dim {
                out.extend_from_slice(&self.points[i * dim..(i + 1) * dim]);
                next += 1.0 / count as f64;
            }
        }
        // Rounding can leave the last draw out.
        while out.len() < count * dim {
            let last = self.points.len() / dim - 1;
            out.extend_from_slice(&self.points[last * dim..(last + 1) * dim]);
        }
        // Systematic resampling keeps the dead points' order: shuffle so that any prefix is fair.
        let rows = out.len() / dim;
        for i in (1..rows).rev() {
            let j = rng.gen_range(0..=i);
            for k in 0..dim {
                out.swap(i * dim + k, j * dim + k);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A likelihood that is −∞ everywhere (what non-finite data give) ends the run at once
    /// instead of compressing the prior for ever.
    #[test]
    fn a_nowhere_finite_likelihood_stops() {
        let mut rng = crate::math::StreamFamily::new(1, "t").rng(0);
        let run = nested_sample(2, &[false, false], |_| f64::NEG_INFINITY, NestedSettings { live: 50, walks: 5, dlogz: 0.05 }, &mut rng);
        assert_eq!(run.log_z, f64::NEG_INFINITY);
        assert!(run.calls < 10_000, "{} likelihood calls", run.calls);
    }
}

/// Settings of the built-in nested sampler (constrained random walks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NestedSpec {
    /// Live points.
    #[serde(deserialize_with = "number::usize")]
    pub live: usize,
    /// Random-walk proposals per replacement.
    #[serde(deserialize_with = "number::usize")]
    pub walks: usize,
    /// Stop when the remaining evidence is below this (log units).
    #[serde(deserialize_with = "number::f64")]
    pub dlogz: f64,
}

impl Default for NestedSpec {
    fn default() -> Self {
        NestedSpec { live: 2000, walks: 100, dlogz: 0.05 }
    }
}
