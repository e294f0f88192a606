//! Chapter 1's graded exercises: the score of a tabular softmax, and the
//! REINFORCE estimate built from it.
//!
//! [`check_score`] compares a reader's ∇ℓ log softmax(ℓ)ₐ with the
//! tabular policy's own and with central differences of log πₐ;
//! [`check_reinforce`] compares a reader's REINFORCE estimate with
//! [`Reinforce`]'s on fixed and random batches, then computes the exact
//! bias and tr Cov of the estimator it makes on the three-state MDP, two
//! trajectories per batch. Each names the known mistakes it recognises.

use crate::Estimator;
use crate::Reinforce;
use crate::exact::exact_moments;
use crate::experiments::{EXACT_TOL, reference_policy};
use ndarray::Array1;
use pg_core::env::TabularMdp;
use pg_core::grading::{
    FD_TOL, Grade, Mistake, OVERFLOW, check_exact, finite_difference_error, grade, naive_softmax,
};
use pg_core::policy::{TabularSoftmax, log_softmax, softmax};
use pg_core::{Batch, Policy, StepWeights, Trajectory, seeded};
use rand::RngExt;

/// The score ∂ log softmax(ℓ)ₐ / ∂ℓ_b for every b: the reference, which is
/// the tabular policy's own ([`TabularSoftmax`]) on a one-state table.
pub fn score(logits: &[f64], action: usize) -> Vec<f64> {
    let mut policy = TabularSoftmax::new(1, logits.len());
    policy.params_mut().assign(&Array1::from(logits.to_vec()));
    policy.grad_log_prob(Array1::from(vec![1.0]).view(), &action).to_vec()
}

/// A score as the exercise asks for it: one state's logits ℓ and an
/// action a in, ∂ log softmax(ℓ)ₐ / ∂ℓ out.
pub type ScoreFn = fn(&[f64], usize) -> Vec<f64>;

/// The mistakes [`check_score`] recognises.
pub const SCORE_MISTAKES: &[Mistake<ScoreFn>] = &[
    Mistake {
        diagnosis: "the sign is flipped: ∂ log πₐ/∂ℓ_b = 1[b = a] − π_b, and yours is π_b − 1[b = a]",
        answer: |l, a| score(l, a).iter().map(|g| -g).collect(),
    },
    Mistake {
        diagnosis: "the normaliser's part is missing: log πₐ = ℓₐ − log Σ_b exp ℓ_b, whose second term \
                    adds −π_b to every component",
        answer: |l, a| (0..l.len()).map(|b| if b == a { 1.0 } else { 0.0 }).collect(),
    },
    Mistake {
        diagnosis: "only the action's own logit moves: raising any other logit ℓ_b lowers πₐ too, so \
                    component b is −π_b",
        answer: |l, a| {
            let p = softmax(l);
            (0..l.len()).map(|b| if b == a { 1.0 - p[a] } else { 0.0 }).collect()
        },
    },
    Mistake {
        diagnosis: "that is ∇πₐ, the gradient of the probability; the score is ∇ log πₐ = ∇πₐ / πₐ",
        answer: |l, a| {
            let p = softmax(l);
            score(l, a).iter().map(|g| p[a] * g).collect()
        },
    },
    Mistake {
        diagnosis: OVERFLOW,
        answer: |l, a| {
            let p = naive_softmax(l);
            (0..l.len()).map(|b| if b == a { 1.0 } else { 0.0 } - p[b]).collect()
        },
    },
];

// ANCHOR: score_starter
fn my_score(logits: &[f64], action: usize) -> Vec<f64> {
    let mut g = vec![0.0; logits.len()];
    g[action] = 1.0;
    g
}
// ANCHOR_END: score_starter

/// The notebook's starter (the cell holds the anchored function above):
/// it compiles, runs, and is wrong in an instructive way: the normaliser's
/// part is missing.
pub const SCORE_STARTER: ScoreFn = my_score;

/// The score grader's cases: fixed rows (two to four actions, one action
/// only, logits near 800), then random ones.
pub fn score_cases() -> Vec<(Vec<f64>, usize)> {
    let mut out = vec![
        (vec![0.0, 0.0], 0),
        (vec![1.0, -1.0, 0.5], 2),
        (vec![2.0, 0.0, -1.0, 0.5], 1),
        (vec![0.3], 0),
        (vec![800.0, 799.0, 0.0], 1),
    ];
    let mut rng = seeded(1);
    for _ in 0..30 {
        let n = rng.random_range(2..6);
        let logits = (0..n).map(|_| rng.random_range(-3.0..3.0)).collect();
        out.push((logits, rng.random_range(0..n)));
    }
    out
}

