//! The `gw_network` simulator against bilby 2.8.2 (bench/gw_network_likelihood.py): an H1, L1
//! and V1 network with IMRPhenomXAS and aligned spins, its whitened signal and optimal SNRs,
//! and the log-likelihood of noisy data at 40 parameter points against bilby's
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

#[test]
fn the_network_signal_and_likelihood_match_bilby() {
    let spec = network();
    spec.validate().unwrap();
    let sim = spec.build();
    let text = std::fs::read_to_string(root().join("tests/data/network_injection.csv")).unwrap();
    let header = text.lines().next().unwrap();
    let value = |name: &str| -> f64 {
        let at = header.find(&format!(" {name}=")).unwrap() + name.len() + 2;
        header[at..].split([' ', ';']).next().unwrap().parse().unwrap()
    };
    let names = sim.parameters().iter().map(|p| p.name.clone()).collect::<Vec<_>>();
    assert_eq!(names, ["chirp_mass", "mass_ratio", "chi_1", "chi_2", "luminosity_distance", "dec", "ra", "theta_jn", "psi", "phase", "geocent_time"]);
    let theta: Vec<f64> = names.iter().map(|n| value(n)).collect();
    let snrs: Vec<f64> = header.rsplit("optimal SNR ").next().unwrap().split(' ').map(|v| v.parse().unwrap()).collect();
    let data: Vec<f64> = text.lines().skip(1).map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(data.len(), sim.data_dim());
    let mut h = vec![0.0; sim.data_dim()];
    sim.simulate_signal(&theta, &mut h).unwrap();
    let per = sim.data_dim() / 3;
    for (d, want) in snrs.iter().enumerate() {
        let snr = h[d * per..(d + 1) * per].iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!((snr / want - 1.0).abs() < 1e-6, "detector {d}: SNR {snr} against bilby's {want}");
    }
    let mut worst = 0.0f64;
    let points = std::fs::read_to_string(root().join("tests/data/network_likelihood.csv")).unwrap();
    for line in points.lines().skip(1) {
        let v: Vec<f64> = line.split(',').map(|x| x.parse().unwrap()).collect();
        let ours = sim.log_likelihood(&v[..11], &data).unwrap();
        let diff = (ours - v[11]).abs();
        worst = worst.max(diff);
        assert!(diff < 1e-3 || diff < 1e-6 * v[11].abs(), "log L {ours} against bilby's {} at {:?}", v[11], &v[..11]);
    }
    eprintln!("gw_network: SNRs {snrs:?} as bilby's; log-likelihood at 40 points within {worst:.1e} of bilby's");
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
    let sim = GwNetworkSpec::default().build();
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
