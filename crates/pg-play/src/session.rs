//! One training run built from `pg train`'s flags, advancing one batch at a
//! time: `pg train` steps it behind a progress bar, the Play page steps it in
//! a Web Worker between frames. Both read the same summary.

use crate::args::{EnvName, TrainArgs};
use crate::bounds::{self, Lockstep, Plan, UpdateWork};
use crate::defaults::{self, run_defaults};
use crate::registry::{algorithms, find};
use pg_core::clock::Stopwatch;
use pg_core::env::{CartPole, Pendulum, Stay, TabularMdp};
use pg_core::policy::{Categorical, Gaussian, TabularSoftmax};
use pg_core::rng::substream;
use pg_core::rollout::rollout;
use pg_core::{Batch, Env, PgError, Policy};
use pg_importance_sampling::reuse::Reuse;
use pg_kl_constraint::Head;
use pg_kl_constraint::book::PENDULUM_EVAL_TARGET;
use pg_likelihood_ratio::registry::{
    Algorithm, Build, Context, EstimatorFn, Estimators, UpdateFn, Updates, Weights,
};
use pg_likelihood_ratio::{
    Episode, Estimator, IterStats, PolicyGradient, TrainConfig, TrainLog, TrainLoop, Update,
};
use pg_speed::{VecConfig, VecLoop, Weighting};
use pg_surrogate::evaluate::{EVAL_EPISODES, Evaluable, Evaluated, evaluate, evaluations, sustained_at};
use pg_surrogate::normalize::{NormalizedAdvantages, NormalizedObservations};
use pg_surrogate::{BatchedPolicy, Surrogate};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::rc::Rc;

/// Episodes in the moving average that decides "solved" and the final return.
pub const WINDOW: usize = 100;

/// The random stream of the episodes drawn for the page (never the training's).
const FRAMES_STREAM: u64 = 3_000;

/// A run that advances one iteration at a time.
trait Stepper {
    /// One iteration: sample a batch and update the policy.
    fn step(&mut self) -> Result<&IterStats, PgError>;
    /// Whether the iterations or the step budget are spent.
    fn finished(&self) -> bool;
    /// What the run measured so far.
    fn log(&self) -> &TrainLog;
    /// The mean return at which the run's environment counts as solved, if it has one.
    fn threshold(&self) -> Option<f64>;
    /// One episode of the current policy on a fresh CartPole drawn from
    /// `rng`, as (cart position, pole angle) per step, or `None` when the
    /// run's policy does not act on CartPole's raw observations.
    fn cartpole_frames(&self, rng: &mut pg_core::PgRng) -> Option<Vec<[f64; 2]>>;
}

/// Chapters 1 to 6's loop: a batch of whole episodes, then the update.
struct Fit<E: Env, P: Policy> {
    env: E,
    policy: P,
    update: Box<dyn Update<P>>,
    run: TrainLoop,
    batch: usize,
    /// Whether the policy acts on CartPole's raw observations (so that its episodes can be drawn).
    draws: fn(&P, &mut pg_core::PgRng) -> Option<Vec<[f64; 2]>>,
}

impl<E, P> Stepper for Fit<E, P>
where
    E: Env,
    P: Policy<Action = E::Action>,
{
    fn step(&mut self) -> Result<&IterStats, PgError> {
        let Self { env, policy, update, run, batch, .. } = self;
        run.step(policy, update, |p, rng| Batch::sample(env, p, *batch, rng))
    }

    fn finished(&self) -> bool {
        self.run.finished()
    }

    fn log(&self) -> &TrainLog {
        self.run.log()
    }

    fn threshold(&self) -> Option<f64> {
        self.env.solved_threshold()
    }

    fn cartpole_frames(&self, rng: &mut pg_core::PgRng) -> Option<Vec<[f64; 2]>> {
        (self.draws)(&self.policy, rng)
    }
}

/// No drawing: the policy is not CartPole's, or sees standardised observations.
fn no_frames<P>(_: &P, _: &mut pg_core::PgRng) -> Option<Vec<[f64; 2]>> {
    None
}

/// One sampled episode of `policy` on CartPole, as (x, θ) per state.
fn cartpole_frames(policy: &Categorical, rng: &mut pg_core::PgRng) -> Option<Vec<[f64; 2]>> {
    let trajectory = rollout(&mut CartPole::new(), policy, rng);
    Some(trajectory.obs.iter().map(|o| [o[0], o[2]]).collect())
}

