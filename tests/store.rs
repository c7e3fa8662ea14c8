//! The dataset cache: thread-count independence, crash safety, verification.

use crate::util::*;
use ndelab::data;
use ndelab::store::{entry, Layout};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn resolved(path: &std::path::Path, overrides: &[&str]) -> ndelab::spec::Spec {
    let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    ndelab::spec::load(path, &o).unwrap().resolved()
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
        let (ds, _, dir) = pool.install(|| data::load_or_build(&spec, &layout, false)).unwrap();
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
    let (a, s1, _) = data::load_or_build(&spec, &layout, false).unwrap();
    let (b, s2, _) = data::load_or_build(&spec, &layout, false).unwrap();
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
    let mut child = ndelab(&results).args(["--threads", "1", "run"]).arg(&spec_path).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    let mut killed_mid_write = false;
    while start.elapsed() < Duration::from_secs(60) {
        let (_, hidden) = entries(&datasets);
        let written: u64 = hidden.iter().flat_map(|h| std::fs::read_dir(h).into_iter().flatten().flatten()).filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum();
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
    let (_, _, clean) = data::load_or_build(&spec, &Layout::new(tmp.path().join("clean")), false).unwrap();
    assert_eq!(reproducible_sums(&clean), reproducible_sums(&done[0]));
}

#[test]
fn cache_verify_finds_and_removes_a_corrupt_entry() {
    let tmp = TempDir::new("verify");
    let spec = resolved(&small_spec(tmp.path(), "verify", 3_000, 1, ""), &[]);
    let results = tmp.path().join("results");
    let (_, _, dir) = data::load_or_build(&spec, &Layout::new(&results), false).unwrap();
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
