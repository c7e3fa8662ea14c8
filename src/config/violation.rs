//! A value a spec may not hold, and the checks every stage's settings use to find one.

use super::limits::{memory_bytes, MAX_NAME, MAX_WIDTH};

/// A value the spec may not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Dotted key path of the value.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

/// A violation of `key`, with an optional fix.
pub fn bad(key: &str, message: impl Into<String>, help: Option<&str>) -> Violation {
    Violation { key: key.to_string(), message: message.into(), help: help.map(str::to_string) }
}

/// `v` must be a finite positive number.
pub fn positive(key: &str, v: f64) -> Result<(), Violation> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(bad(key, format!("must be a positive number, got {v}"), None))
    }
}

/// `v` must be at least `min`.
pub fn at_least(key: &str, v: usize, min: usize) -> Result<(), Violation> {
    if v >= min {
        Ok(())
    } else {
        Err(bad(key, format!("must be at least {min}, got {v}"), None))
    }
}

/// Hidden widths of a network: none zero, and (with `empty`, the reason) at least one.
pub fn hidden_widths(hidden: &[usize], empty: Option<&str>) -> Result<(), Violation> {
    if let (Some(why), true) = (empty, hidden.is_empty()) {
        return Err(bad("model.hidden", "is empty", Some(why)));
    }
    if let Some(i) = hidden.iter().position(|&w| w == 0) {
        return Err(bad("model.hidden", format!("layer {i} has width 0"), Some("every hidden width must be at least 1")));
    }
    widths_fit("model.hidden", hidden)
}

/// Widths (or channel counts) that a machine can hold: each at most [`MAX_WIDTH`], and the
/// weights between two neighbouring layers (with their gradients and Adam's two moments,
/// 16 bytes a weight) within the memory available.
pub fn widths_fit(key: &str, widths: &[usize]) -> Result<(), Violation> {
    if let Some((i, w)) = widths.iter().enumerate().find(|(_, &w)| w > MAX_WIDTH) {
        return Err(bad(key, format!("layer {i} has width {w}, above the largest ndelab builds ({MAX_WIDTH})"), Some("use widths of a few hundred to a few thousand")));
    }
    let memory = memory_bytes();
    for (i, pair) in widths.windows(2).enumerate() {
        let bytes = (pair[0] as u64) * (pair[1] as u64) * 16;
        if let Some(limit) = memory.filter(|&m| bytes > m) {
            return Err(bad(
                key,
                format!(
                    "layers {i} and {} ({} x {}) need {:.1} GB for their weights, gradients and optimizer state, more than the {:.1} GB of memory here",
                    i + 1,
                    pair[0],
                    pair[1],
                    bytes as f64 / 1e9,
                    limit as f64 / 1e9
                ),
                Some("use narrower layers"),
            ));
        }
    }
    Ok(())
}

/// `v` must be at most `max` (counts that size allocations: components, bins, blocks).
pub fn at_most(key: &str, v: usize, max: usize) -> Result<(), Violation> {
    if v <= max {
        Ok(())
    } else {
        Err(bad(key, format!("must be at most {max}, got {v}"), None))
    }
}

/// Whether `name` can name a folder under results/ (and a Slurm job): letters, digits, `_`,
/// `-` and `.`, not starting with `.` — so never `..`, a path, or a hidden folder.
pub fn is_folder_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}
