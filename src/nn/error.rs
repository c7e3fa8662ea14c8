//! The errors of the network stage.

use std::path::PathBuf;

/// Why a network could not be built, saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// The embedding does not fit the data (a convolution longer than the series).
    #[error("model.embedding: {0}")]
    EmbeddingDoesNotFit(String),
    /// A saved model (model.safetensors, model.json) is unreadable or does not match its network.
    #[error("{}: {message}", path.display())]
    BadModelFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A CUDA build found no GPU it can use.
    #[error("no usable CUDA device ({0}); check `nvidia-smi`, or train on the CPU with a build without `--features cuda`")]
    NoDevice(String),
    /// The model could not be written.
    #[error("{}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}
