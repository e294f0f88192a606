//! Chapter 6's checks: the KL's gradient and its Hessian (the Fisher
//! information, as a product without the matrix) against finite differences
//! and against the Fisher matrix written out from chapter 1's scores;
//! conjugate gradient; the clipped objective's gradient; negative controls.

use ndarray::{Array1, Array2};
use pg_core::gradcheck::{central_difference, max_scaled_error};
use pg_core::policy::{Categorical, Gaussian, MlpBatch, Policy};
use pg_core::seeded;
use pg_kl_constraint::experiments::broken;
use pg_kl_constraint::experiments::checks::{
    direction, fisher_errors, gaussian_case, kl_gradient_error, moved, random_advantages, random_batch,
    softmax_case,
};
use pg_kl_constraint::ppo::{clipped_objective, clipped_term};
use pg_kl_constraint::{Fisher, Head, Samples, conjugate_gradient, mean_kl, ratio_surrogate};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use rand::RngExt;

use pg_kl_constraint::experiments::checks::{EXACT_TOL, FD_TOL};

fn fvp<P: Head>(policy: &P, samples: &Samples<P::Action>, v: &Array1<f64>) -> Array1<f64> {
    Fisher::new(policy, samples, 0.0).apply(v)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    /// ∇θ D̄ against central differences, near and away from θ_old.
    #[test]
    fn kl_gradient_matches_finite_differences(seed in 0u64..1000, scale in 0.0..0.5f64) {
        let (p, s) = softmax_case(seed);
        prop_assert!(kl_gradient_error(&p, &s, &direction(p.num_params(), seed, scale)) < FD_TOL);
        for state_std in [false, true] {
            let (p, s) = gaussian_case(seed, state_std);
            prop_assert!(kl_gradient_error(&p, &s, &direction(p.num_params(), seed, scale)) < FD_TOL);
        }
    }

    /// At θ_old the KL is at its minimum, 0, and its gradient is exactly zero.
    #[test]
    fn kl_gradient_is_zero_at_the_old_policy(seed in 0u64..1000) {
        let check = |kl: f64, g: &Array1<f64>| kl == 0.0 && g.iter().all(|x| *x == 0.0);
        let (p, s) = softmax_case(seed);
        let mut g = Array1::zeros(p.num_params());
        prop_assert!(check(mean_kl(&p, &s, &mut MlpBatch::default(), Some(&mut g)), &g));
        for state_std in [false, true] {
            let (p, s) = gaussian_case(seed, state_std);
            let mut g = Array1::zeros(p.num_params());
            prop_assert!(check(mean_kl(&p, &s, &mut MlpBatch::default(), Some(&mut g)), &g));
        }
    }

    // ANCHOR: fisher_referees
    /// F v from the forward and backward passes equals the Hessian of D̄
    /// along v (finite differences of ∇D̄) and the explicit Fisher matrix.
    #[test]
    fn fisher_vector_products_match_both_referees(seed in 0u64..1000) {
        let (p, s) = softmax_case(seed);
        let v = direction(p.num_params(), seed + 7, 1.0);
        let (fd, explicit) = fisher_errors(&p, &s, &v, &fvp(&p, &s, &v));
        prop_assert!(fd < FD_TOL && explicit < EXACT_TOL, "softmax: {fd:e} {explicit:e}");
        for state_std in [false, true] {
            let (p, s) = gaussian_case(seed, state_std);
            let v = direction(p.num_params(), seed + 7, 1.0);
            let (fd, explicit) = fisher_errors(&p, &s, &v, &fvp(&p, &s, &v));
            prop_assert!(fd < FD_TOL && explicit < EXACT_TOL, "gaussian {state_std}: {fd:e} {explicit:e}");
        }
    }

    // ANCHOR_END: fisher_referees
    /// Each broken product fails both comparisons.
    #[test]
    fn broken_fisher_products_are_caught(seed in 0u64..1000) {
        let (p, s) = softmax_case(seed);
        let v = direction(p.num_params(), seed + 7, 1.0);
        for product in [
            Fisher::new(&p, &s, 0.0).apply_with(&v, broken::flipped::<Categorical>),
            Fisher::new(&p, &s, 0.0).apply_with(&v, broken::softmax_without_outer_term),
        ] {
            let (fd, explicit) = fisher_errors(&p, &s, &v, &product);
            prop_assert!(fd > 1e-3 && explicit > 1e-3, "softmax: {fd:e} {explicit:e}");
        }
        for state_std in [false, true] {
            let (p, s) = gaussian_case(seed, state_std);
            let v = direction(p.num_params(), seed + 7, 1.0);
            for product in [
                Fisher::new(&p, &s, 0.0).apply_with(&v, broken::flipped::<Gaussian>),
                Fisher::new(&p, &s, 0.0).apply_with(&v, broken::gaussian_without_log_std_block),
            ] {
                let (fd, explicit) = fisher_errors(&p, &s, &v, &product);
                prop_assert!(fd > 1e-3 && explicit > 1e-3, "gaussian {state_std}: {fd:e} {explicit:e}");
            }
        }
    }

    /// Conjugate gradient solves a random symmetric positive-definite
    /// system (eigenvalues in [0.1, 4.1]) within n iterations, which exact
    /// arithmetic would make exact; in f64 the residual left is below
    /// 1e-6 of ‖b‖.
    #[test]
    fn conjugate_gradient_solves_spd_systems(seed in 0u64..1000, n in 1usize..30) {
        let rng = &mut seeded(seed);
        let b_mat = Array2::from_shape_fn((n, n), |_| rng.random_range(-1.0..1.0));
        let a = b_mat.t().dot(&b_mat) / n as f64 + Array2::<f64>::eye(n) * 0.1;
        let b = Array1::from_shape_fn(n, |_| rng.random_range(-1.0..1.0));
        let cg = conjugate_gradient(|v| a.dot(v), &b, n, 1e-10);
        let residual = (&b - &a.dot(&cg.x)).dot(&(&b - &a.dot(&cg.x))).sqrt();
        prop_assert!(cg.iterations <= n);
        prop_assert!(residual <= 1e-6 * b.dot(&b).sqrt(), "residual {residual:e} after {} of {n}", cg.iterations);
    }

    /// The ratio surrogate's gradient against central differences, and at
    /// θ_old against chapter 4's surrogate (same weights, rescaled from
    /// 1/N to 1/M).
    #[test]
    fn ratio_surrogate_gradient(seed in 0u64..1000, scale in 0.0..0.3f64) {
        let (p, s) = softmax_case(seed);
        let at = moved(&p, &direction(p.num_params(), seed, scale));
        let mut analytic = Array1::zeros(p.num_params());
        ratio_surrogate(&at, &s, &mut MlpBatch::default(), Some(&mut analytic));
        let numeric = central_difference(|theta| {
            let mut q = at.clone();
            q.params_mut().assign(theta);
            ratio_surrogate(&q, &s, &mut MlpBatch::default(), None)
        }, at.params(), 1e-5);
        prop_assert!(max_scaled_error(&analytic, &numeric) < FD_TOL);

        let b = random_batch(4, 3, 4, seed + 1, |rng| rng.random_range(0..3usize));
        let w = random_advantages(&b, seed + 2);
        let mut at_old = Array1::zeros(p.num_params());
        ratio_surrogate(&p, &Samples::new(&p, &b, &w), &mut MlpBatch::default(), Some(&mut at_old));
        let chapter4 = -pg_surrogate::surrogate(&p, &b, &w).1 * (b.len() as f64 / b.num_steps() as f64);
        prop_assert!(max_scaled_error(&at_old, &chapter4) < EXACT_TOL);
    }

    /// The clipped objective's gradient: against central differences when
    /// no ratio is near a clip edge; step by step, zero exactly where the
    /// ratio has passed 1 ± ε in the direction its advantage pushes, and the
    /// unclipped ρÂ∇log π everywhere else.
    #[test]
    fn clipped_objective_gradient(seed in 0u64..1000, scale in 0.0..1.5f64, epsilon in 0.05..0.4f64) {
        for state_std in [false, true] {
            let (p, s) = gaussian_case(seed, state_std);
            let at = moved(&p, &direction(p.num_params(), seed + 3, scale));
            let work = &mut MlpBatch::default();
            let rows = at.rows(s.steps.obs.view(), work);
            let ratios: Vec<f64> = rows.rows().into_iter().zip(&s.steps.actions).zip(&s.old_log_probs)
                .map(|((row, a), old)| (Gaussian::log_prob_row(row, a, 0.0, None) - old).exp())
                .collect();
            let mut clipped_seen = 0;
            for (m, (&ratio, &adv)) in ratios.iter().zip(&s.advantages).enumerate() {
                let one = s.select(&[m]);
                let mut g = Array1::zeros(p.num_params());
                clipped_objective(&at, &one, epsilon, work, Some(&mut g));
                let pushed_past = (adv > 0.0 && ratio > 1.0 + epsilon) || (adv < 0.0 && ratio < 1.0 - epsilon);
                if pushed_past {
                    clipped_seen += 1;
                    prop_assert!(g.iter().all(|x| *x == 0.0));
                } else {
                    let mut unclipped = Array1::zeros(p.num_params());
                    ratio_surrogate(&at, &one, work, Some(&mut unclipped));
                    prop_assert!(max_scaled_error(&g, &unclipped) < EXACT_TOL);
                }
            }
            prop_assert!(clipped_seen <= ratios.len());
            let near_edge = ratios.iter().any(|r| ((r - 1.0).abs() - epsilon).abs() < 1e-3);
            if !near_edge {
                let mut analytic = Array1::zeros(p.num_params());
                clipped_objective(&at, &s, epsilon, work, Some(&mut analytic));
                let numeric = central_difference(|theta| {
                    let mut q = at.clone();
                    q.params_mut().assign(theta);
                    clipped_objective(&q, &s, epsilon, &mut MlpBatch::default(), None)
                }, at.params(), 1e-5);
                let err = max_scaled_error(&analytic, &numeric);
                prop_assert!(err < FD_TOL, "{state_std} {err:e} {analytic} {numeric} {ratios:?}");
            }
        }
    }
}

