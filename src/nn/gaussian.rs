//! The `gaussian` estimator: q(x|y) = N(μ(y), Σ(y)) with a full covariance
//! (Chua & Vallisneri, PRL 124 041102, 2020).
//!
//! An MLP trunk feeds three heads: μ, the log-diagonal and the strictly lower part of the
//! Cholesky factor U of the *precision* Σ⁻¹ = U Uᵀ. Parametrising the precision makes the
//! log-density need only products, no triangular solve:
//!
//! log q(x|y) = Σᵢ log Uᵢᵢ − ½ ‖Uᵀ(x − μ)‖² − (d/2) log 2π.
//!
//! With runtime shapes every step is a 2-D matmul or element-wise op: `δ E` repeats δᵢ at
//! each (i, j), the product with U's flattened entries is summed over i by `S`.

use super::dense::{Dense, Mlp};
use super::params::ParamSet;
use super::{DensityEstimator, Dev, T0, T2};
use crate::math::{Mat, MvNormal, LN_2PI};
use crate::sim::SampleRng;
use crate::spec::GaussianSpec;
use dfdx::prelude::*;
use rand::Rng;

/// The network and its constant index matrices.
pub struct GaussianNet {
    dev: Dev,
    d: usize,
    data_dim: usize,
    trunk: Mlp,
    mean: Dense,
    log_diag: Dense,
    lower: Dense,
    params: ParamSet,
    /// (d, d²): E[i, i·d+j] = 1.
    repeat: T2,
    /// (d², d): S[i·d+j, j] = 1.
    sum_i: T2,
    /// (d, d²): D[i, i·d+i] = 1.
    place_diag: T2,
    /// (d²,): 1 where i > j.
    strict_lower: super::Param,
}

impl GaussianNet {
    /// A new network for `theta_dim` parameters and `data_dim` data values, initialised from `rng`.
    pub fn new(dev: &Dev, rng: &mut impl Rng, spec: &GaussianSpec, theta_dim: usize, data_dim: usize) -> GaussianNet {
        let d = theta_dim;
        let mut params = ParamSet::default();
        let trunk = Mlp::new(dev, rng, &mut params, "trunk", data_dim, &spec.hidden);
        let h = trunk.n_out();
        let mean = Dense::new(dev, rng, &mut params, "mean", h, d);
        let log_diag = Dense::new(dev, rng, &mut params, "log_diag", h, d);
        let lower = Dense::new(dev, rng, &mut params, "lower", h, d * d);
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
        GaussianNet {
            dev: dev.clone(),
            d,
            data_dim,
            trunk,
            mean,
            log_diag,
            lower,
            params,
            repeat: dev.tensor_from_vec(e, (d, d * d)),
            sum_i: dev.tensor_from_vec(s, (d * d, d)),
            place_diag: dev.tensor_from_vec(pd, (d, d * d)),
            strict_lower: dev.tensor_from_vec(mask, (d * d,)),
        }
    }

    /// μ, log diag(U), and U flattened (rows, d²), for z-scored data.
    ///
    /// A tensor used twice is split from its tape once and `retaped` for the other uses;
    /// the tapes merge again wherever the results meet in the loss.
    fn heads<Tp: Tape<f32, Dev>>(&self, data: T2<Tp>) -> (T2<Tp>, T2<Tp>, T2<Tp>) {
        let rows = data.shape().0;
        let d = self.d;
        let (h, tape) = self.trunk.forward(&self.params, data).split_tape();
        let mean = self.mean.forward(&self.params, h.clone().put_tape(tape));
        let log_diag = self.log_diag.forward(&self.params, h.retaped::<Tp>());
        let lower = self.lower.forward(&self.params, h.retaped::<Tp>());
        let mask = self.strict_lower.clone().broadcast_like::<_, Axis<0>>(&(rows, d * d));
        let (log_diag, tape) = log_diag.split_tape();
        let diag = log_diag.clone().put_tape(tape).exp().matmul(self.place_diag.clone());
        let u = lower * mask + diag;
        (mean, log_diag.retaped::<Tp>(), u)
    }

    /// Per-row densities in z-space from a batch's head outputs.
    fn normals(&self, data: &[f32], rows: usize) -> Vec<MvNormal> {
        let x: T2 = self.dev.tensor_from_vec(data.to_vec(), (rows, self.data_dim));
        let (mean, _, u) = self.heads(x);
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

impl DensityEstimator for GaussianNet {
    fn theta_dim(&self) -> usize {
        self.d
    }
    fn data_dim(&self) -> usize {
        self.data_dim
    }
    fn params(&self) -> &ParamSet {
        &self.params
    }
    fn params_mut(&mut self) -> &mut ParamSet {
        &mut self.params
    }

    fn loss(&self, theta: T2, data: T2<OwnedTape<f32, Dev>>) -> T0<OwnedTape<f32, Dev>> {
        let rows = theta.shape().0;
        let (mean, log_diag, u) = self.heads(data);
        // r = Uᵀ(μ − x); its sign does not matter in ‖r‖².
        let rep = (mean - theta).matmul(self.repeat.clone());
        let r = (u * rep).matmul(self.sum_i.clone());
        let quad = r.square().sum::<(), _>() * 0.5;
        let nll_sum = quad - log_diag.sum::<(), _>();
        nll_sum / rows as f32 + 0.5 * self.d as f32 * LN_2PI as f32
    }

    fn log_prob_z(&self, theta: &[f32], data: &[f32], rows: usize) -> Vec<f64> {
        let d = self.d;
        self.normals(data, rows)
            .iter()
            .enumerate()
            .map(|(r, q)| {
                let t: Vec<f64> = theta[r * d..(r + 1) * d].iter().map(|&v| v as f64).collect();
                q.log_prob(&t)
            })
            .collect()
    }

    fn sample_z(&self, n: usize, data: &[f32], rng: &mut SampleRng) -> Vec<f64> {
        let q = &self.normals(data, 1)[0];
        (0..n).flat_map(|_| q.sample(rng)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::StreamFamily;

    /// The tape path (training loss) and the evaluation path (log_prob_z through MvNormal)
    /// compute the same density, and both match the closed form from the head outputs.
    #[test]
    fn training_loss_is_the_mean_negative_log_density() {
        let dev = Dev::default();
        let mut rng = StreamFamily::new(1, "t").rng(0);
        let net = GaussianNet::new(&dev, &mut rng, &GaussianSpec { hidden: vec![8] }, 3, 4);
        let rows = 5;
        let theta: Vec<f32> = (0..rows * 3).map(|i| (i as f32 * 0.37).sin()).collect();
        let data: Vec<f32> = (0..rows * 4).map(|i| (i as f32 * 0.11).cos()).collect();
        let lp = net.log_prob_z(&theta, &data, rows);
        let t: T2 = dev.tensor_from_vec(theta.clone(), (rows, 3));
        let y: T2 = dev.tensor_from_vec(data.clone(), (rows, 4));
        let loss = net.loss(t, y.leaky_traced()).array() as f64;
        let mean_nll = -lp.iter().sum::<f64>() / rows as f64;
        assert!((loss - mean_nll).abs() < 1e-4, "loss {loss} vs mean NLL {mean_nll}");
        // Gradients reach every parameter.
        let t: T2 = dev.tensor_from_vec(theta, (rows, 3));
        let y: T2 = dev.tensor_from_vec(data, (rows, 4));
        let grads = net.loss(t, y.leaky_traced()).backward();
        for p in &net.params().params {
            let g = grads.get(&p.tensor).as_vec();
            assert!(g.iter().any(|v| *v != 0.0), "no gradient for {}", p.name);
        }
    }
}
