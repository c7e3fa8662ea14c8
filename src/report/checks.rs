//! What the posterior checks write: eval.parquet (one row per injection and parameter), the
//! P-P plot, the SBC rank histograms, corner plots of estimator against reference, and the
//! reference samples themselves (reusable with `ndelab eval --reference`).

use super::{corner_sets, pp_plot, sbc_ranks, EvalAggregates, ReportError};
use crate::eval::PosteriorChecks;
use polars::prelude::*;
use std::fs::File;
use std::path::Path;

/// Columns of eval.parquet, in order.
pub const EVAL_COLUMNS: [&str; 15] = [
    "injection",
    "parameter",
    "truth",
    "percentile",
    "sbc_rank",
    "median",
    "lower_90",
    "upper_90",
    "js",
    "c2st",
    "knn_sym_kl",
    "is_efficiency",
    "is_log_z",
    "reference",
    "reference_log_z",
];

impl PosteriorChecks {
    /// The aggregates that go into summary.parquet.
    pub fn aggregates(&self) -> EvalAggregates {
        let n = self.calibration.percentiles.len();
        EvalAggregates {
            pp_injections: (n > 0).then_some(n as f64),
            pp_combined_p: (n > 0).then_some(self.pp.combined_p),
            pp_min_ks_p: self.pp.ks_p.iter().cloned().reduce(f64::min),
            reference_injections: (!self.references.is_empty()).then_some(self.references.len() as f64),
            js_median: self.js_median(),
            c2st_mean: self.c2st_mean(),
            is_efficiency_median: self.is_efficiency_median(),
            js_median_is: self.js_median_is(),
            c2st_mean_is: self.c2st_mean_is(),
        }
    }
}

/// Writes eval.parquet, plots/pp.png, plots/sbc.png, plots/corner_reference_<i>.png and
/// reference/injection_<i>.npy under `dir`.
pub fn write_checks(dir: &Path, checks: &PosteriorChecks, title: &str) -> Result<(), ReportError> {
    let path = dir.join("eval.parquet");
    let err = |m: String| ReportError::Parquet { path: path.display().to_string(), message: m };
    let by_injection = |i: usize| checks.references.iter().find(|r| r.injection == i);
    let rows = &checks.rows;
    let col_f = |f: &dyn Fn(&crate::eval::EvalRow) -> Option<f64>| -> Vec<Option<f64>> { rows.iter().map(f).collect() };
    let mut df = df!(
        "injection" => rows.iter().map(|r| r.injection as u32).collect::<Vec<_>>(),
        "parameter" => rows.iter().map(|r| r.parameter.clone()).collect::<Vec<_>>(),
        "truth" => rows.iter().map(|r| r.truth).collect::<Vec<_>>(),
        "percentile" => rows.iter().map(|r| r.percentile).collect::<Vec<_>>(),
        "sbc_rank" => rows.iter().map(|r| r.sbc_rank as u32).collect::<Vec<_>>(),
        "median" => rows.iter().map(|r| r.median).collect::<Vec<_>>(),
        "lower_90" => rows.iter().map(|r| r.lower_90).collect::<Vec<_>>(),
        "upper_90" => rows.iter().map(|r| r.upper_90).collect::<Vec<_>>(),
        "js" => col_f(&|r| r.js),
        "c2st" => col_f(&|r| by_injection(r.injection).map(|c| c.c2st)),
        "knn_sym_kl" => col_f(&|r| by_injection(r.injection).map(|c| c.knn_kl)),
        "is_efficiency" => col_f(&|r| by_injection(r.injection).and_then(|c| c.importance.map(|i| i.efficiency))),
        "is_log_z" => col_f(&|r| by_injection(r.injection).and_then(|c| c.importance.map(|i| i.log_z))),
        "reference" => rows.iter().map(|r| by_injection(r.injection).map(|c| c.reference.source.clone())).collect::<Vec<_>>(),
        "reference_log_z" => col_f(&|r| by_injection(r.injection).and_then(|c| c.reference.log_z.map(|z| z.0))),
    )
    .map_err(|e| err(e.to_string()))?;
    let file = File::create(&path).map_err(|e| err(e.to_string()))?;
    ParquetWriter::new(file).finish(&mut df).map_err(|e| err(e.to_string()))?;

    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| err(e.to_string()))?;
    let names = &checks.parameters;
    if !checks.calibration.percentiles.is_empty() {
        let columns: Vec<Vec<f64>> = (0..names.len()).map(|j| checks.calibration.column(j)).collect();
        pp_plot(&plots.join("pp.png"), names, &columns, &checks.pp.ks_p, checks.pp.combined_p, title)?;
        sbc_ranks(
            &plots.join("sbc.png"),
            names,
            &checks.calibration.ranks,
            checks.calibration.rank_samples,
            &format!("{title}: SBC ranks"),
        )?;
    }
    if !checks.references.is_empty() {
        let refdir = dir.join("reference");
        std::fs::create_dir_all(&refdir).map_err(|e| err(e.to_string()))?;
        for r in &checks.references {
            if r.reference.source == "nested" {
                crate::reference::write_samples_npy(
                    &refdir.join(format!("injection_{}.npy", r.injection)),
                    &r.reference.samples,
                    names.len(),
                )
                .map_err(|e| err(e.to_string()))?;
            }
        }
        for r in checks.references.iter().take(3) {
            let med = |v: &[f64]| {
                let mut v = v.to_vec();
                v.sort_by(f64::total_cmp);
                v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
            };
            let js = med(&r.js);
            corner_sets(
                &plots.join(format!("corner_reference_{}.png", r.injection)),
                &[&r.estimator, &r.reference.samples],
                Some(&r.truth),
                names,
                &format!("{title}: injection {} — estimator (blue) vs {} (orange), median JS {js:.4}", r.injection, r.reference.source),
            )?;
        }
    }
    Ok(())
}
