//! Chapter 7's checks: the vectorised code computes exactly what the
//! one-episode-at-a-time code of chapters 1–4 computes, and a run gives the
//! same bits whatever the number of threads.

use ndarray::{Array1, Array2};
use pg_causality::RewardToGo;
use pg_core::env::CartPole;
use pg_core::policy::{Categorical, MlpBatch};
use pg_core::{Batch, Env, Policy, StepWeights, seeded};
use pg_kl_constraint::experiments::{Algo, Setup};
use pg_likelihood_ratio::{Estimator, Reinforce};
use pg_speed::experiments::train_cartpole_lockstep;
use pg_speed::{CartPoles, Quota, Sampler, VecConfig, Weighting, train, with_threads};
use pg_surrogate::normalize::NormalizedAdvantages;
use proptest::prelude::*;

/// ‖a − b‖ / ‖b‖.
fn rel_diff(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    (a - b).dot(&(a - b)).sqrt() / b.dot(b).sqrt()
}

fn policy(hidden: &[usize], seed: u64) -> Categorical {
    Categorical::mlp(4, hidden, 2, &mut seeded(seed))
}

/// Every group's trajectories, in group order: the batch the per-step code sees.
fn batch_of(sampler: &Sampler) -> Batch<usize> {
    sampler.batch()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// The struct of arrays steps every environment exactly as `CartPole`
    /// does: same reset draws, same states, same observations and flags, bit for bit.
    #[test]
    fn cartpoles_match_cartpole_bit_for_bit(seed in 0u64..1000, actions in prop::collection::vec(0usize..2, 600)) {
        let (mut a, mut b) = (seeded(seed), seeded(seed));
        let mut single = CartPole::new();
        let mut many = CartPoles::new(3);
        let mut obs = [0.0; 4];
        let first = single.reset(&mut a);
        many.reset(1, &mut b);
        many.observe(1, &mut obs);
        prop_assert_eq!(first.to_vec(), obs.to_vec());
        for &action in &actions {
            let s = single.step(&action, &mut a);
            let (reward, end) = many.step(1, action);
            many.observe(1, &mut obs);
            prop_assert_eq!(single.state(), many.state(1));
            prop_assert_eq!(s.obs.to_vec(), obs.to_vec());
            prop_assert_eq!((s.reward, s.terminated, s.truncated), (reward, end.terminated, end.truncated));
            if s.terminated || s.truncated {
                let first = single.reset(&mut a);
                many.reset(1, &mut b);
                many.observe(1, &mut obs);
                prop_assert_eq!(first.to_vec(), obs.to_vec());
            }
        }
    }

    /// Forward passes appended a few rows at a time (as the rollout runs
    /// them, after a larger batch has left its buffers behind), by matrix
    /// products or row by row with the transposed weights, give chapter 4's
    /// one-pass activations, and the same gradient from the backward pass.
    #[test]
    fn appended_passes_match_one_pass(seed in 0u64..1000, rows in 1usize..40, piece in 1usize..9) {
        let p = policy(&[16, 8], seed);
        let params = p.params().as_slice().unwrap();
        let x = Array2::from_shape_fn((rows, 4), |(i, j)| ((i * 4 + j) as f64 * 0.37 + seed as f64).sin());
        let mut whole = MlpBatch::default();
        p.net().forward_batch(params, x.view(), &mut whole);
        let grad_out = Array2::from_shape_fn((rows, 2), |(i, j)| (i as f64 - 2.0 * j as f64).cos());
        let mut expected = vec![0.0; params.len()];
        p.net().backward_batch(params, &mut whole, grad_out.view(), &mut expected);
        let mut transposed = vec![];
        p.net().transpose_weights(params, &mut transposed);
        for few in [false, true] {
            let mut appended = MlpBatch::default();
            p.net().forward_batch(params, Array2::<f64>::ones((60, 4)).view(), &mut appended);
            appended.clear();
            for start in (0..rows).step_by(piece) {
                let part = x.slice(ndarray::s![start..(start + piece).min(rows), ..]);
                if few {
                    p.net().forward_append_few(&transposed, part, &mut appended);
                } else {
                    p.net().forward_append(params, part, &mut appended);
                }
            }
            prop_assert_eq!(appended.rows(), rows);
            prop_assert_eq!(appended.input(), whole.input());
            let worst = (&appended.output() - &whole.output()).fold(0.0f64, |m, d| m.max(d.abs()));
            prop_assert!(worst <= 1e-14, "row by row {}: largest difference {:e}", few, worst);
            let mut grad = vec![0.0; params.len()];
            p.net().backward_batch(params, &mut appended, grad_out.view(), &mut grad);
            let worst = grad.iter().zip(&expected).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            prop_assert!(worst <= 1e-13, "row by row {}: largest gradient difference {:e}", few, worst);
        }
    }
}

