//! The `gw_network` simulator against bilby 2.8.2 (bench/gw_network_likelihood.py): an H1, L1
//! and V1 network with IMRPhenomXAS and aligned spins, its whitened signal and optimal SNRs,
//! and the log-likelihood of noisy data at 100 parameter points (10 injections) against bilby's
//! GravitationalWaveTransient; and a small run from a spec.

use crate::util::{ndelab, root, run, stderr, TempDir};
use ndelab::sim::gw_network::GwNetworkSpec;
use ndelab::sim::{Prior, SimulatorConfig};

fn network() -> GwNetworkSpec {
    let mut spec = GwNetworkSpec { detectors: vec!["H1".into(), "L1".into(), "V1".into()], sampling_frequency: 512.0, ..Default::default() };
    spec.priors.insert("chirp_mass".into(), Prior::UniformInComponentsChirpMass { min: 25.0, max: 40.0 });
    spec.priors.insert("luminosity_distance".into(), Prior::UniformSourceFrame { min: 300.0, max: 1000.0 });
    spec
}

/// Rows of a C-ordered float32 or float64 `.npy` file written by NumPy, as f64.
fn npy_rows(name: &str) -> Vec<Vec<f64>> {
    let bytes = std::fs::read(root().join("tests/data").join(name)).unwrap();
    let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = String::from_utf8_lossy(&bytes[10..10 + len]).to_string();
    let shape = &header[header.find("'shape': (").unwrap() + 10..];
    let dims: Vec<usize> = shape[..shape.find(')').unwrap()].split(',').filter_map(|d| d.trim().parse().ok()).collect();
    let body = &bytes[10 + len..];
    let values: Vec<f64> = if header.contains("'<f8'") {
        body.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect()
    } else {
        body.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64).collect()
    };
    values.chunks(dims[1]).map(|r| r.to_vec()).collect()
}

fn csv_rows(name: &str) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(root().join("tests/data").join(name)).unwrap();
    text.lines().skip(1).map(|l| l.split(',').map(|x| x.parse().unwrap()).collect()).collect()
}

/// Ten injections from bilby's prior: each detector's whitened signal (relative L2) and optimal
/// SNR, and the log-likelihood of the noisy data at 100 points, against bilby's.
#[test]
fn the_network_signal_and_likelihood_match_bilby() {
    let spec = network();
    spec.validate().unwrap();
    let sim = spec.build().unwrap();
    let names = sim.parameters().iter().map(|p| p.name.clone()).collect::<Vec<_>>();
    assert_eq!(names, ["chirp_mass", "mass_ratio", "chi_1", "chi_2", "luminosity_distance", "dec", "ra", "theta_jn", "psi", "phase", "geocent_time"]);
    let injections = csv_rows("network_injections.csv");
    let (signals, data) = (npy_rows("network_signal.npy"), npy_rows("network_data.npy"));
    assert_eq!((injections.len(), signals.len(), data.len()), (10, 10, 10));
    let per = sim.data_dim() / 3;
    let (mut worst_l2, mut worst_snr) = (0.0f64, 0.0f64);
    for (row, want) in injections.iter().zip(&signals) {
        assert_eq!(want.len(), sim.data_dim());
        let mut h = vec![0.0; sim.data_dim()];
        sim.simulate_signal(&row[..11], &mut h).unwrap();
        for d in 0..3 {
            let (ours, theirs) = (&h[d * per..(d + 1) * per], &want[d * per..(d + 1) * per]);
            let diff = ours.iter().zip(theirs).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
            let l2 = diff / theirs.iter().map(|b| b * b).sum::<f64>().sqrt();
            let snr = ours.iter().map(|v| v * v).sum::<f64>().sqrt();
            let snr_error = (snr / row[11 + d] - 1.0).abs();
            assert!(l2 < 1e-5, "detector {d}: whitened signal {l2:.1e} (relative L2) from bilby's at {:?}", &row[..11]);
            assert!(snr_error < 1e-6, "detector {d}: SNR {snr} against bilby's {}", row[11 + d]);
            (worst_l2, worst_snr) = (worst_l2.max(l2), worst_snr.max(snr_error));
        }
    }
    let mut worst = 0.0f64;
    let points = csv_rows("network_likelihood.csv");
    assert_eq!(points.len(), 100);
    let mut outside = 0;
    for v in &points {
        let ours = sim.log_likelihood(&v[1..12], &data[v[0] as usize]).unwrap();
        // bilby's likelihood ignores the prior's mass constraint; ndelab's is -inf outside it
        // (so that nested sampling, which explores the unconstrained priors, meets it).
        let (mc, q) = (v[1], v[2]);
        let m1 = mc * (1.0 + q).powf(0.2) / q.powf(0.6);
        if !(5.0..=100.0).contains(&m1) || !(5.0..=100.0).contains(&(q * m1)) {
            assert_eq!(ours, f64::NEG_INFINITY, "outside the mass constraint at {:?}", &v[1..12]);
            outside += 1;
            continue;
        }
        let diff = (ours - v[12]).abs();
        worst = worst.max(diff);
        assert!(diff < 1e-3 || diff < 1e-6 * v[12].abs(), "log L {ours} against bilby's {} at {:?}", v[12], &v[1..12]);
    }
    assert!(outside < 10, "{outside} points outside the constraint");
    eprintln!("gw_network, 10 injections: whitened signals within {worst_l2:.1e} (relative L2) and SNRs within {worst_snr:.1e} (relative) of bilby's; log-likelihood at {} points within {worst:.1e} ({outside} outside the mass constraint)", 100 - outside);
}

