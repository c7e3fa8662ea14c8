//! Quantile recalibration of the posterior's marginals (Kuleshov, Fenner & Ermon, ICML 2018,
//! "Accurate uncertainties for deep learning using calibrated regression").
//!
//! An estimator whose marginal q(θⱼ|y) has the wrong shape (a Gaussian where the posterior is a
//! flat-topped band cut by the prior's edges) ranks the true θⱼ of held-out pairs unevenly: the
//! ranks uⱼ = Fⱼ(θⱼ|y) pile up at 0 and 1. With R_j the distribution function of those ranks, the
//! recalibrated marginal G_j = R_j ∘ F_j ranks them uniformly. A draw θ of q becomes θ' with
//! θ'ⱼ = F_j⁻¹(R_j⁻¹(F_j(θⱼ))): each coordinate moved to another quantile of q's own marginal,
//! so the dependence between the parameters (their copula) is q's. F_j is estimated from the
//! draws themselves (the prior's support applied, as for every draw), so the ranks used to fit
//! R_j are those the P-P test computes.
//!
//! Draws are moved within their own range, so a truth beyond every draw (an estimator far too
//! narrow) stays beyond them: the map reshapes marginals, it does not extrapolate their tails.
//!
//! What this fixes is calibration on average over the prior, which is what the P-P test checks;
//! a posterior wrong for some y and wrong the other way for others is not fixed, and log q stays
//! the network's (the recalibrated density has no closed form): the test NLL, and importance
//! sampling, which needs the density of its draws, use q as trained.

use serde::{Deserialize, Serialize};

/// Bins of the rank histogram: 10⁴ validation pairs give 500 a bin.
pub const BINS: usize = 20;

/// Draws per held-out pair when ranking its θ: ranks resolved to 1/256, finer than a bin.
pub const RANK_DRAWS: usize = 256;

/// R_j for every parameter: its values at the BINS + 1 equally spaced ranks 0, 1/BINS, …, 1
/// (piecewise linear between them; the rank density is the smoothed histogram).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recalibration {
    /// Per parameter, R_j at the knots: nondecreasing from 0 to 1.
    pub cdf: Vec<Vec<f64>>,
}

impl Recalibration {
    /// R_j from the ranks (each in [0, 1]) of held-out θ, `ranks[i · d + j]` for pair i and
    /// parameter j; each bin counts one more than it holds (Laplace's rule), so no bin of the
    /// rank density is empty. `None` without ranks or where one is not finite.
    pub fn fit(ranks: &[f64], d: usize) -> Option<Recalibration> {
        if d == 0 || ranks.len() < d || !ranks.iter().all(|u| u.is_finite()) {
            return None;
        }
        let cdf = (0..d)
            .map(|j| {
                let mut counts = [1.0f64; BINS];
                for u in ranks.iter().skip(j).step_by(d) {
                    counts[((u.clamp(0.0, 1.0) * BINS as f64) as usize).min(BINS - 1)] += 1.0;
                }
                let total: f64 = counts.iter().sum();
                let mut knots = Vec::with_capacity(BINS + 1);
                knots.push(0.0);
                let mut cum = 0.0;
                for c in counts {
                    cum += c;
                    knots.push(cum / total);
                }
                knots
            })
            .collect();
        Some(Recalibration { cdf })
    }

    /// Whether it holds R_j for `d` parameters, each from 0 to 1 and nondecreasing.
    pub fn is_valid(&self, d: usize) -> bool {
        self.cdf.len() == d
            && self.cdf.iter().all(|k| {
                k.len() == BINS + 1 && k[0] == 0.0 && (k[BINS] - 1.0).abs() < 1e-9 && k.windows(2).all(|w| w[1] >= w[0] && w[1].is_finite())
            })
    }

    /// R_j⁻¹(u): the rank whose R_j is u.
    fn inverse(&self, j: usize, u: f64) -> f64 {
        let k = &self.cdf[j];
        let b = k.partition_point(|&v| v <= u).clamp(1, BINS) - 1;
        let width = k[b + 1] - k[b];
        let within = if width > 0.0 { ((u - k[b]) / width).clamp(0.0, 1.0) } else { 0.0 };
        (b as f64 + within) / BINS as f64
    }

    /// Moves every draw (rows of `d` values) to θ'ⱼ = F_j⁻¹(R_j⁻¹(F_j(θⱼ))), with F_j the
    /// draws' own empirical marginal (mid-ranks; quantiles interpolated between order
    /// statistics). Needs at least two draws.
    pub fn apply(&self, draws: &mut [f64], d: usize) {
        let n = draws.len() / d.max(1);
        if n < 2 || self.cdf.len() != d {
            return;
        }
        let mut order: Vec<usize> = (0..n).collect();
        let mut sorted = vec![0.0; n];
        for j in 0..d {
            order.sort_unstable_by(|&a, &b| draws[a * d + j].total_cmp(&draws[b * d + j]));
            for (s, &i) in sorted.iter_mut().zip(&order) {
                *s = draws[i * d + j];
            }
            for (rank, &i) in order.iter().enumerate() {
                let u = (rank as f64 + 0.5) / n as f64;
                let at = self.inverse(j, u) * (n - 1) as f64;
                let lo = (at.floor() as usize).min(n - 1);
                let hi = (lo + 1).min(n - 1);
                draws[i * d + j] = sorted[lo] + (at - lo as f64) * (sorted[hi] - sorted[lo]);
            }
        }
    }
}

