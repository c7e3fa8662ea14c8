//! `ndelab run` (one run, or a multirun of comma-separated overrides), `simulate`,
//! `validate`, `export-injections` and `key explain`: the commands that take a spec.

use super::{BadRequest, Error};
use crate::pipeline::{self, RunOptions};
use crate::store::{self, Layout};
use crate::sweep::SweepDefinition;
use crate::{data, spec, ui};
use std::path::Path;

/// `ndelab run SPEC [overrides]`: the run folder on stdout. Comma-separated values
/// (`model.latent_dim=2,4,8`) make it a multirun: every combination, as a local sweep.
pub fn run(spec: &Path, overrides: &[String], force: bool, layout: Layout) -> Result<(), Error> {
    if SweepDefinition::is_multirun(overrides) {
        if force {
            return Err(BadRequest::ForceOnMultirun.into());
        }
        return super::multirun(spec, overrides, &layout);
    }
    let report = pipeline::run(spec, overrides, &RunOptions { layout, force })?;
    ui::answer(report.dir.display());
    Ok(())
}

/// `ndelab simulate`: builds (or reuses) the dataset; its key and folder on stdout.
pub fn simulate(spec: &Path, overrides: &[String], force: bool, layout: &Layout) -> Result<(), Error> {
    let plan = spec::load(spec, overrides)?;
    let (ds, status, dir) = data::load_or_build(&plan.dataset, layout, force)?;
    let n = ds.train.len() + ds.val.len() + ds.test.len();
    match status {
        data::CacheStatus::Hit => ui::note!("dataset: cache hit ({n} samples)"),
        data::CacheStatus::Built { seconds } => ui::note!(
            "dataset: simulated {n} samples in {seconds:.2} s ({:.0} samples/s on {} threads)",
            n as f64 / seconds.max(1e-9),
            rayon::current_num_threads()
        ),
    }
    let key = dir.file_name().map(|k| k.to_string_lossy().to_string()).unwrap_or_default();
    ui::answer(format!("{key}\t{}", dir.display()));
    Ok(())
}

/// `ndelab validate`: the spec resolved, every default filled in, on stdout.
pub fn validate(spec: &Path, overrides: &[String]) -> Result<(), Error> {
    ui::answer_text(spec::load(spec, overrides)?.to_yaml());
    ui::note!("{}: ok", spec.display());
    Ok(())
}

/// `ndelab export-injections`: the test injections as files for external samplers.
pub fn export_injections(spec: &Path, overrides: &[String], out: &Path, layout: &Layout) -> Result<(), Error> {
    let plan = spec::load(spec, overrides)?;
    store::output::check_folder_destination(out, layout)?;
    let (ds, _, dir) = data::load_or_build(&plan.dataset, layout, false)?;
    let files = plan.dataset.simulator.export_files().map_err(data::DataError::from)?;
    let n = data::export_injections(&ds, &dir, &plan.dataset, &files, out)?;
    ui::note!("wrote {n} injections to {}", out.display());
    ui::answer(out.display());
    Ok(())
}

/// `ndelab key explain`: what goes into the dataset and run keys.
pub fn key_explain(spec: &Path, overrides: &[String]) -> Result<(), Error> {
    let keys = pipeline::keys(&spec::load(spec, overrides)?)?;
    ui::answer_text(format!("{}\n{}", keys.dataset.explain(), keys.run.explain()));
    Ok(())
}
