//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The repository root (tests run with it as working directory).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh empty folder, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!("ndelab-test-{}-{}-{}", tag, std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The ndelab binary, run from the repository root with results under `results`.
pub fn ndelab(results: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ndelab"));
    c.current_dir(root()).arg("--results").arg(results).env_remove("NDELAB_RESULTS");
    c
}

/// Runs a command and returns its output.
pub fn run(c: &mut Command) -> Output {
    c.output().expect("ndelab runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A small linear-Gaussian spec written to `dir/name.yaml`; `extra` is appended verbatim.
pub fn small_spec(dir: &Path, name: &str, n_train: usize, epochs: usize, extra: &str) -> PathBuf {
    let text = format!(
        "name: {name}\nseed: 3\ndataset:\n  simulator: linear_gaussian\n  n_train: {n_train}\n  n_val: 2_000\n  n_test: 200\n  \
         linear_gaussian: {{ theta_dim: 3, data_dim: 6 }}\nmodel:\n  kind: gaussian\n  hidden: [32, 32]\ntraining:\n  \
         batch_size: 256\n  epochs: {epochs}\n  optimizer: {{ kind: adam, lr: 2.0e-3 }}\neval:\n  kl_samples: 64\n{extra}"
    );
    let p = dir.join(format!("{name}.yaml"));
    std::fs::write(&p, text).unwrap();
    p
}

/// Complete entries (with DONE) and hidden leftovers directly under `dir`.
pub fn entries(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut done = Vec::new();
    let mut hidden = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') && p.is_dir() {
                hidden.push(p);
            } else if p.join("DONE").is_file() {
                done.push(p);
            }
        }
    }
    (done, hidden)
}

/// A float column of a DataFrame.
pub fn floats(df: &polars::prelude::DataFrame, col: &str) -> Vec<Option<f64>> {
    let c = df.column(col).unwrap().f64().unwrap().clone();
    (0..c.len()).map(|i| c.get(i)).collect()
}

/// A string column of a DataFrame (nulls as "").
pub fn strings(df: &polars::prelude::DataFrame, col: &str) -> Vec<String> {
    let c = df.column(col).unwrap().str().unwrap().clone();
    (0..c.len()).map(|i| c.get(i).unwrap_or("").to_string()).collect()
}
