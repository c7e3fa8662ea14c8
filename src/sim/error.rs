//! The errors of the simulation stage.

/// Why a simulator could not produce a sample or load what it needs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// The waveform model cannot be evaluated at these parameters.
    #[error("waveform model: {0}")]
    Waveform(String),
    /// A PSD table is malformed.
    #[error("PSD: {0}")]
    Psd(String),
    /// An external simulator program failed, hung, or wrote something unusable.
    #[error("{program}, {chunk}: {message}{}", tail(stderr))]
    Program {
        /// The program.
        program: String,
        /// Which rows it was making (`train rows 0..1000`).
        chunk: String,
        /// What went wrong and how to fix it.
        message: String,
        /// The last lines the program wrote to stderr.
        stderr: String,
    },
    /// A file of training data the user named cannot be used.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The sample-by-sample interface of a simulator that only makes blocks.
    #[error("{0} makes data in blocks, not sample by sample")]
    BlocksOnly(&'static str),
}

fn tail(stderr: &str) -> String {
    if stderr.trim().is_empty() {
        return String::new();
    }
    let lines: Vec<&str> = stderr.trim_end().lines().collect();
    let last = &lines[lines.len().saturating_sub(10)..];
    format!("\n  its stderr ended with:\n    {}", last.join("\n    "))
}
