//! Sample reuse: several gradient steps on one batch. After the first step
//! the policy is no longer the one that sampled the batch, so the estimator
//! must correct with ratios; how far the policy moves is measured by the KL
//! divergence from the sampling policy, reported with the effective sample
//! size, both at the policy the update ends at.

use crate::effective_sample_size;
use pg_core::error::at_least_one;
use pg_core::optim::{Adam, Optimizer};
use pg_core::{Batch, PgError, Policy};
use pg_likelihood_ratio::update::{ascend, fit};
use pg_likelihood_ratio::{Estimator, Update, UpdateStats};

/// The mean over the batch's states of KL(π_old(·|s) ‖ π_new(·|s)), with
/// π_old the policy that sampled the batch.
pub fn mean_kl<P: Policy>(old: &P, new: &P, batch: &Batch<P::Action>) -> f64 {
    let (mut total, mut count) = (0.0, 0usize);
    for t in &batch.trajectories {
        for (obs, _) in t.steps() {
            total += old.dist(obs).kl(&new.dist(obs));
            count += 1;
        }
    }
    total / count.max(1) as f64
}

// ANCHOR: reuse
/// `steps` optimiser steps on every batch, each along the estimator at the
/// current policy (whose ratios against the sampling policy grow as it moves).
#[derive(Debug, Clone)]
pub struct Reuse<E, O> {
    /// Estimates ∇J at the current policy from the old batch.
    pub estimator: E,
    /// Turns each estimate into a step.
    pub optimizer: O,
    /// Steps per batch, U.
    pub steps: usize,
}

impl<E> Reuse<E, Adam> {
    /// U Adam steps of size `lr` per batch (U at least 1).
    pub fn adam(estimator: E, lr: f64, steps: usize) -> Result<Self, PgError> {
        Ok(Self { estimator, optimizer: Adam::new(lr)?, steps: at_least_one("reuse", steps)? })
    }
}

impl<P: Policy + Clone, E: Estimator<P>, O: Optimizer> Update<P> for Reuse<E, O> {
    fn name(&self) -> String {
        format!("{}, {} steps per batch", self.estimator.name(), self.steps)
    }

    fn update(
        &mut self,
        policy: &mut P,
        batch: &Batch<P::Action>,
        iteration: usize,
    ) -> Result<UpdateStats, PgError> {
        let sampler = policy.clone();
        for _ in 0..self.steps {
            ascend(&self.estimator, &mut self.optimizer, policy, batch, iteration)?;
        }
        // Both measured at the policy the U steps end at.
        let kl = mean_kl(&sampler, policy, batch);
        let ess = effective_sample_size(policy, batch);
        fit(&mut self.estimator, policy, batch, iteration)?;
        Ok(UpdateStats { metrics: vec![("kl", kl), ("ess", ess)] })
    }
}
// ANCHOR_END: reuse
