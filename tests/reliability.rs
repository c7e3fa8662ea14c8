//! Finished work is never damaged: outputs that would land on kept files are refused, damaged
//! runs are not used, sizes nothing can hold stop in validation, an interrupted process
//! removes its temporaries, and `cache gc` leaves alone what running processes use.

use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn trained_run(tmp: &TempDir, results: &Path, name: &str) -> PathBuf {
    let spec = small_spec(tmp.path(), name, 2_000, 2, "");
    let out = run(ndelab(results).arg("run").arg(&spec));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Two observations of the small spec's six data values.
fn observations(dir: &Path) -> PathBuf {
    let obs = dir.join("obs.npy");
    ndelab::store::npy::write(&obs, 2, 6, &[0.1f32; 12]).unwrap();
    obs
}

/// Hidden temporaries (`.NAME.tmp-PID`) anywhere under `dir`.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_name().to_string_lossy().contains(".tmp-") {
                found.push(p.clone());
            }
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    found
}

#[test]
fn sample_never_writes_over_kept_files_or_its_input() {
    let tmp = TempDir::new("rel-out");
    let results = tmp.path().join("results");
    let dir = trained_run(&tmp, &results, "relout");
    let obs = observations(tmp.path());
    let summary = std::fs::read(dir.join("summary.parquet")).unwrap();
    let sample = |out: &Path| run(ndelab(&results).arg("sample").arg(&dir).arg("--data").arg(&obs).args(["--n", "50", "--out"]).arg(out));
    let o = sample(&dir.join("summary.parquet"));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is inside the runs of the results folder"), "{}", stderr(&o));
    assert_eq!(std::fs::read(dir.join("summary.parquet")).unwrap(), summary, "the run's summary is untouched");
    let o = sample(&obs);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is also an input of this command"), "{}", stderr(&o));
    let o = sample(&tmp.path().join("no/such/folder/post.npy"));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("does not exist; create it first"), "{}", stderr(&o));
    // More draws than memory holds: refused before any is drawn.
    let o = run(ndelab(&results).arg("sample").arg(&dir).arg("--data").arg(&obs).args(["--n", "18446744073709551615", "--out"]).arg(tmp.path().join("big.npy")));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--n 18446744073709551615: 18446744073709551615 draws of 3 parameters for 2 observation(s) need about"), "{}", stderr(&o));
    // A good output appears whole, with nothing left beside it.
    let post = tmp.path().join("post.parquet");
    let o = sample(&post);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(ndelab::report::read_parquet(&post).unwrap().height(), 100);
    assert!(temporaries(tmp.path()).is_empty(), "{:?}", temporaries(tmp.path()));
    assert_eq!(ndelab::store::entry::verify(&dir).unwrap(), Vec::<String>::new());
}

/// The first byte of a model's weights (after the safetensors header).
fn first_weight(model: &Path) -> usize {
    let bytes = std::fs::read(model).unwrap();
    8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize
}

