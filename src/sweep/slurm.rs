//! The Slurm backend: one array task per trial (`%N` throttle), requeue-safe because trials
//! are keyed runs, and a collect job that runs after the array, whatever its outcome.

use super::SweepError;
use super::SweepPlan;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::Command;

/// sbatch settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlurmOptions {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time`.
    pub time: Option<String>,
    /// `--mem`.
    pub mem: Option<String>,
    /// `--cpus-per-task` (also the threads of each trial).
    pub cpus_per_task: usize,
    /// Most array tasks at once.
    pub throttle: Option<usize>,
    /// Extra `#SBATCH` lines, verbatim (a leading `#SBATCH ` is added when missing).
    pub extra: Vec<String>,
}

fn header(lines: &mut Vec<String>, o: &SlurmOptions) {
    if let Some(p) = &o.partition {
        lines.push(format!("#SBATCH --partition={p}"));
    }
    if let Some(t) = &o.time {
        lines.push(format!("#SBATCH --time={t}"));
    }
    if let Some(m) = &o.mem {
        lines.push(format!("#SBATCH --mem={m}"));
    }
    for e in &o.extra {
        lines.push(if e.starts_with("#SBATCH") { e.clone() } else { format!("#SBATCH {e}") });
    }
}

fn quote(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:".contains(c)) {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The array job script.
pub fn array_script(plan: &SweepPlan, o: &SlurmOptions, exe: &Path, workdir: &Path) -> String {
    let n = plan.trials.len();
    let throttle = o.throttle.map(|t| format!("%{t}")).unwrap_or_default();
    let mut l = vec![
        "#!/bin/bash".to_string(),
        format!("#SBATCH --job-name=ndelab-{}", plan.name),
        format!("#SBATCH --array=0-{}{throttle}", n.saturating_sub(1)),
        format!("#SBATCH --cpus-per-task={}", o.cpus_per_task.max(1)),
        format!("#SBATCH --output={}/logs/trial_%a.log", plan.dir.display()),
        "#SBATCH --requeue".to_string(),
    ];
    header(&mut l, o);
    l.push("# One trial per array task; a requeued or repeated task finds its run complete and does nothing.".into());
    l.push("set -euo pipefail".into());
    l.push(format!("cd {}", quote(workdir)));
    l.push(format!(
        "exec {} --results {} --threads \"${{SLURM_CPUS_PER_TASK:-1}}\" sweep trial {} \"$SLURM_ARRAY_TASK_ID\"",
        quote(exe),
        quote(&plan.results),
        quote(&plan.dir.join("trials.json"))
    ));
    l.join("\n") + "\n"
}

/// The collect job script (submitted with `--dependency=afterany:<array job>`).
pub fn collect_script(plan: &SweepPlan, o: &SlurmOptions, exe: &Path, workdir: &Path) -> String {
    let mut l = vec![
        "#!/bin/bash".to_string(),
        format!("#SBATCH --job-name=ndelab-{}-collect", plan.name),
        "#SBATCH --cpus-per-task=1".to_string(),
        format!("#SBATCH --output={}/logs/collect.log", plan.dir.display()),
    ];
    header(&mut l, &SlurmOptions { mem: None, ..o.clone() });
    l.push("set -euo pipefail".into());
    l.push(format!("cd {}", quote(workdir)));
    l.push(format!("exec {} --results {} sweep collect {}", quote(exe), quote(&plan.results), quote(&plan.dir.join("trials.json"))));
    l.join("\n") + "\n"
}

/// The job ids of a submitted sweep (jobs.json).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Jobs {
    /// The array job.
    pub array: String,
    /// The collect job.
    pub collect: String,
}

fn sbatch(args: &[&str], script: &Path) -> Result<String, SweepError> {
    let out = Command::new("sbatch").arg("--parsable").args(args).arg(script).output().map_err(|e| SweepError::Scheduler {
        command: "sbatch".into(),
        message: format!("cannot run it: {e}; is Slurm installed and on PATH? (scripts/slurm-local.sh sets one up)"),
    })?;
    if !out.status.success() {
        return Err(SweepError::Scheduler {
            command: format!("sbatch {}", script.display()),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        }
        .into());
    }
    // --parsable prints `jobid[;cluster]`.
    Ok(String::from_utf8_lossy(&out.stdout).trim().split(';').next().unwrap_or("").to_string())
}

/// Writes the scripts and submits the array and its collect job.
pub fn submit(plan: &SweepPlan, o: &SlurmOptions) -> Result<Jobs, SweepError> {
    plan.save()?;
    let exe = std::env::current_exe().map_err(SweepError::Executable)?;
    let workdir = std::env::current_dir().map_err(SweepError::Executable)?;
    let array = plan.dir.join("array.sbatch");
    let collect = plan.dir.join("collect.sbatch");
    crate::store::entry::write_atomic(&array, array_script(plan, o, &exe, &workdir).as_bytes())?;
    crate::store::entry::write_atomic(&collect, collect_script(plan, o, &exe, &workdir).as_bytes())?;
    let array_id = sbatch(&[], &array)?;
    let collect_id = sbatch(&[&format!("--dependency=afterany:{array_id}")], &collect)?;
    let jobs = Jobs { array: array_id, collect: collect_id };
    crate::store::entry::write_atomic(&plan.dir.join("jobs.json"), serde_json::to_string(&jobs).unwrap_or_default().as_bytes())?;
    Ok(jobs)
}

/// `ndelab sweep status`: the Slurm states of a submitted sweep (sacct) and its finished trials.
pub fn status(plan: &SweepPlan) -> Result<String, SweepError> {
    let done = plan.trials.iter().filter(|t| t.run_dir.join("DONE").is_file()).count();
    let mut s = format!("sweep `{}`: {done} of {} trials complete ({})\n", plan.name, plan.trials.len(), plan.dir.display());
    let jobs: Option<Jobs> = std::fs::read_to_string(plan.dir.join("jobs.json")).ok().and_then(|t| serde_json::from_str(&t).ok());
    let Some(jobs) = jobs else {
        s.push_str("not submitted to Slurm (no jobs.json)\n");
        return Ok(s);
    };
    let out = Command::new("sacct")
        .args(["-n", "-P", "-X", "--format=JobID,JobName,State,Elapsed,ExitCode", "-j"])
        .arg(format!("{},{}", jobs.array, jobs.collect))
        .output();
    // Without accounting the trials finished on disk (above) are still the answer.
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            s.push_str(&format!("Slurm states unavailable (sacct: {})\n", String::from_utf8_lossy(&o.stderr).trim()));
            return Ok(s);
        }
        Err(e) => {
            s.push_str(&format!("Slurm states unavailable (cannot run sacct: {e})\n"));
            return Ok(s);
        }
    };
    s.push_str(&format!("{:<18} {:<28} {:<12} {:<10} {}\n", "job", "name", "state", "elapsed", "exit"));
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('|').collect();
        if f.len() >= 5 {
            s.push_str(&format!("{:<18} {:<28} {:<12} {:<10} {}\n", f[0], f[1], f[2], f[3], f[4]));
        }
    }
    Ok(s)
}
