//! The spec stage: YAML experiment specs, typed, checked and resolved.
//!
//! Reads one YAML file plus command-line overrides and gives a [`Plan`]: every value valid and
//! every default decided. It opens no other file and writes nothing. Errors name the file,
//! line and column, the key path, and the fix.
//!
//! The sections that belong to one estimator or one simulator are declared beside the code
//! they configure (src/nn/, src/sim/) and collected by those stages' registries; this stage
//! parses and checks them through the registries and re-exports them.

mod error;
mod load;
mod locate;
pub mod number;
mod overrides;
mod plan;
mod suggest;
pub(crate) mod tagged;
mod types;
pub mod validate;

pub use crate::nn::{CvaeFlowSpec, CvaeSpec, GaussianSpec, MafSpec, MdnSpec, ModelSpec, NsfSpec, RegressionSpec};
pub use crate::sim::gw::{Approximant, GwBbhSpec, GwPriors, PsdKind};
pub use crate::sim::{LinearGaussianSpec, MatrixKind, SimulatorSpec};
pub use error::SpecError;
pub use load::{load, load_spec, parse, parse_spec, typed, yaml_tree};
pub use overrides::Override;
pub use plan::{DatasetPlan, Plan};
pub use types::*;
pub use validate::{validate, Violation};
