//! The updates themselves: NPG's step has quadratic KL δ; every step TRPO
//! accepts over a training run keeps the measured KL within δ without
//! lowering the surrogate; PPO's objectives start at the policy gradient.

use ndarray::Array1;
use pg_core::StepWeights;
use pg_core::env::CartPole;
use pg_core::policy::{Categorical, MlpBatch, Policy};
use pg_core::rng::substream;
use pg_core::{Batch, seeded};
use pg_kl_constraint::experiments::{Algo, Setup, train_cartpole};
use pg_kl_constraint::natural::{NaturalGradient, natural_step};
use pg_kl_constraint::ppo::clipped_objective;
use pg_kl_constraint::{Fisher, Samples, advantages, kl_and_surrogate, mean_kl, ratio_surrogate};
use pg_likelihood_ratio::{Estimator, Update};

/// A CartPole batch of 8 episodes from a fresh policy, with chapter 6's advantages.
fn cartpole_samples(seed: u64) -> (Categorical, Batch<usize>, Samples<usize>) {
    let setup = Setup::cartpole();
    let policy = Categorical::mlp(4, &setup.hidden, 2, &mut substream(seed, 1_000));
    let batch = Batch::sample(&mut CartPole::new(), &policy, 8, &mut seeded(seed));
    let adv = advantages(&setup.advantages(4, seed).unwrap(), &policy, &batch).unwrap();
    let samples = Samples::new(&policy, &batch, &adv);
    (policy, batch, samples)
}

#[test]
fn the_line_search_measures_what_the_separate_functions_measure() {
    let (mut policy, _, samples) = cartpole_samples(1);
    let moved = policy.params().mapv(|p| p * 1.3 + 0.01);
    policy.params_mut().assign(&moved);
    let work = &mut MlpBatch::default();
    let (kl, surrogate) = kl_and_surrogate(&policy, &samples, work);
    assert!((kl - mean_kl(&policy, &samples, work, None)).abs() < 1e-14);
    assert!((surrogate - ratio_surrogate(&policy, &samples, work, None)).abs() < 1e-14);
}

/// κ is chosen so that ½ (κx)ᵀ(F + ηI)(κx) = δ; as δ shrinks, the KL the
/// step actually causes approaches its quadratic estimate ½ (κx)ᵀF(κx).
#[test]
fn the_natural_step_has_quadratic_kl_delta() {
    let (policy, _, samples) = cartpole_samples(2);
    let work = &mut MlpBatch::default();
    let mut g = Array1::zeros(policy.num_params());
    ratio_surrogate(&policy, &samples, work, Some(&mut g));
    let mut gaps = vec![];
    for delta in [1e-2, 1e-4, 1e-6] {
        let step = natural_step(&policy, &samples, &g, delta, 10, 0.1);
        assert!((step.quadratic_kl - delta).abs() < 1e-12 * delta, "{} vs {delta}", step.quadratic_kl);
        let quadratic = 0.5 * step.direction.dot(&Fisher::new(&policy, &samples, 0.0).apply(&step.direction));
        let mut moved = policy.clone();
        *moved.params_mut() += &step.direction;
        gaps.push((mean_kl(&moved, &samples, work, None) / quadratic - 1.0).abs());
    }
    // The gap is the cubic term's share, which shrinks like √δ.
    assert!(gaps[2] < 0.01 && gaps[2] < gaps[1] && gaps[1] < gaps[0], "{gaps:?}");
}

// ANCHOR: trpo_run
/// Over a whole CartPole run, every accepted TRPO step has measured KL ≤ δ
/// and a surrogate that did not decrease; a rejected one leaves θ as it was.
#[test]
fn every_accepted_trpo_step_keeps_kl_within_delta_and_improves() {
    let setup = Setup { max_env_steps: 60_000, ..Setup::cartpole() };
    let log = train_cartpole(Algo::Trpo, 0, &setup).unwrap();
    assert!(log.iterations.len() >= 20, "{} iterations", log.iterations.len());
    let mut accepted = 0;
    for s in &log.iterations {
        let (kl, improvement, fraction) = (
            s.update.get("kl").unwrap(),
            s.update.get("improvement").unwrap(),
            s.update.get("step_fraction").unwrap(),
        );
        if fraction > 0.0 {
            accepted += 1;
            assert!(kl <= setup.delta && improvement >= 0.0, "iteration {}: {:?}", s.iter, s.update);
        } else {
            assert_eq!((kl, improvement), (0.0, 0.0), "a rejected step moved θ: {:?}", s.update);
        }
    }
    assert!(accepted * 10 >= log.iterations.len() * 9, "{accepted} of {} accepted", log.iterations.len());
}
// ANCHOR_END: trpo_run

/// An estimator whose advantages are all zero: nothing to improve.
#[derive(Clone)]
struct NoAdvantage;

impl Estimator<Categorical> for NoAdvantage {
    fn name(&self) -> String {
        "zero advantages".into()
    }

    fn weights(&self, _: &Categorical, batch: &Batch<usize>) -> Option<StepWeights> {
        Some(StepWeights::per_trajectory(batch, |_, _| 0.0))
    }
}

/// A rejected step: when no step can improve the surrogate, TRPO keeps
/// θ_old exactly and reports a zero step.
#[test]
fn trpo_keeps_the_old_policy_when_no_step_is_acceptable() {
    let (mut policy, batch, _) = cartpole_samples(3);
    let before = policy.params().clone();
    let mut trpo = NaturalGradient::trpo(NoAdvantage, 0.01).unwrap();
    let stats = trpo.update(&mut policy, &batch, 0).unwrap();
    assert_eq!(stats.get("step_fraction"), Some(0.0));
    assert_eq!(policy.params(), &before);
}

/// At θ_old every ratio is 1: the clipped objective, the ratio surrogate and
/// their gradients coincide (the clip only acts once the policy has moved).
#[test]
fn ppo_starts_at_the_policy_gradient() {
    let (policy, _, samples) = cartpole_samples(4);
    let work = &mut MlpBatch::default();
    let (mut g_clip, mut g_ratio) = (Array1::zeros(policy.num_params()), Array1::zeros(policy.num_params()));
    let clipped = clipped_objective(&policy, &samples, 0.2, work, Some(&mut g_clip));
    let plain = ratio_surrogate(&policy, &samples, work, Some(&mut g_ratio));
    assert_eq!(clipped, plain);
    assert_eq!(g_clip, g_ratio);
}
