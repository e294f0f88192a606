//! The options of one training run, as `pg train` takes them: every flag
//! checked at parse time, with errors that name the value and what is
//! allowed. The browser's Play page passes the same flags.

use crate::defaults;
use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{Args, CommandFactory, Parser, ValueEnum};
use std::path::PathBuf;

/// Environments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EnvName {
    /// Gymnasium's CartPole-v1 (2 actions, solved at a mean return of 475).
    Cartpole,
    /// Gymnasium's Pendulum-v1 (1-dimensional torque, Gaussian policy).
    Pendulum,
    /// The three-state MDP whose gradient is known exactly (tabular policy).
    Mdp,
    /// The one-state "stay" MDP, truncated at 1000 steps (tabular policy).
    Stay,
}

impl EnvName {
    /// Default (iterations, episodes per batch, learning rate).
    pub fn defaults(self) -> (usize, usize, f64) {
        match self {
            EnvName::Cartpole => (200, 32, 0.003),
            EnvName::Pendulum => {
                // Chapter 4's setting: its budget in whole batches.
                let ch4 = pg_surrogate::experiments::PendulumSetup::default();
                (ch4.max_env_steps.div_ceil(ch4.batch * pg_core::env::PENDULUM_MAX_STEPS), ch4.batch, ch4.lr)
            }
            EnvName::Mdp => (100, 32, 0.05),
            EnvName::Stay => (50, 16, 0.05),
        }
    }
}

/// Negative numbers are values (`--batch -1` is refused by `--batch`'s own check).
#[derive(Debug, Clone, Args)]
#[command(allow_negative_numbers = true)]
pub struct TrainArgs {
    /// The algorithm, from the registry of the chapters that introduce one.
    #[arg(long, default_value = "reinforce", value_parser = algorithm_names())]
    pub algo: String,
    /// The environment.
    #[arg(long, value_enum, default_value_t = EnvName::Cartpole)]
    pub env: EnvName,
    /// Seeds the initial weights and every sampled episode.
    #[arg(long, default_value_t = 0, value_parser = seed)]
    pub seed: u64,
    #[arg(long, value_parser = at_least_one, help = defaults::help("Gradient steps, at least 1", "--iters"))]
    pub iters: Option<usize>,
    #[arg(long, value_parser = at_least_one, help = defaults::help("Episodes per batch, at least 1", "--batch"))]
    pub batch: Option<usize>,
    #[arg(long, value_parser = at_least_one, help = defaults::help("Stop after the iteration that brings the environment steps to at least this many", "--max-env-steps"))]
    pub max_env_steps: Option<usize>,
    #[arg(long, value_parser = positive_float, allow_hyphen_values = true, help = defaults::help("Adam's step size, greater than 0", "--lr"))]
    pub lr: Option<f64>,
    #[arg(long, value_parser = widths, help = defaults::help("Hidden layer widths, comma-separated; \"\" for a linear policy; not for the tabular MDPs", "--hidden"))]
    pub hidden: Option<Widths>,
    #[arg(long, value_parser = unit_interval, allow_hyphen_values = true, help = defaults::help("Discount, from 0 to 1", "--gamma"))]
    pub gamma: Option<f64>,
    #[arg(long, value_parser = choices(pg_baselines::BASELINES), help = defaults::help("The baseline", "--baseline"))]
    pub baseline: Option<String>,
    #[arg(long, value_parser = unit_interval, allow_hyphen_values = true, help = defaults::help("Weights by GAE(λ) advantages from the learned value, λ from 0 to 1", "--gae-lambda"))]
    pub gae_lambda: Option<f64>,
    /// Also write the summary and the per-iteration curve to this JSON file (written atomically).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Stop after the iteration at which the mean of the last 100 episodes reaches the solved
    /// threshold (475, cartpole only), as the book's Play page does by default.
    #[arg(long)]
    pub until_solved: bool,
    #[arg(long, value_parser = at_least_one, help = defaults::help("Gradient steps per batch, at least 1", "--reuse"))]
    pub reuse: Option<usize>,
    #[arg(long, value_parser = choices(pg_importance_sampling::ESTIMATORS), help = defaults::help("The importance-sampling estimator", "--estimator"))]
    pub estimator: Option<String>,
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", help = defaults::help("Standardise observations by running statistics (chapter 4); `--normalize-observations false` turns it off; not for the tabular MDPs", "--normalize-observations"))]
    pub normalize_observations: Option<bool>,
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", help = defaults::help("Standardise the weights within each batch (chapter 4); `--normalize-advantages false` turns it off; not for the tabular MDPs or the optimal baseline", "--normalize-advantages"))]
    pub normalize_advantages: Option<bool>,
    #[arg(long, value_parser = positive_float, allow_hyphen_values = true, help = defaults::help("The trust region δ on the mean KL per update, greater than 0", "--delta"))]
    pub delta: Option<f64>,
    #[arg(long, value_parser = open_unit_interval, allow_hyphen_values = true, help = defaults::help("PPO's clip range ε, between 0 and 1 exclusive", "--clip"))]
    pub clip: Option<f64>,
    #[arg(long, value_parser = positive_float, allow_hyphen_values = true, help = defaults::help("The KL per update that the penalty adapts towards, greater than 0", "--kl-target"))]
    pub kl_target: Option<f64>,
    #[arg(long, value_parser = at_least_one, help = defaults::help("Passes over each batch, at least 1", "--epochs"))]
    pub epochs: Option<usize>,
    #[arg(long, value_parser = at_least_one, help = defaults::help("Environment steps per minibatch, at least 1", "--minibatch"))]
    pub minibatch: Option<usize>,
    /// Compute the gradient one step at a time instead of through the batched surrogate (the
    /// reference it is checked against; cartpole and pendulum, where the batched pass applies).
    #[arg(long)]
    pub per_step_gradient: bool,
    #[arg(
        long,
        value_parser = at_least_one,
        help = defaults::lockstep_help(
            "Chapter 7's vectorised sampler: batches of whole episodes until at least this many steps, sampled by \
             --groups groups of --envs environments stepped in lockstep, on --threads threads, on cartpole; the \
             result does not depend on --threads"
        )
    )]
    pub batch_steps: Option<usize>,
    /// Environments stepped in lockstep in each group (with --batch-steps) [default: 5].
    #[arg(long, value_parser = at_least_one)]
    pub envs: Option<usize>,
    /// Groups of environments, each sampled on a thread of its own when one is free (with --batch-steps)
    /// [default: 2].
    #[arg(long, value_parser = at_least_one)]
    pub groups: Option<usize>,
    /// Threads (with --batch-steps) [default: one per core].
    #[arg(long, value_parser = at_least_one)]
    pub threads: Option<usize>,
    #[arg(long, value_parser = at_least_one, help = defaults::help("Evaluate the policy's mean action on 20 episodes every this many environment steps, a whole number of batches (pendulum only); a default is rounded up to whole batches", "--eval-every"))]
    pub eval_every: Option<usize>,
    /// Refuse a run whose estimated peak memory is over this: bytes, or a number with K, M, G or T
    /// (powers of 1024), e.g. 4G [default: half the machine's memory; 2G in the browser].
    #[arg(long, value_parser = crate::bounds::parse_size, value_name = "SIZE")]
    pub memory_budget: Option<f64>,
}

