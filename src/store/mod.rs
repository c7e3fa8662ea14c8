//! The store stage: content keys, and the on-disk layout of results/.
//!
//! ```text
//! results/cache/datasets/<key>/   manifest.json  theta_train.npy  data_train.npy ...  SHA256SUMS  DONE
//! results/runs/<name>/<key>/      spec.resolved.yaml  provenance.json  metrics.parquet  summary.parquet
//!                                 model.safetensors  plots/*.png  SHA256SUMS  DONE
//! ```
//!
//! Every entry is built by [`entry::open`] → write → [`entry::Builder::commit`]: a hidden
//! temporary folder under a lock, renamed into place after DONE is written.

pub mod canonical;
pub mod entry;
pub mod key;
pub mod npy;

pub use entry::{Builder, Entry};
pub use key::{ContentKey, KeyRecipe};

use std::path::{Path, PathBuf};

/// Failures of reading or writing results/.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file-system operation failed.
    #[error("{}: {source}{}", path.display(), io_hint(source))]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// An entry exists but its contents are not what its manifest promises.
    #[error("{}: corrupt cache entry: {message}; run `ndelab cache verify` or rerun with --force to rebuild it", path.display())]
    Corrupt {
        /// The entry.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn io_hint(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(28) => " (free some space, or pass --results DIR on a larger disk)",
        Some(13) => " (no permission: pass --results DIR to write somewhere else)",
        _ => "",
    }
}

/// Where results live: `results/` by default, `--results DIR` or `NDELAB_RESULTS` otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// A layout rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Layout {
        Layout { root: root.into() }
    }

    /// The results root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Folder of cached datasets.
    pub fn datasets(&self) -> PathBuf {
        self.root.join("cache").join("datasets")
    }

    /// Folder of the runs of experiment `name`.
    pub fn runs(&self, name: &str) -> PathBuf {
        self.root.join("runs").join(name)
    }
}
