//! # Chapter 5: importance sampling
//!
//! On-policy estimators use every batch once. Importance sampling,
//! E_{x∼p}[f(x)] = E_{x∼q}[(p(x)/q(x)) f(x)], lets a batch sampled by an old
//! policy θ_old serve a new policy θ:
//!
//! ∇θ J(θ) = E_{τ∼pθ_old}[ (pθ(τ)/pθ_old(τ)) ∇θ log pθ(τ) r(τ) ],
//!
//! and the trajectory's ratio is a product of per-step ratios
//! ρₜ = πθ(aₜ|sₜ) / πθ_old(aₜ|sₜ): the dynamics cancel, as they did in the score.
//! Every trajectory remembers log πθ_old(aₜ|sₜ) from when it was sampled, so any
//! later policy can compute its ratios.
//!
//! The three estimators here differ in which ratios weigh which reward. With
//! θ = θ_old every ratio is 1 and they become chapters 1 and 2 again.

pub mod book;
pub mod exercises;
pub mod experiments;
pub mod reuse;

use pg_causality::reward_to_go;
use pg_core::math::exp;
use pg_core::{Batch, Policy, StepWeights, Trajectory};
use pg_likelihood_ratio::Estimator;
use pg_likelihood_ratio::registry::{Algorithm, Build, Context, Estimators, UpdateWork, Value, no_defaults};

// ANCHOR: log_ratios
/// log ρₜ = log πθ(aₜ|sₜ) − log πθ_old(aₜ|sₜ) for every step, with θ = `policy`
/// and θ_old the policy that sampled the trajectory (its log-probabilities are
/// in `traj.log_probs`).
pub fn log_ratios<P: Policy>(policy: &P, traj: &Trajectory<P::Action>) -> Vec<f64> {
    traj.steps()
        .zip(&traj.log_probs)
        .map(|((obs, a), behaviour)| policy.log_prob(obs, a) - behaviour)
        .collect()
}
// ANCHOR_END: log_ratios

/// The trajectory's ratio ρ(τ) = Πₜ ρₜ = pθ(τ)/pθ_old(τ).
pub fn trajectory_ratio<P: Policy>(policy: &P, traj: &Trajectory<P::Action>) -> f64 {
    exp(log_ratios(policy, traj).iter().sum::<f64>())
}

// ANCHOR: trajectory_estimator
/// (a) The whole trajectory's ratio: every step of τᵢ weighted by ρ(τᵢ) r(τᵢ).
/// Unbiased for ∇J(θ); its variance grows with the horizon, because ρ(τ)
/// is a product of as many factors as there are steps.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrajectoryRatio;

impl<P: Policy> Estimator<P> for TrajectoryRatio {
    fn name(&self) -> String {
        "trajectory ratio".into()
    }

    fn weights(&self, policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        Some(StepWeights::per_trajectory(batch, |_, t| trajectory_ratio(policy, t) * t.total_reward()))
    }
}
// ANCHOR_END: trajectory_estimator

// ANCHOR: per_decision_estimator
/// (b) Per-decision ratios with causality: the reward r_{t′} can only depend
/// on the actions up to t′, so it needs only their ratios,
/// wₜ = Σ_{t′≥t} (Π_{k≤t′} ρₖ) r_{t′}.
/// Unbiased for ∇J(θ), with far fewer factors on the early rewards.
#[derive(Debug, Clone, Copy, Default)]
pub struct PerDecision;

impl<P: Policy> Estimator<P> for PerDecision {
    fn name(&self) -> String {
        "per-decision ratios".into()
    }

    fn weights(&self, policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        Some(StepWeights::fill(batch, |_, t, w| per_decision_weights(policy, t, 0, w)))
    }
}

/// wₜ = Σ_{t′≥t} (Π_{k≤t′−lag} ρₖ) r_{t′} into `w`: with `lag` 0 each reward
/// gets the ratios of the actions up to its own (a deliberately broken
/// variant uses `lag` 1).
pub(crate) fn per_decision_weights<P: Policy>(
    policy: &P,
    t: &Trajectory<P::Action>,
    lag: usize,
    w: &mut [f64],
) {
    let log_r = log_ratios(policy, t);
    let mut log_product = 0.0;
    let weighted: Vec<f64> = t
        .rewards
        .iter()
        .enumerate()
        .map(|(k, r)| {
            if k >= lag {
                log_product += log_r[k - lag];
            }
            exp(log_product) * r
        })
        .collect();
    w.copy_from_slice(&reward_to_go(&weighted, 1.0));
}
// ANCHOR_END: per_decision_estimator

