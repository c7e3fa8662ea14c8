//! One run end to end: spec → dataset (cached) → training → evaluation → run folder.
//!
//! The CLI's `run` calls this, and nothing else does the same work.

use crate::data::{self, CacheStatus, FreshNoise, ZScore};
use crate::error::Error;
use crate::eval;
use crate::nn::{self, TrainedModel, NN_VERSION};
use crate::report::{self, Provenance, Summary};
use crate::reference::NestedSettings;
use crate::sim;
use crate::spec::{self, EvalSpec, LossKind, Metric, ModelSpec, Spec, TrainingSpec};
use crate::store::entry::{self, Entry};
use crate::store::{ContentKey, KeyRecipe, Layout, StoreError};
use crate::train::{self, TRAIN_VERSION};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What goes into a run key besides the dataset key.
#[derive(Serialize)]
struct RunSection<'a> {
    seed: u64,
    infer: &'a Option<Vec<String>>,
    model: &'a ModelSpec,
    loss: Option<LossKind>,
    training: &'a TrainingSpec,
    eval: &'a EvalSpec,
}

/// The two keys of a resolved spec.
pub struct Keys {
    /// Recipe of the dataset key.
    pub dataset: KeyRecipe,
    /// Recipe of the run key.
    pub run: KeyRecipe,
}

