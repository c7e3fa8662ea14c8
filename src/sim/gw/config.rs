//! The settings of `gw_bbh` (the `dataset.gw_bbh` section) and their checks.

use super::GwBbh;
use crate::sim::registry::SimulatorConfig;
use crate::sim::{SimError, Simulator};
use crate::config::{bad, positive};
use crate::config::{number, Violation};
use crate::sim::prior::compact;
use crate::sim::{NoiseMode, Prior};
use serde::{Deserialize, Serialize};

/// The `gw_bbh` simulator: Gabbard et al.'s benchmark (arXiv:1909.06296) by default — H1,
/// 256 Hz, 1 s, IMRPhenomD without spins, the aLIGO design PSD, whitened as bilby does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GwBbhSpec {
    /// Detectors, each giving one whitened segment: any of H1, L1, V1.
    pub detectors: Vec<String>,
    /// Sampling rate in Hz.
    #[serde(deserialize_with = "number::f64")]
    pub sampling_frequency: f64,
    /// Segment length in seconds.
    #[serde(deserialize_with = "number::f64")]
    pub duration: f64,
    /// Lowest frequency of the signal in Hz.
    #[serde(deserialize_with = "number::f64")]
    pub f_min: f64,
    /// Reference frequency of the phase in Hz.
    #[serde(deserialize_with = "number::f64")]
    pub f_ref: f64,
    /// Waveform model: IMRPhenomD, TaylorF2, IMRPhenomXAS or IMRPhenomXPHM.
    pub approximant: Approximant,
    /// GPS reference time; the segment is [reference_time − duration/2, reference_time + duration/2).
    #[serde(deserialize_with = "number::f64")]
    pub reference_time: f64,
    /// Noise curve: `aLIGO_ZERO_DET_high_P` (the design curve), `aLIGO_O4_high` or `AdV`, for
    /// every detector or per detector (`{ H1: aLIGO_O4_high, L1: aLIGO_O4_high, V1: AdV }`).
    pub psd: PsdSetting,
    /// Reference comparisons (`c2st`) use the test injections whose network optimal SNR reaches
    /// this (0: the first ones, whatever their SNR). The test split itself is drawn from the
    /// prior without a cut, so that the P-P test is valid.
    #[serde(deserialize_with = "number::f64")]
    pub min_reference_snr: f64,
    /// Priors: a number fixes a parameter, `{ min, max }` samples it uniformly.
    pub priors: GwPriors,
    /// What a data row holds per detector: `time`, the whitened segment (VItamin's
    /// representation), or `frequency`, the real then the imaginary parts of the whitened
    /// strain in the bins from f_min to `f_max` (DINGO's), scaled so that noise is N(0, 1)
    /// in each and Σ x² is the optimal SNR² in both.
    #[serde(skip_serializing_if = "Domain::is_time")]
    pub domain: Domain,
    /// Highest frequency of the frequency-domain data, Hz; default (null) the Nyquist frequency.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "number::opt_f64")]
    pub f_max: Option<f64>,
}

/// The representation of a data row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// Whitened time series.
    #[default]
    Time,
    /// Whitened frequency series between f_min and f_max, real parts then imaginary parts.
    Frequency,
}

impl Domain {
    fn is_time(&self) -> bool {
        *self == Domain::Time
    }
}

impl GwBbhSpec {
    /// The noise curve of a detector (validation makes sure every detector has one).
    pub fn curve(&self, detector: &str) -> NoiseCurve {
        self.psd.of(detector).cloned().unwrap_or(NoiseCurve::Shipped(PsdKind::AligoZeroDetHighP))
    }

    /// The frequency bins [k_lo, k_hi] (inclusive) of frequency-domain data.
    pub fn frequency_bins(&self) -> (usize, usize) {
        super::network::frequency_bins(self.f_min, self.f_max, self.sampling_frequency, self.duration)
    }
}

impl Default for GwBbhSpec {
    fn default() -> Self {
        GwBbhSpec {
            detectors: vec!["H1".into()],
            sampling_frequency: 256.0,
            duration: 1.0,
            f_min: 20.0,
            f_ref: 20.0,
            approximant: Approximant::IMRPhenomD,
            reference_time: 1_126_259_642.5,
            psd: PsdSetting::All(NoiseCurve::Shipped(PsdKind::AligoZeroDetHighP)),
            min_reference_snr: 8.0,
            priors: GwPriors::default(),
            domain: Domain::Time,
            f_max: None,
        }
    }
}

