//! What `gw_bbh` and `gw_network` share once a waveform's polarisations are made: projecting
//! them onto each detector of a network (antenna pattern and time delay), whitening each with
//! its noise curve, and whitened noise, as a time series or in the frequency domain.

use super::detector::Detector;
use super::psd::Psd;
use super::waveform::Series;
use super::whiten::Whitener;
use super::{Domain, NoiseCurve, PsdKind};
use crate::sim::SimError;
use crate::math::SampleRng;
use realfft::num_complex::Complex;
use std::f64::consts::PI;

/// The frequency bins [lo, hi] (inclusive) of frequency-domain data from `f_min` to `f_max`
/// (default and at most the Nyquist frequency).
pub fn frequency_bins(f_min: f64, f_max: Option<f64>, sampling_frequency: f64, duration: f64) -> (usize, usize) {
    let df = 1.0 / duration;
    let nyquist = sampling_frequency / 2.0;
    let f_max = f_max.unwrap_or(nyquist).min(nyquist);
    ((f_min / df).ceil().max(1.0) as usize, (f_max / df + 1e-9).floor() as usize)
}

/// Values of a data row per detector: the segment's `n` samples, or the real and imaginary
/// parts of the bins [lo, hi].
pub fn values_per_detector(domain: Domain, n: usize, (lo, hi): (usize, usize)) -> usize {
    match domain {
        Domain::Time => n,
        Domain::Frequency => 2 * (hi + 1).saturating_sub(lo),
    }
}

impl PsdKind {
    /// The noise-curve file bilby ships for this curve, as `PowerSpectralDensity`'s keyword
    /// (bilby ships no O3 curve: an export holds the file itself).
    pub fn bilby_file(self) -> Option<serde_json::Value> {
        match self {
            PsdKind::AligoZeroDetHighP => Some(serde_json::json!({ "psd_file": "aLIGO_ZERO_DET_high_P_psd.txt" })),
            PsdKind::AligoO4High => Some(serde_json::json!({ "asd_file": "aLIGO_O4_high_asd.txt" })),
            PsdKind::AdVirgo => Some(serde_json::json!({ "asd_file": "AdV_asd.txt" })),
            PsdKind::AligoO3Low | PsdKind::AdVirgoO3Low => None,
        }
    }
}

/// Checks a simulator's `detectors` (known, each once, at least one) and that its `psd`
/// setting gives each a curve and names no other (`key`: `dataset.<kind>`).
pub fn check_detectors(key: &str, detectors: &[String], psd: Option<&super::PsdSetting>, curve: impl Fn(&str) -> Option<NoiseCurve>) -> Result<(), crate::config::Violation> {
    use crate::config::bad;
    if detectors.is_empty() {
        return Err(bad(&format!("{key}.detectors"), "is empty", Some("name at least one of H1, L1, V1")));
    }
    for (i, det) in detectors.iter().enumerate() {
        if !["H1", "L1", "V1"].contains(&det.as_str()) {
            return Err(bad(&format!("{key}.detectors"), format!("unknown detector `{det}`"), Some("expected one of: H1, L1, V1")));
        }
        if detectors[..i].contains(det) {
            return Err(bad(&format!("{key}.detectors"), format!("`{det}` is listed twice"), None));
        }
        if curve(det).is_none() {
            return Err(bad(&format!("{key}.psd"), format!("gives no noise curve for `{det}`"), Some("name a curve for every detector")));
        }
    }
    if let Some(super::PsdSetting::PerDetector(m)) = psd {
        if let Some(extra) = m.keys().find(|d| !detectors.contains(d)) {
            return Err(bad(&format!("{key}.psd"), format!("names `{extra}`, which is not in `detectors`"), None));
        }
    }
    Ok(())
}

/// Each detector's curve, loaded: the shipped ones, or the user's files read and checked.
pub fn load_curves(names: &[String], curve: impl Fn(&str) -> NoiseCurve) -> Result<Vec<Psd>, SimError> {
    names.iter().map(|d| Psd::load(&curve(d))).collect()
}

