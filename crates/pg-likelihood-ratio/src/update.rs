//! What happens to the policy once a batch has been sampled.
//!
//! The chapters' algorithms differ here: one ascent step per batch along an
//! estimate (chapters 1-4), several steps on one batch (chapter 5), a
//! natural-gradient step with a line search or several epochs of a clipped
//! objective (chapter 6). [`train`](crate::train) calls [`Update::update`]
//! and does not care which.

use crate::Estimator;
use pg_core::optim::{Adam, Optimizer, Sgd};
use pg_core::{Batch, PgError, Policy, error::at_least_one};

/// What one update measured, as named numbers (the gradient's norm, a KL
/// divergence, an effective sample size, ...), for logs and plots.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateStats {
    /// Name and value of each measurement.
    pub metrics: Vec<(&'static str, f64)>,
}

impl UpdateStats {
    /// The value of metric `name`, if this update measured it.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.metrics.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

/// An update rule: improves the policy with a batch it sampled.
pub trait Update<P: Policy> {
    /// A short name, e.g. `reinforce`.
    fn name(&self) -> String;

    /// Improves `policy` with `batch`, which `policy` sampled at iteration
    /// `iteration`. Fails, and names what, if anything becomes NaN or infinite.
    fn update(
        &mut self,
        policy: &mut P,
        batch: &Batch<P::Action>,
        iteration: usize,
    ) -> Result<UpdateStats, PgError>;
}

/// A borrowed update is an update (so that wrappers can own or borrow theirs).
impl<P: Policy, U: Update<P> + ?Sized> Update<P> for &mut U {
    fn name(&self) -> String {
        (**self).name()
    }

    fn update(
        &mut self,
        policy: &mut P,
        batch: &Batch<P::Action>,
        iteration: usize,
    ) -> Result<UpdateStats, PgError> {
        (**self).update(policy, batch, iteration)
    }
}

/// A boxed update is an update (the command line chooses one at run time).
impl<P: Policy, U: Update<P> + ?Sized> Update<P> for Box<U> {
    fn name(&self) -> String {
        (**self).name()
    }

    fn update(
        &mut self,
        policy: &mut P,
        batch: &Batch<P::Action>,
        iteration: usize,
    ) -> Result<UpdateStats, PgError> {
        (**self).update(policy, batch, iteration)
    }
}

// ANCHOR: policy_gradient
/// Stochastic gradient ascent along an estimator: `steps` optimiser steps per
/// batch (one, on-policy), then the estimator learns from the batch.
#[derive(Debug, Clone)]
pub struct PolicyGradient<E, O> {
    /// Estimates ∇θ J from the batch.
    pub estimator: E,
    /// Turns the estimate into a step, e.g. θ ← θ + α ĝ.
    pub optimizer: O,
    /// Ascent steps per batch.
    pub steps: usize,
}

impl<E> PolicyGradient<E, Adam> {
    /// One Adam step of size `lr` per batch: what the book's experiments use.
    pub fn adam(estimator: E, lr: f64) -> Result<Self, PgError> {
        Ok(Self { estimator, optimizer: Adam::new(lr)?, steps: 1 })
    }
}

impl<E> PolicyGradient<E, Sgd> {
    /// One plain step θ ← θ + α ĝ per batch: the algorithm as the chapter writes it.
    pub fn sgd(estimator: E, lr: f64) -> Result<Self, PgError> {
        Ok(Self { estimator, optimizer: Sgd::new(lr)?, steps: 1 })
    }
}

impl<E, O> PolicyGradient<E, O> {
    /// Takes `steps` ascent steps on every batch (at least 1).
    pub fn with_steps(mut self, steps: usize) -> Result<Self, PgError> {
        self.steps = at_least_one("steps", steps)?;
        Ok(self)
    }
}

impl<P: Policy, E: Estimator<P>, O: Optimizer> Update<P> for PolicyGradient<E, O> {
    fn name(&self) -> String {
        self.estimator.name()
    }

    fn update(
        &mut self,
        policy: &mut P,
        batch: &Batch<P::Action>,
        iteration: usize,
    ) -> Result<UpdateStats, PgError> {
        let mut grad_norm = 0.0;
        for _ in 0..self.steps {
            grad_norm = ascend(&self.estimator, &mut self.optimizer, policy, batch, iteration)?;
        }
        fit(&mut self.estimator, policy, batch, iteration)?;
        Ok(UpdateStats { metrics: vec![("grad_norm", grad_norm)] })
    }
}

/// One optimiser step along the estimate at the current policy. Fails,
/// naming the gradient and the iteration, if the estimate is not finite;
/// returns ‖ĝ‖ otherwise.
pub fn ascend<P: Policy, E: Estimator<P> + ?Sized, O: Optimizer + ?Sized>(
    estimator: &E,
    optimizer: &mut O,
    policy: &mut P,
    batch: &Batch<P::Action>,
    iteration: usize,
) -> Result<f64, PgError> {
    let grad = estimator.gradient(policy, batch);
    if !grad.iter().all(|g| g.is_finite()) {
        return Err(PgError::NonFinite { what: "gradient", iteration });
    }
    optimizer.ascend(policy.params_mut(), &grad);
    Ok(grad.dot(&grad).sqrt())
}

/// Lets the estimator learn from the batch after the update; an error
/// that went non-finite is reported at this iteration.
pub fn fit<P: Policy, E: Estimator<P> + ?Sized>(
    estimator: &mut E,
    policy: &P,
    batch: &Batch<P::Action>,
    iteration: usize,
) -> Result<(), PgError> {
    estimator.fit(policy, batch).map_err(|e| match e {
        PgError::NonFinite { what, .. } => PgError::NonFinite { what, iteration },
        other => other,
    })
}
// ANCHOR_END: policy_gradient
