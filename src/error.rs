//! The top-level error: one variant per stage, and the exit code each implies.

use crate::report::ReportError;
use crate::spec::SpecError;
use crate::store::StoreError;
use crate::train::TrainError;

/// Anything that can stop an ndelab command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec or its overrides are wrong.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A command-line argument is wrong.
    #[error("{0}")]
    Usage(String),
    /// results/ could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A dataset could not be simulated.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// Training failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// A report could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// A saved model could not be written or read.
    #[error("model: {0}")]
    Model(String),
    /// A check found problems (already described on stdout).
    #[error("{0}")]
    Failed(String),
}

impl Error {
    /// 2 for bad input (spec, arguments), 1 for failures while working.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Spec(_) | Error::Usage(_) => 2,
            _ => 1,
        }
    }
}
