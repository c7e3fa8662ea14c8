//! The dataset cache: thread-count independence, crash safety, verification.

use crate::util::*;
use ndelab::data;
use ndelab::store::{entry, Layout};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn resolved(path: &std::path::Path, overrides: &[&str]) -> ndelab::spec::Plan {
    let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    ndelab::spec::load(path, &o).unwrap()
}

/// SHA256SUMS without build.json (wall time and thread count of the build).
fn reproducible_sums(dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
    assert!(text.contains("theta_train.npy") && text.contains("manifest.json"), "{text}");
    text.lines().filter(|l| !l.ends_with("build.json")).map(|l| format!("{l}\n")).collect()
}

/// Sample i draws only from stream (seed, split, i): the bytes cannot depend on threads.
#[test]
fn dataset_bytes_are_identical_for_one_and_two_threads() {
    let tmp = TempDir::new("threads");
    let spec = resolved(&small_spec(tmp.path(), "threads", 50_000, 1, ""), &[]);
    let mut sums = Vec::new();
    for threads in [1, 2] {
        let layout = Layout::new(tmp.path().join(format!("r{threads}")));
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let (ds, _, dir) = pool.install(|| data::load_or_build(&spec.dataset, &layout, false)).unwrap();
        assert_eq!(ds.train.len(), 50_000);
        sums.push((reproducible_sums(&dir), ds));
    }
    assert_eq!(sums[0].0, sums[1].0, "checksums differ between 1 and 2 threads");
    assert_eq!(sums[0].1, sums[1].1);
}

#[test]
fn a_second_build_is_a_cache_hit() {
    let tmp = TempDir::new("hit");
    let spec = resolved(&small_spec(tmp.path(), "hit", 5_000, 1, ""), &[]);
    let layout = Layout::new(tmp.path().join("results"));
    let (a, s1, _) = data::load_or_build(&spec.dataset, &layout, false).unwrap();
    let (b, s2, _) = data::load_or_build(&spec.dataset, &layout, false).unwrap();
    assert!(matches!(s1, data::CacheStatus::Built { .. }));
    assert_eq!(s2, data::CacheStatus::Hit);
    assert_eq!(a, b);
}

