//! Chapter 5's experiments: exact moments of off-policy estimators on the
//! three-state MDP (samples from θ_old, gradient at θ), the trajectory ratio
//! against the horizon, and the first-order approximation's bias against
//! the distance between the policies.

use crate::{FirstOrder, PerDecision, TrajectoryRatio, log_ratios};
use ndarray::Array1;
use pg_core::env::TabularMdp;
use pg_core::policy::{Policy, TabularSoftmax};
use pg_core::{Batch, StepWeights};
use pg_likelihood_ratio::Estimator;
use pg_likelihood_ratio::exact::{Moments, weighted_moments};
use pg_likelihood_ratio::experiments::{fit_slope, reference_policy};

// ANCHOR: off_policy_moments
/// The exact mean and variance of a single-trajectory estimate of ∇J(θ)
/// (`target`) from trajectories sampled by θ_old (`behaviour`): every trajectory
/// is enumerated under θ_old and the estimator evaluated at θ.
pub fn off_policy_moments<E>(
    mdp: &TabularMdp,
    behaviour: &TabularSoftmax,
    target: &TabularSoftmax,
    estimator: &E,
) -> Moments
where
    E: Estimator<TabularSoftmax> + ?Sized,
{
    let outcomes: Vec<(f64, Array1<f64>)> = mdp
        .enumerate(behaviour)
        .into_iter()
        .map(|(p, t)| (p, estimator.gradient(target, &Batch { trajectories: vec![t] })))
        .collect();
    weighted_moments(&outcomes)
}
// ANCHOR_END: off_policy_moments

/// The direction in which the experiments move θ away from θ_old. It changes
/// the action probabilities in every state, the terminal one included, which
/// matters once that state no longer ends the episode.
pub fn direction() -> Array1<f64> {
    Array1::from(vec![0.5, -0.5, 0.3, -0.3, 0.4, -0.4])
}

/// θ = θ_ref + `scale` · d: the reference policy moved along [`direction`].
pub fn moved_policy(scale: f64) -> TabularSoftmax {
    let mut p = reference_policy();
    p.params_mut().scaled_add(scale, &direction());
    p
}

/// E_{s∼θ_old}[KL(πθ_old(·|s) ‖ πθ(·|s))]: the KL divergence averaged over the
/// steps of trajectories sampled by θ_old, exactly.
pub fn exact_mean_kl(mdp: &TabularMdp, behaviour: &TabularSoftmax, target: &TabularSoftmax) -> f64 {
    let (mut total, mut steps) = (0.0, 0.0);
    for (p, t) in mdp.enumerate(behaviour) {
        for (obs, _) in t.steps() {
            total += p * behaviour.dist(obs).kl(&target.dist(obs));
            steps += p;
        }
    }
    total / steps
}

/// A deliberately wrong estimator: the trajectory ratio inverted, pθ_old/pθ.
#[derive(Debug, Clone, Copy, Default)]
pub struct InvertedRatio;

impl<P: Policy> Estimator<P> for InvertedRatio {
    fn name(&self) -> String {
        "trajectory ratio inverted".into()
    }

    fn weights(&self, policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        Some(StepWeights::per_trajectory(batch, |_, t| {
            (-log_ratios(policy, t).iter().sum::<f64>()).exp() * t.total_reward()
        }))
    }
}

/// A deliberately wrong estimator: per-decision ratios applied one step
/// late (r_{t′} weighted by the ratios before t′ only, missing its own).
#[derive(Debug, Clone, Copy, Default)]
pub struct RatioOneStepLate;

impl<P: Policy> Estimator<P> for RatioOneStepLate {
    fn name(&self) -> String {
        "per-decision ratios one step late".into()
    }

    fn weights(&self, policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        Some(StepWeights::fill(batch, |_, t, w| crate::per_decision_weights(policy, t, 1, w)))
    }
}

/// The first-order approximation with the state ratio kept:
/// wₜ = (Π_{k≤t} ρₖ) Q̂ₜ. The product of the ratios before t has conditional
/// mean pθ(sₜ)/pθ_old(sₜ) given sₜ, so this estimator's mean is that of the
/// exact state ratio times ρₜ Q̂ₜ: it still drops the ratios of the actions
/// after t, which Q̂ₜ (a return of θ_old's trajectory) needs to estimate θ's
/// values.
#[derive(Debug, Clone, Copy, Default)]
pub struct StateRatioKept;

