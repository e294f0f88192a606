//! The one-state "stay" MDP: each step the agent stays (reward 1) or leaves
//! (reward 0, episode over). With stay probability θ,
//! J = θ/(1 − θ) and dJ/dθ = 1/(1 − θ)².

use super::{Env, Step};
use crate::rng::PgRng;
use ndarray::{Array1, array};

/// Action 0 leaves, action 1 stays.
#[derive(Debug, Clone, Default)]
pub struct Stay {
    limit: Option<usize>,
    steps: usize,
}

/// The action that keeps the episode going.
pub const STAY: usize = 1;

impl Stay {
    /// No time limit: the closed forms hold exactly.
    pub fn new() -> Self {
        Self::default()
    }

    /// Truncates episodes after `limit` steps (useful when training pushes
    /// the stay probability towards 1).
    pub fn with_limit(limit: usize) -> Self {
        Self { limit: Some(limit), steps: 0 }
    }

    /// J(θ) = θ/(1 − θ).
    pub fn objective(theta: f64) -> f64 {
        theta / (1.0 - theta)
    }

    /// dJ/dθ = 1/(1 − θ)².
    pub fn gradient(theta: f64) -> f64 {
        (1.0 - theta).powi(-2)
    }
}

impl Env for Stay {
    type Action = usize;

    fn name(&self) -> &'static str {
        "stay"
    }

    fn obs_dim(&self) -> usize {
        1
    }

    fn reset(&mut self, _rng: &mut PgRng) -> Array1<f64> {
        self.steps = 0;
        array![1.0]
    }

    fn step(&mut self, action: &usize, _rng: &mut PgRng) -> Step {
        self.steps += 1;
        let stay = *action == STAY;
        Step {
            obs: array![1.0],
            reward: if stay { 1.0 } else { 0.0 },
            terminated: !stay,
            truncated: self.limit.is_some_and(|l| self.steps >= l),
        }
    }
}
