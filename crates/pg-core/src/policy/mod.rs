//! Differentiable stochastic policies πθ(a|s) with hand-written
//! score functions ∇θ log πθ(a|s).
//!
//! Every policy keeps its parameters in one flat vector θ, so that
//! optimisers, finite-difference checks and (later) natural-gradient solvers
//! can treat all of them alike.

use crate::dist::Dist;
use crate::math::{exp, ln};
use crate::rng::PgRng;
use crate::rollout::{Batch, Trajectory};
use crate::weights::StepWeights;
use ndarray::{Array1, ArrayView1};

mod bernoulli;
mod categorical;
mod gaussian;
mod mlp;
mod tabular;

pub use bernoulli::Bernoulli;
pub use categorical::Categorical;
pub use gaussian::Gaussian;
pub use mlp::{Mlp, MlpBatch, multiply_adds};
pub use tabular::TabularSoftmax;

/// A stochastic policy with a flat parameter vector.
pub trait Policy {
    /// `usize` for discrete actions, `Array1<f64>` for continuous ones.
    type Action: Clone;

    /// The parameters θ as one flat vector.
    fn params(&self) -> &Array1<f64>;

    /// Mutable access to θ (for optimisers and finite differences).
    fn params_mut(&mut self) -> &mut Array1<f64>;

    /// The number of parameters.
    fn num_params(&self) -> usize {
        self.params().len()
    }

    /// The action distribution πθ(·|s) at observation `obs`.
    fn dist(&self, obs: ArrayView1<'_, f64>) -> Dist;

    /// Draws a ∼ πθ(·|s).
    fn sample(&self, obs: ArrayView1<'_, f64>, rng: &mut PgRng) -> Self::Action;

    /// Draws a ∼ πθ(·|s) and returns it with log πθ(a|s). Policies override
    /// this to share one forward pass between the two.
    fn sample_with_log_prob(&self, obs: ArrayView1<'_, f64>, rng: &mut PgRng) -> (Self::Action, f64) {
        let a = self.sample(obs, rng);
        let lp = self.log_prob(obs, &a);
        (a, lp)
    }

    /// log πθ(a|s).
    fn log_prob(&self, obs: ArrayView1<'_, f64>, action: &Self::Action) -> f64;

    /// Adds `weight` · ∇θ log πθ(a|s) to `grad`.
    ///
    /// Accumulating in place is what every estimator needs, and it saves one
    /// allocation per time step.
    fn add_grad_log_prob(
        &self,
        obs: ArrayView1<'_, f64>,
        action: &Self::Action,
        weight: f64,
        grad: &mut Array1<f64>,
    );

    /// Adds Σᵢ Σₜ wᵢₜ ∇θ log πθ(aᵢₜ|sᵢₜ) over a whole batch to `grad`.
    ///
    /// This default visits one step at a time; a policy may override it with
    /// a batched pass that gives the same sum.
    ///
    /// # Panics
    /// If `weights` were not made for `batch` (a programming error).
    fn add_weighted_scores(
        &self,
        batch: &Batch<Self::Action>,
        weights: &StepWeights,
        grad: &mut Array1<f64>,
    ) {
        assert!(weights.fits(batch), "the weights were made for a batch of a different shape");
        for (i, traj) in batch.trajectories.iter().enumerate() {
            for ((obs, a), &w) in traj.steps().zip(weights.trajectory(i)) {
                self.add_grad_log_prob(obs, a, w, grad);
            }
        }
    }

    /// ∇θ log πθ(a|s).
    fn grad_log_prob(&self, obs: ArrayView1<'_, f64>, action: &Self::Action) -> Array1<f64> {
        let mut g = Array1::zeros(self.num_params());
        self.add_grad_log_prob(obs, action, 1.0, &mut g);
        g
    }

    // ANCHOR: score
    /// The trajectory's score
    /// ∇θ log pθ(τ) = Σₜ ∇θ log πθ(aₜ|sₜ):
    /// the dynamics do not depend on θ, so they drop out.
    fn score(&self, traj: &Trajectory<Self::Action>) -> Array1<f64> {
        let mut g = Array1::zeros(self.num_params());
        for (obs, a) in traj.steps() {
            self.add_grad_log_prob(obs, a, 1.0, &mut g);
        }
        g
    }
    // ANCHOR_END: score

    /// log pθ(τ) up to the dynamics' terms, which do not depend on θ.
    fn log_likelihood(&self, traj: &Trajectory<Self::Action>) -> f64 {
        traj.steps().map(|(obs, a)| self.log_prob(obs, a)).sum()
    }
}

/// log softmax(ℓ): log πₐ = ℓₐ − log Σ_b exp ℓ_b for every a, computed
/// stably (the largest logit is subtracted before exp).
pub fn log_softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let log_z = max + ln(logits.iter().map(|l| exp(l - max)).sum::<f64>());
    logits.iter().map(|l| l - log_z).collect()
}

/// softmax(ℓ), computed stably through [`log_softmax`].
pub fn softmax(logits: &[f64]) -> Vec<f64> {
    log_softmax(logits).iter().map(|&l| exp(l)).collect()
}

/// Draws a ∼ softmax(logits) by inversion and returns it with its
/// log-probability, the same numbers as [`log_softmax`] gives, without
/// allocating (it runs at every environment step).
pub(crate) fn sample_from_logits(logits: &[f64], rng: &mut PgRng) -> (usize, f64) {
    use rand::RngExt;
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let log_z = max + ln(logits.iter().map(|l| exp(l - max)).sum::<f64>());
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (i, l) in logits.iter().enumerate() {
        acc += exp(l - log_z);
        if u < acc {
            return (i, l - log_z);
        }
    }
    let last = logits.len() - 1;
    (last, logits[last] - log_z)
}
