//! Chapter 3's experiments: exact variances of every baseline on the
//! three-state MDP (with the reward shifted, with the reward delayed, with
//! GAE's λ varied), training runs on the same MDP where J(θ) is known
//! exactly, and CartPole through chapter 1's generic experiments.

use crate::{MeanBaseline, ValueBaseline, ValueFunction, estimates_and_scores, gae, per_parameter_gradient};
use ndarray::{Array1, ArrayView1};
use pg_causality::{RewardToGo, reward_to_go};
use pg_core::env::TabularMdp;
use pg_core::policy::{Policy, TabularSoftmax};
use pg_core::rng::seeded;
use pg_core::{Batch, PgError, StepWeights, Trajectory};
use pg_likelihood_ratio::exact::exact_moments;
use pg_likelihood_ratio::experiments::{parallel_map, reference_policy};
use pg_likelihood_ratio::{Estimator, PolicyGradient, Reinforce, TrainConfig, train};

/// The state of a one-hot observation.
fn state_of(obs: ArrayView1<'_, f64>) -> usize {
    obs.iter().position(|&x| x == 1.0).expect("a one-hot observation")
}

/// Every reward moved to the episode's last step: the return is the same,
/// but nothing says *when* it was earned (a sparse reward).
pub fn delay_rewards<A: Clone>(traj: &Trajectory<A>) -> Trajectory<A> {
    let mut out = traj.clone();
    let total = traj.total_reward();
    out.rewards.iter_mut().for_each(|r| *r = 0.0);
    if let Some(last) = out.rewards.last_mut() {
        *last = total;
    }
    out
}

/// The exact state values V(s) = E[Q̂ₜ | sₜ = s] and action values
/// Q(s, a) = E[Q̂ₜ | sₜ = s, aₜ = a] of the three-state MDP under the
/// policy, averaged over the steps at which the state is visited.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactValues {
    /// V(s), 0 for a state never visited.
    pub v: Vec<f64>,
    /// Q(s, a), 0 for a pair never visited.
    pub q: Vec<Vec<f64>>,
}

/// [`ExactValues`] by enumeration, of the rewards as they are or delayed
/// to the last step (`delayed`).
pub fn exact_values(mdp: &TabularMdp, policy: &TabularSoftmax, delayed: bool) -> ExactValues {
    let (ns, na) = (mdp.n_states(), mdp.n_actions());
    let (mut v, mut v_weight) = (vec![0.0; ns], vec![0.0; ns]);
    let (mut q, mut q_weight) = (vec![vec![0.0; na]; ns], vec![vec![0.0; na]; ns]);
    for (p, traj) in mdp.enumerate(policy) {
        let traj = if delayed { delay_rewards(&traj) } else { traj };
        for ((obs, &a), g) in traj.steps().zip(reward_to_go(&traj.rewards, 1.0)) {
            let s = state_of(obs);
            v[s] += p * g;
            v_weight[s] += p;
            q[s][a] += p * g;
            q_weight[s][a] += p;
        }
    }
    let ratio = |x: f64, w: f64| if w > 0.0 { x / w } else { 0.0 };
    ExactValues {
        v: v.iter().zip(&v_weight).map(|(x, w)| ratio(*x, *w)).collect(),
        q: q.iter()
            .zip(&q_weight)
            .map(|(x, w)| x.iter().zip(w).map(|(x, w)| ratio(*x, *w)).collect())
            .collect(),
    }
}

/// A value function fixed at V(s) = `v[s]` for one-hot observations (an
/// affine map whose weights are the table).
pub fn tabular_value(v: &[f64]) -> ValueFunction {
    let mut value = ValueFunction::new(v.len(), &[], 0.1, 1, &mut seeded(0)).expect("valid settings");
    let mut table = v.to_vec();
    table.push(0.0);
    value.params_mut().assign(&Array1::from(table));
    value
}

/// The value baseline with V fixed at the exact values, γ = 1.
pub fn exact_value_baseline(mdp: &TabularMdp, policy: &TabularSoftmax, delayed: bool) -> ValueBaseline {
    ValueBaseline::new(tabular_value(&exact_values(mdp, policy, delayed).v), 1.0).expect("γ = 1 is allowed")
}

