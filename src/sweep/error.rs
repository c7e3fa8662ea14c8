//! The errors of the sweep stage.

use std::path::PathBuf;

/// Why a sweep could not be planned, run, submitted or collected.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The sweep file, its base spec or a trial's overrides are wrong.
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    /// A trial's run could not be keyed or made.
    #[error(transparent)]
    Pipeline(#[from] crate::pipeline::PipelineError),
    /// results/ could not be read or written.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The sweep has no content key (a non-finite number in a trial).
    #[error(transparent)]
    Key(#[from] crate::store::KeyError),
    /// The summary files of a table could not be found.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// A saved plan (trials.json) the user named cannot be read.
    #[error("{}: not a sweep plan: {message}", path.display())]
    BadPlanFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A trial index beyond the plan.
    #[error("trial {index} does not exist; the sweep has {count}")]
    NoSuchTrial {
        /// The index asked for.
        index: usize,
        /// Trials in the plan.
        count: usize,
    },
    /// The running executable could not be found (to start trials).
    #[error("cannot find the ndelab executable: {0}")]
    Executable(std::io::Error),
    /// A scheduler command (sbatch, sacct) could not run or failed.
    #[error("{command}: {message}")]
    Scheduler {
        /// The command.
        command: String,
        /// What it said.
        message: String,
    },
    /// The trials' summaries could not be combined.
    #[error("collecting sweep `{name}`: {message}")]
    Collect {
        /// The sweep.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// The pool of trial workers could not be made.
    #[error("cannot start {jobs} trial workers: {message}")]
    Workers {
        /// Workers asked for.
        jobs: usize,
        /// Why not.
        message: String,
    },
}

impl SweepError {
    /// Whether the user's input is at fault (exit 2) rather than the work (exit 1).
    pub fn is_bad_input(&self) -> bool {
        match self {
            SweepError::BadPlanFile { .. } | SweepError::NoSuchTrial { .. } | SweepError::Spec(_) | SweepError::Key(_) => true,
            SweepError::Pipeline(e) => e.is_bad_input(),
            SweepError::Report(e) => matches!(e, crate::report::ReportError::Request(_)),
            _ => false,
        }
    }
}
