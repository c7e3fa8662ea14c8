//! `ndelab cache verify` and `ndelab cache gc`.

use super::Error;
use crate::store::{self, Layout, Verdict};
use crate::ui;
use std::time::Duration;

/// Re-hashes every entry, a line each; with `fix` removes the corrupt ones. Fails (exit 1)
/// when an entry is corrupt and not removed.
pub fn cache_verify(layout: &Layout, fix: bool) -> Result<(), Error> {
    let (checked, bad) = store::verify_all(layout, fix, &mut |dir, verdict| match verdict {
        Verdict::Intact => ui::answer(format!("ok       {}", dir.display())),
        Verdict::EvalPending => ui::answer(format!(
            "ok       {} (its trained model; a killed `ndelab eval` left the checks half-written: rerun it)",
            dir.display()
        )),
        Verdict::Corrupt { problems, removed } => {
            ui::answer(format!("CORRUPT  {}: {}", dir.display(), problems.join("; ")));
            if *removed {
                ui::answer("         removed; the next run rebuilds it");
            }
        }
    })?;
    ui::answer(format!("{checked} entries checked, {bad} corrupt"));
    if bad > 0 && !fix {
        return Err(Error::CorruptEntries(bad));
    }
    Ok(())
}

/// Removes what no finished run needs; with `older_than` (and `force`), old entries too.
pub fn cache_gc(layout: &Layout, older_than: Option<Duration>, force: bool, dry_run: bool) -> Result<(), Error> {
    if force && older_than.is_none() {
        return Err(super::BadRequest::ForceWithoutAge.into());
    }
    let report = store::gc::gc(layout, &store::gc::GcOptions { older_than, force, dry_run })?;
    for (dir, why) in &report.removed {
        ui::answer(format!("{}{}: {why}", if dry_run { "would remove " } else { "removed " }, dir.display()));
    }
    ui::answer(format!("{} entries, {:.1} MB{}", report.removed.len(), report.bytes as f64 / 1e6, if dry_run { " (dry run)" } else { "" }));
    Ok(())
}
