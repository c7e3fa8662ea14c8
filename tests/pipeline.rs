//! One run end to end through the binary: accuracy, result files, caching, failure.

use crate::util::*;
use ndelab::report::{read_parquet, METRICS_COLUMNS, SUMMARY_COLUMNS};

#[test]
fn a_small_run_learns_the_posterior_writes_its_folder_and_is_cached() {
    let tmp = TempDir::new("run");
    let spec = small_spec(tmp.path(), "small", 20_000, 25, "");
    let results = tmp.path().join("results");
    let out = run(ndelab(&results).arg("run").arg(&spec));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("epoch   1/25"), "one log line per epoch:\n{err}");
    let dir = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    for f in [
        "spec.resolved.yaml",
        "provenance.json",
        "metrics.parquet",
        "summary.parquet",
        "model.safetensors",
        "model.json",
        "plots/loss_curve.png",
        "SHA256SUMS",
        "DONE",
    ] {
        assert!(dir.join(f).is_file(), "missing {f}");
    }
    assert_eq!(&std::fs::read(dir.join("plots/loss_curve.png")).unwrap()[..4], b"\x89PNG");

    let summary = read_parquet(&dir.join("summary.parquet")).unwrap();
    let names: Vec<String> = summary.get_column_names().iter().map(|s| s.to_string()).collect();
    assert_eq!(names, SUMMARY_COLUMNS.to_vec());
    assert_eq!(summary.height(), 1);
    let kl = floats(&summary, "kl_to_truth")[0].unwrap();
    let nll = floats(&summary, "test_nll")[0].unwrap();
    // 3 parameters, 20k samples: the exact posterior is within reach of a small MLP.
    assert!(kl > 0.0 && kl < 0.1, "kl_to_truth = {kl}");
    assert!(nll.is_finite());

    let metrics = read_parquet(&dir.join("metrics.parquet")).unwrap();
    let names: Vec<String> = metrics.get_column_names().iter().map(|s| s.to_string()).collect();
    assert_eq!(names, METRICS_COLUMNS.to_vec());
    let val = floats(&metrics, "val_loss");
    assert!(val.len() >= 2 && val.last().unwrap().unwrap() < val[0].unwrap(), "validation loss should fall: {val:?}");

    let prov: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("provenance.json")).unwrap()).unwrap();
    for k in ["git_commit", "ndelab_version", "rustc", "cpu", "threads", "wall_seconds"] {
        assert!(prov.get(k).is_some(), "provenance lacks {k}");
    }

    // A rerun is a cache hit: no simulation, no training, same folder untouched.
    let before = std::fs::read(dir.join("SHA256SUMS")).unwrap();
    let out = run(ndelab(&results).arg("run").arg(&spec));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("cache hit"), "{err}");
    assert!(!err.contains("epoch") && !err.contains("simulated"), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), dir.display().to_string());
    assert_eq!(std::fs::read(dir.join("SHA256SUMS")).unwrap(), before);

    // A changed training setting reuses the cached dataset.
    let out = run(ndelab(&results).arg("run").arg(&spec).arg("training.epochs=2"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("dataset: cache hit"), "{err}");
}

/// The same spec and seed give the same numbers, bit for bit, on one thread and on two.
#[test]
#[cfg_attr(feature = "cuda", ignore = "a CUDA build adds gradients in no fixed order: its runs are not bit-reproducible")]
fn same_spec_and_seed_give_the_same_numbers() {
    let tmp = TempDir::new("det");
    let spec = small_spec(tmp.path(), "det", 4_000, 3, "");
    let mut rows = Vec::new();
    for (r, threads) in [("a", "1"), ("b", "2")] {
        let results = tmp.path().join(r);
        let out = run(ndelab(&results).args(["--threads", threads, "run"]).arg(&spec));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let dir = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let m = read_parquet(&dir.join("metrics.parquet")).unwrap();
        let s = read_parquet(&dir.join("summary.parquet")).unwrap();
        rows.push((floats(&m, "val_loss"), floats(&s, "test_nll"), floats(&s, "kl_to_truth")));
    }
    assert_eq!(rows[0], rows[1], "one thread and two give different numbers");
}

