//! Noise power spectral densities, interpolated as bilby does: linearly between the file's
//! frequencies and infinite outside them (so those bins carry no signal and no noise).

use crate::sim::SimError;

/// A one-sided PSD S(f) in 1/Hz, tabulated.
#[derive(Debug, Clone, PartialEq)]
pub struct Psd {
    freqs: Vec<f64>,
    values: Vec<f64>,
}

/// The Advanced LIGO design PSD (zero detuning, high power) that bilby uses by default.
pub const ALIGO_ZERO_DET_HIGH_P: &str = include_str!("../../../data/aLIGO_ZERO_DET_high_P_psd.txt");

/// The aLIGO O4 high-sensitivity ASD that bilby ships (LIGO-T2000012).
pub const ALIGO_O4_HIGH_ASD: &str = include_str!("../../../data/aLIGO_O4_high_asd.txt");

/// The Advanced Virgo ASD that bilby ships (LIGO-P1200087).
pub const ADV_ASD: &str = include_str!("../../../data/AdV_asd.txt");

/// The O3 curves of LIGO-T1800545 that LALSimulation reads (aLIGO and AdV, "O3 low").
pub const ALIGO_O3LOW_ASD: &str = include_str!("../../../data/aLIGO_O3low_asd.txt");
/// See [`ALIGO_O3LOW_ASD`].
pub const ADV_O3LOW_ASD: &str = include_str!("../../../data/AdV_O3low_asd.txt");

impl Psd {
    /// Parses two whitespace-separated columns, f and S(f), with increasing f.
    pub fn parse(text: &str) -> Result<Psd, SimError> {
        let mut freqs = Vec::new();
        let mut values = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let cols: Vec<f64> =
                line.split_whitespace().map(|c| c.parse::<f64>()).collect::<Result<_, _>>().map_err(|e| SimError::Psd(format!("line {}: {e}", i + 1)))?;
            if cols.len() != 2 {
                return Err(SimError::Psd(format!("line {}: expected two columns (f, PSD), found {}", i + 1, cols.len())));
            }
            if freqs.last().is_some_and(|&f| cols[0] <= f) {
                return Err(SimError::Psd(format!("line {}: frequencies must increase", i + 1)));
            }
            if !(cols[0].is_finite() && cols[0] >= 0.0 && cols[1].is_finite() && cols[1] > 0.0) {
                return Err(SimError::Psd(format!(
                    "line {}: needs a finite frequency ≥ 0 and a finite noise level > 0, found {:e} {:e}",
                    i + 1,
                    cols[0],
                    cols[1]
                )));
            }
            freqs.push(cols[0]);
            values.push(cols[1]);
        }
        if freqs.len() < 2 {
            return Err(SimError::Psd("a PSD needs at least two rows".into()));
        }
        Ok(Psd { freqs, values })
    }

    /// Parses two columns f and the amplitude spectral density √S(f), and squares the second.
    pub fn parse_asd(text: &str) -> Result<Psd, SimError> {
        let mut psd = Self::parse(text)?;
        psd.values.iter_mut().for_each(|v| *v *= *v);
        Ok(psd)
    }

    /// The built-in aLIGO design PSD.
    pub fn aligo_design() -> Psd {
        Self::parse(ALIGO_ZERO_DET_HIGH_P).expect("the shipped PSD file parses")
    }

    /// One of the curves ndelab ships.
    pub fn shipped(kind: super::PsdKind) -> Psd {
        use super::PsdKind;
        match kind {
            PsdKind::AligoZeroDetHighP => Self::aligo_design(),
            PsdKind::AligoO4High => Self::parse_asd(ALIGO_O4_HIGH_ASD).expect("the shipped ASD file parses"),
            PsdKind::AdVirgo => Self::parse_asd(ADV_ASD).expect("the shipped ASD file parses"),
            PsdKind::AligoO3Low => Self::parse_asd(ALIGO_O3LOW_ASD).expect("the shipped ASD file parses"),
            PsdKind::AdVirgoO3Low => Self::parse_asd(ADV_O3LOW_ASD).expect("the shipped ASD file parses"),
        }
    }

    /// The curve `curve` names: a shipped one, or the user's file read and checked.
    pub fn load(curve: &super::NoiseCurve) -> Result<Psd, SimError> {
        use super::NoiseCurve;
        match curve {
            NoiseCurve::Shipped(kind) => Ok(Self::shipped(*kind)),
            NoiseCurve::AsdFile { asd_file: f } => Self::parse_asd(&read_curve(f)?).map_err(|e| in_file(f, e)),
            NoiseCurve::PsdFile { psd_file: f } => Self::parse(&read_curve(f)?).map_err(|e| in_file(f, e)),
        }
    }

    /// The curve's text as bilby would read it, and whether it holds an ASD (`asd`) or a PSD.
    pub fn source_text(curve: &super::NoiseCurve) -> Result<(String, &'static str), SimError> {
        use super::{NoiseCurve, PsdKind};
        Ok(match curve {
            NoiseCurve::Shipped(PsdKind::AligoZeroDetHighP) => (ALIGO_ZERO_DET_HIGH_P.to_string(), "psd"),
            NoiseCurve::Shipped(PsdKind::AligoO4High) => (ALIGO_O4_HIGH_ASD.to_string(), "asd"),
            NoiseCurve::Shipped(PsdKind::AdVirgo) => (ADV_ASD.to_string(), "asd"),
            NoiseCurve::Shipped(PsdKind::AligoO3Low) => (ALIGO_O3LOW_ASD.to_string(), "asd"),
            NoiseCurve::Shipped(PsdKind::AdVirgoO3Low) => (ADV_O3LOW_ASD.to_string(), "asd"),
            NoiseCurve::AsdFile { asd_file: f } => (read_curve(f)?, "asd"),
            NoiseCurve::PsdFile { psd_file: f } => (read_curve(f)?, "psd"),
        })
    }

    /// S(f), linearly interpolated; +∞ outside the tabulated range.
    pub fn at(&self, f: f64) -> f64 {
        let (lo, hi) = (self.freqs[0], self.freqs[self.freqs.len() - 1]);
        if !(lo..=hi).contains(&f) {
            return f64::INFINITY;
        }
        let i = self.freqs.partition_point(|&x| x <= f).min(self.freqs.len() - 1).max(1);
        let (f0, f1) = (self.freqs[i - 1], self.freqs[i]);
        let (s0, s1) = (self.values[i - 1], self.values[i]);
        s0 + (s1 - s0) * (f - f0) / (f1 - f0)
    }
}