// ANCHOR: first_order_estimator
/// (c) The first-order approximation: only the step's own ratio,
/// wₜ = ρₜ Q̂ₜ. The exact gradient, as a sum over time steps, also needs the
/// ratio of the state distributions, pθ(sₜ)/pθ_old(sₜ), and inside Q̂ₜ the
/// future steps' ratios ∏_{t<k≤t′} ρₖ; setting both to 1 leaves an error that
/// vanishes as θ → θ_old and grows as the policies drift apart.
#[derive(Debug, Clone, Copy, Default)]
pub struct FirstOrder;

impl<P: Policy> Estimator<P> for FirstOrder {
    fn name(&self) -> String {
        "first-order approximation".into()
    }

    fn weights(&self, policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        Some(StepWeights::fill(batch, |_, t, w| ratio_times_return(policy, t, w, exp)))
    }
}

/// wₜ = ratio(log ρₜ) · Q̂ₜ: each step's return times the ratio that
/// `ratio`, fed the steps' log ratios in order, keeps at that step.
pub(crate) fn ratio_times_return<P: Policy>(
    policy: &P,
    t: &Trajectory<P::Action>,
    w: &mut [f64],
    mut ratio: impl FnMut(f64) -> f64,
) {
    for ((w_t, lr), q) in w.iter_mut().zip(log_ratios(policy, t)).zip(reward_to_go(&t.rewards, 1.0)) {
        *w_t = ratio(lr) * q;
    }
}
// ANCHOR_END: first_order_estimator

/// The effective sample size (Σᵢ ρᵢ)² / Σᵢ ρᵢ² of the trajectory ratios: how
/// many on-policy trajectories the weighted batch is worth (N when all ratios
/// are equal, 1 when one dominates).
pub fn effective_sample_size<P: Policy>(policy: &P, batch: &Batch<P::Action>) -> f64 {
    let ratios: Vec<f64> = batch.trajectories.iter().map(|t| trajectory_ratio(policy, t)).collect();
    let sum: f64 = ratios.iter().sum();
    let squares: f64 = ratios.iter().map(|r| r * r).sum();
    if squares > 0.0 { sum * sum / squares } else { 0.0 }
}

/// The values of `--estimator`, with their help.
pub const ESTIMATORS: &[(&str, &str)] = &[
    ("trajectory", "Every step weighted by the whole trajectory's ratio times its return"),
    ("per-decision", "Each reward weighted by the ratios of the actions up to it (unbiased)"),
    ("first-order", "Each step's own ratio times its reward-to-go (biased as the policy moves)"),
];

/// Chapter 5's algorithm.
pub const ALGORITHMS: &[Algorithm] = &[Algorithm {
    name: "offpolicy",
    chapter: 5,
    title: "Off-policy reuse with importance ratios",
    about: "Chapter 5: several steps per batch, corrected by importance ratios (see --reuse and --estimator)",
    flags: &["--batch", "--lr", "--reuse", "--estimator", "--hidden"],
    only_with: &[],
    refuses: &[],
    presets: &[],
    defaults: no_defaults,
    settings: |c| Ok(vec![("reuse", Value::from(steps(c)?)), ("estimator", Value::from(chosen(c)?))]),
    build: Build::Estimator(Estimators {
        tabular: estimator,
        categorical: estimator,
        gaussian: estimator,
        reuse: Some(steps),
        weighs_steps: |_| true,
        lockstep: None,
        // Each gradient first runs the policy forward for the steps' ratios.
        work: |_| Ok(UpdateWork { per_epoch: 4.0 / 3.0, ..UpdateWork::ONE_PASS }),
    }),
}];

/// `--reuse`: Adam steps per batch, 4 unless given.
fn steps(c: &Context) -> Result<usize, String> {
    Ok(c.get("--reuse")?.unwrap_or(4))
}

/// `--estimator`: per-decision unless given.
fn chosen(c: &Context) -> Result<&'static str, String> {
    let given = c.text("--estimator").unwrap_or("per-decision");
    ESTIMATORS.iter().map(|(name, _)| *name).find(|name| *name == given).ok_or_else(|| {
        format!("--estimator {given} is not allowed: use trajectory, per-decision or first-order")
    })
}

/// The estimator of `--estimator` for any policy.
fn estimator<P: Policy + 'static>(c: &Context) -> Result<Box<dyn Estimator<P>>, String> {
    Ok(match chosen(c)? {
        "trajectory" => Box::new(TrajectoryRatio),
        "first-order" => Box::new(FirstOrder),
        _ => Box::new(PerDecision),
    })
}
