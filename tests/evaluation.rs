//! `ndelab eval` and the posterior-check metrics: what they write into a finished run, and
//! reference samples brought from files.

use crate::util::*;
use ndelab::report::{read_parquet, EVAL_COLUMNS};
use std::process::Stdio;

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
    let out = run(ndelab(&results).arg("eval").arg(&dir).args([
        "eval.pp_injections=60",
        "eval.posterior_samples=500",
        "eval.reference_injections=2",
        "eval.importance_samples=400",
    ]));
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
    // The importance-sampled draws, resampled, compared with the same exact posterior.
    assert!(floats(&summary, "js_median_is")[0].is_some_and(|v| (0.0..0.1).contains(&v)));
    assert!(floats(&summary, "c2st_mean_is")[0].is_some_and(|v| (0.3..=1.0).contains(&v)));
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
    let out = run(ndelab(&results)
        .arg("sample")
        .arg(&dir)
        .arg("--data")
        .arg(&obs)
        .args(["--n", "2000", "--seed", "9", "--out"])
        .arg(refdir.join("injection_0.parquet")));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(ndelab(&results)
        .arg("eval")
        .arg(&dir)
        .arg("--reference")
        .arg(&refdir)
        .args(["eval.pp_injections=20", "eval.posterior_samples=2000"]));
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
    let out = run(ndelab(&results)
        .arg("eval")
        .arg(&dir)
        .arg("--reference")
        .arg(&refdir)
        .args(["eval.pp_injections=20", "eval.posterior_samples=500"]));
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

/// `training.recalibrate`: the run fits the marginals' quantile map on the validation split
/// and keeps it in the model card; log q (the test NLL) is the network's, the same as without
/// it, and the recalibrated draws pass the P-P test on the test split.
#[test]
fn a_recalibrated_run_keeps_its_density_and_moves_its_draws() {
    let tmp = TempDir::new("recal");
    let results = tmp.path().join("results");
    let spec = small_spec(tmp.path(), "recal", 4_000, 2, "  pp_injections: 200\n  posterior_samples: 400\n");
    let metrics = "eval.metrics=[test_nll,pp]";
    let plain = run(ndelab(&results).arg("run").arg(&spec).arg(metrics));
    assert_eq!(plain.status.code(), Some(0), "{}", stderr(&plain));
    let recal = run(ndelab(&results).arg("run").arg(&spec).args([metrics, "+training.recalibrate=true"]));
    let err = stderr(&recal);
    assert_eq!(recal.status.code(), Some(0), "{err}");
    assert!(err.contains("recalibrated the marginals on 2000 validation pairs"), "{err}");
    let dirs: Vec<std::path::PathBuf> =
        [&plain, &recal].iter().map(|o| std::path::PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())).collect();
    assert_ne!(dirs[0], dirs[1], "recalibrate is part of the run key");
    let card: serde_json::Value = serde_json::from_slice(&std::fs::read(dirs[1].join("model.json")).unwrap()).unwrap();
    let cdf = card["recalibration"]["cdf"].as_array().expect("the card holds the recalibration");
    assert_eq!(cdf.len(), 3);
    assert!(cdf.iter().all(|k| k.as_array().unwrap().len() == ndelab::nn::recalibration::BINS + 1));
    let summaries: Vec<_> = dirs.iter().map(|d| read_parquet(&d.join("summary.parquet")).unwrap()).collect();
    assert_eq!(floats(&summaries[0], "test_nll"), floats(&summaries[1], "test_nll"), "log q is the network's");
    let p = floats(&summaries[1], "pp_combined_p")[0].unwrap();
    assert!(p > 0.01, "recalibrated P-P combined p {p}");
    let pct = |d: &std::path::Path| floats(&read_parquet(&d.join("eval.parquet")).unwrap(), "percentile");
    assert_ne!(pct(&dirs[0]), pct(&dirs[1]), "the draws moved");
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
    let spawn = || {
        ndelab(&results)
            .arg("eval")
            .arg(&dir)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(!stale.exists(), "the killed eval's staging folder is still there");
    assert_eq!(ndelab::store::entry::verify(&dir).unwrap(), Vec::<String>::new());
    assert!(dir.join("eval.parquet").is_file());
}

