//! The report stage: everything a run writes besides the model — Parquet tables,
//! provenance.json, and PNG plots.
//!
//! Reads the records of training and the numbers of evaluation; writes into a run folder.

mod checks;
mod parquet;
mod plot;
mod provenance;
mod samples;
pub mod table;

pub use checks::{write_checks, EVAL_COLUMNS};
pub use parquet::{
    read_parquet, update_summary, write_metrics, write_rmse, write_summary, EvalAggregates, Summary,
    METRICS_COLUMNS, SUMMARY_COLUMNS,
};
pub use plot::{corner, corner_sets, latent_space, loss_curve, metric_vs_key, pp_plot, sbc_ranks};
pub use provenance::Provenance;
pub use samples::{write_samples, write_weighted};

/// Failures of writing reports.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Writing a Parquet file failed.
    #[error("{path}: cannot write Parquet: {message}")]
    Parquet {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Drawing a plot failed.
    #[error("{path}: cannot draw plot: {message}")]
    Plot {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A table or plot asked for something the results do not have (bad input).
    #[error("{0}")]
    Request(String),
    /// Writing a text file failed.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

impl From<crate::store::StoreError> for ReportError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Io { path, source } => {
                ReportError::Io { path: path.display().to_string(), message: source.to_string() }
            }
            other => ReportError::Io { path: String::new(), message: other.to_string() },
        }
    }
}
