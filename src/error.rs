//! The top-level error: one variant per stage, and the exit code each implies.
//!
//! Exit 2 means bad input — the spec, the command-line arguments, or a file the user named
//! (a run folder, observations, reference samples); exit 1 means a failure while working
//! (a diverged training, a corrupt cache entry, a full disk, a failed sweep trial).

use crate::data::DataError;
use crate::nn::NnError;
use crate::reference::SamplesFileError;
use crate::report::ReportError;
use crate::spec::SpecError;
use crate::store::{KeyError, OutputClash, StoreError};
use crate::sweep::SweepError;
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
    /// An output the user named would overwrite what must be kept.
    #[error(transparent)]
    Output(#[from] OutputClash),
    /// A section has no content key (a non-finite number).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// results/ could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A dataset could not be simulated or read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A network could not be built, saved or loaded.
    #[error(transparent)]
    Nn(#[from] NnError),
    /// Training failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// A file of posterior samples the user named cannot be read.
    #[error(transparent)]
    Samples(#[from] SamplesFileError),
    /// A report could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// A sweep could not be planned, submitted or collected.
    #[error(transparent)]
    Sweep(#[from] SweepError),
    /// A check found problems (already described on stdout).
    #[error("{0}")]
    Failed(String),
}

impl Error {
    /// 2 for bad input (spec, arguments, files the user named), 1 for failures while working.
    pub fn exit_code(&self) -> i32 {
        let bad_input = match self {
            Error::Spec(_) | Error::Usage(_) | Error::Output(_) | Error::Key(_) | Error::Samples(_) => true,
            Error::Nn(e) => !matches!(e, NnError::Write { .. } | NnError::NoDevice(_)),
            Error::Sweep(e) => e.is_bad_input(),
            Error::Report(e) => matches!(e, ReportError::Request(_)),
            Error::Data(DataError::Sim(crate::sim::SimError::File { .. }) | DataError::TooLarge(_)) => true,
            Error::Store(_) | Error::Data(_) | Error::Train(_) | Error::Failed(_) => false,
        };
        if bad_input {
            2
        } else {
            1
        }
    }
}
