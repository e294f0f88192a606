//! Pendulum-v1, with Gymnasium's constants, semi-implicit Euler update, cost on
//! the pre-step state, clipping and 200-step time limit.

use super::{Env, Step, num};
use crate::math::{cos, sin};
use crate::rng::PgRng;
use ndarray::{Array1, array};
use rand::RngExt;
use std::f64::consts::PI;

const MAX_SPEED: f64 = 8.0;
/// The largest torque magnitude; actions are clipped to `[-MAX_TORQUE, MAX_TORQUE]`.
pub const MAX_TORQUE: f64 = 2.0;
const DT: f64 = 0.05;
const G: f64 = 10.0;
const M: f64 = 1.0;
const L: f64 = 1.0;
/// Gymnasium's `max_episode_steps` for Pendulum-v1.
pub const MAX_STEPS: usize = 200;
/// The cost's weight on the squared angular velocity.
const SPEED_COST: f64 = 0.1;
/// The cost's weight on the squared torque.
const TORQUE_COST: f64 = 0.001;
/// The angular velocity starts uniform in ±`START_SPEED`.
const START_SPEED: f64 = 1.0;

/// The inverted pendulum swing-up. State: `[theta, theta_dot]`, theta = 0 upright.
/// Observation: `[cos theta, sin theta, theta_dot]`. Action: a torque, `Array1` of length 1.
#[derive(Debug, Clone, Default)]
pub struct Pendulum {
    state: [f64; 2],
    steps: usize,
}

/// Wraps an angle into `[-pi, pi)` the way Python's `%` does.
pub fn angle_normalize(x: f64) -> f64 {
    (x + PI).rem_euclid(2.0 * PI) - PI
}

impl Pendulum {
    /// A pendulum hanging at rest; call `reset` to start an episode.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts the pendulum in `state = [theta, theta_dot]` with the clock at `steps_taken`.
    pub fn set_state(&mut self, state: [f64; 2], steps_taken: usize) {
        self.state = state;
        self.steps = steps_taken;
    }

    /// The full-precision state `[theta, theta_dot]`.
    pub fn state(&self) -> [f64; 2] {
        self.state
    }

    fn observe(&self) -> Array1<f64> {
        let [th, thdot] = self.state;
        // Gymnasium returns float32 observations.
        array![cos(th) as f32 as f64, sin(th) as f32 as f64, thdot as f32 as f64]
    }

    /// The constants the environment shares with Gymnasium, as (what, value), for the book.
    pub fn constants() -> Vec<(&'static str, String)> {
        vec![
            ("gravity", format!("{} m/s²", num(G))),
            ("mass", format!("{} kg", num(M))),
            ("length", format!("{} m", num(L))),
            ("time step of the semi-implicit Euler update", format!("{} s", num(DT))),
            ("torque: actions are clipped to", format!("±{} N·m", num(MAX_TORQUE))),
            ("angular velocity clipped to", format!("±{} rad/s", num(MAX_SPEED))),
            (
                "start: angle uniform in ±π, angular velocity uniform in",
                format!("±{} rad/s", num(START_SPEED)),
            ),
            (
                "reward before the step, with the angle wrapped into [−π, π)",
                format!("−(angle² + {}·velocity² + {}·torque²)", num(SPEED_COST), num(TORQUE_COST)),
            ),
            ("time limit (a truncation; it never terminates)", format!("{MAX_STEPS} steps")),
        ]
    }

    /// One step: returns the next state and the reward, exactly as Gymnasium computes them.
    pub fn dynamics(state: [f64; 2], torque: f64) -> ([f64; 2], f64) {
        let [th, thdot] = state;
        let u = torque.clamp(-MAX_TORQUE, MAX_TORQUE);
        let cost = angle_normalize(th).powi(2) + SPEED_COST * thdot * thdot + TORQUE_COST * (u * u);
        let new_thdot = thdot + (3.0 * G / (2.0 * L) * sin(th) + 3.0 / (M * L * L) * u) * DT;
        let new_thdot = new_thdot.clamp(-MAX_SPEED, MAX_SPEED);
        let new_th = th + new_thdot * DT;
        ([new_th, new_thdot], -cost)
    }
}

impl Env for Pendulum {
    type Action = Array1<f64>;

    fn name(&self) -> &'static str {
        "pendulum"
    }

    fn obs_dim(&self) -> usize {
        3
    }

    fn reset(&mut self, rng: &mut PgRng) -> Array1<f64> {
        let th = rng.random_range(-PI..PI);
        let thdot = rng.random_range(-START_SPEED..START_SPEED);
        self.set_state([th, thdot], 0);
        self.observe()
    }

    fn step(&mut self, action: &Array1<f64>, _rng: &mut PgRng) -> Step {
        let (next, reward) = Self::dynamics(self.state, action[0]);
        self.state = next;
        self.steps += 1;
        Step { obs: self.observe(), reward, terminated: false, truncated: self.steps >= MAX_STEPS }
    }
}
