//! The `gw_bbh` simulator against LALSimulation and bilby (tests/data/README.md says how the
//! reference files were made).

use crate::util::root;
use ndelab::sim::gw::detector::Detector;
use ndelab::sim::gw::waveform::{Band, Source};
use ndelab::math::StreamFamily;
use ndelab::sim::{GwBbh, Simulator};
use ndelab::sim::Prior;
use ndelab::sim::gw::{Approximant, GwBbhSpec};

fn csv(name: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(root().join("tests/data").join(name))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(',').map(|c| c.trim().to_string()).collect())
        .collect()
}

fn check_waveform(file: &str, approximant: Approximant) {
    let src = Source::non_spinning(50.0, 40.0, 2000.0, 0.0, 0.0);
    let (hp, hc) = Band::new(approximant, 20.0, 128.0, 1.0, 129).polarizations(&src, 20.0).unwrap();
    let mut worst: f64 = 0.0;
    for row in csv(file) {
        let v: Vec<f64> = row.iter().map(|c| c.parse().unwrap()).collect();
        let k = v[0] as usize;
        for (ours, (re, im)) in [(hp[k], (v[1], v[2])), (hc[k], (v[3], v[4]))] {
            let lal = realfft::num_complex::Complex::new(re, im);
            if lal.norm() == 0.0 {
                assert_eq!(ours.norm(), 0.0, "f = {k} Hz: LAL is zero, ours {ours}");
            } else {
                worst = worst.max((ours - lal).norm() / lal.norm());
            }
        }
    }
    eprintln!("{file}: worst relative difference {worst:.2e}");
    assert!(worst < 1e-6, "{file}: worst relative difference {worst:e}");
}

#[test]
fn imrphenomd_matches_lalsimulation() {
    check_waveform("IMRPhenomD_m50_40_d2000_df1_fmin20.csv", Approximant::IMRPhenomD);
}

#[test]
fn taylorf2_matches_lalsimulation() {
    check_waveform("TaylorF2_m50_40_d2000_df1_fmin20.csv", Approximant::TaylorF2);
}

#[test]
fn antenna_patterns_and_delays_match_bilby() {
    let tref = 1126259642.5;
    let rows = csv("antenna_reference.csv");
    assert_eq!(rows.len(), 10);
    let mut worst: f64 = 0.0;
    for row in &rows[1..] {
        let det = Detector::by_name(&row[0]).unwrap();
        let v: Vec<f64> = row[1..].iter().map(|c| c.parse().unwrap()).collect();
        let (ra, dec, psi, t) = (v[0], v[1], v[2], tref + v[3]);
        let (fp, fx) = det.antenna_response(ra, dec, psi, t);
        let dt = det.time_delay_from_geocenter(ra, dec, t);
        assert!((fp - v[4]).abs() < 1e-9, "{} F+ {fp} vs {}", row[0], v[4]);
        assert!((fx - v[5]).abs() < 1e-9, "{} Fx {fx} vs {}", row[0], v[5]);
        assert!((dt - v[6]).abs() < 1e-9, "{} dt {dt} vs {}", row[0], v[6]);
        worst = worst.max((fp - v[4]).abs()).max((fx - v[5]).abs()).max((dt - v[6]).abs());
    }
    eprintln!("antenna patterns and delays: worst absolute difference {worst:.2e}");
}

/// The reference injection: m1 = 50, m2 = 40, d_L = 2000 Mpc, t0 = 0.25 s, face-on.
fn reference_injection() -> (GwBbh, Vec<f64>) {
    let mut spec = GwBbhSpec::default();
    spec.priors.m1 = Prior::Fixed { value: 50.0 };
    spec.priors.m2 = Prior::Fixed { value: 40.0 };
    spec.priors.d_l = Prior::Fixed { value: 2000.0 };
    spec.priors.t0 = Prior::Fixed { value: 0.25 };
    spec.priors.phase = Prior::Uniform { min: 0.0, max: 1.0 };
    let sim = GwBbh::new(&spec).unwrap();
    let mut h = vec![0.0; 256];
    sim.simulate_signal(&[0.0], &mut h).unwrap();
    (sim, h)
}

#[test]
fn whitened_injection_and_snr_match_bilby() {
    let (sim, h) = reference_injection();
    let reference: Vec<f64> = csv("vitamin_like_whitened_IMRPhenomD_H1.csv").iter().map(|r| r[0].parse().unwrap()).collect();
    assert_eq!(reference.len(), 256);
    let diff: f64 = h.iter().zip(&reference).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
    let norm: f64 = reference.iter().map(|b| b * b).sum::<f64>().sqrt();
    assert!(diff / norm < 1e-5, "relative L2 difference {:e}", diff / norm);
    let snr = sim.optimal_snr(&h).unwrap();
    eprintln!("whitened injection: relative L2 difference {:.2e}; optimal SNR {snr:.6}", diff / norm);
    assert!((snr - 14.00959).abs() < 1e-4, "optimal SNR {snr}");
}

