//! SIGINT and SIGTERM: stop, leave nothing half-made, say how to go on.
//!
//! Every file and folder ndelab writes is a temporary renamed into place when complete, so a
//! stop at any moment leaves finished work whole; what it would leave are the temporaries and
//! the programs it started. The signals are blocked in every thread and taken by one thread,
//! which removes the registered temporaries, kills the registered process groups
//! ([`crate::store::leftovers`]) and exits with 130 (SIGINT) or 143 (SIGTERM). A rerun resumes:
//! datasets and runs are keyed, and training restarts from its last checkpoint.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Whether a stop was asked for: the main thread then leaves the exit to the handler.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Takes SIGINT and SIGTERM on a thread of their own. Call before any other thread starts:
/// threads inherit the blocked signals (child processes do not: the standard library resets
/// their mask).
#[cfg(unix)]
pub fn install() {
    // SAFETY: the set is initialised by sigemptyset before use; pthread_sigmask and sigwait
    // only read it.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        set
    };
    let spawned = std::thread::Builder::new().name("signals".into()).spawn(move || loop {
        let mut signal: libc::c_int = 0;
        // SAFETY: `set` lives in this closure; sigwait writes the signal number.
        if unsafe { libc::sigwait(&set, &mut signal) } != 0 {
            continue;
        }
        REQUESTED.store(true, Ordering::SeqCst);
        let removed = crate::store::leftovers::clean_up();
        let name = if signal == libc::SIGINT { "SIGINT" } else { "SIGTERM" };
        let what = if removed == 0 { String::new() } else { format!("; removed {removed} unfinished temporary file(s)") };
        crate::ui::note!("\ninterrupted ({name}){what}; finished results are intact: rerun the same command to resume");
        std::process::exit(128 + signal);
    });
    if spawned.is_err() {
        // No handler thread: let the signals act as before.
        // SAFETY: as above.
        unsafe {
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        }
    }
}

/// Signals are not handled off Unix.
#[cfg(not(unix))]
pub fn install() {}

/// Waits for the handler to exit the process (it is removing temporaries the main thread may
/// have been writing, so the main thread's own error, or success, is not the outcome).
pub fn wait_if_requested() {
    while requested() {
        std::thread::park_timeout(std::time::Duration::from_secs(1));
    }
}
