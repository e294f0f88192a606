//! The cost of chapter 7's pieces: an environment step of the struct of
//! arrays, the per-step forward pass over five rows (row by row and by
//! matrix products), the batched gradient, and a whole training iteration.
//! `cargo bench -p pg-speed`.

use divan::counter::ItemsCount;
use ndarray::{Array1, Array2};
use pg_core::policy::MlpBatch;
use pg_core::{Policy, seeded};
use pg_speed::experiments::initial_policy;
use pg_speed::{CartPoles, Group, Quota, Sampler, Weighting};
use rand::RngExt;

fn main() {
    divan::main();
}

#[divan::bench]
fn cartpoles_step(bencher: divan::Bencher) {
    let mut rng = seeded(0);
    let mut envs = CartPoles::new(8);
    (0..8).for_each(|i| envs.reset(i, &mut rng));
    bencher.counter(ItemsCount::new(8usize)).bench_local(|| {
        for i in 0..8 {
            let (_, end) = envs.step(i, rng.random_range(0..2));
            if end.terminated || end.truncated {
                envs.reset(i, &mut rng);
            }
        }
    });
}

/// Five rows (one step of a group) through a 4-w-2 network, appended to a batch.
#[divan::bench(args = [32, 64, 128])]
fn forward_five_rows_few(bencher: divan::Bencher, width: usize) {
    let policy = initial_policy(&[width], 0);
    let mut transposed = vec![];
    policy.net().transpose_weights(policy.params().as_slice().unwrap(), &mut transposed);
    let x = Array2::from_elem((5, 4), 0.01);
    let mut work = MlpBatch::default();
    bencher.counter(ItemsCount::new(5usize)).bench_local(|| {
        if work.rows() > 5_000 {
            work.clear();
        }
        policy.net().forward_append_few(&transposed, x.view(), &mut work);
    });
}

/// The same two layers (bias left out) through the library's matrix product,
/// ndarray's `general_mat_mul`, which packs its operands into blocks first.
#[divan::bench(args = [32, 64, 128])]
fn forward_five_rows_matrix_product(bencher: divan::Bencher, width: usize) {
    let (w1, w2) = (Array2::from_elem((width, 4), 0.01), Array2::from_elem((2, width), 0.01));
    let x = Array2::from_elem((5, 4), 0.01);
    let (mut hidden, mut out) = (Array2::zeros((5, width)), Array2::zeros((5, 2)));
    bencher.counter(ItemsCount::new(5usize)).bench_local(|| {
        ndarray::linalg::general_mat_mul(1.0, &x, &w1.t(), 0.0, &mut hidden);
        pg_core::fastmath::tanh_in_place(hidden.as_slice_mut().unwrap());
        ndarray::linalg::general_mat_mul(1.0, &hidden, &w2.t(), 0.0, &mut out);
    });
}

/// Weights and the backward pass over a sampled batch of at least 5000 steps.
#[divan::bench(args = [32, 64, 128])]
fn batched_gradient(bencher: divan::Bencher, width: usize) {
    let policy = initial_policy(&[width], 0);
    let mut group = Group::new(5, seeded(1));
    group.sample(&policy, Quota::Steps(5_000));
    let mut grad = Array1::zeros(policy.num_params());
    bencher.counter(ItemsCount::new(group.num_steps())).bench_local(|| {
        group.weigh(Weighting::RewardToGo(1.0));
        group.add_surrogate_gradient(&policy, 1, &mut grad)
    });
}

/// Sampling a batch of at least 5000 steps and its gradient, two groups of five, every core.
#[divan::bench(args = [32, 64, 128])]
fn training_iteration(bencher: divan::Bencher, width: usize) {
    let policy = initial_policy(&[width], 0);
    let mut sampler = Sampler::new(2, 5, Quota::Steps(5_000), 0).unwrap();
    sampler.sample(&policy);
    bencher
        .counter(ItemsCount::new(sampler.num_steps()))
        .bench_local(|| sampler.sample_gradient(&policy, Weighting::RewardToGo(1.0), false));
}
