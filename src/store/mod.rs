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
pub mod disk;
pub mod entry;
pub mod gc;
pub mod key;
pub mod leftovers;
pub mod npy;
pub mod output;
pub mod parquet;
mod parquet_check;

pub use canonical::KeyError;
pub use entry::{Builder, Entry};
pub use key::{ContentKey, KeyRecipe};
pub use output::OutputClash;

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
    /// A finished run's files do not match its SHA256SUMS.
    #[error(
        "{}: the run is damaged ({message}), so nothing was read from it; run `ndelab cache verify --fix` to remove it, then rerun the experiment to train it again",
        path.display()
    )]
    CorruptRun {
        /// The run folder.
        path: PathBuf,
        /// What does not match.
        message: String,
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

    /// Checks that the root and the folders ndelab makes in it can be folders: not files, not
    /// symbolic links to nothing. The message names the path and the fix.
    pub fn check(&self) -> Result<(), String> {
        let root = self.root.display();
        for (dir, what) in [(self.root.clone(), format!("--results {root}")), (self.root.join("cache"), String::new()), (self.datasets(), String::new()), (self.root.join("runs"), String::new())] {
            let what = if what.is_empty() { dir.display().to_string() } else { what };
            let Ok(meta) = std::fs::symlink_metadata(&dir) else { continue };
            if meta.file_type().is_symlink() && std::fs::metadata(&dir).is_err() {
                let target = std::fs::read_link(&dir).map(|t| t.display().to_string()).unwrap_or_default();
                return Err(format!("{what}: is a symbolic link to `{target}`, which does not exist; create that folder or remove the link"));
            }
            if !dir.is_dir() {
                return Err(format!("{what}: is a file, not a folder; name a folder for the results (it is made if missing)"));
            }
        }
        Ok(())
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

/// Visible sub-folders of `dir`, sorted: entries, not the hidden temporary folders of
/// builders at work.
pub fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// What `cache verify` found in one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every file matches its sum.
    Intact,
    /// The trained model is intact; a killed `ndelab eval` left the checks half-written.
    EvalPending,
    /// Files do not match their sums (each problem named); `removed` with `fix`.
    Corrupt {
        /// What is wrong, file by file.
        problems: Vec<String>,
        /// Whether the entry was removed.
        removed: bool,
    },
}

/// `ndelab cache verify`: re-hashes every cached dataset and run against its SHA256SUMS and
/// tells `each` what it found; with `fix`, removes the corrupt ones so the next run rebuilds
/// them. Returns (entries checked, corrupt).
pub fn verify_all(layout: &Layout, fix: bool, each: &mut dyn FnMut(&Path, &Verdict)) -> Result<(usize, usize), StoreError> {
    let datasets = subdirs(&layout.datasets());
    let mut dirs = datasets.clone();
    for name in subdirs(&layout.root().join("runs")) {
        dirs.extend(subdirs(&name));
    }
    let mut bad = 0;
    for dir in &dirs {
        // A run is checked under its lock, so never while an eval is adding to it.
        let _lock = if datasets.contains(dir) { None } else { entry::lock_run_to_read(dir)? };
        let problems = if datasets.contains(dir) { entry::verify(dir)? } else { entry::run_problems(dir)? };
        let verdict = match (problems.is_empty(), dir.join(entry::EVAL_PENDING).exists()) {
            (true, true) => Verdict::EvalPending,
            (true, false) => Verdict::Intact,
            (false, _) => {
                bad += 1;
                if fix {
                    std::fs::remove_dir_all(dir).map_err(|e| StoreError::Io { path: dir.clone(), source: e })?;
                }
                Verdict::Corrupt { problems, removed: fix }
            }
        };
        each(dir, &verdict);
    }
    Ok((dirs.len(), bad))
}
