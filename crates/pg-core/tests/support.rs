//! Optimisers, discounting, rollouts and KL divergences.

use ndarray::{Array1, array};
use pg_core::dist::Dist;
use pg_core::env::{Stay, TabularMdp};
use pg_core::optim::{Adam, Optimizer, Sgd};
use pg_core::policy::{Bernoulli, Categorical, Policy, TabularSoftmax};
use pg_core::rollout::{discounted_sum, rollout};
use pg_core::{Batch, StepWeights, seeded};

#[test]
fn sgd_takes_exactly_one_scaled_step() {
    let mut p = array![1.0, -2.0];
    Sgd::new(0.5).unwrap().ascend(&mut p, &array![2.0, 4.0]);
    assert_eq!(p, array![2.0, 0.0]);
    assert!(Sgd::new(0.0).is_err() && Sgd::new(f64::INFINITY).is_err());
}

#[test]
fn adam_climbs_a_concave_quadratic_to_its_top() {
    // f(x) = -|x - c|^2, gradient -2 (x - c).
    let c = array![3.0, -1.0, 0.5];
    let mut x = Array1::zeros(3);
    let mut adam = Adam::new(0.05).unwrap();
    for _ in 0..2000 {
        let g = (&x - &c) * -2.0;
        adam.ascend(&mut x, &g);
    }
    assert!((&x - &c).iter().all(|d| d.abs() < 1e-3), "{x}");
    // The first step moves every coordinate by the step size (bias correction).
    let mut y = Array1::zeros(2);
    Adam::new(0.1).unwrap().ascend(&mut y, &array![5.0, -0.01]);
    assert!((y[0] - 0.1).abs() < 1e-6 && (y[1] + 0.1).abs() < 1e-4, "{y}");
    assert!(Adam::new(-1.0).is_err());
}

/// Adam step by step against its definition (Kingma and Ba, Algorithm 1, as
/// an ascent): mₜ = β₁mₜ₋₁ + (1 − β₁)g, vₜ = β₂vₜ₋₁ + (1 − β₂)g²,
/// θ += α m̂ₜ/(√v̂ₜ + ε) with m̂ₜ = mₜ/(1 − β₁ᵗ), v̂ₜ = vₜ/(1 − β₂ᵗ); β₁ = 0.9,
/// β₂ = 0.999, ε = 10⁻⁸. Gradients of changing sign and size, including
/// tiny ones where ε matters. Parameters of another length start afresh.
#[test]
fn adam_follows_its_definition_step_by_step() {
    let grads = [
        array![1.0, -2.0, 1e-9],
        array![0.5, 3.0, -1e-9],
        array![-4.0, 0.0, 2e-9],
        array![2.0, -1.0, 0.0],
        array![0.1, 0.2, 1e-8],
    ];
    let (lr, b1, b2, eps) = (0.03, 0.9, 0.999, 1e-8);
    let mut adam = Adam::new(lr).unwrap();
    let mut theta = array![0.2, -0.1, 0.0];
    let (mut expected, mut m, mut v) = (theta.clone(), Array1::zeros(3), Array1::<f64>::zeros(3));
    for (t, g) in grads.iter().enumerate() {
        let t = t as i32 + 1;
        m = b1 * &m + (1.0 - b1) * g;
        v = b2 * &v + (1.0 - b2) * &(g * g);
        let m_hat = &m / (1.0 - f64::powi(b1, t));
        let v_hat = &v / (1.0 - f64::powi(b2, t));
        expected = expected + lr * &m_hat / &(v_hat.mapv(f64::sqrt) + eps);
        adam.ascend(&mut theta, g);
        for (a, b) in theta.iter().zip(&expected) {
            assert!((a - b).abs() <= 1e-15 * (1.0 + b.abs()), "step {t}: {theta} vs {expected}");
        }
    }
    // Two parameters now: the moments and the step count restart, so the
    // first step is again α g/(|g| + ε).
    let mut pair = array![1.0, 1.0];
    adam.ascend(&mut pair, &array![-7.0, 0.25]);
    let first = [1.0 - lr * 7.0 / (7.0 + eps), 1.0 + lr * 0.25 / (0.25 + eps)];
    assert!(pair.iter().zip(first).all(|(a, b)| (a - b).abs() < 1e-15), "{pair} vs {first:?}");
}

