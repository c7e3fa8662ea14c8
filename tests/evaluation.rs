//! `ndelab eval` and the posterior-check metrics: what they write into a finished run, and
//! reference samples brought from files.

use crate::util::*;
use ndelab::report::{read_parquet, EVAL_COLUMNS};

fn trained_run(tmp: &TempDir, results: &std::path::Path) -> std::path::PathBuf {
    let spec = small_spec(tmp.path(), "ev", 4_000, 4, "");
    let out = run(ndelab(results).arg("run").arg(&spec));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

#[test]
fn eval_adds_calibration_and_reference_checks_to_a_run() {
    let tmp = TempDir::new("eval");
    let results = tmp.path().join("results");
    let dir = trained_run(&tmp, &results);
    let out = run(ndelab(&results).arg("eval").arg(&dir).args(["eval.pp_injections=60", "eval.posterior_samples=500", "eval.reference_injections=2", "eval.importance_samples=400"]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("P-P test over 60 injections"), "{err}");
    let df = read_parquet(&dir.join("eval.parquet")).unwrap();
    let names: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
    assert_eq!(names, EVAL_COLUMNS);
    assert_eq!(df.height(), 60 * 3);
    // JS against the exact posterior on the first two injections only; a small, finite value.
    let js = floats(&df, "js");
    assert!(js[..6].iter().all(|v| v.is_some_and(|x| (0.0..0.1).contains(&x))), "{js:?}");
    assert!(js[6..].iter().all(Option::is_none));
    let pct = floats(&df, "percentile");
    assert!(pct.iter().all(|v| v.is_some_and(|x| (0.0..=1.0).contains(&x))));
    for png in ["pp.png", "sbc.png", "corner_reference_0.png", "corner_reference_1.png"] {
        assert!(dir.join("plots").join(png).is_file(), "{png}");
    }
    let summary = read_parquet(&dir.join("summary.parquet")).unwrap();
    assert_eq!(floats(&summary, "pp_injections"), vec![Some(60.0)]);
    assert!(floats(&summary, "pp_combined_p")[0].is_some_and(|p| (0.0..=1.0).contains(&p)));
    assert!(floats(&summary, "js_median")[0].is_some());
    assert!(floats(&summary, "is_efficiency_median")[0].is_some_and(|e| e > 0.0 && e <= 1.0));
    // The run folder stays verifiable: SHA256SUMS lists the new files.
    assert_eq!(ndelab::store::entry::verify(&dir).unwrap(), Vec::<String>::new());
}

#[test]
fn eval_reads_reference_samples_from_files() {
    let tmp = TempDir::new("evalref");
    let results = tmp.path().join("results");
    let dir = trained_run(&tmp, &results);
    // The estimator's own samples for test injection 0, as Parquet with named columns.
    let inj = tmp.path().join("inj");
    let spec = tmp.path().join("ev.yaml");
    let out = run(ndelab(&results).arg("export-injections").arg(&spec).arg("--out").arg(&inj));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let data = ndelab::store::npy::read(&inj.join("data.npy")).unwrap();
    let obs = tmp.path().join("obs.npy");
    ndelab::store::npy::write(&obs, 1, data.cols, data.row(0)).unwrap();
    let refdir = tmp.path().join("ref");
    std::fs::create_dir_all(&refdir).unwrap();
    let out = run(ndelab(&results).arg("sample").arg(&dir).arg("--data").arg(&obs).args(["--n", "2000", "--seed", "9", "--out"]).arg(refdir.join("injection_0.parquet")));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(ndelab(&results).arg("eval").arg(&dir).arg("--reference").arg(&refdir).args(["eval.pp_injections=20", "eval.posterior_samples=2000"]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let df = read_parquet(&dir.join("eval.parquet")).unwrap();
    let c2st = floats(&df, "c2st")[0].unwrap();
    assert!((c2st - 0.5).abs() < 0.05, "the estimator against its own samples: C2ST {c2st}");
    assert!(floats(&df, "js")[..3].iter().all(|v| v.is_some_and(|x| x < 0.01)), "{:?}", floats(&df, "js"));
    assert!(floats(&df, "js")[3..].iter().all(Option::is_none), "only injection 0 has a reference file");

    // A reference file without the run's columns: exit 2, named column, and nothing changed.
    std::fs::write(refdir.join("injection_1.csv"), "a,b\n1,2\n").unwrap();
    let before = std::fs::read(dir.join("summary.parquet")).unwrap();
    let out = run(ndelab(&results).arg("eval").arg(&dir).arg("--reference").arg(&refdir).args(["eval.pp_injections=20", "eval.posterior_samples=500"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("injection_1.csv: no column `x0` (columns: a, b)"), "{}", stderr(&out));
    assert_eq!(std::fs::read(dir.join("summary.parquet")).unwrap(), before);
}

#[test]
fn a_run_with_pp_and_c2st_metrics_checks_itself() {
    let tmp = TempDir::new("evalrun");
    let results = tmp.path().join("results");
    let spec = small_spec(tmp.path(), "evrun", 4_000, 3, "");
    let out = run(ndelab(&results).arg("run").arg(&spec).args([
        "eval.metrics=[test_nll,pp,c2st]",
        "+eval.pp_injections=40",
        "+eval.posterior_samples=300",
        "+eval.reference_injections=1",
    ]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("P-P test over 40 injections") && err.contains("injection 0 vs exact"), "{err}");
    let dir = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let summary = read_parquet(&dir.join("summary.parquet")).unwrap();
    assert_eq!(floats(&summary, "pp_injections"), vec![Some(40.0)]);
    assert_eq!(floats(&summary, "reference_injections"), vec![Some(1.0)]);
    assert!(dir.join("eval.parquet").is_file() && dir.join("plots/pp.png").is_file());
    assert_eq!(ndelab::store::entry::verify(&dir).unwrap(), Vec::<String>::new());
}

/// What a killed `ndelab eval` leaves (its hidden staging folder) neither makes `cache verify`
/// call the run corrupt — so `--fix` never deletes a trained run for it — nor survives the
/// next eval; two evals of one run at once both finish, one after the other, and the run
/// verifies.
#[test]
fn killed_and_concurrent_evals_lose_nothing() {
    let tmp = TempDir::new("eval-kill");
    let results = tmp.path().join("results");
    let dir = trained_run(&tmp, &results);
    let stale = dir.join(".eval.tmp-4242");
    std::fs::create_dir_all(stale.join("plots")).unwrap();
    std::fs::write(stale.join("eval.parquet"), b"half").unwrap();
    let out = run(ndelab(&results).args(["cache", "verify", "--fix"]));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(dir.join("model.safetensors").is_file(), "cache verify --fix removed a finished run");
    let args = ["eval.pp_injections=20", "eval.posterior_samples=300", "eval.reference_injections=1", "eval.importance_samples=0"];
    let spawn = || ndelab(&results).arg("eval").arg(&dir).args(args).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(!stale.exists(), "the killed eval's staging folder is still there");
    assert_eq!(ndelab::store::entry::verify(&dir).unwrap(), Vec::<String>::new());
    assert!(dir.join("eval.parquet").is_file());
}
