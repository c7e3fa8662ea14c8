//! `two_moons`: the Two Moons task of the SBI benchmark (Lueckmann et al., AISTATS 2021; sbibm
//! 1.1.0, `sbibm/tasks/two_moons/task.py`), with its ten published observations.
//!
//! θ ~ U[−1, 1]²; a ~ U(−π/2, π/2), r ~ N(0.1, 0.01²), p = (r cos a + 0.25, r sin a);
//! x = p + (−|θ₁ + θ₂|/√2, (−θ₁ + θ₂)/√2). The posterior is two crescents (a bimodal
//! moon). The likelihood is exact: with (u, v) = x − (−|z₀|, z₁) − (0.25, 0) and r = |(u, v)|,
//! p(x|θ) = N(r; 0.1, 0.01²) / (π r) for u > 0 and 0 otherwise (polar coordinates of p, a
//! uniform). sbibm's `_likelihood` leaves out the 1/(π r), a factor within ±10% of a constant
//! where r has mass; here it is kept, so the nested sampler draws from the exact posterior.

use super::registry::SimulatorConfig;
use super::{Parameter, SampleRng, SimError, Simulator};
use crate::config::Violation;
use crate::sim::NoiseMode;
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use std::f64::consts::{FRAC_1_SQRT_2, FRAC_PI_2, PI};

const R_LOC: f64 = 0.1;
const R_SCALE: f64 = 0.01;
const OFFSET: f64 = 0.25;

/// sbibm 1.1.0's ten observations of `two_moons` (files/num_observation_<i>/true_parameters.csv and
/// observation.csv, made by sbibm from its observation seeds): (true θ, x), i = 1..10.
pub const OBSERVATIONS: [([f64; 2], [f64; 2]); 10] = [
    ([-0.8176656, -0.5756806], [-0.6396706, 0.16234657]),
    ([-0.28899693, -0.8759459], [-0.5676688, -0.33194834]),
    ([0.73016036, -0.3217839], [0.0030109584, -0.6457662]),
    ([-0.8023417, 0.011640668], [-0.25049388, 0.633055]),
    ([-0.43228424, -0.9955981], [-0.66463584, -0.42604533]),
    ([-0.6377127, 0.0018655062], [-0.12940255, 0.3873573]),
    ([-0.61911654, 0.829502], [0.19458583, 1.0400153]),
    ([-0.7995198, 0.49675143], [0.13603824, 0.9160449]),
    ([0.6775234, 0.013154268], [-0.17962828, -0.5452459]),
    ([0.72652316, -0.9946897], [0.14563406, -1.170141]),
];

/// Settings of `two_moons`: none; the task is defined by the benchmark.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoMoonsSpec {}

impl SimulatorConfig for TwoMoonsSpec {
    const KIND: &'static str = "two_moons";
    const DEFAULT_NOISE: NoiseMode = NoiseMode::Fixed;

    fn validate(&self) -> Result<(), Violation> {
        Ok(())
    }

    fn sampled_parameters(&self) -> Vec<String> {
        vec!["parameter_1".into(), "parameter_2".into()]
    }

    fn data_shape(&self) -> (usize, usize) {
        (1, 2)
    }

    fn build(&self) -> Result<Box<dyn Simulator>, crate::sim::SimError> {
        Ok(Box::new(TwoMoons::new()))
    }
}

/// The simulator.
#[derive(Debug, Clone)]
pub struct TwoMoons {
    params: Vec<Parameter>,
}

impl TwoMoons {
    /// The task as the benchmark defines it.
    pub fn new() -> TwoMoons {
        let p = |name: &str| Parameter { name: name.into(), lower: -1.0, upper: 1.0, period: None };
        TwoMoons { params: vec![p("parameter_1"), p("parameter_2")] }
    }

    /// The θ-dependent shift of the moon: (−|z₀|, z₁), z the parameters rotated by −π/4.
    fn shift(theta: &[f64]) -> [f64; 2] {
        let z0 = FRAC_1_SQRT_2 * (theta[0] + theta[1]);
        let z1 = FRAC_1_SQRT_2 * (theta[1] - theta[0]);
        [-z0.abs(), z1]
    }
}

impl Default for TwoMoons {
    fn default() -> Self {
        TwoMoons::new()
    }
}