/// An eval killed while moving its results in (SHA256SUMS not yet rewritten, its marker left)
/// does not make the run corrupt: `cache verify --fix` keeps it and says to rerun the eval,
/// and the next eval finishes the job. A `cache verify --fix` running again and again beside
/// an eval never removes the run either.
#[test]
fn an_eval_killed_while_committing_is_finished_by_the_next_and_verify_keeps_the_run() {
    let tmp = TempDir::new("eval-pending");
    let results = tmp.path().join("results");
    let dir = trained_run(&tmp, &results);
    std::fs::write(dir.join(ndelab::store::entry::EVAL_PENDING), b"").unwrap();
    std::fs::write(dir.join("eval.parquet"), b"moved in by the killed eval").unwrap();
    let out = run(ndelab(&results).args(["cache", "verify", "--fix"]));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("a killed `ndelab eval` left the checks half-written: rerun it"), "{text}");
    assert!(dir.join("model.safetensors").is_file(), "cache verify --fix removed a finished run");

    let args = ["eval.pp_injections=20", "eval.posterior_samples=300", "eval.reference_injections=1", "eval.importance_samples=0"];
    let mut eval = ndelab(&results).arg("eval").arg(&dir).args(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut verifies = 0;
    while eval.try_wait().unwrap().is_none() {
        let out = run(ndelab(&results).args(["cache", "verify", "--fix"]));
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
        assert!(!String::from_utf8_lossy(&out.stdout).contains("CORRUPT"), "{}", String::from_utf8_lossy(&out.stdout));
        verifies += 1;
    }
    let out = eval.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(verifies >= 1);
    assert!(!dir.join(ndelab::store::entry::EVAL_PENDING).exists(), "the eval's marker is still there");
    assert_eq!(ndelab::store::entry::verify(&dir).unwrap(), Vec::<String>::new());
}

/// Two runs of one spec at once: one trains, the other waits and finds it done. Two sweeps of
/// one file at once: both finish, with one complete entry per trial and no leftovers. A `cache verify --fix` during a run removes
/// nothing. Everything verifies afterwards.
#[test]
fn concurrent_runs_sweeps_and_verifies_wait_for_each_other() {
    let tmp = TempDir::new("concurrent");
    let results = tmp.path().join("results");
    let spec = small_spec(tmp.path(), "twice", 20_000, 6, "");
    let spawn = |args: &[&std::ffi::OsStr]| ndelab(&results).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let runs = [spawn(&["run".as_ref(), spec.as_os_str()]), spawn(&["run".as_ref(), spec.as_os_str()])];
    let verify = run(ndelab(&results).args(["cache", "verify", "--fix"]));
    assert!(!String::from_utf8_lossy(&verify.stdout).contains("CORRUPT"), "{}", String::from_utf8_lossy(&verify.stdout));
    let errs: Vec<String> = runs
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            stderr(&out)
        })
        .collect();
    let trained = errs.iter().filter(|e| e.contains("epoch ")).count();
    let hits = errs.iter().filter(|e| e.contains("cache hit: run")).count();
    assert_eq!((trained, hits), (1, 1), "{errs:?}");

    let sweep = tmp.path().join("both.yaml");
    std::fs::write(&sweep, "name: both\nbase: twice.yaml\noverrides: [training.epochs=2]\nseeds: [1, 2, 3]\n").unwrap();
    let sweeps = [
        spawn(&["sweep".as_ref(), sweep.as_os_str(), "--jobs".as_ref(), "1".as_ref()]),
        spawn(&["sweep".as_ref(), sweep.as_os_str(), "--jobs".as_ref(), "1".as_ref()]),
    ];
    for c in sweeps {
        let out = c.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let (done, leftovers) = entries(&results.join("runs/twice"));
    assert_eq!((done.len(), leftovers.len()), (1 + 3, 0));
    let verify = run(ndelab(&results).args(["cache", "verify"]));
    assert_eq!(verify.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&verify.stdout).contains("0 corrupt"));
}