#[test]
fn quotas_are_met_with_whole_episodes() {
    let p = policy(&[8], 3);
    let mut sampler = Sampler::new(3, 4, Quota::Episodes(10), 7).unwrap();
    sampler.sample(&p);
    assert_eq!(sampler.num_episodes(), 10);
    let shares: Vec<usize> = sampler.groups().iter().map(|g| g.episodes().len()).collect();
    assert_eq!(shares, [4, 3, 3]);
    let mut sampler = Sampler::new(3, 4, Quota::Steps(1000), 7).unwrap();
    sampler.sample(&p);
    for (j, g) in sampler.groups().iter().enumerate() {
        let Quota::Steps(share) = Quota::Steps(1000).share(j, 3) else { unreachable!() };
        assert!(g.num_steps() >= share, "group {j}: {} steps for a share of {share}", g.num_steps());
        let trajectories = g.trajectories();
        assert!(trajectories.iter().all(|t| t.is_done()), "every episode is whole");
        assert_eq!(trajectories.iter().map(|t| t.len()).sum::<usize>(), g.num_steps());
    }
}

/// The log-probabilities recorded by the batched pass are the policy's own.
#[test]
fn recorded_log_probs_are_the_policys() {
    let p = policy(&[32], 5);
    let mut sampler = Sampler::new(2, 8, Quota::Steps(3000), 1).unwrap();
    sampler.sample(&p);
    let mut worst: f64 = 0.0;
    for t in batch_of(&sampler).trajectories {
        for ((o, a), lp) in t.steps().zip(&t.log_probs) {
            worst = worst.max((p.log_prob(o, a) - lp).abs());
        }
    }
    assert!(worst < 1e-14, "largest difference {worst:e}");
}

/// The vectorised gradient equals chapter 1's per-step estimator (N × T
/// backward passes) on the same episodes, for both weightings, with and
/// without normalisation. The same comparison rejects subtly broken
/// weights: a 10% scale error, a wrong discount, the reward-to-go one step
/// late, REINFORCE's weights in place of the reward-to-go.
#[test]
fn gradient_equals_the_per_step_estimator_and_rejects_broken_ones() {
    let p = policy(&[32], 2);
    let mut sampler = Sampler::new(3, 5, Quota::Steps(2000), 4).unwrap();
    sampler.sample(&p);
    let batch = batch_of(&sampler);
    let cases: [(Weighting, bool, Box<dyn Estimator<Categorical>>); 4] = [
        (Weighting::RewardToGo(1.0), false, Box::new(RewardToGo::new())),
        (Weighting::RewardToGo(0.9), false, Box::new(RewardToGo::discounted(0.9).unwrap())),
        (Weighting::Return, false, Box::new(Reinforce)),
        (
            Weighting::RewardToGo(0.97),
            true,
            Box::new(NormalizedAdvantages(RewardToGo::discounted(0.97).unwrap())),
        ),
    ];
    for (weighting, normalize, reference) in cases {
        let (_, ours) = sampler.gradient(&p, weighting, normalize);
        let expected = reference.gradient(&p, &batch);
        let err = rel_diff(&ours, &expected);
        assert!(err < 1e-12, "{weighting:?}, normalised {normalize}: relative difference {err:e}");
    }
    // Sampling, weighing and the gradient fused into one task per group.
    let mut fused = Sampler::new(3, 5, Quota::Steps(2000), 4).unwrap();
    let (_, ours) = fused.sample_gradient(&p, Weighting::RewardToGo(0.9), false);
    assert_eq!(batch_of(&fused), batch, "the same seed samples the same batch");
    let err = rel_diff(&ours, &RewardToGo::discounted(0.9).unwrap().gradient(&p, &batch));
    assert!(err < 1e-12, "fused: relative difference {err:e}");
    let reference = RewardToGo::new();
    let expected = reference.gradient(&p, &batch);
    let rtg = reference.weights(&p, &batch).unwrap();
    let late = StepWeights::fill(&batch, |i, _, out| {
        for (t, w) in out.iter_mut().enumerate() {
            *w = rtg.trajectory(i).get(t + 1).copied().unwrap_or(0.0);
        }
    });
    let broken = [
        ("10% scale", Estimator::<Categorical>::gradient(&RewardToGo::new(), &p, &batch) * 1.1),
        ("γ = 0.99", RewardToGo::discounted(0.99).unwrap().gradient(&p, &batch)),
        ("reward-to-go one step late", pg_likelihood_ratio::weighted_score_gradient(&p, &batch, &late)),
        ("whole return", Reinforce.gradient(&p, &batch)),
    ];
    let (_, ours) = sampler.gradient(&p, Weighting::RewardToGo(1.0), false);
    assert!(rel_diff(&ours, &expected) < 1e-12);
    for (what, g) in broken {
        let err = rel_diff(&g, &expected);
        assert!(err > 1e-3, "{what}: relative difference {err:e} would pass");
    }
}