/// A network with a noise curve per detector (H1 and L1 at O4 sensitivity, V1 at Advanced
/// Virgo's), an inclined binary at a sky position that reaches all three: the whitened strain
/// of every detector and its optimal SNR against bilby's (bench/gw_network_reference.py).
#[test]
fn a_network_with_a_curve_per_detector_matches_bilby() {
    use ndelab::sim::gw::{NoiseCurve, PsdKind, PsdSetting};
    let mut spec = GwBbhSpec { detectors: vec!["H1".into(), "L1".into(), "V1".into()], sampling_frequency: 512.0, ..Default::default() };
    spec.psd = PsdSetting::PerDetector(
        [("H1", PsdKind::AligoO4High), ("L1", PsdKind::AligoO4High), ("V1", PsdKind::AdVirgo)].into_iter().map(|(d, k)| (d.to_string(), NoiseCurve::Shipped(k))).collect(),
    );
    for (prior, value) in [(&mut spec.priors.m1, 50.0), (&mut spec.priors.m2, 40.0), (&mut spec.priors.d_l, 2000.0), (&mut spec.priors.t0, 0.25)] {
        *prior = Prior::Fixed { value };
    }
    for (prior, value) in [(&mut spec.priors.theta_jn, 0.5), (&mut spec.priors.psi, 0.3)] {
        *prior = Prior::Fixed { value };
    }
    spec.priors.phase = Prior::Fixed { value: 1.1 };
    spec.priors.ra = Prior::Uniform { min: 1.0, max: 2.0 };
    let sim = GwBbh::new(&spec).unwrap();
    let mut h = vec![0.0; 3 * 512];
    sim.simulate_signal(&[1.375], &mut h).unwrap();
    let text = std::fs::read_to_string(root().join("tests/data/network_whitened_IMRPhenomD.csv")).unwrap();
    let snrs: Vec<f64> = text.lines().next().unwrap().rsplit("optimal SNR ").next().unwrap().split(' ').map(|v| v.parse().unwrap()).collect();
    let rows: Vec<Vec<f64>> = text.lines().skip(1).map(|l| l.split(',').map(|v| v.parse().unwrap()).collect()).collect();
    assert_eq!(rows.len(), 512);
    let mut report = Vec::new();
    for (d, det) in ["H1", "L1", "V1"].iter().enumerate() {
        let ours = &h[d * 512..(d + 1) * 512];
        let theirs: Vec<f64> = rows.iter().map(|r| r[d]).collect();
        let diff = ours.iter().zip(&theirs).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
        let norm = theirs.iter().map(|b| b * b).sum::<f64>().sqrt();
        let snr = ours.iter().map(|v| v * v).sum::<f64>().sqrt();
        report.push(format!("{det}: relative L2 {:.2e}, SNR {snr:.6} (bilby {:.6})", diff / norm, snrs[d]));
        assert!(diff / norm < 1e-5, "{det}: relative L2 difference {:e}", diff / norm);
        assert!((snr / snrs[d] - 1.0).abs() < 1e-5, "{det}: optimal SNR {snr} against bilby's {}", snrs[d]);
    }
    eprintln!("network: {}", report.join("; "));
}

#[test]
fn whitened_noise_has_the_variance_of_the_finite_psd_bins() {
    let (sim, _) = reference_injection();
    let streams = StreamFamily::new(1, "noise-test");
    let mut all = Vec::with_capacity(2000 * 256);
    let mut buf = vec![0.0; 256];
    for i in 0..2000 {
        sim.sample_noise(&mut streams.rng(i), &mut buf);
        all.extend_from_slice(&buf);
    }
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    let std = (all.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / all.len() as f64).sqrt();
    eprintln!("whitened noise: std {std:.4} over 2000 draws");
    assert!((std - 0.964).abs() < 0.01, "whitened noise std {std}");
}

/// The simulator's version, part of every GW dataset key, names the waveform library's version
/// (from Cargo.lock), so that a new waveformrs cannot serve stale cached signals.
#[test]
fn the_dataset_key_follows_the_waveform_library() {
    let sim = GwBbh::new(&GwBbhSpec::default()).unwrap();
    let v = sim.version();
    let lib = v.split_once("+waveformrs-").map(|(_, l)| l).unwrap_or_else(|| panic!("{v}"));
    assert!(lib.split('.').count() == 3 && lib.split('.').all(|p| p.parse::<u32>().is_ok()), "{v}");
}

