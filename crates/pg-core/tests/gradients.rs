//! Every hand-written score function against central finite differences of
//! `log_prob`, under proptest. Logits are kept moderate so that f64 central
//! differences with h = 1e-5 are accurate to about 1e-8.

use ndarray::{Array1, array};
use pg_core::gradcheck::{central_difference, check_policy, max_scaled_error};
use pg_core::policy::{Bernoulli, Categorical, Gaussian, Mlp, MlpBatch, Policy, TabularSoftmax};
use pg_core::seeded;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

const TOL: f64 = 1e-6;

/// Checks `grad_log_prob` of `policy` at (`obs`, `action`) against finite differences.
fn score_error<P: Policy + Clone>(policy: &P, obs: &Array1<f64>, action: &P::Action) -> f64 {
    let analytic = policy.grad_log_prob(obs.view(), action);
    check_policy(policy, &analytic, |p| p.log_prob(obs.view(), action))
}

fn vec_in(n: usize, r: f64) -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(-r..r, n)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        // Failing cases are saved beside this file and replayed first.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn tabular_softmax_score(theta in vec_in(6, 3.0), s in 0usize..3, a in 0usize..2) {
        let mut p = TabularSoftmax::new(3, 2);
        p.params_mut().assign(&Array1::from(theta));
        let mut obs = Array1::zeros(3);
        obs[s] = 1.0;
        prop_assert!(score_error(&p, &obs, &a) < TOL);
    }

    #[test]
    fn linear_softmax_score(theta in vec_in(15, 1.5), obs in vec_in(4, 2.0), a in 0usize..3) {
        let mut p = Categorical::linear(4, 3);
        p.params_mut().assign(&Array1::from(theta));
        prop_assert!(score_error(&p, &Array1::from(obs), &a) < TOL);
    }

    #[test]
    fn mlp_softmax_score(seed in 0u64..1000, obs in vec_in(4, 2.0), a in 0usize..2) {
        let p = Categorical::mlp(4, &[8, 5], 2, &mut seeded(seed));
        prop_assert!(score_error(&p, &Array1::from(obs), &a) < TOL);
    }

    #[test]
    fn gaussian_linear_score(theta in vec_in(10, 1.0), obs in vec_in(3, 2.0), act in vec_in(2, 2.0)) {
        let mut p = Gaussian::linear(3, 2, 0.0);
        p.params_mut().assign(&Array1::from(theta));
        prop_assert!(score_error(&p, &Array1::from(obs), &Array1::from(act)) < TOL);
    }

    #[test]
    fn gaussian_mlp_score(seed in 0u64..1000, log_std in -1.0..0.5f64, obs in vec_in(3, 2.0), act in vec_in(1, 2.0)) {
        let p = Gaussian::mlp(3, &[6, 4], 1, log_std, &mut seeded(seed));
        prop_assert!(score_error(&p, &Array1::from(obs), &Array1::from(act)) < TOL);
    }

    #[test]
    fn gaussian_state_dependent_std_score(
        seed in 0u64..1000,
        log_std in -1.0..0.5f64,
        obs in vec_in(3, 2.0),
        act in vec_in(2, 2.0),
    ) {
        let p = Gaussian::mlp_state_std(3, &[5], 2, log_std, &mut seeded(seed));
        prop_assert!(p.state_dependent_std() && p.act_dim() == 2);
        prop_assert!(score_error(&p, &Array1::from(obs), &Array1::from(act)) < TOL);
    }

    /// The batched pass equals the per-row pass, output and gradient, for
    /// any widths and batch size.
    #[test]
    fn mlp_batched_pass_matches_rows(
        seed in 0u64..1000,
        hidden in proptest::collection::vec(1usize..7, 0..3),
        rows in 1usize..9,
    ) {
        let net = Mlp::new(3, &hidden, 2);
        let params = Array1::from(net.init(1.0, &mut seeded(seed)));
        let p = params.as_slice().unwrap();
        let x = ndarray::Array2::from_shape_fn((rows, 3), |(i, j)| ((i * 3 + j) as f64 * 0.77 + seed as f64).sin());
        let c = ndarray::Array2::from_shape_fn((rows, 2), |(i, j)| ((i * 2 + j) as f64 * 1.3 - seed as f64).cos());
        let mut batch = MlpBatch::default();
        net.forward_batch(p, x.view(), &mut batch);
        let mut batched = Array1::zeros(net.num_params());
        net.backward_batch(p, &mut batch, c.view(), batched.as_slice_mut().unwrap());
        let mut rowwise = Array1::zeros(net.num_params());
        for i in 0..rows {
            let mut acts = Vec::new();
            let out = net.forward(p, &x.row(i).to_vec(), &mut acts).to_vec();
            for (a, b) in out.iter().zip(batch.output().row(i)) {
                prop_assert!((a - b).abs() < 1e-12 * (1.0 + a.abs()));
            }
            net.backward(p, &acts, &c.row(i).to_vec(), rowwise.as_slice_mut().unwrap());
        }
        prop_assert!(max_scaled_error(&batched, &rowwise) < 1e-12);
    }

    /// The forward-mode product J v against central differences of the
    /// outputs along v, and against the backward pass by duality:
    /// cᵀ (J v) = (Jᵀ c) · v for every cotangent c.
    #[test]
    fn mlp_jacobian_vector_product(
        seed in 0u64..1000,
        hidden in proptest::collection::vec(1usize..7, 0..3),
        rows in 1usize..6,
    ) {
        let net = Mlp::new(3, &hidden, 2);
        let params = Array1::from(net.init(1.0, &mut seeded(seed)));
        let v = Array1::from(net.init(1.0, &mut seeded(seed + 1)));
        let x = ndarray::Array2::from_shape_fn((rows, 3), |(i, j)| ((i * 3 + j) as f64 * 0.61 - seed as f64).sin());
        let c = ndarray::Array2::from_shape_fn((rows, 2), |(i, j)| ((i * 2 + j) as f64 * 0.9 + seed as f64).cos());
        let mut batch = MlpBatch::default();
        net.forward_batch(params.as_slice().unwrap(), x.view(), &mut batch);
        let jv = net.jvp_batch(params.as_slice().unwrap(), &batch, v.as_slice().unwrap());
        let h = 1e-5;
        let outputs = |t: f64| {
            let mut b = MlpBatch::default();
            net.forward_batch((&params + &(t * &v)).as_slice().unwrap(), x.view(), &mut b);
            b.output().to_owned()
        };
        let numeric = (outputs(h) - outputs(-h)) / (2.0 * h);
        for (a, b) in jv.iter().zip(&numeric) {
            prop_assert!((a - b).abs() < TOL * (1.0 + a.abs()), "J v {a} vs finite differences {b}");
        }
        let mut jtc = Array1::zeros(net.num_params());
        net.backward_batch(params.as_slice().unwrap(), &mut batch, c.view(), jtc.as_slice_mut().unwrap());
        let (left, right) = ((&jv * &c).sum(), jtc.dot(&v));
        prop_assert!((left - right).abs() < 1e-12 * (1.0 + left.abs()), "cᵀJv {left} vs (Jᵀc)·v {right}");
    }

    #[test]
    fn bernoulli_score(p in 0.05..0.95f64, a in 0usize..2) {
        let policy = Bernoulli::new(p);
        prop_assert!(score_error(&policy, &array![1.0], &a) < TOL);
    }

    /// The MLP's vector-Jacobian product against finite differences of
    /// `c . f(x)` for a random cotangent `c`, for any widths.
    #[test]
    fn mlp_backprop(
        seed in 0u64..1000,
        hidden in proptest::collection::vec(1usize..7, 0..3),
        x in vec_in(3, 2.0),
        c in vec_in(2, 1.0),
    ) {
        let net = Mlp::new(3, &hidden, 2);
        let params = Array1::from(net.init(1.0, &mut seeded(seed)));
        let mut acts = Vec::new();
        net.forward(params.as_slice().unwrap(), &x, &mut acts);
        let mut analytic = Array1::zeros(net.num_params());
        net.backward(params.as_slice().unwrap(), &acts, &c, analytic.as_slice_mut().unwrap());
        let numeric = central_difference(
            |p| {
                let mut a = Vec::new();
                let out = net.forward(p.as_slice().unwrap(), &x, &mut a);
                out.iter().zip(&c).map(|(o, ci)| o * ci).sum()
            },
            &params,
            1e-5,
        );
        prop_assert!(max_scaled_error(&analytic, &numeric) < TOL);
    }
}

