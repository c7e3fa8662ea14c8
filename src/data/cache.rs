//! Building a dataset once per key, and reading it back.
//!
//! Sample i of split s is simulated from the random stream (dataset seed, s, i) only, in
//! parallel blocks written in order, so the bytes are the same for every thread count.

use super::dataset::{Dataset, Manifest, Split, SplitKind};
use super::DatasetPlan;
use crate::math::StreamFamily;
use crate::sim;
use crate::sim::NoiseMode;
use crate::store::entry::{self, io_err, Entry};
use crate::store::npy::{self, NpyWriter};
use crate::store::{KeyError, KeyRecipe, Layout, StoreError};
use crate::ui;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Version of the dataset stage's file layout; part of the dataset key.
pub const DATA_VERSION: &str = "dataset/1";

/// Samples simulated per parallel block before it is written.
const BLOCK: usize = 8192;

/// Whether a dataset came from the cache.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CacheStatus {
    /// Read from a complete cache entry.
    Hit,
    /// Simulated now, taking this many seconds.
    Built {
        /// Wall time of the simulation.
        seconds: f64,
    },
}

/// The key recipe of a resolved spec's dataset: its dataset section and the simulator version.
/// `infer` only chooses which columns a model trains on, so it is left out: runs that infer
/// different parameters share one cached dataset.
pub fn dataset_recipe(dataset: &DatasetPlan) -> Result<KeyRecipe, DataError> {
    let sim = dataset.simulator.build()?;
    let version = format!("{DATA_VERSION}+{}", sim.version());
    let mut section = dataset.to_spec();
    section.infer = None;
    match dataset.simulator.key_section()? {
        None => Ok(KeyRecipe::new("dataset", &version, &section)?),
        Some(own) => {
            let mut v = serde_json::to_value(&section).map_err(|e| KeyError::Serialise(e.to_string()))?;
            v[dataset.simulator.kind()] = own;
            Ok(KeyRecipe::new("dataset", &version, &v)?)
        }
    }
}

fn file(kind: SplitKind, what: &str) -> String {
    format!("{what}_{}.npy", kind.as_str())
}

/// Failures of building or reading a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The cache could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The dataset section has no key (a non-finite number).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The simulator could not produce an acceptable sample.
    #[error("simulation: {0}")]
    Simulation(String),
    /// A block simulator (an external program, files) failed.
    #[error(transparent)]
    Sim(#[from] crate::sim::SimError),
    /// The dataset the spec asks for does not fit where it would be written (bad input).
    #[error("{0}")]
    TooLarge(String),
}

impl DataError {
    /// Whether the user's input is at fault (a file the files simulator reads, a dataset too
    /// large for the disk: exit 2) rather than the work (exit 1).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, DataError::Sim(crate::sim::SimError::File { .. }) | DataError::TooLarge(_))
    }
}

/// Refuses to simulate a dataset whose arrays alone need more space than `dir`'s file system
/// has free, naming both figures.
fn check_space(dir: &Path, rows: usize, values_per_row: usize, fresh: bool) -> Result<(), DataError> {
    // θ and data as float32; with fresh noise the noise-free signals are kept as well.
    let copies = if fresh { 2 } else { 1 };
    let needed = (rows as u128) * (values_per_row as u128) * 4 * copies;
    let Some(free) = crate::store::disk::available_bytes(dir) else { return Ok(()) };
    if needed <= free as u128 {
        return Ok(());
    }
    Err(DataError::TooLarge(format!(
        "{}: the dataset needs about {} ({rows} samples of {values_per_row} values) but only {} are free there; \
         lower dataset.n_train/n_val/n_test, free some space, or pass --results DIR on a larger disk",
        dir.display(),
        bytes(needed as f64),
        bytes(free as f64)
    )))
}

/// A size in B, kB, MB, GB or TB, with one decimal.
fn bytes(b: f64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut i = 0;
    let mut v = b;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    format!("{v:.1} {}", units[i])
}

/// Most draws for one sample before giving up on a simulator that keeps failing.
const MAX_ATTEMPTS: u32 = 10_000;

/// One simulated sample.
struct Sample {
    theta: Vec<f32>,
    /// Noise-free signal.
    signal: Vec<f32>,
    /// Signal plus noise (empty when the split gets fresh noise).
    data: Vec<f32>,
    snr: Option<f32>,
    failures: u32,
}

