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
mod overrides;
mod plan;
mod suggest;
mod types;
pub mod validate;

pub use error::SpecError;
pub use load::{load, parse, typed, yaml_tree};
pub use overrides::Override;
pub use plan::Plan;
pub use types::Spec;
pub use validate::validate;
