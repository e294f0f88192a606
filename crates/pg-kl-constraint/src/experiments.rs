//! Chapter 6's experiments: NPG, TRPO and PPO on CartPole and Pendulum,
//! the KL each update actually took, and the deliberately broken
//! Fisher-vector products that the checks must catch.

pub mod broken;
pub mod checks;

use crate::Head;
use crate::natural::{BACKTRACKS, CG_ITERS, FISHER_EVERY, NaturalGradient};
use crate::ppo::Ppo;
use pg_baselines::{ValueBaseline, ValueFunction};
use pg_core::env::{CartPole, Pendulum};
use pg_core::policy::{Categorical, Gaussian, Mlp};
use pg_core::rng::substream;
use pg_core::{Batch, PgError, Policy};
use pg_importance_sampling::reuse::mean_kl;
use pg_likelihood_ratio::PolicyGradient;
use pg_likelihood_ratio::experiments::{CartPoleSetup, runs_grid};
use pg_likelihood_ratio::registry::{UpdateWork, ValueFitWork};
use pg_likelihood_ratio::{Estimator, TrainConfig, TrainLog, Update, UpdateStats, train};
use pg_surrogate::Surrogate;
use pg_surrogate::evaluate::train_evaluated;
use pg_surrogate::experiments::PendulumSetup;
use pg_surrogate::normalize::NormalizedAdvantages;

/// The constrained updates of this chapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algo {
    /// The natural policy gradient: a step of quadratic KL δ.
    Npg,
    /// TRPO: the natural step with a line search on the measured KL and surrogate.
    Trpo,
    /// PPO with the clipped objective.
    Ppo,
    /// PPO with the adaptive KL penalty.
    PpoPenalty,
}

impl Algo {
    /// The name used in tables, plots and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Algo::Npg => "NPG",
            Algo::Trpo => "TRPO",
            Algo::Ppo => "PPO (clip)",
            Algo::PpoPenalty => "PPO (KL penalty)",
        }
    }
}

/// The settings of a constrained run.
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    /// Seeds, one run each.
    pub seeds: Vec<u64>,
    /// Hidden widths of the policy's and the value's networks.
    pub hidden: Vec<usize>,
    /// Episodes per batch.
    pub batch: usize,
    /// The budget in environment steps.
    pub max_env_steps: usize,
    /// The trust region δ of NPG and TRPO.
    pub delta: f64,
    /// NPG and TRPO estimate F from every this many-th state.
    pub fisher_every: usize,
    /// PPO's clip range ε.
    pub clip: f64,
    /// PPO's KL target for the penalty variant.
    pub kl_target: f64,
    /// PPO's passes over each batch.
    pub epochs: usize,
    /// PPO's steps per minibatch.
    pub minibatch: usize,
    /// PPO's Adam step size.
    pub lr: f64,
    /// PPO's largest minibatch-gradient norm, if any.
    pub max_grad_norm: Option<f64>,
    /// The discount γ.
    pub gamma: f64,
    /// GAE's λ.
    pub lambda: f64,
    /// The value function's Adam step size.
    pub value_lr: f64,
    /// Value-function steps per batch.
    pub value_steps: usize,
    /// States per value-function step.
    pub value_minibatch: usize,
    /// The Gaussian's initial log σ (Pendulum only).
    pub log_std: f64,
    /// Environment steps between evaluations by the book's protocol
    /// (Pendulum only); a whole number of batches.
    pub eval_every: usize,
}

impl Setup {
    /// The defaults for CartPole.
    pub fn cartpole() -> Self {
        Self {
            seeds: (0..10).collect(),
            hidden: vec![32, 32],
            batch: 8,
            max_env_steps: 100_000,
            delta: 0.01,
            fisher_every: FISHER_EVERY,
            clip: 0.2,
            kl_target: 0.01,
            epochs: 10,
            minibatch: 64,
            lr: 0.001,
            max_grad_norm: Some(0.5),
            gamma: 0.99,
            lambda: 0.95,
            value_lr: 0.01,
            value_steps: 20,
            value_minibatch: 64,
            log_std: 0.0,
            eval_every: 8_000,
        }
    }

    /// The defaults for Pendulum: CartPole's, with a wider network, batches
    /// of 8 episodes (1600 steps), a shorter credit horizon (γ = 0.9) and a
    /// value function fitted harder.
    pub fn pendulum() -> Self {
        Self {
            hidden: vec![64, 64],
            batch: 8,
            max_env_steps: 200_000,
            gamma: 0.9,
            value_lr: 0.003,
            value_steps: 200,
            value_minibatch: 128,
            log_std: -0.5,
            ..Self::cartpole()
        }
    }

