//! Chapter 4's experiments: the cost of per-step against batched gradients,
//! and a Gaussian policy with chapter 3's value baseline on Pendulum.

use crate::evaluate::train_evaluated;
use crate::normalize::{NormalizedAdvantages, NormalizedObservations};
use crate::{BatchedPolicy, Steps, Surrogate, surrogate};
use ndarray::Array1;
use pg_baselines::{ValueBaseline, ValueFunction};
use pg_core::env::{CartPole, Pendulum};
use pg_core::gradcheck::{central_difference, max_scaled_error};
use pg_core::policy::{Categorical, Gaussian, MlpBatch, Policy};
use pg_core::rng::{seeded, substream};
use pg_core::rollout::mean_episode_return;
use pg_core::{Batch, PgError, StepWeights};
use pg_likelihood_ratio::experiments::parallel_map;
use pg_likelihood_ratio::weighted_score_gradient;
use pg_likelihood_ratio::{Estimator, PolicyGradient, TrainConfig, TrainLog};
use rand::RngExt;
use std::hint::black_box;
use std::time::Instant;

/// How well the surrogate's gradient agrees with the estimator for `weights`
/// on `batch`: the relative difference ‖−∇L − ĝ‖ / ‖ĝ‖ from the per-step
/// sum, and the largest scaled error against central differences of L.
pub fn surrogate_agreement<P: BatchedPolicy + Clone>(
    policy: &P,
    batch: &Batch<P::Action>,
    weights: &StepWeights,
) -> (f64, f64) {
    let per_step = weighted_score_gradient(policy, batch, weights);
    let (_, grad) = surrogate(policy, batch, weights);
    let d = &per_step + &grad;
    let relative = d.dot(&d).sqrt() / per_step.dot(&per_step).sqrt();
    let mut probe = policy.clone();
    let numeric = central_difference(
        |theta| {
            probe.params_mut().assign(theta);
            surrogate(&probe, batch, weights).0
        },
        policy.params(),
        1e-5,
    );
    (relative, max_scaled_error(&grad, &numeric))
}

/// Settings of the Pendulum runs.
#[derive(Debug, Clone, PartialEq)]
pub struct PendulumSetup {
    /// Seeds, one run each.
    pub seeds: Vec<u64>,
    /// Hidden widths of the policy's and the value's networks.
    pub hidden: Vec<usize>,
    /// The initial log σ.
    pub log_std: f64,
    /// σ as a network output instead of a free parameter vector.
    pub state_std: bool,
    /// Adam's step size for the policy.
    pub lr: f64,
    /// Episodes (of 200 steps) per batch.
    pub batch: usize,
    /// The budget in environment steps.
    pub max_env_steps: usize,
    /// The discount γ.
    pub gamma: f64,
    /// GAE's λ.
    pub lambda: f64,
    /// Adam's step size for the value function.
    pub value_lr: f64,
    /// Value-function steps per batch.
    pub value_steps: usize,
    /// States per value-function step.
    pub value_minibatch: usize,
    /// Standardise observations by running statistics.
    pub normalize_observations: bool,
    /// Standardise the weights within each batch.
    pub normalize_advantages: bool,
    /// Environment steps between evaluations by the book's protocol
    /// ([`crate::evaluate`]); a whole number of batches.
    pub eval_every: usize,
}

impl Default for PendulumSetup {
    fn default() -> Self {
        Self {
            seeds: (0..10).collect(),
            hidden: vec![64, 64],
            log_std: 0.0,
            state_std: false,
            lr: 0.001,
            batch: 4,
            max_env_steps: 1_000_000,
            gamma: 0.99,
            lambda: 0.95,
            value_lr: 0.001,
            value_steps: 20,
            value_minibatch: 256,
            normalize_observations: true,
            normalize_advantages: true,
            eval_every: 20_000,
        }
    }
}

/// Pendulum-v1 counts as learned, in this chapter, at a 100-episode mean above this.
pub const PENDULUM_TARGET: f64 = -400.0;

// ANCHOR: train_pendulum
/// Trains a Gaussian MLP policy on Pendulum with GAE from a learned value
/// baseline, the gradient computed through the surrogate in one batched pass,
/// and evaluates it by the book's protocol every `setup.eval_every` steps.
pub fn train_pendulum(seed: u64, setup: &PendulumSetup) -> Result<TrainLog, PgError> {
    let mut policy = pendulum_policy(seed, setup);
    let mut update = pendulum_update(seed, setup)?;
    let config =
        TrainConfig { iters: usize::MAX, batch: setup.batch, seed, max_env_steps: Some(setup.max_env_steps) };
    if setup.normalize_observations {
        let env = NormalizedObservations::new(Pendulum::new());
        train_evaluated(env, &mut policy, &mut update, &config, setup.eval_every)
    } else {
        train_evaluated(Pendulum::new(), &mut policy, &mut update, &config, setup.eval_every)
    }
}

