//! Chapter 2's experiments. Chapter 1's are generic over the estimator, so
//! most of this chapter reruns them with [`RewardToGo`]; what is new is the
//! exact variance against the horizon and the stay MDP's closed form.

use crate::{RewardToGo, reward_to_go};
use ndarray::Array1;
use pg_core::env::TabularMdp;
use pg_core::plot;
use pg_core::policy::TabularSoftmax;
use pg_core::{Batch, Policy, StepWeights};
use pg_likelihood_ratio::exact::exact_moments;
use pg_likelihood_ratio::experiments::{reference_policy, three_state_policy};
use pg_likelihood_ratio::{Estimator, Reinforce};
use plotly::Plot;

/// A deliberately wrong reward-to-go: each action weighted by the rewards
/// from the step *after* it (Q̂ₜ − rₜ), so its own reward is lost.
#[derive(Debug, Clone, Copy, Default)]
pub struct OffByOne;

impl<P: Policy> Estimator<P> for OffByOne {
    fn name(&self) -> String {
        "reward-to-go from the next step".into()
    }

    fn weights(&self, _policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        Some(StepWeights::fill(batch, |_, t, w| {
            for ((w_t, q), r) in w.iter_mut().zip(reward_to_go(&t.rewards, 1.0)).zip(&t.rewards) {
                *w_t = q - r;
            }
        }))
    }
}

/// The closed-form variance of the reward-to-go estimator on the "stay" MDP,
/// (θ + 3 + 1/θ)/(1 − θ)⁴ (derived in the chapter).
pub fn stay_closed_form_variance(theta: f64) -> f64 {
    (theta + 3.0 + 1.0 / theta) / (1.0 - theta).powi(4)
}

/// Exact variances of chapter 1's and chapter 2's estimators at one horizon.
#[derive(Debug, Clone, PartialEq)]
pub struct HorizonRow {
    /// The horizon H of the three-state MDP.
    pub horizon: usize,
    /// The number of trajectories enumerated.
    pub trajectories: usize,
    /// tr Cov[ĝ] of REINFORCE (one trajectory).
    pub reinforce: f64,
    /// tr Cov[ĝ] of reward-to-go (one trajectory).
    pub reward_to_go: f64,
    /// The largest bias of reward-to-go, maxₖ |E[ĝₖ] − ∇ₖJ| (zero to rounding).
    pub reward_to_go_bias: f64,
}

impl HorizonRow {
    /// How many times smaller the variance is with reward-to-go.
    pub fn ratio(&self) -> f64 {
        self.reinforce / self.reward_to_go
    }
}

// ANCHOR: variance_against_horizon
/// The exact variance of both estimators on the three-state MDP cut at each
/// horizon, at the reference policy, by enumerating every trajectory.
pub fn variance_against_horizon(horizons: &[usize]) -> Vec<HorizonRow> {
    let policy = reference_policy();
    horizons
        .iter()
        .map(|&horizon| {
            let mdp = TabularMdp::three_state_with_horizon(horizon);
            let exact = mdp.exact_gradient(&policy);
            let rtg = exact_moments(&mdp, &policy, &RewardToGo::new(), 1);
            HorizonRow {
                horizon,
                trajectories: mdp.enumerate(&policy).len(),
                reinforce: exact_moments(&mdp, &policy, &Reinforce, 1).total_variance(),
                reward_to_go: rtg.total_variance(),
                reward_to_go_bias: rtg.max_abs_bias(&exact),
            }
        })
        .collect()
}
// ANCHOR_END: variance_against_horizon

/// The three-state MDP with the same states, transitions and horizon and
/// another reward table (`reward[s][a]`).
pub fn with_rewards(mdp: &TabularMdp, reward: &[[f64; 2]]) -> TabularMdp {
    let states = 0..mdp.n_states();
    TabularMdp::new(
        mdp.initial().to_vec(),
        states
            .clone()
            .map(|s| (0..mdp.n_actions()).map(|a| mdp.transitions(s, a).to_vec()).collect())
            .collect(),
        reward.iter().map(|r| r.to_vec()).collect(),
        states.map(|s| mdp.is_terminal(s)).collect(),
        mdp.horizon(),
    )
}

