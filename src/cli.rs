//! Command-line arguments and what each command does with them. `main.rs` only parses and
//! reports; the work is in the library stages.

use crate::error::Error;
use crate::pipeline::{self, RunOptions};
use crate::store::{entry, Layout};
use crate::{data, spec, sweep};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};

/// Reproducible neural-posterior-estimation experiments.
#[derive(Debug, Parser)]
#[command(name = "ndelab", version, about)]
pub struct Cli {
    /// Results folder (cache, runs, sweeps).
    #[arg(long, global = true, env = "NDELAB_RESULTS", default_value = "results")]
    pub results: PathBuf,
    /// Worker threads (default: all cores; RAYON_NUM_THREADS also works).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// ndelab's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Simulate (or reuse) the data, train, evaluate, and write the run folder.
    Run {
        /// The experiment spec (YAML).
        spec: PathBuf,
        /// Overrides such as training.optimizer.lr=3e-4 dataset.n_train=20_000.
        overrides: Vec<String>,
        /// Recompute the dataset and the run even if they are cached.
        #[arg(long)]
        force: bool,
    },
    /// Draw posterior samples from a trained run for new data.
    Sample {
        /// The run folder (results/runs/<name>/<key>/).
        run: PathBuf,
        /// The observations: .npy with one row (data_dim values) or several.
        #[arg(long)]
        data: PathBuf,
        /// Samples per observation.
        #[arg(long, default_value_t = 10_000)]
        n: usize,
        /// Output file: .npy, .parquet, or .json (a bilby result; one observation).
        #[arg(long)]
        out: PathBuf,
        /// Seed of the draws.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Check a trained run's posteriors: P-P test (KS p-values, SBC ranks) over test
    /// injections, and comparison with reference posteriors (exact, the built-in nested sampler,
    /// or files) by JS divergence, kNN KL, C2ST and importance sampling. Writes eval.parquet and
    /// plots into the run folder and adds the aggregates to its summary.parquet.
    Eval {
        /// The run folder (results/runs/<name>/<key>/).
        run: PathBuf,
        /// Folder of reference samples injection_<i>.{npy,csv,parquet} (columns: the run's
        /// parameters), e.g. from bench/bilby_reference.py. Default: exact posteriors where the
        /// simulator has them, else the built-in nested sampler.
        #[arg(long)]
        reference: Option<PathBuf>,
        /// Test injections in the P-P test.
        #[arg(long, default_value_t = 256)]
        injections: usize,
        /// Posterior draws per injection.
        #[arg(long, default_value_t = 2000)]
        samples: usize,
        /// Injections compared with a reference posterior (0: none).
        #[arg(long, default_value_t = 4)]
        reference_injections: usize,
        /// Live points of the nested sampler.
        #[arg(long, default_value_t = 2000)]
        live: usize,
        /// Random-walk proposals per nested-sampling replacement.
        #[arg(long, default_value_t = 100)]
        walks: usize,
        /// Estimator draws importance-sampled with the exact likelihood per reference injection (0: none).
        #[arg(long, default_value_t = 5000)]
        importance: usize,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Compare two sets of posterior samples of the same parameters (e.g. the built-in
    /// sampler against bilby): JS divergence of each marginal, kNN symmetric KL and C2ST.
    Compare {
        /// First set: .npy (columns in --parameters order), .csv or .parquet (named columns).
        a: PathBuf,
        /// Second set (the reference: C2ST z-scores by it).
        b: PathBuf,
        /// Parameter names, comma-separated, in .npy column order.
        #[arg(long, value_delimiter = ',', required = true)]
        parameters: Vec<String>,
        /// Seed of the classifier.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Build (or reuse) the cached dataset of a spec and print its key and folder.
    Simulate {
        /// The experiment spec (YAML).
        spec: PathBuf,
        /// Overrides.
        overrides: Vec<String>,
        /// Simulate again even if the dataset is cached.
        #[arg(long)]
        force: bool,
    },
    /// Write the test injections (whitened data, signals, true parameters, SNRs) for external samplers.
    ExportInjections {
        /// The experiment spec (YAML).
        spec: PathBuf,
        /// Overrides.
        overrides: Vec<String>,
        /// Folder to create (must not exist, or be empty).
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a spec and print it resolved, with every default filled in.
    Validate {
        /// The experiment spec (YAML).
        spec: PathBuf,
        /// Overrides.
        overrides: Vec<String>,
    },
    /// Measure speed (see bench/ for the comparisons with peers).
    Bench {
        /// What to measure.
        #[command(subcommand)]
        what: BenchAction,
    },
    /// Run a sweep: every trial of a sweep file, locally or as a Slurm array.
    Sweep(SweepCmd),
    /// A paper table from summary.parquet files (a sweep file, a folder, a file or a glob).
    Table(TableCmd),
    /// Plots of results.
    Plot {
        /// What to plot.
        #[command(subcommand)]
        what: PlotAction,
    },
    /// What runs and sweeps exist, with their keys, status and headline metrics.
    Ls {
        /// The results folder (default: --results).
        dir: Option<PathBuf>,
    },
    /// Content keys.
    Key {
        /// What to do.
        #[command(subcommand)]
        action: KeyAction,
    },
    /// The dataset cache.
    Cache {
        /// What to do.
        #[command(subcommand)]
        action: CacheAction,
    },
}

/// `ndelab sweep ...`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SweepCmd {
    /// status, or the internal steps of Slurm jobs.
    #[command(subcommand)]
    pub action: Option<SweepAction>,
    /// The sweep file (YAML), e.g. experiments/sweeps/cvae_latent.yaml.
    pub spec: Option<PathBuf>,
    /// Trials at once (local backend). Default: one per core.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Threads of each trial. Default: cores / jobs (local), --cpus-per-task (Slurm).
    #[arg(long)]
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
#[derive(Debug, Subcommand)]
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

/// `ndelab table ...`.
#[derive(Debug, clap::Args)]
pub struct TableCmd {
    /// experiments/sweeps/<name>.yaml (its latest summary), a summary.parquet, a folder of them, or a glob.
    pub path: String,
    /// Keys whose values make the rows (default: the swept keys but seed, else `model`).
    #[arg(long, value_delimiter = ',')]
    pub rows: Vec<String>,
    /// Keys whose values make column groups.
    #[arg(long, value_delimiter = ',')]
    pub cols: Vec<String>,
    /// Metrics (default: test_nll and kl_to_truth, where present).
    #[arg(long, value_delimiter = ',')]
    pub metrics: Vec<String>,
    /// Aggregates to show: mean, std, n.
    #[arg(long, value_delimiter = ',', default_value = "mean,std,n")]
    pub agg: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = crate::report::table::TableFormat::Md)]
    pub format: crate::report::table::TableFormat,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Caption (LaTeX, Typst).
    #[arg(long)]
    pub caption: Option<String>,
    /// Label (LaTeX).
    #[arg(long)]
    pub label: Option<String>,
}

/// `ndelab plot ...`.
#[derive(Debug, Subcommand)]
pub enum PlotAction {
    /// A metric against a swept key, mean ± std over seeds, one line per hue.
    Sweep {
        /// As for `ndelab table`.
        path: String,
        /// The key on the x axis.
        #[arg(long)]
        x: String,
        /// The metric on the y axis.
        #[arg(long)]
        y: String,
        /// A key drawn as separate lines.
        #[arg(long)]
        hue: Option<String>,
        /// The PNG to write (default: <sweep folder>/plots/<y>_vs_<x>.png, or ./<y>_vs_<x>.png).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `ndelab bench ...`.
#[derive(Debug, Subcommand)]
pub enum BenchAction {
    /// Noise-free whitened signals per second from a spec's simulator (one thread, then all),
    /// printed as one JSON line.
    Simulate {
        /// The experiment spec (YAML).
        spec: PathBuf,
        /// Overrides.
        overrides: Vec<String>,
        /// Signals to make in each measurement.
        #[arg(long, default_value_t = 20_000)]
        n: usize,
    },
}

/// `ndelab key ...`.
#[derive(Debug, Subcommand)]
pub enum KeyAction {
    /// Print every ingredient of the dataset and run keys, and its hash.
    Explain {
        /// The experiment spec (YAML).
        spec: PathBuf,
        /// Overrides.
        overrides: Vec<String>,
    },
}

/// `ndelab cache ...`.
#[derive(Debug, Subcommand)]
pub enum CacheAction {
    /// List cached datasets.
    Ls,
    /// Re-hash every cached dataset and run against its SHA256SUMS; remove corrupt ones with --fix.
    Verify {
        /// Remove entries that fail, so the next run rebuilds them.
        #[arg(long)]
        fix: bool,
    },
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), Error> {
    if let Some(n) = cli.threads {
        if n == 0 {
            return Err(Error::Usage("--threads must be at least 1".into()));
        }
        rayon::ThreadPoolBuilder::new().num_threads(n).build_global().map_err(|e| Error::Usage(format!("--threads: {e}")))?;
    }
    let layout = Layout::new(&cli.results);
    match cli.command {
        Command::Run { spec, overrides, force } => {
            if overrides.iter().any(|o| o.split_once('=').is_some_and(|(_, v)| spec::Override::is_comma_list(v))) {
                if force {
                    return Err(Error::Usage("--force does not apply to a multirun; remove the runs to recompute them".into()));
                }
                return multirun(&spec, &overrides, &layout);
            }
            let report = pipeline::run(&spec, &overrides, &RunOptions { layout, force })?;
            println!("{}", report.dir.display());
            Ok(())
        }
        Command::Sweep(cmd) => sweep(cmd, &layout),
        Command::Table(cmd) => table(cmd, &layout),
        Command::Plot { what: PlotAction::Sweep { path, x, y, hue, out } } => plot_sweep(&path, &x, &y, hue.as_deref(), out, &layout),
        Command::Ls { dir } => ls(&dir.map(Layout::new).unwrap_or(layout)),
        Command::Sample { run, data, n, out, seed } => sample(&run, &data, n, &out, seed),
        Command::Compare { a, b, parameters, seed } => compare(&a, &b, &parameters, seed),
        Command::Eval { run, reference, injections, samples, reference_injections, live, walks, importance, seed } => {
            if samples < 100 || live < 10 || walks < 1 {
                return Err(Error::Usage("--samples must be at least 100, --live at least 10 and --walks at least 1".into()));
            }
            let reference = match reference {
                Some(dir) if !dir.is_dir() => return Err(Error::Usage(format!("--reference {}: no such folder", dir.display()))),
                Some(dir) => crate::eval::ReferenceSource::Dir(dir),
                None if reference_injections == 0 => crate::eval::ReferenceSource::None,
                None => crate::eval::ReferenceSource::Auto(crate::reference::NestedSettings { live, walks, dlogz: 0.05 }),
            };
            let settings = crate::eval::CheckSettings {
                pp_injections: injections,
                samples,
                rank_samples: 100,
                reference,
                reference_injections,
                importance_samples: importance,
                marginal_draws: 16,
                seed,
            };
            pipeline::evaluate(&run, &pipeline::EvalOptions { layout, settings })?;
            Ok(())
        }
        Command::Simulate { spec, overrides, force } => {
            let s = spec::load(&spec, &overrides)?.resolved();
            let (ds, status, dir) = data::load_or_build(&s, &layout, force)?;
            let n = ds.train.len() + ds.val.len() + ds.test.len();
            match status {
                data::CacheStatus::Hit => eprintln!("dataset: cache hit ({n} samples)"),
                data::CacheStatus::Built { seconds } => {
                    eprintln!(
                        "dataset: simulated {n} samples in {seconds:.2} s ({:.0} samples/s on {} threads)",
                        n as f64 / seconds.max(1e-9),
                        rayon::current_num_threads()
                    )
                }
            }
            let key = dir.file_name().map(|k| k.to_string_lossy().to_string()).unwrap_or_default();
            println!("{key}\t{}", dir.display());
            Ok(())
        }
        Command::ExportInjections { spec, overrides, out } => {
            let s = spec::load(&spec, &overrides)?.resolved();
            let (ds, _, dir) = data::load_or_build(&s, &layout, false)?;
            let n = data::export_injections(&ds, &dir, &s.dataset, &out)?;
            eprintln!("wrote {n} injections to {}", out.display());
            println!("{}", out.display());
            Ok(())
        }
        Command::Validate { spec, overrides } => {
            let s = spec::load(&spec, &overrides)?.resolved();
            print!("{}", s.to_yaml());
            eprintln!("{}: ok", spec.display());
            Ok(())
        }
        Command::Bench { what: BenchAction::Simulate { spec, overrides, n } } => {
            let s = spec::load(&spec, &overrides)?.resolved();
            let line = crate::sim::throughput(crate::sim::build(&s.dataset).as_ref(), n);
            println!("{line}");
            Ok(())
        }
        Command::Key { action: KeyAction::Explain { spec, overrides } } => {
            let s = spec::load(&spec, &overrides)?.resolved();
            let keys = pipeline::keys(&s)?;
            print!("{}\n{}", keys.dataset.explain(), keys.run.explain());
            Ok(())
        }
        Command::Cache { action: CacheAction::Ls } => cache_ls(&layout),
        Command::Cache { action: CacheAction::Verify { fix } } => cache_verify(&layout, fix),
    }
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p).map(|rd| rd.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0)
}

fn cache_ls(layout: &Layout) -> Result<(), Error> {
    println!("{:<18} {:<18} {:>10} {:>8} {:>8} {:>10}  status", "key", "simulator", "n_train", "n_val", "n_test", "size");
    for dir in entries(&layout.datasets()) {
        let key = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let manifest: Option<serde_json::Value> =
            std::fs::read_to_string(dir.join("manifest.json")).ok().and_then(|t| serde_json::from_str(&t).ok());
        let get =
            |k: &str| manifest.as_ref().and_then(|m| m.get(k)).map(|v| v.to_string().trim_matches('"').to_string()).unwrap_or("?".into());
        let sim = manifest.as_ref().and_then(|m| m["settings"]["simulator"].as_str().map(str::to_string)).unwrap_or("?".into());
        let status = if dir.join(entry::DONE).is_file() { "complete" } else { "incomplete" };
        println!(
            "{:<18} {:<18} {:>10} {:>8} {:>8} {:>8.1} MB  {}",
            key,
            sim,
            get("n_train"),
            get("n_val"),
            get("n_test"),
            dir_size(&dir) as f64 / 1e6,
            status
        );
    }
    Ok(())
}

fn cache_verify(layout: &Layout, fix: bool) -> Result<(), Error> {
    let mut dirs = entries(&layout.datasets());
    for name in entries(&layout.root().join("runs")) {
        dirs.extend(entries(&name));
    }
    let mut bad = 0;
    for dir in &dirs {
        let problems = entry::verify(dir)?;
        if problems.is_empty() {
            println!("ok       {}", dir.display());
        } else {
            bad += 1;
            println!("CORRUPT  {}: {}", dir.display(), problems.join("; "));
            if fix {
                std::fs::remove_dir_all(dir).map_err(|e| crate::store::StoreError::Io { path: dir.clone(), source: e })?;
                println!("         removed; the next run rebuilds it");
            }
        }
    }
    println!("{} entries checked, {} corrupt", dirs.len(), bad);
    if bad > 0 && !fix {
        return Err(Error::Failed(format!("{bad} corrupt entries; rerun with `ndelab cache verify --fix` to remove them")));
    }
    Ok(())
}

fn compare(a: &Path, b: &Path, parameters: &[String], seed: u64) -> Result<(), Error> {
    let sa = crate::reference::read_samples(a, parameters).map_err(Error::Usage)?;
    let sb = crate::reference::read_samples(b, parameters).map_err(Error::Usage)?;
    let d = parameters.len();
    let (na, nb) = (sa.len() / d, sb.len() / d);
    if na < 10 || nb < 10 {
        return Err(Error::Usage(format!("{} has {na} samples and {} has {nb}; give at least 10 each", a.display(), b.display())));
    }
    println!("{:<12} {:>10}", "parameter", "JS (nats)");
    let mut js = Vec::new();
    for (j, name) in parameters.iter().enumerate() {
        let x: Vec<f64> = sa.iter().skip(j).step_by(d).copied().collect();
        let y: Vec<f64> = sb.iter().skip(j).step_by(d).copied().collect();
        let v = crate::eval::js_marginal(&x, &y);
        println!("{name:<12} {v:>10.5}");
        js.push(v);
    }
    js.sort_by(f64::total_cmp);
    let m = na.min(nb).min(5000);
    println!("median JS {:.5} nats ({na} vs {nb} samples)", 0.5 * (js[(js.len() - 1) / 2] + js[js.len() / 2]));
    println!("kNN symmetric KL {:.4} nats, C2ST {:.4} ({m} vs {m} samples)", crate::eval::knn_symmetric_kl(&sa[..m * d], &sb[..m * d], d, 5), crate::eval::c2st(&sa[..m * d], &sb[..m * d], d, seed));
    Ok(())
}

fn sample(run: &Path, data: &Path, n: usize, out: &Path, seed: u64) -> Result<(), Error> {
    if !run.join("model.safetensors").is_file() {
        return Err(Error::Usage(format!(
            "{}: not a run folder (no model.safetensors); runs live in results/runs/<name>/<key>/",
            run.display()
        )));
    }
    if n == 0 {
        return Err(Error::Usage("--n must be at least 1".into()));
    }
    let model = crate::nn::TrainedModel::load(run).map_err(Error::Model)?;
    if !model.net.is_density() {
        return Err(Error::Usage(format!("{}: a regression gives point estimates, not posterior samples", run.display())));
    }
    let m = model.card.data_dim;
    let obs = crate::store::npy::read(data).map_err(|e| Error::Usage(format!("{}: {e}", data.display())))?;
    // A 1-D file of data_dim values is one observation.
    let (rows, cols) = if obs.cols == 1 && obs.rows == m { (1, m) } else { (obs.rows, obs.cols) };
    if cols != m {
        return Err(Error::Usage(format!("{}: rows have {cols} values, the model expects {m} (data_dim)", data.display())));
    }
    match out.extension().and_then(|e| e.to_str()) {
        Some("npy" | "parquet") => {}
        Some("json") if rows == 1 => {}
        Some("json") => {
            return Err(Error::Usage(format!(
                "{}: a bilby result holds one observation but {} has {rows}; write .npy or .parquet",
                out.display(),
                data.display()
            )))
        }
        _ => return Err(Error::Usage(format!("{}: name the output .npy, .parquet or .json (bilby result)", out.display()))),
    }
    let mut rng = crate::sim::StreamFamily::new(seed, "sample").rng(0);
    let start = std::time::Instant::now();
    let mut all = Vec::with_capacity(rows * n * model.card.parameters.len());
    let mut acceptance = 0.0;
    for r in 0..rows {
        let (s, a) = model.sample_within(n, &obs.values()[r * m..(r + 1) * m], &mut rng);
        all.extend(s);
        acceptance += a / rows as f64;
    }
    let secs = start.elapsed().as_secs_f64();
    crate::report::write_samples(out, &model.card.parameters, &all, n)?;
    eprintln!(
        "{} samples for {rows} observation(s) in {secs:.3} s ({:.0} samples/s; prior-support acceptance {:.1}%) → {}",
        rows * n,
        (rows * n) as f64 / secs.max(1e-9),
        100.0 * acceptance,
        out.display()
    );
    Ok(())
}

fn report_sweep(plan: &sweep::Plan, outcomes: &[sweep::TrialOutcome]) -> Result<(), Error> {
    let failed = outcomes.iter().filter(|o| o.status == sweep::TrialStatus::Failed).count();
    let ran = outcomes.iter().filter(|o| o.status == sweep::TrialStatus::Ran).count();
    eprintln!(
        "sweep `{}`: {} trials ({ran} run now, {} cached, {failed} failed) → {}",
        plan.name,
        outcomes.len(),
        outcomes.len() - ran - failed,
        plan.dir.join("summary.parquet").display()
    );
    println!("{}", plan.dir.display());
    if failed > 0 {
        return Err(Error::Failed(format!(
            "{failed} of {} trials failed; their errors are in {}",
            outcomes.len(),
            plan.dir.join("trials.jsonl").display()
        )));
    }
    Ok(())
}

fn multirun(spec_path: &Path, overrides: &[String], layout: &Layout) -> Result<(), Error> {
    let fixed: Vec<String> =
        overrides.iter().filter(|o| !o.split_once('=').is_some_and(|(_, v)| spec::Override::is_comma_list(v))).cloned().collect();
    let name = spec::load(spec_path, &fixed)?.name;
    let def = sweep::SweepDefinition::multirun(spec_path, &name, overrides)?;
    let plan = sweep::plan(&def, layout)?;
    let outcomes = sweep::run_local(&plan, &sweep::LocalOptions::defaults(plan.trials.len(), None, None))?;
    report_sweep(&plan, &outcomes)
}

fn sweep(cmd: SweepCmd, layout: &Layout) -> Result<(), Error> {
    match cmd.action {
        Some(SweepAction::Status { spec }) => {
            let plan = sweep::plan(&sweep::SweepDefinition::load(&spec)?, layout)?;
            print!("{}", sweep::slurm::status(&plan)?);
            Ok(())
        }
        Some(SweepAction::Trial { plan, index }) => {
            let plan = sweep::Plan::load(&plan)?;
            let t = plan
                .trials
                .get(index)
                .ok_or_else(|| Error::Usage(format!("trial {index} does not exist; the sweep has {}", plan.trials.len())))?;
            let report = pipeline::run(&plan.base, &t.trial.overrides, &RunOptions { layout: Layout::new(&plan.results), force: false })?;
            println!("{}", report.dir.display());
            Ok(())
        }
        Some(SweepAction::Collect { plan }) => {
            let plan = sweep::Plan::load(&plan)?;
            let (ok, failed, missing) = sweep::collect(&plan, None)?;
            eprintln!(
                "sweep `{}`: {ok} ok, {failed} failed, {missing} missing → {}",
                plan.name,
                plan.dir.join("summary.parquet").display()
            );
            Ok(())
        }
        None => {
            let path = cmd.spec.ok_or_else(|| Error::Usage("name a sweep file: ndelab sweep experiments/sweeps/<name>.yaml".into()))?;
            let def = sweep::SweepDefinition::load(&path)?;
            let plan = sweep::plan(&def, layout)?;
            if cmd.dry_run {
                print!("{}", plan.table());
                return Ok(());
            }
            match cmd.backend {
                Backend::Local => {
                    if cmd.jobs == Some(0) || cmd.threads_per_trial == Some(0) {
                        return Err(Error::Usage("--jobs and --threads-per-trial must be at least 1".into()));
                    }
                    let outcomes =
                        sweep::run_local(&plan, &sweep::LocalOptions::defaults(plan.trials.len(), cmd.jobs, cmd.threads_per_trial))?;
                    report_sweep(&plan, &outcomes)
                }
                Backend::Slurm => {
                    let d = &def.slurm;
                    let opts = sweep::slurm::SlurmOptions {
                        partition: cmd.partition.or(d.partition.clone()),
                        time: cmd.time.or(d.time.clone()),
                        mem: cmd.mem.or(d.mem.clone()),
                        cpus_per_task: cmd.cpus_per_task.or(cmd.threads_per_trial).or(d.cpus_per_task).unwrap_or(1),
                        throttle: cmd.throttle.or(d.throttle),
                        extra: [d.extra.clone(), cmd.sbatch_lines].concat(),
                    };
                    let jobs = sweep::slurm::submit(&plan, &opts)?;
                    eprintln!(
                        "submitted sweep `{}`: array job {} ({} tasks), collect job {}; `ndelab sweep status {}` shows progress",
                        plan.name,
                        jobs.array,
                        plan.trials.len(),
                        jobs.collect,
                        path.display()
                    );
                    println!("{}", plan.dir.display());
                    Ok(())
                }
            }
        }
    }
}

/// The summary files a table or plot PATH names, and the swept keys when it is a sweep file.
fn table_inputs(path: &str, layout: &Layout) -> Result<(Vec<PathBuf>, Vec<String>, Option<PathBuf>), Error> {
    if path.ends_with(".yaml") || path.ends_with(".yml") {
        let plan = sweep::plan(&sweep::SweepDefinition::load(Path::new(path))?, layout)?;
        let file = plan.dir.join("summary.parquet");
        if !file.is_file() {
            return Err(Error::Usage(format!(
                "sweep `{}` has no results yet ({} missing); run `ndelab sweep {path}` first",
                plan.name,
                file.display()
            )));
        }
        let swept = plan.swept.iter().filter(|k| *k != "seed").cloned().collect();
        return Ok((vec![file], swept, Some(plan.dir)));
    }
    let files = crate::report::table::resolve_paths(path).map_err(|e| Error::Usage(e.to_string()))?;
    Ok((files, Vec::new(), None))
}

fn table(cmd: TableCmd, layout: &Layout) -> Result<(), Error> {
    use crate::report::table::{read_records, render, Cell, TableSpec};
    let (files, swept, _) = table_inputs(&cmd.path, layout)?;
    let records = read_records(&files)?;
    for a in &cmd.agg {
        if !["mean", "std", "n"].contains(&a.as_str()) {
            return Err(Error::Usage(format!("--agg: unknown aggregate `{a}`; choose from mean, std, n")));
        }
    }
    let rows = if !cmd.rows.is_empty() {
        cmd.rows
    } else if !swept.is_empty() {
        swept
    } else {
        vec!["model".into()]
    };
    let metrics = if !cmd.metrics.is_empty() {
        cmd.metrics
    } else {
        ["test_nll", "kl_to_truth"]
            .iter()
            .filter(|m| records.iter().any(|r| matches!(r.get(**m), Some(Cell::Num(_)))))
            .map(|m| m.to_string())
            .collect()
    };
    if metrics.is_empty() {
        return Err(Error::Usage("no metric to show: name some with --metrics".into()));
    }
    let spec = TableSpec {
        rows,
        cols: cmd.cols,
        metrics,
        std: cmd.agg.iter().any(|a| a == "std"),
        n: cmd.agg.iter().any(|a| a == "n"),
        format: cmd.format,
        caption: cmd.caption,
        label: cmd.label,
    };
    let text = render(&records, &spec).map_err(|e| Error::Usage(e.to_string()))?;
    match cmd.out {
        Some(out) => {
            sweep::write_atomic(&out, text.as_bytes())?;
            eprintln!("wrote {}", out.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

fn plot_sweep(path: &str, x: &str, y: &str, hue: Option<&str>, out: Option<PathBuf>, layout: &Layout) -> Result<(), Error> {
    use crate::report::table::{read_records, Cell};
    let (files, _, dir) = table_inputs(path, layout)?;
    let records = read_records(&files)?;
    for k in [Some(x), Some(y), hue].into_iter().flatten() {
        if !records.iter().any(|r| r.contains_key(k)) {
            return Err(Error::Usage(format!("no column `{k}` in {path}")));
        }
    }
    let num = |c: Option<&Cell>| if let Some(Cell::Num(v)) = c { Some(*v) } else { None };
    let hue_of = |r: &crate::report::table::Record| {
        hue.and_then(|h| r.get(h)).map(|c| match c {
            Cell::Num(v) => format!("{v}"),
            Cell::Text(t) => t.clone(),
            Cell::Null => "—".into(),
        })
    };
    let mut groups: std::collections::BTreeMap<String, std::collections::BTreeMap<i64, (f64, Vec<f64>)>> = Default::default();
    for r in &records {
        let (Some(xv), Some(yv)) = (num(r.get(x)), num(r.get(y))) else { continue };
        let label = hue_of(r).map(|h| format!("{}={h}", hue.unwrap_or(""))).unwrap_or_else(|| y.to_string());
        groups.entry(label).or_default().entry((xv * 1e6).round() as i64).or_insert((xv, Vec::new())).1.push(yv);
    }
    if groups.is_empty() {
        return Err(Error::Usage(format!("no rows with numbers in both `{x}` and `{y}`")));
    }
    let series: Vec<(String, Vec<(f64, f64, f64)>)> = groups
        .into_iter()
        .map(|(label, pts)| {
            let p = pts
                .into_values()
                .map(|(xv, ys)| {
                    let n = ys.len() as f64;
                    let mean = ys.iter().sum::<f64>() / n;
                    let sd = if ys.len() > 1 { (ys.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() } else { 0.0 };
                    (xv, mean, sd)
                })
                .collect();
            (label, p)
        })
        .collect();
    let out = out.unwrap_or_else(|| match &dir {
        Some(d) => d.join("plots").join(format!("{y}_vs_{x}.png")),
        None => PathBuf::from(format!("{y}_vs_{x}.png")),
    });
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::Store(crate::store::StoreError::Io { path: parent.to_path_buf(), source: e }))?;
    }
    crate::report::metric_vs_key(&out, x, y, &series)?;
    eprintln!("wrote {}", out.display());
    println!("{}", out.display());
    Ok(())
}

fn ls(layout: &Layout) -> Result<(), Error> {
    use crate::report::table::{read_records, Cell};
    let fmt = |c: Option<&Cell>| match c {
        Some(Cell::Num(v)) => format!("{v:.4}"),
        Some(Cell::Text(t)) => t.clone(),
        _ => "—".into(),
    };
    println!("{:<8} {:<24} {:<18} {:<10} {:<10} {:>10} {:>12}", "kind", "name", "key", "model", "status", "test_nll", "kl_to_truth");
    for name_dir in entries(&layout.root().join("runs")) {
        let name = name_dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        for run in entries(&name_dir) {
            let key = run.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            let rec = read_records(&[run.join("summary.parquet")]).ok().and_then(|mut r| r.pop());
            let status = if run.join(entry::DONE).is_file() { "complete" } else { "incomplete" };
            let get = |k: &str| fmt(rec.as_ref().and_then(|r| r.get(k)));
            println!(
                "{:<8} {:<24} {:<18} {:<10} {:<10} {:>10} {:>12}",
                "run",
                name,
                key,
                get("model"),
                status,
                get("test_nll"),
                get("kl_to_truth")
            );
        }
    }
    for name_dir in entries(&layout.root().join("sweeps")) {
        let name = name_dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        for sw in entries(&name_dir) {
            let key = sw.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            let recs = read_records(&[sw.join("summary.parquet")]).unwrap_or_default();
            let ok = recs.iter().filter(|r| matches!(r.get("status"), Some(Cell::Text(s)) if s == "ok")).count();
            let status = if recs.is_empty() { "no results".to_string() } else { format!("{ok}/{} ok", recs.len()) };
            let best = recs
                .iter()
                .filter_map(|r| if let Some(Cell::Num(v)) = r.get("test_nll") { Some(*v) } else { None })
                .fold(f64::INFINITY, f64::min);
            let best = if best.is_finite() { format!("{best:.4}") } else { "—".into() };
            println!("{:<8} {:<24} {:<18} {:<10} {:<10} {:>10} {:>12}", "sweep", name, key, "", status, best, "");
        }
    }
    Ok(())
}
