//! The settings of `gw_network` (the `dataset.gw_network` section): the detectors and their
//! noise curves, the segment, the waveform model, and bilby's BBH priors by parameter name.

use super::GwNetwork;
use crate::config::{bad, number, positive, Violation};
use crate::sim::gw::{Approximant, Domain, NoiseCurve, PsdKind, PsdSetting};
use crate::sim::registry::SimulatorConfig;
use crate::sim::{NoiseMode, Prior, SimError, Simulator};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::f64::consts::{FRAC_PI_2, PI};

/// Which spins the binaries have, and so which of bilby's BBH prior sets applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Spins {
    /// Spins along the orbital angular momentum: chi_1, chi_2 (bilby's aligned_spins_bbh.prior).
    Aligned,
    /// Any direction: a_1, a_2, tilt_1, tilt_2, phi_12, phi_jl (bilby's precessing_spins_bbh.prior).
    Precessing,
}

/// The `gw_network` simulator: binary black holes in a network of detectors, with the
/// parameters and default priors of bilby's BBH prior files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GwNetworkSpec {
    /// Detectors: any of H1, L1, V1.
    pub detectors: Vec<String>,
    /// Sampling rate in Hz.
    #[serde(deserialize_with = "number::f64")]
    pub sampling_frequency: f64,
    /// Segment length in seconds.
    #[serde(deserialize_with = "number::f64")]
    pub duration: f64,
    /// Seconds of the segment after `reference_time` (bilby's and DINGO's post-trigger duration).
    #[serde(deserialize_with = "number::f64")]
    pub post_trigger_duration: f64,
    /// Lowest frequency of the signal and of the data, Hz.
    #[serde(deserialize_with = "number::f64")]
    pub f_min: f64,
    /// Highest frequency of frequency-domain data, Hz; null: the Nyquist frequency.
    #[serde(deserialize_with = "number::opt_f64")]
    pub f_max: Option<f64>,
    /// Reference frequency of the phase and the spins, Hz.
    #[serde(deserialize_with = "number::f64")]
    pub f_ref: f64,
    /// Waveform model: IMRPhenomXAS (aligned spins) or IMRPhenomXPHM (either).
    pub approximant: Approximant,
    /// Aligned or precessing spins.
    pub spins: Spins,
    /// GPS time the segment is placed around; `geocent_time` is measured from it.
    #[serde(deserialize_with = "number::f64")]
    pub reference_time: f64,
    /// Noise curve for every detector, or per detector; null: aLIGO_O4_high for H1 and L1, AdV for V1.
    pub psd: Option<PsdSetting>,
    /// `frequency` (DINGO's representation) or `time`, as for `gw_bbh`.
    pub domain: Domain,
    /// Reference comparisons use the test injections whose network SNR reaches this.
    #[serde(deserialize_with = "number::f64")]
    pub min_reference_snr: f64,
    /// bilby's `Constraint` on both component masses (solar masses), applied by rejection.
    pub mass_constraint: MassConstraint,
    /// Priors that replace those of bilby's set for `spins`, by parameter name; a number fixes
    /// a parameter. `geocent_time` is in seconds after `reference_time` (default U[−0.1, 0.1]).
    pub priors: BTreeMap<String, Prior>,
}

/// Bounds both component masses must lie within.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MassConstraint {
    /// Lower bound, solar masses.
    #[serde(deserialize_with = "number::f64")]
    pub min: f64,
    /// Upper bound, solar masses.
    #[serde(deserialize_with = "number::f64")]
    pub max: f64,
}

impl Default for GwNetworkSpec {
    fn default() -> Self {
        GwNetworkSpec {
            detectors: vec!["H1".into(), "L1".into()],
            sampling_frequency: 1024.0,
            duration: 4.0,
            post_trigger_duration: 2.0,
            f_min: 20.0,
            f_max: None,
            f_ref: 20.0,
            approximant: Approximant::IMRPhenomXAS,
            spins: Spins::Aligned,
            reference_time: 1_126_259_642.413,
            psd: None,
            domain: Domain::Frequency,
            min_reference_snr: 8.0,
            mass_constraint: MassConstraint { min: 5.0, max: 100.0 },
            priors: BTreeMap::new(),
        }
    }
}

