//! The one evaluation protocol behind every Pendulum number in the book.
//!
//! Training returns flatter a policy (they average a stochastic policy over
//! many updates) or judge it unfairly (they include its exploration noise).
//! So every `every_steps` environment steps the run pauses and plays
//! [`EVAL_EPISODES`] episodes with the policy's mean action, μθ(s), from
//! start states drawn from the run's own seed and the evaluation's index:
//! two runs, or two evaluations of one run, never share their start states.
//! Evaluation episodes are not training samples and do not count as steps.
//! A run has *reached* a level when the mean of [`SUSTAINED`] consecutive
//! evaluations does, not when one lucky evaluation does.

use crate::normalize::NormalizedObservations;
use ndarray::{Array1, ArrayView1};
use pg_core::env::Pendulum;
use pg_core::plot::Spread;
use pg_core::policy::Gaussian;
use pg_core::rng::substream;
use pg_core::rollout::mean_episode_return;
use pg_core::{Batch, Dist, Env, PgError, Policy};
use pg_likelihood_ratio::{IterStats, TrainConfig, TrainLog, Update, UpdateStats, train_with};
use std::cell::RefCell;

/// Episodes per evaluation.
pub const EVAL_EPISODES: usize = 20;

/// Consecutive evaluations whose mean must reach a level.
pub const SUSTAINED: usize = 3;

/// The random stream of evaluation k of a run is `EVAL_STREAM + k` of the
/// run's seed (training uses the seed's generator and its streams 1 000
/// and 2 000).
pub const EVAL_STREAM: u64 = 1 << 32;

/// How the policy sees an observation during an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum ObsView {
    /// As the environment gives it.
    Raw,
    /// Standardised with the training statistics at the time of the
    /// evaluation, frozen: evaluation episodes do not update them.
    Standardized {
        /// The running mean.
        mean: Array1<f64>,
        /// √(variance + 10⁻⁸).
        sd: Array1<f64>,
    },
}

impl ObsView {
    /// The observation the policy gets.
    pub fn apply(&self, obs: ArrayView1<'_, f64>) -> Array1<f64> {
        match self {
            ObsView::Raw => obs.to_owned(),
            ObsView::Standardized { mean, sd } => ((&obs - mean) / sd).mapv(|x| x.clamp(-10.0, 10.0)),
        }
    }
}

/// The mean return of [`EVAL_EPISODES`] Pendulum episodes acting with the
/// policy's mean action, from the start states of evaluation `index` of the
/// run seeded `seed`.
pub fn evaluate(policy: &Gaussian, view: &ObsView, seed: u64, index: usize) -> f64 {
    let rng = &mut substream(seed, EVAL_STREAM + index as u64);
    mean_episode_return(&mut Pendulum::new(), EVAL_EPISODES, rng, |obs, _| {
        match policy.dist(view.apply(obs).view()) {
            Dist::Gaussian { mean, .. } => mean,
            Dist::Categorical(_) => unreachable!("a Gaussian policy has a Gaussian distribution"),
        }
    })
}

/// An environment the protocol can evaluate against: it says how its
/// observations reach the policy.
pub trait Evaluable: Env<Action = Array1<f64>> {
    /// The view of observations an evaluation uses now.
    fn view(&self) -> ObsView;
}

impl Evaluable for Pendulum {
    fn view(&self) -> ObsView {
        ObsView::Raw
    }
}

impl Evaluable for NormalizedObservations<Pendulum> {
    fn view(&self) -> ObsView {
        ObsView::Standardized { mean: self.mean().clone(), sd: self.variance().mapv(|v| (v + 1e-8).sqrt()) }
    }
}

// ANCHOR: evaluated
/// An update that also runs an evaluation every `every` iterations, after
/// the update, and reports it as the metric `eval`.
pub struct Evaluated<U, F> {
    inner: U,
    every: usize,
    evaluate: F,
    done: usize,
}

impl<U, F> Evaluated<U, F> {
    /// `inner`, then `evaluate(policy, k)` for the k-th time every
    /// `every_steps` environment steps, which must be a whole number of
    /// `config`'s batches of 200-step episodes.
    pub fn new(inner: U, config: &TrainConfig, every_steps: usize, evaluate: F) -> Result<Self, PgError> {
        let batch_steps = config.batch * pg_core::env::PENDULUM_MAX_STEPS;
        if every_steps == 0 || !every_steps.is_multiple_of(batch_steps) {
            return Err(PgError::InvalidConfig {
                name: "evaluation interval (steps)",
                value: every_steps.to_string(),
                allowed: "a positive multiple of the batch's steps (episodes per batch × 200)",
            });
        }
        Ok(Self { inner, every: every_steps / batch_steps, evaluate, done: 0 })
    }
}

