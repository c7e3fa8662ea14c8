//! Posterior checks over the test injections: calibration (P-P, SBC) on many, and on a few a
//! comparison with a reference posterior (JS divergence per marginal, kNN symmetric KL, C2ST)
//! and importance sampling with the exact likelihood.

use super::coverage::{Coverage, PpTest};
use super::{c2st, knn_symmetric_kl, marginal_js, weighted_draws, Importance};
use crate::data::Split;
use crate::nn::DensityModel;
use crate::reference::{self, NestedSettings, ReferenceSamples, SamplesFileError};
use crate::math::StreamFamily;
use crate::sim::Simulator;
use crate::eval::EvalSpec;
use crate::store::npy::Matrix;
use rayon::prelude::*;
use std::path::PathBuf;
use std::time::Instant;

/// Where reference posteriors come from.
#[derive(Debug, Clone)]
pub enum ReferenceSource {
    /// No comparison.
    None,
    /// Exact draws where the simulator has a closed form, else the built-in nested sampler.
    Auto(NestedSettings),
    /// `injection_<i>.{npy,csv,parquet}` files in a folder (e.g. from bench/bilby_reference.py).
    Dir(PathBuf),
}

/// How much to check.
#[derive(Debug, Clone)]
pub struct CheckSettings {
    /// Test injections in the P-P test (at most the test split).
    pub pp_injections: usize,
    /// Posterior draws per injection.
    pub samples: usize,
    /// Draws per SBC rank.
    pub rank_samples: usize,
    /// Reference posteriors.
    pub reference: ReferenceSource,
    /// Injections compared with a reference (the first ones of the test split).
    pub reference_injections: usize,
    /// Estimator draws importance-sampled per reference injection (0: none).
    pub importance_samples: usize,
    /// Prior draws of the parameters not inferred, per importance sample.
    pub marginal_draws: usize,
    /// Master seed.
    pub seed: u64,
}

/// Draws per SBC rank.
const RANK_SAMPLES: usize = 100;
/// Prior draws of the parameters not inferred, per importance sample.
pub const MARGINAL_DRAWS: usize = 16;

impl CheckSettings {
    /// The checks an eval section asks for: the P-P test over `eval.pp_injections` (when
    /// `pp`), and the comparison with `reference` posteriors on `eval.reference_injections`.
    pub fn from_spec(eval: &EvalSpec, seed: u64, pp: bool, reference: Option<ReferenceSource>) -> CheckSettings {
        CheckSettings {
            pp_injections: if pp { eval.pp_injections } else { 0 },
            samples: eval.posterior_samples,
            rank_samples: RANK_SAMPLES,
            reference: reference.unwrap_or(ReferenceSource::None),
            reference_injections: eval.reference_injections,
            importance_samples: eval.importance_samples,
            marginal_draws: MARGINAL_DRAWS,
            seed,
        }
    }
}

/// One row of eval.parquet: an injection and a parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalRow {
    /// Test injection index.
    pub injection: usize,
    /// Parameter name.
    pub parameter: String,
    /// True value.
    pub truth: f64,
    /// Fraction of posterior draws below the truth.
    pub percentile: f64,
    /// SBC rank of the truth among `rank_samples` draws.
    pub sbc_rank: usize,
    /// Posterior median and 90% credible interval.
    pub median: f64,
    /// 5% quantile.
    pub lower_90: f64,
    /// 95% quantile.
    pub upper_90: f64,
    /// JS divergence (nats) of this marginal against the reference, where compared.
    pub js: Option<f64>,
}

/// A comparison of one injection's posterior with its reference.
#[derive(Debug, Clone)]
pub struct ReferenceCheck {
    /// Test injection index.
    pub injection: usize,
    /// Its true parameters.
    pub truth: Vec<f64>,
    /// The estimator's draws.
    pub estimator: Vec<f64>,
    /// Seconds the estimator took for them.
    pub estimator_s: f64,
    /// The reference.
    pub reference: ReferenceSamples,
    /// JS divergence per parameter.
    pub js: Vec<f64>,
    /// C2ST accuracy.
    pub c2st: f64,
    /// kNN symmetric KL.
    pub knn_kl: f64,
    /// Importance sampling of the estimator with the exact likelihood.
    pub importance: Option<Importance>,
    /// JS per parameter and C2ST of the importance-sampled draws (resampled to equal weights)
    /// against the reference: how far the estimator is once its draws are reweighted.
    pub after_importance: Option<(Vec<f64>, f64)>,
}

