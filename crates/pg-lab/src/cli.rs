//! The command line: every flag checked at parse time, with errors that name
//! the value and what is allowed.

use clap::{Args, Parser, Subcommand};
use pg_play::args::positive_float;
pub use pg_play::args::{EnvName, TrainArgs, Widths};
use std::path::PathBuf;

/// Policy Gradients in Rust: train policies and build the book.
#[derive(Debug, Parser)]
#[command(name = "pg", version, about, long_about = None)]
pub struct Cli {
    /// What to do.

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train one policy and print a JSON summary as the last line of stdout.
    Train(Box<TrainArgs>),
    /// Run every chapter's experiment, write figures and tables, and build the HTML book.
    Book(BookArgs),
    /// Measure throughput (environment steps, rollouts, gradients, training) and print JSON.
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct BookArgs {
    /// The book's directory (holding book.toml) [default: the workspace's book/].
    #[arg(long)]
    pub book_dir: Option<PathBuf>,
    /// Smaller experiments (for tests): same pipeline, fewer samples.
    #[arg(long)]
    pub quick: bool,
    /// Rerun every chapter's experiments, even those whose sources did not change.
    #[arg(long)]
    pub fresh: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Seconds to spend on each benchmark.
    #[arg(long, value_parser = positive_float, default_value_t = 1.0, allow_hyphen_values = true)]
    pub seconds: f64,
    /// Seeds of the time-to-solve runs (CartPole to a 100-episode mean of 475), at least 1; 0 skips them.
    #[arg(long, default_value_t = 10)]
    pub seeds: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
