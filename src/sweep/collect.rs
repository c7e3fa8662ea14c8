//! Collecting a sweep: one row per trial in summary.parquet (trial, swept keys, status, wall
//! time, error, then every column of the trial's own summary.parquet) and trials.jsonl.

use super::SweepError;
use super::SweepPlan;
use crate::report::{read_parquet, SUMMARY_COLUMNS};
use crate::store::entry::write_atomic;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialStatus {
    /// Trained in this invocation.
    Ran,
    /// Already complete (a cache hit).
    Cached,
    /// Failed; see the error.
    Failed,
    /// Not run (yet).
    Missing,
}

impl TrialStatus {
    /// Name in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            TrialStatus::Ran | TrialStatus::Cached => "ok",
            TrialStatus::Failed => "failed",
            TrialStatus::Missing => "missing",
        }
    }
}

/// What happened to one trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialOutcome {
    /// Status.
    pub status: TrialStatus,
    /// Wall seconds of this invocation (0 for a cache hit).
    pub wall_s: f64,
    /// The error message of a failed trial.
    pub error: Option<String>,
}

fn typed_column(name: &str, values: &[String]) -> Column {
    if let Ok(v) = values.iter().map(|s| s.parse::<i64>()).collect::<Result<Vec<_>, _>>() {
        return Column::new(name.into(), v);
    }
    if let Ok(v) = values.iter().map(|s| s.parse::<f64>()).collect::<Result<Vec<_>, _>>() {
        return Column::new(name.into(), v);
    }
    Column::new(name.into(), values.to_vec())
}

/// Writes summary.parquet and trials.jsonl for `plan`; `outcomes` (in trial order) are what an
/// executor saw; without them a trial is `ok` when its run is complete and `missing` (or
/// `failed`, when its log says so) otherwise.
pub fn collect(plan: &SweepPlan, outcomes: Option<&[TrialOutcome]>) -> Result<(usize, usize, usize), SweepError> {
    let n = plan.trials.len();
    let mut rows: Vec<TrialOutcome> = Vec::with_capacity(n);
    let mut summaries: Vec<Option<DataFrame>> = Vec::with_capacity(n);
    for (i, t) in plan.trials.iter().enumerate() {
        let done = t.run_dir.join("DONE").is_file();
        let summary = if done { read_parquet(&t.run_dir.join("summary.parquet")).ok() } else { None };
        let outcome = match (outcomes.map(|o| o[i].clone()), summary.is_some()) {
            (Some(o), _) => o,
            (None, true) => TrialOutcome { status: TrialStatus::Cached, wall_s: 0.0, error: None },
            (None, false) => {
                let log = std::fs::read_to_string(plan.dir.join("logs").join(format!("trial_{}.log", t.trial.index))).unwrap_or_default();
                match log.lines().rev().find(|l| l.starts_with("error:")) {
                    Some(e) => TrialOutcome { status: TrialStatus::Failed, wall_s: 0.0, error: Some(e.to_string()) },
                    None => TrialOutcome { status: TrialStatus::Missing, wall_s: 0.0, error: None },
                }
            }
        };
        rows.push(outcome);
        summaries.push(summary);
    }
    let err = |e: PolarsError| SweepError::Collect { name: plan.name.clone(), message: e.to_string() };
    let mut cols = vec![Column::new("trial".into(), plan.trials.iter().map(|t| t.trial.index as u32).collect::<Vec<_>>())];
    for key in &plan.swept {
        let values: Vec<String> =
            plan.trials.iter().map(|t| t.trial.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default()).collect();
        cols.push(typed_column(key, &values));
    }
    cols.push(Column::new("status".into(), rows.iter().map(|r| r.status.as_str()).collect::<Vec<_>>()));
    cols.push(Column::new("wall_s".into(), rows.iter().map(|r| r.wall_s).collect::<Vec<_>>()));
    cols.push(Column::new("error".into(), rows.iter().map(|r| r.error.clone()).collect::<Vec<Option<String>>>()));
    for name in SUMMARY_COLUMNS {
        if plan.swept.iter().any(|k| k == name) {
            continue;
        }
        let values: Vec<AnyValue> = summaries
            .iter()
            .map(|s| {
                s.as_ref()
                    .and_then(|df| df.column(name).ok().and_then(|c| c.get(0).ok()))
                    .map(|v| v.into_static())
                    .unwrap_or(AnyValue::Null)
            })
            .collect();
        let series = Series::from_any_values(name.into(), &values, false).map_err(err)?;
        cols.push(series.into());
    }
    let mut df = DataFrame::new(n, cols).map_err(err)?;
    crate::store::entry::replace_atomic(&plan.dir.join("summary.parquet"), |tmp| {
        let file =
            std::fs::File::create(tmp).map_err(|e| SweepError::Store(crate::store::StoreError::Io { path: tmp.to_path_buf(), source: e }))?;
        ParquetWriter::new(file).finish(&mut df).map_err(err)?;
        Ok::<(), SweepError>(())
    })?;
    let mut lines = String::new();
    for (t, r) in plan.trials.iter().zip(&rows) {
        let line = serde_json::json!({
            "trial": t.trial.index,
            "params": t.trial.params.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            "run_key": t.run_key,
            "run_dir": t.run_dir,
            "status": r.status.as_str(),
            "wall_s": r.wall_s,
            "error": r.error,
        });
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    write_atomic(&plan.dir.join("trials.jsonl"), lines.as_bytes())?;
    let ok = rows.iter().filter(|r| matches!(r.status, TrialStatus::Ran | TrialStatus::Cached)).count();
    let failed = rows.iter().filter(|r| r.status == TrialStatus::Failed).count();
    Ok((ok, failed, n - ok - failed))
}
