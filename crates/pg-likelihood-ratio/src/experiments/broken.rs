//! Deliberately wrong estimators. A statistical test has power only if it
//! rejects these; the tests and the book's check table run them.

use crate::{Estimator, Reinforce};
use pg_core::Batch;

/// Flips the sign of every weight: descends instead of ascending.
#[derive(Debug, Clone, Copy, Default)]
pub struct SignFlipped;

impl Estimator for SignFlipped {
    fn name(&self) -> &'static str {
        "sign flipped"
    }

    fn weights<A>(&self, batch: &Batch<A>) -> Vec<Vec<f64>> {
        Reinforce.weights(batch).into_iter().map(|w| w.into_iter().map(|x| -x).collect()).collect()
    }
}

/// Weights each step by the rewards *before* it. Actions cannot influence
/// those, so in expectation every term is zero and the signal is lost.
#[derive(Debug, Clone, Copy, Default)]
pub struct PastRewards;

impl Estimator for PastRewards {
    fn name(&self) -> &'static str {
        "rewards before each step"
    }

    fn weights<A>(&self, batch: &Batch<A>) -> Vec<Vec<f64>> {
        batch
            .trajectories
            .iter()
            .map(|t| (0..t.len()).map(|i| t.rewards[..i].iter().sum()).collect())
            .collect()
    }
}

/// Keeps only the first action's score.
#[derive(Debug, Clone, Copy, Default)]
pub struct FirstStepOnly;

impl Estimator for FirstStepOnly {
    fn name(&self) -> &'static str {
        "first action only"
    }

    fn weights<A>(&self, batch: &Batch<A>) -> Vec<Vec<f64>> {
        batch
            .trajectories
            .iter()
            .map(|t| (0..t.len()).map(|i| if i == 0 { t.total_reward() } else { 0.0 }).collect())
            .collect()
    }
}
