//! # Chapter 2: causality
//!
//! An action at step t cannot change the rewards that came before it. In
//! REINFORCE every action's score is still multiplied by the whole return,
//! past rewards included; those terms have expectation zero but add noise.
//! Dropping them weights each action by the reward that follows it, the
//! reward-to-go Q̂ₜ = Σ_{t′≥t} r_{t′}:
//!
//! ĝ = (1/N) Σᵢ Σₜ ∇θ log πθ(aᵢₜ|sᵢₜ) Q̂ᵢₜ.
//!
//! Same expectation as chapter 1, lower variance. Only the weights change;
//! the estimator trait, the training loop and the experiments are chapter 1's.

pub mod book;
pub mod exercises;
pub mod experiments;

use pg_core::error::{PgError, unit_interval};
use pg_core::{Batch, Policy, StepWeights};
use pg_likelihood_ratio::Estimator;
use pg_likelihood_ratio::registry::{
    Algorithm, Build, Context, Estimators, Value, Weights, no_defaults, one_pass,
};

// ANCHOR: reward_to_go
/// The reward-to-go Q̂ₜ = Σ_{t′≥t} γ^(t′−t) r_{t′} of every step, computed
/// backwards in one pass: Q̂ₜ = rₜ + γ Q̂ₜ₊₁, with Q̂_T = 0.
pub fn reward_to_go(rewards: &[f64], gamma: f64) -> Vec<f64> {
    let mut out = vec![0.0; rewards.len()];
    let mut following = 0.0;
    for (q, r) in out.iter_mut().zip(rewards).rev() {
        following = r + gamma * following;
        *q = following;
    }
    out
}
// ANCHOR_END: reward_to_go

// ANCHOR: estimator
/// Causality: every step is weighted by its reward-to-go Q̂ₜ instead of the
/// whole return. With γ = 1 (the default) it is unbiased for ∇θ J; with
/// γ < 1 it trades bias for variance by discounting distant rewards.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RewardToGo {
    gamma: f64,
}

impl RewardToGo {
    /// The undiscounted reward-to-go.
    pub fn new() -> Self {
        Self { gamma: 1.0 }
    }

    /// Discounts the reward-to-go by `gamma`, which must lie in [0, 1].
    pub fn discounted(gamma: f64) -> Result<Self, PgError> {
        Ok(Self { gamma: unit_interval("gamma", gamma)? })
    }

    /// The discount γ.
    pub fn gamma(&self) -> f64 {
        self.gamma
    }
}

impl Default for RewardToGo {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Policy> Estimator<P> for RewardToGo {
    fn name(&self) -> String {
        if self.gamma == 1.0 { "reward-to-go".into() } else { format!("reward-to-go (γ = {})", self.gamma) }
    }

    fn weights(&self, _policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        Some(StepWeights::fill(batch, |_, t, w| w.copy_from_slice(&reward_to_go(&t.rewards, self.gamma))))
    }
}
// ANCHOR_END: estimator

// ANCHOR: registry
/// Chapter 2's algorithm, and chapter 7's fast sampler for it.
pub const ALGORITHMS: &[Algorithm] = &[Algorithm {
    name: "reward-to-go",
    chapter: 2,
    title: "Reward-to-go",
    about: "Chapter 2: every step weighted by the rewards from that step on (see --gamma)",
    flags: &["--batch", "--lr", "--gamma", "--hidden"],
    only_with: &[],
    refuses: &[],
    presets: &[("vectorised", "--batch-steps 5000")],
    defaults: no_defaults,
    settings: |c| Ok(vec![("gamma", Value::from(discount(c)?))]),
    build: Build::Estimator(Estimators {
        tabular: estimator,
        categorical: estimator,
        gaussian: estimator,
        reuse: None,
        weighs_steps: |_| true,
        lockstep: Some(|c| Ok(Weights::RewardToGo(discount(c)?))),
        work: one_pass,
    }),
}];
// ANCHOR_END: registry

/// `--gamma`, undiscounted unless given.
fn discount(c: &Context) -> Result<f64, String> {
    Ok(c.get("--gamma")?.unwrap_or(1.0))
}

/// The reward-to-go of `--gamma` for any policy.
fn estimator<P: Policy + 'static>(c: &Context) -> Result<Box<dyn Estimator<P>>, String> {
    Ok(Box::new(RewardToGo::discounted(discount(c)?).map_err(|e| e.to_string())?))
}