/// Waveform models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::upper_case_acronyms)]
pub enum Approximant {
    /// Post-Newtonian inspiral (ends at the ISCO).
    TaylorF2,
    /// Aligned-spin inspiral, merger and ringdown (Husa et al., Khan et al. 2016).
    IMRPhenomD,
    /// Aligned-spin IMRPhenomX, dominant mode (Pratten et al. 2020).
    IMRPhenomXAS,
    /// Precessing IMRPhenomX with higher modes (Pratten et al. 2021); without spins, as
    /// `gw_bbh` draws its binaries, its higher modes are what it adds to IMRPhenomXAS.
    IMRPhenomXPHM,
}

/// Noise curves shipped with ndelab: the files bilby ships (data/README.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PsdKind {
    /// data/aLIGO_ZERO_DET_high_P_psd.txt: the Advanced LIGO design PSD (LIGO-T0900288).
    #[serde(rename = "aLIGO_ZERO_DET_high_P")]
    AligoZeroDetHighP,
    /// data/aLIGO_O4_high_asd.txt: the aLIGO O4 high-sensitivity curve (LIGO-T2000012).
    #[serde(rename = "aLIGO_O4_high")]
    AligoO4High,
    /// data/AdV_asd.txt: the Advanced Virgo curve (LIGO-P1200087).
    #[serde(rename = "AdV")]
    AdVirgo,
    /// data/aLIGO_O3low_asd.txt: Advanced LIGO in O3 (LIGO-T1800545, "O3 low").
    #[serde(rename = "aLIGO_O3low")]
    AligoO3Low,
    /// data/AdV_O3low_asd.txt: Advanced Virgo in O3 (LIGO-T1800545, "O3 low").
    #[serde(rename = "AdV_O3low")]
    AdVirgoO3Low,
}

/// A detector's noise curve: one ndelab ships, or a two-column text file of the user's
/// (frequency in Hz, then the ASD in 1/√Hz or the PSD in 1/Hz), read as bilby reads its own.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum NoiseCurve {
    /// A shipped curve, by name.
    Shipped(PsdKind),
    /// `{ asd_file: PATH }`: amplitude spectral density.
    AsdFile {
        /// The file.
        asd_file: std::path::PathBuf,
    },
    /// `{ psd_file: PATH }`: power spectral density.
    PsdFile {
        /// The file.
        psd_file: std::path::PathBuf,
    },
}

/// The keys of a curve file entry.
const FILE_KEYS: [&str; 2] = ["asd_file", "psd_file"];

impl<'de> Deserialize<'de> for NoiseCurve {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = serde_norway::Value::deserialize(d)?;
        let Some(map) = v.as_mapping() else {
            return crate::config::tagged::variant(v).map(NoiseCurve::Shipped);
        };
        let keys: Vec<&str> = map.keys().filter_map(|k| k.as_str()).collect();
        let path = |key: &str| -> Result<std::path::PathBuf, D::Error> {
            match map.get(key) {
                Some(serde_norway::Value::String(s)) if !s.is_empty() => Ok(s.into()),
                _ => Err(D::Error::custom(format!("`{key}` must be the path of a two-column text file"))),
            }
        };
        match keys.as_slice() {
            ["asd_file"] => Ok(NoiseCurve::AsdFile { asd_file: path("asd_file")? }),
            ["psd_file"] => Ok(NoiseCurve::PsdFile { psd_file: path("psd_file")? }),
            _ => Err(D::Error::custom(format!(
                "a noise curve is a name ({}) or one of {{ asd_file: PATH }}, {{ psd_file: PATH }}; found the keys {}",
                PsdKind::NAMES.join(", "),
                keys.join(", ")
            ))),
        }
    }
}

impl NoiseCurve {
    /// The curve's file, when it is the user's.
    pub fn file(&self) -> Option<&std::path::Path> {
        match self {
            NoiseCurve::Shipped(_) => None,
            NoiseCurve::AsdFile { asd_file: f } | NoiseCurve::PsdFile { psd_file: f } => Some(f),
        }
    }

    /// The user's file as an absolute path (relative ones against `base`, the spec's folder).
    fn resolve(&mut self, base: &std::path::Path, key: &str, notes: &mut Vec<String>) {
        if let NoiseCurve::AsdFile { asd_file: f } | NoiseCurve::PsdFile { psd_file: f } = self {
            crate::sim::registry::resolve_path(f, base, key, notes);
        }
    }

