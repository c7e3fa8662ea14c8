//! The `ndelab` command: parse arguments, run, print the error once, pick the exit code.

use clap::Parser;

fn main() {
    // Before any thread starts, so that all of them allocate from the main heap.
    ndelab::train::keep_freed_memory();
    let cli = ndelab::cli::Cli::parse();
    if let Err(err) = ndelab::cli::run(cli) {
        eprintln!("error: {err}");
        std::process::exit(err.exit_code());
    }
}
