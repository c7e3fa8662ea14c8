//! The report stage: everything a run writes besides the model — Parquet tables,
//! provenance.json, and PNG plots.
//!
//! Reads the records of training and the numbers of evaluation; writes into a run folder.

mod parquet;
mod plot;
mod provenance;
mod samples;
pub mod table;

pub use parquet::{read_parquet, write_metrics, write_rmse, write_summary, Summary, METRICS_COLUMNS, SUMMARY_COLUMNS};
pub use plot::{corner, latent_space, loss_curve, metric_vs_key};
pub use provenance::Provenance;
pub use samples::write_samples;

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
    /// Writing a text file failed.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}
