//! Sampling, replayed exactly: every policy and the tabular MDP draw by
//! inversion of one uniform u (the first outcome whose cumulative
//! probability exceeds u), a Gaussian as μ + σ·z from one standard normal z.
//! Each test replays the same random stream by hand and requires the same
//! draw, thousands of times, so a sampler that skips, repeats or misorders an
//! outcome fails at a fixed seed, not with some probability.

use ndarray::{Array1, ArrayView1, array};
use pg_core::env::{Env, TabularMdp};
use pg_core::policy::{Bernoulli, Categorical, Gaussian, Policy, TabularSoftmax};
use pg_core::{Dist, PgRng, seeded};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};

/// The first outcome whose cumulative probability exceeds u; outcomes of
/// probability 0 are never drawn (rounding can leave the sum just short of
/// 1, and then the last possible outcome is drawn).
fn invert(probs: &[f64], u: f64) -> usize {
    let mut acc = 0.0;
    let mut last = 0;
    for (i, &p) in probs.iter().enumerate() {
        if p <= 0.0 {
            continue;
        }
        acc += p;
        last = i;
        if u < acc {
            return i;
        }
    }
    last
}

fn categorical(policy: &impl Policy, obs: ArrayView1<'_, f64>) -> Vec<f64> {
    match policy.dist(obs) {
        Dist::Categorical(p) => p,
        Dist::Gaussian { .. } => panic!("a discrete policy"),
    }
}

/// Replays `draws` samples of a discrete policy at each observation: the
/// same action as inverting the stream's next uniform, and
/// `sample_with_log_prob`'s log-probability is `log_prob`'s. Returns how
/// often each action came up.
fn replay_discrete(
    policy: &impl Policy<Action = usize>,
    observations: &[Array1<f64>],
    draws: usize,
) -> Vec<usize> {
    let mut rng = seeded(11);
    let mut counts = vec![0; categorical(policy, observations[0].view()).len()];
    for k in 0..draws {
        let obs = observations[k % observations.len()].view();
        let probs = categorical(policy, obs);
        let expected = invert(&probs, rng.clone().random::<f64>());
        let drawn = if k % 2 == 0 {
            let (a, lp) = policy.sample_with_log_prob(obs, &mut rng);
            assert!((lp - policy.log_prob(obs, &a)).abs() < 1e-12, "log-probability {lp} of action {a}");
            a
        } else {
            policy.sample(obs, &mut rng)
        };
        assert_eq!(drawn, expected, "draw {k} at {obs} from {probs:?}");
        counts[drawn] += 1;
    }
    counts
}

#[test]
fn softmax_policies_sample_by_inverting_one_uniform() {
    // Three actions with unequal probabilities in each of two states.
    let mut tabular = TabularSoftmax::new(2, 3);
    tabular.params_mut().assign(&array![0.3, -1.0, 1.2, 2.0, 0.0, -0.5]);
    let states = [array![1.0, 0.0], array![0.0, 1.0]];
    let counts = replay_discrete(&tabular, &states, 4000);
    assert!(counts.iter().all(|&c| c > 100), "every action drawn: {counts:?}");

    let mut linear = Categorical::linear(2, 3);
    let n = linear.num_params();
    linear.params_mut().assign(&Array1::from_shape_fn(n, |i| (i as f64 * 1.7).sin()));
    let observations = [array![0.5, -1.0], array![-2.0, 0.3], array![1.0, 1.0]];
    let counts = replay_discrete(&linear, &observations, 4000);
    assert!(counts.iter().all(|&c| c > 100), "every action drawn: {counts:?}");

    let mlp = Categorical::mlp(2, &[4], 3, &mut seeded(2));
    replay_discrete(&mlp, &observations, 2000);
}

#[test]
fn bernoulli_takes_action_one_when_the_uniform_is_below_p() {
    let policy = Bernoulli::new(0.3);
    let mut rng = seeded(4);
    let mut ones = 0;
    for _ in 0..2000 {
        let u: f64 = rng.clone().random();
        let a = policy.sample(array![1.0].view(), &mut rng);
        assert_eq!(a, usize::from(u < 0.3));
        ones += a;
    }
    assert!((500..700).contains(&ones), "{ones} of 2000");
}

#[test]
fn gaussians_sample_the_mean_plus_sigma_times_a_standard_normal() {
    let obs = [array![0.4, -1.3], array![2.0, 0.1]];
    let mut linear = Gaussian::linear(2, 2, -0.4);
    let n = linear.num_params();
    linear.params_mut().assign(&Array1::from_shape_fn(n, |i| (i as f64 + 0.5).cos()));
    let mlp = Gaussian::mlp(2, &[5], 1, 0.3, &mut seeded(3));
    let mut state_std = Gaussian::mlp_state_std(2, &[3], 2, -0.2, &mut seeded(5));
    // Weights that make log σ depend on the state.
    state_std.params_mut().mapv_inplace(|p| p + 0.2);
    assert!(!linear.state_dependent_std() && !mlp.state_dependent_std() && state_std.state_dependent_std());
    let policies = [linear, mlp, state_std];
    for policy in &policies {
        let mut rng: PgRng = seeded(8);
        for k in 0..200 {
            let o = obs[k % 2].view();
            let Dist::Gaussian { mean, log_std } = policy.dist(o) else { panic!("a Gaussian") };
            let start = rng.clone();
            let mut replay = start.clone();
            let expected: Array1<f64> = mean
                .iter()
                .zip(&log_std)
                .map(|(m, ls)| {
                    let z: f64 = StandardNormal.sample(&mut replay);
                    m + ls.exp() * z
                })
                .collect();
            let (a, lp) = policy.sample_with_log_prob(o, &mut rng);
            assert!((&a - &expected).iter().all(|d| d.abs() < 1e-12), "{a} vs {expected}");
            assert!((lp - policy.log_prob(o, &a)).abs() < 1e-9, "log-probability {lp}");
            // `sample` draws the same action from the same stream.
            assert_eq!(policy.sample(o, &mut start.clone()), a);
        }
    }
}