impl TrainArgs {
    /// The flags given that tune the algorithm or its updates, with their
    /// values as text, for the registry's builders.
    pub fn given(&self) -> Vec<(&'static str, String)> {
        [
            ("--batch", self.batch.map(|v| v.to_string())),
            ("--lr", self.lr.map(|v| v.to_string())),
            (
                "--hidden",
                self.hidden.as_ref().map(|w| w.0.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(",")),
            ),
            ("--gamma", self.gamma.map(|v| v.to_string())),
            ("--baseline", self.baseline.clone()),
            ("--gae-lambda", self.gae_lambda.map(|v| v.to_string())),
            ("--reuse", self.reuse.map(|v| v.to_string())),
            ("--estimator", self.estimator.clone()),
            ("--normalize-observations", self.normalize_observations.map(|v| v.to_string())),
            ("--normalize-advantages", self.normalize_advantages.map(|v| v.to_string())),
            ("--delta", self.delta.map(|v| v.to_string())),
            ("--clip", self.clip.map(|v| v.to_string())),
            ("--kl-target", self.kl_target.map(|v| v.to_string())),
            ("--epochs", self.epochs.map(|v| v.to_string())),
            ("--minibatch", self.minibatch.map(|v| v.to_string())),
        ]
        .into_iter()
        .filter_map(|(flag, value)| value.map(|v| (flag, v)))
        .collect()
    }
}

/// `--algo`'s values: the registry's names, each with its line of help.
fn algorithm_names() -> PossibleValuesParser {
    PossibleValuesParser::new(
        crate::registry::algorithms().into_iter().map(|a| PossibleValue::new(a.name).help(a.about)),
    )
}

/// A flag's values, each with its line of help.
fn choices(values: &'static [(&'static str, &'static str)]) -> PossibleValuesParser {
    PossibleValuesParser::new(values.iter().map(|(name, help)| PossibleValue::new(*name).help(*help)))
}

/// The command line of one run without the program's name, e.g.
/// `--algo ppo --seed 3`: how the Play page passes a run's settings.
#[derive(Debug, Parser)]
#[command(name = "pg train", no_binary_name = true)]
pub struct RunLine {
    #[command(flatten)]
    pub args: TrainArgs,
}

/// Parses a run's flags from `line` (split at whitespace), with clap's error on bad input.
pub fn parse_line(line: &str) -> Result<TrainArgs, String> {
    parse_args(&line.split_whitespace().collect::<Vec<_>>())
}