impl<P: Policy> Estimator<P> for StateRatioKept {
    fn name(&self) -> String {
        "state ratio kept, later ratios dropped".into()
    }

    fn weights(&self, policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        Some(StepWeights::fill(batch, |_, t, w| {
            let mut log_product = 0.0;
            crate::ratio_times_return(policy, t, w, |lr| {
                log_product += lr;
                log_product.exp()
            })
        }))
    }
}

/// The off-policy estimators and their broken variants, for the check table.
pub fn checked_estimators() -> Vec<Box<dyn Estimator<TabularSoftmax>>> {
    vec![
        Box::new(TrajectoryRatio),
        Box::new(PerDecision),
        Box::new(FirstOrder),
        Box::new(InvertedRatio),
        Box::new(RatioOneStepLate),
    ]
}

/// One row of the first-order experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstOrderRow {
    /// How far θ was moved along the direction.
    pub scale: f64,
    /// ‖θ − θ_old‖.
    pub distance: f64,
    /// E_{s∼θ_old}[KL(πθ_old ‖ πθ)].
    pub kl: f64,
    /// ‖E[ĝ_first-order] − ∇J(θ)‖, exact.
    pub bias: f64,
    /// The same with the state ratio kept ([`StateRatioKept`]).
    pub bias_state_ratio_kept: f64,
    /// ‖∇J(θ)‖.
    pub gradient_norm: f64,
}

// ANCHOR: first_order_bias
/// The first-order approximation's exact bias for θ at each scale, with the
/// distance and KL between the policies, on the three-state MDP.
pub fn first_order_bias(scales: &[f64]) -> Vec<FirstOrderRow> {
    let mdp = TabularMdp::three_state();
    let behaviour = reference_policy();
    scales
        .iter()
        .map(|&scale| {
            let target = moved_policy(scale);
            let truth = mdp.exact_gradient(&target);
            let bias = |e: &dyn Estimator<TabularSoftmax>| {
                let d = &off_policy_moments(&mdp, &behaviour, &target, e).mean - &truth;
                d.dot(&d).sqrt()
            };
            FirstOrderRow {
                scale,
                distance: scale * direction().dot(&direction()).sqrt(),
                kl: exact_mean_kl(&mdp, &behaviour, &target),
                bias: bias(&FirstOrder),
                bias_state_ratio_kept: bias(&StateRatioKept),
                gradient_norm: truth.dot(&truth).sqrt(),
            }
        })
        .collect()
}
// ANCHOR_END: first_order_bias

/// The fitted log-log slopes of the bias against the distance and against the KL.
pub fn bias_orders(rows: &[FirstOrderRow]) -> (f64, f64) {
    let ln = |xs: Vec<f64>| xs.into_iter().map(f64::ln).collect::<Vec<_>>();
    let bias = ln(rows.iter().map(|r| r.bias).collect());
    (
        fit_slope(&ln(rows.iter().map(|r| r.distance).collect()), &bias),
        fit_slope(&ln(rows.iter().map(|r| r.kl).collect()), &bias),
    )
}

/// Exact quantities at one horizon.
#[derive(Debug, Clone, PartialEq)]
pub struct HorizonRow {
    /// The horizon H.
    pub horizon: usize,
    /// Var[ρ(τ)] = E_θ_old[ρ²] − 1.
    pub ratio_variance: f64,
    /// Var[log ρ(τ)].
    pub log_ratio_variance: f64,
    /// The effective sample size per trajectory, 1 / E_θ_old[ρ²].
    pub ess_fraction: f64,
    /// tr Cov of the trajectory-ratio estimator.
    pub trajectory: f64,
    /// tr Cov of the per-decision estimator.
    pub per_decision: f64,
}

// ANCHOR: horizon
/// The trajectory ratio's variance, the effective sample size and both
/// unbiased estimators' variances at each horizon, for θ = θ_old moved by `scale`.
pub fn ratio_against_horizon(horizons: &[usize], scale: f64) -> Vec<HorizonRow> {
    let (behaviour, target) = (reference_policy(), moved_policy(scale));
    horizons
        .iter()
        .map(|&horizon| {
            let mdp = TabularMdp::three_state_with_horizon(horizon);
            let (mut second, mut log_mean, mut log_square) = (0.0, 0.0, 0.0);
            for (p, t) in mdp.enumerate(&behaviour) {
                let l: f64 = log_ratios(&target, &t).iter().sum();
                second += p * (2.0 * l).exp();
                log_mean += p * l;
                log_square += p * l * l;
            }
            HorizonRow {
                horizon,
                ratio_variance: second - 1.0,
                log_ratio_variance: log_square - log_mean * log_mean,
                ess_fraction: 1.0 / second,
                trajectory: off_policy_moments(&mdp, &behaviour, &target, &TrajectoryRatio).total_variance(),
                per_decision: off_policy_moments(&mdp, &behaviour, &target, &PerDecision).total_variance(),
            }
        })
        .collect()
}
// ANCHOR_END: horizon

