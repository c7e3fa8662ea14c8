//! `ndelab ls` and `ndelab cache ls`: what results/ holds, one line per entry.

use crate::report::table::{read_records, Cell};
use crate::ui;
use crate::data::Manifest;
use crate::store::entry;
use crate::store::{subdirs as entries, Layout};
use std::path::Path;

fn name_of(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p).map(|rd| rd.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0)
}

fn status(dir: &Path) -> &'static str {
    if dir.join(entry::DONE).is_file() {
        "complete"
    } else {
        "incomplete"
    }
}

/// Prints the cached datasets: key, simulator, split sizes, size on disk, status.
pub fn cache_ls(layout: &Layout) {
    ui::answer(format!("{:<18} {:<18} {:>10} {:>8} {:>8} {:>10}  status", "key", "simulator", "n_train", "n_val", "n_test", "size"));
    for dir in entries(&layout.datasets()) {
        let manifest: Option<Manifest> =
            std::fs::read_to_string(dir.join("manifest.json")).ok().and_then(|t| serde_json::from_str(&t).ok());
        let sim = manifest.as_ref().and_then(|m| m.settings.get("simulator").and_then(|s| s.as_str()).map(str::to_string));
        let count = |f: fn(&Manifest) -> usize| manifest.as_ref().map_or("?".to_string(), |m| f(m).to_string());
        ui::answer(format!(
            "{:<18} {:<18} {:>10} {:>8} {:>8} {:>8.1} MB  {}",
            name_of(&dir),
            sim.unwrap_or_else(|| "?".into()),
            count(|m| m.n_train),
            count(|m| m.n_val),
            count(|m| m.n_test),
            dir_size(&dir) as f64 / 1e6,
            status(&dir)
        ));
    }
}

/// Prints the runs and sweeps under results/ with their keys, status and headline metrics.
pub fn ls(layout: &Layout) {
    let fmt = |c: Option<&Cell>| match c {
        Some(Cell::Num(v)) => format!("{v:.4}"),
        Some(Cell::Text(t)) => t.clone(),
        _ => "—".into(),
    };
    ui::answer(format!("{:<8} {:<24} {:<18} {:<10} {:<10} {:>10} {:>12}", "kind", "name", "key", "model", "status", "test_nll", "kl_to_truth"));
    for name_dir in entries(&layout.root().join("runs")) {
        for run in entries(&name_dir) {
            let rec = read_records(&[run.join("summary.parquet")]).ok().and_then(|mut r| r.pop());
            let get = |k: &str| fmt(rec.as_ref().and_then(|r| r.get(k)));
            let (name, key) = (name_of(&name_dir), name_of(&run));
            ui::answer(format!(
                "{:<8} {name:<24} {key:<18} {:<10} {:<10} {:>10} {:>12}",
                "run",
                get("model"),
                status(&run),
                get("test_nll"),
                get("kl_to_truth")
            ));
        }
    }
    for name_dir in entries(&layout.root().join("sweeps")) {
        for sw in entries(&name_dir) {
            let recs = read_records(&[sw.join("summary.parquet")]).unwrap_or_default();
            let ok = recs.iter().filter(|r| matches!(r.get("status"), Some(Cell::Text(s)) if s == "ok")).count();
            let state = if recs.is_empty() { "no results".to_string() } else { format!("{ok}/{} ok", recs.len()) };
            let best = recs
                .iter()
                .filter_map(|r| if let Some(Cell::Num(v)) = r.get("test_nll") { Some(*v) } else { None })
                .fold(f64::INFINITY, f64::min);
            let best = if best.is_finite() { format!("{best:.4}") } else { "—".into() };
            let (name, key) = (name_of(&name_dir), name_of(&sw));
            ui::answer(format!("{:<8} {name:<24} {key:<18} {:<10} {state:<10} {best:>10} {:>12}", "sweep", "", ""));
        }
    }
}
