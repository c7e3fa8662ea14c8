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

impl NnError {
    /// Whether the user's input is at fault (a model file, an embedding that does not fit:
    /// exit 2) rather than the machine (writing, the GPU: exit 1).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, NnError::Write { .. } | NnError::NoDevice(_))
    }
}