/// Builds the dataset and run key recipes of a resolved spec.
pub fn keys(spec: &Spec) -> Result<Keys, Error> {
    let bad = |m: String| Error::Usage(format!("cannot compute keys: {m}"));
    let dataset = data::dataset_recipe(spec).map_err(bad)?;
    let section = RunSection {
        seed: spec.seed,
        infer: &spec.dataset.infer,
        model: &spec.model,
        loss: spec.loss,
        training: &spec.training,
        eval: &spec.eval,
    };
    let version = format!("{TRAIN_VERSION}+{NN_VERSION}+{}", eval::EVAL_VERSION);
    let run = KeyRecipe::new("run", &version, &section).map_err(bad)?.with_upstream("dataset", &dataset.key());
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
pub fn run(path: &Path, overrides: &[String], opts: &RunOptions) -> Result<RunReport, Error> {
    let spec = spec::load(path, overrides)?.resolved();
    run_spec(&spec, opts)
}

/// Runs a resolved spec.
pub fn run_spec(spec: &Spec, opts: &RunOptions) -> Result<RunReport, Error> {
    let keys = keys(spec)?;
    let (dkey, rkey) = (keys.dataset.key(), keys.run.key());
    let builder = match entry::open(&opts.layout.runs(&spec.name), rkey.short(), opts.force)? {
        Entry::Done(dir) => {
            eprintln!("cache hit: run {} of `{}` is complete; nothing to do (--force recomputes)", rkey, spec.name);
            return Ok(RunReport { dir, cached: true, run_key: rkey });
        }
        Entry::Build(b) => b,
    };
    let mut prov = Provenance::collect(keys.dataset.key().full(), rkey.full());
    eprintln!("run {} of `{}` (dataset {})", rkey, spec.name, dkey);

    let t0 = Instant::now();
    let (ds, status, ddir) = data::load_or_build(spec, &opts.layout, opts.force)?;
    let sim = sim::build(&spec.dataset);
    let sampled = ds.manifest.parameters.clone();
    let infer = spec.dataset.infer.clone().unwrap_or_else(|| sampled.clone());
    let keep: Vec<usize> = infer.iter().filter_map(|n| sampled.iter().position(|p| p == n)).collect();
    let ds = ds.select(&infer).ok_or_else(|| Error::Usage(format!("dataset.infer names a parameter the dataset lacks: {infer:?}")))?;
    let simulate_s = match status {
        CacheStatus::Hit => {
            eprintln!("dataset: cache hit {} ({} train / {} val / {} test)", ddir.display(), ds.train.len(), ds.val.len(), ds.test.len());
            0.0
        }
        CacheStatus::Built { seconds } => {
            let n = ds.train.len() + ds.val.len() + ds.test.len();
            eprintln!("dataset: simulated {n} samples in {seconds:.2} s ({:.0}/s) → {}", n as f64 / seconds.max(1e-9), ddir.display());
            seconds
        }
    };
    prov.wall_seconds.push(("dataset".into(), t0.elapsed().as_secs_f64()));

    let t1 = Instant::now();
    let noise = ds.train.fresh_noise.then_some(FreshNoise::new(sim.as_ref(), spec.seed));
    let theta_z = ZScore::fit(ds.train.theta.values(), ds.train.theta.cols);
    let data_z = ZScore::fit_data(&ds.train, noise, 50_000);
    let channels = sim.data_channels();
    let mut net = nn::build(&spec.model, ds.train.theta.cols, ds.train.data.cols, channels, spec.seed).map_err(Error::Usage)?;
    let n_params = net.params().count();
    eprintln!("model: {} with {} parameters; training on {} threads", spec.model.kind(), n_params, rayon::current_num_threads());
    let outcome = train::train(net.as_mut(), &ds, &theta_z, &data_z, &spec.training, spec.seed, noise)?;
    let train_s = t1.elapsed().as_secs_f64();
    prov.wall_seconds.push(("train".into(), train_s));
    let card = nn::ModelCard {
        nn_version: NN_VERSION.into(),
        model: spec.model.clone(),
        parameters: ds.manifest.parameters.clone(),
        data_dim: ds.manifest.data_dim,
        data_channels: channels,
        theta_zscore: theta_z,
        data_zscore: data_z,
        bounds: Vec::new(),
        periods: keep.iter().map(|&i| sim.parameters()[i].period).collect(),
    };
    let mut card = card;
    card.set_bounds(&keep.iter().map(|&i| (sim.parameters()[i].lower, sim.parameters()[i].upper)).collect::<Vec<_>>());
    let model = TrainedModel { net, card };
    model.save(builder.dir()).map_err(Error::Model)?;

    let t2 = Instant::now();
    let wants = |m: Metric| spec.eval.metrics.contains(&m);
    let density = model.net.is_density();
    let names = &ds.manifest.parameters;
    let rmse = model.point_estimates(ds.test.data.values(), ds.test.len()).map(|est| eval::rmse(&est, &ds.test, &model.card.theta_zscore));
    if let Some(r) = &rmse {
        eprintln!("regression: point estimates, not a posterior (no NLL, KL or samples); test RMSE per parameter:");
        for (n, v) in names.iter().zip(&r.per_parameter) {
            eprintln!("  {n:<10} {v:.6}");
        }
    }
    let nll = (wants(Metric::TestNll) && density).then(|| eval::test_nll(&model, &ds.test));
    let kl = if wants(Metric::KlToTruth) && density {
        eval::kl_to_truth(&model, sim.as_ref(), &keep, &ds.test, spec.eval.kl_samples, spec.seed)
    } else {
        None
    };
    if wants(Metric::KlToTruth) && density && kl.is_none() {
        eprintln!("kl_to_truth: skipped ({} has no closed-form posterior)", spec.dataset.simulator.as_str());
    }
    // Time to draw 10⁴ posterior samples for one observation.
    let mut rng = crate::sim::StreamFamily::new(spec.seed, "eval/samples").rng(0);
    let (first, sample_10k_s) = if density {
        let ts = Instant::now();
        let (first, acceptance) = model.sample_within(10_000, ds.test.data_row(0), &mut rng);
        let secs = ts.elapsed().as_secs_f64();
        eprintln!("sampling: 10000 draws for one observation in {secs:.3} s (prior-support acceptance {:.1}%)", 100.0 * acceptance);
        (first, Some(secs))
    } else {
        (Vec::new(), None)
    };
    let checks = if density && (wants(Metric::Pp) || wants(Metric::C2st)) {
        let settings = eval::CheckSettings {
            pp_injections: if wants(Metric::Pp) { spec.eval.pp_injections } else { 0 },
            samples: spec.eval.posterior_samples,
            rank_samples: 100,
            reference: if wants(Metric::C2st) { eval::ReferenceSource::Auto(NestedSettings::default()) } else { eval::ReferenceSource::None },
            reference_injections: spec.eval.reference_injections,
            importance_samples: 5000,
            marginal_draws: 16,
            seed: spec.seed,
        };
        let c = eval::posterior_checks(&model, sim.as_ref(), &ds.test, &keep, &settings).map_err(Error::Usage)?;
        print_checks(&c);
        Some(c)
    } else {
        None
    };
    let eval_s = t2.elapsed().as_secs_f64();
    prov.wall_seconds.push(("eval".into(), eval_s));

    let t3 = Instant::now();
    let dir = builder.dir();
    write_text(&dir.join("spec.resolved.yaml"), &spec.to_yaml())?;
    report::write_metrics(&dir.join("metrics.parquet"), &outcome.history)?;
    let summary = Summary {
        name: spec.name.clone(),
        run_key: rkey.short().to_string(),
        dataset_key: dkey.short().to_string(),
        simulator: spec.dataset.simulator.as_str().to_string(),
        model: spec.model.kind().to_string(),
        loss: spec.loss.map_or("", |l| l.as_str()).to_string(),
        seed: spec.seed,
        n_train: ds.train.len() as u64,
        theta_dim: ds.train.theta.cols as u32,
        data_dim: ds.train.data.cols as u32,
        n_params: n_params as u64,
        epochs_run: outcome.history.len() as u32,
        best_epoch: outcome.best_epoch as u32,
        best_val_loss: outcome.best_val_loss,
        stopped_early: outcome.stopped_early,
        test_nll: nll.map(|e| e.value),
        test_nll_se: nll.map(|e| e.std_err),
        kl_to_truth: kl.map(|e| e.value),
        kl_to_truth_se: kl.map(|e| e.std_err),
        dataset_cache_hit: status == CacheStatus::Hit,
        simulate_s,
        train_s,
        eval_s,
        sample_10k_s,
        rmse_z: rmse.as_ref().map(|r| r.mean_z),
        threads: rayon::current_num_threads() as u32,
        checks: checks.as_ref().map(|c| c.aggregates()).unwrap_or_default(),
    };
    report::write_summary(&dir.join("summary.parquet"), &summary)?;
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| StoreError::Io { path: plots.clone(), source: e })?;
    let title = format!("{} ({})", spec.name, spec.model.kind());
    if wants(Metric::LossCurve) {
        report::loss_curve(&plots.join("loss_curve.png"), &outcome.history, outcome.best_epoch, &title)?;
    }
    if let Some(r) = &rmse {
        report::write_rmse(&dir.join("rmse.parquet"), names, &r.per_parameter)?;
    }
    if wants(Metric::LatentPlot) {
        let rows = ds.test.len().min(2000);
        if let Some((dim, z)) = model.latent(&ds.test.data.values()[..rows * ds.test.data.cols], rows) {
            let theta: Vec<f64> = ds.test.theta.values()[..rows * names.len()].iter().map(|&v| v as f64).collect();
            report::latent_space(
                &plots.join("latent_space.png"),
                dim,
                &z,
                &theta,
                names,
                &format!("{title}: latent space of {rows} test signals"),
            )?;
        }
    }
    if wants(Metric::Corner) && density {
        for i in 0..ds.test.len().min(3) {
            let samples = if i == 0 { first.clone() } else { model.sample_within(10_000, ds.test.data_row(i), &mut rng).0 };
            let truth: Vec<f64> = ds.test.theta_row(i).iter().map(|&v| v as f64).collect();
            let snr = ds.test.snr.as_ref().map(|s| format!(", SNR {:.1}", s.row(i)[0])).unwrap_or_default();
            report::corner(
                &plots.join(format!("corner_{i}.png")),
                &samples,
                Some(&truth),
                names,
                &format!("{title}: test injection {i}{snr}"),
            )?;
        }
    }
    if let Some(c) = &checks {
        report::write_checks(dir, c, &title)?;
    }
    prov.wall_seconds.push(("report".into(), t3.elapsed().as_secs_f64()));
    write_text(&dir.join("provenance.json"), &serde_json::to_string_pretty(&prov).unwrap_or_default())?;
    let dir = builder.commit()?;

    if let Some(e) = nll {
        eprintln!("test NLL: {:.4} ± {:.4} nats", e.value, e.std_err);
    }
    if let Some(e) = kl {
        eprintln!("KL(p_true || q): {:.4} ± {:.4} nats", e.value, e.std_err);
    }
    eprintln!("wall time: dataset {simulate_s:.1} s, train {train_s:.1} s, eval {eval_s:.1} s");
    Ok(RunReport { dir, cached: false, run_key: rkey })
}

