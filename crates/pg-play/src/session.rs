//! One training run built from `pg train`'s flags, advancing one batch at a
//! time: `pg train` steps it behind a progress bar, the Play page steps it in
//! a Web Worker between frames. Both read the same summary.

use crate::args::{Algo, BaselineName, EnvName, OffPolicyEstimator, TrainArgs};
use pg_baselines::{MeanBaseline, OptimalBaseline, ValueBaseline, ValueFunction};
use pg_causality::RewardToGo;
use pg_core::clock::Stopwatch;
use pg_core::env::{CartPole, Pendulum, Stay, TabularMdp};
use pg_core::policy::{Categorical, Gaussian, TabularSoftmax};
use pg_core::rng::substream;
use pg_core::rollout::rollout;
use pg_core::{Batch, Env, PgError, Policy};
use pg_importance_sampling::reuse::Reuse;
use pg_importance_sampling::{FirstOrder, PerDecision, TrajectoryRatio};
use pg_kl_constraint::Head;
use pg_kl_constraint::book::PENDULUM_EVAL_TARGET;
use pg_kl_constraint::experiments::{Algo as KlAlgo, Setup as KlSetup};
use pg_likelihood_ratio::{
    Episode, Estimator, IterStats, PolicyGradient, Reinforce, TrainConfig, TrainLog, TrainLoop, Update,
};
use pg_speed::{VecConfig, VecLoop, Weighting};
use pg_surrogate::evaluate::{EVAL_EPISODES, Evaluable, Evaluated, evaluate, evaluations, sustained_at};
use pg_surrogate::experiments::PendulumSetup;
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

