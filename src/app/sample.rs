//! `ndelab sample`: posterior draws from a finished run for new observations.

use super::{BadRequest, Error};
use crate::nn::TrainedModel;
use crate::math::StreamFamily;
use crate::store::{entry, output, Layout};
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
    /// Estimator draws to importance-sample per observation (`None`: plain draws).
    pub importance: Option<usize>,
    /// The results folder, whose cache and runs the output must not land in.
    pub layout: Layout,
}

/// The files `sample --importance` writes besides OUT: the weighted draws and their summary.
fn importance_outputs(out: &Path) -> (PathBuf, PathBuf) {
    let stem = out.with_extension("");
    (stem.with_extension("weighted.parquet"), stem.with_extension("importance.json"))
}

/// Checks that `out` can hold the draws of `rows` observations and may be written: not inside
/// the results folder's cache or runs, nor over the observations it reads.
pub(crate) fn check_output(out: &Path, data: &Path, rows: usize, layout: &Layout) -> Result<(), Error> {
    output::check_destination(out, layout, &[data])?;
    match out.extension().and_then(|e| e.to_str()) {
        Some("npy" | "parquet") => Ok(()),
        Some("json") if rows == 1 => Ok(()),
        Some("json") => Err(BadRequest::BilbyOneObservation { out: out.to_path_buf(), data: data.to_path_buf(), rows }.into()),
        _ => Err(BadRequest::OutputFormat(out.to_path_buf()).into()),
    }
}

/// Refuses `--n` (or `--importance`) draws of `d` values for `rows` observations that this
/// machine cannot hold (as f64, with a copy while writing).
pub(crate) fn check_draws(flag: &'static str, n: usize, rows: usize, d: usize) -> Result<(), Error> {
    let bytes = (n as u128) * (rows as u128) * (d.max(1) as u128) * 16;
    let Some(memory) = crate::config::limits::memory_bytes() else { return Ok(()) };
    if bytes <= memory as u128 {
        return Ok(());
    }
    let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
    Err(BadRequest::TooManyDraws { flag, n, parameters: d, rows, bytes, limit: memory }.into())
}

/// Draws `req.n` posterior samples for every observation in `req.data` and writes them.
pub fn sample(req: &SampleRequest) -> Result<(), Error> {
    if !req.run.join("model.safetensors").is_file() || !req.run.join(entry::DONE).is_file() {
        return Err(BadRequest::NotARun(req.run.clone()).into());
    }
    if req.n == 0 {
        return Err(BadRequest::AtLeastOne("--n").into());
    }
    if req.importance.is_some() {
        let (weighted, summary) = importance_outputs(&req.out);
        for o in [&weighted, &summary] {
            output::check_destination(o, &req.layout, &[&req.data])?;
        }
    }
    let _lock = entry::lock_run_to_read(&req.run)?;
    entry::check_run(&req.run)?;
    let trained = TrainedModel::load(&req.run)?;
    let Some(model) = trained.density() else {
        return Err(BadRequest::Regression { run: req.run.clone(), wanted: "posterior samples" }.into());
    };
    let m = model.card.data_dim;
    let obs = crate::reference::read_observations(&req.data, m)?;
    let rows = obs.len();
    check_output(&req.out, &req.data, rows, &req.layout)?;
    check_draws("--n", req.n, rows, model.card.parameters.len())?;
    if let Some(n_is) = req.importance {
        check_draws("--importance", n_is, 1, model.card.parameters.len())?;
    }
    let mut rng = StreamFamily::new(req.seed, "sample").rng(0);
    if let Some(n_is) = req.importance {
        return importance(req, &model, &obs, n_is, &mut rng);
    }
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
    crate::ui::note!(
        "{} samples for {rows} observation(s) in {secs:.3} s ({:.0} samples/s; prior-support acceptance {:.1}%) → {}",
        rows * req.n,
        (rows * req.n) as f64 / secs.max(1e-9),
        100.0 * acceptance,
        req.out.display()
    );
    Ok(())
}

/// `ndelab sample --importance N`: N draws per observation weighted by the exact likelihood,
/// written weighted and resampled, with n_eff, the efficiency and log Z.
fn importance(
    req: &SampleRequest,
    model: &crate::nn::DensityModel,
    obs: &[Vec<f32>],
    n_is: usize,
    rng: &mut crate::math::SampleRng,
) -> Result<(), Error> {
    if n_is == 0 {
        return Err(BadRequest::AtLeastOne("--importance").into());
    }
    let plan = crate::spec::load(&req.run.join("spec.resolved.yaml"), &[])?;
    let sim = plan.dataset.simulator.build().map_err(crate::data::DataError::from)?;
    let names: Vec<String> = sim.parameters().iter().map(|p| p.name.clone()).collect();
    let keep: Vec<usize> = model.card.parameters.iter().filter_map(|p| names.iter().position(|n| n == p)).collect();
    let rows = obs.len();
    let (mut resampled, mut weighted, mut log_w, mut weight, mut index) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut summaries = Vec::new();
    for (r, y) in obs.iter().enumerate() {
        let start = Instant::now();
        let y64: Vec<f64> = y.iter().map(|&v| v as f64).collect();
        let Some(w) = crate::eval::weighted_draws(model, sim.as_ref(), &y64, &keep, n_is, crate::eval::MARGINAL_DRAWS, rng) else {
            return Err(BadRequest::NoLikelihoodToWeight(plan.dataset.simulator.kind().to_string()).into());
        };
        let secs = start.elapsed().as_secs_f64();
        let i = w.summary;
        crate::ui::note!(
            "observation {r}: {n_is} draws importance-sampled in {secs:.3} s: n_eff {:.0}, efficiency {:.1}%, log Z {:.3} ± {:.3}",
            i.ess,
            100.0 * i.efficiency,
            i.log_z,
            i.log_z_err
        );
        if i.ess < 1.0 {
            return Err(BadRequest::ZeroWeights(r).into());
        }
        resampled.extend(w.resample(req.n, rng));
        weighted.extend_from_slice(&w.theta);
        log_w.extend_from_slice(&w.log_w);
        weight.extend(w.weights());
        index.extend(std::iter::repeat_n(r as u32, w.log_w.len()));
        summaries.push(serde_json::json!({
            "observation": r, "draws": n_is, "n_eff": i.ess, "efficiency": i.efficiency,
            "log_z": i.log_z, "log_z_err": i.log_z_err, "seconds": secs,
        }));
    }
    crate::report::write_samples(&req.out, &model.card.parameters, &resampled, req.n)?;
    let (weighted_path, json_path) = importance_outputs(&req.out);
    crate::report::write_weighted(&weighted_path, &model.card.parameters, &weighted, &log_w, &weight, &index)?;
    let text = serde_json::to_string_pretty(&summaries).unwrap_or_default();
    crate::store::entry::write_atomic(&json_path, text.as_bytes())?;
    crate::ui::note!(
        "{} resampled draws for {rows} observation(s) → {}; weighted draws → {}; n_eff and log Z → {}",
        rows * req.n,
        req.out.display(),
        weighted_path.display(),
        json_path.display()
    );
    Ok(())
}
