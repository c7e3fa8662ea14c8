//! Building a dataset once per key, and reading it back.
//!
//! Sample i of split s is simulated from the random stream (dataset seed, s, i) only, in
//! parallel blocks written in order, so the bytes are the same for every thread count.

use super::dataset::{Dataset, Manifest, Split, SplitKind};
use crate::sim::{self, StreamFamily};
use crate::spec::Spec;
use crate::store::entry::{self, io_err, Entry};
use crate::store::npy::{self, NpyWriter};
use crate::store::{KeyRecipe, Layout, StoreError};
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
pub fn dataset_recipe(spec: &Spec) -> Result<KeyRecipe, String> {
    let sim = sim::build(&spec.dataset);
    let version = format!("{DATA_VERSION}+{}", sim.version());
    KeyRecipe::new("dataset", &version, &spec.dataset)
}

fn file(kind: SplitKind, what: &str) -> String {
    format!("{what}_{}.npy", kind.as_str())
}

/// Returns the dataset of a resolved spec, simulating it if no complete cache entry exists
/// (or if `rebuild`).
pub fn load_or_build(spec: &Spec, layout: &Layout, rebuild: bool) -> Result<(Dataset, CacheStatus, PathBuf), StoreError> {
    let recipe = dataset_recipe(spec).map_err(|m| StoreError::Corrupt { path: layout.datasets(), message: m })?;
    let key = recipe.key();
    match entry::open(&layout.datasets(), key.short(), rebuild)? {
        Entry::Done(dir) => {
            let ds = read(&dir)?;
            if ds.manifest.key != key.full() {
                return Err(StoreError::Corrupt { path: dir, message: "manifest key does not match the folder".into() });
            }
            Ok((ds, CacheStatus::Hit, dir))
        }
        Entry::Build(builder) => {
            let start = Instant::now();
            let sim = sim::build(&spec.dataset);
            let seed = spec.dataset.seed.unwrap_or(spec.seed);
            let counts = [spec.dataset.n_train, spec.dataset.n_val, spec.dataset.n_test];
            let total: usize = counts.iter().sum();
            let bar = ui::bar(total as u64, "simulating");
            for (kind, n) in SplitKind::ALL.into_iter().zip(counts) {
                simulate_split(sim.as_ref(), seed, kind, n, builder.dir(), &bar)?;
            }
            bar.finish_and_clear();
            let seconds = start.elapsed().as_secs_f64();
            let manifest = Manifest {
                key: key.full().to_string(),
                ndelab_version: env!("CARGO_PKG_VERSION").to_string(),
                simulator_version: sim.version().to_string(),
                settings: serde_json::to_value(&spec.dataset).unwrap_or_default(),
                parameters: sim.parameters().iter().map(|p| p.name.clone()).collect(),
                data_dim: sim.data_dim(),
                n_train: counts[0],
                n_val: counts[1],
                n_test: counts[2],
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

fn simulate_split(
    sim: &dyn sim::Simulator,
    seed: u64,
    kind: SplitKind,
    n: usize,
    dir: &Path,
    bar: &indicatif::ProgressBar,
) -> Result<(), StoreError> {
    let (dt, dd) = (sim.parameters().len(), sim.data_dim());
    let streams = StreamFamily::new(seed, kind.as_str());
    let tpath = dir.join(file(kind, "theta"));
    let dpath = dir.join(file(kind, "data"));
    let mut tw = NpyWriter::create(&tpath, n, dt).map_err(|e| io_err(&tpath, e))?;
    let mut dw = NpyWriter::create(&dpath, n, dd).map_err(|e| io_err(&dpath, e))?;
    let mut start = 0;
    while start < n {
        let len = BLOCK.min(n - start);
        let mut theta = vec![0.0f32; len * dt];
        let mut data = vec![0.0f32; len * dd];
        theta.par_chunks_mut(dt).zip(data.par_chunks_mut(dd)).enumerate().for_each_init(
            || (vec![0.0f64; dt], vec![0.0f64; dd]),
            |(t64, d64), (i, (t, d))| {
                let mut rng = streams.rng((start + i) as u64);
                sim.sample_prior(&mut rng, t64);
                sim.simulate(t64, &mut rng, d64);
                t.iter_mut().zip(t64.iter()).for_each(|(o, v)| *o = *v as f32);
                d.iter_mut().zip(d64.iter()).for_each(|(o, v)| *o = *v as f32);
            },
        );
        tw.write_rows(&theta).map_err(|e| io_err(&tpath, e))?;
        dw.write_rows(&data).map_err(|e| io_err(&dpath, e))?;
        bar.inc(len as u64);
        start += len;
    }
    tw.finish().map_err(|e| io_err(&tpath, e))?;
    dw.finish().map_err(|e| io_err(&dpath, e))?;
    Ok(())
}

/// Reads a complete dataset entry.
pub fn read(dir: &Path) -> Result<Dataset, StoreError> {
    let mpath = dir.join("manifest.json");
    let text = std::fs::read_to_string(&mpath).map_err(|e| io_err(&mpath, e))?;
    let manifest: Manifest =
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt { path: dir.to_path_buf(), message: format!("manifest.json: {e}") })?;
    let mut splits = Vec::new();
    for kind in SplitKind::ALL {
        let get = |what: &str| {
            let p = dir.join(file(kind, what));
            npy::read(&p).map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidData => StoreError::Corrupt { path: dir.to_path_buf(), message: format!("{}: {e}", p.display()) },
                _ => io_err(&p, e),
            })
        };
        let split = Split { theta: get("theta")?, data: get("data")? };
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