#[test]
fn a_diverging_run_stops_with_a_clear_message_and_leaves_nothing() {
    let tmp = TempDir::new("nan");
    let spec = small_spec(tmp.path(), "nan", 4_000, 3, "");
    let results = tmp.path().join("results");
    let out = run(ndelab(&results).arg("run").arg(&spec).arg("training.optimizer.lr=1e6"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("error: training diverged: the training loss became"), "{err}");
    assert!(err.contains("lower training.optimizer.lr (now 1e6)"), "{err}");
    let (done, hidden) = entries(&results.join("runs/nan"));
    assert!(done.is_empty() && hidden.is_empty(), "left {done:?} {hidden:?}");
}

/// Every registered density estimator, at the size of its registry example, learns the
/// linear-Gaussian posterior (a smaller problem and looser bounds than the full-size
/// experiments): a new estimator is in this test as soon as it is registered.
#[test]
fn every_density_estimator_learns_the_posterior() {
    let tmp = TempDir::new("est");
    for model in ndelab::nn::ModelSpec::examples().into_iter().filter(|m| !m.is_point_estimate()) {
        let kind = model.kind();
        let spec = small_spec(tmp.path(), kind, 20_000, 25, "");
        let results = tmp.path().join("results");
        // JSON is YAML: the example's whole model section as one override.
        let section = format!("model={}", serde_json::to_string(&model).unwrap());
        let mut cmd = ndelab(&results);
        cmd.arg("run").arg(&spec).arg(section).arg("~loss");
        let elbo = model.loss() == ndelab::nn::LossKind::Elbo;
        if elbo {
            cmd.arg("+training.kl_ramp={from_epoch: 1, to_epoch: 5}");
        }
        let out = run(&mut cmd);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{kind}: {err}");
        let dir = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let summary = read_parquet(&dir.join("summary.parquet")).unwrap();
        let kl = floats(&summary, "kl_to_truth")[0].unwrap();
        eprintln!("{kind}: kl_to_truth = {kl:.4}");
        let bound = if elbo { 0.2 } else { 0.1 };
        assert!(kl < bound, "{kind}: kl_to_truth = {kl}");
        assert_eq!(strings(&summary, "model"), vec![kind.to_string()]);
    }
}

#[test]
fn sample_writes_npy_parquet_and_bilby_json() {
    let tmp = TempDir::new("sample");
    let spec = small_spec(tmp.path(), "smp", 4_000, 2, "");
    let results = tmp.path().join("results");
    let out = run(ndelab(&results).arg("run").arg(&spec));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dir = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let obs = tmp.path().join("obs.npy");
    ndelab::store::npy::write(&obs, 1, 6, &[0.1, -0.2, 0.3, 0.0, 1.0, -1.0]).unwrap();
    for ext in ["npy", "parquet", "json"] {
        let dest = tmp.path().join(format!("post.{ext}"));
        let out = run(ndelab(&results).arg("sample").arg(&dir).arg("--data").arg(&obs).args(["--n", "500", "--out"]).arg(&dest));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stderr(&out).contains("samples/s"), "{}", stderr(&out));
        match ext {
            "npy" => {
                let m = ndelab::store::npy::read(&dest).unwrap();
                assert_eq!((m.rows, m.cols), (500, 3));
            }
            "parquet" => {
                let df = read_parquet(&dest).unwrap();
                assert_eq!(df.height(), 500);
                let names: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
                assert_eq!(names, ["observation", "x0", "x1", "x2"]);
            }
            _ => {
                let j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&dest).unwrap()).unwrap();
                assert_eq!(j["posterior"]["content"]["x1"].as_array().unwrap().len(), 500);
                assert_eq!(j["search_parameter_keys"], serde_json::json!(["x0", "x1", "x2"]));
            }
        }
    }
    // Wrong data width: bad input, exit 2, nothing written.
    let bad = tmp.path().join("bad.npy");
    ndelab::store::npy::write(&bad, 1, 4, &[0.0; 4]).unwrap();
    let dest = tmp.path().join("never.npy");
    let out = run(ndelab(&results).arg("sample").arg(&dir).arg("--data").arg(&bad).arg("--out").arg(&dest));
    assert_eq!(out.status.code(), Some(2));
    let want = format!("error: {}: observation 0 has 4 values, the model expects 6 (data_dim)", bad.display());
    assert!(stderr(&out).contains(&want), "{}", stderr(&out));
    assert!(!dest.exists());
    // The same observation as CSV (with a header) and as Parquet gives the same draws.
    let reference = ndelab::store::npy::read(&tmp.path().join("post.npy")).unwrap();
    let csv = tmp.path().join("obs.csv");
    std::fs::write(&csv, "y0,y1,y2,y3,y4,y5\n0.1,-0.2,0.3,0.0,1.0,-1.0\n").unwrap();
    let pq = tmp.path().join("obs.parquet");
    ndelab::report::write_samples(&pq, &(0..6).map(|i| format!("y{i}")).collect::<Vec<_>>(), &[0.1, -0.2, 0.3, 0.0, 1.0, -1.0], 1).unwrap();
    for (file, skip_first_column) in [(&csv, false), (&pq, true)] {
        let data = if skip_first_column {
            // write_samples adds an `observation` column: drop it for a plain table of y.
            let df = read_parquet(file).unwrap().drop("observation").unwrap();
            let p = tmp.path().join("obs_plain.parquet");
            let mut df = df;
            polars::prelude::ParquetWriter::new(std::fs::File::create(&p).unwrap()).finish(&mut df).unwrap();
            p
        } else {
            file.clone()
        };
        let dest = tmp.path().join("again.npy");
        let out = run(ndelab(&results).arg("sample").arg(&dir).arg("--data").arg(&data).args(["--n", "500", "--out"]).arg(&dest));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(ndelab::store::npy::read(&dest).unwrap().values(), reference.values(), "{}", data.display());
    }
    // An observation holding NaN is refused: a network would return a confident posterior of nothing.
    let nan = tmp.path().join("nan.npy");
    ndelab::store::npy::write(&nan, 1, 6, &[0.1, f32::NAN, 0.3, 0.0, 1.0, -1.0]).unwrap();
    let out = run(ndelab(&results).arg("sample").arg(&dir).arg("--data").arg(&nan).arg("--out").arg(&dest));
    assert_eq!(out.status.code(), Some(2));
    let want = format!("error: {}: observation 0 holds NaN at position 1; observations must be finite", nan.display());
    assert_eq!(stderr(&out).trim(), want);
    assert!(!dest.exists());
}

