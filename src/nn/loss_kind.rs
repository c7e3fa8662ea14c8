//! The training losses an estimator can name.

use serde::{Deserialize, Serialize};

/// Training losses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Negative log-likelihood -log q(x|y) (density estimators).
    Nll,
    /// Mean squared error (point-estimate regression).
    Mse,
    /// Negative evidence lower bound (conditional VAEs).
    Elbo,
    /// Conditional flow matching: the squared error of a vector field (`fmpe`).
    FlowMatching,
    /// Denoising score matching: the squared error of a noise prediction (`npse`).
    ScoreMatching,
}

impl LossKind {
    /// The spec name of the loss.
    pub fn as_str(self) -> &'static str {
        match self {
            LossKind::Nll => "nll",
            LossKind::Mse => "mse",
            LossKind::Elbo => "elbo",
            LossKind::FlowMatching => "flow_matching",
            LossKind::ScoreMatching => "score_matching",
        }
    }
}
