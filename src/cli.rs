//! Command-line arguments, and which command of src/app/ each calls. `main.rs` only parses
//! and reports; what a command does is in src/app/, the work in the stages.

use crate::app::args::{at_least_one, days};
use crate::app::{self, Error, EvalOptions, ReferenceRequest, SampleRequest, SweepArgs, TableArgs};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// Reproducible neural-posterior-estimation experiments.
#[derive(Debug, Parser)]
#[command(name = "ndelab", version, about)]
pub struct Cli {
    /// Results folder (cache, runs, sweeps).
    #[arg(long, global = true, env = "NDELAB_RESULTS", default_value = "results")]
    pub results: PathBuf,
    /// Worker threads (default: all cores; RAYON_NUM_THREADS also works).
    #[arg(long, global = true, value_parser = at_least_one)]
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
        /// The observations: .npy, .csv or .parquet, one row of data_dim values each.
        #[arg(long)]
        data: PathBuf,
        /// Samples per observation.
        #[arg(long, default_value_t = 10_000, value_parser = at_least_one)]
        n: usize,
        /// Output file: .npy, .parquet, or .json (a bilby result; one observation).
        #[arg(long)]
        out: PathBuf,
        /// Seed of the draws.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Importance-sample N estimator draws per observation with the simulator's exact
        /// likelihood: OUT then holds --n draws resampled from them, OUT's stem + `.weighted.parquet`
        /// the weighted draws, and `.importance.json` n_eff, the efficiency and log Z.
        #[arg(long, value_name = "N", value_parser = at_least_one)]
        importance: Option<usize>,
    },
    /// Check a trained run's posteriors: P-P test (KS p-values, SBC ranks) over test
    /// injections, and comparison with reference posteriors (exact, the built-in nested sampler,
    /// or files) by JS divergence, kNN KL, C2ST and importance sampling. Writes eval.parquet and
    /// plots into the run folder and adds the aggregates to its summary.parquet.
    Eval {
        /// The run folder (results/runs/<name>/<key>/).
        run: PathBuf,
        /// Overrides of the run's eval section, e.g. eval.pp_injections=64
        /// eval.reference_injections=8 eval.posterior_samples=5000 eval.nested.live=500
        /// eval.importance_samples=0 (defaults: the run's spec).
        overrides: Vec<String>,
        /// Folder of reference samples injection_<i>.{npy,csv,parquet} (columns: the run's
        /// parameters), e.g. from bench/bilby_reference.py. Default: exact posteriors where the
        /// simulator has them, else the built-in nested sampler.
        #[arg(long)]
        reference: Option<PathBuf>,
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
    /// The reference posterior of a spec's simulator for observations in a file: exact draws
    /// where it has a closed form, else the built-in nested sampler (the spec's eval.nested) on
    /// the exact likelihood. For gw_bbh the data are whitened as `ndelab export-injections`
    /// documents (injections.json).
    Reference {
        /// The experiment spec (YAML): its simulator, inferred parameters and eval.nested.
        spec: PathBuf,
        /// Overrides.
        overrides: Vec<String>,
        /// The observations: .npy, .csv or .parquet, one row of data_dim values each.
        #[arg(long)]
        data: PathBuf,
        /// Draws per observation.
        #[arg(long, default_value_t = 10_000, value_parser = at_least_one)]
        n: usize,
        /// Output file: .npy, .parquet, or .json (a bilby result; one observation).
        #[arg(long)]
        out: PathBuf,
        /// Seed of the sampler.
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
    Sweep(SweepArgs),
    /// A paper table from summary.parquet files (a sweep file, a folder, a file or a glob).
    Table(TableArgs),
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
    /// Gradient steps per second of a spec's estimator (its batch size, Adam) on synthetic
    /// z-scored batches, printed as one JSON line; `--threads` sets the threads.
    Train {
        /// The experiment spec (YAML).
        spec: PathBuf,
        /// Overrides.
        overrides: Vec<String>,
        /// Untimed steps first.
        #[arg(long, default_value_t = 20)]
        warmup: usize,
        /// Timed steps.
        #[arg(long, default_value_t = 200)]
        steps: usize,
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
    /// Remove cached datasets no finished run refers to (and, with --older-than, older ones);
    /// finished runs too only with --force.
    Gc {
        /// Also remove entries finished more than this many days ago.
        #[arg(long, value_name = "DAYS", value_parser = days)]
        older_than_days: Option<Duration>,
        /// Remove finished runs older than --older-than-days as well.
        #[arg(long)]
        force: bool,
        /// Print what would be removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), Error> {
    let layout = app::start(cli.threads, &cli.results)?;
    match cli.command {
        Command::Run { spec, overrides, force } => app::run(&spec, &overrides, force, layout),
        Command::Sweep(args) => app::sweep(args, &layout),
        Command::Table(args) => app::table(args, &layout),
        Command::Plot { what: PlotAction::Sweep { path, x, y, hue, out } } => app::plot_sweep(&path, &x, &y, hue.as_deref(), out, &layout),
        Command::Ls { dir } => {
            app::ls(&dir.map(crate::store::Layout::new).unwrap_or(layout));
            Ok(())
        }
        Command::Sample { run, data, n, out, seed, importance } => app::sample(&SampleRequest { run, data, n, out, seed, importance, layout }),
        Command::Compare { a, b, parameters, seed } => app::compare_files(&a, &b, &parameters, seed),
        Command::Eval { run, overrides, reference } => app::evaluate(&run, &EvalOptions { layout, overrides, reference }).map(drop),
        Command::Simulate { spec, overrides, force } => app::simulate(&spec, &overrides, force, &layout),
        Command::Reference { spec, overrides, data, n, out, seed } => {
            app::reference_posterior(&crate::spec::load(&spec, &overrides)?, &ReferenceRequest { data, n, out, seed, layout })
        }
        Command::ExportInjections { spec, overrides, out } => app::export_injections(&spec, &overrides, &out, &layout),
        Command::Validate { spec, overrides } => app::validate(&spec, &overrides),
        Command::Bench { what: BenchAction::Simulate { spec, overrides, n } } => app::bench_simulate(&spec, &overrides, n),
        Command::Bench { what: BenchAction::Train { spec, overrides, warmup, steps } } => app::bench_train(&spec, &overrides, warmup, steps),
        Command::Key { action: KeyAction::Explain { spec, overrides } } => app::key_explain(&spec, &overrides),
        Command::Cache { action: CacheAction::Ls } => {
            app::cache_ls(&layout);
            Ok(())
        }
        Command::Cache { action: CacheAction::Verify { fix } } => app::cache_verify(&layout, fix),
        Command::Cache { action: CacheAction::Gc { older_than_days, force, dry_run } } => app::cache_gc(&layout, older_than_days, force, dry_run),
    }
}
