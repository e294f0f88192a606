//! Chapter 2's graded exercise: write the discounted reward-to-go.
//!
//! [`check_reward_to_go`] grades a reader's function three ways: against
//! [`reward_to_go`] on fixed and random episodes; by the exact bias and
//! tr Cov of the estimator it makes, enumerated on the three-state MDP with
//! rewards in both states; and, when the answer is wrong, by trying the
//! known mistakes and naming the one it matches.

use crate::experiments::{MIXED_REWARDS, with_rewards};
use crate::reward_to_go;
use pg_core::env::TabularMdp;
use pg_core::grading::{Grade, Mistake, check_exact, grade};
use pg_core::{Batch, Policy, StepWeights, seeded};
use pg_likelihood_ratio::Estimator;
use pg_likelihood_ratio::exact::exact_moments;
use pg_likelihood_ratio::experiments::{EXACT_TOL, reference_policy};
use rand::RngExt;

/// A reward-to-go as the exercise asks for it: the rewards r₀ … r_{T−1} of
/// one episode and γ in, Q̂₀ … Q̂_{T−1} out.
pub type RewardToGoFn<'a> = dyn Fn(&[f64], f64) -> Vec<f64> + 'a;

/// The same as a plain function: the type of the known mistakes.
pub type RewardToGoPtr = fn(&[f64], f64) -> Vec<f64>;

/// Σ_{t′} γ^{t′} r_{t′}: the discounted return from the episode's start.
fn discounted_return(rewards: &[f64], gamma: f64) -> f64 {
    rewards.iter().rev().fold(0.0, |g, r| r + gamma * g)
}

/// The mistakes the grader recognises, each distinguishable from the
/// others and from the answer on the grader's episodes.
pub const MISTAKES: &[Mistake<RewardToGoPtr>] = &[
    Mistake {
        diagnosis: "each step keeps only its own reward: add the (discounted) rewards that follow it",
        answer: |r, _| r.to_vec(),
    },
    Mistake {
        diagnosis: "the action's own reward is missing: your weights sum the rewards from t + 1 on; \
                    Q̂ₜ starts with rₜ",
        // Q̂ₜ₊₁ in place of Q̂ₜ (and 0 at the last step).
        answer: |r, g| {
            let q = reward_to_go(r, g);
            q.iter().skip(1).copied().chain(std::iter::once(0.0)).take(r.len()).collect()
        },
    },
    Mistake {
        diagnosis: "discounted from the episode's start (γ^t′ rₜ′), not from step t (γ^(t′−t) rₜ′)",
        answer: |r, g| {
            let mut out = vec![0.0; r.len()];
            let mut following = 0.0;
            for t in (0..r.len()).rev() {
                following += g.powi(t as i32) * r[t];
                out[t] = following;
            }
            out
        },
    },
    Mistake {
        diagnosis: "your weights sum the rewards up to t, the past the action cannot change, instead of \
                    those from t on",
        answer: |r, g| {
            let mut out = Vec::with_capacity(r.len());
            let mut past = 0.0;
            for x in r {
                past = x + g * past;
                out.push(past);
            }
            out
        },
    },
    Mistake {
        diagnosis: "every step gets the whole discounted return: that is chapter 1's weight, which causality \
                    replaces by the rewards from t on",
        answer: |r, g| vec![discounted_return(r, g); r.len()],
    },
    Mistake {
        diagnosis: "the discount γ is ignored: with γ < 1 the reward k steps later counts γᵏ times",
        answer: |r, _| reward_to_go(r, 1.0),
    },
];

// ANCHOR: starter
fn my_reward_to_go(rewards: &[f64], gamma: f64) -> Vec<f64> {
    let _ = gamma;
    rewards.to_vec()
}
// ANCHOR_END: starter

/// The notebook's starter (the cell holds the anchored function above):
/// it compiles, runs, and is wrong in an instructive way: each step keeps only
/// its own reward.
pub const STARTER: RewardToGoPtr = my_reward_to_go;

/// The grader's episodes: fixed ones that tell the mistakes apart (rewards
/// that differ at every step, γ of 1, 0.9, 0.5 and 0, an empty and a
/// one-step episode), then random ones.
pub fn episodes() -> Vec<(Vec<f64>, f64)> {
    let mut out = vec![
        (vec![1.0, 2.0, 4.0], 1.0),
        (vec![1.0, 2.0, 4.0], 0.9),
        (vec![1.0, -2.0, 0.5, 3.0], 0.5),
        (vec![1.0, 2.0, 4.0], 0.0),
        (vec![], 0.9),
        (vec![-1.5], 0.7),
    ];
    let mut rng = seeded(2);
    for _ in 0..30 {
        let len = rng.random_range(1..12);
        let rewards = (0..len).map(|_| rng.random_range(-2.0..2.0)).collect();
        out.push((rewards, rng.random_range(0.0..=1.0)));
    }
    out
}

/// The estimator chapter 2 builds from a reward-to-go function (γ = 1).
struct Weighted<'a>(&'a RewardToGoFn<'a>);

impl<P: Policy> Estimator<P> for Weighted<'_> {
    fn name(&self) -> String {
        "your reward-to-go".into()
    }

    fn weights(&self, _policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        Some(StepWeights::fill(batch, |_, t, w| w.copy_from_slice(&(self.0)(&t.rewards, 1.0))))
    }
}

/// The exact largest bias and tr Cov of the estimator `f` makes, on the
/// three-state MDP with rewards in both states, one trajectory per batch.
pub fn exact_bias_and_variance(f: &RewardToGoFn<'_>) -> (f64, f64) {
    let mdp = with_rewards(&TabularMdp::three_state(), &MIXED_REWARDS);
    let policy = reference_policy();
    let m = exact_moments(&mdp, &policy, &Weighted(f), 1);
    (m.max_abs_bias(&mdp.exact_gradient(&policy)), m.total_variance())
}

/// Grades `f` as the discounted reward-to-go Q̂ₜ = Σ_{t′≥t} γ^(t′−t) r_{t′}:
/// against the chapter's on [`episodes`], then by the exact bias and tr Cov
/// of the estimator it makes on the three-state MDP (γ = 1).
pub fn check_reward_to_go(f: impl Fn(&[f64], f64) -> Vec<f64>) -> Grade {
    let describe = |(r, g): &(Vec<f64>, f64)| format!("rewards {r:?} with γ = {g}");
    let mut grade = grade(
        "reward-to-go",
        &episodes(),
        describe,
        |(r, g)| f(r, *g),
        |(r, g)| reward_to_go(r, *g),
        MISTAKES,
        |m, (r, g)| m(r, *g),
    );
    let reference = ("reward-to-go", exact_bias_and_variance(&reward_to_go).1);
    let setting = "three-state MDP with rewards in both states, γ = 1";
    check_exact(&mut grade, setting, || exact_bias_and_variance(&f), reference, EXACT_TOL);
    grade
}
