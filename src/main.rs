//! The `ndelab` command: parse arguments, run, print the error once, pick the exit code.

use clap::Parser;

fn main() {
    // Before any thread starts, so that all of them allocate from the main heap and leave
    // SIGINT and SIGTERM to the handler's thread.
    ndelab::train::keep_freed_memory();
    ndelab::interrupt::install();
    let cli = ndelab::cli::Cli::parse();
    let result = ndelab::cli::run(cli);
    ndelab::interrupt::wait_if_requested();
    if let Err(err) = result {
        ndelab::ui::error(&err);
        std::process::exit(err.exit_code());
    }
}
