//! # Chapter 7: how fast
//!
//! Nothing in the mathematics changes here. The estimator is chapter 2's
//! reward-to-go, computed as chapter 4's surrogate gradient; what changes is
//! how the samples are produced and where the time goes.
//!
//! - **Vectorised environments.** [`CartPoles`] keeps many cart-poles as a
//!   struct of arrays and steps them together.
//! - **One batched policy pass per step.** A [`Group`] advances its
//!   environments in lockstep: the running episodes' observations become the
//!   rows of one matrix, one forward pass gives every row's logits, and every
//!   buffer is reused, so the inner loop allocates nothing.
//! - **Parallel groups, reproducible results.** A [`Sampler`] holds several
//!   groups, each with its own random stream, and samples them on rayon's
//!   threads. A group's batch depends only on its stream, and the groups'
//!   gradients are added in group order, so a run gives the same bits on one
//!   thread or many.

pub mod book;
mod cartpoles;
pub mod experiments;
mod lockstep;

pub use cartpoles::CartPoles;
pub use lockstep::{EpisodeRecord, Group, Quota, Weighting};

use ndarray::Array1;
use pg_core::clock::Stopwatch;
use pg_core::error::{PgError, at_least_one, positive, unit_interval};
use pg_core::optim::{Adam, Optimizer};
use pg_core::policy::Categorical;
use pg_core::{Batch, Policy, rng::substream};
use pg_likelihood_ratio::update::UpdateStats;
use pg_likelihood_ratio::{IterStats, TrainLog};
use rayon::prelude::*;

// ANCHOR: sampler
/// Groups of environments sampled in parallel. Group j draws from stream
/// 2³² + j of the run's seed and takes its share of the quota, so what it
/// samples does not depend on which thread runs it, or on how many there are.
#[derive(Debug, Clone)]
pub struct Sampler {
    groups: Vec<Group>,
    quota: Quota,
}

impl Sampler {
    /// `groups` groups of `envs` environments, each batch holding `quota`.
    pub fn new(groups: usize, envs: usize, quota: Quota, seed: u64) -> Result<Self, PgError> {
        Self::check(groups, envs, quota)?;
        let groups = (0..groups).map(|j| Group::new(envs, substream(seed, (1 << 32) + j as u64))).collect();
        Ok(Self { groups, quota })
    }

    /// Rejects zero groups, environments or quota, naming the value.
    fn check(groups: usize, envs: usize, quota: Quota) -> Result<(), PgError> {
        at_least_one("groups", groups)?;
        at_least_one("envs", envs)?;
        let (Quota::Steps(n) | Quota::Episodes(n)) = quota;
        at_least_one("batch", n)?;
        if n < groups {
            return Err(PgError::InvalidConfig {
                name: "batch",
                value: n.to_string(),
                allowed: "at least one step or episode for each group (--groups)",
            });
        }
        Ok(())
    }

    /// Samples a new batch with `policy`, every group on its own thread when there are threads to spare.
    pub fn sample(&mut self, policy: &Categorical) {
        let (quota, n) = (self.quota, self.groups.len());
        self.groups.par_iter_mut().enumerate().for_each(|(j, g)| g.sample(policy, quota.share(j, n)));
    }

    /// The last batch as whole trajectories, group after group, for the
    /// updates of chapters 1 to 6, which take a [`Batch`].
    pub fn batch(&self) -> Batch<usize> {
        Batch { trajectories: self.groups.iter().flat_map(Group::trajectories).collect() }
    }

    /// The groups, in order.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The number of steps in the batch.
    pub fn num_steps(&self) -> usize {
        self.groups.iter().map(Group::num_steps).sum()
    }

    /// The number of episodes N in the batch.
    pub fn num_episodes(&self) -> usize {
        self.groups.iter().map(|g| g.episodes().len()).sum()
    }