/// bilby's prior of each parameter for `spins` (its aligned_spins_bbh.prior and
/// precessing_spins_bbh.prior, with the mass constraint apart), then the geocentre time.
pub fn default_priors(spins: Spins) -> Vec<(&'static str, Prior)> {
    let uniform = |min: f64, max: f64| Prior::Uniform { min, max };
    let mut out = vec![
        ("chirp_mass", Prior::UniformInComponentsChirpMass { min: 25.0, max: 100.0 }),
        ("mass_ratio", Prior::UniformInComponentsMassRatio { min: 0.125, max: 1.0 }),
    ];
    match spins {
        Spins::Aligned => {
            out.push(("chi_1", Prior::AlignedSpin { a_max: 0.99 }));
            out.push(("chi_2", Prior::AlignedSpin { a_max: 0.99 }));
        }
        Spins::Precessing => {
            out.extend([
                ("a_1", uniform(0.0, 0.99)),
                ("a_2", uniform(0.0, 0.99)),
                ("tilt_1", Prior::Sine { min: 0.0, max: PI }),
                ("tilt_2", Prior::Sine { min: 0.0, max: PI }),
                ("phi_12", uniform(0.0, 2.0 * PI)),
                ("phi_jl", uniform(0.0, 2.0 * PI)),
            ]);
        }
    }
    out.extend([
        ("luminosity_distance", Prior::UniformSourceFrame { min: 100.0, max: 5000.0 }),
        ("dec", Prior::Cosine { min: -FRAC_PI_2, max: FRAC_PI_2 }),
        ("ra", uniform(0.0, 2.0 * PI)),
        ("theta_jn", Prior::Sine { min: 0.0, max: PI }),
        ("psi", uniform(0.0, PI)),
        ("phase", uniform(0.0, 2.0 * PI)),
        ("geocent_time", uniform(-0.1, 0.1)),
    ]);
    out
}

impl GwNetworkSpec {
    /// Every parameter with its prior: bilby's set for `spins` with `priors` in place.
    pub fn resolved_priors(&self) -> Vec<(&'static str, Prior)> {
        default_priors(self.spins).into_iter().map(|(n, p)| (n, self.priors.get(n).copied().unwrap_or(p))).collect()
    }

    /// The share of the chirp_mass and mass_ratio priors' mass inside the mass constraint: the
    /// acceptance of bilby's rejection draws, and what normalises the constrained prior. At a
    /// fixed chirp mass m1 falls and m2 rises with q, so the constraint keeps one interval of q,
    /// found by bisection and weighed by the q prior's distribution function (its quantiles
    /// tabulated at 4097 points and inverted linearly); the chirp-mass quantile is integrated by
    /// the midpoint rule at 4096 nodes. Error well below 1e-6: the share is piecewise smooth.
    pub fn mass_constraint_share(&self) -> f64 {
        let priors = self.resolved_priors();
        let prior_of = |name: &str| priors.iter().find(|(n, _)| *n == name).map(|(_, p)| *p);
        let (Some(mc_prior), Some(q_prior)) = (prior_of("chirp_mass"), prior_of("mass_ratio")) else {
            return 1.0;
        };
        let c = self.mass_constraint;
        const NODES: usize = 4096;
        let table: Vec<f64> = (0..=NODES).map(|j| q_prior.transform(j as f64 / NODES as f64)).collect();
        // The q prior's distribution function at q, from the quantile table.
        let cdf = |q: f64| {
            let j = table.partition_point(|&t| t < q);
            match j {
                0 => 0.0,
                j if j > NODES => 1.0,
                j => {
                    let (a, b) = (table[j - 1], table[j]);
                    let f = if b > a { (q - a) / (b - a) } else { 1.0 };
                    (j as f64 - 1.0 + f) / NODES as f64
                }
            }
        };
        let (q_min, q_max) = (table[0], table[NODES]);
        // The first q in [q_min, q_max] where `ok` holds, for `ok` false then true.
        let edge = |ok: &dyn Fn(f64) -> bool| {
            if ok(q_min) {
                return q_min;
            }
            if !ok(q_max) {
                return q_max;
            }
            let (mut lo, mut hi) = (q_min, q_max);
            for _ in 0..60 {
                let mid = 0.5 * (lo + hi);
                if ok(mid) { hi = mid } else { lo = mid }
            }
            0.5 * (lo + hi)
        };
        let total: f64 = (0..NODES)
            .map(|i| {
                let mc = mc_prior.transform((i as f64 + 0.5) / NODES as f64);
                let masses = |q: f64| {
                    let m1 = mc * (1.0 + q).powf(0.2) / q.powf(0.6);
                    (m1, q * m1)
                };
                if q_max <= q_min {
                    // A fixed mass ratio: the constraint keeps it or not.
                    let (m1, m2) = masses(q_min);
                    return if (c.min..=c.max).contains(&m1) && (c.min..=c.max).contains(&m2) { 1.0 } else { 0.0 };
                }
                let start = edge(&|q| {
                    let (m1, m2) = masses(q);
                    m1 <= c.max && m2 >= c.min
                });
                let end = edge(&|q| {
                    let (m1, m2) = masses(q);
                    m1 < c.min || m2 > c.max
                });
                (cdf(end) - cdf(start)).max(0.0)
            })
            .sum();
        total / NODES as f64
    }