/// A regression is scored by RMSE, and the best possible point estimate (the posterior mean)
/// has RMSE √diag Σ_post on the linear-Gaussian task: the trained one comes within 10%.
#[test]
fn regression_reports_rmse_near_the_posterior_width() {
    let tmp = TempDir::new("reg");
    let spec = small_spec(tmp.path(), "reg", 20_000, 20, "");
    let results = tmp.path().join("results");
    let out = run(ndelab(&results).arg("run").arg(&spec).args(["model.kind=regression", "~loss", "eval.metrics=[test_nll,loss_curve]"]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("point estimates, not a posterior"), "{err}");
    let dir = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let rmse = floats(&read_parquet(&dir.join("rmse.parquet")).unwrap(), "rmse");
    let s = ndelab::spec::load(&spec, &[]).unwrap();
    let ndelab::sim::SimulatorSpec::LinearGaussian(lg) = &s.dataset.simulator else { panic!("expected linear_gaussian") };
    let sim = ndelab::sim::LinearGaussian::new(lg);
    for (i, r) in rmse.iter().enumerate() {
        let best = sim.posterior_cov().at(i, i).sqrt();
        let r = r.unwrap();
        assert!((r / best - 1.0).abs() < 0.1, "x{i}: RMSE {r} vs posterior std {best}");
    }
    let summary = read_parquet(&dir.join("summary.parquet")).unwrap();
    assert_eq!(floats(&summary, "test_nll"), vec![None], "a regression has no NLL");
    assert!(floats(&summary, "rmse_z")[0].is_some());
    // No posterior to sample.
    let obs = tmp.path().join("obs.npy");
    ndelab::store::npy::write(&obs, 1, 6, &[0.0; 6]).unwrap();
    let out = run(ndelab(&results).arg("sample").arg(&dir).arg("--data").arg(&obs).arg("--out").arg(tmp.path().join("s.npy")));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("a regression gives point estimates, not posterior samples"), "{}", stderr(&out));
}

