//! `files`: training data brought as files — parameters and data from `.npy`, `.npz` (an array
//! by name) or Parquet (columns by name), e.g. datasets written by VItamin or DINGO pipelines.
//!
//! Row r of the parameters file goes with row r of the data file. The rows are dealt into the
//! train, validation and test splits by the dataset seed (`split: shuffled`, the default) or in
//! file order (`split: ordered`: the first n_train rows train, then n_val, then n_test). The
//! dataset key holds the sha256 of both files' contents, not their paths or times, so a copy
//! elsewhere is the same dataset and a changed byte is a new one. `.npy` files are memory-mapped
//! and read only where a split's rows lie, so they may be far larger than memory; `.npz` and
//! Parquet are read whole. HDF5 datasets (`.h5`, `.hdf5`; the cargo feature `hdf5`, which links
//! the system's libhdf5) are mapped when contiguous and uncompressed float32, else read whole
//! (`sim/hdf5.rs`).

use super::declared::DeclaredBlocks;
use super::prior::{to_parameters, validate_parameters, ParameterSpec};
use super::registry::SimulatorConfig;
use super::{Parameter, SimError, Simulator, StreamFamily};
use crate::config::{at_least, bad};
use crate::config::{number, Violation};
use crate::sim::NoiseMode;
use crate::store::npy::{self, Matrix};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One array in a file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArraySource {
    /// The file: `.npy`, `.npz`, `.parquet`, or `.h5` / `.hdf5` (feature `hdf5`).
    pub path: PathBuf,
    /// The array's name inside an `.npz`, or the dataset's path inside an HDF5 file (default:
    /// its only one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array: Option<String>,
    /// Columns of a Parquet file, in order (default: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
}

/// How rows are dealt into splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitOrder {
    /// A permutation of the rows drawn from the dataset seed.
    Shuffled,
    /// File order: train, then validation, then test.
    Ordered,
}

/// Settings of the `files` simulator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesSpec {
    /// The parameters θ, one row per sample, one column per entry of `parameters`.
    pub theta: ArraySource,
    /// The data y, one row per sample, `data_dim` columns.
    pub data: ArraySource,
    /// Names (in the columns' order) and priors of the parameters; the priors' bounds are used
    /// for bounded sampling, P-P and SBC.
    pub parameters: Vec<ParameterSpec>,
    /// Values in one data row.
    #[serde(deserialize_with = "number::usize")]
    pub data_dim: usize,
    /// Equal-length series a data row is made of (for convolutional embeddings).
    #[serde(deserialize_with = "number::usize")]
    pub data_channels: usize,
    /// `shuffled` (default): rows dealt into splits by the dataset seed; `ordered`: in file order.
    pub split: SplitOrder,
}

impl Default for FilesSpec {
    fn default() -> Self {
        FilesSpec {
            theta: ArraySource::default(),
            data: ArraySource::default(),
            parameters: Vec::new(),
            data_dim: 0,
            data_channels: 1,
            split: SplitOrder::Shuffled,
        }
    }
}

fn file_error(path: &Path, message: impl ToString) -> SimError {
    SimError::File { path: path.to_path_buf(), message: message.to_string() }
}

/// sha256 of a file's contents, read in blocks. A command asks for the dataset key more than
/// once (the run's key, then the cache's), and a 10 GB file takes seconds to hash: the digest
/// is kept for the process while the file's length and modification time stay the same.
pub(crate) fn sha256_file(path: &Path) -> Result<String, SimError> {
    type Seen = std::collections::HashMap<(PathBuf, u64, std::time::SystemTime), String>;
    static SEEN: std::sync::LazyLock<std::sync::Mutex<Seen>> = std::sync::LazyLock::new(Default::default);
    let meta = std::fs::metadata(path).map_err(|e| file_error(path, e))?;
    // A device or a pipe would be read without end (or block) when hashed.
    if !meta.is_file() {
        return Err(file_error(
            path,
            "is not a regular file; name an .npy, .npz, .parquet or .csv file (relative paths are read from the spec's folder)",
        ));
    }
    let id = meta.modified().ok().map(|t| (std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()), meta.len(), t));
    let known = id.as_ref().and_then(|id| SEEN.lock().ok()?.get(id).cloned());
    if let Some(digest) = known {
        return Ok(digest);
    }
    let digest = hash_contents(path)?;
    if let (Some(id), Ok(mut seen)) = (id, SEEN.lock()) {
        seen.insert(id, digest.clone());
    }
    Ok(digest)
}

