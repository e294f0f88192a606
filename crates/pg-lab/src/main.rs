//! `pg`: train a policy, or run every chapter's experiment and build the book.

use clap::Parser;
use pg_lab::{bench, book, cli, interrupt, train_cmd};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if let Err(e) = interrupt::install() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        cli::Command::Train(args) => train_cmd::run(&args),
        cli::Command::Book(args) => book::run(&args).map(|_| ()),
        cli::Command::Bench(args) => {
            interrupt::doing("pg bench, which writes no file");
            bench::run(&args)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
