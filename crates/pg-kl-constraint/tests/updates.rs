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
    let adv = advantages(&setup.advantages(4, seed).unwrap(), &policy, &batch, 0).unwrap();
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

/// The KL every update reports and constrains is KL(π_old ‖ π_new), the
/// direction of the trust region: `mean_kl` against `Dist::kl` (checked
/// against closed forms in pg-core) at the states of a batch, for a softmax
/// and for a Gaussian. The two directions agree to second order at
/// θ = θ_old, so the policies here are far apart.
#[test]
fn the_mean_kl_is_from_the_old_policy_to_the_new_one() {
    use pg_core::env::Pendulum;
    use pg_core::policy::Gaussian;
    fn check<P: pg_kl_constraint::Head>(old: &P, new: &P, batch: &Batch<P::Action>) {
        let samples = Samples::new(old, batch, &StepWeights::per_trajectory(batch, |_, _| 0.0));
        let reported = mean_kl(new, &samples, &mut MlpBatch::default(), None);
        let (mut forward, mut backward, mut count) = (0.0, 0.0, 0.0);
        for t in &batch.trajectories {
            for (obs, _) in t.steps() {
                forward += old.dist(obs).kl(&new.dist(obs));
                backward += new.dist(obs).kl(&old.dist(obs));
                count += 1.0;
            }
        }
        let (forward, backward) = (forward / count, backward / count);
        assert!((reported - forward).abs() < 1e-10 * forward, "{reported} against KL(old ‖ new) {forward}");
        assert!((forward - backward).abs() > 1e-3 * forward, "the directions must differ here");
    }
    let old = Categorical::mlp(4, &[8], 2, &mut seeded(5));
    let mut new = old.clone();
    new.params_mut().iter_mut().enumerate().for_each(|(i, p)| *p += 0.8 * (i as f64 * 1.7).sin());
    let batch = Batch::sample(&mut CartPole::new(), &old, 3, &mut seeded(6));
    check(&old, &new, &batch);
    let old = Gaussian::mlp(3, &[8], 1, -0.5, &mut seeded(7));
    let mut new = old.clone();
    new.params_mut().iter_mut().enumerate().for_each(|(i, p)| *p += 0.5 * (i as f64 * 0.9).cos());
    let batch = Batch::sample(&mut Pendulum::new(), &old, 1, &mut seeded(8));
    check(&old, &new, &batch);
}

/// The damping is part of the solve and of the step's length: Fisher with
/// η is Fisher without it plus ηv, and the natural step spends exactly δ of
/// ½Δᵀ(F + ηI)Δ, of which ½η‖Δ‖² is the damping's share (what TRPO reports).
#[test]
fn the_damping_enters_the_fisher_product_and_the_steps_length() {
    let (policy, batch, samples) = cartpole_samples(5);
    let work = &mut MlpBatch::default();
    let mut g = Array1::zeros(policy.num_params());
    ratio_surrogate(&policy, &samples, work, Some(&mut g));
    let (eta, delta) = (0.1, 0.01);
    let v = g.mapv(|x| x.sin());
    let plain = Fisher::new(&policy, &samples, 0.0).apply(&v);
    let damped = Fisher::new(&policy, &samples, eta).apply(&v);
    let diff = &damped - &(&plain + &(&v * eta));
    assert!(diff.iter().all(|d| d.abs() < 1e-12), "{diff:?}");
    let step = natural_step(&policy, &samples, &g, delta, 10, eta);
    let d = &step.direction;
    let quadratic = 0.5 * d.dot(&Fisher::new(&policy, &samples, 0.0).apply(d)) + 0.5 * eta * d.dot(d);
    assert!((quadratic - delta).abs() < 1e-10 * delta, "{quadratic} against δ = {delta}");
    let mut trpo =
        NaturalGradient::trpo(pg_causality::RewardToGo::new(), delta).unwrap().with_fisher_every(1).unwrap();
    let mut moved = policy.clone();
    let stats = trpo.update(&mut moved, &batch, 0).unwrap();
    let share = stats.get("damping_share").unwrap();
    let (all, g_all) = samples_and_g(&policy, &batch);
    let full = natural_step(&policy, &all, &g_all, delta, 10, eta);
    let expected = 0.5 * eta * full.direction.dot(&full.direction) / delta;
    assert!(
        (share - expected).abs() < 1e-10 * expected && share > 0.0 && share < 1.0,
        "{share} against {expected}"
    );
    assert_eq!(stats.get("fisher_states"), Some(samples.len() as f64));
}