/// Everything the checks measured.
#[derive(Debug, Clone)]
pub struct PosteriorChecks {
    /// Parameter names.
    pub parameters: Vec<String>,
    /// One row per injection and parameter.
    pub rows: Vec<EvalRow>,
    /// Percentiles and ranks.
    pub calibration: Coverage,
    /// KS p-values.
    pub pp: PpTest,
    /// Reference comparisons.
    pub references: Vec<ReferenceCheck>,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos.fract());
    sorted[i] + f * (sorted[(i + 1).min(sorted.len() - 1)] - sorted[i])
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    (!v.is_empty()).then(|| quantile(&v, 0.5))
}

impl PosteriorChecks {
    /// Median JS divergence over every compared marginal.
    pub fn js_median(&self) -> Option<f64> {
        median(self.references.iter().flat_map(|r| r.js.iter().copied()).collect())
    }
    /// Mean C2ST accuracy.
    pub fn c2st_mean(&self) -> Option<f64> {
        let v: Vec<f64> = self.references.iter().map(|r| r.c2st).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }
    /// Median kNN symmetric KL.
    pub fn knn_kl_median(&self) -> Option<f64> {
        median(self.references.iter().map(|r| r.knn_kl).collect())
    }
    /// Median JS over every compared marginal after importance sampling.
    pub fn js_median_is(&self) -> Option<f64> {
        median(self.references.iter().filter_map(|r| r.after_importance.as_ref()).flat_map(|a| a.0.iter().copied()).collect())
    }
    /// Mean C2ST after importance sampling.
    pub fn c2st_mean_is(&self) -> Option<f64> {
        let v: Vec<f64> = self.references.iter().filter_map(|r| r.after_importance.as_ref().map(|a| a.1)).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }
    /// Median importance-sampling efficiency.
    pub fn is_efficiency_median(&self) -> Option<f64> {
        median(self.references.iter().filter_map(|r| r.importance.map(|i| i.efficiency)).collect())
    }
}

/// Compares injection `i` with its reference, if it has one.
#[allow(clippy::too_many_arguments)]
fn compare(
    model: &DensityModel,
    sim: &dyn Simulator,
    test: &Split,
    keep: &[usize],
    settings: &CheckSettings,
    names: &[String],
    i: usize,
    drawn: Option<(Vec<f64>, f64)>,
) -> Result<Option<ReferenceCheck>, SamplesFileError> {
    let d = names.len();
    let streams = StreamFamily::new(settings.seed, "eval/posterior");
    let y: Vec<f64> = test.data_row(i).iter().map(|&v| v as f64).collect();
    let truth: Vec<f64> = test.theta_row(i).iter().map(|&v| v as f64).collect();
    let (estimator, estimator_s) = match drawn {
        Some(x) => x,
        None => {
            let t = Instant::now();
            let draws = model.sample_within(settings.samples, test.data_row(i), &mut streams.rng(i as u64)).0;
            (draws, t.elapsed().as_secs_f64())
        }
    };
    let found = match &settings.reference {
        ReferenceSource::None => None,
        ReferenceSource::Auto(nested) => reference::exact(sim, &y, keep, settings.samples, settings.seed, i as u64)
            .or_else(|| reference::nested(sim, &y, keep, settings.samples, *nested, settings.seed, i as u64)),
        ReferenceSource::Dir(dir) => {
            let file = ["npy", "csv", "parquet"].iter().map(|e| dir.join(format!("injection_{i}.{e}"))).find(|p| p.is_file());
            match file {
                Some(f) => Some(ReferenceSamples {
                    samples: reference::read_samples(&f, names)?,
                    source: f.display().to_string(),
                    log_z: None,
                    calls: 0,
                    seconds: 0.0,
                }),
                None => None,
            }
        }
    };
    let Some(reference) = found else { return Ok(None) };
    let js = marginal_js(&estimator, &reference.samples, d);
    // C2ST and kNN on equal numbers of draws: all `samples` of each (sbibm uses 10⁴ a side).
    let m = (estimator.len() / d).min(reference.samples.len() / d).min(settings.samples);
    let score = c2st(&estimator[..m * d], &reference.samples[..m * d], d, settings.seed ^ i as u64);
    let knn_kl = knn_symmetric_kl(&estimator[..m * d], &reference.samples[..m * d], d, 5);
    let (mut importance, mut after_importance) = (None, None);
    if settings.importance_samples > 0 {
        let mut rng = StreamFamily::new(settings.seed, "eval/importance").rng(i as u64);
        if let Some(w) = weighted_draws(model, sim, &y, keep, settings.importance_samples, settings.marginal_draws, &mut rng) {
            let resampled = w.resample(m, &mut rng);
            if resampled.len() == m * d && w.summary.ess >= 1.0 {
                let score = c2st(&resampled, &reference.samples[..m * d], d, settings.seed ^ i as u64);
                after_importance = Some((marginal_js(&resampled, &reference.samples, d), score));
            }
            importance = Some(w.summary);
        }
    }
    Ok(Some(ReferenceCheck {
        injection: i,
        truth,
        estimator,
        estimator_s,
        reference,
        js,
        c2st: score,
        knn_kl,
        importance,
        after_importance,
    }))
}

