//! The experiment spec as written: typed, each section declared by the stage it configures.
//!
//! These types hold data only. Loading (`spec::load`) parses YAML into them; checking values
//! that serde cannot (`batch_size > 0`, a loss that fits the model, ...) is `spec::validate`.

use crate::config::number;
use crate::data::DatasetSpec;
use crate::eval::EvalSpec;
use crate::nn::LossKind;
use crate::train::TrainingSpec;
use serde::{Deserialize, Serialize};

/// One experiment: what to simulate, what to train on it, how, and how to score it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Name of the experiment; the run folder is `results/runs/<name>/<key>/`. Letters, digits, `_`, `-`, `.`.
    pub name: String,
    /// Master seed: network initialisation, shuffling, and the dataset when `dataset.seed` is unset.
    #[serde(default = "default_seed", deserialize_with = "number::u64")]
    pub seed: u64,
    /// The simulated data.
    pub dataset: DatasetSpec,
    /// The density estimator q(x|y).
    pub model: crate::nn::ModelSpec,
    /// Training loss; defaults to the loss that fits `model.kind` (`nll` for `gaussian`).
    #[serde(default)]
    pub loss: Option<LossKind>,
    /// How to train.
    #[serde(default)]
    pub training: TrainingSpec,
    /// What to measure after training.
    #[serde(default)]
    pub eval: EvalSpec,
}

fn default_seed() -> u64 {
    1
}
