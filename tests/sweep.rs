//! Sweeps: expansion from YAML, resume after kill -9, failing trials, the Slurm scripts, and a
//! real single-node Slurm (scripts/slurm-local.sh; .ci/run starts it).

use crate::util::*;
use ndelab::report::read_parquet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A sweep file over a small linear-Gaussian base spec; returns its path.
fn sweep_file(dir: &Path, name: &str, n_train: usize, epochs: usize, axes: &str) -> PathBuf {
    let base = small_spec(dir, &format!("{name}_base"), n_train, epochs, "");
    let text = format!("name: {name}\nbase: {}\noverrides: [eval.kl_samples=16]\n{axes}", base.file_name().unwrap().to_string_lossy());
    let p = dir.join(format!("{name}.yaml"));
    std::fs::write(&p, text).unwrap();
    p
}

fn summary(dir: &str) -> polars::prelude::DataFrame {
    read_parquet(&PathBuf::from(dir.trim()).join("summary.parquet")).unwrap()
}

#[test]
fn a_yaml_sweep_expands_runs_and_collects() {
    let tmp = TempDir::new("sweep");
    let file = sweep_file(tmp.path(), "grid", 2_000, 2, "grid: { model.hidden: [[8], [16]], training.batch_size: [128, 256, 512] }\n");
    let results = tmp.path().join("results");
    let out = run(ndelab(&results).arg("sweep").arg(&file).arg("--dry-run"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(table.matches("pending").count(), 6, "{table}");
    assert!(!results.join("runs").exists(), "a dry run runs nothing");

    let out = run(ndelab(&results).arg("sweep").arg(&file).args(["--jobs", "2", "--threads-per-trial", "1"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let df = summary(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(df.height(), 6);
    assert_eq!(strings(&df, "status"), vec!["ok"; 6]);
    let names: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
    for c in ["trial", "model.hidden", "training.batch_size", "status", "wall_s", "test_nll", "kl_to_truth", "run_key"] {
        assert!(names.contains(&c.to_string()), "no column {c} in {names:?}");
    }
    // Integer axes stay integers.
    assert_eq!(df.column("training.batch_size").unwrap().dtype(), &polars::prelude::DataType::Int64);
    // Again: every trial is a cache hit.
    let out = run(ndelab(&results).arg("sweep").arg(&file));
    assert!(stderr(&out).contains("(0 run now, 6 cached, 0 failed)"), "{}", stderr(&out));
}

#[test]
fn a_failing_trial_is_recorded_and_the_others_finish() {
    let tmp = TempDir::new("fail");
    let file = sweep_file(tmp.path(), "fail", 2_000, 2, "grid: { training.optimizer.lr: [1.0e-3, 1.0e6] }\n");
    let results = tmp.path().join("results");
    let out = run(ndelab(&results).arg("sweep").arg(&file).args(["--jobs", "1"]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("1 of 2 trials failed"), "{}", stderr(&out));
    let dir = String::from_utf8_lossy(&out.stdout).to_string();
    let df = summary(&dir);
    assert_eq!(strings(&df, "status"), ["ok", "failed"]);
    let errors = df.column("error").unwrap().str().unwrap().clone();
    assert!(errors.get(1).unwrap().contains("training diverged"), "{:?}", errors.get(1));
    assert!(floats(&df, "test_nll")[0].is_some() && floats(&df, "test_nll")[1].is_none());
}

#[test]
fn multirun_on_the_command_line_is_a_sweep() {
    let tmp = TempDir::new("multi");
    let spec = small_spec(tmp.path(), "multi", 2_000, 1, "");
    let results = tmp.path().join("results");
    let out = run(ndelab(&results).arg("run").arg(&spec).args(["model.hidden=[8],[16]", "seed=1,2,3"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let df = summary(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(df.height(), 6);
    let seeds = df.column("seed").unwrap().i64().unwrap().clone();
    assert_eq!((0..6).map(|i| seeds.get(i).unwrap()).collect::<Vec<_>>(), [1, 2, 3, 1, 2, 3]);
}

/// kill -9 in the middle of a sweep: the next call runs only the missing trials and the
/// results equal those of an uninterrupted sweep.
#[test]
fn a_killed_sweep_resumes_with_only_the_missing_trials() {
    use std::os::unix::process::CommandExt;
    let tmp = TempDir::new("resume");
    let file = sweep_file(tmp.path(), "resume", 40_000, 3, "seeds: [1, 2, 3, 4]\n");
    let results = tmp.path().join("results");
    let mut child = ndelab(&results)
        .arg("sweep")
        .arg(&file)
        .args(["--jobs", "1", "--threads-per-trial", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let runs = results.join("runs/resume_base");
    let start = Instant::now();
    loop {
        let done = entries(&runs).0.len();
        if done >= 1 || start.elapsed() > Duration::from_secs(120) || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGKILL to the whole process group: the sweep and the trial it is running.
    let killed = Command::new("kill").args(["-9", "--"]).arg(format!("-{}", child.id())).status().unwrap();
    assert!(killed.success());
    child.wait().unwrap();
    let done_before = entries(&runs).0.len();
    assert!((1..4).contains(&done_before), "killed with {done_before} of 4 trials done; the test needs a trial in progress");

    let out = run(ndelab(&results).arg("sweep").arg(&file).args(["--jobs", "1"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let expect = format!("({} run now, {done_before} cached, 0 failed)", 4 - done_before);
    assert!(stderr(&out).contains(&expect), "expected {expect}: {}", stderr(&out));
    let resumed = summary(&String::from_utf8_lossy(&out.stdout));

    let clean = tmp.path().join("clean");
    let out = run(ndelab(&clean).arg("sweep").arg(&file).args(["--jobs", "1"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let uninterrupted = summary(&String::from_utf8_lossy(&out.stdout));
    for col in ["test_nll", "kl_to_truth", "best_val_loss"] {
        assert_eq!(floats(&resumed, col), floats(&uninterrupted, col), "{col}");
    }
}

fn fixed_plan() -> ndelab::sweep::SweepPlan {
    let def =
        ndelab::sweep::SweepDefinition::multirun(Path::new("experiments/linear_gaussian.yaml"), "golden", &["seed=1,2,3".to_string()])
            .unwrap();
    let mut plan = ndelab::sweep::plan(&def, &ndelab::store::Layout::new("/shared/results")).unwrap();
    plan.dir = PathBuf::from("/shared/results/sweeps/golden/0123456789abcdef");
    plan.results = PathBuf::from("/shared/results");
    plan
}

#[test]
fn slurm_scripts_match_the_golden_files() {
    // cargo runs integration tests in the package root, where the base spec path resolves.
    let plan = fixed_plan();
    let opts = ndelab::sweep::slurm::SlurmOptions {
        partition: Some("gpu-short".into()),
        time: Some("01:00:00".into()),
        mem: Some("4G".into()),
        cpus_per_task: 2,
        throttle: Some(2),
        extra: vec!["--account=ligo".into(), "#SBATCH --mail-type=FAIL".into()],
    };
    let exe = Path::new("/opt/ndelab/bin/ndelab");
    let work = Path::new("/home/me/study");
    for (file, text) in [
        ("array.sbatch", ndelab::sweep::slurm::array_script(&plan, &opts, exe, work)),
        ("collect.sbatch", ndelab::sweep::slurm::collect_script(&plan, &opts, exe, work)),
    ] {
        let golden = root().join("tests/golden").join(file);
        if std::env::var_os("NDELAB_BLESS").is_some() {
            std::fs::write(&golden, &text).unwrap();
        }
        assert_eq!(text, std::fs::read_to_string(&golden).unwrap(), "{file}");
    }
}

/// Submits a small sweep to a real Slurm (single node) and waits for the collect job. Ignored
/// by `make test`, so that it never passes without running; `.ci/run` starts a Slurm and runs
/// it (`make test TEST_ARGS=--include-ignored`).
#[test]
#[ignore = "needs Slurm: scripts/slurm-local.sh install && scripts/slurm-local.sh start, then --include-ignored"]
fn a_sweep_runs_as_a_slurm_array() {
    let slurm_up = Command::new("sinfo").arg("-h").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    assert!(slurm_up, "Slurm does not answer (`sinfo -h` fails); run scripts/slurm-local.sh install and start");
    let tmp = TempDir::new("slurm");
    let file = sweep_file(tmp.path(), "slurm", 2_000, 2, "seeds: [1, 2, 3]\n");
    let results = tmp.path().join("results");
    let out = run(ndelab(&results).arg("sweep").arg(&file).args(["--backend", "slurm", "--throttle", "2"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(dir.join("array.sbatch").is_file() && dir.join("jobs.json").is_file());
    let start = Instant::now();
    while !dir.join("logs/collect.log").is_file() || !dir.join("summary.parquet").is_file() {
        assert!(start.elapsed() < Duration::from_secs(240), "the collect job did not finish in 4 minutes");
        std::thread::sleep(Duration::from_millis(500));
    }
    let df = read_parquet(&dir.join("summary.parquet")).unwrap();
    assert_eq!(strings(&df, "status"), vec!["ok"; 3]);
    let out = run(ndelab(&results).arg("sweep").arg("status").arg(&file));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("3 of 3 trials complete") && text.contains("COMPLETED"), "{text}");
}

/// A sweep whose name would leave the results folder (or reach a Slurm job name unescaped)
/// is refused before anything runs, with exit 2.
#[test]
fn a_sweep_name_cannot_escape_the_results_folder() {
    let tmp = TempDir::new("sweep-escape");
    let file = tmp.path().join("escape.yaml");
    let base = root().join("experiments/linear_gaussian.yaml");
    std::fs::write(&file, format!("name: ../../../escaped\nbase: {}\ngrid:\n  seed: [1, 2]\n", base.display())).unwrap();
    let results = tmp.path().join("deep/er/results");
    let out = run(ndelab(&results).arg("sweep").arg(&file).arg("--dry-run"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let want = format!(
        "error: {}: `name`: `../../../escaped` cannot name a results folder\n  use at most 200 letters, digits, `_`, `-` and `.`, not starting with `.`\n",
        file.display()
    );
    assert_eq!(stderr(&out), want);
    assert!(!tmp.path().join("escaped").exists() && !results.exists());
}

/// `ndelab sweep status` still reports the trials finished on disk when Slurm's accounting
/// (sacct) cannot answer.
#[test]
fn sweep_status_reports_finished_trials_without_accounting() {
    let tmp = TempDir::new("status");
    let file = sweep_file(tmp.path(), "st", 2_000, 1, "grid:\n  seed: [1, 2]\n");
    let results = tmp.path().join("results");
    let out = run(ndelab(&results).arg("sweep").arg(&file).arg("--dry-run"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let dir = PathBuf::from(text.lines().next().unwrap().rsplit("→ ").next().unwrap().trim());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("jobs.json"), r#"{"array": "101", "collect": "102"}"#).unwrap();
    let out = run(ndelab(&results).args(["sweep", "status"]).arg(&file).env("PATH", "/nonexistent"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("sweep `st`: 0 of 2 trials complete"), "{text}");
    assert!(text.contains("Slurm states unavailable (cannot run sacct: No such file or directory"), "{text}");
}

/// A sweep killed on its own (SIGKILL to the sweep process only, as an out-of-memory kill
/// does) takes the trial it was running with it: no trial process runs on without its sweep.
#[test]
fn a_killed_sweep_leaves_no_trial_running() {
    let tmp = TempDir::new("orphan");
    // Large enough that the trial trains for minutes: it can only be gone soon after the kill
    // if it died with the sweep.
    let file = sweep_file(tmp.path(), "orphan", 1_000_000, 50, "seeds: [1, 2]\n");
    let results = tmp.path().join("results");
    let mut sweep =
        ndelab(&results).arg("sweep").arg(&file).args(["--jobs", "1"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let runs = results.join("runs/orphan_base");
    // The trial's staging folder is named after its process: `.<key>.tmp-<pid>`.
    let start = Instant::now();
    let trial_pid = loop {
        let found = std::fs::read_dir(&runs).into_iter().flatten().flatten().find_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.rsplit_once(".tmp-").and_then(|(_, pid)| pid.parse::<u32>().ok())
        });
        if let Some(pid) = found {
            break pid;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "no trial started");
        assert!(sweep.try_wait().unwrap().is_none(), "the sweep ended before a trial was seen");
        std::thread::sleep(Duration::from_millis(20));
    };
    let proc_dir = PathBuf::from(format!("/proc/{trial_pid}"));
    assert!(proc_dir.exists(), "trial {trial_pid} is running");
    sweep.kill().unwrap();
    sweep.wait().unwrap();
    let start = Instant::now();
    // A killed process lingers as a zombie until reaped; its state line then says Z.
    let alive = || std::fs::read_to_string(proc_dir.join("stat")).is_ok_and(|s| !s.split_whitespace().nth(2).is_some_and(|st| st == "Z"));
    while alive() && start.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let orphaned = alive();
    if orphaned {
        let _ = Command::new("kill").args(["-9", &trial_pid.to_string()]).status();
    }
    assert!(!orphaned, "trial {trial_pid} still ran 3 s after its sweep was killed");
}
