//! The training loop shared by every chapter: sample a batch, estimate the
//! gradient, ascend. Chapters change only the [`Estimator`].

use crate::Estimator;
use pg_core::error::{PgError, at_least_one, positive};
use pg_core::optim::{Adam, Optimizer};
use pg_core::{Batch, Env, Policy, seeded};
use std::time::Instant;

/// What a training run does. Built by hand or from the command line, then checked by [`TrainConfig::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Gradient steps.
    pub iters: usize,
    /// Episodes per gradient step (\\(N\\)).
    pub batch: usize,
    /// Adam's step size.
    pub lr: f64,
    /// Seeds the sampling generator.
    pub seed: u64,
}

impl TrainConfig {
    /// Rejects a configuration that cannot train, naming the value and what is allowed.
    pub fn validate(&self) -> Result<(), PgError> {
        at_least_one("iters", self.iters)?;
        at_least_one("batch", self.batch)?;
        positive("lr", self.lr)?;
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

    /// Total environment steps.
    pub fn env_steps(&self) -> usize {
        self.iterations.last().map_or(0, |s| s.env_steps)
    }
}

// ANCHOR: train
/// Trains `policy` in `env` by stochastic gradient ascent with Adam:
/// sample `batch` episodes, estimate \\(\nabla_\theta J\\), step, repeat.
/// `on_iter` sees the progress after every step (for progress bars).
///
/// Returns an error, and stops, if the configuration is invalid or a
/// gradient, parameter or return becomes NaN or infinite.
pub fn train<E, P, Est>(
    env: &mut E,
    policy: &mut P,
    estimator: &Est,
    config: &TrainConfig,
    mut on_iter: impl FnMut(&IterStats),
) -> Result<TrainLog, PgError>
where
    E: Env,
    P: Policy<Action = E::Action>,
    Est: Estimator,
{
    config.validate()?;
    let mut rng = seeded(config.seed);
    let mut optimizer = Adam::new(config.lr, policy.num_params())?;
    let mut log = TrainLog::default();
    let start = Instant::now();
    let mut env_steps = 0;
    for iter in 0..config.iters {
        let batch = Batch::sample(env, policy, config.batch, &mut rng);
        let wall_seconds = start.elapsed().as_secs_f64();
        for traj in &batch.trajectories {
            env_steps += traj.len();
            log.episodes.push(Episode { env_steps, ret: traj.total_reward(), wall_seconds });
        }
        let grad = estimator.gradient(policy, &batch);
        let mean_return = batch.mean_return();
        let non_finite = |what| PgError::NonFinite { what, iteration: iter };
        if !mean_return.is_finite() {
            return Err(non_finite("return"));
        }
        if !grad.iter().all(|g| g.is_finite()) {
            return Err(non_finite("gradient"));
        }
        optimizer.ascend(policy.params_mut(), &grad);
        if !policy.params().iter().all(|p| p.is_finite()) {
            return Err(non_finite("policy parameters"));
        }
        let stats = IterStats { iter, env_steps, mean_return, wall_seconds: start.elapsed().as_secs_f64() };
        on_iter(&stats);
        log.iterations.push(stats);
    }
    Ok(log)
}
// ANCHOR_END: train
