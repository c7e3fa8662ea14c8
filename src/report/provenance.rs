//! provenance.json: what made a run, beyond its spec — code version, toolchain, machine,
//! threads, and wall time per stage. Not part of any key.

use serde::{Deserialize, Serialize};
use std::process::Command;

/// The provenance of one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Provenance {
    /// ndelab's crate version.
    pub ndelab_version: String,
    /// `git rev-parse HEAD` of the working directory, if it is a git checkout.
    pub git_commit: Option<String>,
    /// Whether that checkout had uncommitted changes.
    pub git_dirty: Option<bool>,
    /// The compiler that built ndelab.
    pub rustc: String,
    /// CPU model.
    pub cpu: String,
    /// Logical CPUs on the machine.
    pub cpus: usize,
    /// Worker threads used.
    pub threads: usize,
    /// Host name.
    pub host: String,
    /// Start of the run, seconds since the Unix epoch.
    pub started_unix: u64,
    /// Full dataset key.
    pub dataset_key: String,
    /// Full run key.
    pub run_key: String,
    /// Wall seconds per stage (simulate, train, eval, report).
    pub wall_seconds: Vec<(String, f64)>,
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl Provenance {
    /// Provenance of a run starting now.
    pub fn collect(dataset_key: &str, run_key: &str) -> Provenance {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| s.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|s| s.trim().to_string()))
            .unwrap_or_else(|| "unknown".into());
        Provenance {
            ndelab_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: git(&["rev-parse", "HEAD"]),
            // --no-optional-locks: a killed run must never leave the user's index locked.
            git_dirty: git(&["--no-optional-locks", "status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty()),
            rustc: env!("NDELAB_RUSTC").to_string(),
            cpu,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            threads: rayon::current_num_threads(),
            host: std::fs::read_to_string("/etc/hostname").map(|s| s.trim().to_string()).unwrap_or_default(),
            started_unix: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            dataset_key: dataset_key.to_string(),
            run_key: run_key.to_string(),
            wall_seconds: Vec::new(),
        }
    }
}