/// The policy of seed `seed`: an MLP mean, σ free or state-dependent.
pub fn pendulum_policy(seed: u64, setup: &PendulumSetup) -> Gaussian {
    let init = &mut substream(seed, 1_000);
    if setup.state_std {
        Gaussian::mlp_state_std(3, &setup.hidden, 1, setup.log_std, init)
    } else {
        Gaussian::mlp(3, &setup.hidden, 1, setup.log_std, init)
    }
}

/// One Adam step per batch along GAE(λ) advantages (standardised if the
/// setup says so), through the surrogate.
pub fn pendulum_update(seed: u64, setup: &PendulumSetup) -> Result<PendulumUpdate, PgError> {
    let value =
        ValueFunction::new(3, &setup.hidden, setup.value_lr, setup.value_steps, &mut substream(seed, 2_000))?
            .with_minibatch(setup.value_minibatch)?;
    let gae = ValueBaseline::new(value, setup.gamma)?.with_gae(setup.lambda)?;
    let estimator: Box<dyn Estimator<Gaussian> + Send> =
        if setup.normalize_advantages { Box::new(NormalizedAdvantages(gae)) } else { Box::new(gae) };
    PolicyGradient::adam(Surrogate(estimator), setup.lr)
}

/// The update of [`pendulum_update`].
pub type PendulumUpdate =
    PolicyGradient<Surrogate<Box<dyn Estimator<Gaussian> + Send>>, pg_core::optim::Adam>;
// ANCHOR_END: train_pendulum

/// One run per seed, on every core.
pub fn pendulum_runs(setup: &PendulumSetup) -> Result<Vec<TrainLog>, PgError> {
    parallel_map(&setup.seeds, |&seed| train_pendulum(seed, setup)).into_iter().collect()
}

/// The mean return of `episodes` Pendulum episodes with torques drawn
/// uniformly from the allowed range: the floor any learning must beat.
pub fn random_policy_return(episodes: usize, seed: u64) -> f64 {
    let max = pg_core::env::MAX_TORQUE;
    mean_episode_return(&mut Pendulum::new(), episodes, &mut seeded(seed), |_, rng| {
        Array1::from(vec![rng.random_range(-max..max)])
    })
}

/// Seconds per call of `work`, the median of `reps` timed calls.
fn median_seconds(reps: usize, mut work: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[reps / 2]
}

/// The cost of one gradient, per environment step, both ways.
#[derive(Debug, Clone, PartialEq)]
pub struct GradientCost {
    /// Hidden width of the two-layer policy.
    pub width: usize,
    /// Episodes per batch.
    pub episodes: usize,
    /// Environment steps in the batch.
    pub steps: usize,
    /// Seconds per step, one backward pass per step.
    pub per_step: f64,
    /// Seconds per step, one batched pass through the surrogate.
    pub batched: f64,
}

impl GradientCost {
    /// How many times faster the batched pass is.
    pub fn speedup(&self) -> f64 {
        self.per_step / self.batched
    }
}

// ANCHOR: gradient_cost
/// Times the per-step and the batched gradient of the same REINFORCE
/// weights on a CartPole batch, for a policy with two hidden layers of
/// `width` and a batch of `episodes` episodes.
pub fn gradient_cost(width: usize, episodes: usize, reps: usize) -> GradientCost {
    let policy = Categorical::mlp(4, &[width, width], 2, &mut seeded(1));
    let batch = Batch::sample(&mut CartPole::new(), &policy, episodes, &mut seeded(2));
    let weights = StepWeights::per_trajectory(&batch, |_, t| t.total_reward());
    let steps = Steps::from_batch(&batch);
    let mut grad = Array1::zeros(policy.num_params());
    let per_step = median_seconds(reps, || {
        grad.fill(0.0);
        for (i, t) in batch.trajectories.iter().enumerate() {
            for ((obs, a), &w) in t.steps().zip(weights.trajectory(i)) {
                policy.add_grad_log_prob(obs, a, w, &mut grad);
            }
        }
        black_box(&grad);
    });
    let mut work = MlpBatch::default();
    let batched = median_seconds(reps, || {
        grad.fill(0.0);
        black_box(policy.surrogate(&steps, weights.flat(), &mut grad, &mut work));
    });
    let m = batch.num_steps();
    GradientCost { width, episodes, steps: m, per_step: per_step / m as f64, batched: batched / m as f64 }
}
// ANCHOR_END: gradient_cost
