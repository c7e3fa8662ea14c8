//! One cache entry or run folder, built atomically.
//!
//! A builder holds an exclusive lock (`<key>.lock`, released by the OS if the process dies),
//! writes into a hidden temporary folder, then writes SHA256SUMS and a DONE marker last and
//! renames the folder into place. A folder without DONE is never read; stale temporary
//! folders of killed builders are removed by the next builder.

use super::key::hex;
use super::leftovers::Temporary;
use super::StoreError;
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Name of the marker written last into a complete entry.
pub const DONE: &str = "DONE";
/// Name of the checksum file of an entry.
pub const SUMS: &str = "SHA256SUMS";

/// What [`open`] found.
pub enum Entry {
    /// A complete entry at this path.
    Done(PathBuf),
    /// No complete entry: build one with this builder.
    Build(Builder),
}

/// Exclusive right to build one entry; writes go to [`Builder::dir`].
pub struct Builder {
    tmp: PathBuf,
    dest: PathBuf,
    _lock: File,
    committed: bool,
    _registered: Temporary,
}

pub(crate) fn io_err(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io { path: path.to_path_buf(), source: e }
}

/// Looks up the entry `parent/name`, taking the lock and preparing a builder if it must be built.
/// With `rebuild`, a complete entry is rebuilt anyway.
/// A complete entry returned, or built, is held (a shared lock on `.<name>.use`) until the
/// process exits, so that `cache gc` never removes an entry a running process uses. A rebuild
/// (`--force`) does not wait for those holders: they keep the files they opened.
pub fn open(parent: &Path, name: &str, rebuild: bool) -> Result<Entry, StoreError> {
    let dest = parent.join(name);
    let lock_path = parent.join(format!(".{name}.lock"));
    if !rebuild && dest.join(DONE).is_file() && hold(parent, name, &dest)? {
        return Ok(Entry::Done(dest));
    }
    fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
    let lock = OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(|e| io_err(&lock_path, e))?;
    if lock.try_lock().is_err() {
        crate::ui::note!("waiting for another ndelab process that is building or using {}", dest.display());
        lock.lock().map_err(|e| io_err(&lock_path, e))?;
    }
    if !rebuild && dest.join(DONE).is_file() && hold(parent, name, &dest)? {
        return Ok(Entry::Done(dest));
    }
    // We hold the lock: anything half-made for this name is a leftover of a dead process.
    if dest.exists() {
        fs::remove_dir_all(&dest).map_err(|e| io_err(&dest, e))?;
    }
    let prefix = format!(".{name}.tmp-");
    if let Ok(rd) = fs::read_dir(parent) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    let tmp = parent.join(format!("{prefix}{}", std::process::id()));
    let registered = Temporary::register(&tmp);
    fs::create_dir_all(&tmp).map_err(|e| io_err(&tmp, e))?;
    Ok(Entry::Build(Builder { tmp, dest, _lock: lock, committed: false, _registered: registered }))
}

/// Entries this process uses, each with its `.<name>.use` lock taken shared.
static HELD: std::sync::Mutex<Vec<File>> = std::sync::Mutex::new(Vec::new());

/// The lock file whose shared holders are the processes using entry `name` of `parent`.
pub fn use_lock(parent: &Path, name: &str) -> PathBuf {
    parent.join(format!(".{name}.use"))
}

/// Takes the entry's use lock shared for the rest of the process (waiting while `cache gc`
/// holds it to remove the entry); false where the entry is gone once the lock is ours.
fn hold(parent: &Path, name: &str, dest: &Path) -> Result<bool, StoreError> {
    let path = use_lock(parent, name);
    let opened = OpenOptions::new().create(true).truncate(false).write(true).open(&path).or_else(|_| File::open(&path));
    // A results folder nothing can write to: no process can be removing the entry either.
    let Ok(file) = opened else { return Ok(true) };
    if file.try_lock_shared().is_err() {
        file.lock_shared().map_err(|e| io_err(&path, e))?;
    }
    if !dest.join(DONE).is_file() {
        return Ok(false);
    }
    if let Ok(mut held) = HELD.lock() {
        held.push(file);
    }
    Ok(true)
}

impl Builder {
    /// The temporary folder to write into.
    pub fn dir(&self) -> &Path {
        &self.tmp
    }

    /// The folder the entry will have once committed.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Writes SHA256SUMS and DONE, then renames the folder into place.
    pub fn commit(mut self) -> Result<PathBuf, StoreError> {
        // Every file reaches the disk before DONE says the entry is complete.
        for rel in list_files(&self.tmp)? {
            let path = self.tmp.join(&rel);
            File::open(&path).and_then(|f| f.sync_all()).map_err(|e| io_err(&path, e))?;
        }
        write_sums(&self.tmp)?;
        write_synced(&self.tmp.join(DONE), b"complete\n")?;
        fs::rename(&self.tmp, &self.dest).map_err(|e| io_err(&self.dest, e))?;
        if let Some(parent) = self.dest.parent() {
            if let Ok(d) = File::open(parent) {
                let _ = d.sync_all();
            }
        }
        self.committed = true;
        // The builder goes on to use what it built.
        if let (Some(parent), Some(name)) = (self.dest.parent(), self.dest.file_name()) {
            hold(parent, &name.to_string_lossy(), &self.dest)?;
        }
        Ok(self.dest.clone())
    }
}