/// The spread of the trajectory ratio at longer horizons, by simulation:
/// for `n` trajectories sampled by θ_old at each horizon, the sample variance of
/// log ρ(τ) (a sum of one term per step, so it grows with the horizon and is
/// easy to estimate) and the effective sample size of all `n` as a fraction
/// of `n`. The variance of ρ itself is dominated by rare huge ratios, which
/// a sample rarely contains: its estimate is unreliable exactly when it
/// matters.
pub fn simulated_ratio_spread(horizons: &[usize], scale: f64, n: usize, seed: u64) -> Vec<(usize, f64, f64)> {
    let (behaviour, target) = (reference_policy(), moved_policy(scale));
    horizons
        .iter()
        .map(|&h| {
            let mut mdp = TabularMdp::three_state_with_horizon(h).without_termination();
            let mut rng = pg_core::rng::substream(seed, h as u64);
            let logs: Vec<f64> = (0..n)
                .map(|_| {
                    let t = pg_core::rollout::rollout(&mut mdp, &behaviour, &mut rng);
                    log_ratios(&target, &t).iter().sum::<f64>()
                })
                .collect();
            let (sum, squares) = logs.iter().fold((0.0, 0.0), |(s, q), l| (s + l.exp(), q + (2.0 * l).exp()));
            (h, pg_likelihood_ratio::experiments::mean_sd(&logs).1.powi(2), sum * sum / squares / n as f64)
        })
        .collect()
}

/// Settings of the CartPole reuse runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ReuseSetup {
    /// Steps per batch to compare.
    pub reuse: Vec<usize>,
    /// The CartPole settings (seeds, network, batch, step size, budget).
    pub cartpole: pg_likelihood_ratio::experiments::CartPoleSetup,
}

// ANCHOR: train_reuse
/// Trains CartPole with U steps of the first-order estimator per batch,
/// the gradient through chapter 4's batched surrogate.
pub fn train_cartpole_reuse(
    k: usize,
    seed: u64,
    setup: &ReuseSetup,
) -> Result<pg_likelihood_ratio::TrainLog, pg_core::PgError> {
    let c = &setup.cartpole;
    let mut policy =
        pg_core::policy::Categorical::mlp(4, &c.hidden, 2, &mut pg_core::rng::substream(seed, 1_000));
    let mut update = crate::reuse::Reuse::adam(pg_surrogate::Surrogate(FirstOrder), c.lr, k)?;
    let config = pg_likelihood_ratio::TrainConfig {
        iters: c.iters,
        batch: c.batch,
        seed,
        max_env_steps: c.max_env_steps,
    };
    pg_likelihood_ratio::train(&mut pg_core::env::CartPole::new(), &mut policy, &mut update, &config, |_| {})
}
// ANCHOR_END: train_reuse

/// Every (U, seed) run, on every core; `result[k][s]` for `setup.reuse[k]` and seed s.
pub fn reuse_runs(setup: &ReuseSetup) -> Result<Vec<Vec<pg_likelihood_ratio::TrainLog>>, pg_core::PgError> {
    pg_likelihood_ratio::experiments::runs_grid(&setup.reuse, &setup.cartpole.seeds, |&k, s| {
        train_cartpole_reuse(k, s, setup)
    })
}

/// The mean over runs of an update metric (`kl`, `ess`, ...) after each
/// update, by iteration (runs cut to the shortest; a missing value counts as 0).
pub fn mean_metric_per_iteration(logs: &[pg_likelihood_ratio::TrainLog], metric: &str) -> Vec<f64> {
    let n = logs.iter().map(|l| l.iterations.len()).min().unwrap_or(0);
    (0..n)
        .map(|i| {
            logs.iter().map(|l| l.iterations[i].update.get(metric).unwrap_or(0.0)).sum::<f64>()
                / logs.len() as f64
        })
        .collect()
}