/// Grades `f` as the score ∂ log softmax(ℓ)ₐ / ∂ℓ: against [`score`] and
/// against central differences of log πₐ.
pub fn check_score(f: impl Fn(&[f64], usize) -> Vec<f64>) -> Grade {
    let cases = score_cases();
    let mut grade = grade(
        "score of the tabular softmax",
        &cases,
        |(l, a)| format!("logits {l:?} with action {a}"),
        |(l, a)| f(l, *a),
        |(l, a)| score(l, *a),
        SCORE_MISTAKES,
        |m, (l, a)| m(l, *a),
    );
    if grade.problem.is_none() {
        let error = cases
            .iter()
            .map(|(l, a)| finite_difference_error(|x| log_softmax(x)[*a], l, &f(l, *a)))
            .fold(0.0, f64::max);
        grade.check(
            error <= FD_TOL,
            format!(
                "largest error against central differences of log πₐ: {error:.3e} (allowed {FD_TOL:.0e})"
            ),
        );
    }
    grade
}

/// One episode of a tabular MDP: the state before each action, the
/// actions, the rewards.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    /// s₀ … s_{T−1}.
    pub states: Vec<usize>,
    /// a₀ … a_{T−1}.
    pub actions: Vec<usize>,
    /// r₀ … r_{T−1}.
    pub rewards: Vec<f64>,
}

/// A REINFORCE estimate as the exercise asks for it: a table of logits,
/// one row per state, and a batch of episodes in; ĝ as a table of the
/// same shape out.
pub type ReinforceFn = fn(&[Vec<f64>], &[Episode]) -> Vec<Vec<f64>>;

/// A reader's REINFORCE function, whatever kind of function it is.
pub type DynReinforce<'a> = dyn Fn(&[Vec<f64>], &[Episode]) -> Vec<Vec<f64>> + 'a;

/// The tabular policy with these logits.
fn policy_of(logits: &[Vec<f64>]) -> TabularSoftmax {
    let mut policy = TabularSoftmax::new(logits.len(), logits.first().map_or(0, Vec::len));
    policy.params_mut().assign(&Array1::from(logits.concat()));
    policy
}

/// One-hot observation of state `s` out of `n`.
fn one_hot(s: usize, n: usize) -> Array1<f64> {
    Array1::from_shape_fn(n, |i| if i == s { 1.0 } else { 0.0 })
}

/// The episodes as a batch of trajectories with one-hot observations (the
/// final observation repeats the last state: nothing reads it).
fn batch_of(episodes: &[Episode], n_states: usize) -> Batch<usize> {
    let trajectories = episodes
        .iter()
        .map(|e| {
            let mut obs: Vec<Array1<f64>> = e.states.iter().map(|&s| one_hot(s, n_states)).collect();
            obs.push(one_hot(e.states.last().copied().unwrap_or(0), n_states));
            Trajectory {
                obs,
                actions: e.actions.clone(),
                rewards: e.rewards.clone(),
                log_probs: vec![0.0; e.actions.len()],
                terminated: true,
                truncated: false,
            }
        })
        .collect();
    Batch { trajectories }
}

/// The batch's trajectories as episodes (the state is the hot index).
fn episodes_of(batch: &Batch<usize>) -> Vec<Episode> {
    batch
        .trajectories
        .iter()
        .map(|t| Episode {
            states: t.steps().map(|(o, _)| o.iter().position(|&v| v == 1.0).expect("one-hot")).collect(),
            actions: t.actions.clone(),
            rewards: t.rewards.clone(),
        })
        .collect()
}

/// A flat gradient as a table with `width` columns.
fn table(flat: &Array1<f64>, width: usize) -> Vec<Vec<f64>> {
    flat.as_slice().expect("contiguous").chunks(width.max(1)).map(<[f64]>::to_vec).collect()
}