// ANCHOR: threads
fn short_run(seed: u64, threads: usize) -> (Array1<f64>, Vec<(usize, f64)>) {
    let mut p = policy(&[32], seed);
    let config = VecConfig { groups: 4, envs: 4, iters: 6, seed, ..VecConfig::reward_to_go(2000) };
    let log = with_threads(threads, || train(&mut p, &config, |_| {})).unwrap().unwrap();
    (p.params().clone(), log.episodes.iter().map(|e| (e.env_steps, e.ret)).collect())
}

/// A run gives the same bits on 1, 2 or 3 threads; another seed gives another run.
#[test]
fn results_do_not_depend_on_the_thread_count() {
    let one = short_run(11, 1);
    for threads in [2, 3] {
        let many = short_run(11, threads);
        assert_eq!(one.0.to_vec(), many.0.to_vec(), "parameters after 6 iterations on {threads} threads");
        assert_eq!(one.1, many.1, "episodes on {threads} threads");
    }
    assert_ne!(one.0.to_vec(), short_run(12, 1).0.to_vec());
}
// ANCHOR_END: threads

/// Chapter 6's TRPO fed by the lockstep sampler: the same episodes and the
/// same KL per update on one thread and on two.
#[test]
fn trpo_with_the_lockstep_sampler_does_not_depend_on_the_thread_count() {
    let setup = Setup { max_env_steps: 3_000, ..Setup::cartpole() };
    let run = |threads: usize| {
        let log = with_threads(threads, || train_cartpole_lockstep(Algo::Trpo, 3, &setup)).unwrap().unwrap();
        let episodes: Vec<(usize, f64)> = log.episodes.iter().map(|e| (e.env_steps, e.ret)).collect();
        let kls: Vec<u64> = log.iterations.iter().map(|s| s.update.get("kl").unwrap().to_bits()).collect();
        (episodes, kls)
    };
    let one = run(1);
    assert!(one.0.len() > 8 && !one.1.is_empty());
    assert_eq!(one, run(2));
}

#[test]
fn bad_settings_are_refused_by_name() {
    let base = VecConfig::reward_to_go(1000);
    let cases = [
        (VecConfig { groups: 0, ..base.clone() }, "groups"),
        (VecConfig { envs: 0, ..base.clone() }, "envs"),
        (VecConfig { batch: Quota::Steps(0), ..base.clone() }, "batch"),
        (VecConfig { batch: Quota::Steps(1), groups: 2, ..base.clone() }, "batch"),
        (VecConfig { lr: -0.01, ..base.clone() }, "lr"),
        (VecConfig { lr: f64::NAN, ..base.clone() }, "lr"),
        (VecConfig { weighting: Weighting::RewardToGo(1.5), ..base.clone() }, "gamma"),
        (VecConfig { iters: 0, ..base.clone() }, "iters"),
    ];
    for (config, name) in cases {
        let msg = config.validate().unwrap_err().to_string();
        assert!(msg.contains(name) && msg.contains("allowed"), "{msg}");
    }
    let msg = with_threads(0, || ()).unwrap_err().to_string();
    assert!(msg.contains("threads") && msg.contains('0'), "{msg}");
}