impl Simulator for TwoMoons {
    fn version(&self) -> &'static str {
        "two_moons/1"
    }

    fn parameters(&self) -> &[Parameter] {
        &self.params
    }

    fn data_dim(&self) -> usize {
        2
    }

    fn sample_prior(&self, rng: &mut SampleRng, theta: &mut [f64]) {
        for t in theta.iter_mut() {
            *t = rng.gen_range(-1.0..1.0);
        }
    }

    fn simulate_signal(&self, theta: &[f64], signal: &mut [f64]) -> Result<(), SimError> {
        signal.copy_from_slice(&Self::shift(theta));
        Ok(())
    }

    /// The moon itself, p: independent of θ.
    fn sample_noise(&self, rng: &mut SampleRng, noise: &mut [f64]) {
        let a = rng.gen_range(-FRAC_PI_2..FRAC_PI_2);
        let r = R_LOC + R_SCALE * rng.sample::<f64, _>(StandardNormal);
        noise[0] = r * a.cos() + OFFSET;
        noise[1] = r * a.sin();
    }

    fn log_likelihood(&self, theta: &[f64], data: &[f64]) -> Option<f64> {
        let s = Self::shift(theta);
        let (u, v) = (data[0] - s[0] - OFFSET, data[1] - s[1]);
        if u <= 0.0 {
            return Some(f64::NEG_INFINITY);
        }
        let r = (u * u + v * v).sqrt();
        let z = (r - R_LOC) / R_SCALE;
        Some(-0.5 * z * z - (R_SCALE * (2.0 * PI).sqrt()).ln() - (PI * r).ln())
    }

    fn prior_transform(&self, u: &[f64], theta: &mut [f64]) -> Option<()> {
        for (t, &v) in theta.iter_mut().zip(u) {
            *t = -1.0 + 2.0 * v;
        }
        Some(())
    }

    fn log_prior(&self, theta: &[f64]) -> Option<f64> {
        Some(if theta.iter().all(|t| (-1.0..=1.0).contains(t)) { -2.0 * 2f64.ln() } else { f64::NEG_INFINITY })
    }

    fn observations(&self) -> Vec<(Vec<f64>, Vec<f64>)> {
        OBSERVATIONS.iter().map(|(t, x)| (t.to_vec(), x.to_vec())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::StreamFamily;

    /// The likelihood is the density of the simulator's output: a histogram of 4·10⁵ draws at
    /// one θ matches p(x|θ) integrated over its cells, and p(x|θ) integrates to one.
    #[test]
    fn likelihood_is_the_density_of_simulated_data() {
        let sim = TwoMoons::new();
        let theta = [0.3, -0.5];
        let mut rng = StreamFamily::new(2, "t").rng(0);
        let (lo, hi, n) = ([0.0, -0.8], [0.3, -0.3], 400usize);
        let h = [(hi[0] - lo[0]) / n as f64, (hi[1] - lo[1]) / n as f64];
        let mut counts = vec![0.0f64; n * n];
        let draws = 400_000;
        let mut x = [0.0; 2];
        for _ in 0..draws {
            sim.simulate(&theta, &mut rng, &mut x).unwrap();
            let (i, j) = (((x[0] - lo[0]) / h[0]).floor(), ((x[1] - lo[1]) / h[1]).floor());
            assert!(i >= 0.0 && j >= 0.0 && (i as usize) < n && (j as usize) < n, "draw {x:?} outside the grid");
            counts[i as usize * n + j as usize] += 1.0 / draws as f64;
        }
        // Coarse cells (40 × 40 of the fine ones) so that counts are many.
        let (mut total, mut worst) = (0.0, 0.0f64);
        for ci in 0..10 {
            for cj in 0..10 {
                let (mut mass, mut freq) = (0.0, 0.0);
                for i in ci * 40..ci * 40 + 40 {
                    for j in cj * 40..cj * 40 + 40 {
                        let p = [lo[0] + (i as f64 + 0.5) * h[0], lo[1] + (j as f64 + 0.5) * h[1]];
                        mass += sim.log_likelihood(&theta, &p).unwrap().exp() * h[0] * h[1];
                        freq += counts[i * n + j];
                    }
                }
                total += mass;
                worst = worst.max((mass - freq).abs());
            }
        }
        assert!((total - 1.0).abs() < 0.01, "∫p(x|θ) = {total}");
        assert!(worst < 0.005, "largest cell difference {worst}");
    }
}