#[test]
fn a_damaged_run_is_refused_and_stays_damaged() {
    let tmp = TempDir::new("rel-damaged");
    let results = tmp.path().join("results");
    let dir = trained_run(&tmp, &results, "reldamaged");
    let obs = observations(tmp.path());
    let model = dir.join("model.safetensors");
    let original = std::fs::read(&model).unwrap();
    let mut flipped = original.clone();
    flipped[first_weight(&model) + 5] ^= 0x01;
    std::fs::write(&model, &flipped).unwrap();
    let damaged = format!(
        "error: {}: the run is damaged (model.safetensors: checksum mismatch), so nothing was read from it; run `ndelab cache verify --fix` to remove it, then rerun the experiment to train it again",
        dir.display()
    );
    let o = run(ndelab(&results).arg("sample").arg(&dir).arg("--data").arg(&obs).arg("--out").arg(tmp.path().join("p.npy")));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().last().unwrap_or(""), damaged);
    assert!(!tmp.path().join("p.npy").exists());
    let o = run(ndelab(&results).arg("eval").arg(&dir).args(["eval.pp_injections=20", "eval.posterior_samples=200"]));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().last().unwrap_or(""), damaged);
    // eval did not bless the damage: the run still fails verification.
    let o = run(ndelab(&results).args(["cache", "verify"]));
    assert!(String::from_utf8_lossy(&o.stdout).contains("model.safetensors: checksum mismatch"), "{}", String::from_utf8_lossy(&o.stdout));
    // A model whose weights are NaN (with sums that match) is refused on load.
    let mut nan = original.clone();
    let at = first_weight(&model);
    nan[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&model, &nan).unwrap();
    ndelab::store::entry::write_sums(&dir).unwrap();
    let o = run(ndelab(&results).arg("sample").arg(&dir).arg("--data").arg(&obs).arg("--out").arg(tmp.path().join("p.npy")));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("holds a non-finite weight (NaN at index 0)"), "{}", stderr(&o));
    assert!(!tmp.path().join("p.npy").exists());
    // eval after a good model is back adds only its own files to the sums.
    std::fs::write(&model, &original).unwrap();
    ndelab::store::entry::write_sums(&dir).unwrap();
    let o = run(ndelab(&results).arg("eval").arg(&dir).args(["eval.pp_injections=20", "eval.posterior_samples=200", "eval.reference_injections=0"]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(ndelab::store::entry::verify(&dir).unwrap(), Vec::<String>::new());
    // A run that lost a file is not "complete" to a rerun either.
    std::fs::remove_file(dir.join("spec.resolved.yaml")).unwrap();
    let o = run(ndelab(&results).arg("run").arg(tmp.path().join("reldamaged.yaml")));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("the run is damaged (spec.resolved.yaml: missing)"), "{}", stderr(&o));
}

