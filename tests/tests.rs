//! ndelab's integration tests, built as one binary (ripgrep's layout): themed modules,
//! shared helpers in `util`.

mod util;
mod waveforms;

mod cli;
mod docs;
mod evaluation;
mod fuzz;
mod gw;
mod gw_network;
mod house;
mod pipeline;
mod priors;
mod reliability;
mod spec;
mod store;
mod sweep;
mod table;
