//! `gw_network`: binary black holes seen by a network of detectors, in bilby's parameters
//! (chirp_mass, mass_ratio, chi_1, chi_2 or a_1, a_2, tilt_1, tilt_2, phi_12, phi_jl,
//! luminosity_distance, dec, ra, theta_jn, psi, phase, geocent_time) and with the priors of
//! bilby's BBH prior files. Each detector's strain is whitened with its own noise curve, in
//! the frequency domain (DINGO's representation) or as a time series; the likelihood is the
//! exact Gaussian one, −½ Σ (d − h)² in whitened units, as bilby's GravitationalWaveTransient.
//!
//! `geocent_time` is in seconds after `reference_time`: datasets hold θ in float32, which
//! cannot hold a GPS time to the microsecond.

mod config;

pub use config::{default_priors, GwNetworkSpec, MassConstraint, Spins};

use super::gw::network::Network;
use super::gw::spins::{waveform_spins, SpinAngles};
use super::gw::waveform::{Band, Source};
use super::{Parameter, SampleRng, SimError, Simulator};
use crate::sim::Prior;
use realfft::num_complex::Complex;
use std::f64::consts::PI;

/// Draws of the mass constraint before a prior draw is taken as it is (a prior that almost
/// never meets it is refused by validation's numbers, not here).
const MAX_REJECTIONS: usize = 10_000;

/// The simulator.
pub struct GwNetwork {
    spec: GwNetworkSpec,
    /// Every parameter's name and prior, in order.
    priors: Vec<(&'static str, Prior)>,
    /// Indices (into `priors`) of the sampled parameters: θ's columns.
    sampled: Vec<usize>,
    params: Vec<Parameter>,
    network: Network,
    band: Band,
    /// ln of the priors' share inside the mass constraint (what normalises the constrained prior).
    log_mass_share: f64,
}

impl GwNetwork {
    /// Builds the simulator from a validated spec section.
    pub fn new(spec: &GwNetworkSpec) -> Result<GwNetwork, SimError> {
        let priors = spec.resolved_priors();
        let sampled: Vec<usize> = (0..priors.len()).filter(|&i| priors[i].1.is_sampled()).collect();
        let params = sampled
            .iter()
            .map(|&i| {
                let (name, prior) = priors[i];
                let (lower, upper) = prior.bounds();
                let period = match name {
                    "ra" | "phase" | "phi_12" | "phi_jl" => Some(2.0 * PI),
                    "psi" => Some(PI),
                    _ => None,
                }
                .filter(|p| ((upper - lower) - p).abs() < 1e-9 * p);
                Parameter { name: name.to_string(), lower, upper, period }
            })
            .collect();
        let n = spec.samples();
        let network = Network::new(
            &spec.detectors,
            &crate::sim::gw::network::load_curves(&spec.detectors, |d| spec.curve_of(d))?,
            n,
            spec.sampling_frequency,
            spec.duration,
            spec.domain,
            spec.frequency_bins(),
        );
        let band = Band::new(spec.approximant, spec.f_min, spec.sampling_frequency / 2.0, 1.0 / spec.duration, n / 2 + 1);
        let log_mass_share = spec.mass_constraint_share().ln();
        Ok(GwNetwork { spec: spec.clone(), priors, sampled, params, network, band, log_mass_share })
    }

    /// The value of parameter `name` in θ, or its fixed value.
    fn value(&self, theta: &[f64], name: &str) -> f64 {
        let i = self.priors.iter().position(|(n, _)| *n == name).unwrap_or(0);
        match self.sampled.iter().position(|&s| s == i) {
            Some(j) => theta[j],
            None => match self.priors[i].1 {
                Prior::Fixed { value } => value,
                other => other.transform(0.5),
            },
        }
    }

    /// Component masses (m1 ≥ m2) of θ.
    fn masses(&self, theta: &[f64]) -> (f64, f64) {
        let (mc, q) = (self.value(theta, "chirp_mass"), self.value(theta, "mass_ratio"));
        let m1 = mc * (1.0 + q).powf(0.2) / q.powf(0.6);
        (m1, q * m1)
    }

    /// Whether θ meets the mass constraint.
    fn allowed(&self, theta: &[f64]) -> bool {
        let (m1, m2) = self.masses(theta);
        let c = self.spec.mass_constraint;
        (c.min..=c.max).contains(&m1) && (c.min..=c.max).contains(&m2)
    }