/// Chapter 4's Pendulum loop: [`Fit`] with the evaluation protocol after every `every` steps.
struct EvaluatedFit<E: Evaluable> {
    env: Rc<RefCell<E>>,
    policy: Gaussian,
    update: Box<dyn Update<Gaussian>>,
    run: TrainLoop,
    batch: usize,
}

impl<E: Evaluable> Stepper for EvaluatedFit<E> {
    fn step(&mut self) -> Result<&IterStats, PgError> {
        let Self { env, policy, update, run, batch } = self;
        run.step(policy, update, |p, rng| Batch::sample(&mut *env.borrow_mut(), p, *batch, rng))
    }

    fn finished(&self) -> bool {
        self.run.finished()
    }

    fn log(&self) -> &TrainLog {
        self.run.log()
    }

    fn threshold(&self) -> Option<f64> {
        self.env.borrow().solved_threshold()
    }

    fn cartpole_frames(&self, _: &mut pg_core::PgRng) -> Option<Vec<[f64; 2]>> {
        None
    }
}

/// Chapter 7's vectorised sampler, on a pool of its own threads natively
/// and on the calling thread in the browser (the result is the same).
struct Vectorised {
    policy: Categorical,
    run: VecLoop,
    pool: Option<rayon::ThreadPool>,
}

impl Stepper for Vectorised {
    fn step(&mut self) -> Result<&IterStats, PgError> {
        let Self { policy, run, pool } = self;
        match pool {
            Some(pool) => pool.install(|| run.step(policy)),
            None => run.step(policy),
        }
    }

    fn finished(&self) -> bool {
        self.run.finished()
    }

    fn log(&self) -> &TrainLog {
        self.run.log()
    }

    fn threshold(&self) -> Option<f64> {
        CartPole::new().solved_threshold()
    }

    fn cartpole_frames(&self, rng: &mut pg_core::PgRng) -> Option<Vec<[f64; 2]>> {
        cartpole_frames(&self.policy, rng)
    }
}

/// One training run, built from `pg train`'s flags and the registry's entry for `--algo`.
pub struct Session {
    args: TrainArgs,
    algo: Algorithm,
    settings: Vec<(&'static str, Value)>,
    config: TrainConfig,
    lr: f64,
    hidden: Vec<usize>,
    normalize_observations: bool,
    normalize_advantages: bool,
    /// Whether the gradient is computed through the batched surrogate.
    batched: bool,
    vectorised: Option<VecConfig>,
    eval_interval: Option<usize>,
    /// The estimated peak memory in bytes (see [`bounds`]).
    memory_estimate: f64,
    /// The estimated multiply-adds of one iteration at most (see [`bounds`]):
    /// the network passes' and Adam's, and the fixed costs.
    work_estimate: (f64, f64),
    clock: Stopwatch,
    drawn: u64,
    /// Why the run stopped early, if it did.
    stopped: Option<Value>,
    stepper: Box<dyn Stepper>,
}

impl Session {
    /// Builds the run of `pg train`'s flags in `line` (see [`Session::new`]).
    pub fn from_line(line: &str) -> Result<Self, String> {
        Self::new(&crate::args::parse_line(line)?)
    }

    /// Builds the run `args` describe, or an error naming the flag that is
    /// not allowed and where it applies.
    pub fn new(args: &TrainArgs) -> Result<Self, String> {
        Self::with_algorithm(args, find(&args.algo)?)
    }

