//! PPO: first-order updates that keep the policy near θ_old without solving
//! for F⁻¹g. Several epochs of minibatch ascent on an objective that stops
//! rewarding a ratio once it leaves [1 − ε, 1 + ε] (the clipped variant) or
//! charges β · KL (the adaptive-penalty variant).

use crate::{Head, Samples, advantages, mean_kl, objective};
use ndarray::Array1;
use pg_core::error::{at_least_one, positive};
use pg_core::optim::{Adam, Optimizer};
use pg_core::policy::MlpBatch;
use pg_core::rng::{PgRng, seeded};
use pg_core::{Batch, PgError};
use pg_likelihood_ratio::update::fit;
use pg_likelihood_ratio::{Estimator, Update, UpdateStats};
use rand::seq::SliceRandom;

// ANCHOR: clipped
/// One step's term of the clipped objective, min(ρÂ, clip(ρ, 1 − ε, 1 + ε) Â),
/// and its derivative with respect to log ρ. The clipped branch is the
/// smaller one exactly when the ratio has already moved past 1 ± ε in the
/// direction Â pushes it (up for Â > 0, down for Â < 0): there the term is
/// flat and the step contributes no gradient.
pub fn clipped_term(ratio: f64, advantage: f64, epsilon: f64) -> (f64, f64) {
    let unclipped = ratio * advantage;
    let clipped = ratio.clamp(1.0 - epsilon, 1.0 + epsilon) * advantage;
    if clipped < unclipped { (clipped, 0.0) } else { (unclipped, unclipped) }
}

/// L_clip(θ) = (1/M) Σₘ min(ρₘÂₘ, clip(ρₘ, 1 − ε, 1 + ε) Âₘ); adds its
/// gradient to `grad` if given.
pub fn clipped_objective<P: Head>(
    policy: &P,
    samples: &Samples<P::Action>,
    epsilon: f64,
    work: &mut MlpBatch,
    grad: Option<&mut Array1<f64>>,
) -> f64 {
    objective(policy, samples, work, grad, |ratio, adv| clipped_term(ratio, adv, epsilon))
}
// ANCHOR_END: clipped

/// Which objective PPO ascends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PpoObjective {
    /// The clipped surrogate with clip range ε.
    Clip {
        /// ε.
        epsilon: f64,
    },
    /// L(θ) − β D̄(θ), with β doubled after an update whose KL exceeded
    /// 1.5 × target and halved after one below target / 1.5.
    KlPenalty {
        /// The KL per update that β is adapted towards.
        target: f64,
        /// The current β.
        beta: f64,
    },
}

// ANCHOR: ppo
/// PPO: `epochs` passes over the batch in shuffled minibatches of
/// `minibatch` steps, one Adam step per minibatch on the chosen objective.
#[derive(Debug, Clone)]
pub struct Ppo<E> {
    /// Gives the advantages Âₘ (and learns its value function after the update).
    pub estimator: E,
    /// The objective.
    pub objective: PpoObjective,
    /// Passes over each batch.
    pub epochs: usize,
    /// Steps per minibatch.
    pub minibatch: usize,
    /// Rescales a minibatch's gradient to at most this norm, if set.
    pub max_grad_norm: Option<f64>,
    optimizer: Adam,
    rng: PgRng,
}

impl<E> Ppo<E> {
    /// Clipped PPO with clip range `epsilon` (in (0, 1)), `epochs` passes (at
    /// least 1), minibatches of `minibatch` steps (at least 1), Adam with step
    /// size `lr`; `seed` fixes the minibatch shuffles.
    pub fn clip(
        estimator: E,
        epsilon: f64,
        epochs: usize,
        minibatch: usize,
        lr: f64,
        seed: u64,
    ) -> Result<Self, PgError> {
        if !(epsilon > 0.0 && epsilon < 1.0) {
            return Err(PgError::InvalidConfig {
                name: "clip",
                value: epsilon.to_string(),
                allowed: "a number between 0 and 1, exclusive",
            });
        }
        Self::with_objective(estimator, PpoObjective::Clip { epsilon }, epochs, minibatch, lr, seed)
    }

