//! The chapter's wrappers around an estimator or an environment: the
//! surrogate estimator, the advantage normalisation and the observation
//! normalisation. Each must pass on what it does not change (the name, the
//! value function's fit) and do exactly what it says to what it does.

use ndarray::{Array1, array};
use pg_baselines::experiments::cartpole_value_baseline;
use pg_causality::RewardToGo;
use pg_core::env::CartPole;
use pg_core::policy::Categorical;
use pg_core::rng::{PgRng, seeded};
use pg_core::{Batch, Env, Policy, Step, StepWeights};
use pg_likelihood_ratio::{Estimator, weighted_score_gradient};
use pg_surrogate::Surrogate;
use pg_surrogate::normalize::{NormalizedAdvantages, NormalizedObservations};

/// Weights chosen by the test, in the batch's step order.
struct Given(Vec<f64>);

impl<P: Policy> Estimator<P> for Given {
    fn name(&self) -> String {
        "given weights".into()
    }

    fn weights(&self, _policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        let mut next = self.0.iter().cycle();
        Some(StepWeights::fill(batch, |_, _, w| {
            w.iter_mut().for_each(|x| *x = *next.next().expect("cycled"))
        }))
    }
}

fn cartpole_batch() -> (Categorical, Batch<usize>) {
    let policy = Categorical::mlp(4, &[8], 2, &mut seeded(1));
    let batch = Batch::sample(&mut CartPole::new(), &policy, 3, &mut seeded(2));
    (policy, batch)
}

#[test]
fn the_surrogate_estimator_has_its_inner_estimators_name_weights_and_gradient() {
    let (policy, batch) = cartpole_batch();
    let inner = RewardToGo::new();
    let wrapped = Surrogate(RewardToGo::new());
    assert_eq!(Estimator::<Categorical>::name(&wrapped), Estimator::<Categorical>::name(&inner));
    let w = inner.weights(&policy, &batch).unwrap();
    assert_eq!(wrapped.weights(&policy, &batch).unwrap().flat(), w.flat());
    let per_step = weighted_score_gradient(&policy, &batch, &w);
    let one_pass = wrapped.gradient(&policy, &batch);
    let gap = (&one_pass - &per_step).iter().fold(0.0_f64, |m, d| m.max(d.abs()));
    assert!(gap < 1e-10 * per_step.iter().fold(0.0_f64, |m, d| m.max(d.abs())), "{gap}");
}

/// Both estimator wrappers hand the batch to the value function they wrap.
#[test]
fn the_estimator_wrappers_let_the_value_function_learn_from_the_batch() {
    let (policy, batch) = cartpole_batch();
    let before = cartpole_value_baseline(None).unwrap();
    let mut fitted = before.clone();
    fitted.fit(&policy, &batch).unwrap();
    assert_ne!(before.value().params(), fitted.value().params(), "the fit must move V for this test");

    let mut surrogate = Surrogate(before.clone());
    surrogate.fit(&policy, &batch).unwrap();
    assert_eq!(surrogate.0.value().params(), fitted.value().params());
    let mut normalized = NormalizedAdvantages(before);
    normalized.fit(&policy, &batch).unwrap();
    assert_eq!(normalized.0.value().params(), fitted.value().params());
}

#[test]
fn normalised_advantages_have_mean_zero_and_standard_deviation_just_below_one() {
    let (policy, batch) = cartpole_batch();
    let raw = [3.0, -1.0, 0.5, 7.0, 2.0];
    let normalized = NormalizedAdvantages(Given(raw.to_vec()));
    assert_eq!(Estimator::<Categorical>::name(&normalized), "given weights, advantages normalised");
    let w = normalized.weights(&policy, &batch).unwrap();
    let m = w.flat().len() as f64;
    let mean = w.flat().iter().sum::<f64>() / m;
    let sd = (w.flat().iter().map(|x| (x - mean).powi(2)).sum::<f64>() / m).sqrt();
    assert!(mean.abs() < 1e-12, "{mean}");
    // sd is that of the raw weights over (that sd + 10⁻⁸): below 1 by about 10⁻⁸/sd.
    assert!(sd < 1.0 && sd > 1.0 - 1e-8, "{sd}");
    // Each normalised weight is its raw weight, shifted and scaled alike.
    let raw_flat = Given(raw.to_vec()).weights(&policy, &batch).unwrap();
    let (a, b) = (raw_flat.flat(), w.flat());
    let scale = (b[1] - b[0]) / (a[1] - a[0]);
    for k in 0..a.len() {
        assert!((b[k] - b[0] - scale * (a[k] - a[0])).abs() < 1e-12, "step {k}");
    }
}