    /// Samples a new batch and returns the surrogate L and ĝ = −∇θ L for it.
    /// Without normalisation each group samples, weighs and computes its
    /// part of the gradient in one parallel task, so the threads wait for
    /// each other once per batch rather than twice.
    pub fn sample_gradient(
        &mut self,
        policy: &Categorical,
        weighting: Weighting,
        normalize: bool,
    ) -> (f64, Array1<f64>) {
        if normalize {
            self.sample(policy);
            return self.gradient(policy, weighting, true);
        }
        let (quota, groups) = (self.quota, self.groups.len());
        self.group_gradients(policy, |j, g| {
            g.sample(policy, quota.share(j, groups));
            g.weigh(weighting);
        })
    }

    /// Runs `prepare` on every group and then its part of ∇θ L with N = 1,
    /// in parallel; returns (Σⱼ Lⱼ / N, −Σⱼ ∇Lⱼ / N), the parts added in group
    /// order and divided by the batch's N.
    fn group_gradients(
        &mut self,
        policy: &Categorical,
        prepare: impl Fn(usize, &mut Group) + Sync,
    ) -> (f64, Array1<f64>) {
        let parts: Vec<(f64, Array1<f64>)> = self
            .groups
            .par_iter_mut()
            .enumerate()
            .map(|(j, g)| {
                prepare(j, g);
                let mut grad = Array1::zeros(policy.num_params());
                (g.add_surrogate_gradient(policy, 1, &mut grad), grad)
            })
            .collect();
        let n = self.num_episodes() as f64;
        let mut grad = Array1::zeros(policy.num_params());
        let mut loss = 0.0;
        for (l, g) in &parts {
            loss += l;
            grad -= g;
        }
        (loss / n, grad / n)
    }

    /// ĝ for the last batch: every group weighs its rows and computes its
    /// part of the surrogate's gradient in parallel; the parts are added in
    /// group order. With `normalize`, the weights are standardised over the
    /// whole batch first. Returns the surrogate L and ĝ = −∇θ L.
    pub fn gradient(
        &mut self,
        policy: &Categorical,
        weighting: Weighting,
        normalize: bool,
    ) -> (f64, Array1<f64>) {
        self.groups.par_iter_mut().for_each(|g| g.weigh(weighting));
        if normalize {
            let m = self.num_steps().max(1) as f64;
            let sum = |f: &dyn Fn(f64) -> f64| -> f64 {
                self.groups.iter().map(|g| g.weights().iter().map(|&w| f(w)).sum::<f64>()).sum()
            };
            let mean = sum(&|w| w) / m;
            let sd = (sum(&|w| (w - mean).powi(2)) / m).sqrt();
            self.groups.par_iter_mut().for_each(|g| g.standardize(mean, sd));
        }
        self.group_gradients(policy, |_, _| {})
    }
}
// ANCHOR_END: sampler

/// The settings of a vectorised training run.
#[derive(Debug, Clone, PartialEq)]
pub struct VecConfig {
    /// What a batch holds.
    pub batch: Quota,
    /// Groups sampled in parallel.
    pub groups: usize,
    /// Environments per group, stepped in lockstep.
    pub envs: usize,
    /// How every step is weighted.
    pub weighting: Weighting,
    /// Standardise the weights over each batch.
    pub normalize: bool,
    /// Adam's step size.
    pub lr: f64,
    /// Seeds every group's stream.
    pub seed: u64,
    /// Iterations: batches sampled, each followed by one Adam step.
    pub iters: usize,
    /// Stops after the first iteration that brings the environment steps to at least this many.
    pub max_env_steps: Option<usize>,
}

impl VecConfig {
    /// Reward-to-go (γ = 1) from batches of at least `batch_steps` steps,
    /// Adam with step size 0.01, two groups of five environments (so that a
    /// batch of 500-step episodes holds about 5000 steps).
    pub fn reward_to_go(batch_steps: usize) -> Self {
        Self {
            batch: Quota::Steps(batch_steps),
            groups: 2,
            envs: 5,
            weighting: Weighting::RewardToGo(1.0),
            normalize: false,
            lr: 0.01,
            seed: 0,
            iters: 1000,
            max_env_steps: None,
        }
    }