/// The text of a user's curve file; a folder, device or pipe is refused before it is read.
fn read_curve(path: &std::path::Path) -> Result<String, SimError> {
    let fail = |message: String| SimError::File { path: path.to_path_buf(), message };
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("{e}; name the noise curve's two-column text file (relative paths are read from the spec's folder)")))?;
    if !meta.is_file() {
        return Err(fail("is not a regular file; name the noise curve's two-column text file".into()));
    }
    // Tabulated curves are kilobytes; a large file is not one.
    if meta.len() > 64 << 20 {
        return Err(fail(format!("is {} bytes, too large for a noise curve (two columns: frequency, ASD or PSD)", meta.len())));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    String::from_utf8(bytes).map_err(|_| fail("is not text; a noise curve is two whitespace-separated columns (frequency, ASD or PSD)".into()))
}

/// A parse error of a user's file, named by the file.
fn in_file(path: &std::path::Path, e: SimError) -> SimError {
    let message = match e {
        SimError::Psd(m) => format!("{m} (a noise curve is two whitespace-separated columns: frequency in Hz, then the ASD or PSD)"),
        other => other.to_string(),
    };
    SimError::File { path: path.to_path_buf(), message }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ASD files are read as bilby reads them: S(f) = ASD(f)², linear between the rows.
    #[test]
    fn shipped_asd_curves_are_squared() {
        let o4 = Psd::shipped(super::super::PsdKind::AligoO4High);
        assert_eq!(o4.at(10.21659), 6.662774e-21f64.powi(2));
        assert!(o4.at(10.0).is_infinite() && o4.at(4995.379).is_infinite());
        let adv = Psd::shipped(super::super::PsdKind::AdVirgo);
        assert_eq!(adv.at(10.0), 1.1075847e-21f64.powi(2));
        assert!(adv.at(9.99).is_infinite());
        // At 100 Hz both sit near 4e-24/√Hz (O4) and 6e-24/√Hz (AdV): the curves' scale is right.
        assert!((3e-24..5e-24).contains(&o4.at(100.0).sqrt()), "{}", o4.at(100.0).sqrt());
        assert!((4e-24..8e-24).contains(&adv.at(100.0).sqrt()), "{}", adv.at(100.0).sqrt());
    }

    /// The O3 curves of LIGO-T1800545 are read as ASDs: aLIGO near 5.6e-24/√Hz and AdV
    /// near 1e-23/√Hz at 100 Hz, infinite below their first row.
    #[test]
    fn o3_curves_are_the_t1800545_asds() {
        let o3 = Psd::shipped(super::super::PsdKind::AligoO3Low);
        assert_eq!(o3.at(9.0), 1.745156e-21f64.powi(2));
        assert!(o3.at(8.9).is_infinite());
        assert!((5.5e-24..5.8e-24).contains(&o3.at(100.0).sqrt()), "{}", o3.at(100.0).sqrt());
        let adv = Psd::shipped(super::super::PsdKind::AdVirgoO3Low);
        assert!(adv.at(9.9).is_infinite() && adv.at(10.0).is_finite());
        assert!((5e-24..2e-23).contains(&adv.at(100.0).sqrt()), "{}", adv.at(100.0).sqrt());
    }

    #[test]
    fn interpolates_and_is_infinite_outside() {
        let p = Psd::aligo_design();
        assert_eq!(p.at(9.0), 3.0174201e-42);
        assert!(p.at(8.99).is_infinite() && p.at(0.0).is_infinite() && p.at(9000.0).is_infinite());
        // bilby's interpolated values printed by the reference script.
        for (f, s) in [(20.0, 3.6644e-46), (50.0, 2.5263e-47), (100.0, 1.5909e-47), (128.0, 1.4923e-47)] {
            assert!((p.at(f) / s - 1.0).abs() < 1e-4, "S({f}) = {}", p.at(f));
        }
    }
}
