//! Command-line arguments and what each command does with them. `main.rs` only parses and
//! reports; the work is in the library stages.

use crate::error::Error;
use crate::pipeline::{self, RunOptions};
use crate::{data, spec};
use crate::store::{entry, Layout};
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
            let report = pipeline::run(&spec, &overrides, &RunOptions { layout, force })?;
            println!("{}", report.dir.display());
            Ok(())
        }
        Command::Sample { run, data, n, out, seed } => sample(&run, &data, n, &out, seed),
        Command::Simulate { spec, overrides, force } => {
            let s = spec::load(&spec, &overrides)?.resolved();
            let (ds, status, dir) = data::load_or_build(&s, &layout, force)?;
            let n = ds.train.len() + ds.val.len() + ds.test.len();
            match status {
                data::CacheStatus::Hit => eprintln!("dataset: cache hit ({n} samples)"),
                data::CacheStatus::Built { seconds } => {
                    eprintln!("dataset: simulated {n} samples in {seconds:.2} s ({:.0} samples/s on {} threads)", n as f64 / seconds.max(1e-9), rayon::current_num_threads())
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
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.is_dir() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))).collect())
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
        let get = |k: &str| manifest.as_ref().and_then(|m| m.get(k)).map(|v| v.to_string().trim_matches('"').to_string()).unwrap_or("?".into());
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
