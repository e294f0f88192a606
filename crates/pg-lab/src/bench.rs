//! `pg bench`: throughput of the pieces a training run spends its time in.
//! Timings are reported, never asserted: speed goals live here, not in tests.

use crate::cli::BenchArgs;
use pg_core::Policy;
use pg_core::env::CartPole;
use pg_core::policy::{Categorical, MlpBatch};
use pg_core::rollout::rollout;
use pg_core::{Batch, Env, StepWeights, seeded};
use pg_kl_constraint::experiments::{Algo as KlAlgo, Setup as KlSetup};
use pg_kl_constraint::{Fisher, Samples};
use pg_likelihood_ratio::experiments::{Solving, or_never, runs_grid};
use pg_likelihood_ratio::{Estimator, PolicyGradient, Reinforce, TrainConfig, TrainLog, train};
use pg_play::Session;
use pg_speed::book::cores;
use pg_speed::experiments::{self as speed, per_second as throughput};
use pg_speed::{Quota, Sampler};
use pg_surrogate::{BatchedPolicy, Steps, Surrogate};
use serde_json::json;
use std::hint::black_box;
use std::time::Instant;

/// Steps and seconds to a 100-episode mean of 475 on CartPole, medians over
/// seeds 0..`seeds`: every algorithm of the registry with `pg train`'s
/// defaults, as the Play page runs them (two runs at a time on a two-core
/// machine), then its presets (chapter 7's sampler, one run at a time on
/// every core, as `pg train` does by default) and chapter 6's TRPO and PPO on
/// chapter 7's sampler (one run at a time).
fn solve_times(seeds: u64) -> Result<serde_json::Value, String> {
    let seeds: Vec<u64> = (0..seeds).collect();
    let solve = |flags: &str, seed: u64| {
        let line = format!("{flags} --env cartpole --seed {seed} --until-solved");
        let mut session = Session::from_line(&line)?;
        session.run()?;
        Ok::<_, String>(session.log().clone())
    };
    let algorithms = pg_play::registry::algorithms();
    let logs = runs_grid(&algorithms, &seeds, |algo, seed| solve(&format!("--algo {}", algo.name), seed))?;
    let mut runs: Vec<(String, Vec<TrainLog>)> =
        algorithms.iter().map(|a| a.name.to_string()).zip(logs).collect();
    // A run on chapter 7's sampler has a thread pool of its own: run inside
    // runs_grid's, its thread would take other runs while it waits.
    for algo in &algorithms {
        for (name, flags) in algo.presets {
            let logs = seeds.iter().map(|&seed| solve(&format!("--algo {} {flags}", algo.name), seed));
            runs.push((format!("{}-{name}", algo.name), logs.collect::<Result<_, _>>()?));
        }
    }
    let kl = KlSetup::cartpole();
    for (name, algo) in [("trpo-vectorised", KlAlgo::Trpo), ("ppo-vectorised", KlAlgo::Ppo)] {
        let logs: Vec<TrainLog> = seeds
            .iter()
            .map(|&seed| speed::train_cartpole_lockstep(algo, seed, &kl))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        runs.push((name.to_string(), logs));
    }
    let mut out = json!({});
    eprintln!("\nCartPole to a 100-episode mean of 475, medians over {} seeds:", seeds.len());
    for (name, logs) in runs {
        let Solving { median_steps, median_seconds, solved, runs } = Solving::of(&logs);
        eprintln!(
            "{name:>24}  {:>9} steps  {:>6} s  ({solved} of {runs} solved)",
            or_never(median_steps, 0),
            or_never(median_seconds, 2),
        );
        out[name] = json!({
            "median_steps": median_steps, "median_seconds": median_seconds, "solved": solved, "seeds": runs
        });
    }
    Ok(out)
}

