//! CartPole-v1, with Gymnasium's constants, explicit Euler integrator,
//! termination rule, 500-step time limit and reward timing.

use super::{Env, Step, num};
use crate::math;
use crate::rng::PgRng;
use ndarray::Array1;
use rand::RngExt;

const GRAVITY: f64 = 9.8;
const MASS_CART: f64 = 1.0;
const MASS_POLE: f64 = 0.1;
const TOTAL_MASS: f64 = MASS_CART + MASS_POLE;
const LENGTH: f64 = 0.5; // half the pole's length
const POLE_MASS_LENGTH: f64 = MASS_POLE * LENGTH;
const FORCE_MAG: f64 = 10.0;
const TAU: f64 = 0.02;
const X_THRESHOLD: f64 = 2.4;
const THETA_THRESHOLD: f64 = 12.0 * 2.0 * std::f64::consts::PI / 360.0;
/// Gymnasium's `max_episode_steps` for CartPole-v1.
pub const MAX_STEPS: usize = 500;
/// Every state variable starts uniform in ±`START_RANGE`.
const START_RANGE: f64 = 0.05;
/// Gymnasium's `reward_threshold` for CartPole-v1: solved at this mean return.
const SOLVED: f64 = 475.0;

/// The cart-pole balancing task. Actions: 0 pushes left, 1 pushes right.
/// State: `[x, x_dot, theta, theta_dot]`.
#[derive(Debug, Clone)]
pub struct CartPole {
    state: [f64; 4],
    steps: usize,
    done: bool,
}

impl Default for CartPole {
    fn default() -> Self {
        Self::new()
    }
}

impl CartPole {
    /// A cart-pole at rest in the upright position; call `reset` to start an episode.
    pub fn new() -> Self {
        Self { state: [0.0; 4], steps: 0, done: false }
    }

    /// Puts the system in `state` with the episode clock at `steps_taken`.
    pub fn set_state(&mut self, state: [f64; 4], steps_taken: usize) {
        self.state = state;
        self.steps = steps_taken;
        self.done = false;
    }

    /// The full-precision physical state.
    pub fn state(&self) -> [f64; 4] {
        self.state
    }

    /// Gymnasium returns the state as `float32`; the observation mirrors that rounding.
    fn observe(&self) -> Array1<f64> {
        self.state.iter().map(|&v| v as f32 as f64).collect()
    }

    /// One explicit Euler step of the dynamics, exactly as Gymnasium computes it.
    pub fn dynamics(state: [f64; 4], action: usize) -> [f64; 4] {
        let [x, x_dot, theta, theta_dot] = state;
        let force = if action == 1 { FORCE_MAG } else { -FORCE_MAG };
        let (sin, cos) = (math::sin(theta), math::cos(theta));
        let temp = (force + POLE_MASS_LENGTH * theta_dot * theta_dot * sin) / TOTAL_MASS;
        let theta_acc =
            (GRAVITY * sin - cos * temp) / (LENGTH * (4.0 / 3.0 - MASS_POLE * cos * cos / TOTAL_MASS));
        let x_acc = temp - POLE_MASS_LENGTH * theta_acc * cos / TOTAL_MASS;
        [x + TAU * x_dot, x_dot + TAU * x_acc, theta + TAU * theta_dot, theta_dot + TAU * theta_acc]
    }

    /// The constants the environment shares with Gymnasium, as (what, value), for the book.
    pub fn constants() -> Vec<(&'static str, String)> {
        vec![
            ("gravity", format!("{} m/s²", num(GRAVITY))),
            ("mass of the cart", format!("{} kg", num(MASS_CART))),
            ("mass of the pole", format!("{} kg", num(MASS_POLE))),
            ("half the pole's length", format!("{} m", num(LENGTH))),
            ("force of a push (action 0 left, 1 right)", format!("{} N", num(FORCE_MAG))),
            ("time step of the explicit Euler integrator", format!("{} s", num(TAU))),
            ("start state: each of the four variables uniform in", format!("±{}", num(START_RANGE))),
            ("terminates when the cart leaves", format!("±{} m", num(X_THRESHOLD))),
            ("terminates when the pole leans more than", format!("{}°", num(THETA_THRESHOLD.to_degrees()))),
            ("reward on every step, the terminating one included", num(1.0)),
            ("time limit (a truncation)", format!("{MAX_STEPS} steps")),
            ("solved at a mean return of", num(SOLVED)),
        ]
    }

    /// Whether `state` lies outside the allowed region.
    pub fn is_terminal(state: [f64; 4]) -> bool {
        let [x, _, theta, _] = state;
        !(-X_THRESHOLD..=X_THRESHOLD).contains(&x) || !(-THETA_THRESHOLD..=THETA_THRESHOLD).contains(&theta)
    }
}

impl Env for CartPole {
    type Action = usize;

    fn name(&self) -> &'static str {
        "cartpole"
    }

    fn obs_dim(&self) -> usize {
        4
    }

    fn reset(&mut self, rng: &mut PgRng) -> Array1<f64> {
        let mut s = [0.0; 4];
        for v in &mut s {
            *v = rng.random_range(-START_RANGE..START_RANGE);
        }
        self.set_state(s, 0);
        self.observe()
    }

    fn step(&mut self, action: &usize, _rng: &mut PgRng) -> Step {
        assert!(!self.done, "CartPole::step called after the episode ended; call reset");
        self.state = Self::dynamics(self.state, *action);
        self.steps += 1;
        let terminated = Self::is_terminal(self.state);
        // Gymnasium's TimeLimit sets `truncated` at the limit whether or not the step also terminated.
        let truncated = self.steps >= MAX_STEPS;
        self.done = terminated || truncated;
        // Reward 1 on every step, the terminating one included.
        Step { obs: self.observe(), reward: 1.0, terminated, truncated }
    }

    fn solved_threshold(&self) -> Option<f64> {
        Some(SOLVED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upright_cart_at_rest_stays_balanced_for_one_step() {
        let next = CartPole::dynamics([0.0; 4], 1);
        assert_eq!(next[0], 0.0);
        assert!(next[1] > 0.0, "a push to the right accelerates the cart rightwards");
        assert!(next[3] < 0.0, "and tips the pole left");
    }
}
