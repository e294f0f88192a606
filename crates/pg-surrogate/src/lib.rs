//! # Chapter 4: the surrogate loss
//!
//! Every estimator so far has the form ĝ = (1/N) Σᵢ Σₜ wᵢₜ ∇θ log πθ(aᵢₜ|sᵢₜ),
//! and the code computed it one step at a time: N × T backward passes
//! through the network. But ĝ is the gradient of one scalar,
//!
//! L(θ) = −(1/N) Σᵢ Σₜ wᵢₜ log πθ(aᵢₜ|sᵢₜ),   −∇θ L = ĝ,
//!
//! with the weights held fixed. Its value is a weighted cross-entropy for a
//! softmax policy and a weighted squared error for a Gaussian one, and its
//! gradient takes one forward and one backward pass over the whole batch,
//! done as matrix products. This is the "pseudo-loss" that deep-learning
//! code hands to automatic differentiation.

pub mod book;
pub mod evaluate;
pub mod exercises;
pub mod experiments;
pub mod normalize;

use ndarray::{Array1, Array2};
use pg_core::math::{exp, ln};
use pg_core::policy::{Categorical, Gaussian, MlpBatch, Policy};
use pg_core::{Batch, PgError, StepWeights};
use pg_likelihood_ratio::Estimator;

// ANCHOR: steps
/// A batch flattened into steps: every observation sₜ as one row of a
/// matrix (M × obs_dim, M = Σᵢ Tᵢ), with the actions in the same order.
#[derive(Debug, Clone, PartialEq)]
pub struct Steps<A> {
    /// One row per step.
    pub obs: Array2<f64>,
    /// aₜ of each row.
    pub actions: Vec<A>,
    /// The number of trajectories N the steps came from.
    pub trajectories: usize,
}

impl<A: Clone> Steps<A> {
    /// Stacks the steps of every trajectory, in batch order (the order of
    /// [`StepWeights::flat`]).
    pub fn from_batch(batch: &Batch<A>) -> Self {
        let m = batch.num_steps();
        let dim = batch.trajectories.first().map_or(0, |t| t.obs[0].len());
        let mut obs = Array2::zeros((m, dim));
        let mut actions = Vec::with_capacity(m);
        let mut rows = obs.rows_mut().into_iter();
        for t in &batch.trajectories {
            for (o, a) in t.steps() {
                rows.next().expect("one row per step").assign(&o);
                actions.push(a.clone());
            }
        }
        Self { obs, actions, trajectories: batch.len() }
    }
}
// ANCHOR_END: steps

/// A policy with a batched surrogate: value and gradient in one pass.
pub trait BatchedPolicy: Policy {
    /// L(θ) = −(1/N) Σₘ wₘ log πθ(aₘ|sₘ) over the rows m of `steps`, up to a
    /// constant that does not depend on θ; adds ∇θ L to `grad` and returns L.
    /// `work` holds the network's buffers between calls.
    fn surrogate(
        &self,
        steps: &Steps<Self::Action>,
        weights: &[f64],
        grad: &mut Array1<f64>,
        work: &mut MlpBatch,
    ) -> f64;
}

// ANCHOR: cross_entropy
/// For a softmax policy the surrogate is a weighted cross-entropy: the
/// target distribution is the one-hot action, the prediction πθ(·|s):
///
/// L = (1/N) Σₘ wₘ CE(onehot(aₘ), πθ(·|sₘ)) = −(1/N) Σₘ wₘ log πθ(aₘ|sₘ).
///
/// Its gradient with respect to the logits ℓₘ is (wₘ/N)(πθ(·|sₘ) − onehot(aₘ)),
/// one row per step, backpropagated through the network in one pass.
impl BatchedPolicy for Categorical {
    fn surrogate(
        &self,
        steps: &Steps<usize>,
        weights: &[f64],
        grad: &mut Array1<f64>,
        work: &mut MlpBatch,
    ) -> f64 {
        assert_eq!(weights.len(), steps.actions.len(), "one weight per step");
        let params = self.params().as_slice().expect("contiguous parameters");
        self.net().forward_batch(params, steps.obs.view(), work);
        let n = steps.trajectories as f64;
        let mut grad_logits = work.output().to_owned();
        let mut loss = 0.0;
        for ((mut row, &a), &w) in grad_logits.rows_mut().into_iter().zip(&steps.actions).zip(weights) {
            // Stable log-softmax of the row, then the cross-entropy's gradient.
            let max = row.fold(f64::NEG_INFINITY, |m, &l| m.max(l));
            let log_z = max + ln(row.iter().map(|l| exp(l - max)).sum::<f64>());
            loss -= w * (row[a] - log_z) / n;
            row.mapv_inplace(|l| w * exp(l - log_z) / n);
            row[a] -= w / n;
        }
        self.net().backward_batch(params, work, grad_logits.view(), grad.as_slice_mut().expect("contiguous"));
        loss
    }
}
// ANCHOR_END: cross_entropy

