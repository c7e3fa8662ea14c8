//! The linear Gaussian task: x ~ N(0, s_p² I_d), y = A x + ε, ε ~ N(0, s_n² I_m).
//!
//! Its posterior is Gaussian with precision P = I/s_p² + AᵀA/s_n² and mean P⁻¹ Aᵀ y / s_n²,
//! which is what every estimator is checked against.

use super::registry::SimulatorConfig;
use super::{Parameter, Posterior, SampleRng, Simulator, StreamFamily};
use crate::math::{cholesky, lower_inverse, Mat, MvNormal, LN_2PI};
use crate::config::{at_least, bad, positive};
use crate::config::{number, Violation};
use crate::sim::NoiseMode;
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// x ~ N(0, prior_std² I_d), y = A x + ε with ε ~ N(0, noise_std² I_m).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinearGaussianSpec {
    /// d, the number of parameters x.
    #[serde(deserialize_with = "number::usize")]
    pub theta_dim: usize,
    /// m, the number of data values y.
    #[serde(deserialize_with = "number::usize")]
    pub data_dim: usize,
    /// The matrix A: `random` (entries N(0, 1/d), drawn from `matrix_seed`) or `identity` (needs m = d).
    pub matrix: MatrixKind,
    /// Seed of the random matrix A, separate from the sample seed so that replicates share one problem.
    #[serde(deserialize_with = "number::u64")]
    pub matrix_seed: u64,
    /// Prior standard deviation of every parameter.
    #[serde(deserialize_with = "number::f64")]
    pub prior_std: f64,
    /// Noise standard deviation of every data value.
    #[serde(deserialize_with = "number::f64")]
    pub noise_std: f64,
}

impl Default for LinearGaussianSpec {
    fn default() -> Self {
        LinearGaussianSpec { theta_dim: 5, data_dim: 10, matrix: MatrixKind::Random, matrix_seed: 0, prior_std: 1.0, noise_std: 1.0 }
    }
}

/// How the linear simulator's matrix is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatrixKind {
    /// Entries drawn from N(0, 1/d) with `matrix_seed`.
    Random,
    /// The identity (data_dim must equal theta_dim).
    Identity,
}

impl SimulatorConfig for LinearGaussianSpec {
    const KIND: &'static str = "linear_gaussian";
    const DEFAULT_NOISE: NoiseMode = NoiseMode::Fixed;

    fn validate(&self) -> Result<(), Violation> {
        at_least("dataset.linear_gaussian.theta_dim", self.theta_dim, 1)?;
        at_least("dataset.linear_gaussian.data_dim", self.data_dim, 1)?;
        crate::config::at_most("dataset.linear_gaussian.theta_dim", self.theta_dim, crate::config::MAX_PARAMETERS)?;
        // The simulator holds a data_dim × theta_dim matrix.
        crate::config::at_most("dataset.linear_gaussian.data_dim", self.data_dim, 1 << 16)?;
        if self.matrix == MatrixKind::Identity && self.theta_dim != self.data_dim {
            return Err(bad(
                "dataset.linear_gaussian.matrix",
                format!("`identity` needs data_dim = theta_dim, got data_dim {} and theta_dim {}", self.data_dim, self.theta_dim),
                Some("set data_dim equal to theta_dim, or use `matrix: random`"),
            ));
        }
        for (key, v) in [("dataset.linear_gaussian.prior_std", self.prior_std), ("dataset.linear_gaussian.noise_std", self.noise_std)] {
            positive(key, v)?;
            // Their squares and inverse squares enter the posterior precision: keep them finite.
            if !(1e-100..=1e100).contains(&v) {
                return Err(bad(
                    key,
                    format!("must be between 1e-100 and 1e100, got {v:e}"),
                    Some("rescale the problem; the posterior needs 1/σ² to be a finite number"),
                ));
            }
        }
        Ok(())
    }

    fn sampled_parameters(&self) -> Vec<String> {
        (0..self.theta_dim).map(|i| format!("x{i}")).collect()
    }

    fn data_shape(&self) -> (usize, usize) {
        (1, self.data_dim)
    }

    fn build(&self) -> Result<Box<dyn super::Simulator>, super::SimError> {
        Ok(Box::new(LinearGaussian::new(self)))
    }
}

/// The linear Gaussian simulator.
#[derive(Debug, Clone)]
pub struct LinearGaussian {
    params: Vec<Parameter>,
    a: Mat,
    prior_std: f64,
    noise_std: f64,
    post_cov: Mat,
    post_chol: Mat,
    /// P⁻¹ Aᵀ / s_n²: posterior mean = gain · y.
    gain: Mat,
    /// The simulator's version string (a task built on this one has its own).
    version: &'static str,
    /// A benchmark task's fixed observations.
    observations: Vec<(Vec<f64>, Vec<f64>)>,
}