/// The clip's cases one by one: flat (zero derivative) only on the side the
/// advantage pushes toward.
#[test]
fn clipped_term_is_flat_only_where_the_advantage_pushes() {
    let eps = 0.2;
    assert_eq!(clipped_term(1.5, 1.0, eps), (1.2, 0.0));
    assert_eq!(clipped_term(1.5, -1.0, eps), (-1.5, -1.5));
    assert_eq!(clipped_term(0.5, -1.0, eps), (-0.8, 0.0));
    assert_eq!(clipped_term(0.5, 1.0, eps), (0.5, 0.5));
    assert_eq!(clipped_term(1.1, 2.0, eps), (2.2, 2.2));
}

/// The proptests above draw cases where clipping happens on both sides.
#[test]
fn the_clip_cases_occur() {
    let (p, s) = gaussian_case(3, false);
    let at = moved(&p, &direction(p.num_params(), 6, 1.0));
    let work = &mut MlpBatch::default();
    let rows = at.rows(s.steps.obs.view(), work);
    let ratios: Vec<f64> = rows
        .rows()
        .into_iter()
        .zip(&s.steps.actions)
        .zip(&s.old_log_probs)
        .map(|((row, a), old)| (Gaussian::log_prob_row(row, a, 0.0, None) - old).exp())
        .collect();
    assert!(ratios.iter().any(|r| *r > 1.2) && ratios.iter().any(|r| *r < 0.8), "{ratios:?}");
}

