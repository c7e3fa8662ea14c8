//! What the `ndelab sweep` commands (and a multirun of `ndelab run`) do, given their arguments.

use super::{BadRequest, Error};
use crate::sweep::slurm::{self, SlurmOptions};
use crate::sweep::{collect, plan, run_local, LocalOptions, SlurmDefaults, SweepDefinition, SweepError, SweepPlan, TrialOutcome, TrialStatus};
use crate::ui;
use super::args::at_least_one;
use crate::pipeline::{self, RunOptions};
use crate::spec;
use crate::store::Layout;
use std::path::{Path, PathBuf};

/// Prints how a local sweep went; fails when a trial failed.
fn report(plan: &SweepPlan, outcomes: &[TrialOutcome]) -> Result<(), Error> {
    let failed = outcomes.iter().filter(|o| o.status == TrialStatus::Failed).count();
    let ran = outcomes.iter().filter(|o| o.status == TrialStatus::Ran).count();
    ui::note!(
        "sweep `{}`: {} trials ({ran} run now, {} cached, {failed} failed) → {}",
        plan.name,
        outcomes.len(),
        outcomes.len() - ran - failed,
        plan.dir.join("summary.parquet").display()
    );
    ui::answer(plan.dir.display());
    if failed > 0 {
        return Err(Error::TrialsFailed { failed, total: outcomes.len(), log: plan.dir.join("trials.jsonl") });
    }
    Ok(())
}

/// `ndelab run SPEC key=a,b,c ...`: every combination, as a local sweep.
pub fn multirun(spec_path: &Path, overrides: &[String], layout: &Layout) -> Result<(), Error> {
    let fixed: Vec<String> = overrides.iter().filter(|o| !SweepDefinition::is_swept(o)).cloned().collect();
    let name = spec::load(spec_path, &fixed)?.name;
    let def = SweepDefinition::multirun(spec_path, &name, overrides)?;
    let plan = plan(&def, layout)?;
    let outcomes = run_local(&plan, &LocalOptions::defaults(plan.trials.len(), None, None))?;
    report(&plan, &outcomes)
}

/// `ndelab sweep FILE`: every trial on this machine, `jobs` at a time.
pub fn sweep_local(
    path: &Path,
    layout: &Layout,
    jobs: Option<usize>,
    threads_per_trial: Option<usize>,
    dry_run: bool,
) -> Result<(), Error> {
    let plan = plan(&SweepDefinition::load(path)?, layout)?;
    if dry_run {
        ui::answer_text(plan.table());
        return Ok(());
    }
    if jobs == Some(0) || threads_per_trial == Some(0) {
        return Err(BadRequest::AtLeastOne("--jobs and --threads-per-trial").into());
    }
    let outcomes = run_local(&plan, &LocalOptions::defaults(plan.trials.len(), jobs, threads_per_trial))?;
    report(&plan, &outcomes)
}

/// `ndelab sweep FILE --backend slurm`: an array job and a dependent collect job. The settings
/// given on the command line (`req`) override the sweep file's.
pub fn sweep_slurm(path: &Path, layout: &Layout, req: SlurmDefaults, dry_run: bool) -> Result<(), Error> {
    let def = SweepDefinition::load(path)?;
    let plan = plan(&def, layout)?;
    if dry_run {
        ui::answer_text(plan.table());
        return Ok(());
    }
    let d = &def.slurm;
    let opts = SlurmOptions {
        partition: req.partition.or(d.partition.clone()),
        time: req.time.or(d.time.clone()),
        mem: req.mem.or(d.mem.clone()),
        cpus_per_task: req.cpus_per_task.or(d.cpus_per_task).unwrap_or(1),
        throttle: req.throttle.or(d.throttle),
        extra: [d.extra.clone(), req.extra].concat(),
    };
    let jobs = slurm::submit(&plan, &opts)?;
    ui::note!(
        "submitted sweep `{}`: array job {} ({} tasks), collect job {}; `ndelab sweep status {}` shows progress",
        plan.name,
        jobs.array,
        plan.trials.len(),
        jobs.collect,
        path.display()
    );
    ui::answer(plan.dir.display());
    Ok(())
}

/// `ndelab sweep status FILE`.
pub fn status(path: &Path, layout: &Layout) -> Result<(), Error> {
    let plan = plan(&SweepDefinition::load(path)?, layout)?;
    ui::answer_text(slurm::status(&plan)?);
    Ok(())
}

/// One trial of a saved plan (what a Slurm array task runs).
pub fn trial(plan_path: &Path, index: usize) -> Result<(), Error> {
    let plan = SweepPlan::load(plan_path)?;
    let t = plan.trials.get(index).ok_or(SweepError::NoSuchTrial { index, count: plan.trials.len() })?;
    let opts = RunOptions { layout: Layout::new(&plan.results), force: false };
    let report = pipeline::run(&plan.base, &t.trial.overrides, &opts)?;
    ui::answer(report.dir.display());
    Ok(())
}