/// The batch's samples with reward-to-go advantages, and the surrogate's
/// gradient g at the policy that drew them.
fn samples_and_g(policy: &Categorical, batch: &Batch<usize>) -> (Samples<usize>, Array1<f64>) {
    let adv = advantages(&pg_causality::RewardToGo::new(), policy, batch, 0).unwrap();
    let samples = Samples::new(policy, batch, &adv);
    let mut g = Array1::zeros(policy.num_params());
    ratio_surrogate(policy, &samples, &mut MlpBatch::default(), Some(&mut g));
    (samples, g)
}

/// A rejected step with a gradient that is not zero: TRPO's full step is
/// tried alone (no halvings) with the damping nearly removed. F, from a few
/// states, is singular, so the solve runs along directions it cannot see
/// and the measured KL overshoots δ. When the step fails, θ must be θ_old
/// again, bit for bit.
#[test]
fn trpo_restores_the_old_policy_after_rejecting_a_real_step() {
    let mut rejected = 0;
    for seed in 0..6 {
        for delta in [0.03, 0.1, 0.3, 1.0] {
            let (policy, batch, _) = cartpole_samples(seed);
            let (samples, g) = samples_and_g(&policy, &batch);
            assert!(g.iter().any(|x| x.abs() > 1e-6));
            let mut trpo = NaturalGradient::trpo(pg_causality::RewardToGo::new(), delta).unwrap();
            trpo.line_search = Some(0);
            trpo.damping = 1e-6;
            let mut moved = policy.clone();
            let stats = trpo.update(&mut moved, &batch, 0).unwrap();
            if stats.get("step_fraction") == Some(0.0) {
                rejected += 1;
                assert_eq!(moved.params(), policy.params(), "seed {seed}, δ = {delta}");
                // The cause: the full step's measured KL overshoots δ.
                let every: Vec<usize> = (0..samples.len()).step_by(trpo.fisher_every).collect();
                let step =
                    natural_step(&policy, &samples.select(&every), &g, delta, trpo.cg_iters, trpo.damping);
                let mut full = policy.clone();
                *full.params_mut() += &step.direction;
                let kl = mean_kl(&full, &samples, &mut MlpBatch::default(), None);
                assert!(kl > delta, "seed {seed}, δ = {delta}: a rejected step with KL {kl}");
            } else {
                assert_ne!(moved.params(), policy.params(), "seed {seed}, δ = {delta}");
            }
        }
    }
    assert!(rejected >= 3, "only {rejected} rejected steps: the test needs some");
}

/// The adaptive penalty's rule: β doubles after an update whose KL exceeded
/// 1.5 × target, halves after one below target / 1.5, and stays otherwise.
#[test]
fn the_kl_penalty_doubles_or_halves_beta_by_the_measured_kl() {
    let (policy, batch, _) = cartpole_samples(6);
    let kl_of = |target: f64, lr: f64| -> (f64, f64) {
        let mut ppo =
            pg_kl_constraint::ppo::Ppo::kl_penalty(pg_causality::RewardToGo::new(), target, 2, 64, lr, 0)
                .unwrap();
        let mut moved = policy.clone();
        let stats = ppo.update(&mut moved, &batch, 0).unwrap();
        (stats.get("kl").unwrap(), stats.get("beta").unwrap())
    };
    // The update does not depend on the target (β starts at 1): measure its KL
    // once. On the edges, KL = 1.5 × target and KL = target / 1.5, β stays;
    // in floating point 1.5 × t misses some numbers, so the step size is
    // chosen to give a KL that both edges reach exactly.
    let (lr, kl, upper, lower) = [0.01, 0.011, 0.012, 0.013, 0.014]
        .into_iter()
        .find_map(|lr| {
            let (kl, _) = kl_of(1.0, lr);
            Some((lr, kl, edge(kl, |t| 1.5 * t)?, edge(kl, |t| t / 1.5)?))
        })
        .expect("a KL on both edges");
    assert!(kl > 0.0);
    assert_eq!(kl_of(kl / 2.0, lr), (kl, 2.0), "KL above 1.5 × target");
    assert_eq!(kl_of(kl * 2.0, lr), (kl, 0.5), "KL below target / 1.5");
    assert_eq!(kl_of(kl, lr), (kl, 1.0), "KL near the target");
    assert_eq!(kl_of(upper, lr), (kl, 1.0), "KL = 1.5 × {upper}");
    assert_eq!(kl_of(lower, lr), (kl, 1.0), "KL = {lower} / 1.5");
}

