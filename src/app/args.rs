//! Parsers of command-line values that clap's types do not cover, so that a bad value is
//! refused by the parser with clap's message (exit 2) before any command starts.

use std::time::Duration;

/// A count of at least 1 (threads, draws, jobs).
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.replace('_', "").parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{s}` is not a whole number")),
    }
}

/// A number of days, 0 or more.
pub fn days(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(d) if d >= 0.0 && d.is_finite() && d < 1e9 => Ok(Duration::from_secs_f64(d * 86_400.0)),
        _ => Err(format!("must be a number of days, 0 or more, got {s}")),
    }
}