/// summary.parquet of a saved plan (what the collect job runs).
pub fn collect_plan(plan_path: &Path) -> Result<(), Error> {
    let plan = SweepPlan::load(plan_path)?;
    let (ok, failed, missing) = collect(&plan, None)?;
    ui::note!("sweep `{}`: {ok} ok, {failed} failed, {missing} missing → {}", plan.name, plan.dir.join("summary.parquet").display());
    Ok(())
}

/// The summary files a table or plot PATH names (a sweep file: its latest summary; else a
/// file, folder or glob), the swept keys but seed when it is a sweep, and the sweep folder.
pub fn summary_files(path: &str, layout: &Layout) -> Result<(Vec<PathBuf>, Vec<String>, Option<PathBuf>), Error> {
    if path.ends_with(".yaml") || path.ends_with(".yml") {
        let plan = plan(&SweepDefinition::load(Path::new(path))?, layout)?;
        let file = plan.dir.join("summary.parquet");
        if !file.is_file() {
            return Err(BadRequest::SweepNotRun { name: plan.name, summary: file, path: path.to_string() }.into());
        }
        let swept = plan.swept.iter().filter(|k| *k != "seed").cloned().collect();
        return Ok((vec![file], swept, Some(plan.dir)));
    }
    Ok((crate::report::table::resolve_paths(path)?, Vec::new(), None))
}

/// `ndelab sweep ...`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SweepArgs {
    /// status, or the internal steps of Slurm jobs.
    #[command(subcommand)]
    pub action: Option<SweepAction>,
    /// The sweep file (YAML), e.g. experiments/sweeps/cvae_latent.yaml.
    pub spec: Option<PathBuf>,
    /// Trials at once (local backend). Default: one per core.
    #[arg(long, value_parser = at_least_one)]
    pub jobs: Option<usize>,
    /// Threads of each trial. Default: cores / jobs (local), --cpus-per-task (Slurm).
    #[arg(long, value_parser = at_least_one)]
    pub threads_per_trial: Option<usize>,
    /// Print the trials and whether each is done; run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where trials run.
    #[arg(long, value_enum, default_value_t = Backend::Local)]
    pub backend: Backend,
    /// Slurm partition.
    #[arg(long)]
    pub partition: Option<String>,
    /// Slurm time limit per trial, e.g. 01:00:00.
    #[arg(long)]
    pub time: Option<String>,
    /// Slurm memory per trial, e.g. 4G.
    #[arg(long)]
    pub mem: Option<String>,
    /// CPUs per Slurm array task.
    #[arg(long)]
    pub cpus_per_task: Option<usize>,
    /// Most Slurm array tasks running at once.
    #[arg(long)]
    pub throttle: Option<usize>,
    /// An extra #SBATCH line (repeatable).
    #[arg(long = "sbatch-line")]
    pub sbatch_lines: Vec<String>,
}

/// Where sweep trials run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// Child processes on this machine.
    Local,
    /// A Slurm array job.
    Slurm,
}

/// `ndelab sweep <action>`.
#[derive(Debug, clap::Subcommand)]
pub enum SweepAction {
    /// Slurm states of a submitted sweep and how many trials are complete.
    Status {
        /// The sweep file (YAML).
        spec: PathBuf,
    },
    /// Run one trial of a saved plan (what a Slurm array task runs).
    #[command(hide = true)]
    Trial {
        /// trials.json of the sweep.
        plan: PathBuf,
        /// Trial index.
        index: usize,
    },
    /// Write summary.parquet of a saved plan (what the collect job runs).
    #[command(hide = true)]
    Collect {
        /// trials.json of the sweep.
        plan: PathBuf,
    },
}

/// `ndelab sweep ...`: runs, submits, shows or collects a sweep.
pub fn sweep(cmd: SweepArgs, layout: &Layout) -> Result<(), Error> {
    match cmd.action {
        Some(SweepAction::Status { spec }) => status(&spec, layout),
        Some(SweepAction::Trial { plan, index }) => trial(&plan, index),
        Some(SweepAction::Collect { plan }) => collect_plan(&plan),
        None => {
            let path = cmd.spec.ok_or(BadRequest::NoSweepFile)?;
            match cmd.backend {
                Backend::Local => sweep_local(&path, layout, cmd.jobs, cmd.threads_per_trial, cmd.dry_run),
                Backend::Slurm => {
                    let req = SlurmDefaults {
                        partition: cmd.partition,
                        time: cmd.time,
                        mem: cmd.mem,
                        cpus_per_task: cmd.cpus_per_task.or(cmd.threads_per_trial),
                        throttle: cmd.throttle,
                        extra: cmd.sbatch_lines,
                    };
                    sweep_slurm(&path, layout, req, cmd.dry_run)
                }
            }
        }
    }
}