/// "A softmax whose logits are already large barely moves; a Gaussian with
/// small σ moves a lot": one parameter step of the same length, measured in
/// KL. For a softmax the KL of a small logit step δ is about δ² p(1 − p)/2,
/// for a Gaussian's mean δ²/(2σ²).
#[test]
fn one_parameter_step_moves_a_saturated_softmax_little_and_a_narrow_gaussian_much() {
    use pg_core::Dist;
    let step = 0.1;
    let softmax = |logits: [f64; 2]| {
        let z: f64 = logits.iter().map(|l| l.exp()).sum();
        Dist::Categorical(logits.iter().map(|l| l.exp() / z).collect())
    };
    let moved = |l: [f64; 2]| softmax(l).kl(&softmax([l[0] + step, l[1]]));
    let (even, saturated) = (moved([0.0, 0.0]), moved([8.0, 0.0]));
    assert!((even - step * step * 0.25 / 2.0).abs() < 1e-3 * even, "{even}");
    assert!(saturated < even / 500.0, "{saturated} vs {even}");

    let gaussian = |mean: f64, sigma: f64| Dist::Gaussian {
        mean: ndarray::array![mean],
        log_std: ndarray::array![sigma.ln()],
    };
    let moved = |sigma: f64| gaussian(0.0, sigma).kl(&gaussian(step, sigma));
    for sigma in [1.0, 0.1, 0.01] {
        assert!((moved(sigma) - step * step / (2.0 * sigma * sigma)).abs() < 1e-12 * moved(sigma));
    }
    assert!(moved(0.1) > 99.0 * moved(1.0));
}

