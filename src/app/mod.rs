//! The application layer: what each command does, given its parsed arguments. Each function
//! here loads what the command names, calls the stages, and answers on stdout through
//! [`crate::ui`]; src/cli.rs only parses and dispatches. The library's other layers never
//! print and never exit.

pub mod args;
mod bench;
mod cache;
mod compare;
mod error;
mod eval;
mod listing;
mod reference;
mod run;
mod sample;
mod sweep;
mod table;

pub use bench::{bench_simulate, bench_train};
pub use cache::{cache_gc, cache_verify};
pub use compare::compare_files;
pub use error::{BadRequest, Error};
pub use eval::{evaluate, EvalOptions};
pub use listing::{cache_ls, ls};
pub use reference::{reference_posterior, ReferenceRequest};
pub use run::{export_injections, key_explain, run, simulate, validate};
pub use sample::{sample, SampleRequest};
pub use sweep::{collect_plan, multirun, status as sweep_status, summary_files, sweep, sweep_local, sweep_slurm, trial, SweepArgs};
pub use table::{plot_sweep, table, TableArgs};

use crate::store::Layout;

/// Sets up what every command shares: the worker threads and the results folder.
pub fn start(threads: Option<usize>, results: &std::path::Path) -> Result<Layout, Error> {
    if let Some(n) = threads {
        rayon::ThreadPoolBuilder::new().num_threads(n).build_global().map_err(|e| BadRequest::Threads(e.to_string()))?;
    }
    let layout = Layout::new(results);
    layout.check().map_err(BadRequest::Results)?;
    Ok(layout)
}
