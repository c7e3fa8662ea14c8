//! Root-mean-square error of point estimates: what a regression is scored by.

use crate::data::{Split, ZScore};

/// RMSE of each parameter (physical units) and their mean in units of each parameter's
/// training standard deviation.
#[derive(Debug, Clone, PartialEq)]
pub struct Rmse {
    /// RMSE per parameter.
    pub per_parameter: Vec<f64>,
    /// Mean over parameters of RMSE / std.
    pub mean_z: f64,
}

/// RMSE of `estimates` (rows × d) against the true θ of `test`.
pub fn rmse(estimates: &[f64], test: &Split, theta_z: &ZScore) -> Rmse {
    let d = test.theta.cols;
    let n = test.len().max(1) as f64;
    let per_parameter: Vec<f64> = (0..d)
        .map(|j| ((0..test.len()).map(|i| (estimates[i * d + j] - test.theta_row(i)[j] as f64).powi(2)).sum::<f64>() / n).sqrt())
        .collect();
    let mean_z = per_parameter.iter().zip(&theta_z.std).map(|(r, s)| r / s).sum::<f64>() / d.max(1) as f64;
    Rmse { per_parameter, mean_z }
}