    /// Builds the run of `args` with `algo` in place of the registry's entry
    /// for `--algo`: how a new entry is tried before it joins its chapter's list.
    pub fn with_algorithm(args: &TrainArgs, algo: Algorithm) -> Result<Self, String> {
        let mut context = defaults::context(args.env, args.seed, args.given());
        refuse_flags_of_others(&algo, &context)?;
        let settings = (algo.settings)(&context)?;
        let d = run_defaults(&algo, args.env, &context)?;
        check_run_options(args, &algo, &context)?;
        let config = TrainConfig {
            iters: args.iters.or(d.iters).unwrap_or(usize::MAX),
            batch: args.batch.unwrap_or(d.batch),
            seed: args.seed,
            max_env_steps: args.max_env_steps.or(d.max_env_steps),
        };
        config.validate().map_err(|e| e.to_string())?;
        let tabular = defaults::tabular(args.env);
        let asked = |flag: Option<bool>| flag == Some(true);
        if (asked(args.normalize_observations) || asked(args.normalize_advantages)) && tabular {
            return Err(format!(
                "--normalize-observations and --normalize-advantages are not allowed with --env {}: use them with \
                 cartpole or pendulum",
                env_name(args.env)
            ));
        }
        if args.hidden.is_some() && tabular {
            return Err(format!(
                "--hidden is not allowed with --env {}: its policy is tabular; use it with cartpole or pendulum",
                env_name(args.env)
            ));
        }
        let lr = args.lr.unwrap_or(d.lr);
        let hidden = args.hidden.as_ref().map_or(d.hidden, |w| w.0.clone());
        // The defaults are off where the flags are refused (tabular policies, the optimal constant).
        let normalize_observations = args.normalize_observations.unwrap_or(d.normalize_observations);
        let weighs_steps = defaults::weighs_steps(&algo, &context);
        if asked(args.normalize_advantages) && !weighs_steps {
            return Err(format!(
                "--normalize-advantages is not allowed with {}: it standardises the weights of the steps, and this \
                 estimator weighs each parameter instead; use it with the other algorithms and baselines",
                algo_line(&algo, &context)
            ));
        }
        let normalize_advantages = args.normalize_advantages.unwrap_or(d.normalize_advantages);
        context.normalize_advantages = normalize_advantages;
        let batched = !tabular && !args.per_step_gradient && weighs_steps;
        let lockstep = lockstep(args)?;
        let plan = plan(args, &algo, &context, &config, &hidden, lockstep)?;
        let footprint =
            plan.check(args.memory_budget.unwrap_or_else(bounds::default_budget), &given_run_flags(args))?;
        let clock = Stopwatch::start();
        let init_rng = &mut substream(args.seed, 1_000);
        let err = |e: PgError| e.to_string();
        let new_loop = || TrainLoop::new(&config).map_err(err);
        let net = Net { algo: &algo, context: &context, lr, batched };
        let mut eval_interval = None;
        let mut vectorised = None;
        let stepper: Box<dyn Stepper> = match (args.env, &algo.build) {
            (EnvName::Cartpole, Build::Estimator(e)) if args.batch_steps.is_some() => {
                let weights = e.lockstep.ok_or("--batch-steps needs chapter 7's sampler")?;
                let l = lockstep.ok_or("--batch-steps needs chapter 7's sampler")?;
                let vec_config = VecConfig {
                    groups: l.groups,
                    envs: l.envs,
                    weighting: match weights(&context)? {
                        Weights::Return => Weighting::Return,
                        Weights::RewardToGo(gamma) => Weighting::RewardToGo(gamma),
                    },
                    normalize: normalize_advantages,
                    seed: args.seed,
                    lr,
                    iters: config.iters,
                    max_env_steps: config.max_env_steps,
                    ..VecConfig::reward_to_go(l.batch_steps)
                };
                let policy = Categorical::mlp(4, &hidden, 2, init_rng);
                let run = VecLoop::new(&vec_config).map_err(err)?;
                vectorised = Some(vec_config);
                Box::new(Vectorised { policy, run, pool: thread_pool(threads(args))? })
            }
            (EnvName::Cartpole, _) => {
                let policy = Categorical::mlp(4, &hidden, 2, init_rng);
                let update = net.update()?;
                let (run, batch) = (new_loop()?, config.batch);
                if normalize_observations {
                    let env = NormalizedObservations::new(CartPole::new());
                    Box::new(Fit { env, policy, update, run, batch, draws: no_frames })
                } else {
                    Box::new(Fit { env: CartPole::new(), policy, update, run, batch, draws: cartpole_frames })
                }
            }
            (EnvName::Pendulum, _) => {
                let policy = Gaussian::mlp(3, &hidden, 1, d.log_std, init_rng);
                let update = net.update()?;
                let every = eval_every(args, &config, d.eval_every);
                eval_interval = Some(every);
                if normalize_observations {
                    let env = NormalizedObservations::new(Pendulum::new());
                    Box::new(evaluated_fit(env, policy, update, &config, every)?)
                } else {
                    Box::new(evaluated_fit(Pendulum::new(), policy, update, &config, every)?)
                }
            }
            (EnvName::Mdp | EnvName::Stay, Build::Update(_)) => {
                return Err(format!(
                    "--algo {} is not allowed with --env {}: it needs a network policy; use it with cartpole or \
                     pendulum",
                    algo.name,
                    env_name(args.env)
                ));
            }
            (EnvName::Mdp, Build::Estimator(e)) => {
                let update = adam(e, &context, lr, (e.tabular)(&context)?)?;
                let (env, policy, run, batch) =
                    (TabularMdp::three_state(), TabularSoftmax::new(3, 2), new_loop()?, config.batch);
                Box::new(Fit { env, policy, update, run, batch, draws: no_frames })
            }
            (EnvName::Stay, Build::Estimator(e)) => {
                let update = adam(e, &context, lr, (e.tabular)(&context)?)?;
                let (env, policy, run, batch) =
                    (Stay::with_limit(STAY_LIMIT), TabularSoftmax::new(1, 2), new_loop()?, config.batch);
                Box::new(Fit { env, policy, update, run, batch, draws: no_frames })
            }
        };
        if args.until_solved && stepper.threshold().is_none() {
            return Err(format!(
                "--until-solved is not allowed with --env {}: only cartpole has a solved threshold",
                env_name(args.env)
            ));
        }
        Ok(Self {
            args: args.clone(),
            algo,
            settings,
            config,
            lr,
            hidden,
            normalize_observations,
            normalize_advantages,
            batched,
            vectorised,
            eval_interval,
            memory_estimate: footprint.bytes(),
            work_estimate: plan.work_parts(),
            clock,
            drawn: 0,
            stopped: None,
            stepper,
        })
    }