/// The exact time-aware values V(s, t) = E[Q̂ₜ | sₜ = s] at every step
/// t = 0, …, H (row t), with V(·, H) = 0: at the horizon nothing follows;
/// of the rewards delayed to the last step, if `delayed`.
pub fn exact_time_values(mdp: &TabularMdp, policy: &TabularSoftmax, delayed: bool) -> Vec<Vec<f64>> {
    let (h, ns) = (mdp.horizon(), mdp.n_states());
    let (mut v, mut w) = (vec![vec![0.0; ns]; h + 1], vec![vec![0.0; ns]; h + 1]);
    for (p, traj) in mdp.enumerate(policy) {
        let traj = if delayed { delay_rewards(&traj) } else { traj };
        for (t, ((obs, _), g)) in traj.steps().zip(reward_to_go(&traj.rewards, 1.0)).enumerate() {
            v[t][state_of(obs)] += p * g;
            w[t][state_of(obs)] += p;
        }
    }
    v.iter()
        .zip(&w)
        .map(|(v, w)| v.iter().zip(w).map(|(x, w)| if *w > 0.0 { x / w } else { 0.0 }).collect())
        .collect()
}

/// A baseline that sees the time step: V(s, t) from a table (row t), for
/// one-hot observations; with a λ, GAE(λ) from the same values.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeValueBaseline {
    /// V(s, t), rows t = 0, …, H.
    pub v: Vec<Vec<f64>>,
    /// GAE's λ, or `None` for Q̂ₜ − V(sₜ, t).
    pub lambda: Option<f64>,
}

impl Estimator<TabularSoftmax> for TimeValueBaseline {
    fn name(&self) -> String {
        match self.lambda {
            None => "exact V(s, t)".into(),
            Some(l) => format!("GAE (λ = {l}) from the exact V(s, t)"),
        }
    }

    fn weights(&self, _policy: &TabularSoftmax, batch: &Batch<usize>) -> Option<StepWeights> {
        Some(StepWeights::fill(batch, |_, t, w| {
            let values: Vec<f64> =
                t.obs.iter().enumerate().map(|(k, o)| self.v[k][state_of(o.view())]).collect();
            match self.lambda {
                Some(l) => w.copy_from_slice(&gae(&t.rewards, &values, t.terminated, 1.0, l)),
                None => {
                    for ((w_t, q), v) in w.iter_mut().zip(reward_to_go(&t.rewards, 1.0)).zip(&values) {
                        *w_t = q - v;
                    }
                }
            }
        }))
    }
}

/// A fixed constant per parameter: ĝ = (1/N) Σᵢ (xᵢ − b ⊙ gᵢ).
#[derive(Debug, Clone, PartialEq)]
pub struct ConstantBaseline {
    /// bₖ for every parameter k.
    pub b: Array1<f64>,
    /// How the table names it.
    pub label: String,
}

impl<P: Policy> Estimator<P> for ConstantBaseline {
    fn name(&self) -> String {
        self.label.clone()
    }

    fn gradient(&self, policy: &P, batch: &Batch<P::Action>) -> Array1<f64> {
        per_parameter_gradient(&estimates_and_scores(policy, batch), |_| self.b.clone())
    }
}

// ANCHOR: exact_optimal_constant
/// The exact variance-minimising constants bₖ* = E[gₖ xₖ] / E[gₖ²], by
/// enumeration; of the rewards delayed to the last step, if `delayed`.
pub fn exact_optimal_constant(mdp: &TabularMdp, policy: &TabularSoftmax, delayed: bool) -> Array1<f64> {
    let num = mdp.expectation(policy, |t| {
        let t = if delayed { delay_rewards(t) } else { t.clone() };
        let (x, g) = estimates_and_scores(policy, &Batch { trajectories: vec![t] }).remove(0);
        x * g
    });
    let den = mdp.expectation(policy, |t| policy.score(t).mapv(|g| g * g));
    ndarray::Zip::from(&num).and(&den).map_collect(|&n, &d| if d > 0.0 { n / d } else { 0.0 })
}
// ANCHOR_END: exact_optimal_constant

