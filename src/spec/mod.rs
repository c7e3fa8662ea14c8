//! The spec stage: YAML experiment specs, typed and checked.
//!
//! Reads one YAML file plus command-line overrides and gives a [`Spec`] whose every value is
//! valid and every default filled in ([`Spec::resolved`]). It opens no other file and writes
//! nothing. Errors name the file, line and column, the key path, and the fix.

mod error;
mod load;
mod locate;
pub mod number;
mod overrides;
mod suggest;
mod tagged;
mod types;
mod validate;

pub use error::SpecError;
pub use load::{load, parse, typed, yaml_tree};
pub use overrides::Override;
pub use types::*;
pub use validate::{loss_for, validate, Violation};

impl Spec {
    /// The spec with every optional value filled in: the form that is hashed and saved.
    pub fn resolved(&self) -> Spec {
        let mut s = self.clone();
        s.loss = Some(s.loss.unwrap_or_else(|| loss_for(&s.model)));
        s.dataset.seed = Some(s.dataset.seed.unwrap_or(s.seed));
        match s.dataset.simulator {
            SimulatorKind::LinearGaussian => {
                s.dataset.linear_gaussian = Some(s.dataset.linear_gaussian.clone().unwrap_or_default());
                s.dataset.noise = Some(s.dataset.noise.unwrap_or(NoiseMode::Fixed));
            }
            SimulatorKind::GwBbh => {
                s.dataset.gw_bbh = Some(s.dataset.gw_bbh.clone().unwrap_or_default());
                s.dataset.noise = Some(s.dataset.noise.unwrap_or(NoiseMode::Fresh));
            }
        }
        if s.dataset.infer.is_none() {
            let sampled = s.dataset.sampled_parameters();
            let default: Vec<String> = match s.dataset.simulator {
                SimulatorKind::LinearGaussian => sampled,
                // The phase is marginalised: its posterior is multimodal and of little interest.
                SimulatorKind::GwBbh => sampled.into_iter().filter(|p| p != "phase").collect(),
            };
            s.dataset.infer = Some(default);
        }
        s
    }

    /// The resolved spec as YAML, as saved in `spec.resolved.yaml`.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).unwrap_or_else(|e| format!("# cannot serialise spec: {e}\n"))
    }
}

impl DatasetSpec {
    /// Names of the parameters the simulator samples (the columns of a dataset's θ), in order.
    pub fn sampled_parameters(&self) -> Vec<String> {
        match self.simulator {
            SimulatorKind::LinearGaussian => {
                let d = self.linear_gaussian.clone().unwrap_or_default().theta_dim;
                (0..d).map(|i| format!("x{i}")).collect()
            }
            SimulatorKind::GwBbh => self
                .gw_bbh
                .clone()
                .unwrap_or_default()
                .priors
                .named()
                .iter()
                .filter(|(_, p)| matches!(p, Prior::Uniform { .. }))
                .map(|(n, _)| n.to_string())
                .collect(),
        }
    }
}