    /// One iteration: sample a batch, update the policy. When a quantity
    /// becomes NaN or infinite the run stops there: the error names the
    /// quantity, the iteration and the flag that usually fixes it, and the
    /// summary records the stop.
    pub fn step(&mut self) -> Result<&IterStats, String> {
        if let Some(stop) = &self.stopped {
            return Err(format!("the run stopped at iteration {}", stop["iteration"]));
        }
        if let Some(e) = self.stepper.step().err() {
            return Err(self.stop(e));
        }
        self.log().iterations.last().ok_or_else(|| "no iteration was recorded".to_string())
    }

    /// Records why the run stopped, and says it with the knob to turn.
    fn stop(&mut self, e: PgError) -> String {
        let PgError::NonFinite { what, iteration } = e else { return e.to_string() };
        let (flag, value) = self.knob();
        self.stopped = Some(json!({"iteration": iteration, "quantity": what, "knob": flag, "value": value}));
        format!(
            "the {what} became NaN or infinite at iteration {iteration}, so the run stopped there; try a smaller \
             {flag} than this run's {}",
            defaults::written(&value)
        )
    }

    /// The flag that sets the size of the algorithm's steps, and its value:
    /// Adam's `--lr`, or the trust region `--delta` of the natural gradients.
    fn knob(&self) -> (&'static str, Value) {
        let summary = |key: &str| self.settings.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
        match summary("delta") {
            Some(delta) if !defaults::takes_lr(&self.algo) => ("--delta", delta),
            _ => ("--lr", json!(self.lr)),
        }
    }

    /// Whether the iterations or the step budget are spent, the run
    /// stopped on a NaN or infinity, or (with `--until-solved`) it is solved.
    pub fn finished(&self) -> bool {
        self.stepper.finished() || self.stopped.is_some() || (self.args.until_solved && self.solved())
    }

    /// Whether the mean of the last [`WINDOW`] episodes has reached the environment's threshold.
    pub fn solved(&self) -> bool {
        self.solved_at().is_some()
    }

    /// The episode at which the mean of the last [`WINDOW`] episodes first
    /// reached the environment's threshold, if it has.
    pub fn solved_at(&self) -> Option<&Episode> {
        self.threshold().and_then(|t| self.log().solved_at(t, WINDOW))
    }

    /// Steps until [`Session::finished`].
    pub fn run(&mut self) -> Result<(), String> {
        while !self.finished() {
            self.step()?;
        }
        Ok(())
    }