fn hash_contents(path: &Path) -> Result<String, SimError> {
    let mut f = std::fs::File::open(path).map_err(|e| file_error(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| file_error(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

impl ArraySource {
    /// The array as an f32 matrix (memory-mapped for `.npy`).
    pub fn load(&self) -> Result<Matrix, SimError> {
        let p = &self.path;
        match p.extension().and_then(|e| e.to_str()).unwrap_or("") {
            "npy" => npy::read(p).map_err(|e| file_error(p, e)),
            "npz" => self.load_npz(),
            "parquet" => self.load_parquet(),
            #[cfg(feature = "hdf5")]
            "h5" | "hdf5" => super::hdf5::read(p, self.array.as_deref()).map_err(|e| file_error(p, e)),
            #[cfg(not(feature = "hdf5"))]
            "h5" | "hdf5" => Err(file_error(
                p,
                "HDF5 is not in this build of ndelab: rebuild with `cargo build --release --features hdf5` (needs libhdf5-dev), \
                 or convert the dataset to .npy (h5py: np.save(\"theta.npy\", f[\"theta\"][:]))",
            )),
            _ => Err(file_error(p, "name a .npy, .npz, .parquet, .h5 or .hdf5 file")),
        }
    }

    fn load_npz(&self) -> Result<Matrix, SimError> {
        let p = &self.path;
        let file = std::fs::File::open(p).map_err(|e| file_error(p, e))?;
        let mut zip = zip::ZipArchive::new(file).map_err(|e| file_error(p, format!("not an .npz archive: {e}")))?;
        let names: Vec<String> = zip.file_names().filter_map(|n| n.strip_suffix(".npy")).map(str::to_string).collect();
        let name = match (&self.array, names.as_slice()) {
            (Some(a), _) if names.contains(a) => a.clone(),
            (Some(a), _) => return Err(file_error(p, format!("has no array `{a}` (arrays: {})", names.join(", ")))),
            (None, [only]) => only.clone(),
            (None, _) => return Err(file_error(p, format!("holds {} arrays ({}); name one with `array:`", names.len(), names.join(", ")))),
        };
        let mut member = zip.by_name(&format!("{name}.npy")).map_err(|e| file_error(p, e))?;
        let mut bytes = Vec::new();
        member.read_to_end(&mut bytes).map_err(|e| file_error(p, e))?;
        npy::from_bytes(&bytes).map_err(|e| file_error(p, format!("array `{name}`: {e}")))
    }

    fn load_parquet(&self) -> Result<Matrix, SimError> {
        let p = &self.path;
        let file = std::fs::File::open(p).map_err(|e| file_error(p, e))?;
        let df = crate::store::parquet::read_frame(file).map_err(|e| file_error(p, e))?;
        let names: Vec<String> =
            if self.columns.is_empty() { df.get_column_names().iter().map(|s| s.to_string()).collect() } else { self.columns.clone() };
        let mut cols = Vec::with_capacity(names.len());
        for name in &names {
            let c = df.get_column_index(name).ok_or_else(|| file_error(p, format!("has no column `{name}`")))?;
            let v = crate::store::parquet::column_f64(&df, c).map_err(|e| file_error(p, e))?;
            cols.push(v.into_iter().map(|x| x as f32).collect::<Vec<f32>>());
        }
        let rows = df.height();
        let values = (0..rows).flat_map(|r| cols.iter().map(move |c| c[r])).collect();
        Ok(Matrix::from_vec(rows, names.len(), values))
    }
}

impl SimulatorConfig for FilesSpec {
    const KIND: &'static str = "files";
    const DEFAULT_NOISE: NoiseMode = NoiseMode::Fixed;

    fn resolve_paths(&mut self, base: &Path) -> Vec<String> {
        let mut notes = Vec::new();
        super::registry::resolve_path(&mut self.theta.path, base, "dataset.files.theta.path", &mut notes);
        super::registry::resolve_path(&mut self.data.path, base, "dataset.files.data.path", &mut notes);
        notes
    }

    fn validate(&self) -> Result<(), Violation> {
        const K: &str = "dataset.files";
        for (key, src) in [("theta", &self.theta), ("data", &self.data)] {
            if src.path.as_os_str().is_empty() {
                return Err(bad(&format!("{K}.{key}.path"), "is missing", Some("name the file, e.g. `{ path: theta.npy }`")));
            }
        }
        validate_parameters(&format!("{K}.parameters"), &self.parameters)?;
        if let Some(i) = self.parameters.iter().position(|p| !p.prior.is_sampled()) {
            return Err(bad(
                &format!("{K}.parameters[{i}].prior"),
                "is fixed, but every column of the parameters file is a sampled parameter",
                Some("give it a prior with a `kind`"),
            ));
        }
        at_least(&format!("{K}.data_dim"), self.data_dim, 1)?;
        at_least(&format!("{K}.data_channels"), self.data_channels, 1)?;
        if self.data_dim % self.data_channels != 0 {
            return Err(bad(
                &format!("{K}.data_channels"),
                format!("{} values do not split into {} channels", self.data_dim, self.data_channels),
                None,
            ));
        }
        Ok(())
    }

    fn sampled_parameters(&self) -> Vec<String> {
        self.parameters.iter().map(|p| p.name.clone()).collect()
    }

    fn data_shape(&self) -> (usize, usize) {
        (self.data_channels, self.data_dim / self.data_channels.max(1))
    }

    fn noise_modes(&self) -> &'static [NoiseMode] {
        &[NoiseMode::Fixed]
    }

    fn key_section(&self) -> Result<Option<serde_json::Value>, SimError> {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        for (key, src) in [("theta", &self.theta), ("data", &self.data)] {
            v[key]["path"] = serde_json::Value::String(format!("sha256:{}", sha256_file(&src.path)?));
        }
        Ok(Some(v))
    }

    fn build(&self) -> Result<Box<dyn Simulator>, crate::sim::SimError> {
        let params = to_parameters(&self.parameters);
        Ok(Box::new(FilesSimulator { spec: self.clone(), params, loaded: OnceLock::new() }))
    }
}

/// The two arrays, checked, and the order in which rows are dealt into splits.
struct Loaded {
    theta: Matrix,
    data: Matrix,
    /// Row of the files for each row of the dataset (train, then val, then test).
    order: Vec<usize>,
}

/// The simulator: deals rows of the files into splits.
pub struct FilesSimulator {
    spec: FilesSpec,
    params: Vec<Parameter>,
    loaded: OnceLock<Result<Loaded, SimError>>,
}

impl std::fmt::Debug for FilesSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FilesSimulator({:?}, {:?})", self.spec.theta.path, self.spec.data.path)
    }
}

impl FilesSimulator {
    fn load(&self, seed: u64) -> Result<Loaded, SimError> {
        let (theta, data) = (self.spec.theta.load()?, self.spec.data.load()?);
        let (tp, dp) = (&self.spec.theta.path, &self.spec.data.path);
        if theta.cols != self.params.len() {
            return Err(file_error(tp, format!("has {} columns, but {} parameters are declared", theta.cols, self.params.len())));
        }
        if data.cols != self.spec.data_dim {
            return Err(file_error(dp, format!("has {} columns, but dataset.files.data_dim is {}", data.cols, self.spec.data_dim)));
        }
        if theta.rows != data.rows {
            return Err(file_error(dp, format!("has {} rows, but {} has {}", data.rows, tp.display(), theta.rows)));
        }
        let mut order: Vec<usize> = (0..theta.rows).collect();
        if self.spec.split == SplitOrder::Shuffled {
            order.shuffle(&mut StreamFamily::new(seed, "files/split").rng(0));
            // Rows are then read in random order: from a file larger than memory, one at a time.
            let fits = crate::config::limits::memory_bytes().is_some_and(|m| (theta.bytes() + data.bytes()) as u64 <= m / 2);
            theta.advise(!fits);
            data.advise(!fits);
        }
        Ok(Loaded { theta, data, order })
    }
}

impl FilesSimulator {
    /// Refuses a row of the user's files with a NaN or infinity, or a θ outside the support of
    /// its declared prior (which every check of the posterior assumes), naming the file, its row
    /// and column.
    fn check_rows(&self, loaded: &Loaded, rows: &[usize]) -> Result<(), SimError> {
        for &r in rows {
            for (c, &v) in loaded.theta.row(r).iter().enumerate() {
                let p = &self.spec.parameters[c];
                let (lo, hi) = p.prior.bounds();
                if !v.is_finite() {
                    return Err(file_error(&self.spec.theta.path, format!("row {r}, column {c} (`{}`) is {v}; remove the row or fix the value", p.name)));
                }
                if (v as f64) < lo || (v as f64) > hi {
                    return Err(file_error(
                        &self.spec.theta.path,
                        format!(
                            "row {r}, column {c} (`{}`) is {v}, outside its prior's support [{lo}, {hi}]; widen the prior in dataset.files.parameters or drop the row",
                            p.name
                        ),
                    ));
                }
            }
            if let Some(c) = loaded.data.row(r).iter().position(|v| !v.is_finite()) {
                return Err(file_error(
                    &self.spec.data.path,
                    format!("row {r}, column {c} is {}; remove the row or fix the value", loaded.data.row(r)[c]),
                ));
            }
        }
        Ok(())
    }
}

impl DeclaredBlocks for FilesSimulator {
    const NAME: &'static str = "the files simulator";

    fn version(&self) -> &'static str {
        "files/1"
    }

    fn declared(&self) -> &[ParameterSpec] {
        &self.spec.parameters
    }

    fn sampled(&self) -> &[Parameter] {
        &self.params
    }

    fn data_dim(&self) -> usize {
        self.spec.data_dim
    }

    fn data_channels(&self) -> usize {
        self.spec.data_channels
    }

    fn block(&self, seed: u64, split: &str, offset: usize, start: usize, end: usize) -> Result<(Vec<f32>, Vec<f32>), SimError> {
        let loaded = self.loaded.get_or_init(|| self.load(seed)).as_ref().map_err(Clone::clone)?;
        let (a, b) = (offset + start, offset + end);
        if b > loaded.order.len() {
            let message = format!(
                "holds {} samples, fewer than the {split} split needs (rows {a}..{b}); lower n_train, n_val or n_test",
                loaded.order.len()
            );
            return Err(file_error(&self.spec.data.path, message));
        }
        let rows = &loaded.order[a..b];
        self.check_rows(loaded, rows)?;
        let theta = rows.iter().flat_map(|&r| loaded.theta.row(r).iter().copied()).collect();
        let data = rows.iter().flat_map(|&r| loaded.data.row(r).iter().copied()).collect();
        Ok((theta, data))
    }

    fn rows_per_block(&self) -> usize {
        8192
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// An .npz (as numpy's `savez_compressed` writes it: a zip of .npy members, deflated) reads
    /// back by array name; a missing name is reported with the arrays there are.
    #[test]
    fn npz_arrays_are_read_by_name() {
        let dir = std::env::temp_dir().join(format!("ndelab-npz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let one = dir.join("one.npy");
        let values: Vec<f32> = (0..12).map(|i| i as f32 * 0.25).collect();
        npy::write(&one, 4, 3, &values).unwrap();
        let path = dir.join("set.npz");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for name in ["theta.npy", "data.npy"] {
            zip.start_file(name, opts).unwrap();
            zip.write_all(&std::fs::read(&one).unwrap()).unwrap();
        }
        zip.finish().unwrap();
        let src = |array: Option<&str>| ArraySource { path: path.clone(), array: array.map(str::to_string), columns: Vec::new() };
        assert_eq!(src(Some("data")).load().unwrap(), Matrix::from_vec(4, 3, values));
        let err = src(Some("x")).load().unwrap_err().to_string();
        assert_eq!(err, format!("{}: has no array `x` (arrays: theta, data)", path.display()));
        let err = src(None).load().unwrap_err().to_string();
        assert_eq!(err, format!("{}: holds 2 arrays (theta, data); name one with `array:`", path.display()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
