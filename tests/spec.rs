//! Spec loading, overrides, resolution and content keys.

use ndelab::pipeline::keys;
use ndelab::nn::ModelSpec;
use ndelab::sim::SimulatorSpec;
use ndelab::spec::{self, Plan};
use ndelab::train::OptimizerSpec;

const BASE: &str = "name: a\nseed: 4\ndataset:\n  simulator: linear_gaussian\n  n_train: 100_000\nmodel:\n  kind: gaussian\n  hidden: [32, 32]\ntraining:\n  optimizer: { kind: adam, lr: 1e-3 }\n";

fn parse(text: &str, overrides: &[&str]) -> Plan {
    let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    spec::parse("t.yaml", text, &o).unwrap_or_else(|e| panic!("{e}"))
}

fn lr(s: &Plan) -> f64 {
    let OptimizerSpec::Adam(a) = &s.training.optimizer;
    a.lr
}

#[test]
fn numbers_with_underscores_and_exponents_parse() {
    let s = parse(BASE, &["training.optimizer.lr=3e-4", "dataset.n_val=1_000", "training.epochs=1e2"]);
    assert_eq!(s.dataset.n_train, 100_000);
    assert_eq!(s.dataset.n_val, 1_000);
    assert_eq!(s.training.epochs, 100);
    assert_eq!(lr(&s), 3e-4);
}

#[test]
fn overrides_reach_nested_and_tagged_sections() {
    let s = parse(BASE, &["model.hidden=[8,8,8]", "+dataset.linear_gaussian.noise_std=0.5", "training.early_stopping=null"]);
    let ModelSpec::Gaussian(g) = &s.model else { panic!("expected a gaussian model") };
    assert_eq!(g.hidden, vec![8, 8, 8]);
    let SimulatorSpec::LinearGaussian(lg) = &s.dataset.simulator else { panic!("expected linear_gaussian") };
    assert_eq!(lg.noise_std, 0.5);
    assert_eq!(s.training.early_stopping, None);
}

#[test]
fn resolution_fills_every_default_and_round_trips() {
    let s = parse(BASE, &[]);
    assert_eq!(s.loss, ndelab::nn::LossKind::Nll);
    assert_eq!(s.dataset.seed, 4, "dataset seed defaults to the master seed");
    assert_eq!(s.dataset.noise, ndelab::sim::NoiseMode::Fixed, "linear_gaussian's default noise");
    assert_eq!(s.dataset.infer, vec!["x0", "x1", "x2", "x3", "x4"]);
    let SimulatorSpec::LinearGaussian(lg) = &s.dataset.simulator else { panic!("expected linear_gaussian") };
    assert_eq!(lg.theta_dim, 5);
    let again = parse(&s.to_yaml(), &[]);
    assert_eq!(again, s);
}

#[test]
fn keys_ignore_formatting_and_names_but_not_content() {
    let a = parse(BASE, &[]);
    let reordered = "model:\n  hidden: [32, 32]\n  kind: gaussian\ntraining:\n  optimizer: { lr: 0.001, kind: adam }\nseed: 4\nname: b\ndataset:\n  n_train: 100000\n  simulator: linear_gaussian\n";
    let b = parse(reordered, &[]);
    let (ka, kb) = (keys(&a).unwrap(), keys(&b).unwrap());
    assert_eq!(ka.dataset.key(), kb.dataset.key());
    assert_eq!(ka.run.key(), kb.run.key(), "the name is not part of the key");

    let more_data = parse(BASE, &["dataset.n_train=200_000"]);
    let k = keys(&more_data).unwrap();
    assert_ne!(k.dataset.key(), ka.dataset.key());
    assert_ne!(k.run.key(), ka.run.key(), "a new dataset means a new run");

    let other_lr = parse(BASE, &["training.optimizer.lr=2e-3"]);
    let k = keys(&other_lr).unwrap();
    assert_eq!(k.dataset.key(), ka.dataset.key(), "training settings do not touch the data");
    assert_ne!(k.run.key(), ka.run.key());

    // The inferred parameters select columns: same dataset, new run.
    let fewer = parse(BASE, &["dataset.infer=[x0,x1]"]);
    let k = keys(&fewer).unwrap();
    assert_eq!(k.dataset.key(), ka.dataset.key());
    assert_ne!(k.run.key(), ka.run.key());

    // Spelling out the defaults changes nothing.
    let explicit = parse(BASE, &["dataset.seed=4", "loss=nll", "dataset.linear_gaussian.theta_dim=5"]);
    let k = keys(&explicit).unwrap();
    assert_eq!((k.dataset.key(), k.run.key()), (ka.dataset.key(), ka.run.key()));
}

#[test]
fn errors_point_at_line_and_column() {
    let text = "name: a\ndataset:\n  simulator: linear_gaussian\nmodel:\n  kind: gaussian\ntraining:\n  optimizer: { kind: adam, lr: 0 }\n";
    let e = spec::parse("x.yaml", text, &[]).unwrap_err();
    assert_eq!(e.to_string(), "x.yaml:7:28: `training.optimizer.lr`: must be a positive number, got 0");
}

/// A byte-order mark is not content; nesting beyond 64 levels is refused at once (parsing it
/// takes time quadratic in the depth); a spec is read to 1 MiB, never to the end of a device.
#[test]
fn boms_deep_nesting_huge_files_and_devices() {
    assert_eq!(parse(&format!("\u{feff}{BASE}"), &[]).name, "a");
    let deep = format!("{BASE}extra: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let start = std::time::Instant::now();
    let err = spec::parse("t.yaml", &deep, &[]).unwrap_err().to_string();
    assert!(err.contains("nests lists or mappings more than 64 levels deep"), "{err}");
    assert!(start.elapsed() < std::time::Duration::from_secs(1), "{:?}", start.elapsed());
    let dir = std::env::temp_dir().join(format!("ndelab-spec-huge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let huge = dir.join("huge.yaml");
    std::fs::write(&huge, format!("{BASE}{}", "# padding\n".repeat(120_000))).unwrap();
    let err = spec::load(&huge, &[]).unwrap_err().to_string();
    assert!(err.contains("is larger than 1024 KiB"), "{err}");
    let err = spec::load(std::path::Path::new("/dev/zero"), &[]).unwrap_err().to_string();
    assert!(err.contains("/dev/zero: is not a regular file"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
