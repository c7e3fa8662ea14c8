//! The resolved plan: a spec with every default decided, made once by load → overrides →
//! validate → resolve. Every stage takes a [`Plan`]; nothing after this asks "was it set?".

use super::types::Spec;
use crate::data::DatasetPlan;
use crate::eval::EvalSpec;
use crate::nn::{LossKind, ModelSpec};
use crate::train::TrainingSpec;

/// One experiment, resolved: no optional values left but those that switch a feature off
/// (`training.early_stopping: null`, `training.kl_ramp: null`).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Name of the experiment (the run folder is `results/runs/<name>/<key>/`).
    pub name: String,
    /// Master seed: initialisation, shuffling, fresh noise, evaluation.
    pub seed: u64,
    /// The data.
    pub dataset: DatasetPlan,
    /// The estimator.
    pub model: ModelSpec,
    /// The training loss (the one the model kind trains with).
    pub loss: LossKind,
    /// How to train.
    pub training: TrainingSpec,
    /// What to measure.
    pub eval: EvalSpec,
}

impl Plan {
    /// Decides every default of a validated spec.
    pub fn resolve(spec: Spec) -> Plan {
        let d = spec.dataset;
        let dataset = DatasetPlan {
            seed: d.seed.unwrap_or(spec.seed),
            n_train: d.n_train,
            n_val: d.n_val,
            n_test: d.n_test,
            infer: d.infer.unwrap_or_else(|| d.simulator.default_infer()),
            noise: d.noise.unwrap_or_else(|| d.simulator.default_noise()),
            simulator: d.simulator,
        };
        Plan {
            loss: spec.loss.unwrap_or_else(|| spec.model.loss()),
            name: spec.name,
            seed: spec.seed,
            dataset,
            model: spec.model,
            training: spec.training,
            eval: spec.eval,
        }
    }

    /// The plan as a spec with every value written out: what `spec.resolved.yaml` holds and
    /// what keys hash. Loading it gives this plan again.
    pub fn to_spec(&self) -> Spec {
        Spec {
            name: self.name.clone(),
            seed: self.seed,
            dataset: self.dataset.to_spec(),
            model: self.model.clone(),
            loss: Some(self.loss),
            training: self.training.clone(),
            eval: self.eval.clone(),
        }
    }

    /// The resolved spec as YAML.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(&self.to_spec()).unwrap_or_else(|e| format!("# cannot serialise spec: {e}\n"))
    }
}
