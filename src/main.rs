//! The `ndelab` command: parse arguments, run, print the error once, pick the exit code.

use clap::Parser;

fn main() {
    let cli = ndelab::cli::Cli::parse();
    if let Err(err) = ndelab::cli::run(cli) {
        eprintln!("error: {err}");
        std::process::exit(err.exit_code());
    }
}
