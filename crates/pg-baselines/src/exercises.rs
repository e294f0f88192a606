//! Chapter 3's graded exercises: the leave-one-out mean baseline, and
//! generalised advantage estimation that bootstraps only at a truncation.
//!
//! [`check_leave_one_out`] compares a reader's baselines with
//! [`MeanBaseline`]'s on fixed and random batches, then computes the exact
//! bias and tr Cov of the estimator they make on the three-state MDP, two
//! trajectories per batch; [`check_gae`] compares a reader's advantages with
//! [`gae`]'s on episodes that end both ways. Each names the known mistakes
//! it recognises.

use crate::MeanBaseline;
use crate::experiments::EXACT_BATCH;
use crate::value::gae;
use pg_causality::reward_to_go;
use pg_core::env::TabularMdp;
use pg_core::grading::{Grade, Mistake, check_exact, grade};
use pg_core::{Batch, Policy, StepWeights, Trajectory, seeded};
use pg_likelihood_ratio::Estimator;
use pg_likelihood_ratio::exact::exact_moments;
use pg_likelihood_ratio::experiments::{EXACT_TOL, reference_policy};
use rand::RngExt;

/// A batch baseline as the exercise asks for it: the N ≥ 2 trajectories'
/// returns (or reward-to-go at one step) in, one baseline bᵢ each out.
pub type BaselineFn = fn(&[f64]) -> Vec<f64>;

/// The reference: [`MeanBaseline`] with `leave_one_out`, read off its
/// weights on a batch of one-step trajectories with these returns
/// (wᵢ = Rᵢ − bᵢ, so bᵢ = Rᵢ − wᵢ).
pub fn leave_one_out(returns: &[f64]) -> Vec<f64> {
    let trajectories = returns
        .iter()
        .map(|&r| {
            let mut t = Trajectory::start(ndarray::Array1::from(vec![1.0]));
            t.obs.push(ndarray::Array1::from(vec![1.0]));
            t.actions.push(0_usize);
            t.rewards.push(r);
            t.log_probs.push(0.0);
            t.terminated = true;
            t
        })
        .collect();
    let batch = Batch { trajectories };
    let policy = pg_core::policy::TabularSoftmax::new(1, 1);
    let weights =
        MeanBaseline { leave_one_out: true }.weights(&policy, &batch).expect("a weighted estimator");
    returns.iter().zip(weights.flat()).map(|(r, w)| r - w).collect()
}

/// The mean of the others' values, divided by `divisor(n)` with n the batch size.
fn others(returns: &[f64], divisor: fn(f64) -> f64) -> Vec<f64> {
    let sum: f64 = returns.iter().sum();
    let n = returns.len() as f64;
    returns.iter().map(|r| (sum - r) / divisor(n)).collect()
}

/// The mistakes [`check_leave_one_out`] recognises.
pub const LEAVE_ONE_OUT_MISTAKES: &[Mistake<BaselineFn>] = &[
    Mistake {
        diagnosis: "your baseline includes the trajectory's own return, bᵢ = (1/N) Σⱼ Rⱼ: it depends on τᵢ's \
                    actions, which scales E[ĝ] by (N − 1)/N; average the other trajectories only",
        answer: |r| {
            let mean = r.iter().sum::<f64>() / r.len() as f64;
            vec![mean; r.len()]
        },
    },
    Mistake {
        diagnosis: "you divide the others' sum by N, but there are N − 1 others: a baseline shrunk towards 0, \
                    still unbiased since it depends on the others only (the exact line shows its variance, \
                    which can even be lower), but the exercise asks for their mean",
        answer: |r| others(r, |n| n),
    },
    Mistake {
        diagnosis: "the others' sum is not divided by their number N − 1 (with two trajectories, as in the \
                    exact check, N − 1 = 1 and the two coincide there)",
        answer: |r| others(r, |_| 1.0),
    },
    Mistake {
        diagnosis: "you returned the weights Rᵢ − bᵢ; the function returns the baselines bᵢ",
        answer: |r| r.iter().zip(leave_one_out(r)).map(|(r, b)| r - b).collect(),
    },
    Mistake { diagnosis: "every baseline is 0: that is no baseline at all", answer: |r| vec![0.0; r.len()] },
];

// ANCHOR: leave_one_out_starter
fn my_leave_one_out(returns: &[f64]) -> Vec<f64> {
    let mean = returns.iter().sum::<f64>() / returns.len() as f64;
    returns.iter().map(|_| mean).collect()
}
// ANCHOR_END: leave_one_out_starter