    /// The run's estimated peak memory in bytes (see [`bounds`]).
    pub fn memory_estimate(&self) -> f64 {
        self.memory_estimate
    }

    /// The estimated multiply-adds of one iteration at most (see [`bounds`]).
    pub fn work_estimate(&self) -> f64 {
        self.work_estimate.0 + self.work_estimate.1
    }

    /// The part of [`Session::work_estimate`] that the network passes and
    /// Adam make, without the fixed costs of rows and optimiser steps.
    pub fn network_work_estimate(&self) -> f64 {
        self.work_estimate.0
    }

    /// What the run measured so far.
    pub fn log(&self) -> &TrainLog {
        self.stepper.log()
    }

    /// The iterations and the step budget (if any) the run stops at.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The mean return at which the environment counts as solved, if it has one.
    pub fn threshold(&self) -> Option<f64> {
        self.stepper.threshold()
    }

    /// One episode of the current policy on CartPole, as (x, θ) per state,
    /// each call drawing a new one from a stream of its own (never the
    /// training's); `None` when the run is not on CartPole's raw observations.
    pub fn cartpole_frames(&mut self) -> Option<Vec<[f64; 2]>> {
        let rng = &mut substream(self.args.seed, FRAMES_STREAM + self.drawn);
        self.drawn += 1;
        self.stepper.cartpole_frames(rng)
    }

    /// The run's settings (the algorithm's own from its registry entry) and
    /// results so far, as `pg train` prints them.
    pub fn summary(&self) -> Value {
        let (args, config, log) = (&self.args, &self.config, self.log());
        let wall = self.clock.seconds();
        let solved = self.solved_at();
        let env_steps = log.env_steps();
        let evals = self.eval_interval.map(|_| evaluations(log));
        let vectorised = self.vectorised.as_ref();
        let mut summary = json!({
            "algo": self.algo.name,
            "env": env_name(args.env),
            "seed": args.seed,
            "iters": (config.iters != usize::MAX).then_some(config.iters),
            "max_env_steps": config.max_env_steps,
            "until_solved": args.until_solved,
            "batch": vectorised.is_none().then_some(config.batch),
            "batch_steps": args.batch_steps,
            "envs": vectorised.map(|v| v.envs),
            "groups": vectorised.map(|v| v.groups),
            "threads": vectorised.map(|_| threads(args)),
            "lr": defaults::takes_lr(&self.algo).then_some(self.lr),
            "policy": match args.env {
                EnvName::Cartpole => "categorical (softmax over an MLP)",
                EnvName::Pendulum => "gaussian (MLP mean, state-independent log-std)",
                EnvName::Mdp | EnvName::Stay => "tabular softmax",
            },
            "normalize_observations": self.normalize_observations,
            "normalize_advantages": self.normalize_advantages,
            "gradient": if self.batched { "batched surrogate" } else { "per step" },
            "hidden": self.hidden,
            "env_steps": env_steps,
            "episodes": log.episodes.len(),
            "wall_seconds": wall,
            "env_steps_per_second": env_steps as f64 / wall.max(1e-9),
            "final_mean_return": log.final_mean_return(WINDOW),
            "eval_every": self.eval_interval,
            "eval_episodes": self.eval_interval.map(|_| EVAL_EPISODES),
            "evaluations": evals.as_ref().map(|e| e.iter().map(|(steps, r)| json!([steps, r])).collect::<Vec<_>>()),
            "final_evaluation": evals.as_ref().and_then(|e| e.last().map(|(_, r)| *r)),
            "sustained_level": self.eval_interval.map(|_| PENDULUM_EVAL_TARGET),
            "sustained_at_steps": self.eval_interval.and_then(|_| sustained_at(log, PENDULUM_EVAL_TARGET)),
            "stopped": self.stopped,
            "memory_estimate_bytes": self.memory_estimate.round(),
            "work_estimate_per_iteration": self.work_estimate(),
            "solved_threshold": self.threshold(),
            "solved_at_steps": solved.map(|e| e.env_steps),
            "solved_at_seconds": solved.map(|e| e.wall_seconds),
        });
        for (key, value) in &self.settings {
            summary[*key] = value.clone();
        }
        summary
    }

