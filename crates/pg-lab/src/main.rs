//! `pg`: train a policy, or run every chapter's experiment and build the book.

mod book;
mod cli;
mod files;
mod math;
mod train_cmd;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Train(args) => train_cmd::run(&args),
        cli::Command::Book(args) => book::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