impl LinearGaussian {
    /// Builds the simulator; a random A is drawn from its own stream of `matrix_seed`.
    pub fn new(spec: &LinearGaussianSpec) -> LinearGaussian {
        let (d, m) = (spec.theta_dim, spec.data_dim);
        let a = match spec.matrix {
            MatrixKind::Identity => Mat::identity(d),
            MatrixKind::Random => {
                let mut rng = StreamFamily::new(spec.matrix_seed, "linear_gaussian/matrix").rng(0);
                let scale = 1.0 / (d as f64).sqrt();
                Mat { rows: m, cols: d, v: (0..m * d).map(|_| rng.sample::<f64, _>(StandardNormal) * scale).collect() }
            }
        };
        let (sp2, sn2) = (spec.prior_std.powi(2), spec.noise_std.powi(2));
        let precision = Mat::identity(d).scaled(1.0 / sp2).add(&a.t().matmul(&a).scaled(1.0 / sn2));
        let prec_chol = cholesky(&precision).expect("prior precision makes P positive definite");
        let pi = lower_inverse(&prec_chol);
        let post_cov = pi.t().matmul(&pi);
        let post_chol = cholesky(&post_cov).expect("inverse of a positive definite matrix");
        let gain = post_cov.matmul(&a.t()).scaled(1.0 / sn2);
        let params =
            (0..d).map(|i| Parameter { name: format!("x{i}"), lower: f64::NEG_INFINITY, upper: f64::INFINITY, period: None }).collect();
        LinearGaussian {
            params,
            a,
            prior_std: spec.prior_std,
            noise_std: spec.noise_std,
            post_cov,
            post_chol,
            gain,
            version: "linear_gaussian/1",
            observations: Vec::new(),
        }
    }

    /// The same model as a named benchmark task: its own parameter names, version string and
    /// fixed observations.
    pub fn task(
        spec: &LinearGaussianSpec,
        names: Vec<String>,
        version: &'static str,
        observations: Vec<(Vec<f64>, Vec<f64>)>,
    ) -> LinearGaussian {
        let mut sim = LinearGaussian::new(spec);
        for (p, n) in sim.params.iter_mut().zip(names) {
            p.name = n;
        }
        sim.version = version;
        sim.observations = observations;
        sim
    }

    /// The posterior covariance (the same for every y).
    pub fn posterior_cov(&self) -> &Mat {
        &self.post_cov
    }

    /// log p(y) = log N(y; 0, σ_π² A Aᵀ + σ² I), the exact evidence.
    pub fn log_evidence(&self, data: &[f64]) -> f64 {
        let m = data.len();
        let cov = self
            .a
            .matmul(&self.a.t())
            .scaled(self.prior_std * self.prior_std)
            .add(&Mat::identity(m).scaled(self.noise_std * self.noise_std));
        MvNormal::new(vec![0.0; m], &cov).map_or(f64::NAN, |n| n.log_prob(data))
    }

    /// The exact posterior for data `y`.
    pub fn posterior(&self, data: &[f64]) -> MvNormal {
        MvNormal::from_chol(self.gain.matvec(data), self.post_chol.clone())
    }
}

impl Simulator for LinearGaussian {
    fn version(&self) -> &'static str {
        self.version
    }
    fn parameters(&self) -> &[Parameter] {
        &self.params
    }
    fn data_dim(&self) -> usize {
        self.a.rows
    }
    fn sample_prior(&self, rng: &mut SampleRng, theta: &mut [f64]) {
        for t in theta.iter_mut() {
            *t = self.prior_std * rng.sample::<f64, _>(StandardNormal);
        }
    }
    fn simulate_signal(&self, theta: &[f64], signal: &mut [f64]) -> Result<(), super::SimError> {
        signal.copy_from_slice(&self.a.matvec(theta));
        Ok(())
    }
    fn sample_noise(&self, rng: &mut SampleRng, noise: &mut [f64]) {
        for n in noise.iter_mut() {
            *n = self.noise_std * rng.sample::<f64, _>(StandardNormal);
        }
    }
    fn log_likelihood(&self, theta: &[f64], data: &[f64]) -> Option<f64> {
        let mean = self.a.matvec(theta);
        let s2 = self.noise_std * self.noise_std;
        let r2: f64 = data.iter().zip(mean).map(|(y, mu)| (y - mu) * (y - mu)).sum();
        Some(-0.5 * r2 / s2 - 0.5 * data.len() as f64 * (LN_2PI + s2.ln()))
    }
    fn prior_transform(&self, u: &[f64], theta: &mut [f64]) -> Option<()> {
        for (t, &v) in theta.iter_mut().zip(u) {
            *t = self.prior_std * crate::math::stats::normal_quantile(v);
        }
        Some(())
    }
    fn log_prior(&self, theta: &[f64]) -> Option<f64> {
        let s = self.prior_std;
        Some(theta.iter().map(|t| -0.5 * (t / s) * (t / s) - s.ln() - 0.5 * LN_2PI).sum())
    }
    fn reference_posterior(&self, data: &[f64]) -> Option<Box<dyn Posterior>> {
        Some(Box::new(self.posterior(data)))
    }
    fn has_reference_posterior(&self) -> bool {
        true
    }

    fn observations(&self) -> Vec<(Vec<f64>, Vec<f64>)> {
        self.observations.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posterior_is_prior_times_likelihood() {
        let sim = LinearGaussian::new(&LinearGaussianSpec { theta_dim: 3, data_dim: 4, ..Default::default() });
        let mut rng = StreamFamily::new(1, "t").rng(0);
        let mut theta = vec![0.0; 3];
        let mut y = vec![0.0; 4];
        sim.sample_prior(&mut rng, &mut theta);
        sim.simulate(&theta, &mut rng, &mut y).unwrap();
        let post = sim.posterior(&y);
        let prior = MvNormal::new(vec![0.0; 3], &Mat::identity(3)).unwrap();
        // log p(θ|y) - log p(θ) - log p(y|θ) is the same constant (-log evidence) for every θ.
        let c = |t: &[f64]| post.log_prob(t) - prior.log_prob(t) - sim.log_likelihood(t, &y).unwrap();
        let c0 = c(&[0.1, -0.3, 0.7]);
        assert!((c(&[1.0, 2.0, -1.0]) - c0).abs() < 1e-9);
        assert!((c(&theta) - c0).abs() < 1e-9);
    }
}
