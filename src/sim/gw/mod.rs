//! `gw_bbh`: whitened strain of binary black holes in ground-based detectors.
//!
//! The defaults are Gabbard et al.'s benchmark (arXiv:1909.06296): H1, 256 Hz, 1 s,
//! IMRPhenomD without spins, the aLIGO design PSD. Each step follows bilby, so that the data
//! match what VItamin trained on: polarisations from LALSimulation's model (here waveformrs),
//! projected with the antenna patterns at the merger time, shifted by the arrival time at the
//! detector, then whitened by the ASD (see [`whiten`]).

mod config;
pub mod detector;
pub mod network;
pub mod psd;
pub mod spins;
pub mod time;
pub mod waveform;
pub mod whiten;

use super::{Parameter, SampleRng, SimError, Simulator};
use crate::sim::Prior;
pub use config::{Approximant, Domain, GwBbhSpec, GwPriors, NoiseCurve, PsdKind, PsdSetting};
use network::Network;
use rand::Rng;
use realfft::num_complex::Complex;
use std::f64::consts::PI;
use waveform::{Band, Source};

/// Indices of the parameters in the full parameter vector.
const M1: usize = 0;
const M2: usize = 1;
const DL: usize = 2;
const T0: usize = 3;
const PHASE: usize = 4;
const RA: usize = 5;
const DEC: usize = 6;
const PSI: usize = 7;
const THETA_JN: usize = 8;

/// The `gw_bbh` simulator.
#[derive(Debug)]
pub struct GwBbh {
    spec: GwBbhSpec,
    params: Vec<Parameter>,
    /// For each sampled parameter, its index in the full vector.
    sampled: Vec<usize>,
    /// Full parameter vector with the fixed values filled in.
    base: [f64; 9],
    priors: [Prior; 9],
    network: Network,
    band: Band,
}

impl GwBbh {
    /// Builds the simulator from a validated spec section.
    pub fn new(spec: &GwBbhSpec) -> Result<GwBbh, SimError> {
        let named = spec.priors.named();
        let mut base = [0.0; 9];
        let mut sampled = Vec::new();
        let mut params = Vec::new();
        for (i, (name, prior)) in named.iter().enumerate() {
            match *prior {
                Prior::Fixed { value } => base[i] = value,
                // Validation admits only fixed values and uniform ranges here.
                sampled_prior => {
                    let (min, max) = sampled_prior.bounds();
                    sampled.push(i);
                    // An angle whose prior spans exactly one period is periodic in the posterior too.
                    let period = match i {
                        PHASE | RA => Some(2.0 * PI),
                        PSI => Some(PI),
                        _ => None,
                    }
                    .filter(|p| ((max - min) - p).abs() < 1e-9 * p);
                    params.push(Parameter { name: name.to_string(), lower: min, upper: max, period });
                }
            }
        }
        let n = (spec.sampling_frequency * spec.duration).round() as usize;
        Ok(GwBbh {
            spec: spec.clone(),
            params,
            sampled,
            base,
            priors: named.map(|(_, p)| p),
            network: Network::new(
                &spec.detectors,
                &network::load_curves(&spec.detectors, |d| spec.curve(d))?,
                n,
                spec.sampling_frequency,
                spec.duration,
                spec.domain,
                spec.frequency_bins(),
            ),
            band: Band::new(spec.approximant, spec.f_min, spec.sampling_frequency / 2.0, 1.0 / spec.duration, n / 2 + 1),
        })
    }

    /// The full parameter vector (m1, m2, d_L, t0, phase, ra, dec, psi, theta_jn) of sampled θ.
    pub fn full(&self, theta: &[f64]) -> [f64; 9] {
        let mut p = self.base;
        for (j, &i) in self.sampled.iter().enumerate() {
            p[i] = theta[j];
        }
        p
    }

    /// Start of the segment, GPS seconds.
    pub fn start_time(&self) -> f64 {
        self.spec.reference_time - self.spec.duration / 2.0
    }

    /// Detector-frame strain h̃(f) of every detector for full parameters `p`.
    pub fn detector_strain(&self, p: &[f64; 9]) -> Result<Vec<Vec<Complex<f64>>>, SimError> {
        let src = Source::non_spinning(p[M1], p[M2], p[DL], p[THETA_JN], p[PHASE]);
        let (hp, hc) = self.band.polarizations(&src, self.spec.f_ref)?;
        let tc = self.spec.reference_time + p[T0];
        Ok(self.network.project(&hp, &hc, self.band.k_min(), p[RA], p[DEC], p[PSI], tc, self.start_time()))
    }
}

