//! Environments with a Gymnasium-style interface.
//!
//! `reset` draws a start state and returns the first observation; `step` applies
//! an action and returns the next observation, the reward for this step, and two
//! separate flags: `terminated` (the MDP reached a terminal state, so there is no
//! future reward) and `truncated` (a time limit cut the episode short).

use crate::rng::PgRng;
use ndarray::Array1;

mod cartpole;
mod pendulum;
mod stay;
mod tabular;

pub use cartpole::{CartPole, MAX_STEPS as CARTPOLE_MAX_STEPS};
pub use pendulum::{MAX_STEPS as PENDULUM_MAX_STEPS, MAX_TORQUE, Pendulum};
pub use stay::Stay;
pub use tabular::{TabularMdp, Transition};

/// A constant as the book's tables write it: integers without a decimal
/// point, other numbers to at most four decimals.
pub(crate) fn num(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_string() } else { s.to_string() }
}

/// The result of one environment step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The observation after the step.
    pub obs: Array1<f64>,
    /// The reward r(sₜ, aₜ) for this step.
    pub reward: f64,
    /// The episode ended in a terminal state.
    pub terminated: bool,
    /// The episode was cut by a time limit.
    pub truncated: bool,
}

/// An environment. `Action` is `usize` for discrete and `Array1<f64>` for continuous actions.
pub trait Env {
    /// The action type this environment accepts.
    type Action: Clone;
    /// A short name, e.g. `cartpole`.
    fn name(&self) -> &'static str;
    /// The length of an observation vector.
    fn obs_dim(&self) -> usize;
    /// Starts a new episode and returns its first observation.
    fn reset(&mut self, rng: &mut PgRng) -> Array1<f64>;
    /// Applies `action`. Stochastic environments draw from `rng`.
    fn step(&mut self, action: &Self::Action, rng: &mut PgRng) -> Step;
    /// The mean return at which the environment counts as solved, if it has one.
    fn solved_threshold(&self) -> Option<f64> {
        None
    }
}