#[test]
fn a_small_network_run_trains_from_a_spec() {
    let tmp = TempDir::new("gw-network");
    let spec = tmp.path().join("net.yaml");
    std::fs::write(
        &spec,
        "name: net\ndataset:\n  simulator: gw_network\n  n_train: 2000\n  n_val: 200\n  n_test: 50\n  gw_network:\n    sampling_frequency: 256\n    duration: 2\n    post_trigger_duration: 1\n    priors: { chirp_mass: { kind: uniform_in_components_chirp_mass, min: 25, max: 35 }, ra: 1.0, dec: 0.5 }\nmodel:\n  kind: gaussian\n  hidden: [32]\ntraining:\n  epochs: 2\neval:\n  metrics: [test_nll]\n",
    )
    .unwrap();
    let out = run(ndelab(&tmp.path().join("results")).arg("run").arg(&spec));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let resolved = std::fs::read_to_string(std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("spec.resolved.yaml")).unwrap();
    // bilby reads what export-injections writes, priors included.
    let inj = tmp.path().join("inj");
    let out = run(ndelab(&tmp.path().join("results")).arg("export-injections").arg(&spec).arg("--out").arg(&inj));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let conventions: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(inj.join("injections.json")).unwrap()).unwrap();
    let lines: Vec<&str> = conventions["gw_network"]["bilby_prior_file"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert!(lines.contains(&"mass_1 = Constraint(name='mass_1', minimum=5, maximum=100)"), "{lines:?}");
    assert!(lines.contains(&"chirp_mass = bilby.gw.prior.UniformInComponentsChirpMass(name='chirp_mass', minimum=25, maximum=35)"), "{lines:?}");
    assert!(lines.contains(&"ra = DeltaFunction(name='ra', peak=1)"), "{lines:?}");
    assert!(resolved.contains("infer:\n  - chirp_mass\n  - mass_ratio\n  - chi_1\n  - chi_2\n  - luminosity_distance\n  - theta_jn\n  - psi\n  - geocent_time\n"), "{resolved}");
}