/// The reference: [`Reinforce`]'s estimate, ĝ = (1/N) Σᵢ Σₜ r(τᵢ) ∇ log π(aᵢₜ|sᵢₜ).
pub fn reinforce(logits: &[Vec<f64>], episodes: &[Episode]) -> Vec<Vec<f64>> {
    let policy = policy_of(logits);
    let batch = batch_of(episodes, logits.len());
    table(&Reinforce.gradient(&policy, &batch), logits.first().map_or(0, Vec::len))
}

/// Σᵢ Σₜ wᵢₜ · score(aᵢₜ|sᵢₜ) / `divisor`, with the weights from `weight`
/// (an episode's rewards in, one weight per step out) and the score from
/// `score_fn`: the shape every mistake below shares.
fn weighted(
    logits: &[Vec<f64>],
    episodes: &[Episode],
    weight: impl Fn(&[f64]) -> Vec<f64>,
    score_fn: impl Fn(&[f64], usize) -> Vec<f64>,
    divisor: f64,
) -> Vec<Vec<f64>> {
    let mut g: Vec<Vec<f64>> = logits.iter().map(|row| vec![0.0; row.len()]).collect();
    for e in episodes {
        for ((&s, &a), w) in e.states.iter().zip(&e.actions).zip(weight(&e.rewards)) {
            g[s].iter_mut().zip(score_fn(&logits[s], a)).for_each(|(g, x)| *g += w * x / divisor);
        }
    }
    g
}

/// Every step weighted by the whole return.
fn whole_return(rewards: &[f64]) -> Vec<f64> {
    vec![rewards.iter().sum(); rewards.len()]
}

/// The mistakes [`check_reinforce`] recognises.
pub const REINFORCE_MISTAKES: &[Mistake<ReinforceFn>] = &[
    Mistake {
        diagnosis: "the 1/N is missing: ĝ averages the N trajectories' terms, it does not add them",
        answer: |l, e| weighted(l, e, whole_return, score, 1.0),
    },
    Mistake {
        diagnosis: "divided by the number of steps Σᵢ Tᵢ: ĝ averages over the N trajectories, each of \
                    which contributes all its steps",
        answer: |l, e| {
            let steps = e.iter().map(|e| e.rewards.len()).sum::<usize>().max(1);
            weighted(l, e, whole_return, score, steps as f64)
        },
    },
    Mistake {
        diagnosis: "every weight is 1: that is behaviour cloning's gradient; REINFORCE weights each \
                    trajectory's score by its return r(τᵢ)",
        answer: |l, e| weighted(l, e, |r| vec![1.0; r.len()], score, e.len().max(1) as f64),
    },
    Mistake {
        diagnosis: "each step is weighted by its own reward rₜ only, which drops the rewards that follow \
                    (biased); REINFORCE weights every step by the whole return r(τᵢ)",
        answer: |l, e| weighted(l, e, <[f64]>::to_vec, score, e.len().max(1) as f64),
    },
    Mistake {
        diagnosis: "each step is weighted by the rewards from t on: that is chapter 2's reward-to-go, \
                    unbiased too, but REINFORCE weights every step by the whole return r(τᵢ)",
        answer: |l, e| {
            let to_go = |r: &[f64]| {
                let mut following = 0.0;
                let mut q: Vec<f64> = r
                    .iter()
                    .rev()
                    .map(|x| {
                        following += x;
                        following
                    })
                    .collect();
                q.reverse();
                q
            };
            weighted(l, e, to_go, score, e.len().max(1) as f64)
        },
    },
    Mistake {
        diagnosis: "the score's sign is flipped (π − onehot in place of onehot − π): your estimate \
                    points downhill",
        answer: |l, e| {
            let flipped = |row: &[f64], a| score(row, a).iter().map(|g| -g).collect::<Vec<_>>();
            weighted(l, e, whole_return, flipped, e.len().max(1) as f64)
        },
    },
];

// ANCHOR: reinforce_starter
fn my_reinforce(logits: &[Vec<f64>], episodes: &[Episode]) -> Vec<Vec<f64>> {
    let mut g: Vec<Vec<f64>> = logits.iter().map(|row| vec![0.0; row.len()]).collect();
    for e in episodes {
        for (&s, &a) in e.states.iter().zip(&e.actions) {
            let weight = 1.0;
            for (g, x) in g[s].iter_mut().zip(score(&logits[s], a)) {
                *g += weight * x;
            }
        }
    }
    let n = episodes.len() as f64;
    g.iter_mut().flatten().for_each(|x| *x /= n);
    g
}
// ANCHOR_END: reinforce_starter