    /// GAE(λ) from a learned value function (of the policy's widths), whose
    /// initial weights come from stream 2000 of `seed`.
    pub fn value_baseline(&self, obs_dim: usize, seed: u64) -> Result<ValueBaseline, PgError> {
        let value = ValueFunction::new(
            obs_dim,
            &self.hidden,
            self.value_lr,
            self.value_steps,
            &mut substream(seed, 2_000),
        )?
        .with_minibatch(self.value_minibatch)?;
        ValueBaseline::new(value, self.gamma)?.with_gae(self.lambda)
    }

    /// The advantages every constrained run uses: GAE(λ), standardised per batch.
    pub fn advantages(
        &self,
        obs_dim: usize,
        seed: u64,
    ) -> Result<NormalizedAdvantages<ValueBaseline>, PgError> {
        Ok(NormalizedAdvantages(self.value_baseline(obs_dim, seed)?))
    }

    fn clipped_norm<E>(&self, ppo: Ppo<E>) -> Result<Ppo<E>, PgError> {
        match self.max_grad_norm {
            Some(max) => ppo.with_max_grad_norm(max),
            None => Ok(ppo),
        }
    }

    /// The update of `algo` with these settings.
    pub fn update<P, E>(
        &self,
        algo: Algo,
        estimator: E,
        seed: u64,
    ) -> Result<Box<dyn Update<P> + Send>, PgError>
    where
        P: Head + 'static,
        E: Estimator<P> + Send + 'static,
    {
        Ok(match algo {
            Algo::Npg => {
                Box::new(NaturalGradient::npg(estimator, self.delta)?.with_fisher_every(self.fisher_every)?)
            }
            Algo::Trpo => {
                Box::new(NaturalGradient::trpo(estimator, self.delta)?.with_fisher_every(self.fisher_every)?)
            }
            Algo::Ppo => {
                let ppo = Ppo::clip(estimator, self.clip, self.epochs, self.minibatch, self.lr, seed)?;
                Box::new(self.clipped_norm(ppo)?)
            }
            Algo::PpoPenalty => {
                let ppo =
                    Ppo::kl_penalty(estimator, self.kl_target, self.epochs, self.minibatch, self.lr, seed)?;
                Box::new(self.clipped_norm(ppo)?)
            }
        })
    }

    /// What one update of `algo` costs in passes of the policy's network
    /// over the batch (see [`UpdateWork`]), counted from the code above:
    /// every update reads the old policy's rows (a forward pass) and fits
    /// the value function; NPG adds the surrogate's gradient, F from every
    /// `fisher_every`-th state and CG's products with it (a forward-mode
    /// and a backward pass each, 4 multiply-adds per parameter and state)
    /// and a forward pass for the KL; TRPO a forward pass per step of its
    /// line search; PPO a pass per minibatch (two with the KL penalty's
    /// gradient) and forward passes for the KL and the clipped fraction.
    pub fn work(&self, algo: Algo, obs_dim: usize) -> UpdateWork {
        const FORWARD: f64 = 1.0 / 3.0;
        let fisher = (FORWARD + (CG_ITERS + 1) as f64 * 4.0 / 3.0) / self.fisher_every as f64;
        let (epochs, per_epoch, besides, minibatch) = match algo {
            Algo::Npg => (1, 1.0, FORWARD + fisher + FORWARD, None),
            Algo::Trpo => (1, 1.0, FORWARD + fisher + (BACKTRACKS + 1) as f64 * FORWARD, None),
            Algo::Ppo => (self.epochs, 1.0, 3.0 * FORWARD, Some(self.minibatch)),
            Algo::PpoPenalty => (self.epochs, 2.0, 2.0 * FORWARD, Some(self.minibatch)),
        };
        let value = ValueFitWork {
            params: Mlp::new(obs_dim, &self.hidden, 1).num_params(),
            steps: self.value_steps,
            minibatch: self.value_minibatch,
        };
        UpdateWork { epochs, per_epoch, besides, minibatch, per_episode_pair: 0.0, value_fit: Some(value) }
    }
}

// ANCHOR: train_cartpole
/// Trains the chapters' CartPole policy (a softmax MLP) with `algo`.
pub fn train_cartpole(algo: Algo, seed: u64, setup: &Setup) -> Result<TrainLog, PgError> {
    let update = setup.update(algo, setup.advantages(4, seed)?, seed)?;
    train_cartpole_with(update, seed, setup)
}

/// Trains the CartPole policy of seed `seed` with any update, for the
/// setup's budget in batches of the setup's size.
pub fn train_cartpole_with(
    mut update: Box<dyn Update<Categorical> + Send>,
    seed: u64,
    setup: &Setup,
) -> Result<TrainLog, PgError> {
    let mut policy = Categorical::mlp(4, &setup.hidden, 2, &mut substream(seed, 1_000));
    let config =
        TrainConfig { iters: usize::MAX, batch: setup.batch, seed, max_env_steps: Some(setup.max_env_steps) };
    train(&mut CartPole::new(), &mut policy, update.as_mut(), &config, |_| {})
}
// ANCHOR_END: train_cartpole

