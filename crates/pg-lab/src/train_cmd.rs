//! `pg train`: one run, a progress bar on stderr, a JSON summary on stdout.

use crate::cli::{Algo, BaselineName, EnvName, OffPolicyEstimator, TrainArgs};
use crate::files::{check_writable, write_atomic};
use indicatif::{ProgressBar, ProgressStyle};
use pg_baselines::{MeanBaseline, OptimalBaseline, ValueBaseline, ValueFunction};
use pg_causality::RewardToGo;
use pg_core::env::{CartPole, Pendulum, Stay, TabularMdp};
use pg_core::policy::{Categorical, Gaussian, TabularSoftmax};
use pg_core::rng::substream;
use pg_core::{Env, Policy};
use pg_importance_sampling::reuse::Reuse;
use pg_importance_sampling::{FirstOrder, PerDecision, TrajectoryRatio};
use pg_likelihood_ratio::{Estimator, PolicyGradient, Reinforce, TrainConfig, TrainLog, Update, train};
use pg_surrogate::normalize::{NormalizedAdvantages, NormalizedObservations};
use pg_surrogate::{BatchedPolicy, Surrogate};
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
        max_env_steps: args.max_env_steps,
    };
    config.validate().map_err(|e| e.to_string())?;
    check_options(args)?;
    let asked = |flag: Option<bool>| flag == Some(true);
    if (asked(args.normalize_observations) || asked(args.normalize_advantages))
        && matches!(args.env, EnvName::Mdp | EnvName::Stay)
    {
        return Err(format!(
            "--normalize-observations and --normalize-advantages are not allowed with --env {}: use them with cartpole \
             or pendulum",
            env_name(args.env)
        ));
    }
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
        (None, EnvName::Pendulum) => vec![64, 64],
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
            let estimator = network_estimator(args, 4)?;
            if normalize_observations(args) {
                fit(NormalizedObservations::new(CartPole::new()), &mut policy, args, &config, lr, estimator)?
            } else {
                fit(CartPole::new(), &mut policy, args, &config, lr, estimator)?
            }
        }
        EnvName::Pendulum => {
            let mut policy = Gaussian::mlp(3, hidden, 1, -0.5, init_rng);
            let estimator = network_estimator(args, 3)?;
            if normalize_observations(args) {
                fit(NormalizedObservations::new(Pendulum::new()), &mut policy, args, &config, lr, estimator)?
            } else {
                fit(Pendulum::new(), &mut policy, args, &config, lr, estimator)?
            }
        }
        EnvName::Mdp => {
            let mut policy = TabularSoftmax::new(3, 2);
            fit(TabularMdp::three_state(), &mut policy, args, &config, lr, estimator(args, 3, true)?)?
        }
        EnvName::Stay => {
            let mut policy = TabularSoftmax::new(1, 2);
            fit(Stay::with_limit(1000), &mut policy, args, &config, lr, estimator(args, 1, true)?)?
        }
    };
    let wall = start.elapsed().as_secs_f64();
    let solved = threshold.and_then(|t| log.solved_at(t, WINDOW));
    let env_steps = log.env_steps();
    let summary = json!({
        "algo": algo_name(args.algo),
        "gamma": gamma(args),
        "baseline": (args.algo == Algo::Baseline).then(|| baseline_name(baseline(args))),
        "gae_lambda": gae_lambda(args),
        "reuse": (args.algo == Algo::Offpolicy).then(|| reuse(args)),
        "estimator": (args.algo == Algo::Offpolicy).then(|| off_policy_name(off_policy_estimator(args))),
        "env": env_name(args.env),
        "seed": args.seed,
        "iters": config.iters,
        "batch": config.batch,
        "lr": lr,
        "policy": policy_name,
        "normalize_observations": normalize_observations(args),
        "normalize_advantages": normalize_advantages(args),
        "gradient": match (args.env, args.per_step_gradient) {
            (EnvName::Mdp | EnvName::Stay, _) | (_, true) => "per step",
            _ => "batched surrogate",
        },
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
            .map(|s| {
                let mut row = json!({"iter": s.iter, "env_steps": s.env_steps, "mean_return": s.mean_return});
                for (name, value) in &s.update.metrics {
                    row[*name] = json!(value);
                }
                row
            })
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
        Algo::Baseline => "baseline",
        Algo::Offpolicy => "offpolicy",
    }
}

