//! `pg`: train a policy, or run every chapter's experiment and build the book.

use clap::Parser;
use pg_lab::{bench, book, cli, interrupt, train_cmd};
use std::process::ExitCode;

fn main() -> ExitCode {
    if let Err(e) = interrupt::install("pg, as it started: no file was written") {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let argv: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    let cli = match cli::Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            // `pg train`'s flags: the same errors as the Play page's.
            let words: Vec<&str> = argv.iter().skip(2).map(String::as_str).collect();
            let explained = match argv.get(1).map(String::as_str) {
                Some("train") => pg_play::args::explained(&e, &words),
                _ => e.render().to_string(),
            };
            if explained == e.render().to_string() {
                e.exit();
            }
            eprint!("{explained}");
            return ExitCode::from(2);
        }
    };
    let starting = match &cli.command {
        cli::Command::Train(args) => {
            format!("pg train --algo {}, while it set up the run: no file was written", args.algo)
        }
        cli::Command::Book(_) => "pg book, as it started: no file was written".to_string(),
        cli::Command::Bench(_) => "pg bench, which writes no file".to_string(),
    };
    interrupt::doing(starting);
    let result = match cli.command {
        cli::Command::Train(args) => train_cmd::run(&args),
        cli::Command::Book(args) => book::run(&args).map(|_| ()),
        cli::Command::Bench(args) => bench::run(&args),
    };
    interrupt::finish();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
