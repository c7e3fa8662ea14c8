//! `gaussian_linear`: the Gaussian Linear task of the SBI benchmark (Lueckmann et al., AISTATS
//! 2021; sbibm 1.1.0, `sbibm/tasks/gaussian_linear/task.py`), with its ten published
//! observations.
//!
//! θ ~ N(0, 0.1·I₁₀), x ~ N(θ, 0.1·I₁₀) — both 0.1 are variances (sbibm builds the precision
//! matrices as inverse(0.1·I)). The posterior is Gaussian, N(x/2, 0.05·I), drawn exactly: it is
//! the `linear_gaussian` model with A = I and standard deviations √0.1.

use super::linear_gaussian::{LinearGaussian, LinearGaussianSpec, MatrixKind};
use super::registry::SimulatorConfig;
use super::Simulator;
use crate::config::Violation;
use crate::sim::NoiseMode;
use serde::{Deserialize, Serialize};

/// Dimension of θ and x.
const DIM: usize = 10;
/// Variance of the prior and of the noise.
const VARIANCE: f64 = 0.1;

/// sbibm 1.1.0's ten observations of `gaussian_linear` (files/num_observation_<i>/true_parameters.csv and
/// observation.csv, made by sbibm from its observation seeds): (true θ, x), i = 1..10.
pub const OBSERVATIONS: [([f64; 10], [f64; 10]); 10] = [
    ([0.27184236, 0.6762953, 0.17189318, -0.04218617, -0.82151634, 0.024290232, -0.24255924, -0.16438946, -0.13595216, 0.26958188], [1.0471346, 0.5566712, -0.23618454, 0.027879834, -1.0051446, -0.007930746, 0.06117077, -0.29286885, -0.38539964, 0.2449614]),
    ([0.3231766, -0.48194557, -0.158818, 0.24477085, -0.05232675, -0.17622235, 0.11508731, -0.59824085, 0.4403286, 0.054832038], [-0.106687605, -0.8015651, -0.07332335, 0.4009537, 0.62297356, -0.18687348, 0.7087778, 0.1921165, 0.6718195, 0.097826496]),
    ([0.7524056, -0.40969732, -0.4214273, 0.5400569, 0.106762305, 0.44723606, 0.15044528, -0.44408217, 0.03280716, -0.7424394], [0.46684834, -1.0391812, -0.4221986, -0.043471217, 0.06795333, 0.44685173, 0.034785576, -0.48691356, -0.14388148, -0.60066223]),
    ([0.21707824, -0.8317063, -0.07557733, -0.4370258, -0.14421989, 0.32103, -0.50172037, 0.28485256, -0.35796782, -0.70275885], [0.26986307, -0.8764679, -0.80710757, -0.62243676, -0.29644397, 0.18969943, -1.2106322, 0.080149904, -0.05710575, -0.6485255]),
    ([-0.15898985, -0.08629426, -0.021514494, 0.28765088, -0.15135133, -0.1654573, 0.6602954, 0.07169207, -0.011314105, 0.1380289], [0.086261556, 0.23511642, -0.12244874, -0.23736775, -0.14382003, -0.59807384, 0.5410164, 0.35587752, 0.45564276, 0.33464402]),
    ([-0.13793041, 0.045632858, 0.53129846, -0.12456216, 0.17174427, -0.084691405, 0.20289446, 0.19580129, -0.44808364, 0.0024759779], [0.303608, 0.09702572, 0.4143386, -0.6286805, -0.10541348, 0.2423679, -0.27078122, 0.6748003, -0.29908583, -0.23966554]),
    ([-0.32851782, -0.04893442, -0.19452389, -0.14762016, 0.18822408, 0.4414935, 0.07872076, 0.14572169, -0.29071635, 0.6546646], [-0.54149276, 0.15401167, -0.53614, 0.15069558, -0.15211618, -0.21718031, -0.39777136, -0.0935701, -0.76762325, 0.66795474]),
    ([0.29568693, -0.87399215, -0.08688919, 0.15754443, 0.24703713, 0.3069163, -0.5726556, -0.011553854, -0.0880848, -0.3792606], [-0.16127616, -1.227219, -0.094550796, 0.16520452, 0.62588596, 0.31528804, -1.0753651, 0.1274876, -0.31232044, -0.6503956]),
    ([-0.11919082, -0.46535635, -0.80274117, 0.47296685, 0.44567764, 0.16000625, 0.25931683, -0.14714251, -0.20642096, 0.28618297], [-0.2497777, -0.27713263, -0.34482944, 0.5036805, 0.75670123, 0.8884809, 0.047073513, -0.2576767, -0.45802453, -0.16742781]),
    ([0.21370807, -0.14310072, 0.3802537, 0.23015006, -0.4929388, -0.011544324, -0.05810091, 0.19308132, 0.10048655, -0.52734745], [0.43484968, 0.5951628, 0.24885634, 0.6911342, -0.80032897, 0.5683282, -0.23501486, 0.4710286, 0.3702978, -0.88694054]),
];

/// Settings of `gaussian_linear`: none; the task is defined by the benchmark.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GaussianLinearSpec {}

impl SimulatorConfig for GaussianLinearSpec {
    const KIND: &'static str = "gaussian_linear";
    const DEFAULT_NOISE: NoiseMode = NoiseMode::Fixed;

    fn validate(&self) -> Result<(), Violation> {
        Ok(())
    }

    fn sampled_parameters(&self) -> Vec<String> {
        (1..=DIM).map(|i| format!("parameter_{i}")).collect()
    }

    fn data_shape(&self) -> (usize, usize) {
        (1, DIM)
    }

    fn build(&self) -> Result<Box<dyn Simulator>, crate::sim::SimError> {
        let spec = LinearGaussianSpec {
            theta_dim: DIM,
            data_dim: DIM,
            matrix: MatrixKind::Identity,
            matrix_seed: 0,
            prior_std: VARIANCE.sqrt(),
            noise_std: VARIANCE.sqrt(),
        };
        let observations = OBSERVATIONS.iter().map(|(t, x)| (t.to_vec(), x.to_vec())).collect();
        Ok(Box::new(LinearGaussian::task(&spec, self.sampled_parameters(), "gaussian_linear/1", observations)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The posterior of the benchmark's definition: N(x/2, 0.05·I).
    #[test]
    fn posterior_is_half_the_observation_with_variance_a_twentieth() {
        let sim = GaussianLinearSpec::default().build().unwrap();
        let (_, x) = &sim.observations()[0];
        let post = sim.reference_posterior(x).expect("exact posterior");
        let half: Vec<f64> = x.iter().map(|v| v / 2.0).collect();
        let at = |d: &[f64]| post.log_prob(d);
        // log N(m + δ; m, 0.05 I) − log N(m; m, 0.05 I) = −|δ|²/(2·0.05).
        let mut moved = half.clone();
        moved[3] += 0.1;
        assert!((at(&moved) - at(&half) + 0.01 / 0.1).abs() < 1e-9);
        assert!((at(&half) - (-(DIM as f64) / 2.0 * (2.0 * std::f64::consts::PI * 0.05).ln())).abs() < 1e-9);
    }
}