    /// The curve as the dataset key sees it: a user's file by the sha256 of its contents.
    pub fn key_value(&self) -> Result<serde_json::Value, crate::sim::SimError> {
        Ok(match self {
            NoiseCurve::Shipped(k) => serde_json::to_value(k).unwrap_or_default(),
            NoiseCurve::AsdFile { asd_file: f } => serde_json::json!({ "asd_file": format!("sha256:{}", crate::sim::files::sha256_file(f)?) }),
            NoiseCurve::PsdFile { psd_file: f } => serde_json::json!({ "psd_file": format!("sha256:{}", crate::sim::files::sha256_file(f)?) }),
        })
    }
}

impl PsdKind {
    /// The names specs use.
    pub const NAMES: [&'static str; 5] = ["aLIGO_ZERO_DET_high_P", "aLIGO_O4_high", "AdV", "aLIGO_O3low", "AdV_O3low"];
}

/// The `psd` setting: one curve for every detector (`aLIGO_O4_high`, `{ asd_file: my.txt }`),
/// or a curve per detector (`{ H1: aLIGO_O4_high, L1: { asd_file: L1.txt }, V1: AdV }`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PsdSetting {
    /// The same curve for every detector.
    All(NoiseCurve),
    /// A curve for each detector, by name.
    PerDetector(std::collections::BTreeMap<String, NoiseCurve>),
}

impl<'de> Deserialize<'de> for PsdSetting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_norway::Value::deserialize(d)?;
        let names_a_file = v.as_mapping().is_some_and(|m| m.keys().any(|k| k.as_str().is_some_and(|k| FILE_KEYS.contains(&k))));
        if v.is_mapping() && !names_a_file {
            crate::config::tagged::variant(v).map(PsdSetting::PerDetector)
        } else {
            crate::config::tagged::variant(v).map(PsdSetting::All)
        }
    }
}

impl PsdSetting {
    /// The curve of detector `name`, where the setting gives one.
    pub fn of(&self, name: &str) -> Option<&NoiseCurve> {
        match self {
            PsdSetting::All(k) => Some(k),
            PsdSetting::PerDetector(m) => m.get(name),
        }
    }

    /// Makes the user's curve files absolute (relative ones against the spec's folder `base`).
    pub fn resolve_paths(&mut self, base: &std::path::Path, key: &str) -> Vec<String> {
        let mut notes = Vec::new();
        match self {
            PsdSetting::All(c) => c.resolve(base, key, &mut notes),
            PsdSetting::PerDetector(m) => m.iter_mut().for_each(|(d, c)| c.resolve(base, &format!("{key}.{d}"), &mut notes)),
        }
        notes
    }

    /// The setting as the dataset key sees it: users' files by their contents.
    pub fn key_value(&self) -> Result<serde_json::Value, crate::sim::SimError> {
        Ok(match self {
            PsdSetting::All(c) => c.key_value()?,
            PsdSetting::PerDetector(m) => {
                serde_json::Value::Object(m.iter().map(|(d, c)| Ok((d.clone(), c.key_value()?))).collect::<Result<_, crate::sim::SimError>>()?)
            }
        })
    }

    /// Whether any curve is a user's file.
    pub fn names_a_file(&self) -> bool {
        match self {
            PsdSetting::All(c) => c.file().is_some(),
            PsdSetting::PerDetector(m) => m.values().any(|c| c.file().is_some()),
        }
    }
}

/// Priors of the `gw_bbh` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GwPriors {
    /// Primary mass, solar masses (m1 ≥ m2 is enforced by swapping).
    #[serde(serialize_with = "compact")]
    pub m1: Prior,
    /// Secondary mass, solar masses.
    #[serde(serialize_with = "compact")]
    pub m2: Prior,
    /// Luminosity distance, Mpc.
    #[serde(rename = "d_L", serialize_with = "compact")]
    pub d_l: Prior,
    /// Merger time at the geocentre after the reference time, s.
    #[serde(serialize_with = "compact")]
    pub t0: Prior,
    /// Orbital phase at f_ref, rad.
    #[serde(serialize_with = "compact")]
    pub phase: Prior,
    /// Right ascension, rad.
    #[serde(serialize_with = "compact")]
    pub ra: Prior,
    /// Declination, rad.
    #[serde(serialize_with = "compact")]
    pub dec: Prior,
    /// Polarisation angle, rad.
    #[serde(serialize_with = "compact")]
    pub psi: Prior,
    /// Inclination (angle between total angular momentum and line of sight), rad.
    #[serde(serialize_with = "compact")]
    pub theta_jn: Prior,
}

