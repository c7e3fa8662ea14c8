//! The prior families of bilby, as ndelab draws them, against bilby's own distribution
//! functions and astropy's Planck15 (tests/data/bilby_prior_cdf.csv, planck15_distances.csv;
//! bench/bilby_priors.py made them).

use crate::util::root;
use ndelab::math::cosmology::PLANCK15;
use ndelab::math::StreamFamily;
use ndelab::sim::Prior;
use std::f64::consts::{FRAC_PI_2, PI};

fn csv(name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(root().join("tests/data").join(name)).unwrap();
    text.lines().skip(1).map(|l| l.split(',').map(str::to_string).collect()).collect()
}

fn prior(family: &str, settings: &str) -> Prior {
    match (family, settings) {
        ("sine", "min=0 max=pi") => Prior::Sine { min: 0.0, max: PI },
        ("sine", "min=0.3 max=2.5") => Prior::Sine { min: 0.3, max: 2.5 },
        ("cosine", _) => Prior::Cosine { min: -FRAC_PI_2, max: FRAC_PI_2 },
        ("power_law", "alpha=2 min=10 max=1000") => Prior::PowerLaw { alpha: 2.0, min: 10.0, max: 1000.0 },
        ("power_law", "alpha=-1 min=1 max=100") => Prior::PowerLaw { alpha: -1.0, min: 1.0, max: 100.0 },
        ("power_law", "alpha=-2.35 min=5 max=80") => Prior::PowerLaw { alpha: -2.35, min: 5.0, max: 80.0 },
        ("aligned_spin", "a_max=1") => Prior::AlignedSpin { a_max: 1.0 },
        ("aligned_spin", "a_max=0.8") => Prior::AlignedSpin { a_max: 0.8 },
        ("uniform_in_components_chirp_mass", _) => Prior::UniformInComponentsChirpMass { min: 25.0, max: 100.0 },
        ("uniform_in_components_mass_ratio", _) => Prior::UniformInComponentsMassRatio { min: 0.125, max: 1.0 },
        ("uniform_comoving_volume", _) => Prior::UniformComovingVolume { min: 100.0, max: 5000.0 },
        ("uniform_source_frame", "min=100 max=5000") => Prior::UniformSourceFrame { min: 100.0, max: 5000.0 },
        ("uniform_source_frame", "min=1000 max=3000") => Prior::UniformSourceFrame { min: 1000.0, max: 3000.0 },
        other => panic!("no prior for {other:?}"),
    }
}