/// One training run, built from `pg train`'s flags.
pub struct Session {
    args: TrainArgs,
    config: TrainConfig,
    lr: f64,
    kl: Option<KlSetup>,
    hidden: Vec<usize>,
    eval_interval: Option<usize>,
    clock: Stopwatch,
    drawn: u64,
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
        check_options(args)?;
        let (iters, batch, lr) = args.env.defaults();
        let kl = kl_setup(args);
        let config = match &kl {
            Some(setup) => TrainConfig {
                iters: args.iters.unwrap_or(usize::MAX),
                batch: setup.batch,
                seed: args.seed,
                max_env_steps: Some(args.max_env_steps.unwrap_or(setup.max_env_steps)),
            },
            None => TrainConfig {
                iters: args.iters.unwrap_or(iters),
                batch: args.batch.unwrap_or(batch),
                seed: args.seed,
                max_env_steps: args.max_env_steps,
            },
        };
        config.validate().map_err(|e| e.to_string())?;
        let asked = |flag: Option<bool>| flag == Some(true);
        if (asked(args.normalize_observations) || asked(args.normalize_advantages))
            && matches!(args.env, EnvName::Mdp | EnvName::Stay)
        {
            return Err(format!(
                "--normalize-observations and --normalize-advantages are not allowed with --env {}: use them with \
                 cartpole or pendulum",
                env_name(args.env)
            ));
        }
        let lr = args.lr.unwrap_or(kl.as_ref().map_or(lr, |setup| setup.lr));
        let hidden = match (&args.hidden, args.env) {
            (Some(_), EnvName::Mdp | EnvName::Stay) => {
                return Err(format!(
                    "--hidden is not allowed with --env {}: its policy is tabular; use it with cartpole or pendulum",
                    env_name(args.env)
                ));
            }
            (Some(w), _) => w.0.clone(),
            (None, EnvName::Mdp | EnvName::Stay) => vec![],
            (None, _) => match &kl {
                Some(setup) => setup.hidden.clone(),
                None if args.env == EnvName::Pendulum => PendulumSetup::default().hidden,
                None => vec![32, 32],
            },
        };
        let clock = Stopwatch::start();
        let init_rng = &mut substream(args.seed, 1_000);
        let err = |e: PgError| e.to_string();
        let new_loop = || TrainLoop::new(&config).map_err(err);
        let mut eval_interval = None;
        let stepper: Box<dyn Stepper> = match args.env {
            EnvName::Cartpole if args.batch_steps.is_some() => {
                let (steps, groups) = (args.batch_steps.unwrap_or(1), vectorised(args).groups);
                if steps < groups {
                    return Err(format!(
                        "--batch-steps {steps} is not allowed with {groups} groups (--groups): use at least one \
                         step per group, {groups} or more"
                    ));
                }
                let policy = Categorical::mlp(4, &hidden, 2, init_rng);
                let vec_config = VecConfig {
                    lr,
                    iters: config.iters,
                    max_env_steps: config.max_env_steps,
                    ..vectorised(args)
                };
                let run = VecLoop::new(&vec_config).map_err(err)?;
                Box::new(Vectorised { policy, run, pool: thread_pool(threads(args))? })
            }
            EnvName::Cartpole => {
                let policy = Categorical::mlp(4, &hidden, 2, init_rng);
                let update = network_update(args, kl.as_ref(), 4, lr)?;
                let run = new_loop()?;
                let batch = config.batch;
                if normalize_observations(args) {
                    let env = NormalizedObservations::new(CartPole::new());
                    Box::new(Fit { env, policy, update, run, batch, draws: no_frames })
                } else {
                    Box::new(Fit { env: CartPole::new(), policy, update, run, batch, draws: cartpole_frames })
                }
            }
            EnvName::Pendulum => {
                let log_std = kl.as_ref().map_or(PendulumSetup::default().log_std, |s| s.log_std);
                let policy = Gaussian::mlp(3, &hidden, 1, log_std, init_rng);
                let update = network_update(args, kl.as_ref(), 3, lr)?;
                let every = eval_every(args, &config, kl.as_ref());
                eval_interval = Some(every);
                if normalize_observations(args) {
                    let env = NormalizedObservations::new(Pendulum::new());
                    Box::new(evaluated_fit(env, policy, update, &config, every)?)
                } else {
                    Box::new(evaluated_fit(Pendulum::new(), policy, update, &config, every)?)
                }
            }
            EnvName::Mdp => {
                let policy = TabularSoftmax::new(3, 2);
                let update = policy_gradient(args, lr, estimator(args, 3, true)?)?;
                let (env, run, batch) = (TabularMdp::three_state(), new_loop()?, config.batch);
                Box::new(Fit { env, policy, update, run, batch, draws: no_frames })
            }
            EnvName::Stay => {
                let policy = TabularSoftmax::new(1, 2);
                let update = policy_gradient(args, lr, estimator(args, 1, true)?)?;
                let (env, run, batch) = (Stay::with_limit(1000), new_loop()?, config.batch);
                Box::new(Fit { env, policy, update, run, batch, draws: no_frames })
            }
        };
        if args.until_solved && stepper.threshold().is_none() {
            return Err(format!(
                "--until-solved is not allowed with --env {}: only cartpole has a solved threshold",
                env_name(args.env)
            ));
        }
        Ok(Self { args: args.clone(), config, lr, kl, hidden, eval_interval, clock, drawn: 0, stepper })
    }

    /// One iteration: sample a batch, update the policy. Fails, naming
    /// what, when a return or parameter becomes NaN or infinite.
    pub fn step(&mut self) -> Result<&IterStats, String> {
        self.stepper.step().map_err(|e| e.to_string())
    }

    /// Whether the iterations or the step budget are spent, or (with
    /// `--until-solved`) the run is solved.
    pub fn finished(&self) -> bool {
        self.stepper.finished() || (self.args.until_solved && self.solved())
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

    /// The run's settings and results so far, as `pg train` prints them.
    pub fn summary(&self) -> Value {
        let (args, config, kl, log) = (&self.args, &self.config, self.kl.as_ref(), self.log());
        let wall = self.clock.seconds();
        let solved = self.solved_at();
        let env_steps = log.env_steps();
        let evals = self.eval_interval.map(|_| evaluations(log));
        json!({
            "algo": algo_name(args.algo),
            "gamma": gamma(args),
            "baseline": (args.algo == Algo::Baseline).then(|| baseline_name(baseline(args))),
            "gae_lambda": gae_lambda(args),
            "reuse": (args.algo == Algo::Offpolicy).then(|| reuse(args)),
            "estimator": (args.algo == Algo::Offpolicy).then(|| off_policy_name(off_policy_estimator(args))),
            "delta": kl.filter(|_| natural(args.algo)).map(|s| s.delta),
            "clip": kl.filter(|_| args.algo == Algo::Ppo).map(|s| s.clip),
            "kl_target": kl.filter(|_| args.algo == Algo::PpoKl).map(|s| s.kl_target),
            "epochs": kl.filter(|_| ppo(args.algo)).map(|s| s.epochs),
            "minibatch": kl.filter(|_| ppo(args.algo)).map(|s| s.minibatch),
            "max_grad_norm": kl.filter(|_| ppo(args.algo)).and_then(|s| s.max_grad_norm),
            "env": env_name(args.env),
            "seed": args.seed,
            "iters": (config.iters != usize::MAX).then_some(config.iters),
            "max_env_steps": config.max_env_steps,
            "until_solved": args.until_solved,
            "batch": args.batch_steps.is_none().then_some(config.batch),
            "batch_steps": args.batch_steps,
            "envs": args.batch_steps.map(|_| vectorised(args).envs),
            "groups": args.batch_steps.map(|_| vectorised(args).groups),
            "threads": args.batch_steps.map(|_| threads(args)),
            "lr": (!natural(args.algo)).then_some(self.lr),
            "policy": match args.env {
                EnvName::Cartpole => "categorical (softmax over an MLP)",
                EnvName::Pendulum => "gaussian (MLP mean, state-independent log-std)",
                EnvName::Mdp | EnvName::Stay => "tabular softmax",
            },
            "normalize_observations": normalize_observations(args),
            "normalize_advantages": normalize_advantages(args),
            "gradient": match (args.env, args.per_step_gradient) {
                (EnvName::Mdp | EnvName::Stay, _) | (_, true) => "per step",
                // The optimal constant has no per-step weights: it keeps its own gradient.
                _ if args.algo == Algo::Baseline && baseline(args) == BaselineName::Optimal => "per step",
                _ => "batched surrogate",
            },
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
            "solved_threshold": self.threshold(),
            "solved_at_steps": solved.map(|e| e.env_steps),
            "solved_at_seconds": solved.map(|e| e.wall_seconds),
        })
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
    let update = Evaluated::new(update, config, every, protocol).map_err(|e| e.to_string())?;
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

pub fn algo_name(algo: Algo) -> &'static str {
    match algo {
        Algo::Reinforce => "reinforce",
        Algo::RewardToGo => "reward-to-go",
        Algo::Baseline => "baseline",
        Algo::Offpolicy => "offpolicy",
        Algo::Npg => "npg",
        Algo::Trpo => "trpo",
        Algo::Ppo => "ppo",
        Algo::PpoKl => "ppo-kl",
    }
}

/// Chapter 6's natural-gradient algorithms, whose step is set by δ.
fn natural(algo: Algo) -> bool {
    matches!(algo, Algo::Npg | Algo::Trpo)
}

/// Chapter 6's PPO variants.
fn ppo(algo: Algo) -> bool {
    matches!(algo, Algo::Ppo | Algo::PpoKl)
}

/// Chapter 6's settings for the environment, with the command line's
/// choices applied, if the algorithm is one of chapter 6's.
fn kl_setup(args: &TrainArgs) -> Option<KlSetup> {
    if !(natural(args.algo) || ppo(args.algo)) {
        return None;
    }
    let mut setup = if args.env == EnvName::Pendulum { KlSetup::pendulum() } else { KlSetup::cartpole() };
    setup.seeds = vec![args.seed];
    if let Some(w) = &args.hidden {
        setup.hidden = w.0.clone();
    }
    setup.batch = args.batch.unwrap_or(setup.batch);
    setup.delta = args.delta.unwrap_or(setup.delta);
    setup.clip = args.clip.unwrap_or(setup.clip);
    setup.kl_target = args.kl_target.unwrap_or(setup.kl_target);
    setup.epochs = args.epochs.unwrap_or(setup.epochs);
    setup.minibatch = args.minibatch.unwrap_or(setup.minibatch);
    setup.lr = args.lr.unwrap_or(setup.lr);
    setup.gamma = args.gamma.unwrap_or(setup.gamma);
    setup.lambda = args.gae_lambda.unwrap_or(setup.lambda);
    Some(setup)
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

pub fn env_name(env: EnvName) -> &'static str {
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

/// Chapter 4's Pendulum setting is the default there: GAE and its normalisations.
fn pendulum_defaults(args: &TrainArgs) -> bool {
    args.env == EnvName::Pendulum
}

/// Whether observations are standardised (chapter 4's Pendulum runs; chapter 6's runs do without).
fn normalize_observations(args: &TrainArgs) -> bool {
    args.normalize_observations.unwrap_or(
        pendulum_defaults(args)
            && kl_setup(args).is_none()
            && PendulumSetup::default().normalize_observations,
    )
}

/// Whether the weights are standardised within each batch.
fn normalize_advantages(args: &TrainArgs) -> bool {
    args.normalize_advantages.unwrap_or(
        (pendulum_defaults(args) && PendulumSetup::default().normalize_advantages)
            || kl_setup(args).is_some(),
    )
}

/// GAE's λ, if the weights are generalised advantages.
fn gae_lambda(args: &TrainArgs) -> Option<f64> {
    if let Some(setup) = kl_setup(args) {
        return Some(setup.lambda);
    }
    let value = args.algo == Algo::Baseline && baseline(args) == BaselineName::Value;
    args.gae_lambda.or((value && pendulum_defaults(args)).then_some(PendulumSetup::default().lambda))
}

/// The discount in use, if the algorithm has one.
fn gamma(args: &TrainArgs) -> Option<f64> {
    if let Some(setup) = kl_setup(args) {
        return Some(setup.gamma);
    }
    match (args.algo, baseline(args)) {
        (Algo::RewardToGo, _) => Some(args.gamma.unwrap_or(1.0)),
        (Algo::Baseline, BaselineName::Value) => Some(args.gamma.unwrap_or(if pendulum_defaults(args) {
            PendulumSetup::default().gamma
        } else {
            0.99
        })),
        _ => None,
    }
}

/// Refuses options that the chosen algorithm does not use, naming where they apply.
pub fn check_options(args: &TrainArgs) -> Result<(), String> {
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
    let constrained = kl_setup(args).is_some();
    if args.gae_lambda.is_some()
        && !(constrained || (args.algo == Algo::Baseline && baseline(args) == BaselineName::Value))
    {
        return Err(
            "--gae-lambda is not allowed here: GAE needs the learned value; use it with --algo baseline \
                    --baseline value, npg, trpo, ppo or ppo-kl"
                .into(),
        );
    }
    let refuse = |flag: &str, given: bool, allowed: bool, where_: &str| {
        if given && !allowed {
            Err(format!("{flag} is not allowed with --algo {algo}: use it with {where_}"))
        } else {
            Ok(())
        }
    };
    refuse("--delta", args.delta.is_some(), natural(args.algo), "--algo npg or trpo")?;
    refuse("--clip", args.clip.is_some(), args.algo == Algo::Ppo, "--algo ppo")?;
    refuse("--kl-target", args.kl_target.is_some(), args.algo == Algo::PpoKl, "--algo ppo-kl")?;
    refuse("--epochs", args.epochs.is_some(), ppo(args.algo), "--algo ppo or ppo-kl")?;
    refuse("--minibatch", args.minibatch.is_some(), ppo(args.algo), "--algo ppo or ppo-kl")?;
    refuse(
        "--lr",
        args.lr.is_some(),
        !natural(args.algo),
        "the other algorithms (the step of npg and trpo is set by --delta)",
    )?;
    refuse(
        "--per-step-gradient",
        args.per_step_gradient,
        !constrained,
        "chapters 1-5's algorithms (chapter 6's work on whole batches)",
    )?;
    let lockstep = args.envs.is_some() || args.groups.is_some() || args.threads.is_some();
    if lockstep && args.batch_steps.is_none() {
        return Err("--envs, --groups and --threads are not allowed without --batch-steps: they set up \
                    chapter 7's vectorised sampler, which --batch-steps turns on"
            .into());
    }
    if args.batch_steps.is_some() {
        if !matches!(args.algo, Algo::Reinforce | Algo::RewardToGo) || args.env != EnvName::Cartpole {
            return Err(format!(
                "--batch-steps is not allowed with --algo {algo} --env {}: use it with --algo reinforce or \
                 reward-to-go on --env cartpole",
                env_name(args.env)
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
    if constrained && matches!(args.env, EnvName::Mdp | EnvName::Stay) {
        return Err(format!(
            "--algo {algo} is not allowed with --env {}: it needs a network policy; use it with cartpole or pendulum",
            env_name(args.env)
        ));
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
        Algo::Npg | Algo::Trpo | Algo::Ppo | Algo::PpoKl => {
            return Err(format!(
                "--algo {} has no estimator of its own: it is an update over GAE advantages",
                algo_name(args.algo)
            ));
        }
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
                let ch4 = PendulumSetup::default();
                let value = match args.env {
                    _ if tabular => {
                        ValueFunction::new(obs_dim, &[], 0.1, 20, rng).and_then(|v| v.with_minibatch(256))
                    }
                    EnvName::Pendulum => {
                        ValueFunction::new(obs_dim, &ch4.hidden, ch4.value_lr, ch4.value_steps, rng)
                            .and_then(|v| v.with_minibatch(ch4.value_minibatch))
                    }
                    _ => {
                        ValueFunction::new(obs_dim, &[32], 0.01, 10, rng).and_then(|v| v.with_minibatch(256))
                    }
                }
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

/// Chapters 1-5's update: Adam along the estimator, once per batch or
/// (`--algo offpolicy`) `--reuse` times.
fn policy_gradient<P>(
    args: &TrainArgs,
    lr: f64,
    estimator: Box<dyn Estimator<P>>,
) -> Result<Box<dyn Update<P>>, String>
where
    P: Policy + Clone + 'static,
{
    let err = |e: pg_core::PgError| e.to_string();
    Ok(if args.algo == Algo::Offpolicy {
        Box::new(Reuse::adam(estimator, lr, reuse(args)).map_err(err)?)
    } else {
        Box::new(PolicyGradient::adam(estimator, lr).map_err(err)?)
    })
}

/// The update for a network policy: chapter 6's constrained update when
/// `kl` holds its settings, chapters 1-5's otherwise.
fn network_update<P>(
    args: &TrainArgs,
    kl: Option<&KlSetup>,
    obs_dim: usize,
    lr: f64,
) -> Result<Box<dyn Update<P>>, String>
where
    P: Head + BatchedPolicy + 'static,
{
    let err = |e: pg_core::PgError| e.to_string();
    let Some(setup) = kl else {
        return policy_gradient(args, lr, network_estimator(args, obs_dim)?);
    };
    let gae = setup.value_baseline(obs_dim, args.seed).map_err(err)?;
    let estimator: Box<dyn Estimator<P> + Send> =
        if normalize_advantages(args) { Box::new(NormalizedAdvantages(gae)) } else { Box::new(gae) };
    let algo = match args.algo {
        Algo::Npg => KlAlgo::Npg,
        Algo::Trpo => KlAlgo::Trpo,
        Algo::Ppo => KlAlgo::Ppo,
        _ => KlAlgo::PpoPenalty,
    };
    let update = setup.update(algo, estimator, args.seed).map_err(err)?;
    Ok(update)
}

/// `--eval-every`, or the interval of the chapter whose setting runs
/// (chapter 6's for its algorithms, chapter 4's otherwise) rounded up to
/// whole batches.
fn eval_every(args: &TrainArgs, config: &TrainConfig, kl: Option<&KlSetup>) -> usize {
    let batch_steps = config.batch * pg_core::env::PENDULUM_MAX_STEPS;
    let default = kl.map_or(PendulumSetup::default().eval_every, |s| s.eval_every);
    args.eval_every.unwrap_or(default.div_ceil(batch_steps) * batch_steps)
}

/// Chapter 7's settings for `pg train --batch-steps`.
fn vectorised(args: &TrainArgs) -> VecConfig {
    let defaults = VecConfig::reward_to_go(args.batch_steps.unwrap_or(1));
    VecConfig {
        groups: args.groups.unwrap_or(defaults.groups),
        envs: args.envs.unwrap_or(defaults.envs),
        weighting: match args.algo {
            Algo::Reinforce => Weighting::Return,
            _ => Weighting::RewardToGo(gamma(args).unwrap_or(1.0)),
        },
        normalize: normalize_advantages(args),
        seed: args.seed,
        ..defaults
    }
}

/// `--threads`, or one per core.
fn threads(args: &TrainArgs) -> usize {
    args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
