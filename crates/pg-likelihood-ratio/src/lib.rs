//! # Chapter 1: the likelihood-ratio policy gradient
//!
//! The objective is the expected return J(θ) = E_{τ∼pθ}[r(τ)]. The
//! log-derivative trick ∇p = p ∇log p turns its gradient into an expectation
//! we can sample:
//!
//! ∇θ J(θ) = E_{τ∼pθ}[∇θ log pθ(τ) r(τ)],  with  ∇θ log pθ(τ) = Σₜ ∇θ log πθ(aₜ|sₜ).
//!
//! The dynamics drop out of the score, so the estimate needs only the policy.
//! REINFORCE samples N trajectories, averages, and ascends.
//!
//! The crate also sets up what every later chapter reuses: the [`Estimator`]
//! trait, the [`Update`] that turns a batch into a better policy, the
//! training loop [`train`], exact moments of estimators on enumerable MDPs
//! ([`exact`]), and experiments that are generic over the estimator.

pub mod book;
pub mod exact;
pub mod exercises;
pub mod experiments;
pub mod registry;
pub mod train;
pub mod update;

use ndarray::Array1;
use pg_core::{Batch, PgError, Policy, StepWeights};

pub use train::{Episode, IterStats, TrainConfig, TrainLog, TrainLoop, train, train_with};
pub use update::{PolicyGradient, Update, UpdateStats};

// ANCHOR: estimator_trait
/// An estimate ĝ of ∇θ J(θ) from a batch sampled by the policy.
///
/// Most estimators in this book have the form
/// ĝ = (1/N) Σᵢ Σₜ wᵢₜ ∇θ log πθ(aᵢₜ|sᵢₜ) and differ only in the weights wᵢₜ:
/// they implement [`Estimator::weights`] and keep the provided
/// [`Estimator::gradient`]. The others (a baseline per parameter, say)
/// override `gradient` instead.
pub trait Estimator<P: Policy> {
    /// A short name, e.g. `reinforce`.
    fn name(&self) -> String;

    /// The weight wᵢₜ of every step of every trajectory in the batch, for
    /// estimators of the weighted form; `None` for those that are not.
    fn weights(&self, _policy: &P, _batch: &Batch<P::Action>) -> Option<StepWeights> {
        None
    }

    /// The estimate ĝ from a batch sampled by `policy`.
    fn gradient(&self, policy: &P, batch: &Batch<P::Action>) -> Array1<f64> {
        let weights = self.weights(policy, batch).expect("an estimator defines `weights` or `gradient`");
        weighted_score_gradient(policy, batch, &weights)
    }

    /// Learns from a batch after the policy update that used it (a value
    /// function, say). Fitting afterwards keeps each batch's estimate free of
    /// its own returns. Estimators without state keep this default.
    fn fit(&mut self, _policy: &P, _batch: &Batch<P::Action>) -> Result<(), PgError> {
        Ok(())
    }
}
// ANCHOR_END: estimator_trait

/// A boxed estimator is an estimator, so that one can be chosen at run time
/// (from a command-line flag, say).
impl<P: Policy, E: Estimator<P> + ?Sized> Estimator<P> for Box<E> {
    fn name(&self) -> String {
        (**self).name()
    }

    fn weights(&self, policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        (**self).weights(policy, batch)
    }

    fn gradient(&self, policy: &P, batch: &Batch<P::Action>) -> Array1<f64> {
        (**self).gradient(policy, batch)
    }

    fn fit(&mut self, policy: &P, batch: &Batch<P::Action>) -> Result<(), PgError> {
        (**self).fit(policy, batch)
    }
}

// ANCHOR: weighted_gradient
/// ĝ = (1/N) Σᵢ Σₜ wᵢₜ ∇θ log πθ(aᵢₜ|sᵢₜ).
pub fn weighted_score_gradient<P: Policy>(
    policy: &P,
    batch: &Batch<P::Action>,
    weights: &StepWeights,
) -> Array1<f64> {
    let mut grad = Array1::zeros(policy.num_params());
    policy.add_weighted_scores(batch, weights, &mut grad);
    grad / batch.len() as f64
}
// ANCHOR_END: weighted_gradient

// ANCHOR: reinforce
/// REINFORCE: every step of trajectory i is weighted by its whole return r(τᵢ).
#[derive(Debug, Clone, Copy, Default)]
pub struct Reinforce;

impl<P: Policy> Estimator<P> for Reinforce {
    fn name(&self) -> String {
        "reinforce".into()
    }

    fn weights(&self, _policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        Some(StepWeights::per_trajectory(batch, |_, t| t.total_reward()))
    }
}
// ANCHOR_END: reinforce

// ANCHOR: behaviour_cloning
/// Behaviour cloning maximises the log-likelihood of the data. Its gradient is
/// the same weighted sum with every weight equal to 1: REINFORCE is behaviour
/// cloning in which each trajectory counts as much as its return.
#[derive(Debug, Clone, Copy, Default)]
pub struct BehaviourCloning;

impl<P: Policy> Estimator<P> for BehaviourCloning {
    fn name(&self) -> String {
        "behaviour-cloning".into()
    }

    fn weights(&self, _policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        Some(StepWeights::per_trajectory(batch, |_, _| 1.0))
    }
}
// ANCHOR_END: behaviour_cloning
