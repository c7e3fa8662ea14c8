//! Output heads that turn features into a density over θ: a full-covariance Gaussian and a
//! diagonal Gaussian. Each returns per-row log-densities on the features' tape.
//!
//! The full Gaussian is held by the Cholesky factor U of its *precision* Σ⁻¹ = U Uᵀ, so the
//! log-density needs only products, no triangular solve:
//!
//! log N(x; μ, Σ) = Σᵢ log Uᵢᵢ − ½ ‖Uᵀ(x − μ)‖² − (d/2) log 2π.
//!
//! With runtime shapes every step is a 2-D matmul or element-wise op: `δ E` repeats δᵢ at
//! each (i, j), the product with U's flattened entries is summed over i by `S`.

use super::dense::Dense;
use super::params::ParamSet;
use super::{Dev, T1, T2};
use crate::math::{Mat, MvNormal, LN_2PI};
use dfdx::prelude::*;
use rand::Rng;

/// μ, log diag U and the strict lower part of U from features.
#[derive(Debug, Clone)]
pub struct FullGaussianHead {
    d: usize,
    mean: Dense,
    log_diag: Dense,
    lower: Dense,
    /// (d, d²): E[i, i·d+j] = 1.
    repeat: T2,
    /// (d², d): S[i·d+j, j] = 1.
    sum_i: T2,
    /// (d, d²): D[i, i·d+i] = 1.
    place_diag: T2,
    /// (d²,): 1 where i > j.
    strict_lower: super::Param,
}

impl FullGaussianHead {
    /// A head from `n_in` features to a Gaussian over `d` parameters, registered as `<name>.*`.
    pub fn new(dev: &Dev, rng: &mut impl Rng, params: &mut ParamSet, name: &str, n_in: usize, d: usize) -> Self {
        let mean = Dense::new(dev, rng, params, &format!("{name}.mean"), n_in, d);
        let log_diag = Dense::new(dev, rng, params, &format!("{name}.log_diag"), n_in, d);
        let lower = Dense::new(dev, rng, params, &format!("{name}.lower"), n_in, d * d);
        let mut e = vec![0.0f32; d * d * d];
        let mut s = vec![0.0f32; d * d * d];
        let mut pd = vec![0.0f32; d * d * d];
        let mut mask = vec![0.0f32; d * d];
        for i in 0..d {
            for j in 0..d {
                e[i * d * d + i * d + j] = 1.0;
                s[(i * d + j) * d + j] = 1.0;
                if i > j {
                    mask[i * d + j] = 1.0;
                }
            }
            pd[i * d * d + i * d + i] = 1.0;
        }
        FullGaussianHead {
            d,
            mean,
            log_diag,
            lower,
            repeat: dev.tensor_from_vec(e, (d, d * d)),
            sum_i: dev.tensor_from_vec(s, (d * d, d)),
            place_diag: dev.tensor_from_vec(pd, (d, d * d)),
            strict_lower: dev.tensor_from_vec(mask, (d * d,)),
        }
    }