#[test]
fn discounting_weights_step_t_by_gamma_to_the_t() {
    // Not a palindrome: γᵗ and γ^(T−1−t) give different answers (1 + 2·0.5 + 4·0.25 = 3
    // against 4 + 2·0.5 + 1·0.25 = 5.25).
    assert_eq!(discounted_sum(&[1.0, 2.0, 4.0], 0.5), 3.0);
    assert_eq!(discounted_sum(&[2.0, 3.0], 1.0), 5.0);
    assert_eq!(discounted_sum(&[5.0, 7.0], 0.0), 5.0);
    assert_eq!(discounted_sum(&[], 0.9), 0.0);
}

#[test]
fn step_weights_have_one_slot_per_step() {
    let mut rng = seeded(3);
    let batch = Batch::sample(&mut TabularMdp::three_state(), &TabularSoftmax::new(3, 2), 20, &mut rng);
    let w = StepWeights::fill(&batch, |i, t, w| {
        assert_eq!(w.len(), t.len());
        w.iter_mut().enumerate().for_each(|(s, x)| *x = (100 * i + s) as f64);
    });
    assert!(w.fits(&batch));
    assert_eq!(w.flat().len(), batch.num_steps());
    for (i, t) in batch.trajectories.iter().enumerate() {
        let expected: Vec<f64> = (0..t.len()).map(|s| (100 * i + s) as f64).collect();
        assert_eq!(w.trajectory(i), expected.as_slice());
    }
    let other = Batch::sample(&mut TabularMdp::three_state(), &TabularSoftmax::new(3, 2), 21, &mut rng);
    assert!(!w.fits(&other));
    // As many episodes, but one of them a step shorter.
    let mut shorter = batch.clone();
    let last =
        shorter.trajectories.iter_mut().find(|t| t.len() > 1).expect("an episode of two steps or more");
    last.obs.pop();
    last.actions.pop();
    last.rewards.pop();
    last.log_probs.pop();
    assert_eq!(shorter.len(), batch.len());
    assert!(!w.fits(&shorter));
}

#[test]
#[should_panic(expected = "different shape")]
fn weights_for_another_batch_are_refused() {
    let mut rng = seeded(3);
    let policy = TabularSoftmax::new(3, 2);
    let batch = Batch::sample(&mut TabularMdp::three_state(), &policy, 5, &mut rng);
    let other = Batch::sample(&mut TabularMdp::three_state(), &policy, 6, &mut rng);
    let w = StepWeights::per_trajectory(&other, |_, _| 1.0);
    policy.add_weighted_scores(&batch, &w, &mut Array1::zeros(6));
}

#[test]
fn rollouts_record_the_behaviour_log_probabilities() {
    let policy = Categorical::mlp(4, &[8], 2, &mut seeded(1));
    let t = rollout(&mut pg_core::env::CartPole::new(), &policy, &mut seeded(2));
    assert_eq!(t.log_probs.len(), t.len());
    for ((obs, a), lp) in t.steps().zip(&t.log_probs) {
        assert_eq!(policy.log_prob(obs, a), *lp);
    }
}

#[test]
fn rollouts_keep_terminated_and_truncated_apart() {
    let mut rng = seeded(4);
    // Always leaving: terminated after one step.
    let t = rollout(&mut Stay::new(), &Bernoulli::new(1e-12), &mut rng);
    assert!(t.terminated && !t.truncated && t.len() == 1 && t.obs.len() == 2);
    // Always staying with a limit: truncated, not terminated.
    let t = rollout(&mut Stay::with_limit(7), &Bernoulli::new(1.0), &mut rng);
    assert!(!t.terminated && t.truncated && t.len() == 7 && t.total_reward() == 7.0);
    let batch = Batch::sample(&mut TabularMdp::three_state(), &TabularSoftmax::new(3, 2), 50, &mut rng);
    assert!(batch.trajectories.iter().all(|t| t.is_done() && t.len() <= 4));
    assert_eq!(batch.num_steps(), batch.trajectories.iter().map(|t| t.len()).sum::<usize>());
}