    /// The noise curve of a detector, where the setting gives one (by default O4 for H1 and
    /// L1, AdV for V1).
    pub fn curve(&self, detector: &str) -> Option<NoiseCurve> {
        match &self.psd {
            Some(setting) => setting.of(detector).cloned(),
            None if detector == "V1" => Some(NoiseCurve::Shipped(PsdKind::AdVirgo)),
            None => Some(NoiseCurve::Shipped(PsdKind::AligoO4High)),
        }
    }

    /// The curve of a detector validation has seen.
    pub fn curve_of(&self, detector: &str) -> NoiseCurve {
        self.curve(detector).unwrap_or(NoiseCurve::Shipped(PsdKind::AligoO4High))
    }

    /// The frequency bins [lo, hi] of frequency-domain data.
    pub fn frequency_bins(&self) -> (usize, usize) {
        crate::sim::gw::network::frequency_bins(self.f_min, self.f_max, self.sampling_frequency, self.duration)
    }

    /// Samples of the segment.
    pub fn samples(&self) -> usize {
        (self.sampling_frequency * self.duration).round() as usize
    }

    fn validate_segment(&self) -> Result<(), Violation> {
        const K: &str = "dataset.gw_network";
        positive(&format!("{K}.sampling_frequency"), self.sampling_frequency)?;
        positive(&format!("{K}.duration"), self.duration)?;
        let n = self.sampling_frequency * self.duration;
        if (n - n.round()).abs() > 1e-9 || n.round() < 16.0 || n.round() as u64 % 2 != 0 || n > crate::config::MAX_DATA_VALUES as f64 {
            return Err(bad(&format!("{K}.duration"), format!("sampling_frequency × duration must be an even whole number of samples from 16 to {}, got {n}", crate::config::MAX_DATA_VALUES), None));
        }
        if !(self.post_trigger_duration >= 0.0 && self.post_trigger_duration < self.duration) {
            return Err(bad(&format!("{K}.post_trigger_duration"), format!("must lie in [0, duration), got {}", self.post_trigger_duration), None));
        }
        let nyquist = self.sampling_frequency / 2.0;
        if !(self.f_min > 0.0 && self.f_min < nyquist) {
            return Err(bad(&format!("{K}.f_min"), format!("must lie in (0, {nyquist}), got {}", self.f_min), None));
        }
        if let Some(f_max) = self.f_max.filter(|&f| !(f > self.f_min && f <= nyquist)) {
            return Err(bad(&format!("{K}.f_max"), format!("must lie in (f_min, {nyquist}], got {f_max}"), None));
        }
        positive(&format!("{K}.f_ref"), self.f_ref)?;
        if !self.reference_time.is_finite() || self.reference_time < 0.0 {
            return Err(bad(&format!("{K}.reference_time"), format!("must be a GPS time, got {}", self.reference_time), None));
        }
        Ok(())
    }

