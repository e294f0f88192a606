//! The small problems the checks run on, shared by the tests and the
//! book's check table: random states and actions, random advantages, and
//! policies with parameters of order 1 (away from the near-uniform start,
//! so that every term of the Fisher information matters).

use crate::{Head, Samples, mean_kl};
use ndarray::{Array1, Array2, Axis};
use pg_core::gradcheck::{central_difference, max_scaled_error};
use pg_core::policy::{Categorical, Gaussian, MlpBatch, Policy};
use pg_core::{Batch, PgRng, StepEnd, StepWeights, Trajectory, seeded};
use rand::RngExt;

/// The Fisher matrix written out, E_s E_{a∼π}[∇log π(a|s) ∇log π(a|s)ᵀ]
/// averaged over the batch's states, from the per-step score functions of
/// chapter 1 and exact quadrature over actions: the independent referee for
/// [`crate::Fisher`] on small problems (it costs one score per action per state
/// and a P × P matrix).
pub fn explicit_fisher<P: Head>(policy: &P, samples: &Samples<P::Action>) -> Array2<f64> {
    let n = policy.num_params();
    let mut f = Array2::zeros((n, n));
    for (obs, old) in samples.steps.obs.rows().into_iter().zip(samples.old.rows()) {
        for (a, w) in P::quadrature(old) {
            let g = policy.grad_log_prob(obs, &a);
            let g = g.view().insert_axis(Axis(1));
            ndarray::linalg::general_mat_mul(w / samples.len() as f64, &g, &g.t(), 1.0, &mut f);
        }
    }
    f
}

/// Finite differences with h = 1e-5 are accurate to about 1e-8 here.
pub const FD_TOL: f64 = 1e-6;
/// Two exact computations of the same quantity agree to rounding.
pub const EXACT_TOL: f64 = 1e-10;

/// A batch of `trajectories` × `len` steps at pseudo-random states, with
/// actions drawn by `action`.
pub fn random_batch<A>(
    obs_dim: usize,
    trajectories: usize,
    len: usize,
    seed: u64,
    mut action: impl FnMut(&mut PgRng) -> A,
) -> Batch<A> {
    let rng = &mut seeded(seed);
    let state = |rng: &mut PgRng| Array1::from_shape_fn(obs_dim, |_| rng.random_range(-2.0..2.0));
    let trajectories = (0..trajectories)
        .map(|_| {
            let mut t = Trajectory::start(state(rng));
            for k in 0..len {
                let a = action(rng);
                let end = StepEnd { terminated: k + 1 == len, truncated: false };
                t.push(a, 0.0, 1.0, state(rng), end);
            }
            t
        })
        .collect();
    Batch { trajectories }
}

pub fn random_advantages<A>(batch: &Batch<A>, seed: u64) -> StepWeights {
    let rng = &mut seeded(seed);
    StepWeights::fill(batch, |_, _, w| w.iter_mut().for_each(|x| *x = rng.random_range(-2.0..2.0)))
}

/// A softmax MLP over 3 actions with its samples (θ_old = the policy).
pub fn softmax_case(seed: u64) -> (Categorical, Samples<usize>) {
    let mut policy = Categorical::mlp(4, &[5], 3, &mut seeded(seed));
    // Away from the near-uniform start, so that every term of the Fisher matters.
    let theta = direction(policy.num_params(), seed + 11, 1.0);
    policy.params_mut().assign(&theta);
    let b = random_batch(4, 3, 4, seed + 1, |rng| rng.random_range(0..3usize));
    let samples = Samples::new(&policy, &b, &random_advantages(&b, seed + 2));
    (policy, samples)
}

/// A Gaussian MLP over 2 action dimensions, σ free or state-dependent.
pub fn gaussian_case(seed: u64, state_std: bool) -> (Gaussian, Samples<Array1<f64>>) {
    let rng = &mut seeded(seed);
    let mut policy = if state_std {
        Gaussian::mlp_state_std(3, &[4], 2, -0.3, rng)
    } else {
        Gaussian::mlp(3, &[4], 2, -0.3, rng)
    };
    // Parameters of order 1, log σ (free or the output's bias) included;
    // larger ones make σ(s) so small in places that finite differences lose accuracy.
    let theta = direction(policy.num_params(), seed + 11, 0.6);
    policy.params_mut().assign(&theta);
    let b = random_batch(3, 3, 4, seed + 1, |rng| Array1::from_shape_fn(2, |_| rng.random_range(-1.5..1.5)));
    let samples = Samples::new(&policy, &b, &random_advantages(&b, seed + 2));
    (policy, samples)
}

/// `policy` with θ moved by `v`.
pub fn moved<P: Policy + Clone>(policy: &P, v: &Array1<f64>) -> P {
    let mut p = policy.clone();
    *p.params_mut() += v;
    p
}

pub fn direction(n: usize, seed: u64, scale: f64) -> Array1<f64> {
    let rng = &mut seeded(seed);
    Array1::from_shape_fn(n, |_| scale * rng.random_range(-1.0..1.0))
}

/// ∇D̄ at θ_old + `v`, analytic and by central differences.
pub fn kl_gradient_error<P: Head>(policy: &P, samples: &Samples<P::Action>, v: &Array1<f64>) -> f64 {
    let at = moved(policy, v);
    let mut analytic = Array1::zeros(policy.num_params());
    mean_kl(&at, samples, &mut MlpBatch::default(), Some(&mut analytic));
    let numeric = central_difference(
        |theta| {
            let mut p = at.clone();
            p.params_mut().assign(theta);
            mean_kl(&p, samples, &mut MlpBatch::default(), None)
        },
        at.params(),
        1e-5,
    );
    max_scaled_error(&analytic, &numeric)
}

/// How far a Fisher-vector product is from the two referees: central
/// differences of ∇D̄ along v, and the explicit matrix E[∇log π ∇log πᵀ] v.
pub fn fisher_errors<P: Head>(
    policy: &P,
    samples: &Samples<P::Action>,
    v: &Array1<f64>,
    product: &Array1<f64>,
) -> (f64, f64) {
    let h = 1e-5;
    let kl_grad = |t: f64| {
        let mut g = Array1::zeros(policy.num_params());
        mean_kl(&moved(policy, &(t * v)), samples, &mut MlpBatch::default(), Some(&mut g));
        g
    };
    let numeric = (kl_grad(h) - kl_grad(-h)) / (2.0 * h);
    let explicit = explicit_fisher(policy, samples).dot(v);
    let scale = explicit.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(1e-300);
    let relative =
        |a: &Array1<f64>, b: &Array1<f64>| (a - b).iter().fold(0.0f64, |m, x| m.max(x.abs())) / scale;
    (relative(product, &numeric), relative(product, &explicit))
}
