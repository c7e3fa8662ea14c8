//! Classifier two-sample test (C2ST), computed as sbibm does (Lueckmann et al. 2021,
//! `sbibm/metrics/c2st.py`): both sample sets are z-scored with the mean and standard
//! deviation of the reference set; an MLP with two hidden layers of 10·dim ReLU units is trained
//! with Adam (lr 10⁻³, batches of 200, stopping when the training loss has not improved by 10⁻⁴
//! for 10 epochs, as scikit-learn's `MLPClassifier`) to tell them apart; the score is the
//! 5-fold cross-validated accuracy. 0.5: indistinguishable; 1: disjoint.

use crate::nn::{Dense, Dev, Mlp, ParamSet, T2};
use crate::math::StreamFamily;
use crate::train::AdamSpec;
use crate::train::Adam;
use dfdx::prelude::*;
use rand::seq::SliceRandom;

const FOLDS: usize = 5;
const BATCH: usize = 200;
const MAX_EPOCHS: usize = 1000;
const PATIENCE: usize = 10;
const TOL: f64 = 1e-4;

/// Cross-validated accuracy of a classifier between `a` and `reference` (row-major, `dim`
/// columns each), reproducible from `seed`.
pub fn c2st(a: &[f64], reference: &[f64], dim: usize, seed: u64) -> f64 {
    let (na, nr) = (a.len() / dim, reference.len() / dim);
    // z-score by the reference.
    let mut mean = vec![0.0; dim];
    let mut sd = vec![0.0; dim];
    for row in reference.chunks_exact(dim) {
        for j in 0..dim {
            mean[j] += row[j] / nr as f64;
        }
    }
    for row in reference.chunks_exact(dim) {
        for j in 0..dim {
            sd[j] += (row[j] - mean[j]).powi(2) / (nr as f64 - 1.0).max(1.0);
        }
    }
    let sd: Vec<f64> = sd.iter().map(|v| v.sqrt().max(1e-12)).collect();
    let scale = |row: &[f64]| -> Vec<f32> { (0..dim).map(|j| ((row[j] - mean[j]) / sd[j]) as f32).collect() };
    let x: Vec<Vec<f32>> = a.chunks_exact(dim).chain(reference.chunks_exact(dim)).map(scale).collect();
    let label: Vec<f32> = (0..na + nr).map(|i| if i < na { 1.0 } else { 0.0 }).collect();
    let mut order: Vec<usize> = (0..na + nr).collect();
    order.shuffle(&mut StreamFamily::new(seed, "c2st/folds").rng(0));
    let n = order.len();
    let mut correct = 0usize;
    for fold in 0..FOLDS {
        let (lo, hi) = (fold * n / FOLDS, (fold + 1) * n / FOLDS);
        let test: Vec<usize> = order[lo..hi].to_vec();
        let train: Vec<usize> = order[..lo].iter().chain(&order[hi..]).copied().collect();
        let net = Classifier::train(&x, &label, &train, dim, seed.wrapping_add(fold as u64));
        let p = net.predict(&x, &test, dim);
        correct += test.iter().zip(&p).filter(|(&i, &q)| (q > 0.5) == (label[i] > 0.5)).count();
    }
    correct as f64 / n as f64
}

struct Classifier {
    dev: Dev,
    trunk: Mlp,
    out: Dense,
    params: ParamSet,
}