/// Parses a run's flags from `argv`, with clap's error on bad input (see [`explained`]).
pub fn parse_args<S: AsRef<str>>(argv: &[S]) -> Result<TrainArgs, String> {
    let argv: Vec<&str> = argv.iter().map(AsRef::as_ref).collect();
    RunLine::try_parse_from(&argv).map(|l| l.args).map_err(|e| explained(&e, &argv))
}

/// clap's error `e` for `pg train`'s flags `argv`, rendered. Where clap read an argument that
/// begins with '-' as short flags and names only a piece of it (`-inf` as
/// `-i`), it names the whole argument instead, and how to give it to the
/// flag before it if that flag takes a value (`--normalize-observations=-inf`,
/// `--out=-inf`: the flags that take a value only when it is attached, or
/// that would take a file name).
pub fn explained(e: &clap::Error, argv: &[&str]) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let rendered = e.render().to_string();
    let piece = match (e.kind(), e.get(ContextKind::InvalidArg)) {
        (ErrorKind::UnknownArgument, Some(ContextValue::String(arg))) if is_short(arg) => arg.clone(),
        _ => return rendered,
    };
    // The argument clap stopped at: the first prefix of `argv` that fails
    // the same way ends with it. Only a piece of it was named if it is longer.
    let same = |at: usize| {
        RunLine::try_parse_from(&argv[..=at]).err().is_some_and(|f| {
            f.kind() == ErrorKind::UnknownArgument
                && matches!(f.get(ContextKind::InvalidArg), Some(ContextValue::String(a)) if *a == piece)
        })
    };
    let Some(at) = (0..argv.len()).find(|&at| same(at)).filter(|&at| argv[at].len() > piece.len()) else {
        return rendered;
    };
    let value = argv[at];
    let takes_value = |flag: &str| {
        let long = flag.strip_prefix("--").filter(|l| !l.is_empty() && !l.contains('='));
        RunLine::command()
            .get_arguments()
            .any(|a| a.get_long().is_some() && a.get_long() == long && a.get_action().takes_values())
    };
    let attach = match at.checked_sub(1).map(|i| argv[i]) {
        Some(flag) if takes_value(flag) => {
            format!("; if it is the value of {flag}, attach it: {flag}={value}")
        }
        _ => String::new(),
    };
    format!(
        "error: unexpected argument '{value}' found: pg train's flags are long ones (besides -h){attach}\n\nFor \
         more information, try '--help'.\n"
    )
}

/// Whether `arg` looks like short flags to clap: one '-', then something.
fn is_short(arg: &str) -> bool {
    arg.len() > 1 && arg.starts_with('-') && !arg.starts_with("--")
}

/// Hidden layer widths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Widths(pub Vec<usize>);

/// A seed: a whole number from 0 to 2⁶⁴ − 1.
pub fn seed(s: &str) -> Result<u64, String> {
    s.parse().map_err(|_| format!("'{s}' is not allowed: use a whole number from 0 to {}", u64::MAX))
}

/// A whole number of at least 1.
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("'{s}' is not allowed: use a whole number of at least 1")),
    }
}

/// A finite number greater than 0.
pub fn positive_float(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(format!("'{s}' is not allowed: use a finite number greater than 0, e.g. 0.003")),
    }
}

/// A number from 0 to 1.
pub fn unit_interval(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!("'{s}' is not allowed: use a number from 0 to 1, e.g. 0.99")),
    }
}

/// A number between 0 and 1, exclusive.
pub fn open_unit_interval(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x > 0.0 && x < 1.0 => Ok(x),
        _ => Err(format!("'{s}' is not allowed: use a number between 0 and 1, exclusive, e.g. 0.2")),
    }
}

/// Comma-separated hidden layer widths.
pub fn widths(s: &str) -> Result<Widths, String> {
    if s.trim().is_empty() {
        return Ok(Widths(vec![]));
    }
    s.split(',')
        .map(|w| match w.trim().parse::<usize>() {
            Ok(n) if (1..=4096).contains(&n) => Ok(n),
            _ => Err(format!(
                "'{w}' in '{s}' is not allowed: use comma-separated widths from 1 to 4096, e.g. 32,32"
            )),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Widths)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parsers_name_the_value() {
        assert!(positive_float("-1").unwrap_err().contains("'-1'"));
        assert!(positive_float("NaN").is_err());
        assert!(at_least_one("0").unwrap_err().contains("at least 1"));
        assert!(unit_interval("1.5").unwrap_err().contains("'1.5'"));
        assert!(unit_interval("-0.1").is_err() && unit_interval("nan").is_err());
        assert_eq!(unit_interval("1").unwrap(), 1.0);
        assert!(open_unit_interval("1").unwrap_err().contains("'1'"));
        assert!(open_unit_interval("0").is_err() && open_unit_interval("nan").is_err());
        assert_eq!(open_unit_interval("0.2").unwrap(), 0.2);
        assert_eq!(widths("").unwrap(), Widths(vec![]));
        assert_eq!(widths("32, 16").unwrap(), Widths(vec![32, 16]));
        assert!(widths("32,0").unwrap_err().contains("'0'"));
    }
}