/// The rewards r(s, a) of the counterexample: each safe action pays, each
/// risky one costs ½ (the terminal state pays nothing).
pub const MIXED_REWARDS: [[f64; 2]; 3] = [[1.0, -0.5], [2.0, -0.5], [0.0, 0.0]];

/// The policy of the counterexample: the risky action in both states with
/// probability 1/(1 + e⁻⁴) ≈ 0.98.
pub fn mostly_risky_policy() -> TabularSoftmax {
    three_state_policy(&[-2.0, 2.0, -2.0, 2.0, 0.0, 0.0])
}

// ANCHOR: decomposition
/// REINFORCE's one-trajectory estimate is reward-to-go's plus the dropped
/// terms, D = Σₜ ∇θ log πθ(aₜ|sₜ) Σ_{t′<t} r_{t′}, so
///
/// tr Cov[REINFORCE] = tr Cov[reward-to-go] + tr Cov[D] + 2 tr Cov[reward-to-go, D].
///
/// E[D] = 0, but D is correlated with what stays: when the covariance is
/// negative enough, reward-to-go is the noisier estimator.
#[derive(Debug, Clone, PartialEq)]
pub struct Decomposition {
    /// tr Cov of REINFORCE's estimate.
    pub reinforce: f64,
    /// tr Cov of reward-to-go's estimate.
    pub reward_to_go: f64,
    /// tr Cov[D] of the dropped terms.
    pub dropped: f64,
    /// 2 tr Cov[reward-to-go, D].
    pub twice_covariance: f64,
    /// maxₖ |E[Dₖ]|, zero to rounding.
    pub dropped_mean: f64,
}

/// [`Decomposition`] of one-trajectory estimates, exactly by enumeration.
pub fn decomposition(mdp: &TabularMdp, policy: &TabularSoftmax) -> Decomposition {
    let outcomes: Vec<(f64, Array1<f64>, Array1<f64>)> = mdp
        .enumerate(policy)
        .into_iter()
        .map(|(p, t)| {
            let batch = Batch { trajectories: vec![t] };
            let kept = RewardToGo::new().gradient(policy, &batch);
            let dropped = Reinforce.gradient(policy, &batch) - &kept;
            (p, kept, dropped)
        })
        .collect();
    let dim = policy.num_params();
    let mk: Array1<f64> = outcomes.iter().fold(Array1::zeros(dim), |acc, (p, k, _)| acc + k * *p);
    let md: Array1<f64> = outcomes.iter().fold(Array1::zeros(dim), |acc, (p, _, d)| acc + d * *p);
    let trace = |f: &dyn Fn(&Array1<f64>, &Array1<f64>) -> f64| -> f64 {
        outcomes.iter().map(|(p, k, d)| p * f(&(k - &mk), &(d - &md))).sum()
    };
    Decomposition {
        reinforce: trace(&|k, d| (k + d).dot(&(k + d))),
        reward_to_go: trace(&|k, _| k.dot(k)),
        dropped: trace(&|_, d| d.dot(d)),
        twice_covariance: 2.0 * trace(&|k, d| k.dot(d)),
        dropped_mean: md.iter().fold(0.0, |m, x| m.max(x.abs())),
    }
}
// ANCHOR_END: decomposition

/// The figure: both exact variances (log scale) against the horizon.
pub fn horizon_plot(rows: &[HorizonRow]) -> Plot {
    let h: Vec<f64> = rows.iter().map(|r| r.horizon as f64).collect();
    plot::lines(
        "Exact variance against horizon (three-state MDP)",
        "horizon H",
        "tr Cov of a single-trajectory estimate",
        plot::Axes::LogY,
        &[
            ("REINFORCE (whole return)", h.clone(), rows.iter().map(|r| r.reinforce).collect()),
            ("reward-to-go", h, rows.iter().map(|r| r.reward_to_go).collect()),
        ],
    )
}