/// What the constrained updates read from a row is the policy's own
/// distribution: for a softmax and for Gaussians of 1, 2 and 3 action
/// dimensions (σ free or state-dependent), a row is (μ, log σ), D of each,
/// `log_prob_row` is `Policy::log_prob` at every step, and `push_forward`
/// moves the rows as central differences of `rows` along v do.
#[test]
fn a_row_is_the_policys_own_distribution_and_moves_with_theta() {
    fn check<P: Head>(policy: &P, samples: &Samples<P::Action>, width: usize, seed: u64) {
        let work = &mut MlpBatch::default();
        let rows = policy.rows(samples.steps.obs.view(), work);
        assert_eq!(rows.dim(), (samples.len(), width));
        for ((row, a), obs) in
            rows.rows().into_iter().zip(&samples.steps.actions).zip(samples.steps.obs.rows())
        {
            let (ours, own) = (P::log_prob_row(row, a, 0.0, None), policy.log_prob(obs, a));
            assert!((ours - own).abs() < 1e-12, "{ours} against {own}");
        }
        let v = direction(policy.num_params(), seed + 5, 1.0);
        let pushed = policy.push_forward(work, &v);
        let h = 1e-5;
        let at = |sign: f64| {
            moved(policy, &(&v * (sign * h))).rows(samples.steps.obs.view(), &mut MlpBatch::default())
        };
        let numeric = (at(1.0) - at(-1.0)) / (2.0 * h);
        assert_eq!(pushed.dim(), numeric.dim());
        let gap = (&pushed - &numeric).iter().fold(0.0f64, |m, d| m.max(d.abs()));
        assert!(gap < 1e-6, "largest difference {gap:e}");
    }
    for seed in 0..4 {
        let (p, s) = softmax_case(seed);
        check(&p, &s, 3, seed);
        for act_dim in 1..=3 {
            for state_std in [false, true] {
                let rng = &mut seeded(seed);
                let mut p = if state_std {
                    Gaussian::mlp_state_std(3, &[4], act_dim, -0.3, rng)
                } else {
                    Gaussian::mlp(3, &[4], act_dim, -0.3, rng)
                };
                let theta = direction(p.num_params(), seed + 11, 0.6);
                p.params_mut().assign(&theta);
                let b = random_batch(3, 3, 4, seed + 1, |rng| {
                    Array1::from_shape_fn(act_dim, |_| rng.random_range(-1.5..1.5))
                });
                check(&p, &Samples::new(&p, &b, &random_advantages(&b, seed + 2)), 2 * act_dim, seed);
            }
        }
    }
}

/// A batch's samples are empty exactly when they hold no step.
#[test]
fn samples_know_whether_they_are_empty() {
    let (_, s) = softmax_case(0);
    assert!(!s.is_empty() && s.len() == 12);
    let none = s.select(&[]);
    assert!(none.is_empty() && none.steps.actions.is_empty() && none.old_log_probs.is_empty());
}

/// Conjugate gradient stops at the first iteration whose residual is
/// within `tol` · ‖b‖, a tolerance relative to b: scaling b scales x and
/// leaves the iterations as they were.
#[test]
fn conjugate_gradient_stops_at_a_tolerance_relative_to_b() {
    let n = 20;
    let rng = &mut seeded(3);
    let b_mat = Array2::from_shape_fn((n, n), |_| rng.random_range(-1.0..1.0));
    let a = b_mat.t().dot(&b_mat) / n as f64 + Array2::<f64>::eye(n) * 0.01;
    let b = Array1::from_shape_fn(n, |_| rng.random_range(-1.0..1.0));
    let tol = 1e-3;
    let norm = |v: &Array1<f64>| v.dot(v).sqrt();
    for scale in [1e-6, 1.0, 1e6] {
        let b = &b * scale;
        let cg = conjugate_gradient(|v| a.dot(v), &b, 10 * n, tol);
        assert!(cg.residual <= tol * norm(&b), "scale {scale}: {} left", cg.residual);
        assert!(cg.iterations > 1, "scale {scale}: a test of the stopping rule needs iterations");
        let before = conjugate_gradient(|v| a.dot(v), &b, cg.iterations - 1, tol);
        assert!(before.residual > tol * norm(&b), "scale {scale}: could have stopped earlier");
        assert!((cg.residual - norm(&(&b - &a.dot(&cg.x)))).abs() < 1e-6 * tol * norm(&b));
        let unscaled = conjugate_gradient(|v| a.dot(v), &(&b / scale), 10 * n, tol);
        assert_eq!(cg.iterations, unscaled.iterations, "scale {scale}");
    }
}