    /// One row per iteration: its environment steps, mean return and every metric of its update.
    pub fn iterations(&self) -> Value {
        self.log().iterations.iter().map(iteration_row).collect()
    }
}

/// An iteration as a JSON row: `iter`, `env_steps`, `mean_return` and the update's metrics.
pub fn iteration_row(s: &IterStats) -> Value {
    let mut row = json!({"iter": s.iter, "env_steps": s.env_steps, "mean_return": s.mean_return});
    for (name, value) in &s.update.metrics {
        row[*name] = json!(value);
    }
    row
}

/// Chapter 4's Pendulum run: the update followed, every `every` steps, by the evaluation protocol.
fn evaluated_fit<E: Evaluable + 'static>(
    env: E,
    policy: Gaussian,
    update: Box<dyn Update<Gaussian>>,
    config: &TrainConfig,
    every: usize,
) -> Result<EvaluatedFit<E>, String> {
    let env = Rc::new(RefCell::new(env));
    let (shared, seed) = (Rc::clone(&env), config.seed);
    let protocol = move |p: &Gaussian, k| evaluate(p, &shared.borrow().view(), seed, k);
    let update = Evaluated::new(update, config, every, protocol).map_err(|e| {
        let nearest = whole_batches(every, config);
        format!("--eval-every {every} is not allowed with --batch {}: {e}; e.g. {nearest}", config.batch)
    })?;
    let run = TrainLoop::new(config).map_err(|e| e.to_string())?;
    Ok(EvaluatedFit { env, policy, update: Box::new(update), run, batch: config.batch })
}

/// A pool of `threads` threads for chapter 7's groups; none in the browser,
/// which runs them on the calling thread (and allows only one).
fn thread_pool(threads: usize) -> Result<Option<rayon::ThreadPool>, String> {
    if cfg!(target_arch = "wasm32") {
        return match threads {
            1 => Ok(None),
            n => Err(format!(
                "--threads {n} is not allowed in the browser: use 1 (the page trains on one thread)"
            )),
        };
    }
    pg_speed::thread_pool(threads).map(Some).map_err(|e| e.to_string())
}

pub fn env_name(env: EnvName) -> &'static str {
    match env {
        EnvName::Cartpole => "cartpole",
        EnvName::Pendulum => "pendulum",
        EnvName::Mdp => "mdp",
        EnvName::Stay => "stay",
    }
}

/// `--algo` and the flags given that choose its variant (those its entry's
/// `only_with` names), e.g. `--algo baseline --baseline optimal`.
fn algo_line(algo: &Algorithm, context: &Context) -> String {
    let variant_flags: Vec<&str> =
        algo.only_with.iter().filter_map(|(_, v)| v.split_whitespace().next()).collect();
    let chosen: String = context
        .flags
        .iter()
        .filter(|(f, _)| variant_flags.contains(f))
        .map(|(f, v)| format!(" {f} {v}"))
        .collect();
    format!("--algo {}{chosen}", algo.name)
}