impl GwBbh {
    /// Position of a parameter among the sampled ones.
    fn index_of(&self, which: usize) -> Option<usize> {
        self.sampled.iter().position(|&i| i == which)
    }
}

impl Simulator for GwBbh {
    /// The simulator's own version and the waveform library's, whose models make the signals.
    /// gw_bbh/3 for the IMRPhenomX models: their band now ends at f_max inclusive, as
    /// LALSimulation's does (the Nyquist bin was zero before); the other models' data are as
    /// they were under gw_bbh/2.
    fn version(&self) -> &'static str {
        match self.spec.approximant {
            Approximant::IMRPhenomXAS | Approximant::IMRPhenomXPHM => concat!("gw_bbh/3+waveformrs-", env!("NDELAB_WAVEFORMRS_VERSION")),
            Approximant::TaylorF2 | Approximant::IMRPhenomD => concat!("gw_bbh/2+waveformrs-", env!("NDELAB_WAVEFORMRS_VERSION")),
        }
    }
    fn parameters(&self) -> &[Parameter] {
        &self.params
    }
    fn data_dim(&self) -> usize {
        self.network.per_detector() * self.network.len()
    }
    fn data_channels(&self) -> usize {
        self.network.len()
    }
    /// m1 ≥ m2, where both are sampled.
    fn ordered(&self) -> Vec<(usize, usize)> {
        self.index_of(M1).zip(self.index_of(M2)).into_iter().collect()
    }
    fn sample_prior(&self, rng: &mut SampleRng, theta: &mut [f64]) {
        for (j, &i) in self.sampled.iter().enumerate() {
            if let Prior::Uniform { min, max } = self.priors[i] {
                theta[j] = min + (max - min) * rng.gen::<f64>();
            }
        }
        // m1 ≥ m2, as VItamin: draw both, swap if needed.
        let j1 = self.sampled.iter().position(|&i| i == M1);
        let j2 = self.sampled.iter().position(|&i| i == M2);
        if let (Some(a), Some(b)) = (j1, j2) {
            if theta[b] > theta[a] {
                theta.swap(a, b);
            }
        }
    }
    fn simulate_signal(&self, theta: &[f64], signal: &mut [f64]) -> Result<(), SimError> {
        let strain = self.detector_strain(&self.full(theta))?;
        self.network.whiten(&strain, signal);
        Ok(())
    }
    fn sample_noise(&self, rng: &mut SampleRng, noise: &mut [f64]) {
        self.network.noise(rng, noise);
    }
    fn prior_transform(&self, u: &[f64], theta: &mut [f64]) -> Option<()> {
        for (j, &i) in self.sampled.iter().enumerate() {
            if let Prior::Uniform { min, max } = self.priors[i] {
                theta[j] = min + (max - min) * u[j];
            }
        }
        // m1 ≥ m2: sorting the pair maps the uniform square onto the uniform triangle.
        if let (Some(a), Some(b)) = (self.index_of(M1), self.index_of(M2)) {
            if theta[b] > theta[a] {
                theta.swap(a, b);
            }
        }
        Some(())
    }
    fn log_prior(&self, theta: &[f64]) -> Option<f64> {
        let mut lp = 0.0;
        for (j, &i) in self.sampled.iter().enumerate() {
            if let Prior::Uniform { min, max } = self.priors[i] {
                if !(min..=max).contains(&theta[j]) {
                    return Some(f64::NEG_INFINITY);
                }
                lp -= (max - min).ln();
            }
        }
        if let (Some(a), Some(b)) = (self.index_of(M1), self.index_of(M2)) {
            if theta[b] > theta[a] {
                return Some(f64::NEG_INFINITY);
            }
            lp += std::f64::consts::LN_2;
        }
        Some(lp)
    }
    fn optimal_snr(&self, signal: &[f64]) -> Option<f64> {
        // Parseval: the whitened signal's energy is the network optimal SNR².
        Some(signal.iter().map(|v| v * v).sum::<f64>().sqrt())
    }
    fn min_reference_snr(&self) -> Option<f64> {
        (self.spec.min_reference_snr > 0.0).then_some(self.spec.min_reference_snr)
    }
    fn log_likelihood(&self, theta: &[f64], data: &[f64]) -> Option<f64> {
        let mut h = vec![0.0; self.data_dim()];
        self.simulate_signal(theta, &mut h).ok()?;
        // Whitened Gaussian likelihood, up to a constant: −½ Σ (d_w − h_w)².
        Some(-0.5 * data.iter().zip(&h).map(|(d, s)| (d - s) * (d - s)).sum::<f64>())
    }
}