fn write_text(path: &Path, text: &str) -> Result<(), Error> {
    entry::write_synced(path, text.as_bytes()).map_err(Error::from)
}

/// Prints what the posterior checks found.
fn print_checks(c: &eval::PosteriorChecks) {
    if !c.calibration.percentiles.is_empty() {
        let ks: Vec<String> = c.parameters.iter().zip(&c.pp.ks_p).map(|(n, p)| format!("{n} {p:.3}")).collect();
        eprintln!(
            "P-P test over {} injections: KS p-values {}; combined p = {:.4}",
            c.calibration.percentiles.len(),
            ks.join(", "),
            c.pp.combined_p
        );
    }
    for r in &c.references {
        let js: Vec<String> = c.parameters.iter().zip(&r.js).map(|(n, v)| format!("{n} {v:.4}")).collect();
        let is = r.importance.map(|i| format!(", IS efficiency {:.3} (log Z {:.2} ± {:.2})", i.efficiency, i.log_z, i.log_z_err)).unwrap_or_default();
        let z = r.reference.log_z.map(|(z, e)| format!(", reference log Z {z:.2} ± {e:.2} ({} likelihood calls)", r.reference.calls)).unwrap_or_default();
        eprintln!(
            "injection {} vs {} ({:.1} s): JS {}; C2ST {:.3}; kNN sym. KL {:.3}{is}{z}",
            r.injection,
            r.reference.source,
            r.reference.seconds,
            js.join(", "),
            r.c2st,
            r.knn_kl
        );
    }
}

