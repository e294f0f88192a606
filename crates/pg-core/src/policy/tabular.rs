//! The tabular softmax policy: one logit per (state, action) pair.

use super::{Policy, log_softmax, sample_from_logits};
use crate::dist::Dist;
use crate::math::exp;
use crate::rng::PgRng;
use ndarray::{Array1, ArrayView1};

/// πθ(a|s) = exp θ_{s,a} / Σ_b exp θ_{s,b}.
/// Observations are one-hot state vectors; the state is the hot index.
#[derive(Debug, Clone)]
pub struct TabularSoftmax {
    n_actions: usize,
    theta: Array1<f64>,
}

impl TabularSoftmax {
    /// The uniform policy (all logits zero).
    pub fn new(n_states: usize, n_actions: usize) -> Self {
        Self { n_actions, theta: Array1::zeros(n_states * n_actions) }
    }

    fn state(obs: ArrayView1<'_, f64>) -> usize {
        obs.iter().position(|&v| v == 1.0).expect("tabular policies take one-hot observations")
    }

    fn log_probs(&self, obs: ArrayView1<'_, f64>) -> (usize, Vec<f64>) {
        let s = Self::state(obs);
        let row = self.theta.slice(ndarray::s![s * self.n_actions..(s + 1) * self.n_actions]);
        (s, log_softmax(&row.to_vec()))
    }
}

impl Policy for TabularSoftmax {
    type Action = usize;

    fn params(&self) -> &Array1<f64> {
        &self.theta
    }

    fn params_mut(&mut self) -> &mut Array1<f64> {
        &mut self.theta
    }

    fn dist(&self, obs: ArrayView1<'_, f64>) -> Dist {
        Dist::Categorical(self.log_probs(obs).1.iter().map(|&l| exp(l)).collect())
    }

    fn sample(&self, obs: ArrayView1<'_, f64>, rng: &mut PgRng) -> usize {
        self.sample_with_log_prob(obs, rng).0
    }

    fn sample_with_log_prob(&self, obs: ArrayView1<'_, f64>, rng: &mut PgRng) -> (usize, f64) {
        let s = Self::state(obs);
        let row = self.theta.slice(ndarray::s![s * self.n_actions..(s + 1) * self.n_actions]);
        sample_from_logits(row.as_slice().expect("a row of a contiguous vector"), rng)
    }

    fn log_prob(&self, obs: ArrayView1<'_, f64>, action: &usize) -> f64 {
        self.log_probs(obs).1[*action]
    }

    // ANCHOR: tabular_score
    /// Adds w · ∂ log πₐ/∂θ_{s,b} = w (1[b = a] − π_b) to the state's row.
    fn add_grad_log_prob(
        &self,
        obs: ArrayView1<'_, f64>,
        action: &usize,
        weight: f64,
        grad: &mut Array1<f64>,
    ) {
        let (s, lp) = self.log_probs(obs);
        for (b, l) in lp.iter().enumerate() {
            let indicator = if b == *action { 1.0 } else { 0.0 };
            grad[s * self.n_actions + b] += weight * (indicator - exp(*l));
        }
    }
    // ANCHOR_END: tabular_score
}
