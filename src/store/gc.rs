//! `ndelab cache gc`: removes cached datasets that no finished run refers to, or that are older
//! than an age; finished runs only when asked (`--force`), since they cannot be remade without
//! training again. Entries being built (hidden folders with a held lock) are never touched.

use super::entry::{self, DONE};
use super::{subdirs, Layout, StoreError};
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What to remove.
#[derive(Debug, Clone, Default)]
pub struct GcOptions {
    /// Also remove entries finished longer ago than this (datasets; runs with `force`).
    pub older_than: Option<Duration>,
    /// Remove finished runs too (those older than `older_than`).
    pub force: bool,
    /// Only print what would go.
    pub dry_run: bool,
}

/// What was (or would be) removed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GcReport {
    /// Entries removed, with the reason.
    pub removed: Vec<(PathBuf, String)>,
    /// Bytes they held.
    pub bytes: u64,
}

fn size(dir: &Path) -> u64 {
    entry::list_files(dir).map(|fs| fs.iter().filter_map(|f| fs::metadata(dir.join(f)).ok()).map(|m| m.len()).sum()).unwrap_or(0)
}

fn age(dir: &Path) -> Option<Duration> {
    fs::metadata(dir.join(DONE)).and_then(|m| m.modified()).ok().and_then(|t| SystemTime::now().duration_since(t).ok())
}

/// The dataset key (16 hex digits) a finished run was trained on, from its provenance.json.
fn dataset_of(run: &Path) -> Option<String> {
    let text = fs::read_to_string(run.join("provenance.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("dataset_key")?.as_str().map(|k| k.chars().take(16).collect())
}

/// Removes `dir` under its entry lock, unless another process holds the lock (it is building
/// or reading the entry).
fn remove(dir: &Path, dry_run: bool) -> Result<bool, StoreError> {
    if dry_run {
        return Ok(true);
    }
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else { return Ok(false) };
    let lock_path = parent.join(format!(".{}.lock", name.to_string_lossy()));
    let lock = OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(|e| entry::io_err(&lock_path, e))?;
    if lock.try_lock().is_err() {
        return Ok(false);
    }
    fs::remove_dir_all(dir).map_err(|e| entry::io_err(dir, e))?;
    let _ = fs::remove_file(&lock_path);
    Ok(true)
}

/// Whether some run is being built now (its lock is held): its dataset is in use, but no
/// provenance names it yet.
fn run_in_progress(layout: &Layout) -> bool {
    subdirs(&layout.root().join("runs")).iter().any(|name| {
        fs::read_dir(name).into_iter().flatten().flatten().any(|e| {
            let lock = e.file_name().to_string_lossy().ends_with(".lock");
            lock && OpenOptions::new().write(true).open(e.path()).is_ok_and(|f| f.try_lock().is_err())
        })
    })
}

/// Collects garbage under `layout` as `opts` says.
pub fn gc(layout: &Layout, opts: &GcOptions) -> Result<GcReport, StoreError> {
    let old = |dir: &Path| opts.older_than.is_some_and(|limit| age(dir).is_some_and(|a| a > limit));
    let runs: Vec<PathBuf> = subdirs(&layout.root().join("runs")).iter().flat_map(|n| subdirs(n)).collect();
    let mut report = GcReport::default();
    let mut used = Vec::new();
    for run in &runs {
        let finished = run.join(DONE).is_file();
        if finished && opts.force && old(run) {
            let bytes = size(run);
            if remove(run, opts.dry_run)? {
                report.bytes += bytes;
                report.removed.push((run.clone(), "finished run older than the limit (--force)".into()));
            }
            continue;
        }
        used.extend(dataset_of(run));
    }
    // While a run is being built, a dataset no finished run names may be the one it trains on.
    let busy = run_in_progress(layout);
    if busy {
        eprintln!("a run is in progress: datasets no finished run refers to are kept");
    }
    for ds in subdirs(&layout.datasets()) {
        let key = ds.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let why = if !used.contains(&key) && !busy {
            "no finished run refers to it"
        } else if old(&ds) {
            "older than the limit"
        } else {
            continue;
        };
        let bytes = size(&ds);
        if remove(&ds, opts.dry_run)? {
            report.bytes += bytes;
            report.removed.push((ds, why.into()));
        }
    }
    Ok(report)
}
