//! The vocabulary every stage's settings are written in: numbers as YAML writes them
//! (`1_000_000`, `1e-3`), sections tagged by `kind`, a [`Violation`] with its key and fix, the
//! checks that find one, and the limits of sizes. Below every stage: it knows no simulator,
//! estimator or file.

pub mod limits;
pub mod number;
pub mod tagged;
mod violation;

pub use limits::{MAX_DATA_VALUES, MAX_NAME, MAX_PARAMETERS, MAX_SAMPLES, MAX_WIDTH};
pub use violation::*;