    /// PPO with the adaptive KL penalty, aiming at `target` KL per update
    /// (greater than 0), β starting at 1.
    pub fn kl_penalty(
        estimator: E,
        target: f64,
        epochs: usize,
        minibatch: usize,
        lr: f64,
        seed: u64,
    ) -> Result<Self, PgError> {
        let objective = PpoObjective::KlPenalty { target: positive("kl-target", target)?, beta: 1.0 };
        Self::with_objective(estimator, objective, epochs, minibatch, lr, seed)
    }

    fn with_objective(
        estimator: E,
        objective: PpoObjective,
        epochs: usize,
        minibatch: usize,
        lr: f64,
        seed: u64,
    ) -> Result<Self, PgError> {
        Ok(Self {
            estimator,
            objective,
            epochs: at_least_one("epochs", epochs)?,
            minibatch: at_least_one("minibatch", minibatch)?,
            max_grad_norm: None,
            optimizer: Adam::new(lr)?,
            rng: seeded(seed),
        })
    }
}

impl<E> Ppo<E> {
    /// Rescales every minibatch gradient longer than `max` (greater than 0) to length `max`.
    pub fn with_max_grad_norm(mut self, max: f64) -> Result<Self, PgError> {
        self.max_grad_norm = Some(positive("max-grad-norm", max)?);
        Ok(self)
    }
}

impl<P: Head, E: Estimator<P>> Update<P> for Ppo<E> {
    fn name(&self) -> String {
        match self.objective {
            PpoObjective::Clip { epsilon } => format!("PPO, clip ε = {epsilon}"),
            PpoObjective::KlPenalty { target, .. } => format!("PPO, adaptive KL penalty, target {target}"),
        }
    }

    fn update(
        &mut self,
        policy: &mut P,
        batch: &Batch<P::Action>,
        iteration: usize,
    ) -> Result<UpdateStats, PgError> {
        let adv = advantages(&self.estimator, policy, batch, iteration)?;
        let samples = Samples::new(policy, batch, &adv);
        let work = &mut MlpBatch::default();
        let mut order: Vec<usize> = (0..samples.len()).collect();
        for _ in 0..self.epochs {
            order.shuffle(&mut self.rng);
            for chunk in order.chunks(self.minibatch) {
                let part = samples.select(chunk);
                let mut grad = Array1::zeros(policy.num_params());
                match self.objective {
                    PpoObjective::Clip { epsilon } => {
                        clipped_objective(policy, &part, epsilon, work, Some(&mut grad));
                    }
                    PpoObjective::KlPenalty { beta, .. } => {
                        crate::ratio_surrogate(policy, &part, work, Some(&mut grad));
                        let mut kl_grad = Array1::zeros(policy.num_params());
                        mean_kl(policy, &part, work, Some(&mut kl_grad));
                        grad.scaled_add(-beta, &kl_grad);
                    }
                }
                if !grad.iter().all(|x| x.is_finite()) {
                    return Err(PgError::NonFinite { what: "gradient", iteration });
                }
                if let Some(max) = self.max_grad_norm {
                    let norm = grad.dot(&grad).sqrt();
                    if norm > max {
                        grad *= max / norm;
                    }
                }
                self.optimizer.ascend(policy.params_mut(), &grad);
            }
        }
        let kl = mean_kl(policy, &samples, work, None);
        let mut stats = vec![("kl", kl)];
        match &mut self.objective {
            PpoObjective::Clip { epsilon } => {
                stats.push(("clip_fraction", clip_fraction(policy, &samples, *epsilon, work)));
            }
            PpoObjective::KlPenalty { target, beta } => {
                if kl > 1.5 * *target {
                    *beta *= 2.0;
                } else if kl < *target / 1.5 {
                    *beta /= 2.0;
                }
                stats.push(("beta", *beta));
            }
        }
        fit(&mut self.estimator, policy, batch, iteration)?;
        Ok(UpdateStats { metrics: stats })
    }
}
// ANCHOR_END: ppo

/// The fraction of steps whose ratio lies outside [1 − ε, 1 + ε].
pub fn clip_fraction<P: Head>(
    policy: &P,
    samples: &Samples<P::Action>,
    epsilon: f64,
    work: &mut MlpBatch,
) -> f64 {
    objective(policy, samples, work, None, |ratio, _| {
        (if (ratio - 1.0).abs() > epsilon { 1.0 } else { 0.0 }, 0.0)
    })
}
