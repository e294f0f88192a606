//! The kernels a training iteration spends its time in, on CartPole-sized
//! inputs: one forward pass, the per-step gradient of a batch, and the
//! batched surrogate gradient of the same batch. `cargo bench -p pg-surrogate`.

use ndarray::Array1;
use pg_core::env::CartPole;
use pg_core::policy::{Categorical, MlpBatch, Policy};
use pg_core::rng::seeded;
use pg_core::{Batch, StepWeights};
use pg_surrogate::{BatchedPolicy, Steps};

fn main() {
    divan::main();
}

/// A 4-w-w-2 policy and a batch of 32 episodes from it.
fn setup(width: usize) -> (Categorical, Batch<usize>, StepWeights) {
    let policy = Categorical::mlp(4, &[width, width], 2, &mut seeded(1));
    let batch = Batch::sample(&mut CartPole::new(), &policy, 32, &mut seeded(2));
    let weights = StepWeights::per_trajectory(&batch, |_, t| t.total_reward());
    (policy, batch, weights)
}

#[divan::bench(args = [32, 64, 128])]
fn forward_one_step(bencher: divan::Bencher, width: usize) {
    let (policy, batch, _) = setup(width);
    let obs = batch.trajectories[0].obs[0].clone();
    bencher.bench_local(|| policy.log_prob(divan::black_box(obs.view()), &0));
}

#[divan::bench(args = [32, 64, 128])]
fn per_step_gradient(bencher: divan::Bencher, width: usize) {
    let (policy, batch, weights) = setup(width);
    bencher.counter(divan::counter::ItemsCount::new(batch.num_steps())).bench_local(|| {
        let mut grad = Array1::zeros(policy.num_params());
        policy.add_weighted_scores(&batch, &weights, &mut grad);
        grad
    });
}

#[divan::bench(args = [32, 64, 128])]
fn batched_gradient(bencher: divan::Bencher, width: usize) {
    let (policy, batch, weights) = setup(width);
    let steps = Steps::from_batch(&batch);
    let mut work = MlpBatch::default();
    bencher.counter(divan::counter::ItemsCount::new(batch.num_steps())).bench_local(|| {
        let mut grad = Array1::zeros(policy.num_params());
        policy.surrogate(&steps, weights.flat(), &mut grad, &mut work);
        grad
    });
}
