//! `ndelab cache gc`: removes cached datasets that no finished run refers to, or that are older
//! than an age; temporaries of ndelab processes that no longer exist; finished runs only when asked (`--force`), since they cannot be remade without
//! training again; training checkpoints whose run finished, or, with an age, interrupted ones
//! older than it (they are what a rerun would resume from). Entries being built (hidden
//! folders with a held lock), entries a running process uses (it holds their lock shared) and
//! the checkpoints of trainings under way are never touched.

use super::entry::{self, DONE};
use super::leftovers;
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

/// The lock of entry `name` in `parent`, taken; `None` while another process holds it (it is
/// building, training or reading the entry).
fn take_lock(parent: &Path, name: &str) -> Result<Option<(fs::File, PathBuf)>, StoreError> {
    let lock_path = parent.join(format!(".{name}.lock"));
    let lock = OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(|e| entry::io_err(&lock_path, e))?;
    Ok(lock.try_lock().is_ok().then_some((lock, lock_path)))
}

/// Removes `dir` under its entry lock, unless another process holds the lock.
fn remove(dir: &Path, dry_run: bool) -> Result<bool, StoreError> {
    if dry_run {
        return Ok(true);
    }
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else { return Ok(false) };
    let name = name.to_string_lossy();
    let Some((_lock, lock_path)) = take_lock(parent, &name)? else { return Ok(false) };
    // A process using the entry holds its use lock shared.
    let use_path = entry::use_lock(parent, &name);
    let in_use = OpenOptions::new().create(true).truncate(false).write(true).open(&use_path).map_err(|e| entry::io_err(&use_path, e))?;
    if in_use.try_lock().is_err() {
        return Ok(false);
    }
    fs::remove_dir_all(dir).map_err(|e| entry::io_err(dir, e))?;
    let _ = fs::remove_file(&lock_path);
    let _ = fs::remove_file(&use_path);
    Ok(true)
}

/// Removes the training checkpoints (`runs/NAME/.KEY.checkpoint`) whose run finished, and with
/// `older_than` the interrupted ones not written for longer; never one whose run's lock is held
/// (training under way).
fn collect_checkpoints(layout: &Layout, opts: &GcOptions, report: &mut GcReport) -> Result<(), StoreError> {
    for name_dir in subdirs(&layout.root().join("runs")) {
        let files = fs::read_dir(&name_dir).into_iter().flatten().flatten().map(|e| e.path());
        for ck in files.filter(|p| p.is_file()) {
            let file = ck.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            let Some(key) = file.strip_prefix('.').and_then(|f| f.strip_suffix(".checkpoint")) else { continue };
            let idle = fs::metadata(&ck).and_then(|m| m.modified()).ok().and_then(|t| SystemTime::now().duration_since(t).ok());
            let why = if name_dir.join(key).join(DONE).is_file() {
                "checkpoint of a finished run"
            } else if opts.older_than.is_some_and(|limit| idle.is_some_and(|a| a > limit)) {
                "checkpoint of an interrupted training older than the limit"
            } else {
                continue;
            };
            let bytes = fs::metadata(&ck).map(|m| m.len()).unwrap_or(0);
            if !opts.dry_run {
                let Some(_lock) = take_lock(&name_dir, key)? else { continue };
                fs::remove_file(&ck).map_err(|e| entry::io_err(&ck, e))?;
            }
            report.bytes += bytes;
            report.removed.push((ck, why.into()));
        }
    }
    Ok(())
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

/// Removes the temporaries of ndelab processes that no longer exist (killed outright, so
/// their handler never ran): hidden `.NAME.tmp-PID` files and folders among the datasets, the
/// runs and inside finished runs, and `ndelab-command-PID-*` scratch folders in the system's
/// temporary folder. Those of live processes are work in progress and stay.
fn collect_stale_temporaries(layout: &Layout, opts: &GcOptions, report: &mut GcReport) {
    // Each temporary is written under a lock: an entry's `.KEY.lock` among datasets and runs,
    // a run's own lock inside it. The lock, not the process id, decides where results/ is
    // shared by several machines (a process id names a process on one machine only).
    let mut folders: Vec<(PathBuf, bool)> = vec![(layout.datasets(), false)];
    for name_dir in subdirs(&layout.root().join("runs")) {
        folders.extend(subdirs(&name_dir).into_iter().map(|run| (run, true)));
        folders.push((name_dir, false));
    }
    let mut found: Vec<(PathBuf, fs::File)> = Vec::new();
    for (dir, is_run) in &folders {
        for e in fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if !name.starts_with('.') || !leftovers::owner_pid(&name).is_some_and(|pid| !leftovers::process_exists(pid)) {
                continue;
            }
            let lock = if *is_run {
                dir.join(entry::RUN_LOCK)
            } else {
                let key = name[1..].split('.').next().unwrap_or_default();
                dir.join(format!(".{key}.lock"))
            };
            let Ok(file) = OpenOptions::new().create(true).truncate(false).write(true).open(&lock) else { continue };
            if file.try_lock().is_ok() {
                found.push((e.path(), file));
            }
        }
    }
    let mut scratch = Vec::new();
    for e in fs::read_dir(std::env::temp_dir()).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with("ndelab-command-") && leftovers::owner_pid(&name).is_some_and(|pid| !leftovers::process_exists(pid)) {
            scratch.push(e.path());
        }
    }
    let paths = found.iter().map(|(p, _)| p.clone()).chain(scratch);
    for path in paths {
        let bytes = if path.is_dir() { size(&path) } else { fs::metadata(&path).map(|m| m.len()).unwrap_or(0) };
        if !opts.dry_run {
            let removed = if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
            if removed.is_err() {
                continue;
            }
        }
        report.bytes += bytes;
        report.removed.push((path, "temporary of an ndelab process that no longer exists".into()));
    }
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
    collect_checkpoints(layout, opts, &mut report)?;
    collect_stale_temporaries(layout, opts, &mut report);
    // While a run is being built, a dataset no finished run names may be the one it trains on.
    let busy = run_in_progress(layout);
    if busy {
        crate::ui::note!("a run is in progress: datasets no finished run refers to are kept, and so is every entry a running process uses");
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
