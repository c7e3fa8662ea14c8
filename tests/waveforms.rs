//! The frequency-domain models against LALSimulation 6.2.1 (the lalsuite wheel): IMRPhenomXAS
//! with aligned spins and IMRPhenomXPHM with precessing spins and higher modes, at 20
//! parameter points each (tests/data/lal_waveform_points.csv; bench/lal_waveforms.py made
//! them, with LAL's multibanding off, which waveformrs does not implement).

use crate::util::root;
use ndelab::sim::gw::waveform::{Band, Source};
use ndelab::sim::gw::Approximant;
use realfft::num_complex::Complex;

fn csv(name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(root().join("tests/data").join(name)).unwrap();
    text.lines().skip(1).map(|l| l.split(',').map(str::to_string).collect()).collect()
}

/// 1 − the overlap of a and b maximised over nothing (same time and phase): what a
/// likelihood would see, with a flat noise curve over the band.
fn mismatch(a: &[Complex<f64>], b: &[Complex<f64>]) -> f64 {
    let inner = |x: &[Complex<f64>], y: &[Complex<f64>]| x.iter().zip(y).map(|(p, q)| (p * q.conj()).re).sum::<f64>();
    1.0 - inner(a, b) / (inner(a, a) * inner(b, b)).sqrt()
}

#[test]
fn imrphenomx_models_match_lalsimulation() {
    let (df, f_min, f_max, f_ref) = (4.0, 20.0, 512.0, 20.0);
    let bins = (f_max / df) as usize + 1;
    let points = csv("lal_waveform_points.csv");
    let waves = csv("lal_waveforms.csv");
    let mut report = Vec::new();
    for approx in ["IMRPhenomXAS", "IMRPhenomXPHM"] {
        let model = if approx == "IMRPhenomXAS" { Approximant::IMRPhenomXAS } else { Approximant::IMRPhenomXPHM };
        let band = Band::new(model, f_min, f_max, df, bins);
        let (mut worst_mismatch, mut worst_bin) = (0.0f64, 0.0f64);
        for p in points.iter().filter(|p| p[0] == approx) {
            let v = |i: usize| p[i].parse::<f64>().unwrap();
            let src = Source { m1: v(2), m2: v(3), spin_1: [v(4), v(5), v(6)], spin_2: [v(7), v(8), v(9)], d_l: v(10), theta_jn: v(11), phase: v(12) };
            let (hp, hc) = band.polarizations(&src, f_ref).unwrap_or_else(|e| panic!("{approx} point {}: {e}", p[1]));
            let rows: Vec<&Vec<String>> = waves.iter().filter(|w| w[0] == approx && w[1] == p[1]).collect();
            let lal = |re: usize| -> Vec<Complex<f64>> {
                let mut out = vec![Complex::new(0.0, 0.0); bins];
                for r in &rows {
                    out[r[2].parse::<usize>().unwrap()] = Complex::new(r[re].parse().unwrap(), r[re + 1].parse().unwrap());
                }
                out
            };
            let (lp, lc) = (lal(3), lal(5));
            for (ours, theirs) in [(&hp, &lp), (&hc, &lc)] {
                worst_mismatch = worst_mismatch.max(mismatch(ours, theirs));
                // The largest difference in any bin, relative to the largest value of the series.
                let scale = theirs.iter().map(|z| z.norm()).fold(0.0, f64::max);
                let bin = ours.iter().zip(theirs.iter()).map(|(a, b)| (a - b).norm() / scale).fold(0.0, f64::max);
                worst_bin = worst_bin.max(bin);
            }
        }
        report.push(format!("{approx}: largest mismatch {worst_mismatch:.1e}, largest difference in a bin {worst_bin:.1e} of the series' peak"));
        assert!(worst_mismatch < 1e-6, "{approx}: mismatch {worst_mismatch:e} against LALSimulation");
    }
    eprintln!("{}", report.join("\n"));
}

/// bilby's spin angles to the waveform frame, against LALSimulation's
/// SimInspiralTransformPrecessingNewInitialConditions at 100 points
/// (tests/data/lal_precessing_spins.csv).
#[test]
fn precessing_spins_transform_as_lalsimulation_does() {
    use ndelab::sim::gw::spins::{waveform_spins, SpinAngles};
    let mut worst = 0.0f64;
    for row in csv("lal_precessing_spins.csv") {
        let v: Vec<f64> = row.iter().map(|x| x.parse().unwrap()).collect();
        let angles = SpinAngles { theta_jn: v[0], phi_jl: v[1], tilt_1: v[2], tilt_2: v[3], phi_12: v[4], a_1: v[5], a_2: v[6] };
        let got = waveform_spins(&angles, v[7], v[8], v[9], v[10]);
        let ours = [got.inclination, got.spin_1[0], got.spin_1[1], got.spin_1[2], got.spin_2[0], got.spin_2[1], got.spin_2[2]];
        for (a, b) in ours.iter().zip(&v[11..18]) {
            worst = worst.max((a - b).abs());
        }
    }
    eprintln!("precessing spins: largest difference from LALSimulation {worst:.1e}");
    assert!(worst < 1e-10, "largest difference from LALSimulation {worst:e}");
}
