//! Files the user names as outputs (`sample --out`, `reference --out`, `table --out`, ...):
//! where they may go. They are written like every other file (a synced temporary beside them,
//! renamed into place), and never over what ndelab keeps itself or over an input of the same
//! command.

use super::entry::{DONE, SUMS};
use super::Layout;
use std::path::{Path, PathBuf};

/// Why an output path is refused (bad input: exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct OutputClash {
    /// The output as the user gave it.
    pub path: String,
    /// What it would damage, and what to do instead.
    pub reason: String,
}

/// The absolute form of `p` with its existing part resolved (symbolic links followed), so that
/// two spellings of one file compare equal; `None` where its folder does not exist.
fn resolved(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = p.canonicalize() {
        return Some(c);
    }
    let name = p.file_name()?;
    let parent = p.parent().filter(|q| !q.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Some(parent.canonicalize().ok()?.join(name))
}

/// Checks that `out` may be written: its folder exists, it is not a folder, it is not inside
/// the cache or runs of `layout` nor inside any finished entry (a folder holding DONE
/// and SHA256SUMS), and it is not one of `inputs`.
pub fn check_destination(out: &Path, layout: &Layout, inputs: &[&Path]) -> Result<(), OutputClash> {
    check(out, layout, inputs, false)
}

/// Like [`check_destination`], for an output that is a folder ndelab creates (it may exist
/// empty).
pub fn check_folder_destination(out: &Path, layout: &Layout) -> Result<(), OutputClash> {
    check(out, layout, &[], true)
}

fn check(out: &Path, layout: &Layout, inputs: &[&Path], folder: bool) -> Result<(), OutputClash> {
    let clash = |reason: String| OutputClash { path: out.display().to_string(), reason };
    if !folder && out.is_dir() {
        return Err(clash("is a folder; name a file, e.g. posterior.parquet".into()));
    }
    let Some(abs) = resolved(out) else {
        let parent = out.parent().map(|p| p.display().to_string()).unwrap_or_default();
        return Err(clash(format!("its folder `{parent}` does not exist; create it first or write elsewhere")));
    };
    for (folder, what) in [("cache", "the cache"), ("runs", "the runs")] {
        if let Some(kept) = layout.root().join(folder).canonicalize().ok().filter(|k| abs.starts_with(k)) {
            return Err(clash(format!(
                "is inside {what} of the results folder ({}), which ndelab writes itself; write the output elsewhere, e.g. posterior.parquet",
                kept.display()
            )));
        }
    }
    if let Some(entry) = abs.ancestors().skip(1).find(|d| d.join(DONE).is_file() && d.join(SUMS).is_file()) {
        return Err(clash(format!(
            "is inside the finished entry {}, whose files are checksummed; write the output elsewhere",
            entry.display()
        )));
    }
    for input in inputs {
        if resolved(input).is_some_and(|i| i == abs) {
            return Err(clash(format!("is also an input of this command ({}); write the output to another file", input.display())));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_kept_files_inputs_and_missing_folders() {
        let root = std::env::temp_dir().join(format!("ndelab-output-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let run = root.join("results/runs/x/abc");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join(DONE), "complete\n").unwrap();
        std::fs::write(run.join(SUMS), "").unwrap();
        let other = root.join("elsewhere/k");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join(DONE), "").unwrap();
        std::fs::write(other.join(SUMS), "").unwrap();
        let layout = Layout::new(root.join("results"));
        let data = root.join("obs.npy");
        std::fs::write(&data, "x").unwrap();
        let reason = |p: &Path| check_destination(p, &layout, &[&data]).unwrap_err().reason;
        assert!(reason(&run.join("summary.parquet")).contains("inside the runs of the results folder"));
        assert!(reason(&other.join("post.npy")).contains("inside the finished entry"));
        assert!(reason(&root.join("./obs.npy")).contains("is also an input"));
        assert!(reason(&root.join("nowhere/post.npy")).contains("does not exist"));
        assert!(reason(&root).contains("is a folder"));
        assert_eq!(check_destination(&root.join("post.parquet"), &layout, &[&data]), Ok(()));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
