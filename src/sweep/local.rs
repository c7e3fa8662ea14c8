//! The local executor: trials as child `ndelab run` processes, `jobs` at a time, each with
//! `threads` worker threads (jobs × threads ≤ cores by default; dfdx gains less from a second
//! thread than a second trial does).

use super::SweepError;
use super::{collect, SweepPlan, TrialOutcome, TrialStatus};
use crate::ui;
use rayon::prelude::*;
use std::process::{Command, Stdio};
use std::time::Instant;

/// How to run trials locally.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// Trials at once.
    pub jobs: usize,
    /// Threads per trial.
    pub threads_per_trial: usize,
}

impl LocalOptions {
    /// The defaults for `trials` trials on this machine: as many trials at once as cores
    /// (at most the number of trials), sharing the cores evenly.
    pub fn defaults(trials: usize, jobs: Option<usize>, threads: Option<usize>) -> LocalOptions {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let jobs = jobs.unwrap_or_else(|| cores.min(trials.max(1))).max(1);
        let threads_per_trial = threads.unwrap_or_else(|| (cores / jobs).max(1)).max(1);
        LocalOptions { jobs, threads_per_trial }
    }
}

fn last_error(log: &str) -> String {
    log.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .or_else(|| log.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("")
        .to_string()
}

/// Runs every unfinished trial of `plan`, then collects; a failing trial is recorded and the
/// others go on. Returns the outcomes in trial order.
pub fn run_local(plan: &SweepPlan, opts: &LocalOptions) -> Result<Vec<TrialOutcome>, SweepError> {
    plan.save()?;
    let exe = std::env::current_exe().map_err(SweepError::Executable)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if opts.jobs * opts.threads_per_trial > cores {
        crate::ui::warning!("{} jobs × {} threads oversubscribe {cores} cores", opts.jobs, opts.threads_per_trial);
    }
    let todo = plan.trials.iter().filter(|t| !t.run_dir.join("DONE").is_file()).count();
    crate::ui::note!(
        "sweep `{}`: {} trials, {} finished, {} to run ({} at a time, {} thread(s) each) → {}",
        plan.name,
        plan.trials.len(),
        plan.trials.len() - todo,
        todo,
        opts.jobs,
        opts.threads_per_trial,
        plan.dir.display()
    );
    let bar = ui::bar(plan.trials.len() as u64, "trials");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs)
        .build()
        .map_err(|e| SweepError::Workers { jobs: opts.jobs, message: e.to_string() })?;
    let outcomes: Vec<TrialOutcome> = pool.install(|| {
        plan.trials
            .par_iter()
            .map(|t| {
                if t.run_dir.join("DONE").is_file() {
                    bar.inc(1);
                    return TrialOutcome { status: TrialStatus::Cached, wall_s: 0.0, error: None };
                }
                let log_path = plan.dir.join("logs").join(format!("trial_{}.log", t.trial.index));
                let start = Instant::now();
                let log = std::fs::File::create(&log_path);
                let result = log.and_then(|log| {
                    let mut cmd = Command::new(&exe);
                    die_with_parent(&mut cmd);
                    cmd.arg("--results")
                        .arg(&plan.results)
                        .arg("--threads")
                        .arg(opts.threads_per_trial.to_string())
                        .arg("run")
                        .arg(&plan.base)
                        .args(&t.trial.overrides)
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(log)
                        .status()
                });
                let wall_s = start.elapsed().as_secs_f64();
                let outcome = match result {
                    Ok(s) if s.success() => TrialOutcome { status: TrialStatus::Ran, wall_s, error: None },
                    Ok(s) => {
                        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
                        let err = last_error(&text);
                        TrialOutcome {
                            status: TrialStatus::Failed,
                            wall_s,
                            error: Some(if err.is_empty() { format!("exit status {s}") } else { err }),
                        }
                    }
                    Err(e) => TrialOutcome { status: TrialStatus::Failed, wall_s, error: Some(format!("cannot start ndelab: {e}")) },
                };
                let msg = match &outcome.status {
                    TrialStatus::Failed => format!("trial {} failed: {}", t.trial.index, outcome.error.clone().unwrap_or_default()),
                    _ => format!("trial {} done in {:.1} s", t.trial.index, wall_s),
                };
                ui::log(Some(&bar), &msg);
                bar.inc(1);
                outcome
            })
            .collect()
    });
    bar.finish_and_clear();
    collect(plan, Some(&outcomes))?;
    Ok(outcomes)
}

/// Makes a trial's process die with the sweep that started it: a sweep killed alone (SIGKILL,
/// an out-of-memory kill) leaves no trial running on without it.
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: between fork and exec the closure calls only async-signal-safe functions
    // (prctl, getppid) and allocates nothing on its success path.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The sweep may have died before the signal was armed.
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}