/// A target t with `bound(t) == kl` in floating point, if one of the
/// neighbours of the real solution is.
fn edge(kl: f64, bound: impl Fn(f64) -> f64) -> Option<f64> {
    let guess = kl * kl / bound(kl);
    (-64i64..=64).map(|k| f64::from_bits((guess.to_bits() as i64 + k) as u64)).find(|t| bound(*t) == kl)
}

/// The names chapter 6's tables and `pg train`'s output print.
#[test]
fn the_names_are_what_the_tables_print() {
    use pg_kl_constraint::ppo::Ppo;
    let rtg = pg_causality::RewardToGo::new;
    let names = [
        Update::<Categorical>::name(&NaturalGradient::npg(rtg(), 0.01).unwrap()),
        Update::<Categorical>::name(&NaturalGradient::trpo(rtg(), 0.02).unwrap()),
        Update::<Categorical>::name(&Ppo::clip(rtg(), 0.2, 3, 64, 3e-4, 0).unwrap()),
        Update::<Categorical>::name(&Ppo::kl_penalty(rtg(), 0.01, 3, 64, 3e-4, 0).unwrap()),
    ];
    assert_eq!(
        names,
        ["NPG, δ = 0.01", "TRPO, δ = 0.02", "PPO, clip ε = 0.2", "PPO, adaptive KL penalty, target 0.01"]
    );
}

/// NPG takes its full step and reports what it bought: the ratio
/// surrogate after the step minus before, on the batch's own samples.
#[test]
fn npg_reports_the_surrogate_gain_of_its_step() {
    let (policy, batch, _) = cartpole_samples(8);
    let (samples, _) = samples_and_g(&policy, &batch);
    let mut npg = NaturalGradient::npg(pg_causality::RewardToGo::new(), 0.01).unwrap();
    let mut moved = policy.clone();
    let stats = npg.update(&mut moved, &batch, 0).unwrap();
    let work = &mut MlpBatch::default();
    let gain = ratio_surrogate(&moved, &samples, work, None) - ratio_surrogate(&policy, &samples, work, None);
    let reported = stats.get("improvement").unwrap();
    assert!(gain > 0.0 && (reported - gain).abs() < 1e-12 * gain, "{reported} against {gain}");
    assert_eq!(stats.get("step_fraction"), Some(1.0));
    assert!((stats.get("kl").unwrap() - mean_kl(&moved, &samples, work, None)).abs() < 1e-15);
}

/// A zero gradient gives a zero natural step, not ∞ · 0.
#[test]
fn a_zero_gradient_gives_a_zero_natural_step() {
    let (policy, _, samples) = cartpole_samples(9);
    let step = natural_step(&policy, &samples, &Array1::zeros(policy.num_params()), 0.01, 10, 0.1);
    assert!(step.direction.iter().all(|x| *x == 0.0), "{:?}", step.direction);
    assert_eq!((step.quadratic_kl, step.residual), (0.0, 0.0));
}

/// The clip range must lie strictly between 0 and 1; the error names the flag.
#[test]
fn ppo_refuses_a_clip_range_outside_zero_to_one() {
    use pg_kl_constraint::ppo::Ppo;
    for epsilon in [0.0, 1.0, -0.2, 1.5, f64::NAN, f64::INFINITY] {
        let err = Ppo::clip(pg_causality::RewardToGo::new(), epsilon, 3, 64, 3e-4, 0).unwrap_err();
        assert!(err.to_string().contains("clip"), "{err}");
    }
    for epsilon in [1e-6, 0.2, 0.999] {
        assert!(Ppo::clip(pg_causality::RewardToGo::new(), epsilon, 3, 64, 3e-4, 0).is_ok(), "{epsilon}");
    }
}