pub fn run(args: &BenchArgs) -> Result<(), String> {
    let seconds = args.seconds;
    let mut rng = seeded(0);
    let policy = Categorical::mlp(4, &[32, 32], 2, &mut seeded(1));
    let mut env = CartPole::new();

    let dynamics = throughput(seconds, || {
        env.reset(&mut rng);
        let mut n = 0;
        loop {
            n += 1;
            let s = env.step(&(n % 2), &mut rng);
            if s.terminated || s.truncated {
                return n;
            }
        }
    });
    let rollouts = throughput(seconds, || black_box(rollout(&mut env, &policy, &mut rng)).len());
    let batch = Batch::sample(&mut env, &policy, 32, &mut rng);
    let gradient = throughput(seconds, || {
        black_box(Reinforce.gradient(&policy, &batch));
        batch.num_steps()
    });
    let weights = Reinforce.weights(&policy, &batch).expect("REINFORCE has weights");
    let steps = Steps::from_batch(&batch);
    let mut work = MlpBatch::default();
    let mut grad = ndarray::Array1::zeros(policy.num_params());
    let batched = throughput(seconds, || {
        grad.fill(0.0);
        black_box(policy.surrogate(&steps, weights.flat(), &mut grad, &mut work));
        batch.num_steps()
    });
    let adv = StepWeights::per_trajectory(&batch, |_, t| t.total_reward());
    let samples = Samples::new(&policy, &batch, &adv);
    let mut fisher = Fisher::new(&policy, &samples, 0.1);
    let direction = ndarray::Array1::from_elem(policy.num_params(), 0.01);
    let fisher_products = throughput(seconds, || {
        black_box(fisher.apply(&direction));
        samples.len()
    });
    let mut trained = policy.clone();
    let config = TrainConfig { iters: 1, batch: 32, seed: 0, max_env_steps: None };
    let mut update = PolicyGradient::adam(Surrogate(Reinforce), 0.003).map_err(|e| e.to_string())?;
    let training = throughput(seconds, || {
        let log = train(&mut env, &mut trained, &mut update, &config, |_| {})
            .expect("a one-iteration run at a small step size stays finite");
        log.env_steps()
    });

    let mut sampler = Sampler::new(2, 5, Quota::Steps(5_000), 0).map_err(|e| e.to_string())?;
    let lockstep = throughput(seconds, || {
        sampler.sample(&policy);
        sampler.num_steps()
    });
    let vectorised: Vec<f64> = [1, cores()]
        .iter()
        .map(|&threads| {
            let mut runs = vec![];
            let start = Instant::now();
            while runs.is_empty() || start.elapsed().as_secs_f64() < seconds {
                runs.push(speed::timed_run(&speed::config(300_000, runs.len() as u64), &[32], threads)?);
            }
            let (steps, secs) =
                runs.iter().fold((0, 0.0), |(n, t), r| (n + r.log.env_steps(), t + r.seconds));
            Ok(steps as f64 / secs)
        })
        .collect::<Result<_, pg_core::PgError>>()
        .map_err(|e| e.to_string())?;
    let rows = [
        ("cartpole_dynamics_steps_per_second", dynamics, "CartPole steps, fixed actions"),
        ("rollout_steps_per_second", rollouts, "steps sampled with a 32x32 MLP policy"),
        ("gradient_steps_per_second", gradient, "REINFORCE gradient one step at a time, steps per second"),
        ("batched_gradient_steps_per_second", batched, "the same gradient through the batched surrogate"),
        (
            "fisher_vector_product_states_per_second",
            fisher_products,
            "Fisher-vector products (chapter 6), states per second",
        ),
        ("training_env_steps_per_second", training, "whole iterations: sample, batched gradient, Adam step"),
        (
            "vectorised_rollout_steps_per_second",
            lockstep,
            "chapter 7: lockstep sampling with the same policy, 2 groups of 5 environments, every core",
        ),
        (
            "vectorised_training_steps_per_second_1_thread",
            vectorised[0],
            "chapter 7: reward-to-go training from scratch, batches of 5000 steps, 1 thread",
        ),
        ("vectorised_training_steps_per_second", vectorised[1], "chapter 7: the same on every core"),
    ];
    for (_, value, what) in &rows {
        eprintln!("{value:>14.0}  {what}");
    }
    let mut summary = json!({ "seconds_per_benchmark": seconds });
    for (key, value, _) in rows {
        summary[key] = json!(value);
    }
    if args.seeds > 0 {
        summary["solve_cartpole"] = solve_times(args.seeds)?;
    }
    println!("{summary}");
    Ok(())
}