/// A benchmark task's fixed observations as a split (true θ reduced to the inferred
/// parameters `keep`), or `None` for a simulator without them.
fn observations(sim: &dyn Simulator, keep: &[usize]) -> Option<Split> {
    let obs = sim.observations();
    if obs.is_empty() {
        return None;
    }
    let theta: Vec<f32> = obs.iter().flat_map(|(t, _)| keep.iter().map(move |&k| t[k] as f32)).collect();
    let data: Vec<f32> = obs.iter().flat_map(|(_, x)| x.iter().map(|&v| v as f32)).collect();
    let (n, m) = (obs.len(), obs[0].1.len());
    Some(Split { theta: Matrix::from_vec(n, keep.len(), theta), data: Matrix::from_vec(n, m, data), snr: None, fresh_noise: false })
}

/// Which test injections are compared with a reference: the first `reference_injections`
/// at least as loud as the simulator's `min_reference_snr` (the test split is drawn from the
/// prior, for calibration; comparisons are made on signals loud enough to be detected). None
/// without a reference source or for a benchmark task, compared on its fixed observations.
fn references_among(test: &Split, sim: &dyn Simulator, settings: &CheckSettings) -> Vec<usize> {
    let n = match settings.reference {
        ReferenceSource::None => 0,
        _ if !sim.observations().is_empty() => 0,
        _ => settings.reference_injections,
    };
    let loud = |i: &usize| match (sim.min_reference_snr(), &test.snr) {
        (Some(min), Some(snr)) => snr.values().get(*i).is_some_and(|&s| s as f64 >= min),
        _ => true,
    };
    (0..test.len()).filter(loud).take(n).collect()
}

/// The comparisons with reference posteriors: on a benchmark task's fixed observations (all of
/// them), else on the loud test injections [`references_among`] picks (reusing their P-P
/// draws, `drawn`, by injection); the JS of test injections goes into their eval.parquet `rows`.
#[allow(clippy::too_many_arguments)]
fn compare_all(
    model: &DensityModel,
    sim: &dyn Simulator,
    test: &Split,
    keep: &[usize],
    settings: &CheckSettings,
    names: &[String],
    mut drawn: std::collections::HashMap<usize, (Vec<f64>, f64)>,
    rows: &mut [EvalRow],
) -> Result<Vec<ReferenceCheck>, SamplesFileError> {
    if matches!(settings.reference, ReferenceSource::None) {
        return Ok(Vec::new());
    }
    let fixed = observations(sim, keep);
    let (ref_split, chosen) = match &fixed {
        Some(obs) => (obs, (0..obs.len()).collect()),
        None => (test, references_among(test, sim, settings)),
    };
    // Injections are independent: compare them in parallel (each nested-sampling run is serial).
    let bar = crate::ui::bar(chosen.len() as u64, "reference posteriors");
    let jobs: Vec<(usize, Option<(Vec<f64>, f64)>)> = chosen.into_iter().map(|i| (i, drawn.remove(&i))).collect();
    let compared: Vec<Result<Option<ReferenceCheck>, SamplesFileError>> = jobs
        .into_par_iter()
        .map(|(i, draws)| {
            let r = compare(model, sim, ref_split, keep, settings, names, i, draws);
            bar.inc(1);
            r
        })
        .collect();
    let mut references = Vec::new();
    for c in compared {
        if let Some(c) = c? {
            for (j, v) in c.js.iter().enumerate() {
                let row = rows.iter_mut().find(|r| r.injection == c.injection && r.parameter == names[j]);
                if let (Some(row), None) = (row, &fixed) {
                    row.js = Some(*v);
                }
            }
            references.push(c);
        }
    }
    bar.finish_and_clear();
    Ok(references)
}