#[test]
fn the_same_seed_gives_the_same_batch() {
    let policy = Categorical::mlp(4, &[8], 2, &mut seeded(1));
    let sample = || Batch::sample(&mut pg_core::env::CartPole::new(), &policy, 5, &mut seeded(9));
    assert_eq!(sample(), sample());
}

#[test]
fn categorical_kl_matches_its_definition() {
    let p = Dist::Categorical(vec![0.2, 0.5, 0.3]);
    let q = Dist::Categorical(vec![0.4, 0.4, 0.2]);
    let direct: f64 = 0.2 * (0.2f64 / 0.4).ln() + 0.5 * (0.5f64 / 0.4).ln() + 0.3 * (0.3f64 / 0.2).ln();
    approx::assert_abs_diff_eq!(p.kl(&q), direct, epsilon = 1e-15);
    assert_eq!(p.kl(&p), 0.0);
    assert!(q.kl(&p) > 0.0);
}

#[test]
fn gaussian_kl_matches_numerical_integration() {
    let p = Dist::Gaussian { mean: array![0.3], log_std: array![-0.2] };
    let q = Dist::Gaussian { mean: array![-0.5], log_std: array![0.4] };
    let density = |m: f64, ls: f64, x: f64| {
        let s = ls.exp();
        (-0.5 * ((x - m) / s).powi(2)).exp() / (s * (2.0 * std::f64::consts::PI).sqrt())
    };
    let (h, mut integral) = (1e-3, 0.0);
    for i in 0..20_000 {
        let x = -10.0 + (i as f64 + 0.5) * h;
        let (px, qx) = (density(0.3, -0.2, x), density(-0.5, 0.4, x));
        integral += px * (px / qx).ln() * h;
    }
    approx::assert_abs_diff_eq!(p.kl(&q), integral, epsilon = 1e-8);
    approx::assert_abs_diff_eq!(p.kl(&p), 0.0, epsilon = 1e-15);
}

/// H = −Σ p ln p (an outcome of probability 0 adds nothing), and a diagonal
/// Gaussian's H = Σᵢ (log σᵢ + ½ ln 2πe), here against −∫ p ln p numerically
/// in two dimensions (the entropies of independent coordinates add).
#[test]
fn entropies_match_their_definitions() {
    let p = Dist::Categorical(vec![0.5, 0.25, 0.25, 0.0]);
    approx::assert_abs_diff_eq!(p.entropy(), 1.5 * 2f64.ln(), epsilon = 1e-15);
    assert_eq!(Dist::Categorical(vec![1.0, 0.0]).entropy(), 0.0);
    let log_std = [-0.7, 0.4];
    let g = Dist::Gaussian { mean: array![0.3, -2.0], log_std: array![log_std[0], log_std[1]] };
    let h = 1e-3;
    let numeric: f64 = log_std
        .iter()
        .map(|ls| {
            let s = f64::exp(*ls);
            (0..40_000)
                .map(|i| {
                    let z = -20.0 + (i as f64 + 0.5) * h;
                    let density = (-0.5 * z * z).exp() / (s * (2.0 * std::f64::consts::PI).sqrt());
                    // x = μ + σz, dx = σ dz.
                    -density * density.ln() * s * h
                })
                .sum::<f64>()
        })
        .sum();
    approx::assert_abs_diff_eq!(g.entropy(), numeric, epsilon = 1e-9);
}

#[test]
fn policy_distributions_agree_with_log_prob() {
    let policy = Categorical::mlp(3, &[4], 3, &mut seeded(2));
    let obs = array![0.5, -1.0, 0.2];
    let Dist::Categorical(probs) = policy.dist(obs.view()) else { panic!("categorical") };
    for (a, p) in probs.iter().enumerate() {
        approx::assert_abs_diff_eq!(policy.log_prob(obs.view(), &a).exp(), *p, epsilon = 1e-15);
    }
}

/// An action the first policy never takes adds nothing to KL(p ‖ q)
/// (0 · ln 0 = 0), where q gives it any probability.
#[test]
fn an_action_of_probability_zero_adds_nothing_to_the_kl() {
    let p = Dist::Categorical(vec![0.5, 0.5, 0.0]);
    let q = Dist::Categorical(vec![0.4, 0.4, 0.2]);
    approx::assert_abs_diff_eq!(p.kl(&q), 1.25f64.ln(), epsilon = 1e-15);
}
