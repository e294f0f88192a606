//! # Chapter 3: baselines
//!
//! Subtracting from every weight a quantity b that does not depend on the
//! action leaves the gradient's expectation unchanged, because the score has
//! mean zero: E_{a∼πθ(·|s)}[∇θ log πθ(a|s)] = ∇θ Σₐ πθ(a|s) = ∇θ 1 = 0. So
//!
//! ĝ = (1/N) Σᵢ Σₜ ∇θ log πθ(aᵢₜ|sᵢₜ) (Q̂ᵢₜ − bᵢₜ)
//!
//! is unbiased for any b that is a function of the state (and of other,
//! independent trajectories), and a good b makes it far less noisy: the
//! weights now say how much *better than usual* an action did. When every
//! episode lasts the same number of steps, adding a constant to every reward
//! moves Q̂ₜ and the batch mean bₜ together, so the mean baseline's estimate
//! does not depend on the reward's offset. When episodes can end early, the
//! offset rewards every step survived and changes the problem itself: no
//! baseline removes it.
//!
//! This crate adds three baselines to chapter 2's reward-to-go: the batch's
//! mean, the variance-minimising constant per parameter, and a learned
//! state value V(s), with generalised advantage estimation (GAE) built on it.

pub mod book;
pub mod exercises;
pub mod experiments;
pub mod value;

use ndarray::Array1;
use pg_causality::reward_to_go;
use pg_core::error::{PgError, unit_interval};
use pg_core::{Batch, Policy, StepWeights};
use pg_likelihood_ratio::Estimator;
use pg_likelihood_ratio::registry::{
    Algorithm, Build, Context, Estimators, UpdateWork, Value, ValueFitWork, no_defaults,
};
pub use value::{ValueFunction, gae};

/// Every trajectory's reward-to-go, Q̂ᵢₜ (chapter 2, undiscounted).
fn rewards_to_go<A>(batch: &Batch<A>) -> Vec<Vec<f64>> {
    batch.trajectories.iter().map(|t| reward_to_go(&t.rewards, 1.0)).collect()
}

// ANCHOR: mean_baseline
/// The batch's average reward-to-go at the same step as the baseline:
/// wᵢₜ = Q̂ᵢₜ − bᵢₜ. At t = 0 it is the average return; a trajectory that has
/// already ended counts with Q̂ⱼₜ = 0.
///
/// With `leave_one_out`, bᵢₜ = (1/(N−1)) Σ_{j≠i} Q̂ⱼₜ averages the *other*
/// trajectories, which are independent of τᵢ: unbiased. Otherwise
/// bₜ = (1/N) Σⱼ Q̂ⱼₜ includes τᵢ's own Q̂ᵢₜ, which depends on its actions:
/// then wᵢₜ = ((N−1)/N) (Q̂ᵢₜ − b^loo_ᵢₜ) exactly, so E[ĝ] = ((N−1)/N) ∇θ J.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeanBaseline {
    /// Average over the other trajectories only.
    pub leave_one_out: bool,
}

impl<P: Policy> Estimator<P> for MeanBaseline {
    fn name(&self) -> String {
        if self.leave_one_out {
            "mean baseline (leave one out)"
        } else {
            "mean baseline (own return included)"
        }
        .into()
    }

    fn weights(&self, _policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        let q = rewards_to_go(batch);
        let longest = q.iter().map(Vec::len).max().unwrap_or(0);
        let mut sum = vec![0.0; longest];
        for qi in &q {
            sum.iter_mut().zip(qi).for_each(|(s, x)| *s += x);
        }
        let n = batch.len() as f64;
        Some(StepWeights::fill(batch, |i, _, w| {
            for ((w_t, q_t), s_t) in w.iter_mut().zip(&q[i]).zip(&sum) {
                let b = match (self.leave_one_out, batch.len()) {
                    (true, 1) => 0.0,
                    (true, _) => (s_t - q_t) / (n - 1.0),
                    (false, _) => s_t / n,
                };
                *w_t = q_t - b;
            }
        }))
    }
}
// ANCHOR_END: mean_baseline

