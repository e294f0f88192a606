//! A two-action policy parameterised directly by the probability of action 1,
//! as in the "stay with probability θ" example.

use super::Policy;
use crate::dist::Dist;
use crate::math::ln;
use crate::rng::PgRng;
use ndarray::{Array1, ArrayView1, array};
use rand::RngExt;

/// πθ(1) = θ, πθ(0) = 1 − θ, for 0 < θ < 1; ignores the observation.
#[derive(Debug, Clone)]
pub struct Bernoulli {
    theta: Array1<f64>,
}

impl Bernoulli {
    /// A policy taking action 1 with probability `p` (in `(0, 1)`).
    pub fn new(p: f64) -> Self {
        Self { theta: array![p] }
    }

    /// The probability of action 1.
    pub fn p(&self) -> f64 {
        self.theta[0]
    }
}

impl Policy for Bernoulli {
    type Action = usize;

    fn params(&self) -> &Array1<f64> {
        &self.theta
    }

    fn params_mut(&mut self) -> &mut Array1<f64> {
        &mut self.theta
    }

    fn dist(&self, _obs: ArrayView1<'_, f64>) -> Dist {
        Dist::Categorical(vec![1.0 - self.p(), self.p()])
    }

    fn sample(&self, _obs: ArrayView1<'_, f64>, rng: &mut PgRng) -> usize {
        usize::from(rng.random::<f64>() < self.p())
    }

    fn log_prob(&self, _obs: ArrayView1<'_, f64>, action: &usize) -> f64 {
        if *action == 1 { ln(self.p()) } else { ln(1.0 - self.p()) }
    }

    fn add_grad_log_prob(
        &self,
        _obs: ArrayView1<'_, f64>,
        action: &usize,
        weight: f64,
        grad: &mut Array1<f64>,
    ) {
        let p = self.p();
        grad[0] += weight * if *action == 1 { 1.0 / p } else { -1.0 / (1.0 - p) };
    }
}
