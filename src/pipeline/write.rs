//! Step 4 of a run: everything into the run folder — the resolved spec, per-epoch metrics,
//! the one-row summary, plots and provenance.

use super::measure::Measured;
use super::{Keys, Prepared, Trained};
use super::PipelineError;
use crate::nn::DensityModel;
use crate::report::{self, Provenance, Summary};
use crate::eval::Metric;
use crate::spec::Plan;
use crate::store::entry::write_synced;
use crate::store::StoreError;
use std::path::Path;
use std::time::Instant;

/// Step 4: writes the run folder `dir` (still the builder's temporary folder).
pub fn write_run(
    plan: &Plan,
    keys: &Keys,
    p: &Prepared,
    t: &Trained,
    m: &Measured,
    dir: &Path,
    prov: &mut Provenance,
) -> Result<(), PipelineError> {
    let start = Instant::now();
    write_synced(&dir.join("spec.resolved.yaml"), plan.to_yaml().as_bytes())?;
    report::write_metrics(&dir.join("metrics.parquet"), &t.outcome.history)?;
    report::write_summary(&dir.join("summary.parquet"), &summary(plan, keys, p, t, m))?;
    if let Some(r) = &m.rmse {
        report::write_rmse(&dir.join("rmse.parquet"), &t.model.card.parameters, &r.per_parameter)?;
    }
    write_plots(plan, p, t, m, dir)?;
    prov.wall_seconds.push(("report".into(), start.elapsed().as_secs_f64()));
    write_synced(&dir.join("provenance.json"), serde_json::to_string_pretty(&prov).unwrap_or_default().as_bytes())?;
    Ok(())
}

/// The one row of summary.parquet.
fn summary(plan: &Plan, keys: &Keys, p: &Prepared, t: &Trained, m: &Measured) -> Summary {
    let ds = &p.ds;
    Summary {
        name: plan.name.clone(),
        run_key: keys.run.key().short().to_string(),
        dataset_key: keys.dataset.key().short().to_string(),
        simulator: plan.dataset.simulator.kind().to_string(),
        model: plan.model.kind().to_string(),
        loss: plan.loss.as_str().to_string(),
        seed: plan.seed,
        n_train: ds.train.len() as u64,
        theta_dim: ds.train.theta.cols as u32,
        data_dim: ds.train.data.cols as u32,
        n_params: t.n_params as u64,
        epochs_run: t.outcome.history.len() as u32,
        best_epoch: t.outcome.best_epoch as u32,
        best_val_loss: t.outcome.best_val_loss,
        stopped_early: t.outcome.stopped_early,
        test_nll: m.nll.map(|e| e.value),
        test_nll_se: m.nll.map(|e| e.std_err),
        kl_to_truth: m.kl.map(|e| e.value),
        kl_to_truth_se: m.kl.map(|e| e.std_err),
        dataset_cache_hit: p.status == crate::data::CacheStatus::Hit,
        simulate_s: p.simulate_s,
        train_s: t.seconds,
        eval_s: m.seconds,
        sample_10k_s: m.sample_10k_s,
        rmse_z: m.rmse.as_ref().map(|r| r.mean_z),
        threads: rayon::current_num_threads() as u32,
        checks: m.checks.as_ref().map(|c| c.aggregates()).unwrap_or_default(),
    }
}

/// plots/: the loss curve, the latent space, corner plots and the posterior checks' pictures.
fn write_plots(plan: &Plan, p: &Prepared, t: &Trained, m: &Measured, dir: &Path) -> Result<(), PipelineError> {
    let wants = |k: Metric| plan.eval.metrics.contains(&k);
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| StoreError::Io { path: plots.clone(), source: e })?;
    let title = format!("{} ({})", plan.name, plan.model.kind());
    if wants(Metric::LossCurve) {
        report::loss_curve(&plots.join("loss_curve.png"), &t.outcome.history, t.outcome.best_epoch, &title)?;
    }
    if let Some(model) = t.model.density() {
        if wants(Metric::LatentPlot) {
            latent_plot(p, &model, &plots, &title)?;
        }
        if wants(Metric::Corner) {
            corner_plots(p, &model, m, &plots, &title)?;
        }
    }
    if let Some(c) = &m.checks {
        report::write_checks(dir, c, &title)?;
    }
    Ok(())
}

/// plots/latent_space.png: latent means of up to 2000 test signals, coloured by each parameter.
fn latent_plot(p: &Prepared, model: &DensityModel, plots: &Path, title: &str) -> Result<(), PipelineError> {
    let test = &p.ds.test;
    let names = &model.card.parameters;
    let rows = test.len().min(2000);
    if let Some((dim, z)) = model.latent(&test.data.values()[..rows * test.data.cols], rows) {
        let theta: Vec<f64> = test.theta.values()[..rows * names.len()].iter().map(|&v| v as f64).collect();
        let caption = format!("{title}: latent space of {rows} test signals");
        report::latent_space(&plots.join("latent_space.png"), dim, &z, &theta, names, &caption)?;
    }
    Ok(())
}

/// plots/corner_{0,1,2}.png: 10⁴ posterior draws of three test injections with their true values.
fn corner_plots(p: &Prepared, model: &DensityModel, m: &Measured, plots: &Path, title: &str) -> Result<(), PipelineError> {
    let test = &p.ds.test;
    let mut rng = m.rng.clone();
    for i in 0..test.len().min(3) {
        let samples = if i == 0 { m.first.clone() } else { model.sample_within(10_000, test.data_row(i), &mut rng).0 };
        let truth: Vec<f64> = test.theta_row(i).iter().map(|&v| v as f64).collect();
        let snr = test.snr.as_ref().map(|s| format!(", SNR {:.1}", s.row(i)[0])).unwrap_or_default();
        let caption = format!("{title}: test injection {i}{snr}");
        report::corner(&plots.join(format!("corner_{i}.png")), &samples, Some(&truth), &model.card.parameters, &caption)?;
    }
    Ok(())
}
