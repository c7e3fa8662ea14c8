//! One run end to end: plan → dataset (cached) → training → evaluation → run folder.
//!
//! [`run_plan`] is four named steps: [`prepare::prepare`] (dataset and scalings),
//! [`train_model`], [`measure::measure`] (the metrics the eval section asks for) and
//! [`write::write_run`] (summary, metrics, plots, provenance). `ndelab run` and every sweep
//! trial call it; nothing else does the same work. The commands that work on a finished run
//! (src/app/) reuse its steps.

mod error;
mod measure;
pub mod prepare;
mod write;

pub use error::PipelineError;
pub use measure::print_checks;
pub use prepare::Prepared;

use crate::data;
use crate::eval;
use crate::nn::{self, ModelCard, ModelSpec, TrainedModel, NN_VERSION};
use crate::report::Provenance;
use crate::eval::EvalSpec;
use crate::nn::LossKind;
use crate::spec::{self, Plan};
use crate::train::TrainingSpec;
use crate::store::entry::{self, Entry};
use crate::store::{ContentKey, KeyRecipe, Layout};
use crate::train::{self, TrainOutcome, TRAIN_VERSION};
use rayon::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What goes into a run key besides the dataset key.
#[derive(Serialize)]
struct RunSection<'a> {
    seed: u64,
    infer: &'a [String],
    model: &'a ModelSpec,
    loss: LossKind,
    training: &'a TrainingSpec,
    eval: &'a EvalSpec,
}

/// The two keys of a plan.
pub struct Keys {
    /// Recipe of the dataset key.
    pub dataset: KeyRecipe,
    /// Recipe of the run key.
    pub run: KeyRecipe,
}

/// Builds the dataset and run key recipes of a plan.
pub fn keys(plan: &Plan) -> Result<Keys, PipelineError> {
    let dataset = data::dataset_recipe(&plan.dataset)?;
    let section = RunSection {
        seed: plan.seed,
        infer: &plan.dataset.infer,
        model: &plan.model,
        loss: plan.loss,
        training: &plan.training,
        eval: &plan.eval,
    };
    let version = format!("{TRAIN_VERSION}+{NN_VERSION}+{}", eval::EVAL_VERSION);
    let run = KeyRecipe::new("run", &version, &section)?.with_upstream("dataset", &dataset.key());
    Ok(Keys { dataset, run })
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where results live.
    pub layout: Layout,
    /// Recompute the dataset and the run even if cached.
    pub force: bool,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The run folder.
    pub dir: PathBuf,
    /// Whether the run was already complete (nothing was computed).
    pub cached: bool,
    /// Run key.
    pub run_key: ContentKey,
}

/// Runs the spec at `path` with `overrides`.
pub fn run(path: &Path, overrides: &[String], opts: &RunOptions) -> Result<RunReport, PipelineError> {
    run_plan(&spec::load(path, overrides)?, opts)
}

/// Runs a plan: prepare the data, train, measure, write the run folder.
pub fn run_plan(plan: &Plan, opts: &RunOptions) -> Result<RunReport, PipelineError> {
    let keys = keys(plan)?;
    let (dkey, rkey) = (keys.dataset.key(), keys.run.key());
    let builder = match entry::open(&opts.layout.runs(&plan.name), rkey.short(), opts.force)? {
        Entry::Done(dir) => {
            // "Complete" is a promise that the folder is whole: a file changed or lost since is said.
            entry::check_run(&dir)?;
            crate::ui::note!("cache hit: run {} of `{}` is complete; nothing to do (--force recomputes)", rkey, plan.name);
            return Ok(RunReport { dir, cached: true, run_key: rkey });
        }
        Entry::Build(b) => b,
    };
    let mut prov = Provenance::collect(dkey.full(), rkey.full());
    crate::ui::note!("run {} of `{}` (dataset {})", rkey, plan.name, dkey);
    let prepared = prepare::prepare(plan, &opts.layout, opts.force, &mut prov)?;
    // Beside the run's folder, under its key: a rerun after a kill picks it up.
    let checkpoint =
        train::Checkpointing::new(opts.layout.runs(&plan.name).join(format!(".{}.checkpoint", rkey.short())), rkey.full().to_string());
    if opts.force {
        let _ = std::fs::remove_file(&checkpoint.path);
    }
    let trained = train_model(plan, &prepared, Some(&checkpoint), &mut prov)?;
    trained.model.save(builder.dir())?;
    let measured = measure::measure(plan, &prepared, &trained.model, &mut prov)?;
    write::write_run(plan, &keys, &prepared, &trained, &measured, builder.dir(), &mut prov)?;
    let dir = builder.commit()?;
    let _ = std::fs::remove_file(&checkpoint.path);
    measured.print_headline(prepared.simulate_s, trained.seconds);
    Ok(RunReport { dir, cached: false, run_key: rkey })
}

