//! `ndelab eval`: the posterior checks on a finished run, added to its folder.

use super::{BadRequest, Error};
use crate::pipeline::{self, prepare, print_checks};
use crate::eval::{self, CheckSettings, PosteriorChecks, ReferenceSource};
use crate::nn::TrainedModel;
use crate::reference::NestedSettings;
use crate::report;
use crate::spec::{self, SpecError};
use crate::store::entry;
use crate::store::{Layout, StoreError};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How `ndelab eval` checks a finished run.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Where results live.
    pub layout: Layout,
    /// Overrides of the run's `eval` section (`eval.pp_injections=64`, `eval.nested.live=500`).
    pub overrides: Vec<String>,
    /// A folder of reference samples `injection_<i>.{npy,csv,parquet}` instead of exact or
    /// nested-sampling references.
    pub reference: Option<PathBuf>,
}

/// The check settings of a run's eval section with `opts` applied.
fn settings(run_dir: &Path, opts: &EvalOptions) -> Result<(spec::Plan, CheckSettings), Error> {
    let spec_path = run_dir.join("spec.resolved.yaml");
    if let Some(o) = opts.overrides.iter().find(|o| !o.trim_start_matches(['+', '~']).starts_with("eval.")) {
        let file = spec_path.display().to_string();
        return Err(SpecError::new(&file, format!("`{o}` does not override the eval section"))
            .help("ndelab eval takes overrides of eval.* only, e.g. eval.pp_injections=64 eval.nested.live=500")
            .into());
    }
    let plan = spec::load(&spec_path, &opts.overrides)?;
    let reference = match &opts.reference {
        Some(dir) if !dir.is_dir() => return Err(BadRequest::NoReferenceFolder(dir.clone()).into()),
        Some(dir) => ReferenceSource::Dir(dir.clone()),
        None if plan.eval.reference_injections == 0 => ReferenceSource::None,
        None => ReferenceSource::Auto(NestedSettings::from(&plan.eval.nested)),
    };
    let settings = CheckSettings::from_spec(&plan.eval, plan.seed, true, Some(reference));
    Ok((plan, settings))
}

/// Runs the posterior checks on a finished run folder and adds their results to it:
/// eval.parquet, plots, reference samples, the aggregates in summary.parquet, and their
/// hashes in SHA256SUMS. A run whose files do not match its sums is refused. Returns the checks.
pub fn evaluate(run_dir: &Path, opts: &EvalOptions) -> Result<PosteriorChecks, Error> {
    if !run_dir.join(entry::DONE).is_file() {
        return Err(BadRequest::Incomplete(run_dir.to_path_buf()).into());
    }
    let (plan, settings) = settings(run_dir, opts)?;
    // One eval of a run at a time: a second waits; the lock dies with its process.
    let _lock = lock(run_dir)?;
    entry::check_run(run_dir)?;
    let mut model = TrainedModel::load(run_dir)?;
    let (ds, sim, keep) = prepare::dataset_of_run(&plan, &opts.layout, run_dir)?;
    if model.card.ordered.is_empty() {
        // Runs trained before cards held the prior's order constraints get them from the simulator.
        model.card.ordered = pipeline::ordered_among(sim.as_ref(), &keep);
    }
    let Some(density) = model.density() else {
        return Err(BadRequest::Regression { run: run_dir.to_path_buf(), wanted: "posteriors to check" }.into());
    };
    let t = Instant::now();
    let checks = eval::posterior_checks(&density, sim.as_ref(), &ds.test, &keep, &settings)?;
    print_checks(&checks);
    stage_into(run_dir, &checks, &format!("{} ({})", plan.name, plan.model.kind()))?;
    report::update_summary(&run_dir.join("summary.parquet"), &checks.aggregates())?;
    entry::update_eval_sums(run_dir)?;
    let _ = std::fs::remove_file(run_dir.join(entry::EVAL_PENDING));
    crate::ui::note!("eval: {:.1} s → {}", t.elapsed().as_secs_f64(), run_dir.join("eval.parquet").display());
    Ok(checks)
}

/// Takes the run's lock (waiting for another eval or a `cache verify`) and clears what killed
/// evals left.
fn lock(run_dir: &Path) -> Result<std::fs::File, Error> {
    let file = entry::lock_run(run_dir)?;
    let io = |e: std::io::Error| Error::Store(StoreError::Io { path: run_dir.to_path_buf(), source: e });
    for e in std::fs::read_dir(run_dir).map_err(io)?.flatten() {
        if e.file_name().to_string_lossy().starts_with(".eval.tmp") {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    Ok(file)
}

/// Writes the checks' files into a hidden folder and moves them into the run only when
/// complete, so a killed eval leaves the run as it was (the next eval clears the folder).
fn stage_into(run_dir: &Path, checks: &PosteriorChecks, title: &str) -> Result<(), Error> {
    let staging = run_dir.join(format!(".eval.tmp-{}", std::process::id()));
    let io = |p: &Path, e: std::io::Error| Error::Store(StoreError::Io { path: p.to_path_buf(), source: e });
    let _ = std::fs::remove_dir_all(&staging);
    let _registered = crate::store::leftovers::Temporary::register(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| io(&staging, e))?;
    report::write_checks(&staging, checks, title)?;
    // From here until the sums are rewritten the run's files and SHA256SUMS disagree.
    entry::write_synced(&run_dir.join(entry::EVAL_PENDING), b"")?;
    for rel in entry::list_files(&staging)? {
        let dest = run_dir.join(&rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        std::fs::rename(staging.join(&rel), &dest).map_err(|e| io(&dest, e))?;
    }
    let _ = std::fs::remove_dir_all(&staging);
    Ok(())
}
