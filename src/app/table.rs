//! `ndelab table` and `ndelab plot sweep`: paper tables and pictures from summary files.

use super::Error;
use crate::report::{self, table};
use crate::store::{self, Layout};
use crate::ui;
use std::path::{Path, PathBuf};

/// `ndelab table ...`.
#[derive(Debug, clap::Args)]
pub struct TableArgs {
    /// experiments/sweeps/<name>.yaml (its latest summary), a summary.parquet, a folder of them, or a glob.
    pub path: String,
    /// Keys whose values make the rows (default: the swept keys but seed, else `model`).
    #[arg(long, value_delimiter = ',')]
    pub rows: Vec<String>,
    /// Keys whose values make column groups.
    #[arg(long, value_delimiter = ',')]
    pub cols: Vec<String>,
    /// Metrics (default: test_nll and kl_to_truth, where present).
    #[arg(long, value_delimiter = ',')]
    pub metrics: Vec<String>,
    /// Aggregates to show: mean, std, n.
    #[arg(long, value_delimiter = ',', default_value = "mean,std,n")]
    pub agg: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = table::TableFormat::Md)]
    pub format: table::TableFormat,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Caption (LaTeX, Typst).
    #[arg(long)]
    pub caption: Option<String>,
    /// Label (LaTeX).
    #[arg(long)]
    pub label: Option<String>,
}


/// Renders the table; writes it to `out` (never over its inputs or a finished entry) or stdout.
pub fn table(args: TableArgs, layout: &Layout) -> Result<(), Error> {
    let (files, swept, _) = super::summary_files(&args.path, layout)?;
    let records = table::read_records(&files)?;
    let request = table::TableRequest {
        rows: args.rows,
        cols: args.cols,
        metrics: args.metrics,
        agg: args.agg,
        format: args.format,
        caption: args.caption,
        label: args.label,
    };
    let text = table::render(&records, &request.resolve(&records, swept)?)?;
    match args.out {
        Some(out) => {
            let inputs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
            store::output::check_destination(&out, layout, &inputs)?;
            store::entry::write_atomic(&out, text.as_bytes())?;
            ui::note!("wrote {}", out.display());
        }
        None => ui::answer_text(text),
    }
    Ok(())
}

/// Draws metric `y` against key `x` (one line per value of `hue`); by default into the
/// sweep's plots/ folder, else the current folder.
pub fn plot_sweep(path: &str, x: &str, y: &str, hue: Option<&str>, out: Option<PathBuf>, layout: &Layout) -> Result<(), Error> {
    let (files, _, dir) = super::summary_files(path, layout)?;
    let series = table::series(&table::read_records(&files)?, x, y, hue)?;
    if let Some(out) = &out {
        let inputs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        store::output::check_destination(out, layout, &inputs)?;
    }
    let out = out.unwrap_or_else(|| match &dir {
        Some(d) => d.join("plots").join(format!("{y}_vs_{x}.png")),
        None => PathBuf::from(format!("{y}_vs_{x}.png")),
    });
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| store::StoreError::Io { path: parent.to_path_buf(), source: e })?;
    }
    report::metric_vs_key(&out, x, y, &series)?;
    ui::note!("wrote {}", out.display());
    ui::answer(out.display());
    Ok(())
}