/// The notebook's starter (the cell holds the anchored function above):
/// it compiles, runs, and is wrong in an instructive way: the batch's mean,
/// own return included.
pub const LEAVE_ONE_OUT_STARTER: BaselineFn = my_leave_one_out;

/// The baseline grader's cases: fixed batches, then random ones of 2 to 8.
pub fn leave_one_out_cases() -> Vec<Vec<f64>> {
    let mut out = vec![vec![1.0, 2.0, 3.0], vec![5.0, -1.0], vec![0.0, 0.0, 0.0, 4.0]];
    let mut rng = seeded(3);
    for _ in 0..30 {
        let n = rng.random_range(2..9);
        out.push((0..n).map(|_| rng.random_range(-5.0..5.0)).collect());
    }
    out
}

/// The estimator a reader's baseline makes: at every step t, the baseline
/// of each trajectory from the column of every trajectory's Q̂ⱼₜ (0 once it
/// has ended), as the chapter's [`MeanBaseline`] does.
struct Yours<'a>(&'a dyn Fn(&[f64]) -> Vec<f64>);

impl<P: Policy> Estimator<P> for Yours<'_> {
    fn name(&self) -> String {
        "your baseline".into()
    }

    fn weights(&self, _: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        let q: Vec<Vec<f64>> = batch.trajectories.iter().map(|t| reward_to_go(&t.rewards, 1.0)).collect();
        let longest = q.iter().map(Vec::len).max().unwrap_or(0);
        let baselines: Vec<Vec<f64>> = (0..longest)
            .map(|t| (self.0)(&q.iter().map(|qi| qi.get(t).copied().unwrap_or(0.0)).collect::<Vec<_>>()))
            .collect();
        Some(StepWeights::fill(batch, |i, _, w| {
            for (t, w_t) in w.iter_mut().enumerate() {
                *w_t = q[i][t] - baselines[t].get(i).copied().unwrap_or(f64::NAN);
            }
        }))
    }
}

/// The exact largest bias and tr Cov of the estimator the baseline `f`
/// makes on the three-state MDP at the reference policy, [`EXACT_BATCH`]
/// trajectories per batch.
pub fn exact_bias_and_variance(f: &dyn Fn(&[f64]) -> Vec<f64>) -> (f64, f64) {
    let mdp = TabularMdp::three_state();
    let policy = reference_policy();
    let m = exact_moments(&mdp, &policy, &Yours(f), EXACT_BATCH);
    (m.max_abs_bias(&mdp.exact_gradient(&policy)), m.total_variance())
}

/// Grades `f` as the leave-one-out mean baseline bᵢ = (1/(N−1)) Σ_{j≠i} Rⱼ:
/// against [`leave_one_out`], then by the exact bias and tr Cov of the
/// estimator it makes.
pub fn check_leave_one_out(f: impl Fn(&[f64]) -> Vec<f64>) -> Grade {
    let mut grade = grade(
        "leave-one-out baseline",
        &leave_one_out_cases(),
        |r| format!("returns {r:?}"),
        |r| f(r),
        |r| leave_one_out(r),
        LEAVE_ONE_OUT_MISTAKES,
        |m, r| m(r),
    );
    let reference = ("leave-one-out", exact_bias_and_variance(&leave_one_out).1);
    let setting = format!("three-state MDP, {EXACT_BATCH} trajectories per batch");
    check_exact(&mut grade, &setting, || exact_bias_and_variance(&f), reference, EXACT_TOL);
    grade
}

/// GAE as the exercise asks for it, with [`gae`]'s signature.
pub type GaeFn = fn(&[f64], &[f64], bool, f64, f64) -> Vec<f64>;

/// Âₜ = Σ_{l≥0} (`decay`)ˡ eₜ₊ₗ with eₜ = rₜ + `next_discount` · V(sₜ₊₁) − V(sₜ)
/// and V(s_T) taken when `bootstrap`: the shape every GAE mistake shares.
fn advantages(r: &[f64], v: &[f64], bootstrap: bool, next_discount: f64, decay: f64) -> Vec<f64> {
    let mut out = vec![0.0; r.len()];
    let mut next_value = if bootstrap { v[r.len()] } else { 0.0 };
    let mut following = 0.0;
    for t in (0..r.len()).rev() {
        following = r[t] + next_discount * next_value - v[t] + decay * following;
        out[t] = following;
        next_value = v[t];
    }
    out
}

