//! The command line: bad input gives one exact message, exit code 2, and writes nothing.

use crate::util::*;

/// Every spec in tests/bad_specs/ must fail `run` with exactly the message in its `.stderr`
/// file (set NDELAB_BLESS=1 to rewrite them after a deliberate change), exit code 2, no panic,
/// and nothing under results/.
#[test]
fn bad_specs_fail_with_their_exact_message_and_write_nothing() {
    let dir = root().join("tests/bad_specs");
    let mut specs: Vec<_> =
        std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "yaml")).collect();
    specs.sort();
    assert!(specs.len() >= 60, "expected at least 60 bad specs, found {}", specs.len());
    let bless = std::env::var_os("NDELAB_BLESS").is_some();
    let mut failures = Vec::new();
    for spec in &specs {
        let results = TempDir::new("bad");
        let rel = spec.strip_prefix(root()).unwrap();
        let out = run(ndelab(&results.path().join("results")).arg("run").arg(rel));
        let err = stderr(&out);
        let expected_path = spec.with_extension("stderr");
        // The registries' lists of kinds stand as placeholders, so that registering an
        // estimator or a simulator changes no pinned message.
        let kinds =
            [("{MODEL_KINDS}", ndelab::nn::ModelSpec::KINDS.join(", ")), ("{SIMULATORS}", ndelab::sim::SimulatorSpec::KINDS.join(", "))];
        if bless {
            let text = kinds.iter().fold(err.clone(), |t, (holder, list)| t.replace(list.as_str(), holder));
            std::fs::write(&expected_path, text).unwrap();
        }
        let pinned = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| panic!("{} is missing", expected_path.display()));
        let expected = kinds.iter().fold(pinned, |t, (holder, list)| t.replace(holder, list));
        if out.status.code() != Some(2) {
            failures.push(format!("{}: exit code {:?}", rel.display(), out.status.code()));
        }
        if err != expected {
            failures.push(format!("{}:\n--- expected\n{expected}--- got\n{err}", rel.display()));
        }
        if err.contains("panicked") {
            failures.push(format!("{}: panicked", rel.display()));
        }
        if results.path().join("results").exists() {
            failures.push(format!("{}: created results/", rel.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bad_overrides_name_the_override() {
    let results = TempDir::new("ovr");
    let out = run(ndelab(results.path()).args(["validate", "experiments/linear_gaussian.yaml", "training.batch_size=0"]));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: experiments/linear_gaussian.yaml: `training.batch_size`: must be at least 1, got 0\n  \
         set on the command line by `training.batch_size=0`\n"
    );
    let out = run(ndelab(results.path()).args(["validate", "experiments/linear_gaussian.yaml", "model.hidden=2,8"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is a comma list, which makes a sweep"), "{}", stderr(&out));
}

#[test]
fn a_missing_spec_file_is_bad_input() {
    let results = TempDir::new("missing");
    let out = run(ndelab(results.path()).args(["run", "experiments/no_such_experiment.yaml"]));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: experiments/no_such_experiment.yaml: no such file\n  check the path; experiments live in experiments/*.yaml\n"
    );
}

#[test]
fn validate_prints_the_resolved_spec() {
    let results = TempDir::new("validate");
    let out = run(ndelab(results.path()).args(["validate", "experiments/linear_gaussian.yaml", "dataset.n_train=20_000"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("n_train: 20000"), "{text}");
    assert!(text.contains("loss: nll"), "{text}");
    // The dataset seed defaults to the master seed and is written out.
    assert!(text.contains("  seed: 1\n"), "{text}");
}

#[test]
fn key_explain_lists_every_ingredient() {
    let results = TempDir::new("explain");
    let out = run(ndelab(results.path()).args(["key", "explain", "experiments/linear_gaussian.yaml"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["dataset key ", "run key ", "key scheme     ndelab-key/1", "linear_gaussian/1", "upstream dataset", "\"n_train\":100000"]
    {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn simulate_then_export_injections() {
    let tmp = TempDir::new("export");
    let results = tmp.path().join("results");
    let spec = tmp.path().join("gw.yaml");
    std::fs::write(&spec, "name: gw\ndataset:\n  simulator: gw_bbh\n  n_train: 500\n  n_val: 100\n  n_test: 20\nmodel:\n  kind: gaussian\ntraining:\n  batch_size: 100\n").unwrap();
    let out = run(ndelab(&results).arg("simulate").arg(&spec));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    let (key, dir) = line.trim().split_once('\t').unwrap();
    assert_eq!(key.len(), 16);
    assert!(std::path::Path::new(dir).join("DONE").is_file());
    assert!(stderr(&out).contains("samples/s"), "{}", stderr(&out));
    // Again: a cache hit.
    let out = run(ndelab(&results).arg("simulate").arg(&spec));
    assert!(stderr(&out).contains("cache hit"), "{}", stderr(&out));

    let inj = tmp.path().join("inj");
    let out = run(ndelab(&results).arg("export-injections").arg(&spec).arg("--out").arg(&inj));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(inj.join("injections.json")).unwrap()).unwrap();
    assert_eq!(m["n_injections"], 20);
    assert_eq!(m["parameters"], serde_json::json!(["m1", "m2", "d_L", "t0", "phase"]));
    assert_eq!(m["gw_bbh"]["start_time"], 1126259642.0);
    let data = ndelab::store::npy::read(&inj.join("data.npy")).unwrap();
    let signal = ndelab::store::npy::read(&inj.join("signal.npy")).unwrap();
    assert_eq!((data.rows, data.cols, signal.rows), (20, 256, 20));
    assert_ne!(data.row(0), signal.row(0), "data carry noise");
    // An existing, non-empty folder is refused and left alone.
    let out = run(ndelab(&results).arg("export-injections").arg(&spec).arg("--out").arg(&inj));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("the folder exists and is not empty"), "{}", stderr(&out));
}

/// `ndelab reference` on the benchmark's gaussian_linear task, for its first published
/// observation given as a CSV with a header: exact draws of N(x/2, 0.05·I).
#[test]
fn reference_draws_the_exact_posterior_of_an_observation_file() {
    let tmp = TempDir::new("reference");
    let x = [1.0471346, 0.5566712, -0.23618454, 0.027879834, -1.0051446, -0.007930746, 0.06117077, -0.29286885, -0.38539964, 0.2449614];
    let header: Vec<String> = (1..=10).map(|i| format!("data_{i}")).collect();
    let row: Vec<String> = x.iter().map(|v| v.to_string()).collect();
    let obs = tmp.path().join("observation.csv");
    std::fs::write(&obs, format!("{}\n{}\n", header.join(","), row.join(","))).unwrap();
    let out_file = tmp.path().join("post.npy");
    let out = run(ndelab(&tmp.path().join("results"))
        .args(["reference", "experiments/sbi_gaussian_linear.yaml", "--data"])
        .arg(&obs)
        .args(["--n", "20000", "--out"])
        .arg(&out_file));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("observation 0: 20000 draws from the exact posterior"), "{}", stderr(&out));
    let m = ndelab::store::npy::read(&out_file).unwrap();
    assert_eq!((m.rows, m.cols), (20_000, 10));
    for (j, xj) in x.iter().enumerate() {
        let col: Vec<f64> = (0..m.rows).map(|r| m.row(r)[j] as f64).collect();
        let mean = col.iter().sum::<f64>() / col.len() as f64;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (col.len() - 1) as f64;
        // Standard error of the mean: sqrt(0.05 / 20000) = 0.0016.
        assert!((mean - xj / 2.0).abs() < 0.008, "parameter {j}: mean {mean}, want {}", xj / 2.0);
        assert!((var / 0.05 - 1.0).abs() < 0.05, "parameter {j}: variance {var}, want 0.05");
    }
}

/// `--results` that cannot be a folder: a file, or a link to a folder that does not exist; and
/// a dangling link where the cache would be. Exit 2, the path and the fix.
#[test]
fn a_results_folder_that_cannot_be_one_is_bad_input() {
    let tmp = TempDir::new("results-file");
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let out = run(ndelab(&file).args(["run", "experiments/linear_gaussian.yaml"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim_end(),
        format!("error: --results {}: is a file, not a folder; name a folder for the results (it is made if missing)", file.display())
    );
    let results = tmp.path().join("results");
    std::fs::create_dir_all(&results).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("gone"), results.join("cache")).unwrap();
    let out = run(ndelab(&results).args(["run", "experiments/linear_gaussian.yaml"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("cache: is a symbolic link to `{}`, which does not exist; create that folder or remove the link", tmp.path().join("gone").display())),
        "{}",
        stderr(&out)
    );
}