// ANCHOR: optimal_baseline
/// The variance-minimising constant, one per parameter.
///
/// Write one trajectory's reward-to-go estimate as xₖ = Σₜ ∂ₖ log πθ(aₜ|sₜ) Q̂ₜ
/// and its score as gₖ = Σₜ ∂ₖ log πθ(aₜ|sₜ). With a constant bₖ the estimate is
/// xₖ − bₖ gₖ, whose variance E[(xₖ − bₖ gₖ)²] − (∂ₖJ)² is smallest at
///
/// bₖ* = E[gₖ xₖ] / E[gₖ²]
///
/// (with the whole return instead of Q̂ₜ this is E[gₖ² r(τ)] / E[gₖ²]). The
/// expectations are estimated from the batch: from the other trajectories
/// with `leave_one_out` (unbiased), from all of them otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptimalBaseline {
    /// Estimate bₖ* from the other trajectories only.
    pub leave_one_out: bool,
}

/// Each trajectory's (xᵢ, gᵢ): its reward-to-go estimate Σₜ ∇θ log πθ(aₜ|sₜ) Q̂ₜ and its score Σₜ ∇θ log πθ(aₜ|sₜ).
pub fn estimates_and_scores<P: Policy>(
    policy: &P,
    batch: &Batch<P::Action>,
) -> Vec<(Array1<f64>, Array1<f64>)> {
    batch
        .trajectories
        .iter()
        .map(|t| {
            let mut x = Array1::zeros(policy.num_params());
            for ((obs, a), q) in t.steps().zip(reward_to_go(&t.rewards, 1.0)) {
                policy.add_grad_log_prob(obs, a, q, &mut x);
            }
            (x, policy.score(t))
        })
        .collect()
}

/// ĝ = (1/N) Σᵢ (xᵢ − bᵢ ⊙ gᵢ) for per-parameter baselines bᵢ.
pub fn per_parameter_gradient(
    parts: &[(Array1<f64>, Array1<f64>)],
    mut baseline: impl FnMut(usize) -> Array1<f64>,
) -> Array1<f64> {
    let dim = parts.first().map_or(0, |(x, _)| x.len());
    let mut grad = Array1::zeros(dim);
    for (i, (x, g)) in parts.iter().enumerate() {
        grad += &(x - &(baseline(i) * g));
    }
    grad / parts.len().max(1) as f64
}

impl<P: Policy> Estimator<P> for OptimalBaseline {
    fn name(&self) -> String {
        if self.leave_one_out {
            "optimal constant baseline (leave one out)"
        } else {
            "optimal constant baseline (own trajectory included)"
        }
        .into()
    }

    fn gradient(&self, policy: &P, batch: &Batch<P::Action>) -> Array1<f64> {
        let parts = estimates_and_scores(policy, batch);
        per_parameter_gradient(&parts, |i| {
            let dim = parts[i].0.len();
            let (mut num, mut den) = (Array1::zeros(dim), Array1::<f64>::zeros(dim));
            for (j, (x, g)) in parts.iter().enumerate() {
                if !(self.leave_one_out && j == i) {
                    num += &(g * x);
                    den += &(g * g);
                }
            }
            // No trajectory to learn from in component k: no baseline there.
            ndarray::Zip::from(&num).and(&den).map_collect(|&n, &d| if d > 0.0 { n / d } else { 0.0 })
        })
    }
}
// ANCHOR_END: optimal_baseline

// ANCHOR: value_baseline
/// A learned state value as the baseline: wᵢₜ = Q̂ᵢₜ − V(sᵢₜ), with Q̂
/// discounted by γ; or, with a GAE λ, the generalised advantage Âᵢₜ.
///
/// V is fitted after each policy update on the batch's λ-returns Âₜ + V(sₜ)
/// (λ = 1 without GAE), which bootstrap from V(s_T) where a time limit cut
/// the episode and not where it terminated.
#[derive(Debug, Clone)]
pub struct ValueBaseline {
    value: ValueFunction,
    gamma: f64,
    lambda: Option<f64>,
}

impl ValueBaseline {
    /// Q̂ₜ − V(sₜ) with discount `gamma` (in [0, 1]).
    pub fn new(value: ValueFunction, gamma: f64) -> Result<Self, PgError> {
        Ok(Self { value, gamma: unit_interval("gamma", gamma)?, lambda: None })
    }