fn off_policy_name(e: OffPolicyEstimator) -> &'static str {
    match e {
        OffPolicyEstimator::Trajectory => "trajectory",
        OffPolicyEstimator::PerDecision => "per-decision",
        OffPolicyEstimator::FirstOrder => "first-order",
    }
}

/// Gradient steps per batch: `--reuse` for the off-policy algorithm, 1 otherwise.
fn reuse(args: &TrainArgs) -> usize {
    if args.algo == Algo::Offpolicy { args.reuse.unwrap_or(4) } else { 1 }
}

/// The off-policy estimator of `--algo offpolicy`.
fn off_policy_estimator(args: &TrainArgs) -> OffPolicyEstimator {
    args.estimator.unwrap_or(OffPolicyEstimator::PerDecision)
}

fn baseline_name(baseline: BaselineName) -> &'static str {
    match baseline {
        BaselineName::Mean => "mean",
        BaselineName::Optimal => "optimal",
        BaselineName::Value => "value",
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

/// The baseline of `--algo baseline`: the learned value unless chosen.
fn baseline(args: &TrainArgs) -> BaselineName {
    args.baseline.unwrap_or(BaselineName::Value)
}

/// Chapter 4's Pendulum setting is the default there: GAE and both normalisations.
fn pendulum_defaults(args: &TrainArgs) -> bool {
    args.env == EnvName::Pendulum
}

/// Whether observations are standardised.
fn normalize_observations(args: &TrainArgs) -> bool {
    args.normalize_observations.unwrap_or(pendulum_defaults(args))
}

/// Whether the weights are standardised within each batch.
fn normalize_advantages(args: &TrainArgs) -> bool {
    args.normalize_advantages.unwrap_or(pendulum_defaults(args))
}

/// GAE's λ, if the weights are generalised advantages.
fn gae_lambda(args: &TrainArgs) -> Option<f64> {
    let value = args.algo == Algo::Baseline && baseline(args) == BaselineName::Value;
    args.gae_lambda.or((value && pendulum_defaults(args)).then_some(0.95))
}

/// The discount in use, if the algorithm has one.
fn gamma(args: &TrainArgs) -> Option<f64> {
    match (args.algo, baseline(args)) {
        (Algo::RewardToGo, _) => Some(args.gamma.unwrap_or(1.0)),
        (Algo::Baseline, BaselineName::Value) => Some(args.gamma.unwrap_or(0.99)),
        _ => None,
    }
}

/// Refuses options that the chosen algorithm does not use, naming where they apply.
fn check_options(args: &TrainArgs) -> Result<(), String> {
    let algo = algo_name(args.algo);
    if (args.reuse.is_some() || args.estimator.is_some()) && args.algo != Algo::Offpolicy {
        return Err(format!(
            "--reuse and --estimator are not allowed with --algo {algo}: use them with --algo offpolicy"
        ));
    }
    if args.baseline.is_some() && args.algo != Algo::Baseline {
        return Err(format!("--baseline is not allowed with --algo {algo}: use it with --algo baseline"));
    }
    if args.gamma.is_some() && gamma(args).is_none() {
        return Err(format!(
            "--gamma is not allowed with --algo {algo}{}: it discounts the reward-to-go; use it with --algo \
             reward-to-go or --algo baseline --baseline value",
            if args.algo == Algo::Baseline {
                format!(" --baseline {}", baseline_name(baseline(args)))
            } else {
                String::new()
            }
        ));
    }
    if args.gae_lambda.is_some() && !(args.algo == Algo::Baseline && baseline(args) == BaselineName::Value) {
        return Err(
            "--gae-lambda is not allowed here: GAE needs the learned value; use it with --algo baseline \
                    --baseline value"
                .into(),
        );
    }
    Ok(())
}

/// The estimator that `--algo` and its options choose, for any policy, or an
/// error naming an option that does not apply. `obs_dim` sizes the value
/// function; `tabular` gives it no hidden layer.
fn estimator<P: Policy + 'static>(
    args: &TrainArgs,
    obs_dim: usize,
    tabular: bool,
) -> Result<Box<dyn Estimator<P>>, String> {
    check_options(args)?;
    let err = |e: pg_core::PgError| e.to_string();
    Ok(match args.algo {
        Algo::Reinforce => Box::new(Reinforce),
        Algo::RewardToGo => Box::new(RewardToGo::discounted(args.gamma.unwrap_or(1.0)).map_err(err)?),
        Algo::Offpolicy => match off_policy_estimator(args) {
            OffPolicyEstimator::Trajectory => Box::new(TrajectoryRatio),
            OffPolicyEstimator::PerDecision => Box::new(PerDecision),
            OffPolicyEstimator::FirstOrder => Box::new(FirstOrder),
        },
        Algo::Baseline => match baseline(args) {
            BaselineName::Mean => Box::new(MeanBaseline { leave_one_out: true }),
            BaselineName::Optimal => Box::new(OptimalBaseline { leave_one_out: true }),
            BaselineName::Value => {
                let rng = &mut substream(args.seed, 2_000);
                // The value functions of chapters 3 (tabular and CartPole) and 4 (Pendulum).
                let value = match args.env {
                    _ if tabular => ValueFunction::new(obs_dim, &[], 0.1, 20, rng),
                    EnvName::Pendulum => ValueFunction::new(obs_dim, &[64, 64], 0.001, 5, rng),
                    _ => ValueFunction::new(obs_dim, &[32], 0.01, 10, rng),
                }
                .and_then(|v| v.with_minibatch(256))
                .map_err(err)?;
                let v = ValueBaseline::new(value, gamma(args).unwrap_or(0.99)).map_err(err)?;
                match gae_lambda(args) {
                    Some(l) => Box::new(v.with_gae(l).map_err(err)?),
                    None => Box::new(v),
                }
            }
        },
    })
}