/// A spec whose data come from tests/data/command/sim.py in `mode`: one parameter, two data
/// values, the program drawing θ, chunks of 100 rows, a 2 s timeout.
fn command_spec(dir: &std::path::Path, mode: &str) -> std::path::PathBuf {
    let text = format!(
        "name: cmd_{mode}\nseed: 2\ndataset:\n  simulator: command\n  n_train: 300\n  n_val: 100\n  n_test: 100\n  command:\n    \
         program: tests/data/command/sim.py\n    interpreter: python3\n    args: [{mode}]\n    parameters:\n      - \
         {{ name: a, prior: {{ kind: uniform, min: -1, max: 2 }} }}\n    data_dim: 2\n    theta: program\n    chunk: 100\n    \
         timeout_s: 2\nmodel:\n  kind: gaussian\n  hidden: [8]\ntraining:\n  batch_size: 100\n  epochs: 2\neval:\n  metrics: [test_nll]\n"
    );
    let p = dir.join(format!("cmd_{mode}.yaml"));
    std::fs::write(&p, text).unwrap();
    p
}

/// An external simulator through `command`: a working one trains and is cached by the program's
/// content; one that fails, hangs, writes the wrong shape or NaN stops the run with exit 1, the
/// chunk, what went wrong and the end of the program's stderr, and leaves no dataset behind.
#[test]
fn command_simulators_work_or_fail_with_the_chunk_and_their_stderr() {
    let tmp = TempDir::new("command");
    let results = tmp.path().join("results");
    let out = run(ndelab(&results).arg("run").arg(command_spec(tmp.path(), "ok")));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let again = run(ndelab(&results).arg("simulate").arg(command_spec(tmp.path(), "ok")));
    assert!(stderr(&again).contains("dataset: cache hit (500 samples)"), "{}", stderr(&again));
    // The key holds the program's content, not its path: a copy elsewhere is the same dataset.
    let copy = tmp.path().join("copy.py");
    std::fs::copy("tests/data/command/sim.py", &copy).unwrap();
    let moved =
        std::fs::read_to_string(command_spec(tmp.path(), "ok")).unwrap().replace("tests/data/command/sim.py", &copy.display().to_string());
    let moved_spec = tmp.path().join("moved.yaml");
    std::fs::write(&moved_spec, moved).unwrap();
    let again = run(ndelab(&results).arg("simulate").arg(&moved_spec));
    assert!(stderr(&again).contains("dataset: cache hit (500 samples)"), "{}", stderr(&again));
    let expected = [
        ("fail", "error: tests/data/command/sim.py, train rows 0..100: exited with exit status: 3\n  its stderr ended with:\n    loading the detector model\n    error: cannot open calibration.dat at row 0"),
        ("hang", "error: tests/data/command/sim.py, train rows 0..100: still running after 2 s (dataset.command.timeout_s); stopped it\n  its stderr ended with:\n    waiting for a licence server"),
        ("shape", "error: tests/data/command/sim.py, train rows 0..100: wrote data.npy of shape (99, 2); expected (100, 2)"),
        ("nan", "error: tests/data/command/sim.py, train rows 0..100: wrote NaN in data.npy (row 1, column 1)"),
    ];
    for (mode, message) in expected {
        let out = run(ndelab(&results).arg("run").arg(command_spec(tmp.path(), mode)));
        assert_eq!(out.status.code(), Some(1), "{mode}: {}", stderr(&out));
        let err = stderr(&out);
        let from_error = &err[err.find("error: ").unwrap_or(0)..];
        assert_eq!(from_error.trim_end(), message, "{mode}");
        let (done, _) = entries(&results.join("cache/datasets"));
        assert_eq!(done.len(), 1, "{mode}: only the working simulator's dataset is cached");
    }
}

