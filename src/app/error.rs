//! The top-level error: what stopped a command, and the exit code it implies.
//!
//! Exit 2 means bad input — the spec, the command-line arguments, or a file the user named
//! (a run folder, observations, reference samples); exit 1 means a failure while working
//! (a diverged training, a corrupt cache entry, a full disk, a failed sweep trial).

use crate::data::DataError;
use crate::nn::NnError;
use crate::pipeline::PipelineError;
use crate::reference::SamplesFileError;
use crate::report::ReportError;
use crate::spec::SpecError;
use crate::store::{KeyError, OutputClash, StoreError};
use crate::sweep::SweepError;
use crate::train::TrainError;
use std::path::PathBuf;

/// Anything that can stop an ndelab command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec or its overrides are wrong.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// What the command line asks for cannot be done.
    #[error(transparent)]
    Request(#[from] BadRequest),
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
    /// A run could not be made.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// A sweep could not be planned, submitted or collected.
    #[error(transparent)]
    Sweep(#[from] SweepError),
    /// `cache verify` found damaged entries (listed on stdout).
    #[error("{0} corrupt entries; rerun with `ndelab cache verify --fix` to remove them")]
    CorruptEntries(usize),
    /// Trials of a local sweep failed.
    #[error("{failed} of {total} trials failed; their errors are in {}", log.display())]
    TrialsFailed {
        /// Trials that failed.
        failed: usize,
        /// Trials in the sweep.
        total: usize,
        /// trials.jsonl, with each trial's error.
        log: PathBuf,
    },
}

/// What the command line asks for that cannot be done (exit 2), with the fix.
#[derive(Debug, thiserror::Error)]
pub enum BadRequest {
    /// `--results` names something that cannot hold results.
    #[error("{0}")]
    Results(String),
    /// The worker threads could not be set up.
    #[error("--threads: {0}")]
    Threads(String),
    /// A folder that should be a finished run is not one.
    #[error("{}: not a finished run folder (no model.safetensors and DONE); runs live in results/runs/<name>/<key>/", .0.display())]
    NotARun(PathBuf),
    /// A folder that should be a complete run has no DONE.
    #[error("{} is not a complete run folder (no DONE); give a folder under results/runs/<name>/", .0.display())]
    Incomplete(PathBuf),
    /// Posteriors asked of a regression, which gives point estimates.
    #[error("{}: a regression gives point estimates, not {wanted}", run.display())]
    Regression {
        /// The run.
        run: PathBuf,
        /// What was asked of it.
        wanted: &'static str,
    },
    /// `--reference` names a folder that does not exist.
    #[error("--reference {}: no such folder", .0.display())]
    NoReferenceFolder(PathBuf),
    /// An output file of a kind `sample` or `reference` does not write.
    #[error("{}: name the output .npy, .parquet or .json (bilby result)", .0.display())]
    OutputFormat(PathBuf),
    /// A bilby result holds one observation.
    #[error("{}: a bilby result holds one observation but {data} has {rows}; write .npy or .parquet", out.display(), data = data.display())]
    BilbyOneObservation {
        /// The output.
        out: PathBuf,
        /// The observations.
        data: PathBuf,
        /// Observations in it.
        rows: usize,
    },
    /// More draws than this machine can hold.
    #[error("{flag} {n}: {n} draws of {parameters} parameters for {rows} observation(s) need about {:.1} GB, more than the {:.1} GB of memory here; ask for fewer", *bytes as f64 / 1e9, *limit as f64 / 1e9)]
    TooManyDraws {
        /// The option.
        flag: &'static str,
        /// Draws asked for.
        n: usize,
        /// Parameters per draw.
        parameters: usize,
        /// Observations.
        rows: usize,
        /// Bytes they need.
        bytes: u64,
        /// Bytes of memory here.
        limit: u64,
    },
    /// Importance sampling asked of a simulator without a likelihood.
    #[error("--importance: the `{0}` simulator of this run has no exact likelihood or prior to weight the draws with")]
    NoLikelihoodToWeight(String),
    /// Every importance weight of an observation is zero.
    #[error("observation {0}: every importance weight is zero: the estimator puts no mass where the likelihood is")]
    ZeroWeights(usize),
    /// No reference posterior exists for an observation.
    #[error("{}: no reference posterior for observation {observation}: simulator `{simulator}` has no likelihood, or its likelihood is zero everywhere under the prior", data.display())]
    NoReference {
        /// The observations.
        data: PathBuf,
        /// The observation.
        observation: usize,
        /// The simulator.
        simulator: String,
    },
    /// Too few samples to compare.
    #[error("{} has {na} samples and {} has {nb}; give at least 10 each", a.display(), b.display())]
    TooFewSamples {
        /// The first file.
        a: PathBuf,
        /// Its samples.
        na: usize,
        /// The second file.
        b: PathBuf,
        /// Its samples.
        nb: usize,
    },
    /// A count that must be at least 1.
    #[error("{0} must be at least 1")]
    AtLeastOne(&'static str),
    /// `--force` with a multirun.
    #[error("--force does not apply to a multirun; remove the runs to recompute them")]
    ForceOnMultirun,
    /// `cache gc --force` without an age.
    #[error("--force removes finished runs older than --older-than-days; give that too")]
    ForceWithoutAge,
    /// `ndelab sweep` without a sweep file.
    #[error("name a sweep file: ndelab sweep experiments/sweeps/<name>.yaml")]
    NoSweepFile,
    /// A table or plot of a sweep that has not run.
    #[error("sweep `{name}` has no results yet ({} missing); run `ndelab sweep {path}` first", summary.display())]
    SweepNotRun {
        /// The sweep.
        name: String,
        /// Its summary file.
        summary: PathBuf,
        /// The sweep file as given.
        path: String,
    },
}

impl Error {
    /// 2 for bad input (spec, arguments, files the user named), 1 for failures while working.
    pub fn exit_code(&self) -> i32 {
        let bad_input = match self {
            Error::Spec(_) | Error::Request(_) | Error::Output(_) | Error::Key(_) | Error::Samples(_) => true,
            Error::Nn(e) => e.is_bad_input(),
            Error::Sweep(e) => e.is_bad_input(),
            Error::Pipeline(e) => e.is_bad_input(),
            Error::Report(e) => matches!(e, ReportError::Request(_)),
            Error::Data(e) => e.is_bad_input(),
            Error::Store(_) | Error::Train(_) | Error::CorruptEntries(_) | Error::TrialsFailed { .. } => false,
        };
        if bad_input {
            2
        } else {
            1
        }
    }
}
