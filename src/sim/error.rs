//! The errors of the simulation stage.

/// Why a simulator could not produce a sample or load what it needs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// The waveform model cannot be evaluated at these parameters.
    #[error("waveform model: {0}")]
    Waveform(String),
    /// A PSD table is malformed.
    #[error("PSD: {0}")]
    Psd(String),
}