/// The constant baseline at the exact b* (of the delayed rewards, if `delayed`).
pub fn exact_optimal_baseline(mdp: &TabularMdp, policy: &TabularSoftmax, delayed: bool) -> ConstantBaseline {
    ConstantBaseline {
        b: exact_optimal_constant(mdp, policy, delayed),
        label: "exact optimal constant b*".into(),
    }
}

/// A deliberately wrong "baseline": the action value Q(s, a), which depends
/// on the action taken. The weights Q̂ₜ − Q(sₜ, aₜ) are centred for every
/// action separately, so the signal that tells actions apart is gone.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionValueBaseline {
    /// Q(s, a) for one-hot observations.
    pub q: Vec<Vec<f64>>,
}

impl Estimator<TabularSoftmax> for ActionValueBaseline {
    fn name(&self) -> String {
        "Q(s, a) as the baseline (depends on the action)".into()
    }

    fn weights(&self, _policy: &TabularSoftmax, batch: &Batch<usize>) -> Option<StepWeights> {
        Some(StepWeights::fill(batch, |_, t, w| {
            for ((w_t, (obs, &a)), g) in w.iter_mut().zip(t.steps()).zip(reward_to_go(&t.rewards, 1.0)) {
                *w_t = g - self.q[state_of(obs)][a];
            }
        }))
    }
}

/// Runs the inner estimator on the batch with every reward delayed to the
/// episode's last step ([`delay_rewards`]).
#[derive(Debug, Clone)]
pub struct Delayed<E>(pub E);

impl<P: Policy, E: Estimator<P>> Estimator<P> for Delayed<E> {
    fn name(&self) -> String {
        format!("{}, rewards delayed", self.0.name())
    }

    fn gradient(&self, policy: &P, batch: &Batch<P::Action>) -> Array1<f64> {
        let delayed = Batch { trajectories: batch.trajectories.iter().map(delay_rewards).collect() };
        self.0.gradient(policy, &delayed)
    }
}

/// The batch size of the exact comparisons: the smallest that a batch
/// baseline needs, and every batch of two trajectories can be enumerated.
pub const EXACT_BATCH: usize = 2;

/// One row of an exact variance table.
#[derive(Debug, Clone, PartialEq)]
pub struct VarianceRow {
    /// The estimator's label.
    pub name: String,
    /// Exact variances, one per setting (or per component).
    pub variance: Vec<f64>,
    /// The largest maxₖ |E[ĝₖ] − ∇ₖJ| over the settings.
    pub max_abs_bias: f64,
}

/// The estimators compared by the exact tables, built for one MDP and
/// policy (the exact value baseline depends on both).
pub fn compared_estimators(
    mdp: &TabularMdp,
    policy: &TabularSoftmax,
    delayed: bool,
) -> Vec<(&'static str, Box<dyn Estimator<TabularSoftmax>>)> {
    let wrap = |e: Box<dyn Estimator<TabularSoftmax>>| -> Box<dyn Estimator<TabularSoftmax>> {
        if delayed { Box::new(Delayed(e)) } else { e }
    };
    vec![
        ("REINFORCE (chapter 1)", wrap(Box::new(Reinforce))),
        ("reward-to-go (chapter 2)", wrap(Box::new(RewardToGo::new()))),
        ("mean baseline (leave one out)", wrap(Box::new(MeanBaseline { leave_one_out: true }))),
        ("exact optimal constant b*", wrap(Box::new(exact_optimal_baseline(mdp, policy, delayed)))),
        ("exact V(s)", wrap(Box::new(exact_value_baseline(mdp, policy, delayed)))),
        (
            "exact V(s, t)",
            wrap(Box::new(TimeValueBaseline { v: exact_time_values(mdp, policy, delayed), lambda: None })),
        ),
    ]
}

