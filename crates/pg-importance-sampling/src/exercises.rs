//! Chapter 5's graded exercise: per-decision importance weights.
//!
//! [`check_per_decision`] compares a reader's weights with [`PerDecision`](crate::PerDecision)'s
//! on fixed and random episodes, then computes the exact bias and tr Cov of
//! the off-policy estimator they make on the three-state MDP (samples from
//! θ_old, gradient at θ, the chapter's pair of policies), and names the
//! known mistakes it recognises.

use crate::book::SCALE;
use crate::experiments::{moved_policy, off_policy_moments};
use crate::{log_ratios, per_decision_weights};
use ndarray::Array1;
use pg_causality::reward_to_go;
use pg_core::env::TabularMdp;
use pg_core::grading::{Grade, Mistake, check_exact, grade};
use pg_core::policy::TabularSoftmax;
use pg_core::{Batch, Policy, StepWeights, Trajectory, seeded};
use pg_likelihood_ratio::Estimator;
use pg_likelihood_ratio::experiments::{EXACT_TOL, reference_policy};
use rand::RngExt;

/// Per-decision weights as the exercise asks for them: one episode's
/// log-ratios log ρₜ = log πθ(aₜ|sₜ) − log πθ_old(aₜ|sₜ) and rewards in,
/// wₜ = Σ_{t′≥t} (Π_{k≤t′} ρₖ) r_{t′} out.
pub type PerDecisionFn = fn(&[f64], &[f64]) -> Vec<f64>;

/// A reader's per-decision function, whatever kind of function it is.
pub type DynPerDecision<'a> = dyn Fn(&[f64], &[f64]) -> Vec<f64> + 'a;

/// The chapter's per-decision weights, with the given `lag`, on a trajectory
/// with these log-ratios (a one-action policy has log π = 0, so the
/// trajectory records log πθ_old = −log ρₜ).
fn with_lag(log_ratios: &[f64], rewards: &[f64], lag: usize) -> Vec<f64> {
    let obs = Array1::from(vec![1.0]);
    let trajectory = Trajectory {
        obs: vec![obs; rewards.len() + 1],
        actions: vec![0; rewards.len()],
        rewards: rewards.to_vec(),
        log_probs: log_ratios.iter().map(|l| -l).collect(),
        terminated: true,
        truncated: false,
    };
    let mut w = vec![0.0; rewards.len()];
    per_decision_weights(&TabularSoftmax::new(1, 1), &trajectory, lag, &mut w);
    w
}

/// The reference: the weights of the chapter's [`PerDecision`](crate::PerDecision) estimator.
pub fn per_decision(log_ratios: &[f64], rewards: &[f64]) -> Vec<f64> {
    with_lag(log_ratios, rewards, 0)
}

/// The mistakes [`check_per_decision`] recognises.
pub const PER_DECISION_MISTAKES: &[Mistake<PerDecisionFn>] = &[
    Mistake {
        diagnosis: "every step gets the whole trajectory's ratio ρ(τ) = Πₜ ρₜ times r(τ): that is the trajectory \
                    estimator, unbiased but with every factor on every reward; per decision, the reward at t′ \
                    needs only the ratios up to t′, and step t only the rewards from t on",
        answer: |l, r| vec![l.iter().sum::<f64>().exp() * r.iter().sum::<f64>(); r.len()],
    },
    Mistake {
        diagnosis: "only the step's own ratio ρₜ times Q̂ₜ: that is the first-order approximation, biased once \
                    the policies differ; the reward at t′ needs the ratios of every action up to t′",
        answer: |l, r| reward_to_go(r, 1.0).iter().zip(l).map(|(q, l)| l.exp() * q).collect(),
    },
    Mistake {
        diagnosis: "the reward at t′ gets the ratios of the actions before t′ only: the ratio of the action at t′ \
                    belongs in the product too",
        answer: |l, r| with_lag(l, r, 1),
    },
    Mistake {
        diagnosis: "the ratio is inverted: ρ = πθ/πθ_old, new over old, because the samples came from θ_old",
        answer: |l, r| per_decision(&l.iter().map(|x| -x).collect::<Vec<_>>(), r),
    },
    Mistake {
        diagnosis: "the log-ratios are added but not exponentiated: the product Π ρₖ is exp(Σ log ρₖ)",
        answer: |l, r| {
            let mut sum = 0.0;
            let weighted: Vec<f64> = r
                .iter()
                .zip(l)
                .map(|(r, l)| {
                    sum += l;
                    sum * r
                })
                .collect();
            reward_to_go(&weighted, 1.0)
        },
    },
    Mistake {
        diagnosis: "Q̂ₜ is weighted by the ratios up to t only: the rewards after t need the later actions' \
                    ratios as well",
        answer: |l, r| {
            let mut log_product = 0.0;
            reward_to_go(r, 1.0)
                .iter()
                .zip(l)
                .map(|(q, l)| {
                    log_product += l;
                    log_product.exp() * q
                })
                .collect()
        },
    },
    Mistake {
        diagnosis: "no ratios at all: that is the on-policy reward-to-go, biased when the samples come from \
                    another policy",
        answer: |_, r| reward_to_go(r, 1.0),
    },
];

