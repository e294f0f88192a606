//! `pg train`: one run, a progress bar on stderr, a JSON summary on stdout.

use crate::cli::{Algo, EnvName, TrainArgs};
use crate::files::{check_writable, write_atomic};
use indicatif::{ProgressBar, ProgressStyle};
use pg_causality::RewardToGo;
use pg_core::env::{CartPole, Pendulum, Stay, TabularMdp};
use pg_core::policy::{Categorical, Gaussian, TabularSoftmax};
use pg_core::rng::substream;
use pg_core::{Env, Policy};
use pg_likelihood_ratio::{Estimator, PolicyGradient, Reinforce, TrainConfig, TrainLog, train};
use serde_json::json;
use std::time::Instant;

/// Episodes in the moving average that decides "solved" and the final return.
const WINDOW: usize = 100;

pub fn run(args: &TrainArgs) -> Result<(), String> {
    let (iters, batch, lr) = args.env.defaults();
    let config = TrainConfig {
        iters: args.iters.unwrap_or(iters),
        batch: args.batch.unwrap_or(batch),
        seed: args.seed,
    };
    config.validate().map_err(|e| e.to_string())?;
    let lr = args.lr.unwrap_or(lr);
    if let Some(path) = &args.out {
        check_writable(path)?;
    }
    let hidden = match (&args.hidden, args.env) {
        (Some(_), EnvName::Mdp | EnvName::Stay) => {
            return Err(format!(
                "--hidden is not allowed with --env {}: its policy is tabular; use it with cartpole or pendulum",
                env_name(args.env)
            ));
        }
        (Some(w), _) => w.0.clone(),
        (None, EnvName::Mdp | EnvName::Stay) => vec![],
        (None, _) => vec![32, 32],
    };
    let policy_name = match args.env {
        EnvName::Cartpole => "categorical (softmax over an MLP)",
        EnvName::Pendulum => "gaussian (MLP mean, state-independent log-std)",
        EnvName::Mdp | EnvName::Stay => "tabular softmax",
    };
    let hidden = &hidden;
    let init_rng = &mut substream(args.seed, 1_000);
    let start = Instant::now();
    let (log, threshold) = match args.env {
        EnvName::Cartpole => {
            let mut policy = Categorical::mlp(4, hidden, 2, init_rng);
            fit(CartPole::new(), &mut policy, args, &config, lr)?
        }
        EnvName::Pendulum => {
            let mut policy = Gaussian::mlp(3, hidden, 1, -0.5, init_rng);
            fit(Pendulum::new(), &mut policy, args, &config, lr)?
        }
        EnvName::Mdp => {
            let mut policy = TabularSoftmax::new(3, 2);
            fit(TabularMdp::three_state(), &mut policy, args, &config, lr)?
        }
        EnvName::Stay => {
            let mut policy = TabularSoftmax::new(1, 2);
            fit(Stay::with_limit(1000), &mut policy, args, &config, lr)?
        }
    };
    let wall = start.elapsed().as_secs_f64();
    let solved = threshold.and_then(|t| log.solved_at(t, WINDOW));
    let env_steps = log.env_steps();
    let summary = json!({
        "algo": algo_name(args.algo),
        "gamma": match args.algo {
            Algo::RewardToGo => Some(args.gamma.unwrap_or(1.0)),
            Algo::Reinforce => None,
        },
        "env": env_name(args.env),
        "seed": args.seed,
        "iters": config.iters,
        "batch": config.batch,
        "lr": lr,
        "policy": policy_name,
        "hidden": hidden,
        "env_steps": env_steps,
        "episodes": log.episodes.len(),
        "wall_seconds": wall,
        "env_steps_per_second": env_steps as f64 / wall.max(1e-9),
        "final_mean_return": log.final_mean_return(WINDOW),
        "solved_threshold": threshold,
        "solved_at_steps": solved.map(|e| e.env_steps),
        "solved_at_seconds": solved.map(|e| e.wall_seconds),
    });
    if let Some(path) = &args.out {
        let mut full = summary.clone();
        full["iterations"] = log
            .iterations
            .iter()
            .map(|s| json!({"iter": s.iter, "env_steps": s.env_steps, "mean_return": s.mean_return}))
            .collect();
        let text = serde_json::to_string_pretty(&full).map_err(|e| e.to_string())?;
        write_atomic(path, text.as_bytes())?;
    }
    println!("{summary}");
    Ok(())
}

fn algo_name(algo: Algo) -> &'static str {
    match algo {
        Algo::Reinforce => "reinforce",
        Algo::RewardToGo => "reward-to-go",
    }
}

fn env_name(env: EnvName) -> &'static str {
    match env {
        EnvName::Cartpole => "cartpole",
        EnvName::Pendulum => "pendulum",
        EnvName::Mdp => "mdp",
        EnvName::Stay => "stay",
    }
}

/// The estimator that `--algo` and its options choose, for any policy, or an
/// error naming an option that does not apply.
fn estimator<P: Policy + 'static>(args: &TrainArgs) -> Result<Box<dyn Estimator<P>>, String> {
    if args.gamma.is_some() && args.algo != Algo::RewardToGo {
        return Err(format!(
            "--gamma is not allowed with --algo {}: it discounts the reward-to-go; use it with --algo reward-to-go",
            algo_name(args.algo)
        ));
    }
    Ok(match args.algo {
        Algo::Reinforce => Box::new(Reinforce),
        Algo::RewardToGo => {
            Box::new(RewardToGo::discounted(args.gamma.unwrap_or(1.0)).map_err(|e| e.to_string())?)
        }
    })
}

/// Runs the chosen algorithm with a progress bar; returns the log and the solved threshold.
fn fit<E, P>(
    mut env: E,
    policy: &mut P,
    args: &TrainArgs,
    config: &TrainConfig,
    lr: f64,
) -> Result<(TrainLog, Option<f64>), String>
where
    E: Env,
    P: Policy<Action = E::Action> + 'static,
{
    let mut update = PolicyGradient::adam(estimator::<P>(args)?, lr).map_err(|e| e.to_string())?;
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(config.iters as u64) };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} iters  {msg}  [{elapsed_precise} < {eta}]")
            .expect("a valid progress template"),
    );
    let threshold = env.solved_threshold();
    let log = train(&mut env, policy, &mut update, config, |s| {
        bar.set_position(s.iter as u64 + 1);
        bar.set_message(format!("mean return {:.1}  env steps {}", s.mean_return, s.env_steps));
    })
    .map_err(|e| e.to_string());
    bar.finish_and_clear();
    Ok((log?, threshold))
}
