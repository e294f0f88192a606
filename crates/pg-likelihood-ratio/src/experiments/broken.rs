//! Deliberately wrong estimators. A check has power only if it rejects these;
//! the tests and the book's check table run them. Some are gross (a flipped
//! sign), some subtle (10% too large, a discount the objective does not have).

use crate::{Estimator, Reinforce};
use ndarray::Array1;
use pg_core::{Batch, Policy, StepWeights, rollout::discounted_sum};

/// Flips the sign of every weight: descends instead of ascending.
#[derive(Debug, Clone, Copy, Default)]
pub struct SignFlipped;

impl<P: Policy> Estimator<P> for SignFlipped {
    fn name(&self) -> String {
        "sign flipped".into()
    }

    fn weights(&self, policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        Some(Reinforce.weights(policy, batch)?.map(|w| -w))
    }
}

/// Weights each step by the rewards *before* it. Actions cannot influence
/// those, so in expectation every term is zero and the signal is lost.
#[derive(Debug, Clone, Copy, Default)]
pub struct PastRewards;

impl<P: Policy> Estimator<P> for PastRewards {
    fn name(&self) -> String {
        "rewards before each step".into()
    }

    fn weights(&self, _policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        Some(StepWeights::fill(batch, |_, t, w| {
            let mut past = 0.0;
            for (w_t, r) in w.iter_mut().zip(&t.rewards) {
                *w_t = past;
                past += r;
            }
        }))
    }
}

/// Keeps only the first action's score.
#[derive(Debug, Clone, Copy, Default)]
pub struct FirstStepOnly;

impl<P: Policy> Estimator<P> for FirstStepOnly {
    fn name(&self) -> String {
        "first action only".into()
    }

    fn weights(&self, _policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        Some(StepWeights::fill(batch, |_, t, w| {
            if let Some(first) = w.first_mut() {
                *first = t.total_reward();
            }
        }))
    }
}

/// Any estimator, its gradient multiplied by a constant: `Scaled(Reinforce, 1.1)`
/// is 10% too large, a bug that a weak test lets through.
#[derive(Debug, Clone, Copy)]
pub struct Scaled<E>(pub E, pub f64);

impl<P: Policy, E: Estimator<P>> Estimator<P> for Scaled<E> {
    fn name(&self) -> String {
        format!("{} × {}", self.0.name(), self.1)
    }

    fn gradient(&self, policy: &P, batch: &Batch<P::Action>) -> Array1<f64> {
        self.0.gradient(policy, batch) * self.1
    }
}

/// Weights every step by the *discounted* return Σₜ γᵗ rₜ while the objective
/// is undiscounted: estimates the gradient of a different objective.
#[derive(Debug, Clone, Copy)]
pub struct DiscountedReturn(pub f64);

impl<P: Policy> Estimator<P> for DiscountedReturn {
    fn name(&self) -> String {
        format!("whole return discounted with γ = {}", self.0)
    }

    fn weights(&self, _policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        Some(StepWeights::per_trajectory(batch, |_, t| discounted_sum(&t.rewards, self.0)))
    }
}