/// The mistakes [`check_gae`] recognises.
pub const GAE_MISTAKES: &[Mistake<GaeFn>] = &[
    Mistake {
        diagnosis: "bootstraps V(s_T) at a termination: after a terminal state no reward follows, so V(s_T) \
                    counts as 0",
        answer: |r, v, _, g, l| advantages(r, v, true, g, g * l),
    },
    Mistake {
        diagnosis: "ignores V(s_T) after a truncation: the time limit cut an episode that would have gone on, \
                    and V(s_T) stands in for the rewards it cut off",
        answer: |r, v, _, g, l| advantages(r, v, false, g, g * l),
    },
    Mistake {
        diagnosis: "the flag is read the wrong way round: bootstrap V(s_T) when the episode was truncated \
                    (terminated = false), not when it terminated",
        answer: |r, v, terminated, g, l| advantages(r, v, terminated, g, g * l),
    },
    Mistake {
        diagnosis: "the errors are summed with weights λˡ; GAE discounts them by (γλ)ˡ",
        answer: |r, v, terminated, g, l| advantages(r, v, !terminated, g, l),
    },
    Mistake {
        diagnosis: "the one-step error eₜ = rₜ + V(sₜ₊₁) − V(sₜ) leaves V(sₜ₊₁) undiscounted: it is \
                    rₜ + γ V(sₜ₊₁) − V(sₜ)",
        answer: |r, v, terminated, g, l| advantages(r, v, !terminated, 1.0, g * l),
    },
    Mistake {
        diagnosis: "λ is ignored: your advantages are λ = 1's, the discounted reward-to-go minus V(sₜ) (plus \
                    γ^(T−t) V(s_T) after a truncation)",
        answer: |r, v, terminated, g, _| advantages(r, v, !terminated, g, g),
    },
    Mistake {
        diagnosis: "only the one-step errors eₜ (λ = 0), and V(s_T) bootstrapped even after a termination: \
                    add the errors that follow, discounted by (γλ)ˡ, and count V(s_T) as 0 after a termination",
        answer: |r, v, _, g, _| advantages(r, v, true, g, 0.0),
    },
];

// ANCHOR: gae_starter
fn my_gae(rewards: &[f64], values: &[f64], terminated: bool, gamma: f64, lambda: f64) -> Vec<f64> {
    let _ = (terminated, lambda);
    let mut out = Vec::new();
    for t in 0..rewards.len() {
        out.push(rewards[t] + gamma * values[t + 1] - values[t]);
    }
    out
}
// ANCHOR_END: gae_starter

/// The notebook's starter (the cell holds the anchored function above):
/// it compiles, runs, and is wrong in an instructive way: the one-step errors
/// only, with V(s_T) always bootstrapped.
pub const GAE_STARTER: GaeFn = my_gae;

/// One GAE case: rewards, values (one more), terminated, γ, λ.
pub type GaeCase = (Vec<f64>, Vec<f64>, bool, f64, f64);

/// The GAE grader's cases: fixed episodes ending both ways with λ of 0,
/// 0.95 and 1 and γ of 0.9 and 1, an empty and a one-step one, then random ones.
pub fn gae_cases() -> Vec<GaeCase> {
    let (r, v) = (vec![1.0, 2.0, -1.0], vec![0.5, 1.0, 1.5, 2.0]);
    let mut out = Vec::new();
    for terminated in [true, false] {
        for (gamma, lambda) in [(0.9, 0.95), (0.9, 0.0), (0.9, 1.0), (1.0, 0.5)] {
            out.push((r.clone(), v.clone(), terminated, gamma, lambda));
        }
        out.push((vec![], vec![3.0], terminated, 0.9, 0.95));
        out.push((vec![2.0], vec![0.5, -1.0], terminated, 0.9, 0.95));
    }
    let mut rng = seeded(3);
    for _ in 0..30 {
        let len = rng.random_range(1..10);
        let rewards = (0..len).map(|_| rng.random_range(-2.0..2.0)).collect();
        let values = (0..=len).map(|_| rng.random_range(-3.0..3.0)).collect();
        out.push((
            rewards,
            values,
            rng.random_bool(0.5),
            rng.random_range(0.8..1.0),
            rng.random_range(0.1..0.99),
        ));
    }
    out
}

/// Grades `f` as GAE(λ) with V(s_T) bootstrapped only after a truncation:
/// against the chapter's [`gae`] on [`gae_cases`].
pub fn check_gae(f: impl Fn(&[f64], &[f64], bool, f64, f64) -> Vec<f64>) -> Grade {
    grade(
        "GAE",
        &gae_cases(),
        |(r, v, term, g, l)| format!("rewards {r:?}, values {v:?}, terminated {term}, γ = {g}, λ = {l}"),
        |(r, v, term, g, l)| f(r, v, *term, *g, *l),
        |(r, v, term, g, l)| gae(r, v, *term, *g, *l),
        GAE_MISTAKES,
        |m, (r, v, term, g, l)| m(r, v, *term, *g, *l),
    )
}
