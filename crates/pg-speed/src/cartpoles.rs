//! Many CartPole-v1 environments stored as a struct of arrays: one vector
//! per state variable, indexed by environment. A step reads and writes
//! neighbouring memory for neighbouring environments, and nothing is
//! allocated after construction.

use pg_core::env::{CARTPOLE_MAX_STEPS, CartPole};
use pg_core::{PgRng, StepEnd};
use rand::RngExt;

// ANCHOR: cartpoles
/// C cart-poles with the dynamics, termination rule, time limit and
/// reward of [`CartPole`] (the same bits, step for step).
#[derive(Debug, Clone)]
pub struct CartPoles {
    x: Vec<f64>,
    x_dot: Vec<f64>,
    theta: Vec<f64>,
    theta_dot: Vec<f64>,
    steps: Vec<usize>,
}

impl CartPoles {
    /// `n` environments at rest; call [`CartPoles::reset`] on each before stepping it.
    pub fn new(n: usize) -> Self {
        Self {
            x: vec![0.0; n],
            x_dot: vec![0.0; n],
            theta: vec![0.0; n],
            theta_dot: vec![0.0; n],
            steps: vec![0; n],
        }
    }

    /// The number of environments.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// Starts a new episode in environment `i`, drawing its state from `rng`
    /// exactly as [`CartPole`]'s `reset` does.
    pub fn reset(&mut self, i: usize, rng: &mut PgRng) {
        let mut draw = || rng.random_range(-0.05..0.05);
        self.x[i] = draw();
        self.x_dot[i] = draw();
        self.theta[i] = draw();
        self.theta_dot[i] = draw();
        self.steps[i] = 0;
    }

    /// Environment `i`'s full-precision state `[x, ẋ, θ, θ̇]`.
    pub fn state(&self, i: usize) -> [f64; 4] {
        [self.x[i], self.x_dot[i], self.theta[i], self.theta_dot[i]]
    }

    /// Writes environment `i`'s observation (the state rounded to `f32`, as
    /// Gymnasium returns it) into `out`.
    pub fn observe(&self, i: usize, out: &mut [f64]) {
        for (o, v) in out.iter_mut().zip(self.state(i)) {
            *o = v as f32 as f64;
        }
    }

    /// Applies `action` to environment `i`; returns the reward (1 on every
    /// step, the terminating one included) and how the step ended.
    pub fn step(&mut self, i: usize, action: usize) -> (f64, StepEnd) {
        let [x, x_dot, theta, theta_dot] = CartPole::dynamics(self.state(i), action);
        (self.x[i], self.x_dot[i], self.theta[i], self.theta_dot[i]) = (x, x_dot, theta, theta_dot);
        self.steps[i] += 1;
        let end = StepEnd {
            terminated: CartPole::is_terminal([x, x_dot, theta, theta_dot]),
            truncated: self.steps[i] >= CARTPOLE_MAX_STEPS,
        };
        (1.0, end)
    }
}
// ANCHOR_END: cartpoles