// ANCHOR: squared_error
/// For a Gaussian policy, −log 𝒩(a; μ, σ²) = (a − μ)²/(2σ²) + log σ + ½ log 2π,
/// so the surrogate is a weighted squared error plus a log σ term (the
/// constant dropped):
///
/// L = (1/N) Σₘ wₘ Σ_d [ (aₘd − μd(sₘ))² / (2σd²) + log σd ].
///
/// With σ fixed the log σ term is a constant and L is a weighted regression
/// of μ(s) onto the actions taken. With σ learned, one step's gradient is
/// ∂L/∂log σ = (w/N)(1 − z²) with z = (a − μ)/σ, the 1 from the log σ term.
/// For a free σ (the same in every state) the term adds (1/N) Σ w, which is
/// zero when the weights are centred; σ then moves only through
/// −(1/N) Σ w z².
impl BatchedPolicy for Gaussian {
    fn surrogate(
        &self,
        steps: &Steps<Array1<f64>>,
        weights: &[f64],
        grad: &mut Array1<f64>,
        work: &mut MlpBatch,
    ) -> f64 {
        assert_eq!(weights.len(), steps.actions.len(), "one weight per step");
        let (net_params, free_log_std) = self.split();
        self.net().forward_batch(net_params, steps.obs.view(), work);
        let (n, d) = (steps.trajectories as f64, self.act_dim());
        let out = work.output();
        let mut grad_out = Array2::zeros(out.dim());
        let mut grad_free_log_std = vec![0.0; free_log_std.len()];
        let mut loss = 0.0;
        for (m, (a, &w)) in steps.actions.iter().zip(weights).enumerate() {
            for k in 0..d {
                let mu = out[[m, k]];
                let log_std = if self.state_dependent_std() { out[[m, d + k]] } else { free_log_std[k] };
                let sigma = exp(log_std);
                let z = (a[k] - mu) / sigma;
                loss += w * (0.5 * z * z + log_std) / n;
                grad_out[[m, k]] = -w * z / sigma / n;
                let d_log_std = w * (1.0 - z * z) / n;
                if self.state_dependent_std() {
                    grad_out[[m, d + k]] = d_log_std;
                } else {
                    grad_free_log_std[k] += d_log_std;
                }
            }
        }
        let g = grad.as_slice_mut().expect("contiguous gradient");
        let (g_net, g_log_std) = g.split_at_mut(net_params.len());
        self.net().backward_batch(net_params, work, grad_out.view(), g_net);
        g_log_std.iter_mut().zip(&grad_free_log_std).for_each(|(g, d)| *g += d);
        loss
    }
}
// ANCHOR_END: squared_error

/// The surrogate's value and gradient for a batch and its weights.
pub fn surrogate<P: BatchedPolicy>(
    policy: &P,
    batch: &Batch<P::Action>,
    weights: &StepWeights,
) -> (f64, Array1<f64>) {
    assert!(weights.fits(batch), "the weights were made for a batch of a different shape");
    let steps = Steps::from_batch(batch);
    let mut grad = Array1::zeros(policy.num_params());
    let loss = policy.surrogate(&steps, weights.flat(), &mut grad, &mut MlpBatch::default());
    (loss, grad)
}

// ANCHOR: surrogate_estimator
/// Any weighted estimator, computed as −∇L of the surrogate in one batched
/// pass instead of N × T per-step passes: the same estimate, to rounding.
/// Estimators that are not of the weighted form keep their own `gradient`.
#[derive(Debug, Clone)]
pub struct Surrogate<E>(pub E);

impl<P: BatchedPolicy, E: Estimator<P>> Estimator<P> for Surrogate<E> {
    fn name(&self) -> String {
        self.0.name()
    }

    fn weights(&self, policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        self.0.weights(policy, batch)
    }

    fn gradient(&self, policy: &P, batch: &Batch<P::Action>) -> Array1<f64> {
        match self.0.weights(policy, batch) {
            Some(weights) => -surrogate(policy, batch, &weights).1,
            None => self.0.gradient(policy, batch),
        }
    }

    fn fit(&mut self, policy: &P, batch: &Batch<P::Action>) -> Result<(), PgError> {
        self.0.fit(policy, batch)
    }
}
// ANCHOR_END: surrogate_estimator