/// `domain: frequency` holds the same information as the whitened segment: the reference
/// injection's Σ x² is bilby's optimal SNR² in both, its noise is N(0, 1) in every value of the
/// band, and the likelihood at the truth of a noisy observation is −½ χ² of the noise alone.
#[test]
fn frequency_domain_data_carry_the_snr_and_unit_noise() {
    use ndelab::sim::gw::Domain;
    let fixed = |spec: &mut GwBbhSpec| {
        spec.priors.m1 = Prior::Fixed { value: 50.0 };
        spec.priors.m2 = Prior::Fixed { value: 40.0 };
        spec.priors.t0 = Prior::Fixed { value: 0.25 };
        spec.priors.phase = Prior::Fixed { value: 0.0 };
        spec.priors.d_l = Prior::Uniform { min: 1000.0, max: 3000.0 };
    };
    let mut spec = GwBbhSpec { domain: Domain::Frequency, ..Default::default() };
    fixed(&mut spec);
    let sim = GwBbh::new(&spec).unwrap();
    // 20..=128 Hz at 1 Hz: 109 bins, real and imaginary parts.
    assert_eq!(sim.data_dim(), 2 * 109);
    let mut x = vec![0.0; sim.data_dim()];
    sim.simulate_signal(&[2000.0], &mut x).unwrap();
    let snr = sim.optimal_snr(&x).unwrap();
    assert!((snr - 14.00959).abs() < 1e-4, "optimal SNR {snr}");
    let streams = StreamFamily::new(3, "noise-test");
    let (mut sum, mut sum2, mut count) = (0.0, 0.0, 0usize);
    let mut noise = vec![0.0; sim.data_dim()];
    for i in 0..4000 {
        sim.sample_noise(&mut streams.rng(i), &mut noise);
        for v in &noise {
            sum += v;
            sum2 += v * v;
            count += 1;
        }
    }
    let (mean, var) = (sum / count as f64, sum2 / count as f64 - (sum / count as f64).powi(2));
    assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.01, "noise mean {mean}, variance {var}");
    let data: Vec<f64> = x.iter().zip(&noise).map(|(s, n)| s + n).collect();
    let log_l = sim.log_likelihood(&[2000.0], &data).unwrap();
    let chi2 = noise.iter().map(|n| n * n).sum::<f64>();
    assert!((log_l + 0.5 * chi2).abs() < 1e-9, "log L {log_l} against −χ²/2 {}", -0.5 * chi2);
    // The truth is likelier than a distance 20% off.
    assert!(log_l > sim.log_likelihood(&[2400.0], &data).unwrap());
    eprintln!("frequency domain: SNR {snr:.6}, noise mean {mean:.4} variance {var:.4}");
}

/// A two-detector network with O4 noise in the frequency domain trains, checks its posteriors
/// and exports its injections with the layout written down.
#[test]
fn a_frequency_domain_network_run_trains_and_exports() {
    use crate::util::{ndelab, run, stderr, TempDir};
    let tmp = TempDir::new("gw-fd");
    let spec = tmp.path().join("fd.yaml");
    std::fs::write(
        &spec,
        "name: fd\ndataset:\n  simulator: gw_bbh\n  n_train: 4000\n  n_val: 500\n  n_test: 100\n  gw_bbh: { detectors: [H1, L1], domain: frequency, f_max: 100, psd: { H1: aLIGO_O4_high, L1: aLIGO_O4_high } }\nmodel:\n  kind: gaussian\n  hidden: [64, 64]\ntraining:\n  epochs: 3\neval:\n  metrics: [test_nll, pp]\n  pp_injections: 50\n",
    )
    .unwrap();
    let results = tmp.path().join("results");
    let out = run(ndelab(&results).arg("run").arg(&spec));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dir = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(dir.join("eval.parquet").is_file() && dir.join("plots/pp.png").is_file());
    let inj = tmp.path().join("inj");
    let out = run(ndelab(&results).arg("export-injections").arg(&spec).arg("--out").arg(&inj));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let conventions: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(inj.join("injections.json")).unwrap()).unwrap();
    let gw = &conventions["gw_bbh"];
    assert_eq!(gw["domain"], "frequency");
    assert!(gw["data_layout"].as_str().unwrap().contains("frequency bins 20..=100"), "{}", gw["data_layout"]);
    assert_eq!(gw["psd"]["L1"]["bilby"]["asd_file"], "aLIGO_O4_high_asd.txt");
}