/// Precessing spins (IMRPhenomXPHM) in a three-detector network train from a spec too.
#[test]
fn a_precessing_network_run_trains() {
    let tmp = TempDir::new("gw-network-p");
    let spec = tmp.path().join("p.yaml");
    std::fs::write(
        &spec,
        "name: p\ndataset:\n  simulator: gw_network\n  n_train: 2000\n  n_val: 200\n  n_test: 50\n  gw_network:\n    detectors: [H1, L1, V1]\n    sampling_frequency: 256\n    duration: 2\n    post_trigger_duration: 1\n    approximant: IMRPhenomXPHM\n    spins: precessing\nmodel:\n  kind: gaussian\n  hidden: [32]\ntraining:\n  epochs: 2\neval:\n  metrics: [test_nll]\n",
    )
    .unwrap();
    let out = run(ndelab(&tmp.path().join("results")).arg("run").arg(&spec));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// 10⁵ prior draws of `gw_network` (bilby's aligned_spins_bbh.prior, the mass constraint by
/// rejection) against 10⁶ of bilby's own: a two-sample Kolmogorov–Smirnov test per parameter,
/// the statistic taken at 201 points of each range (tests/data/bilby_bbh_prior_cdf.csv).
#[test]
fn the_network_prior_draws_as_bilby_does() {
    use ndelab::math::StreamFamily;
    let sim = GwNetworkSpec::default().build().unwrap();
    let names: Vec<String> = sim.parameters().iter().map(|p| p.name.clone()).collect();
    let n = 100_000;
    let streams = StreamFamily::new(11, "t/network-prior");
    let mut theta = vec![0.0; names.len()];
    let mut columns = vec![Vec::with_capacity(n); names.len()];
    for i in 0..n {
        sim.sample_prior(&mut streams.rng(i as u64), &mut theta);
        for (c, &v) in columns.iter_mut().zip(&theta) {
            c.push(v);
        }
    }
    columns.iter_mut().for_each(|c| c.sort_by(f64::total_cmp));
    let text = std::fs::read_to_string(root().join("tests/data/bilby_bbh_prior_cdf.csv")).unwrap();
    let mut report = Vec::new();
    for (j, name) in names.iter().enumerate().filter(|(_, n)| *n != "geocent_time") {
        let mut d = 0.0f64;
        let mut m = 0.0;
        for row in text.lines().skip(1).filter(|l| l.starts_with(&format!("{name},"))) {
            let v: Vec<f64> = row.split(',').skip(1).map(|x| x.parse().unwrap()).collect();
            let ours = columns[j].partition_point(|&t| t <= v[0]) as f64 / n as f64;
            d = d.max((ours - v[1]).abs());
            m = v[2];
        }
        let effective = (n as f64 * m / (n as f64 + m)).sqrt();
        let lambda = d * effective;
        let p: f64 = (1..=100).map(|k| 2.0 * (-1f64).powi(k - 1) * (-2.0 * (k as f64 * lambda).powi(2)).exp()).sum::<f64>().clamp(0.0, 1.0);
        report.push(format!("{name} {p:.3}"));
        assert!(p > 1e-3, "{name}: KS p {p} of the network prior against bilby's draws (D = {d})");
    }
    eprintln!("gw_network prior against bilby, KS p: {}", report.join(", "));
}

/// The share of the default mass priors inside bilby's mass constraint, which normalises the
/// constrained prior (and so the evidence): bilby's own distribution functions integrated by
/// scipy's quad give 0.25139159623988605 (bench/bilby_priors.py); 4·10⁶ of bilby's draws give
/// 0.2511 ± 0.0002.
#[test]
fn the_mass_constraint_share_normalises_the_prior_as_bilby_does() {
    let spec = GwNetworkSpec::default();
    let share = spec.mass_constraint_share();
    assert!((share - 0.25139159623988605).abs() < 1e-6, "share {share}");
    let sim = spec.build().unwrap();
    assert!((sim.log_prior_volume() - share.ln()).abs() < 1e-12);
    // A tighter constraint keeps less; one wider than the priors keeps everything.
    let tight = GwNetworkSpec { mass_constraint: ndelab::sim::gw_network::MassConstraint { min: 20.0, max: 80.0 }, ..Default::default() };
    assert!(tight.mass_constraint_share() < share);
    let wide = GwNetworkSpec { mass_constraint: ndelab::sim::gw_network::MassConstraint { min: 1.0, max: 1000.0 }, ..Default::default() };
    assert!((wide.mass_constraint_share() - 1.0).abs() < 1e-9);
}

/// A user's noise-curve file per detector: an ASD file and a PSD file holding bilby's O4 curve
/// whiten exactly as the shipped curve does; the dataset key follows the file's contents, not
/// its path; the export carries each detector's curve; a bad file is refused with its line.
#[test]
fn users_noise_curve_files_whiten_as_the_shipped_curve() {
    use ndelab::sim::gw::{NoiseCurve, PsdSetting};
    let tmp = TempDir::new("gw-curves");
    let o4 = std::fs::read_to_string(root().join("data/aLIGO_O4_high_asd.txt")).unwrap();
    std::fs::write(tmp.path().join("h1_asd.txt"), &o4).unwrap();
    let squared: String = o4
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Vec<f64> = l.split_whitespace().map(|x| x.parse().unwrap()).collect();
            format!("{:e} {:e}\n", v[0], v[1] * v[1])
        })
        .collect();
    std::fs::write(tmp.path().join("l1_psd.txt"), squared).unwrap();
    let mut spec = network();
    spec.detectors = vec!["H1".into(), "L1".into()];
    let shipped = spec.build().unwrap();
    spec.psd = Some(PsdSetting::PerDetector(
        [
            ("H1".to_string(), NoiseCurve::AsdFile { asd_file: tmp.path().join("h1_asd.txt") }),
            ("L1".to_string(), NoiseCurve::PsdFile { psd_file: tmp.path().join("l1_psd.txt") }),
        ]
        .into_iter()
        .collect(),
    ));
    let users = spec.build().unwrap();
    let theta = csv_rows("network_injections.csv")[0][..11].to_vec();
    let (mut a, mut b) = (vec![0.0; shipped.data_dim()], vec![0.0; users.data_dim()]);
    shipped.simulate_signal(&theta, &mut a).unwrap();
    users.simulate_signal(&theta, &mut b).unwrap();
    let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f64, f64::max);
    assert!(worst < 1e-12 * a.iter().fold(0.0f64, |m, v| m.max(v.abs())), "largest difference {worst}");

    // From a spec: relative paths are read from the spec's folder; the key holds the contents.
    let yaml = |curve: &str| {
        format!("name: c\ndataset:\n  simulator: gw_network\n  n_train: 300\n  n_val: 30\n  n_test: 8\n  gw_network:\n    detectors: [H1, L1]\n    sampling_frequency: 256\n    duration: 2\n    post_trigger_duration: 1\n    psd: {{ H1: {curve}, L1: aLIGO_O4_high }}\nmodel:\n  kind: gaussian\n  hidden: [16]\ntraining:\n  epochs: 1\n  batch_size: 100\neval:\n  metrics: [test_nll]\n")
    };
    let spec_file = tmp.path().join("c.yaml");
    let key = |curve: &str| {
        std::fs::write(&spec_file, yaml(curve)).unwrap();
        let out = run(ndelab(&tmp.path().join("results")).arg("key").arg("explain").arg(&spec_file));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let line = text.lines().find(|l| l.contains("dataset key")).unwrap_or_default().to_string();
        (line, text)
    };
    let (k_file, explained) = key("{ asd_file: h1_asd.txt }");
    assert!(explained.contains("sha256:"), "{explained}");
    std::fs::copy(tmp.path().join("h1_asd.txt"), tmp.path().join("copy.txt")).unwrap();
    assert_eq!(key("{ asd_file: copy.txt }").0, k_file, "the same contents under another name");
    assert_ne!(key("aLIGO_O4_high").0, k_file);
    std::fs::write(tmp.path().join("copy.txt"), o4.replacen("e-21", "e-22", 1)).unwrap();
    assert_ne!(key("{ asd_file: copy.txt }").0, k_file, "changed contents");

    // The export holds each detector's curve as bilby reads it.
    std::fs::write(&spec_file, yaml("{ asd_file: h1_asd.txt }")).unwrap();
    let inj = tmp.path().join("inj");
    let out = run(ndelab(&tmp.path().join("results")).arg("export-injections").arg(&spec_file).arg("--out").arg(&inj));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(inj.join("H1_asd.txt")).unwrap(), o4);
    assert!(inj.join("L1_asd.txt").is_file());
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(inj.join("injections.json")).unwrap()).unwrap();
    assert_eq!(manifest["gw_network"]["psd"]["H1"]["file"], "H1_asd.txt");
    assert_eq!(manifest["gw_network"]["psd"]["L1"]["bilby"]["asd_file"], "aLIGO_O4_high_asd.txt");

    // A malformed file or a missing one: exit 2, the file and the fault named.
    std::fs::write(tmp.path().join("bad.txt"), "10 1e-21\n20 -3e-22\n").unwrap();
    std::fs::write(&spec_file, yaml("{ asd_file: bad.txt }")).unwrap();
    let out = run(ndelab(&tmp.path().join("results")).arg("run").arg(&spec_file));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("bad.txt: line 2: needs a finite frequency ≥ 0 and a finite noise level > 0, found 2e1 -3e-22 (a noise curve is two whitespace-separated columns: frequency in Hz, then the ASD or PSD)"), "{}", stderr(&out));
    std::fs::write(&spec_file, yaml("{ asd_file: missing.txt }")).unwrap();
    let out = run(ndelab(&tmp.path().join("results")).arg("run").arg(&spec_file));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("missing.txt: No such file or directory"), "{}", stderr(&out));
    assert!(!tmp.path().join("results/runs").exists() || std::fs::read_dir(tmp.path().join("results/runs")).unwrap().next().is_none());
}