/// Exact tr Cov[ĝ] of every compared estimator on each MDP of `mdps`.
fn variance_rows(mdps: &[(TabularMdp, bool)]) -> Vec<VarianceRow> {
    let policy = reference_policy();
    let per_mdp: Vec<Vec<(String, f64, f64)>> = mdps
        .iter()
        .map(|(mdp, delayed)| {
            let exact = mdp.exact_gradient(&policy);
            compared_estimators(mdp, &policy, *delayed)
                .into_iter()
                .map(|(name, e)| {
                    let m = exact_moments(mdp, &policy, e.as_ref(), EXACT_BATCH);
                    (name.to_string(), m.total_variance(), m.max_abs_bias(&exact))
                })
                .collect()
        })
        .collect();
    (0..per_mdp[0].len())
        .map(|k| VarianceRow {
            name: per_mdp[0][k].0.clone(),
            variance: per_mdp.iter().map(|row| row[k].1).collect(),
            max_abs_bias: per_mdp.iter().map(|row| row[k].2).fold(0.0, f64::max),
        })
        .collect()
}

/// Exact variances of one-trajectory estimates with the constant baselines
/// b = 0 (reward-to-go), b = J (the expected return) and the optimal bₖ*, at
/// the reference policy of the three-state MDP. `variance` holds Var[ĝₖ] per
/// component k.
pub fn constant_baselines() -> Vec<VarianceRow> {
    let mdp = TabularMdp::three_state();
    let policy = reference_policy();
    let exact = mdp.exact_gradient(&policy);
    let j = mdp.exact_objective(&policy);
    let dim = policy.num_params();
    [
        ConstantBaseline { b: Array1::zeros(dim), label: "none: b = 0 (reward-to-go)".into() },
        ConstantBaseline {
            b: Array1::from_elem(dim, j),
            label: format!("the expected return, b = J = {j:.4}"),
        },
        exact_optimal_baseline(&mdp, &policy, false),
    ]
    .iter()
    .map(|e| {
        let m = exact_moments(&mdp, &policy, e, 1);
        VarianceRow {
            name: e.label.clone(),
            variance: m.variance.to_vec(),
            max_abs_bias: m.max_abs_bias(&exact),
        }
    })
    .collect()
}

// ANCHOR: offset
/// Exact variances with `c` added to every reward, for each c in `offsets`,
/// on the three-state MDP without termination (every episode lasts the
/// horizon, so the offset adds c·H to every return and leaves ∇J alone).
pub fn offset_variances(offsets: &[f64]) -> Vec<VarianceRow> {
    let mdps: Vec<_> = offsets
        .iter()
        .map(|&c| (TabularMdp::three_state().without_termination().with_reward_offset(c), false))
        .collect();
    variance_rows(&mdps)
}
// ANCHOR_END: offset

/// The same exact variances on the three-state MDP as it is, where an
/// episode ends early when it enters the terminal state: the offset then
/// adds c times the episode's *length*, which depends on the actions, so it
/// changes the returns' differences and no baseline can remove it.
pub fn offset_variances_terminating(offsets: &[f64]) -> Vec<VarianceRow> {
    let mdps: Vec<_> =
        offsets.iter().map(|&c| (TabularMdp::three_state().with_reward_offset(c), false)).collect();
    variance_rows(&mdps)
}

/// Exact variances with the rewards as they are (dense) and all delayed to
/// the last step (sparse), on the three-state MDP: same returns, same ∇J.
pub fn dense_sparse_variances() -> Vec<VarianceRow> {
    let mdp = TabularMdp::three_state();
    variance_rows(&[(mdp.clone(), false), (mdp, true)])
}

/// GAE(λ)'s exact bias and variance at one λ, from two value functions.
#[derive(Debug, Clone, PartialEq)]
pub struct GaeRow {
    /// λ.
    pub lambda: f64,
    /// ‖E[ĝ] − ∇J‖ / ‖∇J‖ with the exact time-blind V(s).
    pub bias_v: f64,
    /// tr Cov[ĝ] of one trajectory with the exact V(s).
    pub variance_v: f64,
    /// The same relative bias with the exact V(s, t).
    pub bias_vt: f64,
    /// tr Cov[ĝ] with the exact V(s, t).
    pub variance_vt: f64,
}