    /// Uses GAE(λ) advantages as the weights instead (λ in [0, 1]).
    pub fn with_gae(mut self, lambda: f64) -> Result<Self, PgError> {
        self.lambda = Some(unit_interval("gae-lambda", lambda)?);
        Ok(self)
    }

    /// The value function.
    pub fn value(&self) -> &ValueFunction {
        &self.value
    }

    /// The discount γ.
    pub fn gamma(&self) -> f64 {
        self.gamma
    }

    /// GAE's λ, if the weights are generalised advantages.
    pub fn lambda(&self) -> Option<f64> {
        self.lambda
    }

    /// V(s₀), …, V(s_T) along one trajectory.
    fn values<A>(&self, traj: &pg_core::Trajectory<A>) -> Vec<f64> {
        let states: Vec<_> = traj.obs.iter().map(|o| o.view()).collect();
        self.value.predict_many(&states)
    }

    /// The value targets of one trajectory: Âₜ(λ) + V(sₜ), λ = 1 without GAE.
    pub fn targets<A>(&self, traj: &pg_core::Trajectory<A>) -> Vec<f64> {
        let v = self.values(traj);
        let adv = gae(&traj.rewards, &v, traj.terminated, self.gamma, self.lambda.unwrap_or(1.0));
        adv.iter().zip(&v).map(|(a, v)| a + v).collect()
    }
}

impl<P: Policy> Estimator<P> for ValueBaseline {
    fn name(&self) -> String {
        let sizes = self.value.net().sizes();
        let hidden = &sizes[1..sizes.len() - 1];
        let v = if hidden.is_empty() {
            "affine V".to_string()
        } else {
            format!("V with hidden layers {hidden:?}")
        };
        match self.lambda {
            None => format!("value baseline ({v}, γ = {})", self.gamma),
            Some(l) => format!("GAE (λ = {l}, {v}, γ = {})", self.gamma),
        }
    }

    fn weights(&self, _policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        Some(StepWeights::fill(batch, |_, t, w| {
            let v = self.values(t);
            match self.lambda {
                Some(l) => w.copy_from_slice(&gae(&t.rewards, &v, t.terminated, self.gamma, l)),
                None => {
                    for ((w_t, q), v) in w.iter_mut().zip(reward_to_go(&t.rewards, self.gamma)).zip(&v) {
                        *w_t = q - v;
                    }
                }
            }
        }))
    }

    fn fit(&mut self, _policy: &P, batch: &Batch<P::Action>) -> Result<(), PgError> {
        let mut states = Vec::with_capacity(batch.num_steps());
        let mut targets = Vec::with_capacity(batch.num_steps());
        for t in &batch.trajectories {
            states.extend(t.obs[..t.len()].iter().map(|o| o.view()));
            targets.extend(self.targets(t));
        }
        self.value.regress(&states, &targets).map(|_| ())
    }
}
// ANCHOR_END: value_baseline

/// The values of `--baseline`, with their help.
pub const BASELINES: &[(&str, &str)] = &[
    ("mean", "The other trajectories' average reward-to-go at the same step"),
    ("optimal", "The variance-minimising constant per parameter, from the other trajectories"),
    ("value", "A learned state value V(s), refitted after every update (GAE with --gae-lambda)"),
];

/// Chapter 3's algorithm.
pub const ALGORITHMS: &[Algorithm] = &[Algorithm {
    name: "baseline",
    chapter: 3,
    title: "Reward-to-go minus a baseline",
    about: "Chapter 3: reward-to-go minus a baseline (see --baseline and --gae-lambda)",
    flags: &["--batch", "--lr", "--baseline", "--gamma", "--gae-lambda", "--hidden"],
    only_with: &[("--gamma", "--baseline value"), ("--gae-lambda", "--baseline value")],
    refuses: &[],
    presets: &[],
    defaults: no_defaults,
    settings: |c| {
        let chosen = Chosen::of(c)?;
        Ok(vec![
            ("baseline", Value::from(chosen.baseline)),
            ("gamma", Value::from(chosen.gamma)),
            ("gae_lambda", Value::from(chosen.lambda)),
        ])
    },
    build: Build::Estimator(Estimators {
        tabular: estimator,
        categorical: estimator,
        gaussian: estimator,
        reuse: None,
        // The optimal constant is per parameter, not a weight per step.
        weighs_steps: |c| c.text("--baseline") != Some("optimal"),
        lockstep: None,
        work,
    }),
}];