/// The notebook's starter (the cell holds the anchored function above):
/// it compiles, runs, and is wrong in an instructive way: every weight is 1,
/// behaviour cloning.
pub const REINFORCE_STARTER: ReinforceFn = my_reinforce;

/// The REINFORCE grader's cases: batches of one to four episodes on tables
/// of two or three states and actions, the first fixed, the rest random.
pub fn reinforce_cases() -> Vec<(Vec<Vec<f64>>, Vec<Episode>)> {
    let fixed = (
        vec![vec![0.4, -0.3], vec![-0.5, 0.6]],
        vec![
            Episode { states: vec![0, 1, 1], actions: vec![0, 1, 0], rewards: vec![1.0, -0.5, 2.0] },
            Episode { states: vec![0], actions: vec![1], rewards: vec![0.5] },
            Episode { states: vec![1, 0], actions: vec![1, 1], rewards: vec![-1.0, 3.0] },
        ],
    );
    let mut out = vec![fixed];
    let mut rng = seeded(1);
    for _ in 0..20 {
        let (states, actions) = (rng.random_range(2..4), rng.random_range(2..4));
        let logits =
            (0..states).map(|_| (0..actions).map(|_| rng.random_range(-2.0..2.0)).collect()).collect();
        let episodes = (0..rng.random_range(1..5))
            .map(|_| {
                let len = rng.random_range(1..7);
                Episode {
                    states: (0..len).map(|_| rng.random_range(0..states)).collect(),
                    actions: (0..len).map(|_| rng.random_range(0..actions)).collect(),
                    rewards: (0..len).map(|_| rng.random_range(-2.0..2.0)).collect(),
                }
            })
            .collect();
        out.push((logits, episodes));
    }
    out
}

/// The estimator a reader's REINFORCE function makes, on a tabular policy.
struct Yours<'a>(&'a DynReinforce<'a>, usize);

impl Estimator<TabularSoftmax> for Yours<'_> {
    fn name(&self) -> String {
        "your REINFORCE".into()
    }

    fn weights(&self, _: &TabularSoftmax, _: &Batch<usize>) -> Option<StepWeights> {
        None
    }

    fn gradient(&self, policy: &TabularSoftmax, batch: &Batch<usize>) -> Array1<f64> {
        let logits = table(policy.params(), self.1);
        Array1::from(self.0(&logits, &episodes_of(batch)).concat())
    }
}

/// Trajectories per batch in the exact check: two, so that a missing or
/// wrong 1/N shows.
pub const EXACT_BATCH: usize = 2;

/// The exact largest bias and tr Cov of the estimator `f` makes on the
/// three-state MDP at the reference policy, [`EXACT_BATCH`] trajectories
/// per batch.
pub fn exact_bias_and_variance(f: &DynReinforce<'_>) -> (f64, f64) {
    let mdp = TabularMdp::three_state();
    let policy = reference_policy();
    let actions = policy.num_params() / mdp.n_states();
    let m = exact_moments(&mdp, &policy, &Yours(f, actions), EXACT_BATCH);
    (m.max_abs_bias(&mdp.exact_gradient(&policy)), m.total_variance())
}

/// Grades `f` as REINFORCE's estimate: against [`reinforce`] on
/// [`reinforce_cases`], then by its exact bias and tr Cov.
pub fn check_reinforce(f: impl Fn(&[Vec<f64>], &[Episode]) -> Vec<Vec<f64>>) -> Grade {
    let describe = |(l, e): &(Vec<Vec<f64>>, Vec<Episode>)| format!("logits {l:?} and episodes {e:?}");
    let mut grade = grade(
        "REINFORCE",
        &reinforce_cases(),
        describe,
        |(l, e)| f(l, e).concat(),
        |(l, e)| reinforce(l, e).concat(),
        REINFORCE_MISTAKES,
        |m, (l, e)| m(l, e).concat(),
    );
    let reference = ("REINFORCE", exact_bias_and_variance(&reinforce).1);
    let setting = format!("three-state MDP, {EXACT_BATCH} trajectories per batch");
    check_exact(&mut grade, &setting, || exact_bias_and_variance(&f), reference, EXACT_TOL);
    grade
}