/// The chosen estimator for a network policy, its gradient computed through
/// the surrogate in one batched pass unless `--per-step-gradient` asks for
/// the step-by-step reference.
fn network_estimator<P: BatchedPolicy + 'static>(
    args: &TrainArgs,
    obs_dim: usize,
) -> Result<Box<dyn Estimator<P>>, String> {
    let mut estimator = estimator::<P>(args, obs_dim, false)?;
    if normalize_advantages(args) {
        estimator = Box::new(NormalizedAdvantages(estimator));
    }
    Ok(if args.per_step_gradient { estimator } else { Box::new(Surrogate(estimator)) })
}

/// Runs `estimator` with a progress bar; returns the log and the solved threshold.
fn fit<E, P>(
    mut env: E,
    policy: &mut P,
    args: &TrainArgs,
    config: &TrainConfig,
    lr: f64,
    estimator: Box<dyn Estimator<P>>,
) -> Result<(TrainLog, Option<f64>), String>
where
    E: Env,
    P: Policy<Action = E::Action> + Clone + 'static,
{
    let err = |e: pg_core::PgError| e.to_string();
    let mut update: Box<dyn Update<P>> = if args.algo == Algo::Offpolicy {
        Box::new(Reuse::adam(estimator, lr, reuse(args)).map_err(err)?)
    } else {
        Box::new(PolicyGradient::adam(estimator, lr).map_err(err)?)
    };
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(config.iters as u64) };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} iters  {msg}  [{elapsed_precise} < {eta}]")
            .expect("a valid progress template"),
    );
    let threshold = env.solved_threshold();
    let log = train(&mut env, policy, update.as_mut(), config, |s| {
        bar.set_position(s.iter as u64 + 1);
        let extra: String = s
            .update
            .metrics
            .iter()
            .filter(|(n, _)| *n != "grad_norm")
            .map(|(n, v)| format!("  {n} {v:.3}"))
            .collect();
        bar.set_message(format!("mean return {:.1}  env steps {}{extra}", s.mean_return, s.env_steps));
    })
    .map_err(|e| e.to_string());
    bar.finish_and_clear();
    Ok((log?, threshold))
}