/// The clip fraction PPO reports: the share of steps whose ratio lies
/// outside [1 − ε, 1 + ε], counted here from the log-probabilities; none at
/// θ_old, where every ratio is 1.
#[test]
fn the_clip_fraction_counts_ratios_outside_the_range() {
    use pg_kl_constraint::Head;
    use pg_kl_constraint::ppo::clip_fraction;
    let (policy, _, samples) = cartpole_samples(11);
    let work = &mut MlpBatch::default();
    assert_eq!(clip_fraction(&policy, &samples, 0.2, work), 0.0);
    let mut moved = policy.clone();
    let n = moved.num_params();
    *moved.params_mut() += &Array1::from_shape_fn(n, |i| 0.1 * (i as f64).sin());
    let rows = moved.rows(samples.steps.obs.view(), work);
    let ratios: Vec<f64> = rows
        .rows()
        .into_iter()
        .zip(&samples.steps.actions)
        .zip(&samples.old_log_probs)
        .map(|((row, a), old)| (Categorical::log_prob_row(row, a, 0.0, None) - old).exp())
        .collect();
    // ε between two neighbouring |ρ − 1|, at a quarter, half and three quarters of the steps.
    let mut gaps: Vec<f64> = ratios.iter().map(|r| (r - 1.0).abs()).collect();
    gaps.sort_by(f64::total_cmp);
    for k in [gaps.len() / 4, gaps.len() / 2, 3 * gaps.len() / 4] {
        let epsilon = 0.5 * (gaps[k - 1] + gaps[k]);
        let outside = ratios.iter().filter(|r| (*r - 1.0).abs() > epsilon).count();
        assert!(gaps[k - 1] < gaps[k] && outside == gaps.len() - k, "ε = {epsilon}");
        let fraction = clip_fraction(&moved, &samples, epsilon, work);
        assert!((fraction - outside as f64 / ratios.len() as f64).abs() < 1e-15, "ε = {epsilon}: {fraction}");
        // A ratio exactly on the edge, |ρ − 1| = ε, is inside.
        let on_edge = clip_fraction(&moved, &samples, gaps[k], work);
        let beyond = gaps.iter().filter(|g| **g > gaps[k]).count();
        assert!((on_edge - beyond as f64 / ratios.len() as f64).abs() < 1e-15, "ε = {}: {on_edge}", gaps[k]);
    }
}

/// PPO's update on one of chapter 6's CartPole batches, with one minibatch
/// holding every step, against `epochs` Adam steps taken here, each along
/// `direction` at the current policy from advantages computed once at
/// θ_old; returns the largest difference of the two θ.
fn ppo_against_adam_steps(
    seed: u64,
    epochs: usize,
    lr: f64,
    make: impl FnOnce(usize) -> pg_kl_constraint::ppo::Ppo<pg_causality::RewardToGo>,
    mut direction: impl FnMut(&Categorical, &Samples<usize>, &mut MlpBatch) -> Array1<f64>,
) -> f64 {
    use pg_core::optim::{Adam, Optimizer};
    let (policy, batch, _) = cartpole_samples(seed);
    let (samples, _) = samples_and_g(&policy, &batch);
    let mut moved = policy.clone();
    make(samples.len()).update(&mut moved, &batch, 0).unwrap();
    assert!((moved.params() - policy.params()).iter().any(|d| d.abs() > 1e-4), "PPO moved");
    let mut expected = policy.clone();
    let mut adam = Adam::new(lr).unwrap();
    let work = &mut MlpBatch::default();
    for _ in 0..epochs {
        let g = direction(&expected, &samples, work);
        adam.ascend(expected.params_mut(), &g);
    }
    (moved.params() - expected.params()).iter().fold(0.0f64, |m, d| m.max(d.abs()))
}

fn clipped_gradient(
    policy: &Categorical,
    samples: &Samples<usize>,
    epsilon: f64,
    work: &mut MlpBatch,
) -> Array1<f64> {
    let mut g = Array1::zeros(policy.num_params());
    clipped_objective(policy, samples, epsilon, work, Some(&mut g));
    g
}

/// PPO's loop: each epoch is one Adam step along the clipped objective's
/// gradient at the current policy, from advantages computed once at θ_old.
#[test]
fn ppo_takes_one_adam_step_per_minibatch_along_the_clipped_gradient() {
    use pg_kl_constraint::ppo::Ppo;
    let (epsilon, epochs, lr) = (0.2, 3, 0.01);
    let make = |m| Ppo::clip(pg_causality::RewardToGo::new(), epsilon, epochs, m, lr, 0).unwrap();
    let gap = ppo_against_adam_steps(7, epochs, lr, make, |p, s, w| clipped_gradient(p, s, epsilon, w));
    assert!(gap < 1e-12, "largest difference {gap}");
}