#[test]
fn sizes_nothing_can_hold_stop_in_validation() {
    let tmp = TempDir::new("rel-sizes");
    let results = tmp.path().join("results");
    let spec = small_spec(tmp.path(), "relsizes", 2_000, 1, "");
    let validate = |o: &str| run(ndelab(&results).arg("validate").arg(&spec).arg(o));
    for (o, says) in [
        ("model.hidden=[18446744073709551615]", "layer 0 has width 18446744073709551615, above the largest ndelab builds (1048576)"),
        ("model.hidden=[8589934592]", "layer 0 has width 8589934592, above the largest ndelab builds"),
        ("model.hidden=[1000000,1000000]", "need 16000.0 GB for their weights, gradients and optimizer state, more than the"),
        ("dataset.n_train=18446744073709551615", "with n_val and n_test makes more than 1099511627776 samples"),
    ] {
        let out = validate(o);
        assert_eq!(out.status.code(), Some(2), "{o}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{o}: {}", stderr(&out));
    }
    // Within the cap but beyond the disk: refused before anything is written.
    let out = run(ndelab(&results).arg("run").arg(&spec).arg("dataset.n_train=500_000_000_000"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("TB (500000002200 samples of 9 values) but only"), "{}", stderr(&out));
    assert!(temporaries(&results).is_empty());
    // A sweep of 10^9 trials is refused before it is planned.
    let sweep = tmp.path().join("huge.yaml");
    let axis = "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]";
    let grid: String = (0..9).map(|i| format!("  +extra.k{i}: {axis}\n")).collect();
    std::fs::write(&sweep, format!("name: huge\nbase: relsizes.yaml\ngrid:\n{grid}")).unwrap();
    let start = Instant::now();
    let out = run(ndelab(&results).arg("sweep").arg(&sweep).arg("--dry-run"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("the sweep has 1000000000 trials (10 (+extra.k0) x"), "{}", stderr(&out));
    assert!(stderr(&out).contains("above the limit of 100000"), "{}", stderr(&out));
    assert!(start.elapsed() < Duration::from_secs(10));
}

/// `cache gc --older-than-days 0` while a run trains keeps that run's dataset; SIGTERM then
/// stops the run with 143, and it leaves no temporaries.
#[test]
fn gc_keeps_what_a_run_uses_and_sigterm_leaves_nothing_half_made() {
    let tmp = TempDir::new("rel-gc");
    let results = tmp.path().join("results");
    // Enough epochs that it is still training when gc and the signal come.
    let spec = small_spec(tmp.path(), "relgc", 4_000, 100_000, "");
    let mut child = ndelab(&results).arg("run").arg(&spec).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let datasets = results.join("cache/datasets");
    let start = Instant::now();
    let dataset = loop {
        if let Some(d) = entries(&datasets).0.into_iter().next() {
            break d;
        }
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        assert!(start.elapsed() < Duration::from_secs(120), "the dataset never appeared");
        std::thread::sleep(Duration::from_millis(50));
    };
    // The first checkpoint: training is under way.
    let runs = results.join("runs/relgc");
    let start = Instant::now();
    while !std::fs::read_dir(&runs).into_iter().flatten().flatten().any(|e| e.file_name().to_string_lossy().ends_with(".checkpoint")) {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        assert!(start.elapsed() < Duration::from_secs(120), "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = run(ndelab(&results).args(["cache", "gc", "--older-than-days", "0"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(child.try_wait().unwrap().is_none(), "the run was still training during gc");
    assert!(dataset.join("DONE").is_file(), "gc removed the dataset a running training uses");
    // SAFETY: a signal to the child we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(err.contains("interrupted (SIGTERM)") && err.contains("rerun the same command to resume"), "{err}");
    assert!(temporaries(&results).is_empty(), "{:?}", temporaries(&results));
    assert!(dataset.join("DONE").is_file());
}

/// Temporaries of processes that no longer exist go with `cache gc`; those of live ones stay.
#[test]
fn gc_removes_stale_temporaries_of_dead_processes_only() {
    let tmp = TempDir::new("rel-stale");
    let results = tmp.path().join("results");
    let dead = 999_999_999u32; // above Linux's largest pid
    let live = std::process::id();
    let datasets = results.join("cache/datasets");
    let runs = results.join("runs/x");
    let stale = [datasets.join(format!(".0123456789abcdef.tmp-{dead}")), runs.join(format!(".fedcba9876543210.tmp-{dead}"))];
    let kept = [datasets.join(format!(".1111111111111111.tmp-{live}"))];
    for d in stale.iter().chain(&kept) {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("theta_train.npy"), b"half").unwrap();
    }
    let scratch = std::env::temp_dir().join(format!("ndelab-command-{dead}-train-0"));
    std::fs::create_dir_all(&scratch).unwrap();
    let out = run(ndelab(&results).args(["cache", "gc"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for d in stale.iter().chain([&scratch]) {
        assert!(!d.exists(), "{} stays: {text}", d.display());
        assert!(text.contains(&format!("{}: temporary of an ndelab process that no longer exists", d.display())), "{text}");
    }
    assert!(kept.iter().all(|d| d.exists()), "a live process's temporary was removed");
}

/// A `files` spec over theta.npy and data.npy in `dir` (U[-5, 5] priors), named relative to
/// the spec's folder (ndelab runs from the repository root).
fn files_spec(dir: &Path, name: &str) -> PathBuf {
    let text = format!(
        "name: {name}\nseed: 3\ndataset:\n  simulator: files\n  n_train: 1_000\n  n_val: 300\n  n_test: 100\n  files:\n    theta: {{ path: theta.npy }}\n    data: {{ path: data.npy }}\n    data_dim: 4\n    parameters:\n      - {{ name: a, prior: {{ kind: uniform, min: -5, max: 5 }} }}\n      - {{ name: b, prior: {{ kind: uniform, min: -5, max: 5 }} }}\nmodel:\n  kind: gaussian\n  hidden: [16]\ntraining:\n  batch_size: 100\n  epochs: 2\neval:\n  metrics: [test_nll]\n  pp_injections: 20\n  posterior_samples: 200\n"
    );
    let p = dir.join(format!("{name}.yaml"));
    std::fs::write(&p, text).unwrap();
    p
}

/// Rows of θ in [-1, 1] and data that depend on them.
fn write_files(dir: &Path, rows: usize, edit: impl Fn(&mut [f32], &mut [f32])) {
    let theta: Vec<f32> = (0..rows * 2).map(|i| ((i * 7919 % 2000) as f32 / 1000.0) - 1.0).collect();
    let data: Vec<f32> = (0..rows).flat_map(|r| [theta[2 * r], theta[2 * r + 1], theta[2 * r] + theta[2 * r + 1], 0.5]).collect();
    let (mut theta, mut data) = (theta, data);
    edit(&mut theta, &mut data);
    ndelab::store::npy::write(&dir.join("theta.npy"), rows, 2, &theta).unwrap();
    ndelab::store::npy::write(&dir.join("data.npy"), rows, 4, &data).unwrap();
}

/// A θ outside its declared prior and a NaN in a user's files are refused naming the file, its
/// row and column; a finished `files` run is evaluated from the cache without its source files.
#[test]
fn a_users_files_are_checked_and_not_needed_once_cached() {
    let tmp = TempDir::new("rel-files");
    let results = tmp.path().join("results");
    let spec = files_spec(tmp.path(), "relfiles");
    write_files(tmp.path(), 1_400, |theta, _| theta[2 * 17 + 1] = 50.0);
    let out = run(ndelab(&results).arg("run").arg(&spec));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "{}: row 17, column 1 (`b`) is 50, outside its prior's support [-5, 5]",
            tmp.path().join("theta.npy").display()
        )),
        "{}",
        stderr(&out)
    );
    write_files(tmp.path(), 1_400, |_, data| data[4 * 1_234 + 2] = f32::NAN);
    let out = run(ndelab(&results).arg("run").arg(&spec));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("{}: row 1234, column 2 is NaN", tmp.path().join("data.npy").display())), "{}", stderr(&out));
    write_files(tmp.path(), 1_400, |_, _| {});
    let out = run(ndelab(&results).arg("run").arg(&spec));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    std::fs::remove_file(tmp.path().join("theta.npy")).unwrap();
    std::fs::remove_file(tmp.path().join("data.npy")).unwrap();
    let out = run(ndelab(&results).arg("eval").arg(&dir).args(["eval.pp_injections=20", "eval.reference_injections=0"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(dir.join("eval.parquet").is_file());
}

/// Parquet columns that are not numbers (true/false, text) are refused, not cast.
#[test]
fn parquet_columns_that_are_not_numbers_are_refused() {
    use polars::prelude::*;
    let tmp = TempDir::new("rel-parquet");
    for (name, column) in [
        ("bool", Column::new("b".into(), vec![true, false, true])),
        ("text", Column::new("b".into(), vec!["1.5", "2", "x"])),
    ] {
        let path = tmp.path().join(format!("{name}.parquet"));
        let mut df = DataFrame::new(3, vec![Column::new("a".into(), vec![0.1f64, 0.2, 0.3]), column]).unwrap();
        ParquetWriter::new(std::fs::File::create(&path).unwrap()).finish(&mut df).unwrap();
        let source = ndelab::sim::files::ArraySource { path: path.clone(), array: None, columns: Vec::new() };
        let err = source.load().map(|_| ()).unwrap_err().to_string();
        let what = if name == "bool" { "true/false values" } else { "text" };
        assert_eq!(err, format!("{}: column `b` holds {what}, not numbers; write it as a float or integer column", path.display()));
    }
}

/// Parquet columns of a fixed-size list or a struct (written by pyarrow) are named in words.
#[test]
fn parquet_columns_of_nested_types_are_named_in_words() {
    for name in ["fixed_size_list", "struct_column"] {
        let path = root().join("tests/data").join(format!("{name}.parquet"));
        let source = ndelab::sim::files::ArraySource { path: path.clone(), array: None, columns: Vec::new() };
        let err = source.load().map(|_| ()).unwrap_err().to_string();
        assert!(!err.contains("Field {") && !err.contains("FixedSizeList("), "{name}: {err}");
        assert!(err.starts_with(&format!("{}: ", path.display())), "{err}");
        assert!(err.contains("write one float column per value") || err.contains("not numbers"), "{name}: {err}");
    }
}