/// The rank of each of `truth`'s d values among `draws` (rows of d): the fraction below it,
/// ties counted half.
pub fn ranks_of(truth: &[f64], draws: &[f64]) -> Vec<f64> {
    let d = truth.len();
    let n = (draws.len() / d.max(1)).max(1) as f64;
    (0..d)
        .map(|j| {
            let (below, equal) = draws.iter().skip(j).step_by(d).fold((0usize, 0usize), |(b, e), &v| {
                if v < truth[j] {
                    (b + 1, e)
                } else if v == truth[j] {
                    (b, e + 1)
                } else {
                    (b, e)
                }
            });
            (below as f64 + 0.5 * equal as f64) / n
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::stats::ks_uniform;
    use crate::math::StreamFamily;
    use rand::Rng;
    use rand_distr::StandardNormal;

    /// Draws N(0, 1) of two parameters whose truths are flat-topped, uniform with the same
    /// variance (as the GW benchmark's masses under a Gaussian estimator: ranks U-shaped), and
    /// N(0, 0.6²) (an underconfident posterior: ranks ∩-shaped). Both fail the KS test;
    /// recalibrated on 10⁴ held-out truths, the ranks of fresh ones pass, the first parameter's
    /// draws become flat-topped (excess kurtosis −0.9; a Gaussian's is 0, a uniform's −1.2) and
    /// the second's spread is the truth's.
    #[test]
    fn recalibration_makes_miscalibrated_marginals_rank_their_truths_uniformly() {
        let mut rng = StreamFamily::new(5, "recal").rng(0);
        let normal = |rng: &mut crate::math::SampleRng| rng.sample::<f64, _>(StandardNormal);
        let posterior = |rng: &mut crate::math::SampleRng| -> Vec<f64> { (0..2 * RANK_DRAWS).map(|_| normal(rng)).collect() };
        let truth = |rng: &mut crate::math::SampleRng| vec![3f64.sqrt() * (2.0 * rng.gen::<f64>() - 1.0), 0.6 * normal(rng)];
        let mut held_out = Vec::new();
        for _ in 0..10_000 {
            let t = truth(&mut rng);
            held_out.extend(ranks_of(&t, &posterior(&mut rng)));
        }
        let r = Recalibration::fit(&held_out, 2).unwrap();
        assert!(r.is_valid(2));
        let (mut before, mut after) = (vec![Vec::new(), Vec::new()], vec![Vec::new(), Vec::new()]);
        let (mut kurtosis, mut spread) = (0.0, 0.0);
        for _ in 0..1000 {
            let t = truth(&mut rng);
            let mut draws = posterior(&mut rng);
            for (j, u) in ranks_of(&t, &draws).into_iter().enumerate() {
                before[j].push(u);
            }
            r.apply(&mut draws, 2);
            for (j, u) in ranks_of(&t, &draws).into_iter().enumerate() {
                after[j].push(u);
            }
            let moment = |j: usize, k: i32| draws.iter().skip(j).step_by(2).map(|v| v.powi(k)).sum::<f64>() / RANK_DRAWS as f64;
            kurtosis += (moment(0, 4) / moment(0, 2).powi(2) - 3.0) / 1000.0;
            spread += moment(1, 2).sqrt() / 1000.0;
        }
        for j in 0..2 {
            let (p0, p1) = (ks_uniform(&before[j]).1, ks_uniform(&after[j]).1);
            assert!(p0 < 1e-3, "parameter {j}: miscalibrated ranks pass before: KS p {p0}");
            assert!(p1 > 0.01, "parameter {j}: ranks after recalibration: KS p {p1}");
        }
        assert!(kurtosis < -0.7, "recalibrated excess kurtosis {kurtosis}: a Gaussian's is 0, a uniform's -1.2");
        assert!((spread - 0.6).abs() < 0.05, "recalibrated spread {spread}, want 0.6");
    }

    /// Bad input fits nothing; a fitted map is monotone and spans [0, 1].
    #[test]
    fn fit_rejects_what_it_cannot_use() {
        assert!(Recalibration::fit(&[], 2).is_none());
        assert!(Recalibration::fit(&[0.5, f64::NAN], 2).is_none());
        let r = Recalibration::fit(&[0.0, 1.0, 0.5, 0.5], 2).unwrap();
        assert!(r.is_valid(2) && !r.is_valid(3));
        assert_eq!(r.inverse(0, 0.0), 0.0);
        assert!((r.inverse(0, 1.0) - 1.0).abs() < 1e-12);
    }
}
