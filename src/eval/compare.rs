//! Two sets of posterior samples of the same parameters, compared: the JS divergence of each
//! marginal, the kNN symmetric KL and C2ST (`ndelab compare`, and each reference injection).

use super::{c2st, js_marginal, knn_symmetric_kl};

/// How far apart two sample sets are.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleComparison {
    /// JS divergence of each marginal, nats.
    pub js: Vec<f64>,
    /// Their median.
    pub median_js: f64,
    /// kNN symmetric KL on `n` draws a side, nats.
    pub knn_kl: f64,
    /// Classifier two-sample test accuracy on `n` draws a side (0.5: indistinguishable).
    pub c2st: f64,
    /// Draws a side used by the kNN KL and C2ST.
    pub n: usize,
}

/// JS divergence of each of the `d` marginals of two row-major sample sets.
pub fn marginal_js(a: &[f64], b: &[f64], d: usize) -> Vec<f64> {
    (0..d)
        .map(|j| {
            let x: Vec<f64> = a.iter().skip(j).step_by(d).copied().collect();
            let y: Vec<f64> = b.iter().skip(j).step_by(d).copied().collect();
            js_marginal(&x, &y)
        })
        .collect()
}

/// Compares `a` with the reference `b` (C2ST z-scores by it), using at most `cap` draws a side
/// for the kNN KL and the classifier (their cost).
pub fn compare_samples(a: &[f64], b: &[f64], d: usize, cap: usize, seed: u64) -> SampleComparison {
    let js = marginal_js(a, b, d);
    let mut sorted = js.clone();
    sorted.sort_by(f64::total_cmp);
    let median_js = match sorted.len() {
        0 => f64::NAN,
        k => 0.5 * (sorted[(k - 1) / 2] + sorted[k / 2]),
    };
    let n = (a.len() / d).min(b.len() / d).min(cap);
    let knn_kl = knn_symmetric_kl(&a[..n * d], &b[..n * d], d, 5);
    let c2st = c2st(&a[..n * d], &b[..n * d], d, seed);
    SampleComparison { js, median_js, knn_kl, c2st, n }
}