/// The checker itself has power: a wrong gradient is caught.
#[test]
fn checker_rejects_a_wrong_gradient() {
    let p = Categorical::mlp(4, &[8], 2, &mut seeded(7));
    let obs = array![0.3, -0.2, 0.5, 1.0];
    let wrong = -p.grad_log_prob(obs.view(), &1);
    let err = check_policy(&p, &wrong, |probe| probe.log_prob(obs.view(), &1));
    assert!(err > 1e-3, "a sign-flipped gradient must fail the check (error {err})");
}

#[test]
fn probabilities_sum_to_one() {
    let p = Categorical::mlp(4, &[8], 3, &mut seeded(1));
    let obs = array![0.1, 0.2, -0.3, 0.4];
    let total: f64 = (0..3).map(|a| p.log_prob(obs.view(), &a).exp()).sum();
    approx::assert_abs_diff_eq!(total, 1.0, epsilon = 1e-12);
}

#[test]
fn sampled_log_probs_equal_log_prob() {
    let mut rng = seeded(3);
    let obs = array![0.3, -0.2, 0.5];
    for p in [
        Gaussian::mlp(3, &[4], 2, -0.3, &mut seeded(1)),
        Gaussian::mlp_state_std(3, &[4], 2, -0.3, &mut seeded(2)),
    ] {
        for _ in 0..20 {
            let (a, lp) = p.sample_with_log_prob(obs.view(), &mut rng);
            approx::assert_abs_diff_eq!(lp, p.log_prob(obs.view(), &a), epsilon = 1e-12);
        }
    }
}
