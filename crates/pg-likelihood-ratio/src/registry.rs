//! How each chapter describes the algorithms it introduces, and how to build
//! them, for `pg train --algo`, `pg bench` and the book's Play page, which
//! all read these descriptions (chapter by chapter: each crate's
//! `ALGORITHMS`). A new algorithm is one [`Algorithm`] in its chapter's list.

use crate::{Estimator, Reinforce, Update};
use ndarray::Array1;
use pg_core::env::TabularMdp;
use pg_core::policy::{Categorical, Gaussian, TabularSoftmax};
use pg_core::rng::substream;
use pg_core::{Batch, Policy};
pub use serde_json::Value;
use std::str::FromStr;

/// One algorithm as the command line and the Play page offer it.
#[derive(Debug, Clone, Copy)]
pub struct Algorithm {
    /// The value of `pg train --algo`.
    pub name: &'static str,
    /// The chapter that introduces it.
    pub chapter: u8,
    /// A short title for menus.
    pub title: &'static str,
    /// Its line in `pg train --help`.
    pub about: &'static str,
    /// The flags that tune it on CartPole (besides `--seed` and
    /// `--max-env-steps`, which every run takes). `pg train` refuses the
    /// ones other algorithms list, naming those that take them.
    pub flags: &'static [&'static str],
    /// Listed flags it takes only in some of its variants, with the variant,
    /// e.g. ("--gae-lambda", "--baseline value"), for the refusals to name.
    pub only_with: &'static [(&'static str, &'static str)],
    /// Why it refuses a flag that other algorithms take, e.g. ("--lr", "its
    /// step is set by --delta").
    pub refuses: &'static [(&'static str, &'static str)],
    /// Flags that select one of its variants, if any: (name, flags), e.g.
    /// ("vectorised", "--batch-steps 5000"), chapter 7's sampler for reward-to-go.
    pub presets: &'static [(&'static str, &'static str)],
    /// Its defaults for the settings every run has, where they differ from the environment's.
    pub defaults: FromContext<RunDefaults>,
    /// Its own settings as the run summary reports them, keyed by flag name
    /// without dashes (`--gae-lambda` → `gae_lambda`), with the defaults
    /// applied; or an error naming a flag it does not take in this variant.
    pub settings: FromContext<Settings>,
    /// How to build it.
    pub build: Build,
}

/// How an algorithm is built.
#[derive(Debug, Clone, Copy)]
pub enum Build {
    /// A gradient estimator, which the run follows with Adam (chapters 1 to 5).
    Estimator(Estimators),
    /// An update of its own, on whole batches of a network policy (chapter 6).
    Update(Updates),
}

/// Reads a `T` from the run's context, or fails naming the flag at fault.
pub type FromContext<T> = fn(&Context) -> Result<T, String>;

/// An algorithm's own settings, keyed as in the run summary.
pub type Settings = Vec<(&'static str, Value)>;

/// Builds an estimator for policies of type `P`.
pub type EstimatorFn<P> = FromContext<Box<dyn Estimator<P>>>;

/// Builds an update for policies of type `P`.
pub type UpdateFn<P> = FromContext<Box<dyn Update<P>>>;

/// An estimator for each kind of policy the environments use.
#[derive(Debug, Clone, Copy)]
pub struct Estimators {
    /// For the tabular MDPs.
    pub tabular: EstimatorFn<TabularSoftmax>,
    /// For CartPole's softmax over a network.
    pub categorical: EstimatorFn<Categorical>,
    /// For Pendulum's Gaussian.
    pub gaussian: EstimatorFn<Gaussian>,
    /// Adam steps on each batch, the later ones off-policy (chapter 5), or
    /// `None` for one on-policy step.
    pub reuse: Option<FromContext<usize>>,
    /// Whether its gradient is a weighting of the steps' scores, which the
    /// batched surrogate computes in one pass (the optimal constant baseline
    /// weighs each parameter instead).
    pub weighs_steps: fn(&Context) -> bool,
    /// Its weights in chapter 7's vectorised sampler, if it runs there.
    pub lockstep: Option<FromContext<Weights>>,
    /// What one of its gradients costs (and its value function's fit),
    /// which the run's bound on an iteration's work reads before anything is built.
    pub work: FromContext<UpdateWork>,
}

/// An update for each kind of network policy.
#[derive(Debug, Clone, Copy)]
pub struct Updates {
    /// For CartPole's softmax over a network.
    pub categorical: UpdateFn<Categorical>,
    /// For Pendulum's Gaussian.
    pub gaussian: UpdateFn<Gaussian>,
    /// What one update costs, which the run's bound on an iteration's work
    /// reads before anything is built.
    pub work: FromContext<UpdateWork>,
}

/// The gradient work of one update, counted in passes of the policy's
/// network over the batch: a pass is a forward and a backward pass over
/// every step, 3 multiply-adds per parameter and step (1 forward, 2
/// backward); a forward pass alone is ⅓ of one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpdateWork {
    /// Epochs over the batch (PPO's `--epochs`, chapter 5's `--reuse`; 1 for a single step).
    pub epochs: usize,
    /// Passes per epoch.
    pub per_epoch: f64,
    /// Passes besides the epochs (the old policy's rows, Fisher products, a line search).
    pub besides: f64,
    /// States per optimiser step, if an epoch goes in minibatches.
    pub minibatch: Option<usize>,
    /// Multiply-adds per parameter and ordered pair of episodes, per epoch
    /// (the optimal baseline's leave-one-out sums).
    pub per_episode_pair: f64,
    /// The value function fitted on each batch, if any.
    pub value_fit: Option<ValueFitWork>,
}