#[test]
fn the_guard_keeps_nearly_equal_advantages_finite_and_below_one() {
    // Two values 2·10⁻⁸ apart: their standard deviation is 10⁻⁸, the size of
    // the guard, and the normalised weights are ±1/2, not ±∞.
    let (policy, batch) = cartpole_batch();
    let w = NormalizedAdvantages(Given(vec![1.0, 1.0 + 2e-8])).weights(&policy, &batch).unwrap();
    for x in w.flat() {
        assert!(x.is_finite() && x.abs() < 0.6 && x.abs() > 0.4, "{x}");
    }
    // Equal weights: nothing to standardise, all zero.
    let w = NormalizedAdvantages(Given(vec![5.0])).weights(&policy, &batch).unwrap();
    assert!(w.flat().iter().all(|x| *x == 0.0), "{:?}", w.flat());
}

/// An environment whose observations the test chooses.
struct Scripted(Vec<Array1<f64>>, usize);

impl Env for Scripted {
    type Action = usize;

    fn name(&self) -> &'static str {
        "scripted"
    }

    fn obs_dim(&self) -> usize {
        2
    }

    fn reset(&mut self, _rng: &mut PgRng) -> Array1<f64> {
        self.1 = 1;
        self.0[0].clone()
    }

    fn step(&mut self, _action: &usize, _rng: &mut PgRng) -> Step {
        self.1 += 1;
        Step { obs: self.0[self.1 - 1].clone(), reward: 0.0, terminated: false, truncated: false }
    }
}

#[test]
fn observation_statistics_are_the_running_mean_and_population_variance() {
    let seen = vec![array![1.0, 10.0], array![3.0, -2.0], array![8.0, 4.0], array![0.0, 0.0]];
    let mut env = NormalizedObservations::new(Scripted(seen.clone(), 0));
    let rng = &mut seeded(0);
    let mut shown = vec![env.reset(rng)];
    for _ in 1..seen.len() {
        shown.push(env.step(&0, rng).obs);
    }
    let n = seen.len() as f64;
    let mean: Array1<f64> = seen.iter().fold(Array1::zeros(2), |s, o| s + o) / n;
    let variance: Array1<f64> =
        seen.iter().fold(Array1::zeros(2), |s, o| s + (o - &mean).mapv(|d| d * d)) / n;
    for k in 0..2 {
        assert!((env.mean()[k] - mean[k]).abs() < 1e-12, "{} {}", env.mean(), mean);
        assert!((env.variance()[k] - variance[k]).abs() < 1e-12, "{} {}", env.variance(), variance);
    }
    // The last observation is shown standardised by the statistics that include it.
    let last = &seen[3];
    for k in 0..2 {
        let expected = (last[k] - mean[k]) / (variance[k] + 1e-8).sqrt();
        assert!((shown[3][k] - expected).abs() < 1e-12, "{} {expected}", shown[3][k]);
    }
}

#[test]
fn before_any_observation_the_variance_is_one_and_outliers_are_clipped_at_ten() {
    // One outlier among n observations is √(n − 1) standard deviations out,
    // counting itself: past 10 for n = 200.
    let mut seen = vec![array![0.0, 0.0]; 200];
    seen[0] = array![1.0, -1.0];
    seen.push(array![1e6, -1e6]);
    let mut env = NormalizedObservations::new(Scripted(seen.clone(), 0));
    assert_eq!(env.variance(), array![1.0, 1.0]);
    let rng = &mut seeded(0);
    env.reset(rng);
    let mut last = Array1::zeros(2);
    for _ in 1..seen.len() {
        last = env.step(&0, rng).obs;
    }
    assert_eq!(last, array![10.0, -10.0]);
}

#[test]
fn the_wrapped_environment_keeps_its_name_size_and_goal() {
    let plain = CartPole::new();
    let env = NormalizedObservations::new(CartPole::new());
    assert_eq!(
        (env.name(), env.obs_dim(), env.solved_threshold()),
        (plain.name(), plain.obs_dim(), plain.solved_threshold())
    );
    assert!(plain.solved_threshold().is_some_and(|t| t > 1.0));
}