fn draw(sim: &dyn sim::Simulator, streams: &StreamFamily, index: u64, with_noise: bool) -> Result<Sample, DataError> {
    let (dt, dd) = (sim.parameters().len(), sim.data_dim());
    let mut rng = streams.rng(index);
    let mut theta = vec![0.0f64; dt];
    let mut signal = vec![0.0f64; dd];
    let mut failures = 0u32;
    let mut last_error = String::new();
    loop {
        if failures >= MAX_ATTEMPTS {
            return Err(DataError::Simulation(format!(
                "the simulator failed {MAX_ATTEMPTS} times in a row (sample {index}): {last_error}"
            )));
        }
        sim.sample_prior(&mut rng, &mut theta);
        if let Err(e) = sim.simulate_signal(&theta, &mut signal) {
            failures += 1;
            last_error = e.to_string();
            continue;
        }
        let snr = sim.optimal_snr(&signal);
        let data = if with_noise {
            let mut noise = vec![0.0f64; dd];
            sim.sample_noise(&mut rng, &mut noise);
            signal.iter().zip(&noise).map(|(s, n)| (s + n) as f32).collect()
        } else {
            Vec::new()
        };
        return Ok(Sample {
            theta: theta.iter().map(|&v| v as f32).collect(),
            signal: signal.iter().map(|&v| v as f32).collect(),
            data,
            snr: snr.map(|s| s as f32),
            failures,
        });
    }
}

/// The files one split is written into.
struct BlockWriters {
    theta: NpyWriter,
    data: NpyWriter,
    snr: Option<NpyWriter>,
    signal: Option<NpyWriter>,
}

impl BlockWriters {
    fn finish(self, dir: &Path) -> Result<(), DataError> {
        let w = |e| io_err(dir, e);
        self.theta.finish().map_err(w)?;
        self.data.finish().map_err(w)?;
        if let Some(s) = self.snr {
            s.finish().map_err(w)?;
        }
        if let Some(s) = self.signal {
            s.finish().map_err(w)?;
        }
        Ok(())
    }
}

/// A split made in blocks by a block simulator: as many blocks at once as rayon has threads,
/// written in order. The test split's "signals" are its data (no noise-free signal exists).
#[allow(clippy::too_many_arguments)]
fn write_blocks(
    sim: &dyn sim::Simulator,
    seed: u64,
    kind: SplitKind,
    offset: usize,
    n: usize,
    w: &mut BlockWriters,
    dir: &Path,
    bar: &indicatif::ProgressBar,
) -> Result<(), DataError> {
    let rows = sim.block_rows().unwrap_or(8192).max(1);
    let blocks: Vec<(usize, usize)> = (0..n).step_by(rows).map(|a| (a, (a + rows).min(n))).collect();
    let io = |e| io_err(dir, e);
    for group in blocks.chunks(rayon::current_num_threads().max(1)) {
        let made: Vec<_> = group
            .par_iter()
            .map(|&(a, b)| {
                let r = sim
                    .simulate_block(seed, kind.as_str(), offset, a, b)
                    .unwrap_or(Err(crate::sim::SimError::BlocksOnly("this simulator")));
                bar.inc((b - a) as u64);
                r
            })
            .collect();
        for block in made {
            let (theta, data) = block?;
            w.theta.write_rows(&theta).map_err(io)?;
            w.data.write_rows(&data).map_err(io)?;
            if let Some(s) = w.snr.as_mut() {
                s.write_rows(&vec![f32::NAN; theta.len() / sim.parameters().len().max(1)]).map_err(io)?;
            }
            if let Some(s) = w.signal.as_mut() {
                s.write_rows(&data).map_err(io)?;
            }
        }
    }
    Ok(())
}

/// Reads a complete entry after re-hashing it against its SHA256SUMS (a changed byte must not
/// train silently) and checking that it holds the dataset of `full_key`.
fn read_verified(dir: &Path, full_key: &str) -> Result<Dataset, DataError> {
    let problems = entry::verify(dir)?;
    if !problems.is_empty() {
        return Err(StoreError::Corrupt { path: dir.to_path_buf(), message: problems.join("; ") }.into());
    }
    let ds = read(dir)?;
    if ds.manifest.key != full_key {
        return Err(StoreError::Corrupt { path: dir.to_path_buf(), message: "manifest key does not match the folder".into() }.into());
    }
    Ok(ds)
}