    fn validate_priors(&self) -> Result<(), Violation> {
        const K: &str = "dataset.gw_network";
        let names: Vec<&str> = default_priors(self.spins).into_iter().map(|(n, _)| n).collect();
        if let Some(unknown) = self.priors.keys().find(|k| !names.contains(&k.as_str())) {
            return Err(bad(
                &format!("{K}.priors.{unknown}"),
                format!("is not a parameter of {} spins", if self.spins == Spins::Aligned { "aligned" } else { "precessing" }),
                Some(&format!("expected one of: {}", names.join(", "))),
            ));
        }
        for (name, prior) in self.resolved_priors() {
            let key = format!("{K}.priors.{name}");
            prior.validate(&key)?;
            let (lo, hi) = prior.bounds();
            let ok = match name {
                "chirp_mass" | "luminosity_distance" => lo > 0.0,
                "mass_ratio" => lo > 0.0 && hi <= 1.0,
                "chi_1" | "chi_2" => lo >= -1.0 && hi <= 1.0,
                "a_1" | "a_2" => lo >= 0.0 && hi <= 1.0,
                "geocent_time" => lo > -self.duration + self.post_trigger_duration && hi < self.post_trigger_duration,
                _ => lo.is_finite() && hi.is_finite(),
            };
            if !ok {
                return Err(bad(&key, format!("has support [{lo}, {hi}], outside what `{name}` can be"), None));
            }
        }
        let c = self.mass_constraint;
        if !(c.min > 0.0 && c.min < c.max && c.max.is_finite()) {
            return Err(bad(&format!("{K}.mass_constraint"), "needs 0 < min < max (solar masses)", None));
        }
        // Prior draws are rejected until both masses meet the constraint: a prior that meets it
        // almost nowhere would loop for ever.
        let share = self.mass_constraint_share();
        if share < 0.01 {
            return Err(bad(
                &format!("{K}.mass_constraint"),
                format!("keeps {:.1}% of the chirp_mass and mass_ratio priors' draws; at least 1% must meet it", 100.0 * share),
                Some("widen the constraint or move the chirp_mass and mass_ratio priors inside it"),
            ));
        }
        Ok(())
    }
}

impl SimulatorConfig for GwNetworkSpec {
    const KIND: &'static str = "gw_network";
    const DEFAULT_NOISE: NoiseMode = NoiseMode::Fresh;

    fn validate(&self) -> Result<(), Violation> {
        const K: &str = "dataset.gw_network";
        crate::sim::gw::network::check_detectors(K, &self.detectors, self.psd.as_ref(), |d| self.curve(d))?;
        if !matches!(self.approximant, Approximant::IMRPhenomXAS | Approximant::IMRPhenomXPHM) {
            return Err(bad(&format!("{K}.approximant"), "must be IMRPhenomXAS or IMRPhenomXPHM", None));
        }
        if self.spins == Spins::Precessing && self.approximant != Approximant::IMRPhenomXPHM {
            return Err(bad(&format!("{K}.spins"), "precessing spins need `approximant: IMRPhenomXPHM`", None));
        }
        self.validate_segment()?;
        self.validate_priors()
    }

    fn sampled_parameters(&self) -> Vec<String> {
        self.resolved_priors().into_iter().filter(|(_, p)| p.is_sampled()).map(|(n, _)| n.to_string()).collect()
    }

    /// The phase is marginalised, as for `gw_bbh`.
    fn default_infer(&self) -> Vec<String> {
        self.sampled_parameters().into_iter().filter(|p| p != "phase").collect()
    }

    fn data_shape(&self) -> (usize, usize) {
        (self.detectors.len().max(1), crate::sim::gw::network::values_per_detector(self.domain, self.samples(), self.frequency_bins()))
    }

    fn build(&self) -> Result<Box<dyn Simulator>, SimError> {
        Ok(Box::new(GwNetwork::new(self)?))
    }

    /// A user's noise-curve file enters the key by its contents.
    fn key_section(&self) -> Result<Option<serde_json::Value>, SimError> {
        let Some(psd) = self.psd.as_ref().filter(|p| p.names_a_file()) else { return Ok(None) };
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["psd"] = psd.key_value()?;
        Ok(Some(v))
    }

    fn resolve_paths(&mut self, base: &std::path::Path) -> Vec<String> {
        self.psd.as_mut().map(|p| p.resolve_paths(base, "dataset.gw_network.psd")).unwrap_or_default()
    }

