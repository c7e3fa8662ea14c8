//! Step 3 of a run: the metrics the eval section asks for, on the test split.

use super::Prepared;
use super::PipelineError;
use crate::eval::{self, Estimate, PosteriorChecks, ReferenceSource, Rmse};
use crate::nn::{DensityModel, TrainedModel};
use crate::reference::NestedSettings;
use crate::report::Provenance;
use crate::math::{SampleRng, StreamFamily};
use crate::eval::Metric;
use crate::spec::Plan;
use std::time::Instant;

/// What the evaluation measured.
pub struct Measured {
    /// Test RMSE per parameter: of a point estimator's estimates, or of a density estimator's
    /// posterior means (so that the two families can be set side by side).
    pub rmse: Option<Rmse>,
    /// Mean test −log q.
    pub nll: Option<Estimate>,
    /// Mean KL(p_true ‖ q).
    pub kl: Option<Estimate>,
    /// 10⁴ posterior draws for test injection 0 (empty for a point estimator).
    pub first: Vec<f64>,
    /// Seconds those draws took.
    pub sample_10k_s: Option<f64>,
    /// P-P test and reference comparisons.
    pub checks: Option<PosteriorChecks>,
    /// The stream the corner plots continue drawing from.
    pub rng: SampleRng,
    /// Wall time of the evaluation.
    pub seconds: f64,
}

impl Measured {
    /// The last lines of a run: the headline numbers and where the time went.
    pub fn print_headline(&self, simulate_s: f64, train_s: f64) {
        if let Some(e) = self.nll {
            crate::ui::note!("test NLL: {:.4} ± {:.4} nats", e.value, e.std_err);
        }
        if let Some(e) = self.kl {
            crate::ui::note!("KL(p_true || q): {:.4} ± {:.4} nats", e.value, e.std_err);
        }
        crate::ui::note!("wall time: dataset {simulate_s:.1} s, train {train_s:.1} s, eval {:.1} s", self.seconds);
    }
}

/// Step 3: the metrics of `plan.eval` for a trained model.
pub fn measure(plan: &Plan, p: &Prepared, model: &TrainedModel, prov: &mut Provenance) -> Result<Measured, PipelineError> {
    let t = Instant::now();
    let mut rng = StreamFamily::new(plan.seed, "eval/samples").rng(0);
    let rmse =
        model.point_estimates(p.ds.test.data.values(), p.ds.test.len()).map(|est| eval::rmse(&est, &p.ds.test, &model.card.theta_zscore));
    if rmse.is_some() {
        crate::ui::note!("regression: point estimates, not a posterior (no NLL, KL or samples)");
    }
    let mut m = Measured { rmse, nll: None, kl: None, first: Vec::new(), sample_10k_s: None, checks: None, rng: rng.clone(), seconds: 0.0 };
    if let Some(density) = model.density() {
        m.rmse = Some(posterior_mean_rmse(plan, p, &density, &model.card));
        measure_density(plan, p, &density, &mut m, &mut rng)?;
    }
    if let Some(r) = &m.rmse {
        let what = if model.density().is_some() { "of the posterior means (256 draws each)" } else { "of the point estimates" };
        crate::ui::note!("test RMSE per parameter {what}:");
        for (n, v) in model.card.parameters.iter().zip(&r.per_parameter) {
            crate::ui::note!("  {n:<10} {v:.6}");
        }
    }
    m.rng = rng;
    for r in m.checks.iter().flat_map(|c| &c.references) {
        prov.wall_seconds.push((format!("reference {}", r.injection), r.reference.seconds));
    }
    m.seconds = t.elapsed().as_secs_f64();
    prov.wall_seconds.push(("eval".into(), m.seconds));
    Ok(m)
}

/// Draws per test injection whose mean is a density estimator's point estimate.
const POSTERIOR_MEAN_DRAWS: usize = 256;

