//! What this process would leave behind if it stopped now: its temporary files and folders
//! (hidden names beside their destination, scratch folders of external programs) and the
//! process groups of the programs it started. On SIGINT or SIGTERM the handler removes the
//! one and kills the other before exiting (see [`crate::interrupt`]); `cache gc` removes
//! those of processes killed outright (SIGKILL, power loss).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

static TEMPORARIES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static GROUPS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// A temporary registered for removal on interruption; unregistered when dropped (the owner
/// has renamed it into place or removed it).
#[must_use = "the temporary stays registered only while the guard lives"]
pub struct Temporary(PathBuf);

impl Temporary {
    /// Registers `path` (a file or a folder).
    pub fn register(path: &Path) -> Temporary {
        if let Ok(mut t) = TEMPORARIES.lock() {
            t.push(path.to_path_buf());
        }
        Temporary(path.to_path_buf())
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if let Ok(mut t) = TEMPORARIES.lock() {
            if let Some(i) = t.iter().rposition(|p| *p == self.0) {
                t.swap_remove(i);
            }
        }
    }
}

/// A started program's process group, killed on interruption while the guard lives.
pub struct ProcessGroup(u32);

impl ProcessGroup {
    /// Registers the group led by `pid`.
    pub fn register(pid: u32) -> ProcessGroup {
        if let Ok(mut g) = GROUPS.lock() {
            g.push(pid);
        }
        ProcessGroup(pid)
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if let Ok(mut g) = GROUPS.lock() {
            g.retain(|&p| p != self.0);
        }
    }
}

/// Kills the registered process groups and removes the registered temporaries. Called once,
/// from the interruption handler, just before the process exits. The list stays locked from
/// here to the exit, so no other thread can register (and then create) a new temporary; one
/// registered but not yet created when the first pass ran is caught by the second.
pub fn clean_up() -> usize {
    let groups: Vec<u32> = GROUPS.lock().map(|g| g.clone()).unwrap_or_default();
    for pid in groups {
        kill_group(pid);
    }
    let Ok(guard) = TEMPORARIES.lock() else { return 0 };
    remove_all(&guard);
    std::thread::sleep(std::time::Duration::from_millis(30));
    remove_all(&guard);
    let removed = guard.len();
    // Held until the process exits: a writer that wants a new temporary waits for the end.
    std::mem::forget(guard);
    removed
}

/// Removes the registered temporaries that `which` selects; returns how many.
#[cfg(test)]
fn remove_temporaries(which: impl Fn(&Path) -> bool) -> usize {
    let temporaries: Vec<PathBuf> = TEMPORARIES.lock().map(|t| t.iter().filter(|p| which(p)).cloned().collect()).unwrap_or_default();
    remove_all(&temporaries);
    temporaries.len()
}

fn remove_all(temporaries: &[PathBuf]) {
    for p in temporaries {
        if p.is_dir() {
            let _ = std::fs::remove_dir_all(p);
        } else {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Kills the process group led by `pid` (a program and everything it started).
pub fn kill_group(pid: u32) {
    #[cfg(unix)]
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill only sends a signal; a negative pid names the group `pid` leads.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// Whether process `pid` exists (on this machine). Unknown counts as alive.
pub fn process_exists(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = i32::try_from(pid) else { return true };
        // SAFETY: signal 0 only checks that the process exists and may be signalled.
        let r = unsafe { libc::kill(pid, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// The process id a temporary's name ends with (`.KEY.tmp-PID`, `.eval.tmp-PID`,
/// `.NAME.tmp-PID.png`, `ndelab-command-PID-...`).
pub fn owner_pid(name: &str) -> Option<u32> {
    if let Some(rest) = name.strip_prefix("ndelab-command-") {
        return rest.split('-').next()?.parse().ok();
    }
    if !name.starts_with('.') {
        return None;
    }
    let (_, tail) = name.rsplit_once(".tmp-")?;
    tail.split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_read_from_every_temporary_name() {
        assert_eq!(owner_pid(".0123456789abcdef.tmp-4242"), Some(4242));
        assert_eq!(owner_pid(".eval.tmp-17"), Some(17));
        assert_eq!(owner_pid(".summary.parquet.tmp-9"), Some(9));
        assert_eq!(owner_pid(".loss_vs_lr.tmp-31.png"), Some(31));
        assert_eq!(owner_pid("ndelab-command-77-train-0"), Some(77));
        assert_eq!(owner_pid("0123456789abcdef"), None);
        assert_eq!(owner_pid(".0123.lock"), None);
    }

    #[test]
    fn registered_temporaries_are_removed_and_dropped_ones_kept() {
        let dir = std::env::temp_dir().join(format!("ndelab-leftovers-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("a")).unwrap();
        std::fs::write(dir.join("b"), "x").unwrap();
        std::fs::write(dir.join("c"), "x").unwrap();
        let _a = Temporary::register(&dir.join("a"));
        let _b = Temporary::register(&dir.join("b"));
        drop(Temporary::register(&dir.join("c")));
        assert_eq!(remove_temporaries(|p| p.starts_with(&dir)), 2);
        assert!(!dir.join("a").exists() && !dir.join("b").exists() && dir.join("c").exists());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(process_exists(std::process::id()));
    }
}
