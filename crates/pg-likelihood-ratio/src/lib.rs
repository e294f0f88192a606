//! # Chapter 1: the likelihood-ratio policy gradient
//!
//! The objective is the expected return \\(J(\theta) = \mathbb{E}_{\tau\sim p_\theta}[r(\tau)]\\).
//! The log-derivative trick \\(\nabla p = p\, \nabla \log p\\) turns its gradient into an
//! expectation we can sample:
//!
//! \\[ \nabla_\theta J(\theta) = \mathbb{E}_{\tau\sim p_\theta}\big[\nabla_\theta \log p_\theta(\tau)\, r(\tau)\big],
//! \qquad \nabla_\theta \log p_\theta(\tau) = \sum_t \nabla_\theta \log \pi_\theta(a_t\mid s_t). \\]
//!
//! The dynamics drop out of the score, so the estimate needs only the policy.
//! REINFORCE samples \\(N\\) trajectories, averages, and ascends.

pub mod experiments;
pub mod train;

use ndarray::Array1;
use pg_core::{Batch, Policy, Trajectory};

pub use train::{TrainConfig, TrainLog, train};

// ANCHOR: estimator_trait
/// A policy-gradient estimator of the form
/// \\(\hat g = \frac1N \sum_i \sum_t w_{i,t}\, \nabla_\theta \log \pi_\theta(a_{i,t}\mid s_{i,t})\\):
/// every estimator in this book differs only in its weights \\(w_{i,t}\\).
pub trait Estimator {
    /// A short name, e.g. `reinforce`.
    fn name(&self) -> &'static str;
    /// The weight \\(w_{i,t}\\) of every step of every trajectory in the batch.
    fn weights<A>(&self, batch: &Batch<A>) -> Vec<Vec<f64>>;

    /// The estimate \\(\hat g\\) from a batch: the score sum with these weights.
    fn gradient<P: Policy>(&self, policy: &P, batch: &Batch<P::Action>) -> Array1<f64> {
        weighted_score_gradient(policy, batch, &self.weights(batch))
    }
}
// ANCHOR_END: estimator_trait

// ANCHOR: weighted_gradient
/// \\(\frac1N \sum_i \sum_t w_{i,t}\, \nabla_\theta \log \pi_\theta(a_{i,t}\mid s_{i,t})\\).
pub fn weighted_score_gradient<P: Policy>(
    policy: &P,
    batch: &Batch<P::Action>,
    weights: &[Vec<f64>],
) -> Array1<f64> {
    let mut grad = Array1::zeros(policy.num_params());
    for (traj, w) in batch.trajectories.iter().zip(weights) {
        for ((obs, a), &w_t) in traj.steps().zip(w) {
            policy.add_grad_log_prob(obs, a, w_t, &mut grad);
        }
    }
    grad / batch.len() as f64
}
// ANCHOR_END: weighted_gradient

// ANCHOR: reinforce
/// REINFORCE: every step of trajectory \\(i\\) is weighted by its whole return \\(r(\tau_i)\\).
#[derive(Debug, Clone, Copy, Default)]
pub struct Reinforce;

impl Estimator for Reinforce {
    fn name(&self) -> &'static str {
        "reinforce"
    }

    fn weights<A>(&self, batch: &Batch<A>) -> Vec<Vec<f64>> {
        batch.trajectories.iter().map(|t| vec![t.total_reward(); t.len()]).collect()
    }
}
// ANCHOR_END: reinforce

// ANCHOR: behaviour_cloning
/// Behaviour cloning maximises the log-likelihood of the data. Its gradient is
/// the same weighted sum with every weight equal to 1: REINFORCE is behaviour
/// cloning in which each trajectory counts as much as its return.
#[derive(Debug, Clone, Copy, Default)]
pub struct BehaviourCloning;

impl Estimator for BehaviourCloning {
    fn name(&self) -> &'static str {
        "behaviour-cloning"
    }

    fn weights<A>(&self, batch: &Batch<A>) -> Vec<Vec<f64>> {
        batch.trajectories.iter().map(|t| vec![1.0; t.len()]).collect()
    }
}
// ANCHOR_END: behaviour_cloning

/// The single-trajectory REINFORCE estimate \\(\nabla_\theta \log p_\theta(\tau)\, r(\tau)\\).
pub fn single_trajectory_estimate<P: Policy>(policy: &P, traj: &Trajectory<P::Action>) -> Array1<f64> {
    policy.score(traj) * traj.total_reward()
}
