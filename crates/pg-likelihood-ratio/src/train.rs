//! The training loop shared by every chapter: sample a batch, update the
//! policy, repeat. Chapters change only the [`Update`] (usually only its
//! estimator).

use crate::update::{Update, UpdateStats};
use pg_core::clock::Stopwatch;
use pg_core::error::{PgError, at_least_one};
use pg_core::{Batch, Env, PgRng, Policy, seeded};

/// What a training run does. Built by hand or from the command line, then checked by [`TrainConfig::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Iterations: batches sampled, each followed by one update.
    pub iters: usize,
    /// Episodes per batch (N).
    pub batch: usize,
    /// Seeds the sampling generator.
    pub seed: u64,
    /// Stops after the first iteration that brings the environment steps to
    /// at least this many (a budget in steps rather than in iterations).
    pub max_env_steps: Option<usize>,
}

impl TrainConfig {
    /// Rejects a configuration that cannot train, naming the value and what is allowed.
    pub fn validate(&self) -> Result<(), PgError> {
        at_least_one("iters", self.iters)?;
        at_least_one("batch", self.batch)?;
        if let Some(steps) = self.max_env_steps {
            at_least_one("max-env-steps", steps)?;
        }
        Ok(())
    }
}

/// Progress after one gradient step.
#[derive(Debug, Clone, PartialEq)]
pub struct IterStats {
    /// The iteration just finished (0-based).
    pub iter: usize,
    /// Environment steps so far.
    pub env_steps: usize,
    /// The mean return of this iteration's batch.
    pub mean_return: f64,
    /// Seconds since training started.
    pub wall_seconds: f64,
    /// What the update measured.
    pub update: UpdateStats,
}

/// One finished episode.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    /// Environment steps so far, this episode's included.
    pub env_steps: usize,
    /// The episode's undiscounted return.
    pub ret: f64,
    /// Seconds since training started, when the batch holding it was sampled.
    pub wall_seconds: f64,
}

/// Everything a run measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainLog {
    /// One entry per iteration.
    pub iterations: Vec<IterStats>,
    /// Every finished episode, in order.
    pub episodes: Vec<Episode>,
}

impl TrainLog {
    /// The mean return of the last `window` episodes (of all, if fewer).
    pub fn final_mean_return(&self, window: usize) -> f64 {
        let tail = &self.episodes[self.episodes.len().saturating_sub(window)..];
        tail.iter().map(|e| e.ret).sum::<f64>() / tail.len().max(1) as f64
    }

    /// The first episode at which the mean of the last `window` episodes
    /// reached `threshold` (a full window is required).
    pub fn solved_at(&self, threshold: f64, window: usize) -> Option<&Episode> {
        let mut sum = 0.0;
        for (i, e) in self.episodes.iter().enumerate() {
            sum += e.ret;
            if i >= window {
                sum -= self.episodes[i - window].ret;
            }
            if i + 1 >= window && sum / window as f64 >= threshold {
                return Some(e);
            }
        }
        None
    }

    /// Records a batch's episodes, given as (steps, return) and all sampled
    /// by `wall_seconds`; returns the environment steps so far and the
    /// batch's mean return.
    pub fn record_batch(
        &mut self,
        episodes: impl IntoIterator<Item = (usize, f64)>,
        wall_seconds: f64,
    ) -> (usize, f64) {
        let first = self.episodes.len();
        let mut env_steps = self.episodes.last().map_or(0, |e| e.env_steps);
        for (len, ret) in episodes {
            env_steps += len;
            self.episodes.push(Episode { env_steps, ret, wall_seconds });
        }
        let batch = &self.episodes[first..];
        (env_steps, batch.iter().map(|e| e.ret).sum::<f64>() / batch.len() as f64)
    }

    /// Whether a run that stops after `iters` iterations, or after the
    /// iteration that brings its environment steps to `max_env_steps`, is over.
    pub fn spent(&self, iters: usize, max_env_steps: Option<usize>) -> bool {
        let budget_spent = max_env_steps.is_some_and(|budget| self.env_steps() >= budget);
        self.iterations.len() >= iters || budget_spent
    }