#[test]
fn training_with_a_huge_step_size_stops_with_an_error_not_a_panic() {
    let mut p = policy(&[32], 0);
    let config = VecConfig { lr: f64::MAX, iters: 50, ..VecConfig::reward_to_go(500) };
    let err = train(&mut p, &config, |_| {}).unwrap_err().to_string();
    assert!(err.contains("NaN or infinite"), "{err}");
}

/// A pole held up by a fixed linear controller lasts to the time limit: both
/// implementations cut the episode after exactly 500 steps, as a truncation.
#[test]
fn a_balanced_pole_is_cut_at_the_time_limit_by_both() {
    let (mut a, mut b) = (seeded(3), seeded(3));
    let mut single = CartPole::new();
    let mut many = CartPoles::new(2);
    assert_eq!((many.len(), many.is_empty(), CartPoles::new(0).is_empty()), (2, false, true));
    single.reset(&mut a);
    many.reset(0, &mut b);
    let hold = |[x, x_dot, theta, theta_dot]: [f64; 4]| {
        usize::from(10.0 * theta + 2.0 * theta_dot + 0.1 * x + 0.5 * x_dot > 0.0)
    };
    for t in 1..=pg_core::env::CARTPOLE_MAX_STEPS {
        let action = hold(single.state());
        let s = single.step(&action, &mut a);
        let (_, end) = many.step(0, action);
        assert_eq!((s.terminated, s.truncated), (end.terminated, end.truncated), "step {t}");
        assert!(!s.terminated, "the controller dropped the pole at step {t}");
        assert_eq!(s.truncated, t == pg_core::env::CARTPOLE_MAX_STEPS, "step {t}");
    }
}

/// Every step the lockstep sampler records is a CartPole transition: the
/// next observation is the dynamics applied to this one and its action (to
/// the f32 rounding of the observations), in whichever row the step ran.
#[test]
fn every_recorded_step_of_the_lockstep_sampler_follows_the_dynamics() {
    let p = policy(&[8], 6);
    let mut sampler = Sampler::new(2, 6, Quota::Steps(1500), 9).unwrap();
    sampler.sample(&p);
    let mut worst: f64 = 0.0;
    for t in batch_of(&sampler).trajectories {
        for (k, (o, a)) in t.steps().enumerate() {
            let next = CartPole::dynamics([o[0], o[1], o[2], o[3]], *a);
            for (n, m) in next.iter().zip(t.obs[k + 1].iter()) {
                worst = worst.max((n - m).abs());
            }
        }
    }
    assert!(worst < 1e-5, "largest gap to the dynamics {worst:e}");
    for g in sampler.groups() {
        let recorded: f64 = g.log_probs().iter().sum();
        let by_episode: f64 = g.trajectories().iter().flat_map(|t| t.log_probs.clone()).sum();
        assert_eq!(g.log_probs().len(), g.num_steps());
        assert!((recorded - by_episode).abs() < 1e-9, "{recorded} {by_episode}");
    }
}

/// The surrogate is (1/N) Σ: passing N = 3 trajectories gives a
/// third of what N = 1 gives, loss and gradient alike.
#[test]
fn the_lockstep_surrogate_divides_by_the_number_of_trajectories_it_is_given() {
    let p = policy(&[8], 2);
    let mut sampler = Sampler::new(1, 4, Quota::Steps(400), 5).unwrap();
    sampler.sample(&p);
    let mut group = sampler.groups()[0].clone();
    group.weigh(Weighting::RewardToGo(1.0));
    let (mut one, mut three) = (Array1::zeros(p.num_params()), Array1::zeros(p.num_params()));
    let loss_one = group.add_surrogate_gradient(&p, 1, &mut one);
    let loss_three = group.add_surrogate_gradient(&p, 3, &mut three);
    assert!((loss_one / 3.0 - loss_three).abs() < 1e-12 * loss_one.abs(), "{loss_one} {loss_three}");
    // The loss is −Σₘ wₘ log π(aₘ|sₘ) / N.
    let expected: f64 = -group.weights().iter().zip(group.log_probs()).map(|(w, lp)| w * lp).sum::<f64>();
    assert!((loss_one - expected).abs() < 1e-12 * expected.abs(), "{loss_one} {expected}");
    assert!(rel_diff(&(one / 3.0), &three) < 1e-12);
}
