//! Frequency-domain polarisations from waveformrs (LALSimulation's models in Rust), on the
//! frequency grid of a segment, with LALSimulation's band edges as `SimInspiralChooseFDWaveform`
//! returns them: zero below f_min; IMRPhenomD stops below f_max, TaylorF2 and the IMRPhenomX
//! models include it.

use super::Approximant;
use crate::sim::SimError;
use realfft::num_complex::Complex;
use waveformrs::grid::FrequencyGrid;
use waveformrs::{choose_fd_model, Binary, WaveformOptions};

/// Complex frequency series.
pub type Series = Vec<Complex<f64>>;

/// The source parameters a waveform needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Source {
    /// Primary mass, solar masses.
    pub m1: f64,
    /// Secondary mass, solar masses.
    pub m2: f64,
    /// Luminosity distance, Mpc.
    pub d_l: f64,
    /// Inclination of the orbital angular momentum to the line of sight, rad.
    pub theta_jn: f64,
    /// Orbital phase at f_ref, rad.
    pub phase: f64,
    /// Dimensionless spin of the first body in LAL's source frame (z along the orbital angular
    /// momentum at f_ref); only the z components for the aligned-spin models.
    pub spin_1: [f64; 3],
    /// Dimensionless spin of the second body.
    pub spin_2: [f64; 3],
}

impl Source {
    /// A binary without spins.
    pub fn non_spinning(m1: f64, m2: f64, d_l: f64, theta_jn: f64, phase: f64) -> Source {
        Source { m1, m2, d_l, theta_jn, phase, spin_1: [0.0; 3], spin_2: [0.0; 3] }
    }
}

fn model_name(a: Approximant) -> waveformrs::Approximant {
    match a {
        Approximant::TaylorF2 => waveformrs::Approximant::TaylorF2,
        Approximant::IMRPhenomD => waveformrs::Approximant::IMRPhenomD,
        Approximant::IMRPhenomXAS => waveformrs::Approximant::IMRPhenomXAS,
        Approximant::IMRPhenomXPHM => waveformrs::Approximant::IMRPhenomXPHM,
    }
}

/// The frequency bins of a segment on which a model is evaluated, prepared once so that each
/// waveform costs only multiplications (waveformrs's `FrequencyGrid`).
#[derive(Debug, Clone)]
pub struct Band {
    approximant: Approximant,
    /// Bins [k_min, k_max) carry the signal.
    k_min: usize,
    k_max: usize,
    bins: usize,
    grid: FrequencyGrid,
}

impl Band {
    /// Bins k·df, k = 0..bins, of which the model fills those in its band (see the module docs).
    pub fn new(approximant: Approximant, f_min: f64, f_max: f64, df: f64, bins: usize) -> Band {
        let k_min = (f_min / df).ceil() as usize;
        let last = match approximant {
            Approximant::TaylorF2 | Approximant::IMRPhenomXAS | Approximant::IMRPhenomXPHM => (f_max / df).floor() as usize + 1,
            Approximant::IMRPhenomD => (f_max / df).ceil() as usize,
        };
        let k_max = last.min(bins).max(k_min);
        let freqs: Vec<f64> = (k_min..k_max).map(|k| k as f64 * df).collect();
        Band { approximant, k_min, k_max, bins, grid: FrequencyGrid::new(&freqs) }
    }

    /// First bin with signal.
    pub fn k_min(&self) -> usize {
        self.k_min
    }

    /// (h+, h×) on every bin of the segment.
    pub fn polarizations(&self, src: &Source, f_ref: f64) -> Result<(Series, Series), SimError> {
        let binary = Binary {
            mass_1: src.m1,
            mass_2: src.m2,
            spin_1: src.spin_1,
            spin_2: src.spin_2,
            luminosity_distance: src.d_l,
            inclination: src.theta_jn,
            phi_ref: src.phase,
            f_ref,
        };
        // LALSimulation's own defaults (the MSA precession angles), as bilby calls it.
        let model = choose_fd_model(model_name(self.approximant), &binary, &WaveformOptions::lalsimulation_defaults()).map_err(|e| SimError::Waveform(e.to_string()))?;
        let zero = Complex::new(0.0, 0.0);
        let mut hp = vec![zero; self.bins];
        let mut hc = vec![zero; self.bins];
        if self.k_min < self.k_max {
            let (a, b) = (self.k_min, self.k_max);
            model.polarizations_on_grid(&self.grid, &mut hp[a..b], &mut hc[a..b]).map_err(|e| SimError::Waveform(e.to_string()))?;
        }
        Ok((hp, hc))
    }
}
