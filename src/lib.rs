//! ndelab: reproducible neural-posterior-estimation experiments.
//!
//! A YAML spec names a simulator and its prior, a density estimator q(x|y), a loss and a
//! training recipe. ndelab simulates the data once (cached by content key), trains with dfdx,
//! evaluates the learned posterior against the truth, and writes every number to Parquet.
//!
//! Layers, lowest first; each names only those before it (tests/house.rs checks this):
//!
//! ui → math → config → store → interrupt → sim → data → nn → train → reference → eval → report → spec → pipeline → sweep → app → cli
//!
//! [`ui`] is how ndelab talks to the terminal; [`math`] the numerics and random streams;
//! [`config`] the vocabulary of settings (numbers, tagged sections, violations, limits);
//! [`store`] results/ on disk (keys, entries, npy, Parquet); [`interrupt`] what a signal does.
//! The stages follow in the order data flows through them: [`sim`] → [`data`] → [`nn`] →
//! [`train`] → [`reference`] → [`eval`] → [`report`], each declaring its own section of a spec.
//! [`spec`] assembles those sections into one spec and resolves it into a [`spec::Plan`];
//! [`pipeline`] makes one run of a plan, [`sweep`] many; [`app`] is what each command does,
//! [`cli`] its arguments. docs/architecture.md says the same at more length.
//!
//! ```no_run
//! use ndelab::{pipeline, store::Layout};
//! let opts = pipeline::RunOptions { layout: Layout::new("results"), force: false };
//! let report = pipeline::run("experiments/linear_gaussian.yaml".as_ref(), &[], &opts)?;
//! println!("{}", report.dir.display());
//! # Ok::<(), ndelab::pipeline::PipelineError>(())
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