impl Classifier {
    fn train(x: &[Vec<f32>], label: &[f32], rows: &[usize], dim: usize, seed: u64) -> Classifier {
        let dev = Dev::default();
        let mut rng = StreamFamily::new(seed, "c2st/init").rng(0);
        let mut params = ParamSet::default();
        let trunk = Mlp::new(&dev, &mut rng, &mut params, "c2st", dim, &[10 * dim, 10 * dim]);
        let out = Dense::new(&dev, &mut rng, &mut params, "c2st.out", 10 * dim, 1);
        let mut net = Classifier { dev, trunk, out, params };
        let mut adam = Adam::new(&AdamSpec { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, &net.params);
        let mut order = rows.to_vec();
        let mut shuffle = StreamFamily::new(seed, "c2st/batches").rng(0);
        let (mut best, mut stale) = (f64::INFINITY, 0usize);
        for _ in 0..MAX_EPOCHS {
            order.shuffle(&mut shuffle);
            let mut total = 0.0f64;
            for b in order.chunks(BATCH) {
                let xb: Vec<f32> = b.iter().flat_map(|&i| x[i].iter().copied()).collect();
                let yb: Vec<f32> = b.iter().map(|&i| label[i]).collect();
                let xt: T2 = net.dev.tensor_from_vec(xb, (b.len(), dim));
                let yt: T2 = net.dev.tensor_from_vec(yb, (b.len(), 1));
                let logits = net.out.forward(&net.params, net.trunk.forward_data(&net.params, xt.leaky_traced(), false));
                let loss = binary_cross_entropy_with_logits_loss(logits, yt);
                total += loss.array() as f64 * b.len() as f64;
                let mut grads = loss.backward();
                adam.step(&mut net.params, &mut grads, 1e-3);
            }
            let mean = total / rows.len() as f64;
            if mean < best - TOL {
                best = mean;
                stale = 0;
            } else {
                stale += 1;
                if stale >= PATIENCE {
                    break;
                }
            }
        }
        net
    }

    /// P(label 1) for the given rows.
    fn predict(&self, x: &[Vec<f32>], rows: &[usize], dim: usize) -> Vec<f32> {
        let xb: Vec<f32> = rows.iter().flat_map(|&i| x[i].iter().copied()).collect();
        let xt: T2 = self.dev.tensor_from_vec(xb, (rows.len(), dim));
        self.out.forward(&self.params, self.trunk.forward(&self.params, xt)).sigmoid().as_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;
    use rand_distr::StandardNormal;

    fn gaussian(n: usize, dim: usize, shift: f64, seed: u64) -> Vec<f64> {
        let mut rng = StreamFamily::new(seed, "t").rng(0);
        (0..n * dim).map(|_| rng.sample::<f64, _>(StandardNormal) + shift).collect()
    }

    #[test]
    fn halves_of_one_set_are_indistinguishable_and_distant_gaussians_are_not() {
        let dim = 3;
        let all = gaussian(4000, dim, 0.0, 1);
        let (a, b) = all.split_at(2000 * dim);
        let same = c2st(a, b, dim, 7);
        assert!((same - 0.5).abs() <= 0.03, "two halves: C2ST = {same}");
        let far = c2st(&gaussian(2000, dim, 3.0, 2), &gaussian(2000, dim, 0.0, 3), dim, 7);
        assert!(far > 0.95, "shifted by 3σ: C2ST = {far}");
    }

    /// The same accuracies as scikit-learn's C2ST (sbibm's recipe, bench/c2st_sklearn.py) on
    /// the samples of tests/data/c2st_fixture.csv, within the seed-to-seed spread: means over
    /// five seeds each, for sets shifted by 0, 0.3 and 1 standard deviations.
    #[test]
    fn accuracies_match_scikit_learn_on_a_fixed_data_file() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/c2st_fixture.csv")).unwrap();
        let sklearn: Vec<f64> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# shift ").and_then(|r| r.split("C2ST ").nth(1)))
            .map(|r| r.split_whitespace().next().unwrap().parse().unwrap())
            .collect();
        let mut sets: Vec<Vec<f64>> = vec![Vec::new(); sklearn.len()];
        let mut reference = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.starts_with("set")) {
            let v: Vec<f64> = line.split(',').map(|c| c.parse().unwrap()).collect();
            match v[0] as i64 {
                -1 => reference.extend_from_slice(&v[1..]),
                k => sets[k as usize].extend_from_slice(&v[1..]),
            }
        }
        for (set, want) in sets.iter().zip(&sklearn) {
            let got = (0..5u64).map(|seed| c2st(set, &reference, 2, seed)).sum::<f64>() / 5.0;
            crate::ui::note!("C2ST {got:.4}, scikit-learn {want:.4}");
            assert!((got - want).abs() < 0.015, "C2ST {got} against scikit-learn's {want}");
        }
    }
}
