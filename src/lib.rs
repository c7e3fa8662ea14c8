//! ndelab: reproducible neural-posterior-estimation experiments.
//!
//! A YAML spec names a simulator and its prior, a density estimator q(x|y), a loss and a
//! training recipe. ndelab simulates the data once (cached by content key), trains with dfdx,
//! evaluates the learned posterior against the truth, and writes every number to Parquet.
//!
//! Stages, in the order data flows through them; each knows only those before it:
//! [`spec`] → [`store`] → [`sim`] → [`data`] → [`nn`] → [`train`] → [`eval`] → [`report`],
//! tied together for one run by [`pipeline`]; [`sweep`] runs many.
//!
//! ```no_run
//! use ndelab::{pipeline, store::Layout};
//! let opts = pipeline::RunOptions { layout: Layout::new("results"), force: false };
//! let report = pipeline::run("experiments/linear_gaussian.yaml".as_ref(), &[], &opts)?;
//! println!("{}", report.dir.display());
//! # Ok::<(), ndelab::Error>(())
//! ```

#![warn(missing_docs)]

pub mod app;
pub mod cli;
pub mod config;
pub mod data;
pub mod eval;
pub mod interrupt;
pub mod math;
pub mod nn;
pub mod pipeline;
pub mod reference;
pub mod report;
pub mod sim;
pub mod spec;
pub mod store;
pub mod sweep;
pub mod train;
pub mod ui;

pub use app::Error;