// ANCHOR: per_decision_starter
fn my_per_decision(log_ratios: &[f64], rewards: &[f64]) -> Vec<f64> {
    let mut following = 0.0;
    let mut out = vec![0.0; rewards.len()];
    for t in (0..rewards.len()).rev() {
        following += rewards[t];
        out[t] = log_ratios[t].exp() * following;
    }
    out
}
// ANCHOR_END: per_decision_starter

/// The notebook's starter (the cell holds the anchored function above):
/// it compiles, runs, and is wrong in an instructive way: the first-order
/// approximation.
pub const PER_DECISION_STARTER: PerDecisionFn = my_per_decision;

/// The grader's cases: (log-ratios, rewards), fixed ones (all ratios 1,
/// one step, none) then random ones.
pub fn per_decision_cases() -> Vec<(Vec<f64>, Vec<f64>)> {
    let mut out = vec![
        (vec![0.2, -0.4, 0.3], vec![1.0, 2.0, -1.0]),
        (vec![0.5, 0.1, -0.2, 0.4], vec![0.5, 0.0, 1.5, 2.0]),
        (vec![0.0, 0.0], vec![1.0, 1.0]),
        (vec![-0.3], vec![2.0]),
        (vec![], vec![]),
    ];
    let mut rng = seeded(5);
    for _ in 0..30 {
        let len = rng.random_range(1..10);
        let l = (0..len).map(|_| rng.random_range(-0.7..0.7)).collect();
        out.push((l, (0..len).map(|_| rng.random_range(-2.0..2.0)).collect()));
    }
    out
}

/// The off-policy estimator a reader's weights make.
struct Yours<'a>(&'a DynPerDecision<'a>);

impl<P: Policy> Estimator<P> for Yours<'_> {
    fn name(&self) -> String {
        "your per-decision weights".into()
    }

    fn weights(&self, policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        Some(StepWeights::fill(batch, |_, t, w| {
            w.copy_from_slice(&(self.0)(&log_ratios(policy, t), &t.rewards))
        }))
    }
}

/// The exact largest bias and tr Cov, for ∇J(θ), of the estimator the
/// weights `f` make from one trajectory of θ_old, with the chapter's pair:
/// θ_old the reference policy of the three-state MDP, θ moved by [`SCALE`].
pub fn exact_bias_and_variance(f: &DynPerDecision<'_>) -> (f64, f64) {
    let mdp = TabularMdp::three_state();
    let (old, new) = (reference_policy(), moved_policy(SCALE));
    let m = off_policy_moments(&mdp, &old, &new, &Yours(f));
    (m.max_abs_bias(&mdp.exact_gradient(&new)), m.total_variance())
}

/// Grades `f` as the per-decision weights wₜ = Σ_{t′≥t} (Π_{k≤t′} ρₖ) r_{t′}:
/// against [`per_decision`] on [`per_decision_cases`], then by the exact
/// bias and tr Cov of the estimator it makes.
pub fn check_per_decision(f: impl Fn(&[f64], &[f64]) -> Vec<f64>) -> Grade {
    let mut grade = grade(
        "per-decision weights",
        &per_decision_cases(),
        |(l, r)| format!("log-ratios {l:?} and rewards {r:?}"),
        |(l, r)| f(l, r),
        |(l, r)| per_decision(l, r),
        PER_DECISION_MISTAKES,
        |m, (l, r)| m(l, r),
    );
    let reference = ("per-decision", exact_bias_and_variance(&per_decision).1);
    let setting = "three-state MDP, samples from θ_old, gradient at θ";
    check_exact(&mut grade, setting, || exact_bias_and_variance(&f), reference, EXACT_TOL);
    grade
}