/// `a`, `a or b`, `a, b or c`.
fn either(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// Refuses a flag that other algorithms list and `algo` does not, naming them.
fn refuse_flags_of_others(algo: &Algorithm, context: &Context) -> Result<(), String> {
    let all = algorithms();
    for (flag, _) in &context.flags {
        if algo.flags.contains(flag) {
            continue;
        }
        let takers: Vec<String> = all
            .iter()
            .filter(|a| a.flags.contains(flag))
            .map(|a| match a.only_with.iter().find(|(f, _)| f == flag) {
                Some((_, variant)) => format!("{} {variant}", a.name),
                None => a.name.to_string(),
            })
            .collect();
        if takers.is_empty() {
            continue;
        }
        let why =
            algo.refuses.iter().find(|(f, _)| f == flag).map_or(String::new(), |(_, w)| format!(" ({w})"));
        return Err(format!(
            "{flag} is not allowed with --algo {}{why}: use it with --algo {}",
            algo.name,
            either(&takers)
        ));
    }
    Ok(())
}

/// Refuses run options (not the algorithm's own) that `algo` or the environment cannot use.
fn check_run_options(args: &TrainArgs, algo: &Algorithm, context: &Context) -> Result<(), String> {
    let name = algo.name;
    if args.per_step_gradient && context.tabular {
        return Err(format!(
            "--per-step-gradient is not allowed with --env {}: a tabular policy's gradient is always computed per \
             step; use it with cartpole or pendulum",
            context.env
        ));
    }
    let lockstep = |a: &Algorithm| matches!(&a.build, Build::Estimator(e) if e.lockstep.is_some());
    if args.per_step_gradient && matches!(algo.build, Build::Update(_)) {
        let per_step: Vec<String> = algorithms()
            .iter()
            .filter(|a| matches!(a.build, Build::Estimator(_)))
            .map(|a| a.name.to_string())
            .collect();
        return Err(format!(
            "--per-step-gradient is not allowed with --algo {name}: its update works on whole batches; use it with \
             --algo {}",
            either(&per_step)
        ));
    }
    if (args.envs.is_some() || args.groups.is_some() || args.threads.is_some()) && args.batch_steps.is_none()
    {
        return Err("--envs, --groups and --threads are not allowed without --batch-steps: they set up \
                    chapter 7's vectorised sampler, which --batch-steps turns on"
            .into());
    }
    if args.batch_steps.is_some() {
        if !lockstep(algo) || args.env != EnvName::Cartpole {
            let names: Vec<String> =
                algorithms().iter().filter(|a| lockstep(a)).map(|a| a.name.to_string()).collect();
            return Err(format!(
                "--batch-steps is not allowed with --algo {name} --env {}: use it with --algo {} on --env cartpole",
                env_name(args.env),
                either(&names)
            ));
        }
        let given = [
            ("--batch", args.batch.is_some()),
            ("--per-step-gradient", args.per_step_gradient),
            ("--normalize-observations", args.normalize_observations.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
            return Err(format!(
                "{flag} is not allowed with --batch-steps: the vectorised sampler sizes its batches in steps and \
                 computes the batched surrogate on raw observations"
            ));
        }
    }
    if args.eval_every.is_some() && args.env != EnvName::Pendulum {
        return Err(format!(
            "--eval-every is not allowed with --env {}: the evaluation protocol is pendulum's; use it with --env \
             pendulum",
            env_name(args.env)
        ));
    }
    Ok(())
}

/// Network policies: which of an entry's builders applies to them.
trait NetworkPolicy: Head + BatchedPolicy + 'static {
    fn estimator(e: &Estimators) -> EstimatorFn<Self>;
    fn update(u: &Updates) -> UpdateFn<Self>;
}

impl NetworkPolicy for Categorical {
    fn estimator(e: &Estimators) -> EstimatorFn<Self> {
        e.categorical
    }
    fn update(u: &Updates) -> UpdateFn<Self> {
        u.categorical
    }
}

impl NetworkPolicy for Gaussian {
    fn estimator(e: &Estimators) -> EstimatorFn<Self> {
        e.gaussian
    }
    fn update(u: &Updates) -> UpdateFn<Self> {
        u.gaussian
    }
}

/// What the update of a network policy is built from.
struct Net<'a> {
    algo: &'a Algorithm,
    context: &'a Context,
    lr: f64,
    batched: bool,
}

impl Net<'_> {
    /// The entry's own update (chapter 6), or Adam along its estimator with
    /// the weights standardised if asked and the gradient computed through
    /// the batched surrogate unless `--per-step-gradient`.
    fn update<P: NetworkPolicy>(&self) -> Result<Box<dyn Update<P>>, String> {
        let e = match &self.algo.build {
            Build::Update(u) => return P::update(u)(self.context),
            Build::Estimator(e) => e,
        };
        let mut estimator = P::estimator(e)(self.context)?;
        if self.context.normalize_advantages {
            estimator = Box::new(NormalizedAdvantages(estimator));
        }
        if self.batched {
            estimator = Box::new(Surrogate(estimator));
        }
        adam(e, self.context, self.lr, estimator)
    }
}

/// Chapters 1-5's update: Adam along the estimator, once per batch or, for
/// an entry that reuses its batches (chapter 5), that many times.
fn adam<P: Policy + Clone + 'static>(
    e: &Estimators,
    context: &Context,
    lr: f64,
    estimator: Box<dyn Estimator<P>>,
) -> Result<Box<dyn Update<P>>, String> {
    let err = |e: PgError| e.to_string();
    Ok(match e.reuse {
        Some(steps) => Box::new(Reuse::adam(estimator, lr, steps(context)?).map_err(err)?),
        None => Box::new(PolicyGradient::adam(estimator, lr).map_err(err)?),
    })
}