    /// The waveform source of θ: masses, spins in the waveform frame, distance, phase.
    fn source(&self, theta: &[f64]) -> Source {
        let (m1, m2) = self.masses(theta);
        let v = |name: &str| self.value(theta, name);
        let (inclination, spin_1, spin_2) = match self.spec.spins {
            Spins::Aligned => (v("theta_jn"), [0.0, 0.0, v("chi_1")], [0.0, 0.0, v("chi_2")]),
            Spins::Precessing => {
                let angles = SpinAngles {
                    theta_jn: v("theta_jn"),
                    phi_jl: v("phi_jl"),
                    tilt_1: v("tilt_1"),
                    tilt_2: v("tilt_2"),
                    phi_12: v("phi_12"),
                    a_1: v("a_1"),
                    a_2: v("a_2"),
                };
                let s = waveform_spins(&angles, m1, m2, self.spec.f_ref, v("phase"));
                (s.inclination, s.spin_1, s.spin_2)
            }
        };
        Source { m1, m2, d_l: v("luminosity_distance"), theta_jn: inclination, phase: v("phase"), spin_1, spin_2 }
    }

    /// Start of the segment, GPS seconds.
    pub fn start_time(&self) -> f64 {
        self.spec.reference_time + self.spec.post_trigger_duration - self.spec.duration
    }

    /// Detector-frame strain h̃(f) of every detector for θ.
    pub fn detector_strain(&self, theta: &[f64]) -> Result<Vec<Vec<Complex<f64>>>, SimError> {
        let (hp, hc) = self.band.polarizations(&self.source(theta), self.spec.f_ref)?;
        let (ra, dec, psi) = (self.value(theta, "ra"), self.value(theta, "dec"), self.value(theta, "psi"));
        let tc = self.spec.reference_time + self.value(theta, "geocent_time");
        Ok(self.network.project(&hp, &hc, self.band.k_min(), ra, dec, psi, tc, self.start_time()))
    }
}

impl Simulator for GwNetwork {
    fn version(&self) -> &'static str {
        concat!("gw_network/1+waveformrs-", env!("NDELAB_WAVEFORMRS_VERSION"))
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
    /// Draws from the priors until the component masses meet the constraint, as bilby does.
    fn sample_prior(&self, rng: &mut SampleRng, theta: &mut [f64]) {
        for _ in 0..MAX_REJECTIONS {
            for (t, &i) in theta.iter_mut().zip(&self.sampled) {
                *t = self.priors[i].1.sample(rng);
            }
            if self.allowed(theta) {
                return;
            }
        }
    }
    fn simulate_signal(&self, theta: &[f64], signal: &mut [f64]) -> Result<(), SimError> {
        let strain = self.detector_strain(theta)?;
        self.network.whiten(&strain, signal);
        Ok(())
    }
    fn sample_noise(&self, rng: &mut SampleRng, noise: &mut [f64]) {
        self.network.noise(rng, noise);
    }
    fn prior_transform(&self, u: &[f64], theta: &mut [f64]) -> Option<()> {
        for ((t, &v), &i) in theta.iter_mut().zip(u).zip(&self.sampled) {
            *t = self.priors[i].1.transform(v);
        }
        Some(())
    }
    /// The product of the priors inside the mass constraint, divided by their share there (so
    /// that it integrates to one, as bilby's constrained prior).
    fn log_prior(&self, theta: &[f64]) -> Option<f64> {
        if !self.allowed(theta) {
            return Some(f64::NEG_INFINITY);
        }
        let product: f64 = theta.iter().zip(&self.sampled).map(|(&t, &i)| self.priors[i].1.log_density(t)).sum();
        Some(product - self.log_mass_share)
    }
    fn log_prior_volume(&self) -> f64 {
        self.log_mass_share
    }
    fn optimal_snr(&self, signal: &[f64]) -> Option<f64> {
        Some(signal.iter().map(|v| v * v).sum::<f64>().sqrt())
    }
    fn min_reference_snr(&self) -> Option<f64> {
        (self.spec.min_reference_snr > 0.0).then_some(self.spec.min_reference_snr)
    }
    /// −½ Σ (d − h)² in whitened units; −∞ outside the mass constraint (so that nested
    /// sampling, which explores the unconstrained priors, sees the constrained posterior).
    fn log_likelihood(&self, theta: &[f64], data: &[f64]) -> Option<f64> {
        if !self.allowed(theta) {
            return Some(f64::NEG_INFINITY);
        }
        let mut h = vec![0.0; self.data_dim()];
        self.simulate_signal(theta, &mut h).ok()?;
        Some(-0.5 * data.iter().zip(&h).map(|(d, s)| (d - s) * (d - s)).sum::<f64>())
    }
}
