//! Per-step weights wᵢₜ, shaped like the batch they weigh.
//!
//! Most estimators in this book have the form ĝ = (1/N) Σᵢ Σₜ wᵢₜ ∇θ log πθ(aᵢₜ|sᵢₜ)
//! and differ only in the weights. [`StepWeights`] can be built only by
//! filling a slot for every step of every trajectory, so weights can never
//! be too short or too long for their batch.

use crate::rollout::{Batch, Trajectory};

/// One weight for every step of every trajectory of a batch, stored flat in
/// batch order (trajectory 0's steps, then trajectory 1's, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct StepWeights {
    flat: Vec<f64>,
    /// `ends[i]` is one past trajectory i's last slot in `flat`.
    ends: Vec<usize>,
}

impl StepWeights {
    /// Calls `fill(i, τᵢ, wᵢ)` for each trajectory with a zeroed slice `wᵢ` of
    /// exactly `τᵢ.len()` slots, to be filled with that trajectory's weights.
    pub fn fill<A>(batch: &Batch<A>, mut fill: impl FnMut(usize, &Trajectory<A>, &mut [f64])) -> Self {
        let mut ends = Vec::with_capacity(batch.len());
        let mut end = 0;
        for t in &batch.trajectories {
            end += t.len();
            ends.push(end);
        }
        let mut flat = vec![0.0; end];
        let mut start = 0;
        for (i, (t, &end)) in batch.trajectories.iter().zip(&ends).enumerate() {
            fill(i, t, &mut flat[start..end]);
            start = end;
        }
        Self { flat, ends }
    }

    /// The same weight for every step of trajectory i: `per_trajectory(i, τᵢ)`.
    pub fn per_trajectory<A>(batch: &Batch<A>, mut w: impl FnMut(usize, &Trajectory<A>) -> f64) -> Self {
        Self::fill(batch, |i, t, out| out.fill(w(i, t)))
    }

    /// The number of trajectories.
    pub fn num_trajectories(&self) -> usize {
        self.ends.len()
    }

    /// Trajectory i's weights, one per step.
    pub fn trajectory(&self, i: usize) -> &[f64] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.flat[start..self.ends[i]]
    }

    /// Every weight, in batch order.
    pub fn flat(&self) -> &[f64] {
        &self.flat
    }

    /// Whether these weights have exactly one slot per step of `batch`.
    pub fn fits<A>(&self, batch: &Batch<A>) -> bool {
        self.num_trajectories() == batch.len()
            && batch.trajectories.iter().enumerate().all(|(i, t)| self.trajectory(i).len() == t.len())
    }

    /// Applies `f` to every weight.
    pub fn map(mut self, f: impl Fn(f64) -> f64) -> Self {
        self.flat.iter_mut().for_each(|w| *w = f(*w));
        self
    }
}