    /// Rejects settings that cannot train, naming the value and what is allowed.
    pub fn validate(&self) -> Result<(), PgError> {
        Sampler::check(self.groups, self.envs, self.batch)?;
        positive("lr", self.lr)?;
        if let Weighting::RewardToGo(gamma) = self.weighting {
            unit_interval("gamma", gamma)?;
        }
        at_least_one("iters", self.iters)?;
        if let Some(steps) = self.max_env_steps {
            at_least_one("max-env-steps", steps)?;
        }
        Ok(())
    }
}

// ANCHOR: train
/// Chapter 1's training loop with the vectorised sampler: sample, compute
/// ĝ, one Adam step, repeat. The log has the same form as chapter 1's.
pub fn train(
    policy: &mut Categorical,
    config: &VecConfig,
    mut on_iter: impl FnMut(&IterStats),
) -> Result<TrainLog, PgError> {
    let mut run = VecLoop::new(config)?;
    while !run.finished() {
        on_iter(run.step(policy)?);
    }
    Ok(run.into_log())
}

/// The state of a vectorised run between iterations, so that it can also
/// advance one batch at a time (the browser's Play page does).
#[derive(Debug, Clone)]
pub struct VecLoop {
    config: VecConfig,
    sampler: Sampler,
    adam: Adam,
    log: TrainLog,
    clock: Stopwatch,
}

impl VecLoop {
    /// A run of `config` that has not sampled yet; fails if `config` is invalid.
    pub fn new(config: &VecConfig) -> Result<Self, PgError> {
        config.validate()?;
        Ok(Self {
            config: config.clone(),
            sampler: Sampler::new(config.groups, config.envs, config.batch, config.seed)?,
            adam: Adam::new(config.lr)?,
            log: TrainLog::default(),
            clock: Stopwatch::start(),
        })
    }

    /// Whether the iterations or the step budget are spent.
    pub fn finished(&self) -> bool {
        self.log.spent(self.config.iters, self.config.max_env_steps)
    }

    /// One iteration: sample a batch, compute ĝ, one Adam step.
    pub fn step(&mut self, policy: &mut Categorical) -> Result<&IterStats, PgError> {
        let (config, iter) = (&self.config, self.log.iterations.len());
        let (loss, grad) = self.sampler.sample_gradient(policy, config.weighting, config.normalize);
        let episodes = self.sampler.groups().iter().flat_map(Group::episodes).map(|e| (e.len, e.ret));
        let (env_steps, mean_return) = self.log.record_batch(episodes, self.clock.seconds());
        let non_finite = |what| PgError::NonFinite { what, iteration: iter };
        if !grad.iter().all(|g| g.is_finite()) {
            return Err(non_finite("gradient"));
        }
        self.adam.ascend(policy.params_mut(), &grad);
        if !policy.params().iter().all(|p| p.is_finite()) {
            return Err(non_finite("policy parameters"));
        }
        let update = UpdateStats { metrics: vec![("surrogate", loss)] };
        let wall_seconds = self.clock.seconds();
        self.log.iterations.push(IterStats { iter, env_steps, mean_return, wall_seconds, update });
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

/// Runs `f` on a pool of `threads` threads (so that every parallel step
/// inside it uses exactly that many).
pub fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> Result<R, PgError> {
    Ok(thread_pool(threads)?.install(f))
}

/// A pool of exactly `threads` threads, or an error naming the number.
pub fn thread_pool(threads: usize) -> Result<rayon::ThreadPool, PgError> {
    at_least_one("threads", threads)?;
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|_| PgError::InvalidConfig {
        name: "threads",
        value: threads.to_string(),
        allowed: "a number of threads this system can start",
    })
}