// ANCHOR: train_pendulum
/// Trains a Gaussian MLP policy (state-independent σ) on Pendulum with
/// `algo`, evaluating it by the book's protocol ([`pg_surrogate::evaluate`])
/// every `setup.eval_every` environment steps.
pub fn train_pendulum(algo: Algo, seed: u64, setup: &Setup) -> Result<TrainLog, PgError> {
    let mut policy = Gaussian::mlp(3, &setup.hidden, 1, setup.log_std, &mut substream(seed, 1_000));
    let mut update = setup.update(algo, setup.advantages(3, seed)?, seed)?;
    let config =
        TrainConfig { iters: usize::MAX, batch: setup.batch, seed, max_env_steps: Some(setup.max_env_steps) };
    train_evaluated(Pendulum::new(), &mut policy, update.as_mut(), &config, setup.eval_every)
}
// ANCHOR_END: train_pendulum

/// An update that also measures the mean KL between the policy before and
/// after it, over the batch's states (for updates that do not report it).
pub struct WithKl<U>(pub U);

impl<P: Policy + Clone, U: Update<P>> Update<P> for WithKl<U> {
    fn name(&self) -> String {
        self.0.name()
    }

    fn update(
        &mut self,
        policy: &mut P,
        batch: &Batch<P::Action>,
        iteration: usize,
    ) -> Result<UpdateStats, PgError> {
        let before = policy.clone();
        let mut stats = self.0.update(policy, batch, iteration)?;
        if stats.get("kl").is_none() {
            stats.metrics.push(("kl", mean_kl(&before, policy, batch)));
        }
        Ok(stats)
    }
}

// ANCHOR: step_size
/// A step-size setting of the robustness experiment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepRule {
    /// Plain gradient ascent on the surrogate, θ ← θ + α ĝ, with this α.
    Gradient(f64),
    /// NPG with this δ.
    Npg(f64),
    /// TRPO with this δ.
    Trpo(f64),
}

impl StepRule {
    /// The label of the rule in figures and tables.
    pub fn name(self) -> String {
        match self {
            StepRule::Gradient(alpha) => format!("gradient ascent, α = {alpha}"),
            StepRule::Npg(delta) => format!("NPG, δ = {delta}"),
            StepRule::Trpo(delta) => format!("TRPO, δ = {delta}"),
        }
    }
}

/// CartPole with one step rule, the same advantages for all: the KL that
/// each update took is in the log's `kl` metric.
pub fn train_step_rule(rule: StepRule, seed: u64, setup: &Setup) -> Result<TrainLog, PgError> {
    let adv = setup.advantages(4, seed)?;
    let update: Box<dyn Update<Categorical> + Send> = match rule {
        StepRule::Gradient(alpha) => Box::new(WithKl(PolicyGradient::sgd(Surrogate(adv), alpha)?)),
        StepRule::Npg(delta) => {
            Box::new(NaturalGradient::npg(adv, delta)?.with_fisher_every(setup.fisher_every)?)
        }
        StepRule::Trpo(delta) => {
            Box::new(NaturalGradient::trpo(adv, delta)?.with_fisher_every(setup.fisher_every)?)
        }
    };
    train_cartpole_with(update, seed, setup)
}
// ANCHOR_END: step_size

/// Chapter 4's Pendulum run (one Adam step along GAE advantages per batch,
/// chapter 4's settings) with this setup's discount, budget and evaluation
/// interval, so that it compares like for like.
pub fn train_pendulum_chapter4(seed: u64, setup: &Setup) -> Result<TrainLog, PgError> {
    pg_surrogate::experiments::train_pendulum(seed, &chapter4_setup(setup))
}

/// Chapter 4's Pendulum settings with `setup`'s γ, budget and evaluation interval.
pub fn chapter4_setup(setup: &Setup) -> PendulumSetup {
    PendulumSetup {
        gamma: setup.gamma,
        max_env_steps: setup.max_env_steps,
        eval_every: setup.eval_every,
        ..Default::default()
    }
}

/// Runs `run(algo, seed)` for every pair, on every core; `result[a][s]`.
pub fn runs(
    algos: &[Algo],
    seeds: &[u64],
    run: impl Fn(Algo, u64) -> Result<TrainLog, PgError> + Sync,
) -> Result<Vec<Vec<TrainLog>>, PgError> {
    runs_grid(algos, seeds, |&a, s| run(a, s))
}

/// Builds a fresh estimator for one run.
pub type EstimatorMaker = fn() -> Result<Box<dyn Estimator<Categorical> + Send>, PgError>;

/// An earlier chapter's estimator on CartPole with that chapter's settings,
/// its gradient through chapter 4's batched surrogate.
pub fn train_cartpole_batched(
    make: EstimatorMaker,
    seed: u64,
    setup: &CartPoleSetup,
) -> Result<TrainLog, PgError> {
    pg_likelihood_ratio::experiments::train_cartpole(Surrogate(make()?), seed, setup)
}