/// A value function fitted on each batch: its size and its fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValueFitWork {
    /// Its network's parameters.
    pub params: usize,
    /// Adam steps per batch.
    pub steps: usize,
    /// States per step.
    pub minibatch: usize,
}

impl UpdateWork {
    /// One pass: a gradient from one forward and one backward pass.
    pub const ONE_PASS: UpdateWork = UpdateWork {
        epochs: 1,
        per_epoch: 1.0,
        besides: 0.0,
        minibatch: None,
        per_episode_pair: 0.0,
        value_fit: None,
    };

    /// The multiply-adds of the update's network passes over a batch of
    /// `steps` steps in `episodes` episodes at most, for a policy of
    /// `params` parameters: what `pg_core::policy::multiply_adds` counts.
    /// The value function is run forward over every state of the batch (the
    /// steps' and each episode's last) twice, for the advantages and for its
    /// targets, then fitted.
    pub fn pass_multiply_adds(&self, steps: f64, episodes: f64, params: f64) -> f64 {
        let passes = self.epochs as f64 * self.per_epoch + self.besides;
        let value = self.value_fit.map_or(0.0, |v| {
            v.params as f64
                * (2.0 * (steps + episodes) + v.steps as f64 * 3.0 * steps.min(v.minibatch as f64))
        });
        3.0 * passes * steps * params + value
    }
}

/// The multiply-adds of the network passes that one gradient of `estimator`
/// and its fit make on `batch`, as `pg_core::policy::multiply_adds` counts
/// them, and what `work` declares for them, for a policy whose network has
/// `params` parameters: how each chapter tests its entry's `work`.
pub fn counted_and_declared<P: Policy>(
    estimator: &mut dyn Estimator<P>,
    work: &UpdateWork,
    policy: &P,
    batch: &Batch<P::Action>,
    params: usize,
) -> (f64, f64) {
    let before = pg_core::policy::multiply_adds();
    let _ = estimator.gradient(policy, batch);
    estimator.fit(policy, batch).expect("the value function fits");
    let counted = pg_core::policy::multiply_adds() - before;
    let (steps, episodes) = (batch.num_steps() as f64, batch.trajectories.len() as f64);
    (counted, work.pass_multiply_adds(steps, episodes, params as f64))
}

/// The work of an estimator that takes one pass per gradient.
pub fn one_pass(_: &Context) -> Result<UpdateWork, String> {
    Ok(UpdateWork::ONE_PASS)
}

/// The weights of chapter 7's vectorised sampler.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Weights {
    /// The whole return on every step (chapter 1).
    Return,
    /// The reward-to-go discounted by γ (chapter 2).
    RewardToGo(f64),
}

/// An algorithm's defaults for settings every run has; `None` leaves the environment's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunDefaults {
    /// A budget in environment steps, with no limit on iterations.
    pub max_env_steps: Option<usize>,
    /// Episodes per batch.
    pub batch: Option<usize>,
    /// Adam's step size.
    pub lr: Option<f64>,
    /// Hidden widths of the policy's network.
    pub hidden: Option<Vec<usize>>,
    /// The Gaussian's initial log σ.
    pub log_std: Option<f64>,
    /// Environment steps between Pendulum's evaluations.
    pub eval_every: Option<usize>,
    /// Whether observations are standardised.
    pub normalize_observations: Option<bool>,
    /// Whether the weights are standardised within each batch.
    pub normalize_advantages: Option<bool>,
}