/// What an export holds of each detector's curve: its text as `{DETECTOR}_{asd|psd}.txt`
/// (the files), and how the manifest names it (the entries).
pub fn export_curves(names: &[String], curve: impl Fn(&str) -> NoiseCurve) -> Result<(Vec<(String, String)>, serde_json::Map<String, serde_json::Value>), SimError> {
    let mut files = Vec::new();
    let mut entries = serde_json::Map::new();
    for d in names {
        let c = curve(d);
        let (text, kind) = Psd::source_text(&c)?;
        let file = format!("{d}_{kind}.txt");
        let mut entry = serde_json::json!({ "file": file, "kind": kind, "curve": c });
        if let Some(file) = match c {
            NoiseCurve::Shipped(k) => k.bilby_file(),
            _ => None,
        } {
            entry["bilby"] = file;
        }
        entries.insert(d.clone(), entry);
        files.push((file, text));
    }
    Ok((files, entries))
}

/// The detectors of a simulator with their whiteners and data layout.
#[derive(Debug)]
pub struct Network {
    detectors: Vec<Detector>,
    whiteners: Vec<Whitener>,
    n: usize,
    duration: f64,
    domain: Domain,
    bins: (usize, usize),
}

impl Network {
    /// `names` (validated) with the noise curve `curves[i]` each, `n` samples at `fs` Hz
    /// lasting `duration` s.
    pub fn new(names: &[String], curves: &[Psd], n: usize, fs: f64, duration: f64, domain: Domain, bins: (usize, usize)) -> Network {
        Network {
            detectors: names.iter().filter_map(|d| Detector::by_name(d)).collect(),
            whiteners: curves.iter().map(|psd| Whitener::new(n, fs, psd)).collect(),
            n,
            duration,
            domain,
            bins,
        }
    }

    /// Detectors in the network.
    pub fn len(&self) -> usize {
        self.detectors.len()
    }

    /// Whether the network has no detector.
    pub fn is_empty(&self) -> bool {
        self.detectors.is_empty()
    }

    /// Values of a data row per detector.
    pub fn per_detector(&self) -> usize {
        values_per_detector(self.domain, self.n, self.bins)
    }

    /// Each detector's strain h̃(f) of polarisations (h+, h×) filled from bin `k_min`, for a
    /// source at (ra, dec) with polarisation `psi` merging at the geocentre at GPS `tc`, in a
    /// segment starting at GPS `start`.
    #[allow(clippy::too_many_arguments)]
    pub fn project(&self, hp: &Series, hc: &Series, k_min: usize, ra: f64, dec: f64, psi: f64, tc: f64, start: f64) -> Vec<Series> {
        let bins = self.n / 2 + 1;
        let df = 1.0 / self.duration;
        self.detectors
            .iter()
            .map(|det| {
                let (fp, fx) = det.antenna_response(ra, dec, psi, tc);
                let dt = tc - start + det.time_delay_from_geocenter(ra, dec, tc);
                // The time shift e^{-2πi f dt} by recurrence from k_min: one complex product per bin.
                let step = Complex::from_polar(1.0, -2.0 * PI * df * dt);
                let mut shift = Complex::from_polar(1.0, -2.0 * PI * k_min as f64 * df * dt);
                let mut h = vec![Complex::new(0.0, 0.0); bins];
                for k in k_min..bins {
                    h[k] = (hp[k] * fp + hc[k] * fx) * shift;
                    shift *= step;
                }
                h
            })
            .collect()
    }

    /// Writes each detector's whitened strain into its part of `signal`.
    pub fn whiten(&self, strain: &[Series], signal: &mut [f64]) {
        let (lo, hi) = self.bins;
        for ((h, out), w) in strain.iter().zip(signal.chunks_exact_mut(self.per_detector())).zip(&self.whiteners) {
            match self.domain {
                Domain::Time => w.whiten(h, out),
                Domain::Frequency => w.whiten_frequency(h, lo, hi, out),
            }
        }
    }

    /// One realisation of each detector's whitened noise.
    pub fn noise(&self, rng: &mut SampleRng, noise: &mut [f64]) {
        let (lo, hi) = self.bins;
        for (out, w) in noise.chunks_exact_mut(self.per_detector()).zip(&self.whiteners) {
            match self.domain {
                Domain::Time => w.noise(rng, out),
                Domain::Frequency => w.noise_frequency(rng, lo, hi, out),
            }
        }
    }
}
