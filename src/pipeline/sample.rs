//! `ndelab sample`: posterior draws from a finished run for new observations.

use crate::error::Error;
use crate::nn::TrainedModel;
use crate::sim::StreamFamily;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What to sample.
#[derive(Debug, Clone)]
pub struct SampleRequest {
    /// The run folder.
    pub run: PathBuf,
    /// Observations: .npy, .csv or .parquet, one row (data_dim values) each.
    pub data: PathBuf,
    /// Draws per observation.
    pub n: usize,
    /// Output: .npy, .parquet, or .json (a bilby result; one observation).
    pub out: PathBuf,
    /// Seed of the draws.
    pub seed: u64,
}

/// Checks that `out` can hold the draws of `rows` observations.
pub(crate) fn check_output(out: &Path, data: &Path, rows: usize) -> Result<(), Error> {
    match out.extension().and_then(|e| e.to_str()) {
        Some("npy" | "parquet") => Ok(()),
        Some("json") if rows == 1 => Ok(()),
        Some("json") => Err(Error::Usage(format!(
            "{}: a bilby result holds one observation but {} has {rows}; write .npy or .parquet",
            out.display(),
            data.display()
        ))),
        _ => Err(Error::Usage(format!("{}: name the output .npy, .parquet or .json (bilby result)", out.display()))),
    }
}

/// Draws `req.n` posterior samples for every observation in `req.data` and writes them.
pub fn sample(req: &SampleRequest) -> Result<(), Error> {
    if !req.run.join("model.safetensors").is_file() {
        return Err(Error::Usage(format!(
            "{}: not a run folder (no model.safetensors); runs live in results/runs/<name>/<key>/",
            req.run.display()
        )));
    }
    if req.n == 0 {
        return Err(Error::Usage("--n must be at least 1".into()));
    }
    let trained = TrainedModel::load(&req.run)?;
    let Some(model) = trained.density() else {
        return Err(Error::Usage(format!("{}: a regression gives point estimates, not posterior samples", req.run.display())));
    };
    let m = model.card.data_dim;
    let obs = crate::reference::read_observations(&req.data, m)?;
    let rows = obs.len();
    check_output(&req.out, &req.data, rows)?;
    let mut rng = StreamFamily::new(req.seed, "sample").rng(0);
    let start = Instant::now();
    let mut all = Vec::with_capacity(rows * req.n * model.card.parameters.len());
    let mut acceptance = 0.0;
    for y in &obs {
        let (s, a) = model.sample_within(req.n, y, &mut rng);
        all.extend(s);
        acceptance += a / rows as f64;
    }
    let secs = start.elapsed().as_secs_f64();
    crate::report::write_samples(&req.out, &model.card.parameters, &all, req.n)?;
    eprintln!(
        "{} samples for {rows} observation(s) in {secs:.3} s ({:.0} samples/s; prior-support acceptance {:.1}%) → {}",
        rows * req.n,
        (rows * req.n) as f64 / secs.max(1e-9),
        100.0 * acceptance,
        req.out.display()
    );
    Ok(())
}