impl Drop for Builder {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

/// (Re)writes the SHA256SUMS of every file in `dir` (atomically: a complete entry to which
/// files were added, like a run after `ndelab eval`, stays verifiable).
pub fn write_sums(dir: &Path) -> Result<(), StoreError> {
    let sums = checksums(dir)?;
    let mut text = String::new();
    for (rel, h) in &sums {
        text.push_str(&format!("{h}  {rel}\n"));
    }
    write_atomic(&dir.join(SUMS), text.as_bytes())
}

/// Writes a file through a hidden temporary name in the same folder, synced, then renamed
/// over `path`: a reader sees the old file or the whole new one, never half of it. Every
/// writer of a file that may be read while it is rewritten goes through here.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    replace_atomic(path, |tmp| write_synced(tmp, bytes))
}

/// Like [`write_atomic`], for a writer that makes the temporary file itself (Parquet, .npy).
pub fn replace_atomic<E: From<StoreError>>(path: &Path, write: impl FnOnce(&Path) -> Result<(), E>) -> Result<(), E> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let _registered = Temporary::register(&tmp);
    if let Err(e) = write(&tmp) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if let Ok(f) = File::open(&tmp) {
        let _ = f.sync_all();
    }
    fs::rename(&tmp, path).map_err(|e| E::from(io_err(path, e)))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(d) = File::open(parent) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Writes a file and syncs it to disk.
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut f = File::create(path).map_err(|e| io_err(path, e))?;
    f.write_all(bytes).map_err(|e| io_err(path, e))?;
    f.sync_all().map_err(|e| io_err(path, e))
}

fn files(dir: &Path, base: &Path, out: &mut Vec<PathBuf>) -> Result<(), StoreError> {
    for e in fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let e = e.map_err(|e| io_err(dir, e))?;
        let p = e.path();
        // Hidden names are work in progress (an eval's staging folder, its lock), not content.
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if p.is_dir() {
            files(&p, base, out)?;
        } else {
            out.push(p.strip_prefix(base).unwrap_or(&p).to_path_buf());
        }
    }
    Ok(())
}

/// Every file under `dir` but hidden ones, as paths relative to it, sorted.
pub fn list_files(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut list = Vec::new();
    files(dir, dir, &mut list)?;
    list.sort();
    Ok(list)
}

/// sha256 of every file under `dir` except SHA256SUMS and DONE, sorted by relative path.
pub fn checksums(dir: &Path) -> Result<Vec<(String, String)>, StoreError> {
    let mut out = Vec::new();
    for rel in list_files(dir)? {
        let name = rel.to_string_lossy().replace('\\', "/");
        if name == SUMS || name == DONE {
            continue;
        }
        out.push((name, file_sha256(&dir.join(&rel))?));
    }
    Ok(out)
}