impl Default for GwPriors {
    fn default() -> Self {
        GwPriors {
            m1: Prior::Uniform { min: 35.0, max: 80.0 },
            m2: Prior::Uniform { min: 35.0, max: 80.0 },
            d_l: Prior::Uniform { min: 1000.0, max: 3000.0 },
            t0: Prior::Uniform { min: 0.15, max: 0.35 },
            phase: Prior::Uniform { min: 0.0, max: 2.0 * std::f64::consts::PI },
            ra: Prior::Fixed { value: 1.375 },
            dec: Prior::Fixed { value: -1.2108 },
            psi: Prior::Fixed { value: 0.0 },
            theta_jn: Prior::Fixed { value: 0.0 },
        }
    }
}

impl GwPriors {
    /// (name, prior) in the order of the simulator's parameters.
    pub fn named(&self) -> [(&'static str, Prior); 9] {
        [
            ("m1", self.m1),
            ("m2", self.m2),
            ("d_L", self.d_l),
            ("t0", self.t0),
            ("phase", self.phase),
            ("ra", self.ra),
            ("dec", self.dec),
            ("psi", self.psi),
            ("theta_jn", self.theta_jn),
        ]
    }
}

impl GwBbhSpec {
    /// Each prior: a number or a uniform range, with masses and distance positive and the
    /// merger inside the segment.
    fn validate_priors(&self) -> Result<(), Violation> {
        const K: &str = "dataset.gw_bbh";
        for (name, prior) in self.priors.named() {
            let key = format!("{K}.priors.{name}");
            let (lo, hi) = match prior {
                Prior::Fixed { value: v } => (v, v),
                Prior::Uniform { min, max } => {
                    if !(min < max) || !min.is_finite() || !max.is_finite() {
                        return Err(bad(&key, format!("needs min < max, got min {min} and max {max}"), None));
                    }
                    (min, max)
                }
                _ => {
                    return Err(bad(&key, "gw_bbh fixes a parameter (a number) or samples it uniformly (`{ min, max }`)", None))
                }
            };
            let ok = match name {
                "m1" | "m2" => lo > 0.0,
                "d_L" => lo > 0.0,
                "t0" => lo > -self.duration / 2.0 && hi < self.duration / 2.0,
                _ => lo.is_finite() && hi.is_finite(),
            };
            if !ok {
                let why = match name {
                    "m1" | "m2" => "masses must be positive (solar masses)".to_string(),
                    "d_L" => "the distance must be positive (Mpc)".to_string(),
                    "t0" => format!("the merger must fall inside the segment: t0 in (−{0}, {0}) s", self.duration / 2.0),
                    _ => "must be finite".to_string(),
                };
                return Err(bad(&key, why, None));
            }
        }
        Ok(())
    }

    /// The frequency-domain band and the noise curves: `f_max` inside (f_min, Nyquist] and only
    /// with `domain: frequency`; a curve named for each detector, and only for those.
    fn validate_band_and_noise(&self) -> Result<(), Violation> {
        const K: &str = "dataset.gw_bbh";
        if let Some(f_max) = self.f_max {
            if !(f_max > self.f_min && f_max <= self.sampling_frequency / 2.0) {
                return Err(bad(
                    &format!("{K}.f_max"),
                    format!("must lie above f_min ({}) and at most at the Nyquist frequency ({}), got {f_max}", self.f_min, self.sampling_frequency / 2.0),
                    None,
                ));
            }
            if self.domain == Domain::Time {
                return Err(bad(&format!("{K}.f_max"), "applies to `domain: frequency` only", Some("set `domain: frequency`, or remove f_max")));
            }
        }
        Ok(())
    }
}

impl SimulatorConfig for GwBbhSpec {
    const KIND: &'static str = "gw_bbh";
    const DEFAULT_NOISE: NoiseMode = NoiseMode::Fresh;

    fn validate(&self) -> Result<(), Violation> {
        const K: &str = "dataset.gw_bbh";
        super::network::check_detectors(K, &self.detectors, Some(&self.psd), |d| self.psd.of(d).cloned())?;
        self.validate_band_and_noise()?;
        positive(&format!("{K}.sampling_frequency"), self.sampling_frequency)?;
        positive(&format!("{K}.duration"), self.duration)?;
        let n = self.sampling_frequency * self.duration;
        if (n - n.round()).abs() > 1e-9 || n.round() < 16.0 || n.round() as u64 % 2 != 0 {
            return Err(bad(
                &format!("{K}.duration"),
                format!("sampling_frequency × duration must be an even whole number of at least 16 samples, got {n}"),
                None,
            ));
        }
        let max = crate::config::MAX_DATA_VALUES as f64;
        if n > max {
            return Err(bad(
                &format!("{K}.duration"),
                format!("sampling_frequency × duration is {n} samples, more than the {max} a data row may hold"),
                Some("GW analyses use 1-8 s at 1-4 kHz"),
            ));
        }
        positive(&format!("{K}.f_min"), self.f_min)?;
        positive(&format!("{K}.f_ref"), self.f_ref)?;
        if self.f_min >= self.sampling_frequency / 2.0 {
            return Err(bad(
                &format!("{K}.f_min"),
                format!("{} Hz is not below the Nyquist frequency {} Hz", self.f_min, self.sampling_frequency / 2.0),
                None,
            ));
        }
        if !self.reference_time.is_finite() || self.reference_time < 0.0 {
            return Err(bad(&format!("{K}.reference_time"), format!("must be a GPS time, got {}", self.reference_time), None));
        }
        if !(self.min_reference_snr >= 0.0 && self.min_reference_snr.is_finite()) {
            return Err(bad(&format!("{K}.min_reference_snr"), format!("must be 0 or more, got {}", self.min_reference_snr), None));
        }
        self.validate_priors()?;
        Ok(())
    }