/// No defaults of its own.
pub fn no_defaults(_: &Context) -> Result<RunDefaults, String> {
    Ok(RunDefaults::default())
}

/// No settings of its own.
pub fn no_settings(_: &Context) -> Result<Settings, String> {
    Ok(vec![])
}

/// Settings of a learned value function V(s) that an environment was tuned
/// with (Pendulum's, in chapter 4).
#[derive(Debug, Clone, PartialEq)]
pub struct ValueSetting {
    /// Hidden widths.
    pub hidden: Vec<usize>,
    /// Adam's step size.
    pub lr: f64,
    /// Adam steps per batch.
    pub steps: usize,
    /// States per step.
    pub minibatch: usize,
    /// The discount γ of its targets.
    pub gamma: f64,
    /// GAE's λ.
    pub lambda: f64,
}

/// What a builder reads: the run's environment and seed, and the flags given.
#[derive(Debug, Clone)]
pub struct Context {
    /// The environment's name, e.g. `cartpole`.
    pub env: &'static str,
    /// The size of its observations.
    pub obs_dim: usize,
    /// Whether its policy is tabular.
    pub tabular: bool,
    /// The run's seed.
    pub seed: u64,
    /// The value function the environment was tuned with, if any.
    pub value: Option<ValueSetting>,
    /// The flags given, with their values as text (already checked by the command line).
    pub flags: Vec<(&'static str, String)>,
    /// Whether the run standardises the weights within each batch, as it
    /// resolved it (the flag, else the algorithm's default, else the
    /// environment's): set before the builders run, not read by `defaults`.
    pub normalize_advantages: bool,
}

impl Context {
    /// A context for `env` with `flags` given as (flag, value) and no tuned
    /// value function: what the chapters' tests build their entries with.
    pub fn new(
        env: &'static str,
        obs_dim: usize,
        tabular: bool,
        seed: u64,
        flags: &[(&'static str, &str)],
    ) -> Self {
        let flags = flags.iter().map(|(f, v)| (*f, v.to_string())).collect();
        Self { env, obs_dim, tabular, seed, value: None, flags, normalize_advantages: false }
    }

    /// The text given for `flag`, if it was given.
    pub fn text(&self, flag: &str) -> Option<&str> {
        self.flags.iter().find(|(f, _)| *f == flag).map(|(_, v)| v.as_str())
    }

    /// The value given for `flag`, if it was given, or an error naming it.
    pub fn get<T: FromStr>(&self, flag: &str) -> Result<Option<T>, String> {
        self.text(flag)
            .map(|v| v.parse().map_err(|_| format!("{flag} {v:?} is not allowed: it does not parse")))
            .transpose()
    }

    /// Comma-separated widths given for `flag` ("" for none), if it was given.
    pub fn widths(&self, flag: &str) -> Result<Option<Vec<usize>>, String> {
        self.text(flag)
            .map(|v| {
                v.split(',')
                    .filter(|w| !w.trim().is_empty())
                    .map(|w| w.trim().parse().map_err(|_| format!("{flag} {v:?} is not allowed: use widths")))
                    .collect()
            })
            .transpose()
    }
}

/// The gradient the tabular estimator of `algo` (built from `context`)
/// computes on a fixed batch of the three-state MDP; `None` if `algo` is not
/// built from an estimator. The chapters' tests compare it with the
/// estimator the entry should build.
pub fn probe_gradient(algo: &Algorithm, context: &Context) -> Result<Option<Array1<f64>>, String> {
    let Build::Estimator(e) = &algo.build else { return Ok(None) };
    let (policy, batch) = probe();
    Ok(Some((e.tabular)(context)?.gradient(&policy, &batch)))
}

/// The policy and the batch of [`probe_gradient`]: the batch sampled by
/// one policy, the gradient taken at another, so that importance ratios
/// differ from 1.
pub fn probe() -> (TabularSoftmax, Batch<usize>) {
    let mut policy = TabularSoftmax::new(3, 2);
    policy.params_mut().assign(&Array1::from_iter((0..6).map(|i| 0.3 * i as f64 - 0.7)));
    let batch = Batch::sample(&mut TabularMdp::three_state(), &policy, 6, &mut substream(11, 0));
    policy.params_mut().assign(&Array1::from_iter((0..6).map(|i| 0.5 - 0.2 * i as f64)));
    (policy, batch)
}

/// A Gaussian policy on Pendulum (one hidden layer of 8), a batch of 3
/// of its episodes, and its network's parameters: what the chapters test
/// their entries' declared work on (every episode reaches the time limit).
pub fn pendulum_probe() -> (Gaussian, Batch<Array1<f64>>, usize) {
    let rng = &mut substream(7, 0);
    let policy = Gaussian::mlp(3, &[8], 1, -0.5, rng);
    let batch = Batch::sample(&mut pg_core::env::Pendulum::new(), &policy, 3, rng);
    (policy, batch, pg_core::policy::Mlp::new(3, &[8], 1).num_params())
}

/// For an entry whose gradient is one pass: the multiply-adds counted for
/// its gradient on [`pendulum_probe`], what its `work` declares, and one
/// pass (a forward and a backward pass over every step), which should all agree.
pub fn one_pass_work(algorithm: &Algorithm) -> Result<[f64; 3], String> {
    let (policy, batch, params) = pendulum_probe();
    let Build::Estimator(e) = algorithm.build else { return Err("not an estimator".into()) };
    let context = Context::new("pendulum", 3, false, 0, &[]);
    let (work, mut estimator) = ((e.work)(&context)?, (e.gaussian)(&context)?);
    let (counted, declared) = counted_and_declared(estimator.as_mut(), &work, &policy, &batch, params);
    Ok([counted, declared, 3.0 * (batch.num_steps() * params) as f64])
}

/// REINFORCE for any policy.
fn reinforce<P: Policy + 'static>(_: &Context) -> Result<Box<dyn Estimator<P>>, String> {
    Ok(Box::new(Reinforce))
}

/// Chapter 1's algorithm.
pub const ALGORITHMS: &[Algorithm] = &[Algorithm {
    name: "reinforce",
    chapter: 1,
    title: "REINFORCE",
    about: "Chapter 1: every step weighted by the whole return",
    flags: &["--batch", "--lr", "--hidden"],
    only_with: &[],
    refuses: &[],
    presets: &[],
    defaults: no_defaults,
    settings: no_settings,
    build: Build::Estimator(Estimators {
        tabular: reinforce,
        categorical: reinforce,
        gaussian: reinforce,
        reuse: None,
        weighs_steps: |_| true,
        lockstep: Some(|_| Ok(Weights::Return)),
        work: one_pass,
    }),
}];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reinforces_entry_builds_reinforce() {
        let context = Context::new("mdp", 3, true, 0, &[]);
        let (policy, batch) = probe();
        let direct = Reinforce.gradient(&policy, &batch);
        assert!(direct.iter().any(|g| *g != 0.0), "the probe has a gradient to compare");
        assert_eq!(probe_gradient(&ALGORITHMS[0], &context).unwrap(), Some(direct));
        let Build::Estimator(e) = ALGORITHMS[0].build else { panic!("an estimator") };
        assert_eq!(e.lockstep.map(|w| w(&context)), Some(Ok(Weights::Return)));
        assert!(e.reuse.is_none() && (e.weighs_steps)(&context));
    }

    #[test]
    fn reinforces_entry_declares_the_work_of_its_gradient() {
        let [counted, declared, one_pass] = one_pass_work(&ALGORITHMS[0]).unwrap();
        assert_eq!((counted, declared), (one_pass, one_pass));
    }

    #[test]
    fn a_context_reads_the_flags_given() {
        let c =
            Context::new("cartpole", 4, false, 0, &[("--gamma", "0.9"), ("--hidden", "8, 4"), ("--x", "")]);
        assert_eq!(c.get::<f64>("--gamma"), Ok(Some(0.9)));
        assert_eq!(c.get::<f64>("--delta"), Ok(None));
        assert!(c.get::<usize>("--gamma").unwrap_err().contains("--gamma"));
        assert_eq!(c.widths("--hidden"), Ok(Some(vec![8, 4])));
        assert_eq!(c.widths("--x"), Ok(Some(vec![])));
    }
}