/// The baseline `--baseline` chooses (the learned value unless given), and
/// the discount and GAE's λ of the learned value.
struct Chosen {
    baseline: &'static str,
    gamma: Option<f64>,
    lambda: Option<f64>,
}

impl Chosen {
    /// Refuses `--gamma` and `--gae-lambda` without the learned value, which they tune.
    fn of(c: &Context) -> Result<Self, String> {
        let baseline = match c.text("--baseline") {
            None | Some("value") => "value",
            Some("mean") => "mean",
            Some("optimal") => "optimal",
            Some(other) => {
                return Err(format!("--baseline {other} is not allowed: use mean, optimal or value"));
            }
        };
        let (gamma, lambda) = (c.get("--gamma")?, c.get("--gae-lambda")?);
        if baseline != "value" {
            let refused = |flag: &str, why: &str| {
                format!(
                    "{flag} is not allowed with --algo baseline --baseline {baseline}: {why}; use it with --baseline \
                     value"
                )
            };
            if gamma.is_some() {
                return Err(refused("--gamma", "this baseline weighs the undiscounted reward-to-go"));
            }
            if lambda.is_some() {
                return Err(refused("--gae-lambda", "GAE needs the learned value"));
            }
            return Ok(Self { baseline, gamma: None, lambda: None });
        }
        // The environment's tuned value function (Pendulum's, chapter 4) brings its γ and GAE.
        let tuned = c.value.as_ref();
        Ok(Self {
            baseline,
            gamma: Some(gamma.unwrap_or(tuned.map_or(0.99, |v| v.gamma))),
            lambda: lambda.or(tuned.map(|v| v.lambda)),
        })
    }
}

/// The learned value's hidden widths, Adam step size, steps and states per
/// step: the environment's tuned value function, if it has one.
fn value_setting(c: &Context) -> (Vec<usize>, f64, usize, usize) {
    match &c.value {
        _ if c.tabular => (vec![], 0.1, 20, 256),
        Some(v) => (v.hidden.clone(), v.lr, v.steps, v.minibatch),
        None => (vec![32], 0.01, 10, 256),
    }
}

/// What one gradient of `--baseline`'s estimator costs: the mean's is one
/// pass; the optimal constant's two (each trajectory's weighted score and
/// its score), and its leave-one-out sums over every pair of trajectories
/// (2 multiply-adds per parameter); the learned value's one, and the value
/// function's fit.
fn work(c: &Context) -> Result<UpdateWork, String> {
    Ok(match Chosen::of(c)?.baseline {
        "mean" => UpdateWork::ONE_PASS,
        "optimal" => UpdateWork { per_epoch: 2.0, per_episode_pair: 2.0, ..UpdateWork::ONE_PASS },
        _ => {
            let (hidden, _, steps, minibatch) = value_setting(c);
            let params = pg_core::policy::Mlp::new(c.obs_dim, &hidden, 1).num_params();
            UpdateWork { value_fit: Some(ValueFitWork { params, steps, minibatch }), ..UpdateWork::ONE_PASS }
        }
    })
}

/// The baseline of `--baseline` for any policy, its value function sized by
/// the environment (no hidden layer for a tabular one).
fn estimator<P: Policy + 'static>(c: &Context) -> Result<Box<dyn Estimator<P>>, String> {
    let err = |e: PgError| e.to_string();
    let chosen = Chosen::of(c)?;
    Ok(match chosen.baseline {
        "mean" => Box::new(MeanBaseline { leave_one_out: true }),
        "optimal" => Box::new(OptimalBaseline { leave_one_out: true }),
        _ => {
            let rng = &mut pg_core::rng::substream(c.seed, 2_000);
            let (hidden, lr, steps, minibatch) = value_setting(c);
            let value = ValueFunction::new(c.obs_dim, &hidden, lr, steps, rng)
                .and_then(|v| v.with_minibatch(minibatch))
                .map_err(err)?;
            let v = ValueBaseline::new(value, chosen.gamma.unwrap_or(0.99)).map_err(err)?;
            match chosen.lambda {
                Some(l) => Box::new(v.with_gae(l).map_err(err)?),
                None => Box::new(v),
            }
        }
    })
}