/// `max_grad_norm` rescales a minibatch gradient longer than the bound to
/// exactly that length before Adam sees it, and leaves shorter ones alone.
#[test]
fn ppo_rescales_a_long_gradient_to_the_bound() {
    use pg_kl_constraint::ppo::Ppo;
    let (policy, batch, _) = cartpole_samples(10);
    let (_, g) = samples_and_g(&policy, &batch);
    let (epsilon, epochs, lr) = (0.2, 3, 0.01);
    let length = g.dot(&g).sqrt();
    for max in [length / 10.0, length * 10.0] {
        let make = |m| {
            let ppo = Ppo::clip(pg_causality::RewardToGo::new(), epsilon, epochs, m, lr, 0).unwrap();
            ppo.with_max_grad_norm(max).unwrap()
        };
        let gap = ppo_against_adam_steps(10, epochs, lr, make, |p, s, w| {
            let g = clipped_gradient(p, s, epsilon, w);
            let norm = g.dot(&g).sqrt();
            if norm > max { g * (max / norm) } else { g }
        });
        assert!(gap < 1e-12, "bound {max}: largest difference {gap}");
    }
}

/// The penalised objective's loop: each epoch is one Adam step along
/// ∇L − β ∇D̄ at the current policy (β = 1 in the first update). The KL
/// term's gradient is zero at θ_old, so the epochs after the first tell its
/// sign.
#[test]
fn the_kl_penalty_subtracts_beta_times_the_kl_gradient() {
    use pg_kl_constraint::ppo::Ppo;
    let (epochs, lr) = (4, 0.05);
    let make = |m| Ppo::kl_penalty(pg_causality::RewardToGo::new(), 0.01, epochs, m, lr, 0).unwrap();
    let mut penalty = 0.0f64;
    let gap = ppo_against_adam_steps(12, epochs, lr, make, |p, s, w| {
        let (mut g, mut kl_grad) = (Array1::zeros(p.num_params()), Array1::zeros(p.num_params()));
        ratio_surrogate(p, s, w, Some(&mut g));
        mean_kl(p, s, w, Some(&mut kl_grad));
        penalty = penalty.max(kl_grad.dot(&kl_grad).sqrt());
        g - kl_grad
    });
    assert!(gap < 1e-12, "largest difference {gap}");
    assert!(penalty > 1e-3, "the penalty must matter: ‖∇D̄‖ ≤ {penalty}");
}

/// An infinite reward makes the advantages NaN or infinite: every update
/// stops there, naming them and the iteration, before it moves the policy.
#[test]
fn non_finite_advantages_stop_every_update_by_name() {
    let (policy, mut batch, _) = cartpole_samples(5);
    batch.trajectories[0].rewards[0] = f64::INFINITY;
    let setup = Setup::cartpole();
    for algo in [Algo::Npg, Algo::Trpo, Algo::Ppo, Algo::PpoPenalty] {
        let mut update = setup.update(algo, setup.advantages(4, 5).unwrap(), 5).unwrap();
        let mut moved = policy.clone();
        let e = update.update(&mut moved, &batch, 7).unwrap_err();
        assert_eq!(e, pg_core::PgError::NonFinite { what: "advantages", iteration: 7 }, "{algo:?}");
        assert_eq!(moved.params(), policy.params(), "{algo:?}");
    }
}

/// A trust region so large that the step's length overflows: the natural
/// step is infinite, and the update stops, naming the Fisher solve.
#[test]
fn an_infinite_natural_step_stops_the_update_by_name() {
    let (policy, batch, _) = cartpole_samples(6);
    let setup = Setup::cartpole();
    for trpo in [false, true] {
        let estimator = setup.advantages(4, 6).unwrap();
        let mut update = match trpo {
            false => NaturalGradient::npg(estimator, f64::MAX).unwrap(),
            true => NaturalGradient::trpo(estimator, f64::MAX).unwrap(),
        };
        let mut moved = policy.clone();
        let e = update.update(&mut moved, &batch, 3).unwrap_err();
        let what = "natural-gradient step (the Fisher solve)";
        assert_eq!(e, pg_core::PgError::NonFinite { what, iteration: 3 }, "trpo: {trpo}");
        assert_eq!(moved.params(), policy.params());
    }
}
