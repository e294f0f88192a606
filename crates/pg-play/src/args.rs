//! The options of one training run, as `pg train` takes them: every flag
//! checked at parse time, with errors that name the value and what is
//! allowed. The browser's Play page passes the same flags.

use clap::{Args, Parser, ValueEnum};
use std::path::PathBuf;

/// Gradient estimators, one per chapter that introduces one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Algo {
    /// Chapter 1: every step weighted by the whole return.
    Reinforce,
    /// Chapter 2: every step weighted by the rewards from that step on (see --gamma).
    RewardToGo,
    /// Chapter 3: reward-to-go minus a baseline (see --baseline and --gae-lambda).
    Baseline,
    /// Chapter 5: several steps per batch, corrected by importance ratios (see --reuse and --estimator).
    Offpolicy,
    /// Chapter 6: the natural policy gradient, a step of quadratic KL --delta (cartpole, pendulum).
    Npg,
    /// Chapter 6: TRPO, the natural step with a line search on the measured KL (see --delta).
    Trpo,
    /// Chapter 6: PPO with the clipped objective (see --clip, --epochs, --minibatch).
    Ppo,
    /// Chapter 6: PPO with the adaptive KL penalty (see --kl-target, --epochs, --minibatch).
    PpoKl,
}

/// Off-policy estimators for `--algo offpolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OffPolicyEstimator {
    /// Every step weighted by the whole trajectory's ratio times its return.
    Trajectory,
    /// Each reward weighted by the ratios of the actions up to it (unbiased).
    PerDecision,
    /// Each step's own ratio times its reward-to-go (biased as the policy moves).
    FirstOrder,
}

/// Baselines for `--algo baseline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BaselineName {
    /// The other trajectories' average reward-to-go at the same step.
    Mean,
    /// The variance-minimising constant per parameter, from the other trajectories.
    Optimal,
    /// A learned state value V(s), refitted after every update (GAE with --gae-lambda).
    Value,
}

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

#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// The gradient estimator.
    #[arg(long, value_enum, default_value_t = Algo::Reinforce)]
    pub algo: Algo,
    /// The environment.
    #[arg(long, value_enum, default_value_t = EnvName::Cartpole)]
    pub env: EnvName,
    /// Seeds the initial weights and every sampled episode.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Gradient steps [default: 200 cartpole, 1250 pendulum, 100 mdp, 50 stay; no limit for chapter 6's
    /// algorithms, which stop at --max-env-steps].
    #[arg(long, value_parser = at_least_one)]
    pub iters: Option<usize>,
    /// Episodes per batch [default: 32 cartpole, 4 pendulum, 32 mdp, 16 stay; 8 cartpole for chapter 6's
    /// algorithms].
    #[arg(long, value_parser = at_least_one)]
    pub batch: Option<usize>,
    /// Stop after the iteration that brings the environment steps to at least this many [default: no limit;
    /// 100000 cartpole and 200000 pendulum for chapter 6's algorithms].
    #[arg(long, value_parser = at_least_one)]
    pub max_env_steps: Option<usize>,
    /// Adam's step size [default: 0.003 cartpole, 0.001 pendulum, 0.05 mdp and stay, 0.001 for PPO; not
    /// for npg and trpo, whose step is set by --delta].
    #[arg(long, value_parser = positive_float, allow_hyphen_values = true)]
    pub lr: Option<f64>,
    /// Hidden layer widths, comma-separated; "" for a linear policy [default: 32,32 cartpole, 64,64 pendulum; not tabular].
    #[arg(long, value_parser = widths)]
    pub hidden: Option<Widths>,
    /// Discount, from 0 to 1 [default: 1 for reward-to-go, 0.99 for the value baseline; for chapter 6's
    /// algorithms 0.99 cartpole, 0.9 pendulum; not for mean or optimal].
    #[arg(long, value_parser = unit_interval, allow_hyphen_values = true)]
    pub gamma: Option<f64>,
    /// The baseline of --algo baseline.
    #[arg(long, value_enum)]
    pub baseline: Option<BaselineName>,
    /// Weights by GAE(λ) advantages from the learned value, λ from 0 to 1 [default: 0.95 on pendulum and
    /// for chapter 6's algorithms, none elsewhere; --baseline value and chapter 6's algorithms only].
    #[arg(long, value_parser = unit_interval, allow_hyphen_values = true)]
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
    /// Gradient steps per batch for --algo offpolicy, at least 1 [default: 4].
    #[arg(long, value_parser = at_least_one)]
    pub reuse: Option<usize>,
    /// The importance-sampling estimator of --algo offpolicy [default: per-decision].
    #[arg(long, value_enum)]
    pub estimator: Option<OffPolicyEstimator>,
    /// Standardise observations by running statistics (chapter 4); `--normalize-observations false`
    /// turns it off [default: true for pendulum, false for cartpole; not tabular].
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub normalize_observations: Option<bool>,
    /// Standardise the weights within each batch (chapter 4); `--normalize-advantages false` turns
    /// it off [default: true for pendulum, false for cartpole; not tabular].
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub normalize_advantages: Option<bool>,
    /// The trust region δ on the mean KL per update for --algo npg and trpo, greater than 0 [default: 0.01].
    #[arg(long, value_parser = positive_float, allow_hyphen_values = true)]
    pub delta: Option<f64>,
    /// PPO's clip range ε, between 0 and 1 exclusive [default: 0.2; --algo ppo only].
    #[arg(long, value_parser = open_unit_interval, allow_hyphen_values = true)]
    pub clip: Option<f64>,
    /// The KL per update that --algo ppo-kl adapts its penalty towards, greater than 0 [default: 0.01].
    #[arg(long, value_parser = positive_float, allow_hyphen_values = true)]
    pub kl_target: Option<f64>,
    /// PPO's passes over each batch, at least 1 [default: 10; --algo ppo and ppo-kl only].
    #[arg(long, value_parser = at_least_one)]
    pub epochs: Option<usize>,
    /// PPO's environment steps per minibatch, at least 1 [default: 64; --algo ppo and ppo-kl only].
    #[arg(long, value_parser = at_least_one)]
    pub minibatch: Option<usize>,
    /// Compute the gradient one step at a time instead of through the batched surrogate (the
    /// reference it is checked against; cartpole and pendulum, where the batched pass applies).
    #[arg(long)]
    pub per_step_gradient: bool,
    /// Chapter 7's vectorised sampler: batches of whole episodes until at least this many steps,
    /// sampled by --groups groups of --envs environments stepped in lockstep, on --threads threads
    /// (reinforce or reward-to-go on cartpole). The result does not depend on --threads.
    #[arg(long, value_parser = at_least_one)]
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
    /// Evaluate the policy's mean action on 20 episodes every this many environment steps, a whole number
    /// of batches (pendulum only) [default: 8000 for chapter 6's algorithms, 20000 otherwise, rounded up
    /// to whole batches].
    #[arg(long, value_parser = at_least_one)]
    pub eval_every: Option<usize>,
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
    RunLine::try_parse_from(line.split_whitespace()).map(|l| l.args).map_err(|e| e.render().to_string())
}

/// Hidden layer widths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Widths(pub Vec<usize>);

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
