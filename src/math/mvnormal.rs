//! The multivariate normal N(μ, Σ), held by the Cholesky factor of Σ.

use super::linalg::{cholesky, lower_inverse, Mat};
use super::LN_2PI;
use rand::Rng;
use rand_distr::StandardNormal;

/// N(mean, L Lᵀ).
#[derive(Debug, Clone, PartialEq)]
pub struct MvNormal {
    /// μ.
    pub mean: Vec<f64>,
    /// Lower Cholesky factor of the covariance.
    pub chol: Mat,
    chol_inv: Mat,
    log_det_chol: f64,
}

impl MvNormal {
    /// N(mean, cov); `None` if `cov` is not positive definite.
    pub fn new(mean: Vec<f64>, cov: &Mat) -> Option<MvNormal> {
        Some(Self::from_chol(mean, cholesky(cov)?))
    }

    /// N(mean, L Lᵀ) from a lower-triangular L with a positive diagonal.
    pub fn from_chol(mean: Vec<f64>, chol: Mat) -> MvNormal {
        let chol_inv = lower_inverse(&chol);
        let log_det_chol = (0..chol.rows).map(|i| chol.at(i, i).ln()).sum();
        MvNormal { mean, chol, chol_inv, log_det_chol }
    }

    /// N(mean, P⁻¹) from the lower Cholesky factor U of the precision P = U Uᵀ.
    pub fn from_precision_chol(mean: Vec<f64>, u: &Mat) -> MvNormal {
        // Σ = U⁻ᵀ U⁻¹; U⁻ᵀ is upper triangular, so refactor Σ for a lower factor.
        let ui = lower_inverse(u);
        let cov = ui.t().matmul(&ui);
        match cholesky(&cov) {
            Some(l) => Self::from_chol(mean, l),
            None => Self::from_chol(mean, ui.t()), // not reached for a valid U; keeps log-density right
        }
    }

    /// The marginal over the coordinates `keep`, in that order.
    pub fn marginal(&self, keep: &[usize]) -> MvNormal {
        let cov = self.cov();
        let mut sub = Mat::zeros(keep.len(), keep.len());
        for (a, &i) in keep.iter().enumerate() {
            for (b, &j) in keep.iter().enumerate() {
                *sub.at_mut(a, b) = cov.at(i, j);
            }
        }
        let mean = keep.iter().map(|&i| self.mean[i]).collect();
        MvNormal::new(mean, &sub).expect("a sub-block of a covariance is positive definite")
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Σ.
    pub fn cov(&self) -> Mat {
        self.chol.matmul(&self.chol.t())
    }

    /// Σ⁻¹.
    pub fn precision(&self) -> Mat {
        self.chol_inv.t().matmul(&self.chol_inv)
    }

    /// ln det Σ.
    pub fn log_det_cov(&self) -> f64 {
        2.0 * self.log_det_chol
    }

    /// log N(x; μ, Σ).
    pub fn log_prob(&self, x: &[f64]) -> f64 {
        let d = self.dim();
        let diff: Vec<f64> = x.iter().zip(&self.mean).map(|(a, b)| a - b).collect();
        let z = self.chol_inv.matvec(&diff);
        -0.5 * z.iter().map(|v| v * v).sum::<f64>() - self.log_det_chol - 0.5 * d as f64 * LN_2PI
    }

    /// One draw.
    pub fn sample(&self, rng: &mut impl Rng) -> Vec<f64> {
        let z: Vec<f64> = (0..self.dim()).map(|_| rng.sample(StandardNormal)).collect();
        let lz = self.chol.matvec(&z);
        lz.iter().zip(&self.mean).map(|(a, b)| a + b).collect()
    }
}

/// KL(p || q) between two multivariate normals, in nats.
pub fn kl_gaussian(p: &MvNormal, q: &MvNormal) -> f64 {
    let d = p.dim();
    let q_prec = q.precision();
    let trace: f64 = q_prec.matmul(&p.cov()).v.iter().step_by(d + 1).sum();
    let diff: Vec<f64> = q.mean.iter().zip(&p.mean).map(|(a, b)| a - b).collect();
    let maha: f64 = diff.iter().zip(q_prec.matvec(&diff)).map(|(a, b)| a * b).sum();
    0.5 * (trace + maha - d as f64 + q.log_det_cov() - p.log_det_cov())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn cov() -> Mat {
        Mat { rows: 2, cols: 2, v: vec![2.0, 0.6, 0.6, 1.0] }
    }

    #[test]
    fn log_prob_matches_the_formula_and_kl_of_self_is_zero() {
        let p = MvNormal::new(vec![1.0, -1.0], &cov()).unwrap();
        // det = 1.64; at the mean log N = -ln(2π) - 0.5 ln 1.64.
        assert!((p.log_prob(&[1.0, -1.0]) - (-LN_2PI - 0.5 * 1.64f64.ln())).abs() < 1e-12);
        assert!(kl_gaussian(&p, &p).abs() < 1e-12);
        let prec = p.precision();
        let u = cholesky(&prec).unwrap();
        let p2 = MvNormal::from_precision_chol(vec![1.0, -1.0], &u);
        assert!((p2.log_prob(&[0.3, 0.2]) - p.log_prob(&[0.3, 0.2])).abs() < 1e-12);
    }

    #[test]
    fn kl_matches_monte_carlo() {
        let p = MvNormal::new(vec![0.0, 0.0], &cov()).unwrap();
        let q = MvNormal::new(vec![0.5, 0.0], &Mat::identity(2)).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let n = 200_000;
        let mc: f64 = (0..n)
            .map(|_| {
                let x = p.sample(&mut rng);
                p.log_prob(&x) - q.log_prob(&x)
            })
            .sum::<f64>()
            / n as f64;
        assert!((mc - kl_gaussian(&p, &q)).abs() < 0.01, "mc {mc} exact {}", kl_gaussian(&p, &q));
    }
}
