//! The eval section of a spec: which metrics and pictures, and how many draws each takes.

use crate::config::number;
use crate::reference::NestedSpec;
use serde::{Deserialize, Serialize};

/// What to measure after training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalSpec {
    /// Metrics to compute; `kl_to_truth` needs a simulator with an analytic posterior.
    pub metrics: Vec<Metric>,
    /// Posterior draws per test observation for the Monte Carlo KL.
    #[serde(deserialize_with = "number::usize")]
    pub kl_samples: usize,
    /// Test injections in the P-P test (`pp`); at most n_test.
    #[serde(deserialize_with = "number::usize")]
    pub pp_injections: usize,
    /// Posterior draws per injection for `pp` and `c2st`.
    #[serde(deserialize_with = "number::usize")]
    pub posterior_samples: usize,
    /// Injections compared with a reference posterior by `c2st`.
    #[serde(deserialize_with = "number::usize")]
    pub reference_injections: usize,
    /// Estimator draws importance-sampled with the exact likelihood per reference injection
    /// (0: none).
    #[serde(deserialize_with = "number::usize")]
    pub importance_samples: usize,
    /// The built-in nested sampler that makes reference posteriors where no exact one exists.
    pub nested: NestedSpec,
}

impl Default for EvalSpec {
    fn default() -> Self {
        EvalSpec {
            metrics: vec![Metric::TestNll, Metric::KlToTruth, Metric::LossCurve],
            kl_samples: 256,
            pp_injections: 256,
            posterior_samples: 2000,
            reference_injections: 4,
            importance_samples: 5000,
            nested: NestedSpec::default(),
        }
    }
}

/// Metrics and pictures `eval` can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Mean -log q(x_true|y) over the test set, in nats.
    TestNll,
    /// Mean KL(p_true(x|y) || q(x|y)) over the test set, in nats (simulators with an analytic posterior).
    KlToTruth,
    /// plots/loss_curve.png: training and validation loss per epoch.
    LossCurve,
    /// plots/latent_space.png: latent means of the test data coloured by each parameter (cvae).
    LatentPlot,
    /// plots/corner_{0,1,2}.png: 10⁴ posterior samples of three test injections with their true values.
    Corner,
    /// Coverage: eval.parquet, plots/pp.png (P-P with binomial bands, KS p-values) and
    /// plots/sbc.png (rank histograms) over `pp_injections` test injections.
    Pp,
    /// Comparison with reference posteriors (exact, or the built-in nested sampler) on
    /// `reference_injections` injections: JS per marginal, kNN symmetric KL, C2ST,
    /// importance-sampling efficiency, overlaid corner plots.
    C2st,
}