// ANCHOR: gae_tradeoff
/// The exact bias and variance of one-trajectory GAE(λ) estimates (γ = 1) on
/// the three-state MDP whose horizon ends the episode, for each λ, from the
/// exact V(s) (which cannot see the time left) and the exact V(s, t).
pub fn gae_tradeoff(lambdas: &[f64]) -> Vec<GaeRow> {
    let mdp = TabularMdp::three_state().horizon_terminates();
    let policy = reference_policy();
    let exact = mdp.exact_gradient(&policy);
    let blind = exact_value_baseline(&mdp, &policy, false);
    let timed = exact_time_values(&mdp, &policy, false);
    lambdas
        .iter()
        .map(|&lambda| {
            let v = exact_moments(&mdp, &policy, &blind.clone().with_gae(lambda).expect("λ in [0, 1]"), 1);
            let vt = TimeValueBaseline { v: timed.clone(), lambda: Some(lambda) };
            let vt = exact_moments(&mdp, &policy, &vt, 1);
            GaeRow {
                lambda,
                bias_v: v.relative_bias(&exact),
                variance_v: v.total_variance(),
                bias_vt: vt.relative_bias(&exact),
                variance_vt: vt.total_variance(),
            }
        })
        .collect()
}
// ANCHOR_END: gae_tradeoff

/// The exact gradient, whatever the batch: the limit of any unbiased
/// estimator as the batch grows (N = ∞).
#[derive(Debug, Clone)]
pub struct ExactGradient(pub TabularMdp);

impl Estimator<TabularSoftmax> for ExactGradient {
    fn name(&self) -> String {
        "exact gradient".into()
    }

    fn gradient(&self, policy: &TabularSoftmax, _batch: &Batch<usize>) -> Array1<f64> {
        self.0.exact_gradient(policy)
    }
}

/// Settings of the training runs on a tabular MDP.
#[derive(Debug, Clone, PartialEq)]
pub struct TabularRuns {
    /// Episodes per batch.
    pub batch: usize,
    /// Iterations.
    pub iters: usize,
    /// Adam's step size.
    pub lr: f64,
    /// Seeds, one run each.
    pub seeds: Vec<u64>,
}

/// The learned value baseline of the tabular runs: an affine V on the
/// one-hot state, γ = 1.
pub fn tabular_value_baseline(n_states: usize) -> Result<ValueBaseline, PgError> {
    ValueBaseline::new(ValueFunction::new(n_states, &[], 0.1, 20, &mut seeded(0))?, 1.0)
}

// ANCHOR: tabular_training
/// Trains a uniform tabular policy on `mdp` once per seed, with an estimator
/// from `make`, and returns the exact J(θ) each run ends with.
pub fn final_objectives(
    mdp: &TabularMdp,
    make: &(dyn Fn() -> Box<dyn Estimator<TabularSoftmax>> + Sync),
    runs: &TabularRuns,
) -> Result<Vec<f64>, PgError> {
    parallel_map(&runs.seeds, |&seed| {
        let mut policy = TabularSoftmax::new(mdp.n_states(), mdp.n_actions());
        let mut update = PolicyGradient::adam(make(), runs.lr)?;
        let config = TrainConfig { iters: runs.iters, batch: runs.batch, seed, max_env_steps: None };
        train(&mut mdp.clone(), &mut policy, &mut update, &config, |_| {})?;
        Ok(mdp.exact_objective(&policy))
    })
    .into_iter()
    .collect()
}
// ANCHOR_END: tabular_training

/// GAE's λ in the CartPole comparison.
pub const CARTPOLE_GAE_LAMBDA: f64 = 0.95;

/// The discount of the learned value baseline on CartPole: below 1, so that
/// bootstrapping from V(s_T) where the time limit cuts an episode stays finite.
pub const CARTPOLE_GAMMA: f64 = 0.99;

/// The learned value baseline of the CartPole runs: V an MLP with one
/// hidden layer of 32, 10 Adam steps of 0.01 per batch on 256 states each;
/// GAE with `lambda`.
pub fn cartpole_value_baseline(lambda: Option<f64>) -> Result<ValueBaseline, PgError> {
    let value = ValueFunction::new(4, &[32], 0.01, 10, &mut seeded(7))?.with_minibatch(256)?;
    let baseline = ValueBaseline::new(value, CARTPOLE_GAMMA)?;
    match lambda {
        Some(l) => baseline.with_gae(l),
        None => Ok(baseline),
    }
}
