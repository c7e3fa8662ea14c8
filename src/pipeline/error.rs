//! The errors of a run: those of the stages it drives, each kept whole.

use crate::data::DataError;
use crate::nn::NnError;
use crate::reference::SamplesFileError;
use crate::report::ReportError;
use crate::spec::SpecError;
use crate::store::{KeyError, StoreError};
use crate::train::TrainError;

/// Why a run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The spec or its overrides are wrong.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A section has no content key (a non-finite number).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// results/ could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The dataset could not be simulated or read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The network could not be built, saved or loaded.
    #[error(transparent)]
    Nn(#[from] NnError),
    /// Training failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// Reference samples the eval section names cannot be read.
    #[error(transparent)]
    Samples(#[from] SamplesFileError),
    /// The run's reports could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
}

impl PipelineError {
    /// Whether the user's input is at fault (exit 2) rather than the work (exit 1).
    pub fn is_bad_input(&self) -> bool {
        match self {
            PipelineError::Spec(_) | PipelineError::Key(_) | PipelineError::Samples(_) => true,
            PipelineError::Nn(e) => e.is_bad_input(),
            PipelineError::Data(e) => e.is_bad_input(),
            PipelineError::Report(e) => matches!(e, ReportError::Request(_)),
            PipelineError::Store(_) | PipelineError::Train(_) => false,
        }
    }
}