/// The cached dataset of key `full_key` (as a run's provenance names it), verified, or None
/// where the cache does not hold it; never simulates.
pub fn open_cached(layout: &Layout, full_key: &str) -> Result<Option<(Dataset, PathBuf)>, DataError> {
    let short: String = full_key.chars().take(16).collect();
    if short.len() != 16 || !short.chars().all(|c| c.is_ascii_hexdigit()) || !layout.datasets().join(&short).join(entry::DONE).is_file() {
        return Ok(None);
    }
    match entry::open(&layout.datasets(), &short, false)? {
        Entry::Done(dir) => Ok(Some((read_verified(&dir, full_key)?, dir))),
        // Removed in the meantime: the builder made for it is dropped unused.
        Entry::Build(_) => Ok(None),
    }
}

/// Returns the dataset of a resolved spec, simulating it if no complete cache entry exists
/// (or if `rebuild`).
pub fn load_or_build(dataset: &DatasetPlan, layout: &Layout, rebuild: bool) -> Result<(Dataset, CacheStatus, PathBuf), DataError> {
    let recipe = dataset_recipe(dataset)?;
    let key = recipe.key();
    match entry::open(&layout.datasets(), key.short(), rebuild)? {
        Entry::Done(dir) => {
            let ds = read_verified(&dir, key.full())?;
            Ok((ds, CacheStatus::Hit, dir))
        }
        Entry::Build(builder) => {
            let start = Instant::now();
            let sim = dataset.simulator.build()?;
            let (seed, train_noise) = (dataset.seed, dataset.noise);
            let counts = [dataset.n_train, dataset.n_val, dataset.n_test];
            // Validation bounds the sum; saturating keeps this safe for plans built in code.
            let total: usize = counts.iter().fold(0usize, |a, &n| a.saturating_add(n));
            check_space(builder.dir(), total, sim.parameters().len() + sim.data_dim(), train_noise == NoiseMode::Fresh)?;
            let bar = ui::bar(total as u64, "simulating");
            let mut failures = 0u64;
            let mut offset = 0;
            for (kind, n) in SplitKind::ALL.into_iter().zip(counts) {
                let fresh = kind == SplitKind::Train && train_noise == NoiseMode::Fresh;
                failures += simulate_split(sim.as_ref(), seed, kind, offset, n, fresh, builder.dir(), &bar)?;
                offset += n;
            }
            bar.finish_and_clear();
            let seconds = start.elapsed().as_secs_f64();
            if failures > 0 {
                crate::ui::note!(
                    "dataset: {failures} of {} simulations ({:.3}%) failed and were redrawn",
                    total as u64 + failures,
                    100.0 * failures as f64 / (total as u64 + failures) as f64
                );
            }
            let manifest = Manifest {
                key: key.full().to_string(),
                ndelab_version: env!("CARGO_PKG_VERSION").to_string(),
                simulator_version: sim.version().to_string(),
                settings: serde_json::to_value(dataset.to_spec()).unwrap_or_default(),
                parameters: sim.parameters().iter().map(|p| p.name.clone()).collect(),
                data_dim: sim.data_dim(),
                n_train: counts[0],
                n_val: counts[1],
                n_test: counts[2],
                train_noise,
                failed_simulations: failures,
            };
            let text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
            entry::write_synced(&builder.dir().join("manifest.json"), text.as_bytes())?;
            // How it was made (varies run to run) stays out of the manifest, which must be reproducible.
            let build = serde_json::json!({
                "simulation_seconds": seconds,
                "samples_per_second": total as f64 / seconds.max(1e-9),
                "threads": rayon::current_num_threads(),
                "ndelab_version": env!("CARGO_PKG_VERSION"),
            });
            entry::write_synced(&builder.dir().join("build.json"), build.to_string().as_bytes())?;
            let dir = builder.commit()?;
            let ds = read(&dir)?;
            Ok((ds, CacheStatus::Built { seconds }, dir))
        }
    }
}