/// Hex sha256 of a file's bytes.
pub fn file_sha256(path: &Path) -> Result<String, StoreError> {
    let mut f = File::open(path).map_err(|e| io_err(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| io_err(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// The lock of a run folder that `ndelab eval` and `ndelab cache verify` take (the one waits
/// for the other), as a hidden file in it; held until the returned file is dropped.
pub const RUN_LOCK: &str = ".eval.lock";

/// Present in a complete run while `ndelab eval` moves its new results in and rewrites
/// SHA256SUMS; left by an eval killed then. Where it is, only files eval does not write are
/// held to the sums, and the next eval finishes the job.
pub const EVAL_PENDING: &str = ".eval.pending";

/// Takes a run folder's lock, waiting (with a message) while another process holds it.
pub fn lock_run(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join(RUN_LOCK);
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(|e| io_err(&path, e))?;
    if file.try_lock().is_err() {
        crate::ui::note!("waiting for another ndelab process working on {}", dir.display());
        file.lock().map_err(|e| io_err(&path, e))?;
    }
    Ok(file)
}

/// The run lock for a reader (`cache verify`): taken shared, from a read-only handle where the
/// folder cannot be written; `None` where the lock file cannot even be made (a read-only copy
/// of results/ that no ndelab process can be writing to).
pub fn lock_run_to_read(dir: &Path) -> Result<Option<File>, StoreError> {
    let path = dir.join(RUN_LOCK);
    let opened = OpenOptions::new().create(true).truncate(false).write(true).open(&path).or_else(|_| File::open(&path));
    let Ok(file) = opened else { return Ok(None) };
    if file.try_lock_shared().is_err() {
        crate::ui::note!("waiting for another ndelab process working on {}", dir.display());
        file.lock_shared().map_err(|e| io_err(&path, e))?;
    }
    Ok(Some(file))
}

/// What does not match in a finished run, leaving out the checks a killed `ndelab eval` was
/// writing (see [`EVAL_PENDING`]): the next eval rewrites those.
pub fn run_problems(dir: &Path) -> Result<Vec<String>, StoreError> {
    let mut problems = verify(dir)?;
    if dir.join(EVAL_PENDING).exists() {
        problems.retain(|p| !is_eval_output(p.split(": ").next().unwrap_or("")));
    }
    Ok(problems)
}

/// Refuses a run whose files do not match its SHA256SUMS: nothing is read from a damaged run.
pub fn check_run(dir: &Path) -> Result<(), StoreError> {
    let problems = run_problems(dir)?;
    if problems.is_empty() {
        return Ok(());
    }
    Err(StoreError::CorruptRun { path: dir.to_path_buf(), message: problems.join("; ") })
}

/// Rewrites SHA256SUMS after `ndelab eval` added its files: the files eval writes are hashed
/// again, every other file keeps the hash it was listed with, so that a file damaged since the
/// run finished stays detectable instead of being blessed.
pub fn update_eval_sums(dir: &Path) -> Result<(), StoreError> {
    let sums_path = dir.join(SUMS);
    let listed = fs::read_to_string(&sums_path).map_err(|e| io_err(&sums_path, e))?;
    let mut sums: Vec<(String, String)> = listed
        .lines()
        .filter_map(|l| l.split_once("  ").map(|(h, n)| (n.to_string(), h.to_string())))
        .filter(|(n, _)| !is_eval_output(n))
        .collect();
    for rel in list_files(dir)? {
        let name = rel.to_string_lossy().replace('\\', "/");
        if is_eval_output(&name) {
            sums.push((name, file_sha256(&dir.join(&rel))?));
        }
    }
    sums.sort();
    let text: String = sums.iter().map(|(n, h)| format!("{h}  {n}\n")).collect();
    write_atomic(&sums_path, text.as_bytes())
}

/// Whether a run's file (relative path) is one `ndelab eval` rewrites.
pub fn is_eval_output(rel: &str) -> bool {
    rel == "eval.parquet"
        || rel == "summary.parquet"
        || rel.starts_with("reference/")
        || ["plots/pp", "plots/sbc", "plots/corner_reference"].iter().any(|p| rel.starts_with(p))
}

/// Re-hashes a complete entry against its SHA256SUMS; returns what does not match.
pub fn verify(dir: &Path) -> Result<Vec<String>, StoreError> {
    let mut problems = Vec::new();
    if !dir.join(DONE).is_file() {
        problems.push("no DONE marker (incomplete)".to_string());
        return Ok(problems);
    }
    let listed = fs::read_to_string(dir.join(SUMS)).map_err(|e| io_err(&dir.join(SUMS), e))?;
    let actual = checksums(dir)?;
    let mut expected: Vec<(String, String)> =
        listed.lines().filter_map(|l| l.split_once("  ").map(|(h, n)| (n.to_string(), h.to_string()))).collect();
    expected.sort();
    for (name, h) in &expected {
        match actual.iter().find(|(n, _)| n == name) {
            None => problems.push(format!("{name}: missing")),
            Some((_, a)) if a != h => problems.push(format!("{name}: checksum mismatch")),
            _ => {}
        }
    }
    for (name, _) in &actual {
        if !expected.iter().any(|(n, _)| n == name) {
            problems.push(format!("{name}: not listed in SHA256SUMS"));
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_atomically_and_detects_corruption() {
        let root = std::env::temp_dir().join(format!("ndelab-entry-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let Entry::Build(b) = open(&root, "k1", false).unwrap() else { panic!("expected a build") };
        fs::write(b.dir().join("a.txt"), "hello").unwrap();
        assert!(!root.join("k1").exists(), "nothing visible before commit");
        let dest = b.commit().unwrap();
        assert!(dest.join(DONE).is_file());
        assert!(verify(&dest).unwrap().is_empty());
        assert!(matches!(open(&root, "k1", false).unwrap(), Entry::Done(_)));
        fs::write(dest.join("a.txt"), "hellO").unwrap();
        assert_eq!(verify(&dest).unwrap(), vec!["a.txt: checksum mismatch".to_string()]);
        // A dropped builder leaves nothing behind.
        let Entry::Build(b) = open(&root, "k2", false).unwrap() else { panic!() };
        let tmp = b.dir().to_path_buf();
        drop(b);
        assert!(!tmp.exists() && !root.join("k2").exists());
        fs::remove_dir_all(&root).unwrap();
    }
}
