//! The cost of chapter 6's pieces on CartPole-sized inputs: one
//! Fisher-vector product, the mean KL with its gradient, and a whole
//! conjugate-gradient solve. `cargo bench -p pg-kl-constraint`.

use ndarray::Array1;
use pg_core::env::CartPole;
use pg_core::policy::{Categorical, MlpBatch, Policy};
use pg_core::rng::seeded;
use pg_core::{Batch, StepWeights};
use pg_kl_constraint::{Fisher, Samples, conjugate_gradient, mean_kl};

fn main() {
    divan::main();
}

/// A 4-w-w-2 policy and the samples of 32 episodes from it.
fn setup(width: usize) -> (Categorical, Samples<usize>) {
    let policy = Categorical::mlp(4, &[width, width], 2, &mut seeded(1));
    let batch = Batch::sample(&mut CartPole::new(), &policy, 32, &mut seeded(2));
    let adv = StepWeights::per_trajectory(&batch, |_, t| t.total_reward());
    let samples = Samples::new(&policy, &batch, &adv);
    (policy, samples)
}

#[divan::bench(args = [32, 64, 128])]
fn fisher_vector_product(bencher: divan::Bencher, width: usize) {
    let (policy, samples) = setup(width);
    let mut fisher = Fisher::new(&policy, &samples, 0.1);
    let v = Array1::from_elem(policy.num_params(), 0.01);
    bencher.counter(divan::counter::ItemsCount::new(samples.len())).bench_local(|| fisher.apply(&v));
}

#[divan::bench(args = [32, 64, 128])]
fn mean_kl_and_gradient(bencher: divan::Bencher, width: usize) {
    let (policy, samples) = setup(width);
    let mut work = MlpBatch::default();
    bencher.counter(divan::counter::ItemsCount::new(samples.len())).bench_local(|| {
        let mut g = Array1::zeros(policy.num_params());
        mean_kl(&policy, &samples, &mut work, Some(&mut g));
        g
    });
}

#[divan::bench(args = [32, 64, 128])]
fn conjugate_gradient_ten_iterations(bencher: divan::Bencher, width: usize) {
    let (policy, samples) = setup(width);
    let mut fisher = Fisher::new(&policy, &samples, 0.1);
    let g = Array1::from_elem(policy.num_params(), 0.01);
    bencher.bench_local(|| conjugate_gradient(|v| fisher.apply(v), &g, 10, 0.0));
}
