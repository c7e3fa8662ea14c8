//! `ndelab reference`: the reference posterior of a spec's simulator for observations given
//! in a file — exact draws where the posterior has a closed form, else the built-in nested
//! sampler on the exact likelihood (`eval.nested` of the spec).

use super::{BadRequest, Error};
use crate::reference::{self, read_observations, NestedSettings};
use crate::spec::Plan;
use std::path::PathBuf;

/// What to compute.
#[derive(Debug, Clone)]
pub struct ReferenceRequest {
    /// Observations: .npy, .csv or .parquet, one row of data_dim values each.
    pub data: PathBuf,
    /// Draws per observation.
    pub n: usize,
    /// Output: .npy, .parquet or .json (a bilby result; one observation).
    pub out: PathBuf,
    /// Seed of the sampler.
    pub seed: u64,
    /// The results folder, whose cache and runs the output must not land in.
    pub layout: crate::store::Layout,
}

/// Draws `req.n` reference posterior samples of the plan's inferred parameters for every
/// observation in `req.data` and writes them; the others (the phase, for `gw_bbh`) are
/// marginalised by sampling them too.
pub fn reference_posterior(plan: &Plan, req: &ReferenceRequest) -> Result<(), Error> {
    if req.n == 0 {
        return Err(BadRequest::AtLeastOne("--n").into());
    }
    let sim = plan.dataset.simulator.build().map_err(crate::data::DataError::from)?;
    let names: Vec<String> = sim.parameters().iter().map(|p| p.name.clone()).collect();
    let keep: Vec<usize> = plan.dataset.infer.iter().filter_map(|n| names.iter().position(|p| p == n)).collect();
    let obs = read_observations(&req.data, sim.data_dim())?;
    super::sample::check_output(&req.out, &req.data, obs.len(), &req.layout)?;
    super::sample::check_draws("--n", req.n, obs.len(), keep.len())?;
    let settings = NestedSettings::from(&plan.eval.nested);
    let mut all = Vec::with_capacity(obs.len() * req.n * keep.len());
    for (i, y) in obs.iter().enumerate() {
        let y: Vec<f64> = y.iter().map(|&v| v as f64).collect();
        let found = reference::exact(sim.as_ref(), &y, &keep, req.n, req.seed, i as u64)
            .or_else(|| reference::nested(sim.as_ref(), &y, &keep, req.n, settings, req.seed, i as u64));
        let Some(r) = found else {
            return Err(BadRequest::NoReference { data: req.data.clone(), observation: i, simulator: plan.dataset.simulator.kind().to_string() }.into());
        };
        let z = r.log_z.map(|(z, e)| format!(", log Z {z:.3} ± {e:.3} ({} likelihood calls)", r.calls)).unwrap_or_default();
        crate::ui::note!("observation {i}: {} draws from the {} posterior in {:.1} s{z}", req.n, r.source, r.seconds);
        all.extend(r.samples);
    }
    let inferred: Vec<String> = keep.iter().map(|&k| names[k].clone()).collect();
    crate::report::write_samples(&req.out, &inferred, &all, req.n)?;
    crate::ui::note!("wrote {}", req.out.display());
    Ok(())
}