    /// Each detector's noise curve as a text file bilby reads.
    fn export_files(&self) -> Result<Vec<(String, String)>, SimError> {
        Ok(crate::sim::gw::network::export_curves(&self.detectors, |d| self.curve_of(d))?.0)
    }

    /// How bilby reads the exported injections: the segment, each detector's curve, the data
    /// layout, and the priors as lines of a bilby prior file.
    fn export_conventions(&self) -> Option<serde_json::Value> {
        let (lo, hi) = self.frequency_bins();
        let psd = crate::sim::gw::network::export_curves(&self.detectors, |d| self.curve_of(d)).map(|(_, entries)| entries).unwrap_or_default();
        let c = self.mass_constraint;
        let mut prior_file = vec![
            format!("mass_1 = Constraint(name='mass_1', minimum={}, maximum={})", c.min, c.max),
            format!("mass_2 = Constraint(name='mass_2', minimum={}, maximum={})", c.min, c.max),
        ];
        prior_file.extend(self.resolved_priors().iter().map(|(name, prior)| bilby_prior_line(name, prior, self.reference_time)));
        Some(serde_json::json!({
            "detectors": self.detectors,
            "sampling_frequency": self.sampling_frequency,
            "duration": self.duration,
            "start_time": self.reference_time + self.post_trigger_duration - self.duration,
            "reference_time": self.reference_time,
            "geocent_time": "reference_time + geocent_time (the parameter is stored relative to reference_time)",
            "f_min": self.f_min,
            "f_max": self.f_max.unwrap_or(self.sampling_frequency / 2.0),
            "f_ref": self.f_ref,
            "approximant": self.approximant,
            "spins": self.spins,
            "psd": psd,
            "domain": self.domain,
            "data_layout": match self.domain {
                Domain::Time => "each row is the detectors' whitened segments one after another, in the order of `detectors`".to_string(),
                Domain::Frequency => format!("for each detector in the order of `detectors`, the real parts then the imaginary parts of x = 2 / sqrt(duration) * d_f / ASD in frequency bins {lo}..={hi} (f = k / duration)"),
            },
            "likelihood": "log L = -1/2 sum (x_d - x_h)^2, bilby's GravitationalWaveTransient without marginalisations",
            "bilby_prior_file": prior_file,
        }))
    }
}

/// One line of a bilby prior file for `prior` of parameter `name`.
fn bilby_prior_line(name: &str, prior: &Prior, reference_time: f64) -> String {
    let shift = if name == "geocent_time" { reference_time } else { 0.0 };
    let body = match *prior {
        Prior::Fixed { value } => format!("DeltaFunction(name='{name}', peak={})", value + shift),
        Prior::Uniform { min, max } => format!("Uniform(name='{name}', minimum={}, maximum={})", min + shift, max + shift),
        Prior::Normal { mean, std } => format!("Gaussian(name='{name}', mu={}, sigma={std})", mean + shift),
        Prior::LogUniform { min, max } => format!("LogUniform(name='{name}', minimum={min}, maximum={max})"),
        Prior::PowerLaw { alpha, min, max } => format!("PowerLaw(name='{name}', alpha={alpha}, minimum={min}, maximum={max})"),
        Prior::Sine { min, max } => format!("Sine(name='{name}', minimum={min}, maximum={max})"),
        Prior::Cosine { min, max } => format!("Cosine(name='{name}', minimum={min}, maximum={max})"),
        Prior::AlignedSpin { a_max } => format!("bilby.gw.prior.AlignedSpin(name='{name}', a_prior=Uniform(minimum=0, maximum={a_max}))"),
        Prior::UniformInComponentsChirpMass { min, max } => format!("bilby.gw.prior.UniformInComponentsChirpMass(name='{name}', minimum={min}, maximum={max})"),
        Prior::UniformInComponentsMassRatio { min, max } => format!("bilby.gw.prior.UniformInComponentsMassRatio(name='{name}', minimum={min}, maximum={max})"),
        Prior::UniformComovingVolume { min, max } => format!("bilby.gw.prior.UniformComovingVolume(name='{name}', minimum={min}, maximum={max})"),
        Prior::UniformSourceFrame { min, max } => format!("bilby.gw.prior.UniformSourceFrame(name='{name}', minimum={min}, maximum={max})"),
    };
    format!("{name} = {body}")
}