/// Bring your own data: a built-in dataset exported to .npy and to Parquet and trained from the
/// files (`split: ordered`, so rows fall into the same splits) gives the same training losses
/// and test NLL as the built-in run, bit for bit; the key follows the files' bytes, not their
/// paths.
#[test]
#[cfg_attr(feature = "cuda", ignore = "a CUDA build adds gradients in no fixed order: its runs are not bit-reproducible")]
fn a_dataset_exported_to_files_trains_to_the_same_numbers() {
    use ndelab::store::npy;
    use polars::prelude::*;
    let tmp = TempDir::new("files");
    let results = tmp.path().join("results");
    let spec = small_spec(tmp.path(), "builtin", 4_000, 4, "");
    let out = run(ndelab(&results).arg("run").arg(&spec));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let builtin = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let (datasets, _) = entries(&results.join("cache/datasets"));
    let cache = &datasets[0];
    let concat = |what: &str| {
        let parts: Vec<npy::Matrix> =
            ["train", "val", "test"].iter().map(|s| npy::read(&cache.join(format!("{what}_{s}.npy"))).unwrap()).collect();
        let values: Vec<f32> = parts.iter().flat_map(|m| m.values().iter().copied()).collect();
        (parts.iter().map(|m| m.rows).sum::<usize>(), parts[0].cols, values)
    };
    let ((n, d, theta), (_, m, data)) = (concat("theta"), concat("data"));
    npy::write(&tmp.path().join("theta.npy"), n, d, &theta).unwrap();
    npy::write(&tmp.path().join("data.npy"), n, m, &data).unwrap();
    let parquet = |name: &str, prefix: &str, cols: usize, values: &[f32]| {
        let columns: Vec<Column> = (0..cols)
            .map(|j| Column::new(format!("{prefix}{j}").into(), values.iter().skip(j).step_by(cols).copied().collect::<Vec<f32>>()))
            .collect();
        let mut df = DataFrame::new(n, columns).unwrap();
        ParquetWriter::new(std::fs::File::create(tmp.path().join(name)).unwrap()).finish(&mut df).unwrap();
    };
    parquet("theta.parquet", "x", d, &theta);
    parquet("data.parquet", "y", m, &data);
    let base = std::fs::read_to_string(&spec).unwrap();
    let files_section = |theta: &str, data: &str| {
        base.replace("name: builtin", "name: fromfiles").replace(
            "  linear_gaussian: { theta_dim: 3, data_dim: 6 }\n",
            &format!(
                "  files:\n    theta: {{ path: {} }}\n    data: {{ path: {} }}\n    data_dim: 6\n    split: ordered\n    parameters:\n      - {{ name: x0, prior: {{ kind: normal, mean: 0, std: 1 }} }}\n      - {{ name: x1, prior: {{ kind: normal, mean: 0, std: 1 }} }}\n      - {{ name: x2, prior: {{ kind: normal, mean: 0, std: 1 }} }}\n",
                tmp.path().join(theta).display(),
                tmp.path().join(data).display()
            ),
        ).replace("simulator: linear_gaussian", "simulator: files")
    };
    let metrics = |dir: &std::path::Path| {
        let s = read_parquet(&dir.join("summary.parquet")).unwrap();
        let h = read_parquet(&dir.join("metrics.parquet")).unwrap();
        (floats(&s, "test_nll"), floats(&s, "best_val_loss"), floats(&h, "train_loss"), floats(&h, "val_loss"))
    };
    let want = metrics(&builtin);
    let mut formats = vec![("theta.npy", "data.npy"), ("theta.parquet", "data.parquet")];
    if hdf5_case(tmp.path(), n, d, &theta, m, &data) {
        formats.push(("theta.h5", "data.h5"));
    }
    for (theta, data) in formats {
        let p = tmp.path().join(format!("files_{theta}.yaml"));
        std::fs::write(&p, files_section(theta, data)).unwrap();
        let out = run(ndelab(&results).arg("run").arg(&p).arg("eval.metrics=[test_nll,loss_curve]"));
        assert_eq!(out.status.code(), Some(0), "{theta}: {}", stderr(&out));
        let dir = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        assert_eq!(metrics(&dir), want, "{theta}: the same rows give the same training");
    }
    // The same bytes elsewhere: the same dataset key, a cache hit.
    let moved = tmp.path().join("moved");
    std::fs::create_dir_all(&moved).unwrap();
    for f in ["theta.npy", "data.npy"] {
        std::fs::copy(tmp.path().join(f), moved.join(f)).unwrap();
    }
    let p = tmp.path().join("moved.yaml");
    std::fs::write(&p, files_section("moved/theta.npy", "moved/data.npy")).unwrap();
    let out = run(ndelab(&results).arg("simulate").arg(&p));
    assert!(stderr(&out).contains("dataset: cache hit"), "{}", stderr(&out));
    // More samples asked for than the files hold: bad input, exit 2, named file.
    let out = run(ndelab(&results).arg("simulate").arg(&p).arg("dataset.n_train=10_000"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let want = format!(
        "error: {}: holds 6200 samples, fewer than the train split needs (rows 0..8192); lower n_train, n_val or n_test",
        moved.join("data.npy").display()
    );
    assert_eq!(stderr(&out).lines().last().unwrap_or(""), want);
}

/// The dataset as HDF5 (feature `hdf5`): θ as chunked, deflated float64 in a group (read
/// whole, narrowed), y as a contiguous float32 (n, 2, 3) array (mapped, flattened per row).
#[cfg(feature = "hdf5")]
fn hdf5_case(dir: &std::path::Path, n: usize, d: usize, theta: &[f32], m: usize, data: &[f32]) -> bool {
    let f = hdf5_metno::File::create(dir.join("theta.h5")).unwrap();
    let wide: Vec<f64> = theta.iter().map(|&v| v as f64).collect();
    f.create_group("params")
        .unwrap()
        .new_dataset::<f64>()
        .shape((n, d))
        .chunk((64, d))
        .deflate(4)
        .create("theta")
        .unwrap()
        .write_raw(&wide)
        .unwrap();
    let f = hdf5_metno::File::create(dir.join("data.h5")).unwrap();
    f.new_dataset::<f32>().shape((n, 2, m / 2)).create("y").unwrap().write_raw(data).unwrap();
    true
}

/// Without the feature an HDF5 file is refused with how to get it (and there are no HDF5
/// files to train from).
#[cfg(not(feature = "hdf5"))]
fn hdf5_case(dir: &std::path::Path, _: usize, _: usize, _: &[f32], _: usize, _: &[f32]) -> bool {
    std::fs::write(dir.join("theta.h5"), b"\x89HDF\r\n\x1a\n").unwrap();
    let source = ndelab::sim::files::ArraySource { path: dir.join("theta.h5"), array: None, columns: Vec::new() };
    assert_eq!(
        source.load().unwrap_err().to_string(),
        format!(
            "{}: HDF5 is not in this build of ndelab: rebuild with `cargo build --release --features hdf5` (needs libhdf5-dev), \
             or convert the dataset to .npy (h5py: np.save(\"theta.npy\", f[\"theta\"][:]))",
            dir.join("theta.h5").display()
        )
    );
    false
}

/// `ndelab sample --importance`: the estimator's draws weighted by the exact likelihood,
/// written weighted (weights summing to one per observation) and resampled, with n_eff, the
/// efficiency and log Z. A Gaussian estimator trained on the linear-Gaussian problem, whose
/// posterior is Gaussian, is an efficient proposal.
#[test]
fn sample_importance_writes_weighted_and_resampled_draws() {
    let tmp = TempDir::new("sample-is");
    let spec = small_spec(tmp.path(), "smpis", 20_000, 20, "");
    let results = tmp.path().join("results");
    let out = run(ndelab(&results).arg("run").arg(&spec));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dir = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let obs = tmp.path().join("obs.npy");
    ndelab::store::npy::write(&obs, 2, 6, &[0.1, -0.2, 0.3, 0.0, 1.0, -1.0, 1.5, 0.2, -0.7, 0.4, 0.0, 0.9]).unwrap();
    let dest = tmp.path().join("post.parquet");
    let out = run(ndelab(&results)
        .arg("sample")
        .arg(&dir)
        .arg("--data")
        .arg(&obs)
        .args(["--n", "700", "--importance", "3000", "--out"])
        .arg(&dest));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(read_parquet(&dest).unwrap().height(), 1400);
    let weighted = read_parquet(&tmp.path().join("post.weighted.parquet")).unwrap();
    assert_eq!(weighted.height(), 6000);
    let w = weighted.column("weight").unwrap().as_materialized_series().f64().unwrap().into_no_null_iter().collect::<Vec<f64>>();
    let sum0: f64 = w[..3000].iter().sum();
    assert!((sum0 - 1.0).abs() < 1e-9, "weights of observation 0 sum to {sum0}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("post.importance.json")).unwrap()).unwrap();
    for s in summary.as_array().unwrap() {
        let eff = s["efficiency"].as_f64().unwrap();
        assert!(eff > 0.5 && eff <= 1.0, "efficiency {eff}");
        assert!(s["log_z"].as_f64().unwrap().is_finite());
    }
    assert!(stderr(&out).contains("importance-sampled"), "{}", stderr(&out));
}
