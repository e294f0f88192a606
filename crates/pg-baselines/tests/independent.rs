//! The chapter's exact variance tables, computed a second way.
//!
//! Everything here is written from the definitions and shares no code with
//! the crate's estimators: the trajectories are enumerated from the MDP's
//! tables (not `TabularMdp::enumerate`), the policy's probabilities and
//! scores come from the softmax formula (not `Policy`), the reward-to-go,
//! the exact values and the optimal constant are summed here, and the
//! moments of a batch of two are taken over every ordered pair. The tables
//! that `pg book` prints must agree to rounding: a baseline wired to the
//! wrong values, a reward-to-go one step late or a wrong formula for b*
//! changes a number, even where it leaves an ordering intact.

use pg_baselines::experiments::{
    self as ex, EXACT_BATCH, VarianceRow, exact_optimal_constant, exact_time_values, exact_values,
};
use pg_core::env::TabularMdp;
use pg_likelihood_ratio::experiments::reference_policy;

/// One step: state, action, reward.
type Step = (usize, usize, f64);

/// Every trajectory with its probability, branch by branch, from the tables.
fn trajectories(mdp: &TabularMdp, theta: &[f64]) -> Vec<(f64, Vec<Step>)> {
    fn expand(
        mdp: &TabularMdp,
        theta: &[f64],
        s: usize,
        p: f64,
        steps: Vec<Step>,
        out: &mut Vec<(f64, Vec<Step>)>,
    ) {
        let pi = probabilities(theta, mdp.n_actions(), s);
        for (a, pa) in pi.iter().enumerate() {
            for t in mdp.transitions(s, a) {
                let mut next = steps.clone();
                next.push((s, a, mdp.reward(s, a)));
                let q = p * pa * t.prob;
                let at_horizon = next.len() == mdp.horizon();
                if mdp.is_terminal(t.next) || at_horizon {
                    out.push((q, next));
                } else {
                    expand(mdp, theta, t.next, q, next, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    for (s, &p) in mdp.initial().iter().enumerate() {
        if p > 0.0 {
            expand(mdp, theta, s, p, Vec::new(), &mut out);
        }
    }
    let total: f64 = out.iter().map(|(p, _)| p).sum();
    assert!((total - 1.0).abs() < 1e-12, "probabilities sum to {total}");
    out
}

/// π(·|s) = softmax(θ[s, ·]).
fn probabilities(theta: &[f64], na: usize, s: usize) -> Vec<f64> {
    let logits = &theta[s * na..(s + 1) * na];
    let top = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = logits.iter().map(|l| (l - top).exp()).collect();
    let z: f64 = e.iter().sum();
    e.iter().map(|x| x / z).collect()
}

/// ∇θ log π(a|s): 1[b = a] − π(b|s) in the entries of state s, zero elsewhere.
fn score(theta: &[f64], na: usize, s: usize, a: usize) -> Vec<f64> {
    let mut g = vec![0.0; theta.len()];
    for (b, pb) in probabilities(theta, na, s).iter().enumerate() {
        g[s * na + b] = f64::from(u8::from(a == b)) - pb;
    }
    g
}

/// Σ_{t′ ≥ t} r_{t′} at every step, summed forwards.
fn to_go(steps: &[Step]) -> Vec<f64> {
    (0..steps.len()).map(|t| steps[t..].iter().map(|s| s.2).sum()).collect()
}

/// All the reward at the last step.
fn delayed(steps: &[Step]) -> Vec<Step> {
    let total: f64 = steps.iter().map(|s| s.2).sum();
    let last = steps.len() - 1;
    steps.iter().enumerate().map(|(t, &(s, a, _))| (s, a, if t == last { total } else { 0.0 })).collect()
}

/// The weights of one trajectory's steps, given the other trajectory of its batch.
enum Weights {
    Return,
    ToGo,
    LeaveOneOutMean,
    /// One constant per parameter: ĝ = x − b ⊙ g.
    Constant(Vec<f64>),
    StateValue(Vec<f64>),
    TimeValue(Vec<Vec<f64>>),
}

/// One trajectory's estimate, with `other` the rest of its batch.
fn estimate(theta: &[f64], na: usize, w: &Weights, steps: &[Step], other: &[Step]) -> Vec<f64> {
    let q = to_go(steps);
    let q_other = to_go(other);
    let ret = q[0];
    let mut g = vec![0.0; theta.len()];
    let mut scores = vec![0.0; theta.len()];
    for (t, &(s, a, _)) in steps.iter().enumerate() {
        let weight = match w {
            Weights::Return => ret,
            Weights::ToGo | Weights::Constant(_) => q[t],
            Weights::LeaveOneOutMean => q[t] - q_other.get(t).copied().unwrap_or(0.0),
            Weights::StateValue(v) => q[t] - v[s],
            Weights::TimeValue(v) => q[t] - v[t][s],
        };
        for (k, x) in score(theta, na, s, a).iter().enumerate() {
            g[k] += x * weight;
            scores[k] += x;
        }
    }
    if let Weights::Constant(b) = w {
        for k in 0..g.len() {
            g[k] -= b[k] * scores[k];
        }
    }
    g
}

/// First and second moments of a vector outcome, per component, summed over
/// the outcomes with their probabilities.
struct Moments {
    m1: Vec<f64>,
    m2: Vec<f64>,
}

impl Moments {
    fn new(dim: usize) -> Self {
        Moments { m1: vec![0.0; dim], m2: vec![0.0; dim] }
    }

    fn add(&mut self, p: f64, g: &[f64]) {
        for ((m1, m2), g) in self.m1.iter_mut().zip(&mut self.m2).zip(g) {
            *m1 += p * g;
            *m2 += p * g * g;
        }
    }

    fn variances(&self) -> Vec<f64> {
        self.m1.iter().zip(&self.m2).map(|(m1, m2)| m2 - m1 * m1).collect()
    }
}

/// Per-component variances of the average of `n` (1 or 2) trajectories' estimates.
fn variances(theta: &[f64], na: usize, leaves: &[(f64, Vec<Step>)], w: &Weights, n: usize) -> Vec<f64> {
    let dim = theta.len();
    let mut moments = Moments::new(dim);
    let mut add = |p: f64, g: &[f64]| moments.add(p, g);
    match (n, w) {
        (1, _) => leaves.iter().for_each(|(p, s)| add(*p, &estimate(theta, na, w, s, &[]))),
        // Only the leave-one-out mean looks at the other trajectory: its
        // estimate is Σₜ ψᵢₜ Q̂ᵢₜ − Σₜ ψᵢₜ Q̂ⱼₜ, the second sum taken pair by pair.
        (2, _) => {
            let own: Vec<Vec<f64>> = leaves.iter().map(|(_, s)| estimate(theta, na, w, s, s)).collect();
            let alone: Vec<Vec<f64>> =
                leaves.iter().map(|(_, s)| estimate(theta, na, &Weights::ToGo, s, &[])).collect();
            let scores: Vec<Vec<Vec<f64>>> = leaves
                .iter()
                .map(|(_, s)| s.iter().map(|&(s, a, _)| score(theta, na, s, a)).collect())
                .collect();
            let q: Vec<Vec<f64>> = leaves.iter().map(|(_, s)| to_go(s)).collect();
            let single = |i: usize, j: usize| -> Vec<f64> {
                if !matches!(w, Weights::LeaveOneOutMean) {
                    return own[i].clone();
                }
                let mut g = alone[i].clone();
                for (psi, qj) in scores[i].iter().zip(&q[j]) {
                    g.iter_mut().zip(psi).for_each(|(g, x)| *g -= x * qj);
                }
                g
            };
            let mut pair = vec![0.0; dim];
            for (i, (p1, _)) in leaves.iter().enumerate() {
                for (j, (p2, _)) in leaves.iter().enumerate() {
                    let (a, b) = (single(i, j), single(j, i));
                    pair.iter_mut().zip(a.iter().zip(&b)).for_each(|(g, (a, b))| *g = (a + b) / 2.0);
                    add(p1 * p2, &pair);
                }
            }
        }
        _ => unreachable!("batches of one or two"),
    }
    moments.variances()
}

/// Exact V(s) (over every visit), V(s, t) and the optimal constants bₖ* = E[gₖ xₖ] / E[gₖ²].
struct Exact {
    v: Vec<f64>,
    vt: Vec<Vec<f64>>,
    b: Vec<f64>,
}

fn exact(theta: &[f64], mdp: &TabularMdp, leaves: &[(f64, Vec<Step>)]) -> Exact {
    let (ns, na, h) = (mdp.n_states(), mdp.n_actions(), mdp.horizon());
    let (mut v, mut vw) = (vec![0.0; ns], vec![0.0; ns]);
    let (mut vt, mut vtw) = (vec![vec![0.0; ns]; h + 1], vec![vec![0.0; ns]; h + 1]);
    let (mut num, mut den) = (vec![0.0; theta.len()], vec![0.0; theta.len()]);
    for (p, steps) in leaves {
        let q = to_go(steps);
        for (t, &(s, _, _)) in steps.iter().enumerate() {
            v[s] += p * q[t];
            vw[s] += p;
            vt[t][s] += p * q[t];
            vtw[t][s] += p;
        }
        let x = estimate(theta, na, &Weights::ToGo, steps, &[]);
        let mut g = vec![0.0; theta.len()];
        for &(s, a, _) in steps {
            g.iter_mut().zip(score(theta, na, s, a)).for_each(|(g, x)| *g += x);
        }
        for k in 0..theta.len() {
            num[k] += p * g[k] * x[k];
            den[k] += p * g[k] * g[k];
        }
    }
    let ratio = |x: f64, w: f64| if w > 0.0 { x / w } else { 0.0 };
    Exact {
        v: v.iter().zip(&vw).map(|(x, w)| ratio(*x, *w)).collect(),
        vt: vt.iter().zip(&vtw).map(|(r, w)| r.iter().zip(w).map(|(x, w)| ratio(*x, *w)).collect()).collect(),
        b: num.iter().zip(&den).map(|(x, w)| ratio(*x, *w)).collect(),
    }
}

/// tr Cov of every estimator the variance tables compare, in their order,
/// on batches of two, with the rewards delayed if `delay`.
fn table_column(mdp: &TabularMdp, delay: bool) -> Vec<f64> {
    let theta = reference_theta();
    let na = mdp.n_actions();
    let mut leaves = trajectories(mdp, &theta);
    if delay {
        leaves = leaves.iter().map(|(p, s)| (*p, delayed(s))).collect();
    }
    let e = exact(&theta, mdp, &leaves);
    [
        Weights::Return,
        Weights::ToGo,
        Weights::LeaveOneOutMean,
        Weights::Constant(e.b),
        Weights::StateValue(e.v),
        Weights::TimeValue(e.vt),
    ]
    .iter()
    .map(|w| variances(&theta, na, &leaves, w, EXACT_BATCH).iter().sum())
    .collect()
}

fn reference_theta() -> Vec<f64> {
    use pg_core::policy::Policy;
    reference_policy().params().to_vec()
}

const ROWS: [&str; 6] = [
    "REINFORCE (chapter 1)",
    "reward-to-go (chapter 2)",
    "mean baseline (leave one out)",
    "exact optimal constant b*",
    "exact V(s)",
    "exact V(s, t)",
];

fn assert_close(what: &str, printed: f64, independent: f64) {
    assert!(
        (printed - independent).abs() <= 1e-10 * (1.0 + independent.abs()),
        "{what}: the chapter's {printed} against {independent} computed independently"
    );
}

fn assert_table(rows: &[VarianceRow], columns: &[Vec<f64>]) {
    assert_eq!(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ROWS);
    for (k, row) in rows.iter().enumerate() {
        assert_eq!(row.variance.len(), columns.len(), "{}", row.name);
        for (c, column) in columns.iter().enumerate() {
            assert_close(&format!("{}, column {c}", row.name), row.variance[c], column[k]);
        }
    }
}

#[test]
fn the_offset_tables_match_an_independent_enumeration() {
    // The book's offsets.
    let offsets = pg_baselines::book::OFFSETS;
    let fixed: Vec<Vec<f64>> = offsets
        .iter()
        .map(|&c| table_column(&TabularMdp::three_state().without_termination().with_reward_offset(c), false))
        .collect();
    assert_table(&ex::offset_variances(&offsets), &fixed);
    let ending: Vec<Vec<f64>> = offsets
        .iter()
        .map(|&c| table_column(&TabularMdp::three_state().with_reward_offset(c), false))
        .collect();
    assert_table(&ex::offset_variances_terminating(&offsets), &ending);
}

#[test]
fn the_dense_and_delayed_table_matches_an_independent_enumeration() {
    let mdp = TabularMdp::three_state();
    assert_table(&ex::dense_sparse_variances(), &[table_column(&mdp, false), table_column(&mdp, true)]);
}

#[test]
fn the_constants_table_matches_an_independent_enumeration() {
    let mdp = TabularMdp::three_state();
    let theta = reference_theta();
    let leaves = trajectories(&mdp, &theta);
    let e = exact(&theta, &mdp, &leaves);
    let j: f64 = leaves.iter().map(|(p, s)| p * to_go(s)[0]).sum();
    let rows = ex::constant_baselines();
    let constants = [vec![0.0; theta.len()], vec![j; theta.len()], e.b];
    assert_eq!(rows.len(), constants.len());
    for (row, b) in rows.iter().zip(constants) {
        let expected = variances(&theta, mdp.n_actions(), &leaves, &Weights::Constant(b), 1);
        for (k, (printed, independent)) in row.variance.iter().zip(&expected).enumerate() {
            assert_close(&format!("{}, component {k}", row.name), *printed, *independent);
        }
    }
}

#[test]
fn the_exact_values_and_constants_match_their_definitions() {
    let policy = reference_policy();
    let theta = reference_theta();
    for mdp in [TabularMdp::three_state(), TabularMdp::three_state().without_termination()] {
        for delay in [false, true] {
            let mut leaves = trajectories(&mdp, &theta);
            if delay {
                leaves = leaves.iter().map(|(p, s)| (*p, delayed(s))).collect();
            }
            let e = exact(&theta, &mdp, &leaves);
            let values = exact_values(&mdp, &policy, delay);
            for (s, (a, b)) in values.v.iter().zip(&e.v).enumerate() {
                assert_close(&format!("V({s}), delayed {delay}"), *a, *b);
            }
            for (t, (row, want)) in exact_time_values(&mdp, &policy, delay).iter().zip(&e.vt).enumerate() {
                for (s, (a, b)) in row.iter().zip(want).enumerate() {
                    assert_close(&format!("V({s}, {t}), delayed {delay}"), *a, *b);
                }
            }
            let b = exact_optimal_constant(&mdp, &policy, delay);
            for (k, (a, b)) in b.iter().zip(&e.b).enumerate() {
                assert_close(&format!("b*_{k}, delayed {delay}"), *a, *b);
            }
        }
    }
}

#[test]
fn the_gae_table_matches_an_independent_enumeration() {
    let mdp = TabularMdp::three_state().horizon_terminates();
    let theta = reference_theta();
    let na = mdp.n_actions();
    let leaves = trajectories(&mdp, &theta);
    let e = exact(&theta, &mdp, &leaves);
    // The book's λ.
    let lambdas = pg_baselines::book::GAE_LAMBDAS;
    // ∇J = E[Σₜ ∇ log π(aₜ|sₜ) Q̂ₜ] (the policy-gradient theorem), summed here.
    let dim = theta.len();
    let truth: Vec<f64> = (0..dim)
        .map(|k| leaves.iter().map(|(p, s)| p * estimate(&theta, na, &Weights::ToGo, s, &[])[k]).sum())
        .collect();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    // GAE(λ) with γ = 1 written out: Âₜ = Σₗ λˡ (r_{t+l} + V_{t+l+1} − V_{t+l}), with
    // V = 0 after the last step (the horizon ends the episode here). Returns
    // the relative bias and tr Cov.
    let gae_moments = |lambda: f64, value: &dyn Fn(usize, usize) -> f64| -> (f64, f64) {
        let mut moments = Moments::new(dim);
        for (p, steps) in &leaves {
            let vals: Vec<f64> = steps.iter().enumerate().map(|(t, s)| value(t, s.0)).chain([0.0]).collect();
            let mut g = vec![0.0; dim];
            for (t, &(s, a, _)) in steps.iter().enumerate() {
                let adv: f64 = (t..steps.len())
                    .map(|l| lambda.powi((l - t) as i32) * (steps[l].2 + vals[l + 1] - vals[l]))
                    .sum();
                g.iter_mut().zip(score(&theta, na, s, a)).for_each(|(g, x)| *g += x * adv);
            }
            moments.add(*p, &g);
        }
        let gap: Vec<f64> = moments.m1.iter().zip(&truth).map(|(m, t)| m - t).collect();
        (norm(&gap) / norm(&truth), moments.variances().iter().sum())
    };
    for (row, &lambda) in ex::gae_tradeoff(&lambdas).iter().zip(&lambdas) {
        let (bias_v, variance_v) = gae_moments(lambda, &|_, s| e.v[s]);
        let (bias_vt, variance_vt) = gae_moments(lambda, &|t, s| e.vt[t][s]);
        assert_close(&format!("GAE({lambda}) from V(s)"), row.variance_v, variance_v);
        assert_close(&format!("GAE({lambda}) from V(s, t)"), row.variance_vt, variance_vt);
        assert_close(&format!("GAE({lambda}) bias from V(s)"), row.bias_v, bias_v);
        assert!(
            (row.bias_vt - bias_vt).abs() < 1e-10,
            "GAE({lambda}) bias from V(s, t): {} {bias_vt}",
            row.bias_vt
        );
    }
}
