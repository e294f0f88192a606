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
use pg_core::{Batch, Policy, StepWeights, seeded};
use pg_likelihood_ratio::Estimator;
use pg_likelihood_ratio::exact::exact_moments;
use pg_likelihood_ratio::experiments::{EXACT_TOL, reference_policy};
use rand::RngExt;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A reward-to-go as the exercise asks for it: the rewards r₀ … r_{T−1} of
/// one episode and γ in, Q̂₀ … Q̂_{T−1} out.
pub type RewardToGoFn<'a> = dyn Fn(&[f64], f64) -> Vec<f64> + 'a;

/// Largest difference from the reference that still counts as equal.
pub const MATCH_TOL: f64 = 1e-9;

/// A known wrong answer: its diagnosis and what it computes.
pub struct Mistake {
    /// What the reader did, in a sentence that says how to fix it.
    pub diagnosis: &'static str,
    /// The wrong answer itself.
    pub answer: fn(&[f64], f64) -> Vec<f64>,
}

/// Σ_{t′} γ^{t′} r_{t′}: the discounted return from the episode's start.
fn discounted_return(rewards: &[f64], gamma: f64) -> f64 {
    rewards.iter().rev().fold(0.0, |g, r| r + gamma * g)
}

/// The mistakes the grader recognises, each distinguishable from the
/// others and from the answer on the grader's episodes.
pub const MISTAKES: &[Mistake] = &[
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

/// The notebook's starter body: it compiles, runs, and is wrong in an
/// instructive way (each step keeps only its own reward).
pub const STARTER: fn(&[f64], f64) -> Vec<f64> = |rewards, _gamma| rewards.to_vec();

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

/// The reader's function, or the reason it gave nothing usable, on one episode.
fn call(f: &RewardToGoFn<'_>, rewards: &[f64], gamma: f64) -> Result<Vec<f64>, String> {
    let got = catch_unwind(AssertUnwindSafe(|| f(rewards, gamma))).map_err(|e| {
        let message = e
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| e.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        format!("your function panicked on rewards {rewards:?} with γ = {gamma}: {message}")
    })?;
    if got.len() != rewards.len() {
        return Err(format!(
            "your function returned {} value{} for an episode of {} steps (rewards {rewards:?}, γ = {gamma}): \
             it should return one Q̂ₜ per step",
            got.len(),
            if got.len() == 1 { "" } else { "s" },
            rewards.len()
        ));
    }
    Ok(got)
}

/// The largest |difference| between two answers on every episode.
fn largest_difference(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    a.iter().zip(b).flat_map(|(x, y)| x.iter().zip(y).map(|(x, y)| (x - y).abs())).fold(0.0, f64::max)
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

/// What the grader found.
#[derive(Debug, Clone, PartialEq)]
pub struct Grade {
    /// Whether the answer is right.
    pub passed: bool,
    /// Episodes tried.
    pub episodes: usize,
    /// The largest |difference| from the reference over them (`None` if
    /// the function panicked or returned the wrong length).
    pub largest_error: Option<f64>,
    /// The exact largest bias and tr Cov of the estimator, and the
    /// reference's tr Cov (`None` where the function could not be run).
    pub exact: Option<(f64, f64, f64)>,
    /// The known mistake the answer matches, if any.
    pub diagnosis: Option<&'static str>,
    /// Why the function could not be graded, if it could not.
    pub problem: Option<String>,
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "reward-to-go: {}", if self.passed { "passed" } else { "not yet" })?;
        if let Some(problem) = &self.problem {
            writeln!(f, "  {problem}")?;
        }
        if let Some(e) = self.largest_error {
            writeln!(f, "  largest difference from the reference on {} episodes: {e:.3e}", self.episodes)?;
        }
        if let Some((bias, var, reference)) = self.exact {
            writeln!(
                f,
                "  exact, three-state MDP (γ = 1): largest bias {bias:.3e}{}, tr Cov {var:.6} (reference {reference:.6})",
                if bias <= EXACT_TOL { " (unbiased)" } else { " (biased)" }
            )?;
        }
        if let Some(d) = self.diagnosis {
            writeln!(f, "  diagnosis: {d}")?;
        }
        Ok(())
    }
}

/// Grades `f` as the discounted reward-to-go Q̂ₜ = Σ_{t′≥t} γ^(t′−t) r_{t′}.
pub fn check_reward_to_go(f: impl Fn(&[f64], f64) -> Vec<f64>) -> Grade {
    let f: &RewardToGoFn<'_> = &f;
    let episodes = episodes();
    let answers: Result<Vec<Vec<f64>>, String> = episodes.iter().map(|(r, g)| call(f, r, *g)).collect();
    let answers = match answers {
        Ok(a) => a,
        Err(problem) => {
            return Grade {
                passed: false,
                episodes: episodes.len(),
                largest_error: None,
                exact: None,
                diagnosis: None,
                problem: Some(problem),
            };
        }
    };
    let on_episodes = |g: &dyn Fn(&[f64], f64) -> Vec<f64>| -> Vec<Vec<f64>> {
        episodes.iter().map(|(r, gamma)| g(r, *gamma)).collect()
    };
    let error = largest_difference(&answers, &on_episodes(&reward_to_go));
    let diagnosis = MISTAKES
        .iter()
        .find(|m| largest_difference(&answers, &on_episodes(&m.answer)) <= MATCH_TOL)
        .map(|m| m.diagnosis);
    // The exact check calls the function on the MDP's episodes; a panic
    // there is reported like one on the grader's episodes.
    let exact = catch_unwind(AssertUnwindSafe(|| exact_bias_and_variance(f))).ok();
    let reference = exact_bias_and_variance(&reward_to_go).1;
    let unbiased = exact.is_some_and(|(bias, _)| bias <= EXACT_TOL);
    Grade {
        passed: error <= MATCH_TOL && unbiased,
        episodes: episodes.len(),
        largest_error: Some(error),
        exact: exact.map(|(bias, var)| (bias, var, reference)),
        diagnosis,
        problem: exact
            .is_none()
            .then(|| "your function panicked on the three-state MDP's episodes".to_string()),
    }
}