    /// μ, log diag(U), and U flattened (rows, d²).
    ///
    /// A tensor used twice is split from its tape once and `retaped` for the other uses;
    /// the tapes merge again wherever the results meet.
    fn outputs<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, h: T2<Tp>) -> (T2<Tp>, T2<Tp>, T2<Tp>) {
        let rows = h.shape().0;
        let d = self.d;
        let (h, tape) = h.split_tape();
        let mean = self.mean.forward(p, h.clone().put_tape(tape));
        let log_diag = self.log_diag.forward(p, h.retaped::<Tp>());
        let lower = self.lower.forward(p, h.retaped::<Tp>());
        let mask = self.strict_lower.clone().broadcast_like::<_, Axis<0>>(&(rows, d * d));
        let (log_diag, tape) = log_diag.split_tape();
        let diag = log_diag.clone().put_tape(tape).exp().matmul(self.place_diag.clone());
        let u = lower * mask + diag;
        (mean, log_diag.retaped::<Tp>(), u)
    }

    /// log N(θ; μ(h), Σ(h)) per row.
    ///
    /// # Shapes
    /// `h`: (rows, n_in), `theta`: (rows, d) → (rows,).
    pub fn log_prob<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, h: T2<Tp>, theta: T2) -> T1<Tp> {
        let (mean, log_diag, u) = self.outputs(p, h);
        // r = Uᵀ(μ − x); its sign does not matter in ‖r‖².
        let rep = (mean - theta).matmul(self.repeat.clone());
        let r = (u * rep).matmul(self.sum_i.clone());
        let quad = r.square().sum::<(usize,), Axis<1>>() * 0.5;
        log_diag.sum::<(usize,), Axis<1>>() - quad - 0.5 * self.d as f32 * LN_2PI as f32
    }

    /// The Gaussian of every row, in f64, for sampling and evaluation.
    pub fn normals(&self, p: &ParamSet, h: T2) -> Vec<MvNormal> {
        let rows = h.shape().0;
        let (mean, _, u) = self.outputs(p, h);
        let (mean, u) = (mean.as_vec(), u.as_vec());
        let d = self.d;
        (0..rows)
            .map(|r| {
                let mu: Vec<f64> = mean[r * d..(r + 1) * d].iter().map(|&v| v as f64).collect();
                let um = Mat { rows: d, cols: d, v: u[r * d * d..(r + 1) * d * d].iter().map(|&v| v as f64).collect() };
                MvNormal::from_precision_chol(mu, &um)
            })
            .collect()
    }
}

/// A Gaussian with diagonal covariance: μ and log σ from features.
#[derive(Debug, Clone)]
pub struct DiagGaussianHead {
    d: usize,
    mean: Dense,
    log_std: Dense,
}

impl DiagGaussianHead {
    /// A head from `n_in` features to a diagonal Gaussian over `d` values, registered as `<name>.*`.
    pub fn new(dev: &Dev, rng: &mut impl Rng, params: &mut ParamSet, name: &str, n_in: usize, d: usize) -> Self {
        let mean = Dense::new(dev, rng, params, &format!("{name}.mean"), n_in, d);
        let log_std = Dense::new(dev, rng, params, &format!("{name}.log_std"), n_in, d);
        DiagGaussianHead { d, mean, log_std }
    }

    /// Dimension of the Gaussian.
    pub fn dim(&self) -> usize {
        self.d
    }

    /// (μ, log σ), each (rows, d), on the features' tape (log σ retaped).
    pub fn outputs<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, h: T2<Tp>) -> (T2<Tp>, T2<Tp>) {
        let (h, tape) = h.split_tape();
        let mean = self.mean.forward(p, h.clone().put_tape(tape));
        // Bounded log σ (|log σ| < 7) keeps exp finite early in training.
        let log_std = (self.log_std.forward(p, h.retaped::<Tp>()) * (1.0 / 7.0)).tanh() * 7.0;
        (mean, log_std)
    }

    /// log N(x; μ, diag σ²) per row, from outputs.
    ///
    /// # Shapes
    /// `mean`, `log_std`: (rows, d), `x`: (rows, d) → (rows,).
    pub fn log_prob_of<Tp: Tape<f32, Dev>>(mean: T2<Tp>, log_std: T2<Tp>, x: T2) -> T1<Tp> {
        let d = x.shape().1;
        let (log_std, tape) = log_std.split_tape();
        let inv_std = log_std.clone().put_tape(tape).negate().exp();
        let quad = ((mean - x) * inv_std).square().sum::<(usize,), Axis<1>>() * 0.5;
        quad.negate() - log_std.retaped::<Tp>().sum::<(usize,), Axis<1>>() - 0.5 * d as f32 * LN_2PI as f32
    }
}