    fn sampled_parameters(&self) -> Vec<String> {
        self.priors.named().iter().filter(|(_, p)| matches!(p, Prior::Uniform { .. })).map(|(n, _)| n.to_string()).collect()
    }

    /// The phase is marginalised: its posterior is multimodal and of little interest.
    fn default_infer(&self) -> Vec<String> {
        self.sampled_parameters().into_iter().filter(|p| p != "phase").collect()
    }

    fn data_shape(&self) -> (usize, usize) {
        let n = (self.sampling_frequency * self.duration).round() as usize;
        (self.detectors.len().max(1), super::network::values_per_detector(self.domain, n, self.frequency_bins()))
    }

    fn build(&self) -> Result<Box<dyn Simulator>, SimError> {
        Ok(Box::new(GwBbh::new(self)?))
    }

    /// A user's noise-curve file enters the key by its contents.
    fn key_section(&self) -> Result<Option<serde_json::Value>, SimError> {
        if !self.psd.names_a_file() {
            return Ok(None);
        }
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["psd"] = self.psd.key_value()?;
        Ok(Some(v))
    }

    fn resolve_paths(&mut self, base: &std::path::Path) -> Vec<String> {
        self.psd.resolve_paths(base, "dataset.gw_bbh.psd")
    }

    /// Each detector's noise curve as a text file bilby reads.
    fn export_files(&self) -> Result<Vec<(String, String)>, SimError> {
        Ok(super::network::export_curves(&self.detectors, |d| self.curve(d))?.0)
    }

    /// How to read exported injections with another tool (bilby): the segment, the fixed
    /// parameters and the whitening convention.
    fn export_conventions(&self) -> Option<serde_json::Value> {
        let fixed: serde_json::Map<String, serde_json::Value> = self
            .priors
            .named()
            .iter()
            .filter_map(|(k, p)| match p {
                Prior::Fixed { value: v } => Some((k.to_string(), serde_json::json!(v))),
                _ => None,
            })
            .collect();
        Some(serde_json::json!({
            "detectors": self.detectors,
            "sampling_frequency": self.sampling_frequency,
            "duration": self.duration,
            "start_time": self.reference_time - self.duration / 2.0,
            "geocent_time": "reference_time + t0",
            "reference_time": self.reference_time,
            "f_min": self.f_min,
            "f_ref": self.f_ref,
            "approximant": self.approximant,
            "psd": super::network::export_curves(&self.detectors, |d| self.curve(d)).map(|(_, entries)| entries).unwrap_or_default(),
            "fixed_parameters": fixed,
            "domain": self.domain,
            "data_layout": match self.domain {
                Domain::Time => "each row is the detectors' whitened segments one after another, in the order of `detectors`".to_string(),
                Domain::Frequency => {
                    let (lo, hi) = self.frequency_bins();
                    format!("each row is, for each detector in the order of `detectors`, the real parts then the imaginary parts of the whitened strain in frequency bins {lo}..={hi} (f = k / duration)")
                }
            },
            "whitening": match self.domain {
                Domain::Time => "d_w = sqrt(2 fs) * irfft(d_f / ASD) with d_f = rfft(d) / fs and numpy's irfft; so d_f = rfft(d_w) * ASD / sqrt(2 fs) (bins with an infinite PSD are zero)",
                Domain::Frequency => "x = 2 / sqrt(duration) * d_f / ASD with d_f = rfft(d) / fs, so noise is N(0, 1) in each real and imaginary part (bins with an infinite PSD are zero)",
            },
            "likelihood": "log L = -1/2 sum (d_w - h_w)^2 + const",
        }))
    }
}