/// Simulates one split in parallel blocks written in order; returns the failed simulations.
#[allow(clippy::too_many_arguments)]
fn simulate_split(
    sim: &dyn sim::Simulator,
    seed: u64,
    kind: SplitKind,
    offset: usize,
    n: usize,
    fresh: bool,
    dir: &Path,
    bar: &indicatif::ProgressBar,
) -> Result<u64, DataError> {
    let (dt, dd) = (sim.parameters().len(), sim.data_dim());
    let streams = StreamFamily::new(seed, kind.as_str());
    let path = |what: &str| dir.join(file(kind, what));
    let open = |what: &str, cols: usize| NpyWriter::create(&path(what), n, cols).map_err(|e| io_err(&path(what), e));
    let mut theta_w = open("theta", dt)?;
    let mut data_w = open("data", dd)?;
    let has_snr = sim.optimal_snr(&vec![0.0; dd]).is_some();
    let mut snr_w = if has_snr { Some(open("snr", 1)?) } else { None };
    // The test split also keeps its noise-free signals, for injections and reference samplers.
    let mut signal_w = if kind == SplitKind::Test { Some(open("signal", dd)?) } else { None };
    let mut failures = 0u64;
    if sim.block_rows().is_some() {
        let mut writers = BlockWriters { theta: theta_w, data: data_w, snr: snr_w, signal: signal_w };
        write_blocks(sim, seed, kind, offset, n, &mut writers, dir, bar)?;
        return writers.finish(dir).map(|_| 0);
    }
    let mut start = 0;
    while start < n {
        let len = BLOCK.min(n - start);
        let samples: Vec<Sample> =
            (start..start + len).into_par_iter().map(|i| draw(sim, &streams, i as u64, !fresh)).collect::<Result<_, _>>()?;
        let cat = |f: &dyn Fn(&Sample) -> &[f32]| samples.iter().flat_map(|s| f(s).iter().copied()).collect::<Vec<f32>>();
        let w = |e| io_err(dir, e);
        theta_w.write_rows(&cat(&|s| &s.theta)).map_err(w)?;
        data_w.write_rows(&cat(&|s| if fresh { &s.signal } else { &s.data })).map_err(w)?;
        if let Some(sw) = snr_w.as_mut() {
            sw.write_rows(&samples.iter().map(|s| s.snr.unwrap_or(f32::NAN)).collect::<Vec<_>>()).map_err(w)?;
        }
        if let Some(gw) = signal_w.as_mut() {
            gw.write_rows(&cat(&|s| &s.signal)).map_err(w)?;
        }
        failures += samples.iter().map(|s| s.failures as u64).sum::<u64>();
        bar.inc(len as u64);
        start += len;
    }
    let w = |e| io_err(dir, e);
    theta_w.finish().map_err(w)?;
    data_w.finish().map_err(w)?;
    if let Some(sw) = snr_w {
        sw.finish().map_err(w)?;
    }
    if let Some(gw) = signal_w {
        gw.finish().map_err(w)?;
    }
    Ok(failures)
}

/// Reads a complete dataset entry (arrays are memory-mapped).
pub fn read(dir: &Path) -> Result<Dataset, StoreError> {
    let mpath = dir.join("manifest.json");
    let text = std::fs::read_to_string(&mpath).map_err(|e| io_err(&mpath, e))?;
    let manifest: Manifest =
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt { path: dir.to_path_buf(), message: format!("manifest.json: {e}") })?;
    let get = |kind: SplitKind, what: &str| {
        let p = dir.join(file(kind, what));
        npy::read(&p).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => StoreError::Corrupt { path: dir.to_path_buf(), message: format!("{}: {e}", p.display()) },
            _ => io_err(&p, e),
        })
    };
    let mut splits = Vec::new();
    for kind in SplitKind::ALL {
        let snr = if dir.join(file(kind, "snr")).is_file() { Some(get(kind, "snr")?) } else { None };
        let split = Split {
            theta: get(kind, "theta")?,
            data: get(kind, "data")?,
            snr,
            fresh_noise: kind == SplitKind::Train && manifest.train_noise == NoiseMode::Fresh,
        };
        if split.theta.rows != split.data.rows || split.data.cols != manifest.data_dim || split.theta.cols != manifest.parameters.len() {
            return Err(StoreError::Corrupt { path: dir.to_path_buf(), message: format!("{} split has the wrong shape", kind.as_str()) });
        }
        splits.push(split);
    }
    let test = splits.pop().expect("three splits");
    let val = splits.pop().expect("three splits");
    let train = splits.pop().expect("three splits");
    Ok(Dataset { train, val, test, manifest })
}

/// The noise-free test signals (test injections), n_test × data_dim.
pub fn read_test_signals(dir: &Path) -> Result<npy::Matrix, StoreError> {
    let p = dir.join(file(SplitKind::Test, "signal"));
    npy::read(&p).map_err(|e| io_err(&p, e))
}
