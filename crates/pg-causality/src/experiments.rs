//! Chapter 2's experiments. Chapter 1's are generic over the estimator, so
//! most of this chapter reruns them with [`RewardToGo`]; what is new is the
//! exact variance against the horizon and the stay MDP's closed form.

use crate::{RewardToGo, reward_to_go};
use pg_core::env::TabularMdp;
use pg_core::plot;
use pg_core::{Batch, Policy, StepWeights};
use pg_likelihood_ratio::exact::exact_moments;
use pg_likelihood_ratio::experiments::reference_policy;
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
