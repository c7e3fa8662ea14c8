//! The one interface through which ndelab talks to the person at the terminal: progress bars
//! and log lines on stderr, answers (paths, tables) on stdout. Bars are hidden when stderr is
//! not a terminal; everything on stderr can be silenced (`set_quiet`) for callers that report
//! progress their own way. Library stages use [`note!`] and [`warning!`]; only the commands
//! (src/app/) answer on stdout.

use indicatif::{ProgressBar, ProgressStyle};
use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

/// Silences (or restores) bars and log lines; answers on stdout are unaffected.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::SeqCst);
}

fn quiet() -> bool {
    QUIET.load(Ordering::SeqCst)
}

/// A progress bar of `len` steps labelled `what`.
pub fn bar(len: u64, what: &str) -> ProgressBar {
    if quiet() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    let style = ProgressStyle::with_template("{prefix:>12} [{bar:32}] {pos}/{len} {per_sec} eta {eta} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    pb.set_style(style);
    pb.set_prefix(what.to_string());
    pb
}

/// Prints one log line, above a running bar if there is one.
pub fn log(bar: Option<&ProgressBar>, line: &str) {
    if quiet() {
        return;
    }
    match bar {
        Some(b) if !b.is_hidden() => b.println(line),
        _ => eprintln!("{line}"),
    }
}

/// A log line on stderr: what is being done, how it went.
pub fn note_line(line: impl Display) {
    if !quiet() {
        eprintln!("{line}");
    }
}

/// A warning on stderr: something the user may want to change, not a failure.
pub fn warn_line(line: impl Display) {
    if !quiet() {
        eprintln!("warning: {line}");
    }
}

/// An answer on stdout, a line: what scripts read (a run folder, a key).
pub fn answer(line: impl Display) {
    println!("{line}");
}

/// An answer on stdout as it is (a table, YAML), without an added newline.
pub fn answer_text(text: impl Display) {
    print!("{text}");
}

/// The error that ended a command, on stderr (never silenced).
pub fn error(err: impl Display) {
    eprintln!("error: {err}");
}

/// `note!("...{x}...")`: a formatted log line on stderr.
macro_rules! note {
    ($($arg:tt)*) => { $crate::ui::note_line(format!($($arg)*)) };
}

/// `warning!("...{x}...")`: a formatted warning on stderr.
macro_rules! warning {
    ($($arg:tt)*) => { $crate::ui::warn_line(format!($($arg)*)) };
}

pub(crate) use {note, warning};