impl<U, F> Update<Gaussian> for Evaluated<U, F>
where
    U: Update<Gaussian>,
    F: FnMut(&Gaussian, usize) -> f64,
{
    fn name(&self) -> String {
        self.inner.name()
    }

    fn update(
        &mut self,
        policy: &mut Gaussian,
        batch: &Batch<Array1<f64>>,
        iteration: usize,
    ) -> Result<UpdateStats, PgError> {
        let mut stats = self.inner.update(policy, batch, iteration)?;
        if (iteration + 1).is_multiple_of(self.every) {
            stats.metrics.push(("eval", (self.evaluate)(policy, self.done)));
            self.done += 1;
        }
        Ok(stats)
    }
}

/// Trains `policy` on `env` with `update`, evaluating it by the protocol
/// every `every_steps` environment steps, which must be a whole number of
/// batches of 200-step episodes.
pub fn train_evaluated<E, U>(
    env: E,
    policy: &mut Gaussian,
    update: &mut U,
    config: &TrainConfig,
    every_steps: usize,
) -> Result<TrainLog, PgError>
where
    E: Evaluable,
    U: Update<Gaussian> + ?Sized,
{
    train_evaluated_with(env, policy, update, config, every_steps, |_| {})
}

/// [`train_evaluated`], calling `on_iter` after every iteration.
pub fn train_evaluated_with<E, U>(
    env: E,
    policy: &mut Gaussian,
    update: &mut U,
    config: &TrainConfig,
    every_steps: usize,
    on_iter: impl FnMut(&IterStats),
) -> Result<TrainLog, PgError>
where
    E: Evaluable,
    U: Update<Gaussian> + ?Sized,
{
    let env = RefCell::new(env);
    let seed = config.seed;
    let evaluate = |p: &Gaussian, k| evaluate(p, &env.borrow().view(), seed, k);
    let mut evaluated = Evaluated::new(update, config, every_steps, evaluate)?;
    train_with(
        policy,
        &mut evaluated,
        config,
        |p, rng| Batch::sample(&mut *env.borrow_mut(), p, config.batch, rng),
        on_iter,
    )
}
// ANCHOR_END: evaluated

/// A run's evaluations: (environment steps, mean return).
pub fn evaluations(log: &TrainLog) -> Vec<(usize, f64)> {
    log.iterations.iter().filter_map(|s| s.update.get("eval").map(|e| (s.env_steps, e))).collect()
}

/// The evaluation a budget of `budget` steps reads: the last one at or
/// before it, as (environment steps, mean return).
pub fn last_evaluation(log: &TrainLog, budget: usize) -> Option<(usize, f64)> {
    evaluations(log).into_iter().take_while(|(steps, _)| *steps <= budget).last()
}

/// The mean return of [`last_evaluation`].
pub fn evaluation_at(log: &TrainLog, budget: usize) -> Option<f64> {
    last_evaluation(log, budget).map(|(_, e)| e)
}

/// The environment steps at which the mean of [`SUSTAINED`] consecutive
/// evaluations first reached `level`, if it did (at the last of them).
pub fn sustained_at(log: &TrainLog, level: f64) -> Option<usize> {
    evaluations(log)
        .windows(SUSTAINED)
        .find(|w| w.iter().map(|(_, e)| e).sum::<f64>() / SUSTAINED as f64 >= level)
        .map(|w| w[SUSTAINED - 1].0)
}

/// The evaluation curves of groups of runs, for a figure: per group, the
/// runs' evaluations against the steps of the first run's.
pub fn evaluation_spreads<'a>(groups: &[(&'a str, &[TrainLog])]) -> Vec<(&'a str, Spread)> {
    groups
        .iter()
        .map(|(name, logs)| {
            let evals: Vec<Vec<(usize, f64)>> = logs.iter().map(evaluations).collect();
            let x: Vec<f64> =
                evals.first().map(|e| e.iter().map(|p| p.0 as f64).collect()).unwrap_or_default();
            let ys: Vec<Vec<f64>> = evals.iter().map(|e| e.iter().map(|p| p.1).collect()).collect();
            (*name, Spread::new(&x, &ys))
        })
        .collect()
}