    /// Total environment steps.
    pub fn env_steps(&self) -> usize {
        self.iterations.last().map_or(0, |s| s.env_steps)
    }
}

// ANCHOR: train
/// Trains `policy` in `env`: sample `batch` episodes, let `update` improve
/// the policy with them, repeat (`iters` times, or until the step budget is spent). `on_iter` sees the progress after every
/// iteration (for progress bars).
///
/// Returns an error, and stops, if the configuration is invalid or a
/// return, gradient or parameter becomes NaN or infinite.
pub fn train<E, P, U>(
    env: &mut E,
    policy: &mut P,
    update: &mut U,
    config: &TrainConfig,
    on_iter: impl FnMut(&IterStats),
) -> Result<TrainLog, PgError>
where
    E: Env,
    P: Policy<Action = E::Action>,
    U: Update<P> + ?Sized,
{
    let sample = |policy: &P, rng: &mut PgRng| Batch::sample(env, policy, config.batch, rng);
    train_with(policy, update, config, sample, on_iter)
}

/// [`train`] with any way of sampling: `sample(policy, rng)` returns the
/// next batch (chapter 7 samples many episodes in lockstep).
pub fn train_with<P, U>(
    policy: &mut P,
    update: &mut U,
    config: &TrainConfig,
    mut sample: impl FnMut(&P, &mut PgRng) -> Batch<P::Action>,
    mut on_iter: impl FnMut(&IterStats),
) -> Result<TrainLog, PgError>
where
    P: Policy,
    U: Update<P> + ?Sized,
{
    let mut run = TrainLoop::new(config)?;
    while !run.finished() {
        on_iter(run.step(policy, update, &mut sample)?);
    }
    Ok(run.into_log())
}

/// The state of a training run between iterations, so that a run can also
/// advance one batch at a time (the browser's Play page does).
#[derive(Debug, Clone)]
pub struct TrainLoop {
    config: TrainConfig,
    rng: PgRng,
    log: TrainLog,
    clock: Stopwatch,
}

impl TrainLoop {
    /// A run of `config` that has not sampled yet; fails if `config` is invalid.
    pub fn new(config: &TrainConfig) -> Result<Self, PgError> {
        config.validate()?;
        let rng = seeded(config.seed);
        Ok(Self { config: config.clone(), rng, log: TrainLog::default(), clock: Stopwatch::start() })
    }

    /// Whether the iterations or the step budget are spent.
    pub fn finished(&self) -> bool {
        self.log.spent(self.config.iters, self.config.max_env_steps)
    }

    /// One iteration: sample a batch, let `update` improve `policy` with it.
    pub fn step<P, U>(
        &mut self,
        policy: &mut P,
        update: &mut U,
        sample: impl FnOnce(&P, &mut PgRng) -> Batch<P::Action>,
    ) -> Result<&IterStats, PgError>
    where
        P: Policy,
        U: Update<P> + ?Sized,
    {
        let iter = self.log.iterations.len();
        let batch = sample(policy, &mut self.rng);
        let episodes = batch.trajectories.iter().map(|t| (t.len(), t.total_reward()));
        let (env_steps, mean_return) = self.log.record_batch(episodes, self.clock.seconds());
        let non_finite = |what| PgError::NonFinite { what, iteration: iter };
        if !mean_return.is_finite() {
            return Err(non_finite("return"));
        }
        let stats = update.update(policy, &batch, iter)?;
        if !policy.params().iter().all(|p| p.is_finite()) {
            return Err(non_finite("policy parameters"));
        }
        let wall_seconds = self.clock.seconds();
        self.log.iterations.push(IterStats { iter, env_steps, mean_return, wall_seconds, update: stats });
        Ok(self.log.iterations.last().expect("an iteration was just recorded"))
    }

    /// What the run measured so far.
    pub fn log(&self) -> &TrainLog {
        &self.log
    }

    /// The log, once the run is over.
    pub fn into_log(self) -> TrainLog {
        self.log
    }
}
// ANCHOR_END: train