#[test]
fn the_tabular_mdp_starts_and_moves_by_inverting_one_uniform() {
    let mut env = TabularMdp::three_state();
    let mut rng = seeded(6);
    let mut starts = [0; 3];
    let mut moves = 0;
    for _ in 0..500 {
        let expected = invert(env.initial(), rng.clone().random::<f64>());
        let obs = env.reset(&mut rng);
        assert_eq!(obs, env.one_hot(expected));
        starts[expected] += 1;
        let mut s = expected;
        for step in 0..env.horizon() {
            let a = step % 2;
            let outcomes = env.transitions(s, a);
            let probs: Vec<f64> = outcomes.iter().map(|t| t.prob).collect();
            let next = outcomes[invert(&probs, rng.clone().random::<f64>())].next;
            let out = env.step(&a, &mut rng);
            assert_eq!(out.obs, env.one_hot(next), "from state {s} by action {a}");
            assert_eq!(out.reward, env.reward(s, a));
            moves += 1;
            s = next;
            if out.terminated || out.truncated {
                break;
            }
        }
    }
    assert!(starts[0] > 300 && starts[1] > 100 && starts[2] == 0, "{starts:?}");
    assert!(moves > 1000);
}

/// A policy whose parameters became NaN (a diverged update) still samples
/// without panicking: the last action, with a NaN log-probability that the
/// training loops report as an error.
#[test]
fn a_nan_policy_samples_its_last_action_with_a_nan_log_probability() {
    let mut policy = Categorical::linear(2, 3);
    policy.params_mut().fill(f64::NAN);
    let (a, lp) = policy.sample_with_log_prob(array![0.5, 1.0].view(), &mut seeded(1));
    assert_eq!(a, 2);
    assert!(lp.is_nan());
}

/// A sampled episode records each action's log-probability, and the
/// policy's log-likelihood of the episode is their sum.
#[test]
fn an_episodes_log_likelihood_is_the_sum_of_its_recorded_log_probabilities() {
    let mut policy = TabularSoftmax::new(3, 2);
    policy.params_mut().assign(&array![0.4, -0.3, 1.1, 0.2, 0.0, 0.5]);
    let batch = pg_core::Batch::sample(&mut TabularMdp::three_state(), &policy, 30, &mut seeded(12));
    for t in &batch.trajectories {
        let recorded: f64 = t.log_probs.iter().sum();
        assert!(recorded < 0.0);
        assert!(
            (policy.log_likelihood(t) - recorded).abs() < 1e-12,
            "{} vs {recorded}",
            policy.log_likelihood(t)
        );
    }
}

/// The tabular policy reads the row of the hot state: πθ(a|s) = softmax(θ_{s,·})ₐ,
/// written out here for each of three states.
#[test]
fn the_tabular_policy_reads_the_row_of_the_hot_state() {
    let mut policy = TabularSoftmax::new(3, 2);
    let theta = [0.4, -0.3, 1.1, 0.2, -2.0, 0.5];
    policy.params_mut().assign(&Array1::from(theta.to_vec()));
    for s in 0..3 {
        let mut obs = Array1::zeros(3);
        obs[s] = 1.0;
        let z = theta[2 * s].exp() + theta[2 * s + 1].exp();
        let want = [theta[2 * s].exp() / z, theta[2 * s + 1].exp() / z];
        let got = categorical(&policy, obs.view());
        for a in 0..2 {
            assert!((got[a] - want[a]).abs() < 1e-15, "state {s}: {got:?} vs {want:?}");
            assert!((policy.log_prob(obs.view(), &a) - want[a].ln()).abs() < 1e-14);
        }
    }
}

/// A Gaussian with a state-dependent σ has 2·D outputs, D means and D log σ,
/// which start (biases only, at s = 0) at 0 and at the given log σ.
#[test]
fn a_state_dependent_sigma_has_a_mean_and_a_log_sigma_per_action_dimension() {
    for d in 1..=3 {
        let policy = Gaussian::mlp_state_std(2, &[4], d, -0.7, &mut seeded(d as u64));
        assert_eq!((policy.net().output(), policy.act_dim()), (2 * d, d));
        let Dist::Gaussian { mean, log_std } = policy.dist(array![0.0, 0.0].view()) else {
            panic!("a Gaussian")
        };
        assert_eq!((mean, log_std), (Array1::zeros(d), Array1::from_elem(d, -0.7)));
    }
}
