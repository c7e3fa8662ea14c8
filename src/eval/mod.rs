//! The evaluation stage: how good is the learned posterior?
//!
//! Reads a trained model, the test split and the simulator; returns plain numbers (only the
//! report stage writes files).

mod c2st;
mod coverage;
mod compare;
mod divergence;
mod importance;
mod kl;
mod nll;
mod posterior;
mod reference_check;
mod rmse;
mod settings;

pub use c2st::c2st;
pub use coverage::{pp_band, Coverage, PpTest};
pub use compare::{compare_samples, marginal_js, SampleComparison};
pub use divergence::{js_marginal, knn_symmetric_kl};
pub use importance::{importance_sample, weighted_draws, Importance, Weighted};
pub use kl::kl_to_truth;
pub use nll::test_nll;
pub use posterior::{posterior_checks, CheckSettings, EvalRow, PosteriorChecks, ReferenceCheck, ReferenceSource, MARGINAL_DRAWS};
pub use rmse::{rmse, Rmse};
pub use settings::{EvalSpec, Metric};

/// Version of the evaluation code; part of the run key. eval/8: a constrained prior (gw_network's
/// masses) is normalised in nested and importance-sampling log Z. eval/7: C2ST's classifier runs on the
/// fused dense layer (rounding differs).
pub const EVAL_VERSION: &str = "eval/8";

/// A metric with its Monte Carlo standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The value.
    pub value: f64,
    /// Standard error of the mean over test observations.
    pub std_err: f64,
}

pub(crate) fn mean_and_se(v: &[f64]) -> Estimate {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    Estimate { value: mean, std_err: (var / n).sqrt() }
}