/// `--eval-every`, or the run's default interval rounded up to whole batches.
fn eval_every(args: &TrainArgs, config: &TrainConfig, default: usize) -> usize {
    args.eval_every.unwrap_or(whole_batches(default, config))
}

/// `steps` rounded up to whole batches of Pendulum's 200-step episodes
/// (down, where up would overflow).
fn whole_batches(steps: usize, config: &TrainConfig) -> usize {
    let batch_steps = config.batch.saturating_mul(pg_core::env::PENDULUM_MAX_STEPS);
    steps.div_ceil(batch_steps).checked_mul(batch_steps).unwrap_or(steps / batch_steps * batch_steps)
}

/// The time limit of `--env stay`'s episodes.
const STAY_LIMIT: usize = 1000;

/// Chapter 7's sampler, if `--batch-steps` asks for it: the batch's steps,
/// environments, groups (at most one per step) and threads.
fn lockstep(args: &TrainArgs) -> Result<Option<Lockstep>, String> {
    let Some(batch_steps) = args.batch_steps else { return Ok(None) };
    let d = VecConfig::reward_to_go(batch_steps);
    let groups = args.groups.unwrap_or(d.groups);
    if batch_steps < groups {
        return Err(format!(
            "--batch-steps {batch_steps} is not allowed with {groups} groups (--groups): use at least one step \
             per group, {groups} or more"
        ));
    }
    Ok(Some(Lockstep {
        batch_steps,
        envs: args.envs.unwrap_or(d.envs),
        groups,
        threads: if cfg!(target_arch = "wasm32") { 1 } else { threads(args) },
    }))
}

/// What the run's footprint depends on (see [`bounds`]), from its resolved settings.
fn plan(
    args: &TrainArgs,
    algo: &Algorithm,
    context: &Context,
    config: &TrainConfig,
    hidden: &[usize],
    lockstep: Option<Lockstep>,
) -> Result<Plan, String> {
    let (copies, update) = match &algo.build {
        Build::Update(u) => (14, (u.work)(context)?),
        // The estimator's gradient; with `Reuse`, U of them, then two
        // forward passes for the KL and one for the effective sample size.
        Build::Estimator(e) => {
            let one = (e.work)(context)?;
            match e.reuse.map(|r| r(context)).transpose()? {
                None => (6, one),
                Some(steps) => (8, UpdateWork { epochs: steps, besides: one.besides + 1.0, ..one }),
            }
        }
    };
    let (outputs, episode_steps) = match args.env {
        EnvName::Cartpole => (2, (bounds::CARTPOLE_MIN_STEPS, pg_core::env::CARTPOLE_MAX_STEPS)),
        EnvName::Pendulum => (1, (pg_core::env::PENDULUM_MAX_STEPS, pg_core::env::PENDULUM_MAX_STEPS)),
        EnvName::Mdp => (2, (1, TabularMdp::three_state().horizon())),
        EnvName::Stay => (2, (1, STAY_LIMIT)),
    };
    Ok(Plan {
        tabular: context.tabular,
        obs_dim: context.obs_dim,
        outputs,
        hidden: if context.tabular { vec![] } else { hidden.to_vec() },
        episode_steps,
        batch: config.batch,
        lockstep,
        iters: config.iters,
        max_env_steps: config.max_env_steps,
        copies,
        per_episode_gradients: !defaults::weighs_steps(algo, context),
        update,
    })
}

/// The flags on the command line among those the run's footprint depends on.
fn given_run_flags(args: &TrainArgs) -> Vec<&'static str> {
    let mut given: Vec<&'static str> = args.given().into_iter().map(|(flag, _)| flag).collect();
    let run = [
        ("--iters", args.iters.is_some()),
        ("--max-env-steps", args.max_env_steps.is_some()),
        ("--batch-steps", args.batch_steps.is_some()),
        ("--envs", args.envs.is_some()),
        ("--groups", args.groups.is_some()),
        ("--threads", args.threads.is_some()),
    ];
    given.extend(run.iter().filter(|(_, g)| *g).map(|(flag, _)| *flag));
    given
}

/// `--threads`, or one per core.
fn threads(args: &TrainArgs) -> usize {
    args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