/// kill -9 while the dataset is being written: the half-written entry is never used and the
/// next run rebuilds exactly the bytes an uninterrupted run writes.
#[test]
fn a_killed_build_is_rebuilt_and_never_read() {
    let tmp = TempDir::new("kill");
    let spec_path = small_spec(tmp.path(), "kill", 1_500_000, 1, "");
    let results = tmp.path().join("results");
    let datasets = results.join("cache/datasets");
    let mut child =
        ndelab(&results).args(["--threads", "1", "run"]).arg(&spec_path).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    let mut killed_mid_write = false;
    while start.elapsed() < Duration::from_secs(60) {
        let (_, hidden) = entries(&datasets);
        let written: u64 = hidden
            .iter()
            .flat_map(|h| std::fs::read_dir(h).into_iter().flatten().flatten())
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum();
        if written > 1_000_000 {
            child.kill().unwrap();
            killed_mid_write = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait().unwrap();
    assert!(killed_mid_write, "the build finished before it could be killed; make the dataset larger");
    let (done, hidden) = entries(&datasets);
    assert!(done.is_empty(), "a killed build must not leave a complete entry");
    assert_eq!(hidden.len(), 1, "the killed build's temporary folder is still there");

    // The next run removes the leftover, rebuilds and finishes.
    let out = run(ndelab(&results).arg("run").arg(&spec_path));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("dataset: simulated"), "{}", stderr(&out));
    let (done, hidden) = entries(&datasets);
    assert_eq!((done.len(), hidden.len()), (1, 0));
    assert!(entry::verify(&done[0]).unwrap().is_empty());

    // Identical to an uninterrupted build.
    let spec = resolved(&spec_path, &[]);
    let (_, _, clean) = data::load_or_build(&spec.dataset, &Layout::new(tmp.path().join("clean")), false).unwrap();
    assert_eq!(reproducible_sums(&clean), reproducible_sums(&done[0]));
}

#[test]
fn cache_verify_finds_and_removes_a_corrupt_entry() {
    let tmp = TempDir::new("verify");
    let spec = resolved(&small_spec(tmp.path(), "verify", 3_000, 1, ""), &[]);
    let results = tmp.path().join("results");
    let (_, _, dir) = data::load_or_build(&spec.dataset, &Layout::new(&results), false).unwrap();
    let out = run(ndelab(&results).args(["cache", "verify"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let f = dir.join("data_train.npy");
    let mut bytes = std::fs::read(&f).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&f, bytes).unwrap();
    let out = run(ndelab(&results).args(["cache", "verify"]));
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CORRUPT") && text.contains("data_train.npy: checksum mismatch"), "{text}");
    let out = run(ndelab(&results).args(["cache", "verify", "--fix"]));
    assert_eq!(out.status.code(), Some(0));
    assert!(!dir.exists());
}

/// The GW dataset: same bytes for 1 and 2 threads, every test signal at SNR ≥ 8, and the
/// stored SNR is the energy of the stored noise-free whitened signal.
#[test]
fn gw_dataset_is_thread_independent_and_its_test_set_follows_the_prior() {
    let tmp = TempDir::new("gw");
    // Distances out to 6 Gpc make quiet signals common.
    let text = "name: gw\ndataset:\n  simulator: gw_bbh\n  n_train: 1_000\n  n_val: 200\n  n_test: 300\n  \
                gw_bbh: { priors: { d_L: { min: 1000, max: 6000 } } }\nmodel:\n  kind: gaussian\ntraining:\n  batch_size: 100\n";
    let path = tmp.path().join("gw.yaml");
    std::fs::write(&path, text).unwrap();
    let spec = resolved(&path, &[]);
    let mut sums = Vec::new();
    let mut dirs = Vec::new();
    for threads in [1, 2] {
        let layout = Layout::new(tmp.path().join(format!("r{threads}")));
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let (ds, _, dir) = pool.install(|| data::load_or_build(&spec.dataset, &layout, false)).unwrap();
        assert!(ds.train.fresh_noise, "gw_bbh trains on fresh noise by default");
        sums.push(reproducible_sums(&dir));
        dirs.push((ds, dir));
    }
    assert_eq!(sums[0], sums[1]);
    let (ds, dir) = &dirs[0];
    assert!(sums[0].contains("snr_test.npy") && sums[0].contains("signal_test.npy"));
    let snr = ds.test.snr.as_ref().unwrap();
    assert_eq!(snr.rows, 300);
    // No SNR cut: the test split is drawn from the prior like the validation split, so the
    // P-P test on it is valid; as many of its signals are quiet as of the validation split's.
    let quiet = |m: &ndelab::store::npy::Matrix| m.values().iter().filter(|&&s| s < 8.0).count() as f64 / m.rows as f64;
    let (q_test, q_val) = (quiet(snr), quiet(ds.val.snr.as_ref().unwrap()));
    assert!(q_test > 0.1 && (q_test - q_val).abs() < 0.1, "quiet fractions: test {q_test}, val {q_val}");
    let signals = data::read_test_signals(dir).unwrap();
    for i in 0..10 {
        let energy: f32 = signals.row(i).iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((energy - snr.row(i)[0]).abs() < 1e-3 * energy, "{energy} vs {}", snr.row(i)[0]);
    }
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["train_noise"], "fresh");
}

/// A byte flipped in a cached array after it was built: the next `ndelab run` notices on its
/// cache hit and stops with exit 1 (a failure while working, not bad input), naming the entry,
/// the file and the fix, and trains nothing.
#[test]
fn a_run_on_a_corrupt_cache_entry_exits_1_with_its_message() {
    let tmp = TempDir::new("corrupt-run");
    let spec_path = small_spec(tmp.path(), "corrupt", 3_000, 1, "");
    let results = tmp.path().join("results");
    let (_, _, dir) = data::load_or_build(&resolved(&spec_path, &[]).dataset, &Layout::new(&results), false).unwrap();
    let f = dir.join("data_test.npy");
    let mut bytes = std::fs::read(&f).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&f, bytes).unwrap();
    let out = run(ndelab(&results).arg("run").arg(&spec_path));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let expected = format!(
        "error: {}: corrupt cache entry: data_test.npy: checksum mismatch; run `ndelab cache verify` or rerun with --force to rebuild it",
        dir.display()
    );
    assert_eq!(err.lines().last().unwrap_or(""), expected);
    assert!(crate::util::entries(&results.join("runs/corrupt")).0.is_empty());
    // --force rebuilds it, and the rebuilt entry verifies.
    let out = run(ndelab(&results).arg("run").arg(&spec_path).arg("--force"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(entry::verify(&dir).unwrap(), Vec::<String>::new());
}

/// `ndelab cache gc` removes a dataset no finished run refers to and keeps the one a run was
/// trained on; finished runs go only with --force and an age.
#[test]
fn cache_gc_removes_unreferenced_datasets_and_keeps_runs() {
    let tmp = TempDir::new("gc");
    let results = tmp.path().join("results");
    let spec = small_spec(tmp.path(), "gc", 3_000, 1, "");
    let out = run(ndelab(&results).arg("run").arg(&spec));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run_dir = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let out = run(ndelab(&results).arg("simulate").arg(&spec).arg("dataset.n_train=2_000"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let orphan = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).split('\t').nth(1).unwrap().trim());
    assert_eq!(entries(&results.join("cache/datasets")).0.len(), 2);
    let out = run(ndelab(&results).args(["cache", "gc", "--dry-run"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("would remove {}: no finished run refers to it", orphan.display())));
    assert!(orphan.exists());
    let out = run(ndelab(&results).args(["cache", "gc"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!orphan.exists() && run_dir.is_dir());
    assert_eq!(entries(&results.join("cache/datasets")).0.len(), 1, "the run's dataset is kept");
    // Checkpoints: one left beside the finished run goes; an interrupted training's stays
    // (a rerun resumes from it) until it is older than the limit.
    let runs = run_dir.parent().unwrap().to_path_buf();
    let key = run_dir.file_name().unwrap().to_string_lossy().to_string();
    let (stale, resumable) = (runs.join(format!(".{key}.checkpoint")), runs.join(".0123456789abcdef.checkpoint"));
    std::fs::write(&stale, b"weights").unwrap();
    std::fs::write(&resumable, b"weights").unwrap();
    let out = run(ndelab(&results).args(["cache", "gc"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("removed {}: checkpoint of a finished run", stale.display())),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!stale.exists() && resumable.exists() && run_dir.is_dir());
    let out = run(ndelab(&results).args(["cache", "gc", "--older-than-days", "0"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!resumable.exists(), "an interrupted training's checkpoint goes once older than the limit");
    let out = run(ndelab(&results).args(["cache", "gc", "--force"]));
    assert_eq!(out.status.code(), Some(2), "--force without an age is refused");
    let out = run(ndelab(&results).args(["cache", "gc", "--force", "--older-than-days", "0"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!run_dir.exists(), "an old finished run goes with --force");
}

/// A run killed during training resumes from its checkpoint (not from the first step) and ends
/// with the weights of a run never interrupted, byte for byte.
#[test]
fn a_run_killed_in_training_resumes_from_its_checkpoint_with_identical_weights() {
    let tmp = TempDir::new("resume");
    let spec_path = small_spec(tmp.path(), "resume", 4_000, 40, "");
    let clean = tmp.path().join("clean");
    let out = run(ndelab(&clean).arg("run").arg(&spec_path));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let results = tmp.path().join("results");
    let runs = results.join("runs/resume");
    let checkpoint = || {
        std::fs::read_dir(&runs).into_iter().flatten().flatten().map(|e| e.path()).find(|p| p.to_string_lossy().ends_with(".checkpoint"))
    };
    let mut child = ndelab(&results)
        .env("NDELAB_CHECKPOINT_SECONDS", "0")
        .args(["run"])
        .arg(&spec_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut killed = false;
    while start.elapsed() < Duration::from_secs(60) {
        if checkpoint().is_some() {
            std::thread::sleep(Duration::from_millis(50));
            child.kill().unwrap();
            killed = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.wait().unwrap();
    assert!(killed, "the run finished before it wrote a checkpoint");
    assert!(entries(&runs).0.is_empty(), "a killed run must not leave a complete entry");
    assert!(checkpoint().is_some());

    let out = run(ndelab(&results).arg("run").arg(&spec_path));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("resuming from the checkpoint of an interrupted run: epoch"), "{}", stderr(&out));
    assert!(checkpoint().is_none(), "the checkpoint is removed once the run is complete");
    let (a, b) = (entries(&clean.join("runs/resume")).0, entries(&runs).0);
    assert_eq!((a.len(), b.len()), (1, 1));
    let weights = |d: &std::path::Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert!(weights(&a[0]) == weights(&b[0]), "resumed weights differ from the uninterrupted run's");
}
