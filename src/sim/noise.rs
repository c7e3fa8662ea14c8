//! How training noise is made: one cached realisation per sample, or new noise every epoch.

use serde::{Deserialize, Serialize};

/// How training noise is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseMode {
    /// One cached noise realisation per training sample.
    Fixed,
    /// New noise every epoch on cached noise-free signals.
    Fresh,
}
