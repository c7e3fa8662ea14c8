//! Progress bars and log lines on stderr. Bars are hidden when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar of `len` steps labelled `what`.
pub fn bar(len: u64, what: &str) -> ProgressBar {
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
    match bar {
        Some(b) if !b.is_hidden() => b.println(line),
        _ => eprintln!("{line}"),
    }
}