/// Runs the checks of `model` on the `test` split; `keep` are the inferred parameters among
/// the simulator's. Fails on unreadable reference files.
pub fn posterior_checks(
    model: &DensityModel,
    sim: &dyn Simulator,
    test: &Split,
    keep: &[usize],
    settings: &CheckSettings,
) -> Result<PosteriorChecks, SamplesFileError> {
    let names = model.card.parameters.clone();
    let d = names.len();
    let mut cal = Coverage::new(names.clone(), settings.rank_samples);
    let mut rows = Vec::new();
    let n_pp = settings.pp_injections.min(test.len());
    let streams = StreamFamily::new(settings.seed, "eval/posterior");
    let bar = crate::ui::bar(n_pp as u64, "P-P test");
    let mut drawn = std::collections::HashMap::new();
    let chosen = references_among(test, sim, settings);
    for i in 0..n_pp {
        let truth: Vec<f64> = test.theta_row(i).iter().map(|&v| v as f64).collect();
        let t = Instant::now();
        let (draws, _) = model.sample_within(settings.samples, test.data_row(i), &mut streams.rng(i as u64));
        let secs = t.elapsed().as_secs_f64();
        cal.push(&truth, &draws);
        for j in 0..d {
            let mut col: Vec<f64> = draws.iter().skip(j).step_by(d).copied().collect();
            col.sort_by(f64::total_cmp);
            rows.push(EvalRow {
                injection: i,
                parameter: names[j].clone(),
                truth: truth[j],
                percentile: cal.percentiles[i][j],
                sbc_rank: cal.ranks[i][j],
                median: quantile(&col, 0.5),
                lower_90: quantile(&col, 0.05),
                upper_90: quantile(&col, 0.95),
                js: None,
            });
        }
        if chosen.contains(&i) {
            drawn.insert(i, (draws, secs));
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let pp = cal.pp_test();

    let references = compare_all(model, sim, test, keep, settings, &names, drawn, &mut rows)?;
    Ok(PosteriorChecks { parameters: names, rows, calibration: cal, pp, references })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::npy::Matrix;

    /// Reference comparisons on a GW test split go to the first injections at least as loud as
    /// `min_reference_snr` (8 by default); calibration uses them all.
    #[test]
    fn references_go_to_the_loud_test_injections() {
        let sim = crate::sim::GwBbh::new(&crate::sim::GwBbhSpec::default()).unwrap();
        let snr = [3.0f32, 9.0, 7.9, 12.0, 8.0, 20.0, 1.0];
        let n = snr.len();
        let test = Split {
            theta: Matrix::from_vec(n, 1, vec![0.0; n]),
            data: Matrix::from_vec(n, 1, vec![0.0; n]),
            snr: Some(Matrix::from_vec(n, 1, snr.to_vec())),
            fresh_noise: false,
        };
        let spec = crate::eval::EvalSpec { reference_injections: 3, ..Default::default() };
        let auto = ReferenceSource::Auto(crate::reference::NestedSettings::from(&spec.nested));
        let settings = CheckSettings::from_spec(&spec, 1, true, Some(auto));
        assert_eq!(references_among(&test, &sim, &settings), vec![1, 3, 4]);
        let none = CheckSettings::from_spec(&spec, 1, true, Some(ReferenceSource::None));
        assert!(references_among(&test, &sim, &none).is_empty());
    }
}