/// RMSE of the posterior means over the test split: each from its own stream (seed, row), so
/// that it leaves the other metrics' draws as they were.
fn posterior_mean_rmse(plan: &Plan, p: &Prepared, model: &DensityModel, card: &crate::nn::ModelCard) -> Rmse {
    use rayon::prelude::*;
    let streams = StreamFamily::new(plan.seed, "eval/posterior_mean");
    let d = card.theta_zscore.dim();
    let means: Vec<f64> = (0..p.ds.test.len())
        .into_par_iter()
        .flat_map_iter(|i| {
            let (draws, _) = model.sample_within(POSTERIOR_MEAN_DRAWS, p.ds.test.data_row(i), &mut streams.rng(i as u64));
            let rows = (draws.len() / d).max(1) as f64;
            (0..d).map(move |j| draws.iter().skip(j).step_by(d).sum::<f64>() / rows)
        })
        .collect();
    eval::rmse(&means, &p.ds.test, &card.theta_zscore)
}

/// The metrics of a density estimator.
fn measure_density(plan: &Plan, p: &Prepared, model: &DensityModel, m: &mut Measured, rng: &mut SampleRng) -> Result<(), PipelineError> {
    let wants = |k: Metric| plan.eval.metrics.contains(&k);
    if wants(Metric::TestNll) {
        m.nll = Some(eval::test_nll(model, &p.ds.test));
    }
    if wants(Metric::KlToTruth) {
        m.kl = eval::kl_to_truth(model, p.sim.as_ref(), &p.keep, &p.ds.test, plan.eval.kl_samples, plan.seed);
        if m.kl.is_none() {
            crate::ui::note!("kl_to_truth: skipped ({} has no closed-form posterior)", plan.dataset.simulator.kind());
        }
    }
    // Time to draw 10⁴ posterior samples for one observation.
    let ts = Instant::now();
    let (first, acceptance) = model.sample_within(10_000, p.ds.test.data_row(0), rng);
    let secs = ts.elapsed().as_secs_f64();
    crate::ui::note!("sampling: 10000 draws for one observation in {secs:.3} s (prior-support acceptance {:.1}%)", 100.0 * acceptance);
    (m.first, m.sample_10k_s) = (first, Some(secs));
    if wants(Metric::Pp) || wants(Metric::C2st) {
        let reference = wants(Metric::C2st).then(|| ReferenceSource::Auto(NestedSettings::from(&plan.eval.nested)));
        let settings = eval::CheckSettings::from_spec(&plan.eval, plan.seed, wants(Metric::Pp), reference);
        let c = eval::posterior_checks(model, p.sim.as_ref(), &p.ds.test, &p.keep, &settings)?;
        print_checks(&c);
        m.checks = Some(c);
    }
    Ok(())
}

/// Prints what the posterior checks found.
pub fn print_checks(c: &PosteriorChecks) {
    if !c.calibration.percentiles.is_empty() {
        let ks: Vec<String> = c.parameters.iter().zip(&c.pp.ks_p).map(|(n, p)| format!("{n} {p:.3}")).collect();
        crate::ui::note!(
            "P-P test over {} injections: KS p-values {}; combined p = {:.4}",
            c.calibration.percentiles.len(),
            ks.join(", "),
            c.pp.combined_p
        );
    }
    for r in &c.references {
        let js: Vec<String> = c.parameters.iter().zip(&r.js).map(|(n, v)| format!("{n} {v:.4}")).collect();
        let is = r
            .importance
            .map(|i| format!(", IS efficiency {:.3} (log Z {:.2} ± {:.2})", i.efficiency, i.log_z, i.log_z_err))
            .unwrap_or_default();
        let after = r
            .after_importance
            .as_ref()
            .map(|(js, c)| format!("; after IS: JS {}, C2ST {c:.3}", js.iter().map(|v| format!("{v:.4}")).collect::<Vec<_>>().join(", ")))
            .unwrap_or_default();
        let z = r
            .reference
            .log_z
            .map(|(z, e)| format!(", reference log Z {z:.2} ± {e:.2} ({} likelihood calls)", r.reference.calls))
            .unwrap_or_default();
        crate::ui::note!(
            "injection {} vs {} ({:.1} s): JS {}; C2ST {:.3}; kNN sym. KL {:.3}{is}{z}{after}",
            r.injection,
            r.reference.source,
            r.reference.seconds,
            js.join(", "),
            r.c2st,
            r.knn_kl
        );
    }
}