/// How `ndelab eval` checks a finished run.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Where results live.
    pub layout: Layout,
    /// What to check.
    pub settings: eval::CheckSettings,
}

/// Runs the posterior checks on a finished run folder and adds their results to it:
/// eval.parquet, plots, reference samples, the aggregates in summary.parquet, and a fresh
/// SHA256SUMS. Returns the checks.
pub fn evaluate(run_dir: &Path, opts: &EvalOptions) -> Result<eval::PosteriorChecks, Error> {
    if !run_dir.join(entry::DONE).is_file() {
        return Err(Error::Usage(format!(
            "{} is not a complete run folder (no DONE); give a folder under results/runs/<name>/",
            run_dir.display()
        )));
    }
    let spec_path = run_dir.join("spec.resolved.yaml");
    let spec = spec::load(&spec_path, &[])?.resolved();
    let model = TrainedModel::load(run_dir).map_err(Error::Model)?;
    if !model.net.is_density() {
        return Err(Error::Usage(format!("{} is a regression: it gives point estimates, not posteriors to check", run_dir.display())));
    }
    let (ds, _, _) = data::load_or_build(&spec, &opts.layout, false)?;
    let sim = sim::build(&spec.dataset);
    let sampled = ds.manifest.parameters.clone();
    let infer = spec.dataset.infer.clone().unwrap_or_else(|| sampled.clone());
    let keep: Vec<usize> = infer.iter().filter_map(|n| sampled.iter().position(|p| p == n)).collect();
    let ds = ds.select(&infer).ok_or_else(|| Error::Usage(format!("dataset.infer names a parameter the dataset lacks: {infer:?}")))?;
    let t = Instant::now();
    let checks = eval::posterior_checks(&model, sim.as_ref(), &ds.test, &keep, &opts.settings).map_err(Error::Usage)?;
    print_checks(&checks);
    let title = format!("{} ({})", spec.name, spec.model.kind());
    // Everything is written into a hidden folder first and moved into the run only when
    // complete, so a killed eval leaves the run as it was (the next eval clears the folder).
    let staging = run_dir.join(".eval.tmp");
    let io = |p: &Path, e: std::io::Error| Error::Store(StoreError::Io { path: p.to_path_buf(), source: e });
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| io(&staging, e))?;
    report::write_checks(&staging, &checks, &title)?;
    for rel in entry::list_files(&staging)? {
        let dest = run_dir.join(&rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        std::fs::rename(staging.join(&rel), &dest).map_err(|e| io(&dest, e))?;
    }
    let _ = std::fs::remove_dir_all(&staging);
    report::update_summary(&run_dir.join("summary.parquet"), &checks.aggregates())?;
    entry::write_sums(run_dir)?;
    eprintln!("eval: {:.1} s → {}", t.elapsed().as_secs_f64(), run_dir.join("eval.parquet").display());
    Ok(checks)
}