/// The prior's order constraints (m1 ≥ m2) among the inferred parameters `keep`, as indices
/// into them.
pub fn ordered_among(sim: &dyn crate::sim::Simulator, keep: &[usize]) -> Vec<(usize, usize)> {
    let at = |i: usize| keep.iter().position(|&k| k == i);
    sim.ordered().into_iter().filter_map(|(a, b)| Some((at(a)?, at(b)?))).collect()
}

/// A trained model and how its training went.
pub struct Trained {
    /// The model, with its card.
    pub model: TrainedModel,
    /// Per-epoch record, best epoch, early stopping.
    pub outcome: TrainOutcome,
    /// Trainable scalars.
    pub n_params: usize,
    /// Wall time of training.
    pub seconds: f64,
}

/// Step 2: builds the estimator and trains it (resuming from `checkpoint` where one was left).
pub fn train_model(plan: &Plan, p: &Prepared, checkpoint: Option<&train::Checkpointing>, prov: &mut Provenance) -> Result<Trained, PipelineError> {
    let t = Instant::now();
    let channels = p.sim.data_channels();
    let mut net = nn::build(&plan.model, p.ds.train.theta.cols, p.ds.train.data.cols, channels, plan.seed)?;
    let n_params = net.network().params().count();
    crate::ui::note!("model: {} with {} parameters; training on {} threads", plan.model.kind(), n_params, rayon::current_num_threads());
    let outcome = train::train(net.network_mut(), &p.ds, &p.theta_z, &p.data_z, &plan.training, plan.seed, p.noise(), checkpoint)?;
    if let Some(density) = net.density_mut().filter(|d| d.fits_after_training()) {
        // Held-out rows, scaled as in training: what the estimator fits after training.
        let (mut theta, mut data) = (Vec::new(), Vec::new());
        for batch in data::Batches::new(&p.ds.val, 4096, None, &p.theta_z, &p.data_z, None) {
            theta.extend(batch.theta);
            data.extend(batch.data);
        }
        if let Some(line) = density.fit_after_training(&theta, &data, p.ds.val.len()) {
            crate::ui::note!("{line}");
        }
    }
    let params = p.sim.parameters();
    let mut card = ModelCard {
        nn_version: NN_VERSION.into(),
        model: plan.model.clone(),
        parameters: p.ds.manifest.parameters.clone(),
        data_dim: p.ds.manifest.data_dim,
        data_channels: channels,
        theta_zscore: p.theta_z.clone(),
        data_zscore: p.data_z.clone(),
        bounds: Vec::new(),
        periods: p.keep.iter().map(|&i| params[i].period).collect(),
        ordered: ordered_among(p.sim.as_ref(), &p.keep),
        recalibration: None,
    };
    card.set_bounds(&p.keep.iter().map(|&i| (params[i].lower, params[i].upper)).collect::<Vec<_>>());
    let mut model = TrainedModel { net, card };
    if plan.training.recalibrate {
        model.card.recalibration = recalibrate(&model, &p.ds.val, plan.seed);
    }
    let seconds = t.elapsed().as_secs_f64();
    prov.wall_seconds.push(("train".into(), seconds));
    Ok(Trained { model, outcome, n_params, seconds })
}

/// The quantile recalibration of `model`'s marginals from the ranks of the validation split's
/// true parameters among draws inside the prior's support (one stream per pair).
fn recalibrate(model: &TrainedModel, val: &data::Split, seed: u64) -> Option<nn::Recalibration> {
    use nn::recalibration::{ranks_of, Recalibration, RANK_DRAWS};
    let density = model.density()?;
    let t = Instant::now();
    let streams = crate::math::StreamFamily::new(seed, "recalibrate");
    let ranks: Vec<f64> = (0..val.len())
        .into_par_iter()
        .flat_map_iter(|i| {
            let (draws, _) = density.sample_within_raw(RANK_DRAWS, val.data_row(i), &mut streams.rng(i as u64));
            let truth: Vec<f64> = val.theta_row(i).iter().map(|&v| v as f64).collect();
            ranks_of(&truth, &draws)
        })
        .collect();
    let fitted = Recalibration::fit(&ranks, model.card.parameters.len());
    match &fitted {
        Some(_) => crate::ui::note!("recalibrated the marginals on {} validation pairs ({:.1} s)", val.len(), t.elapsed().as_secs_f64()),
        None => crate::ui::warning!("no recalibration: the validation split gave no usable ranks"),
    }
    fitted
}