/// F(x) of ndelab's prior: the u whose transform is x (the transform is monotone).
fn cdf(p: &Prior, x: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if p.transform(mid) < x {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Kolmogorov's distribution: P(K > λ).
fn ks_p(lambda: f64) -> f64 {
    (1..=100).map(|k| 2.0 * (-1f64).powi(k - 1) * (-2.0 * (k as f64 * lambda).powi(2)).exp()).sum::<f64>().clamp(0.0, 1.0)
}

struct Table {
    family: String,
    settings: String,
    x: Vec<f64>,
    cdf: Vec<f64>,
    ln_prob: Vec<f64>,
}

fn tables() -> Vec<Table> {
    let mut out: Vec<Table> = Vec::new();
    for row in csv("bilby_prior_cdf.csv") {
        let v = |i: usize| row[i].parse::<f64>().unwrap();
        if !out.last().is_some_and(|t| t.family == row[0] && t.settings == row[1]) {
            out.push(Table { family: row[0].clone(), settings: row[1].clone(), x: vec![], cdf: vec![], ln_prob: vec![] });
        }
        let t = out.last_mut().unwrap();
        t.x.push(v(2));
        t.cdf.push(v(3));
        t.ln_prob.push(v(4));
    }
    out
}

#[test]
fn planck15_distances_match_astropy() {
    for row in csv("planck15_distances.csv") {
        let v = |i: usize| row[i].parse::<f64>().unwrap();
        let (z, d_l, dv) = (v(0), v(1), v(2));
        let rel = |a: f64, b: f64| (a - b).abs() / b;
        assert!(rel(PLANCK15.luminosity_distance(z), d_l) < 1e-6, "z {z}: d_L {} against astropy's {d_l}", PLANCK15.luminosity_distance(z));
        let ours = PLANCK15.differential_comoving_volume(z);
        assert!(rel(ours, dv) < 1e-6, "z {z}: dV/dz {ours} against astropy's {dv}");
        assert!(rel(PLANCK15.z_at_luminosity_distance(d_l), z) < 1e-9, "z at d_L {d_l}");
    }
}

/// The distribution function and the density of every family agree with bilby's at 201
/// points, and 10⁵ draws pass a Kolmogorov–Smirnov test against bilby's distribution function.
#[test]
fn prior_families_match_bilby() {
    let mut report = Vec::new();
    for (k, t) in tables().iter().enumerate() {
        let p = prior(&t.family, &t.settings);
        let worst_cdf = t.x.iter().zip(&t.cdf).map(|(&x, &c)| (cdf(&p, x) - c).abs()).fold(0.0, f64::max);
        // bilby's Sine and Cosine densities are sin x / 2 and cos x / 2 whatever the range (their
        // cdf and rescale are normalised to it): on a part of the range they differ from the
        // normalised density by a constant, which is taken out here.
        let offset = match p {
            Prior::Sine { min, max } => -((min.cos() - max.cos()) / 2.0).ln(),
            Prior::Cosine { min, max } => -((max.sin() - min.sin()) / 2.0).ln(),
            _ => 0.0,
        };
        // (The aligned-spin density is infinite at χ = 0, a point of bilby's grid.)
        let worst_ln = t
            .x
            .iter()
            .zip(&t.ln_prob)
            .filter(|(&x, _)| p.log_density(x).is_finite())
            .map(|(&x, &l)| (p.log_density(x) - l - offset).abs())
            .fold(0.0, f64::max);
        // bilby integrates the aligned-spin density numerically and tabulates the volume priors
        // on grids coarser than ndelab's: there the two differ by more than rounding.
        let (cdf_tol, ln_tol) = match t.family.as_str() {
            "aligned_spin" => (1e-5, 1e-4),
            f if f.starts_with("uniform_") => (2e-4, 2e-3),
            _ => (1e-9, 1e-9),
        };
        assert!(worst_cdf < cdf_tol, "{} {}: |F − F_bilby| up to {worst_cdf:e}", t.family, t.settings);
        assert!(worst_ln < ln_tol, "{} {}: |ln p − ln p_bilby| up to {worst_ln:e}", t.family, t.settings);
        // KS of 10⁵ draws against bilby's F, the statistic taken at its 201 points (where F is
        // bilby's own, not interpolated).
        let mut rng = StreamFamily::new(7, "t/priors").rng(k as u64);
        let n = 100_000;
        let mut draws: Vec<f64> = (0..n).map(|_| p.sample(&mut rng)).collect();
        draws.sort_by(f64::total_cmp);
        let d = t
            .x
            .iter()
            .zip(&t.cdf)
            .map(|(&x, &f)| (draws.partition_point(|&v| v <= x) as f64 / n as f64 - f).abs())
            .fold(0.0, f64::max);
        let p_value = ks_p(d * (n as f64).sqrt());
        report.push(format!("{} {}: max |ΔF| {worst_cdf:.1e}, max |Δln p| {worst_ln:.1e}, KS p {p_value:.3}", t.family, t.settings));
        assert!(p_value > 1e-3, "{} {}: KS p {p_value} of 10^5 draws against bilby's distribution", t.family, t.settings);
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn a_spec_names_bilbys_families_and_bad_settings_are_refused() {
    let spec = |prior: &str| {
        format!(
            "name: t\ndataset:\n  simulator: files\n  files:\n    theta: {{ path: t.npy }}\n    data: {{ path: d.npy }}\n    data_dim: 4\n    parameters:\n      - {{ name: a, prior: {prior} }}\nmodel:\n  kind: gaussian\n"
        )
    };
    let plan = ndelab::spec::parse("t.yaml", &spec("{ kind: uniform_source_frame, min: 100, max: 5000 }"), &[]).unwrap();
    assert!(format!("{:?}", plan.dataset.simulator).contains("UniformSourceFrame { min: 100.0, max: 5000.0 }"));
    let plan = ndelab::spec::parse("t.yaml", &spec("{ kind: sine }"), &[]).unwrap();
    assert!(format!("{:?}", plan.dataset.simulator).contains(&format!("Sine {{ min: 0.0, max: {PI:?} }}")));
    let err = ndelab::spec::parse("t.yaml", &spec("{ kind: aligned_spin, a_max: 1.5 }"), &[]).unwrap_err().to_string();
    assert!(err.contains("`dataset.files.parameters[0].prior`: needs 0 < a_max <= 1"), "{err}");
    let err = ndelab::spec::parse("t.yaml", &spec("{ kind: power_law, alpha: 2, min: 0, max: 3 }"), &[]).unwrap_err().to_string();
    assert!(err.contains("needs a finite alpha and 0 < min < max"), "{err}");
    let err = ndelab::spec::parse("t.yaml", &spec("{ kind: uniform_source_frame, min: 100, max: 1e7 }"), &[]).unwrap_err().to_string();
    assert!(err.contains("needs 0 < min < max <= 500000 (Mpc)"), "{err}");
}
