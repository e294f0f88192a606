//! Chapter 7's measurements: training throughput against batch size,
//! network width and thread count, where the time of one step goes, and
//! how far that is from what the processor could do.

use crate::{CartPoles, Group, Quota, Sampler, VecConfig, Weighting, train, with_threads};
use ndarray::Array2;
use ndarray::linalg::general_mat_mul;
use pg_core::policy::{Categorical, MlpBatch};
use pg_core::rng::substream;
use pg_core::{PgError, Policy, seeded};
use pg_kl_constraint::experiments::{Algo, Setup};
use pg_likelihood_ratio::TrainLog;
use pg_likelihood_ratio::{TrainConfig, train_with};
use rand::RngExt;
use std::hint::black_box;
use std::time::Instant;

/// One timed training run.
#[derive(Debug, Clone)]
pub struct Timed {
    /// What the run measured.
    pub log: TrainLog,
    /// Its wall-clock seconds, start to finish.
    pub seconds: f64,
}

impl Timed {
    /// Environment steps per second over the whole run.
    pub fn steps_per_second(&self) -> f64 {
        self.log.env_steps() as f64 / self.seconds
    }
}

/// The policy `pg train` starts from: an MLP with tanh layers of widths
/// `hidden`, initialised from stream 1000 of `seed`.
pub fn initial_policy(hidden: &[usize], seed: u64) -> Categorical {
    Categorical::mlp(4, hidden, 2, &mut substream(seed, 1_000))
}

/// Trains from scratch with `config` on `threads` threads and times it.
pub fn timed_run(config: &VecConfig, hidden: &[usize], threads: usize) -> Result<Timed, PgError> {
    let mut policy = initial_policy(hidden, config.seed);
    let start = Instant::now();
    let log = with_threads(threads, || train(&mut policy, config, |_| {}))??;
    Ok(Timed { log, seconds: start.elapsed().as_secs_f64() })
}

// ANCHOR: lockstep_kl
/// Chapter 6's update `algo` with the setup's CartPole settings and policy,
/// its batches sampled in lockstep by two groups sharing the batch's
/// episodes, on the threads of the current pool.
pub fn train_cartpole_lockstep(algo: Algo, seed: u64, setup: &Setup) -> Result<TrainLog, PgError> {
    let mut update = setup.update(algo, setup.advantages(4, seed)?, seed)?;
    let mut policy = Categorical::mlp(4, &setup.hidden, 2, &mut substream(seed, 1_000));
    let mut sampler = Sampler::new(2, setup.batch.div_ceil(2), Quota::Episodes(setup.batch), seed)?;
    let config =
        TrainConfig { iters: usize::MAX, batch: setup.batch, seed, max_env_steps: Some(setup.max_env_steps) };
    let sample = |policy: &Categorical, _: &mut pg_core::PgRng| {
        sampler.sample(policy);
        sampler.batch()
    };
    train_with(&mut policy, update.as_mut(), &config, sample, |_| {})
}
// ANCHOR_END: lockstep_kl

/// The chapter's run: reward-to-go, batches of at least 5000 steps, Adam
/// with step size 0.01, two groups of five environments, stopping at `budget` steps.
pub fn config(budget: usize, seed: u64) -> VecConfig {
    VecConfig { iters: usize::MAX, max_env_steps: Some(budget), seed, ..VecConfig::reward_to_go(5_000) }
}

/// Throughput (steps per second) of runs of `budget` steps, one per
/// setting, on the given threads; `setting` turns a point into a config and
/// hidden widths.
pub fn sweep<T: Copy>(
    points: &[T],
    threads: &[usize],
    setting: impl Fn(T) -> (VecConfig, Vec<usize>),
) -> Result<Vec<Vec<f64>>, PgError> {
    threads
        .iter()
        .map(|&t| {
            points
                .iter()
                .map(|&p| {
                    let (config, hidden) = setting(p);
                    timed_run(&config, &hidden, t).map(|r| r.steps_per_second())
                })
                .collect()
        })
        .collect()
}

/// Items per second of `work` (which returns how many items it did), repeated for about `seconds`.
pub fn per_second(seconds: f64, mut work: impl FnMut() -> usize) -> f64 {
    let start = Instant::now();
    let mut items = 0;
    loop {
        items += work();
        let elapsed = start.elapsed().as_secs_f64();
        if elapsed >= seconds {
            return items as f64 / elapsed;
        }
    }
}

/// Nanoseconds per item of `work`, repeated for about `seconds`.
pub fn nanos_per_item(seconds: f64, work: impl FnMut() -> usize) -> f64 {
    1e9 / per_second(seconds, work)
}

/// Where one environment step's time goes, on one thread, in nanoseconds
/// per step: (what, nanoseconds).
pub fn breakdown(hidden: &[usize], seconds: f64) -> Vec<(&'static str, f64)> {
    let policy = initial_policy(hidden, 0);
    let params = policy.params().as_slice().expect("contiguous parameters");
    let mut rng = seeded(7);
    let mut envs = CartPoles::new(5);
    (0..5).for_each(|i| envs.reset(i, &mut rng));
    let env = nanos_per_item(seconds, || {
        for i in 0..envs.len() {
            let (_, end) = envs.step(i, rng.random_range(0..2));
            if end.terminated || end.truncated {
                envs.reset(i, &mut rng);
            }
        }
        envs.len()
    });
    let mut transposed = vec![];
    policy.net().transpose_weights(params, &mut transposed);
    let x = Array2::from_shape_fn((5, 4), |(i, j)| 0.01 * (i + j) as f64);
    let mut work = MlpBatch::default();
    let forward = nanos_per_item(seconds, || {
        work.clear();
        for _ in 0..100 {
            policy.net().forward_append_few(&transposed, x.view(), &mut work);
        }
        black_box(work.output());
        500
    });
    let mut group = Group::new(5, seeded(3));
    let quota = Quota::Steps(5_000);
    let sample = nanos_per_item(seconds, || {
        group.sample(&policy, quota);
        group.num_steps()
    });
    let mut grad = ndarray::Array1::zeros(policy.num_params());
    let gradient = nanos_per_item(seconds, || {
        group.weigh(Weighting::RewardToGo(1.0));
        black_box(group.add_surrogate_gradient(&policy, group.episodes().len(), &mut grad));
        group.num_steps()
    });
    vec![
        ("CartPole dynamics (one environment step)", env),
        ("policy forward pass (five rows at a time)", forward),
        ("sampling a step (dynamics, forward pass, drawing the action, bookkeeping)", sample),
        ("gradient per step (weights, logits' gradient, backward pass)", gradient),
    ]
}

/// Floating-point operations of one step's forward and backward passes
/// through an MLP with layer widths `sizes` (input first): 2·in·out per
/// layer forward, the same for the weight gradient, and again for the
/// gradient sent to the layer below (none below the first layer).
pub fn flops_per_step(sizes: &[usize]) -> usize {
    let products: Vec<usize> = sizes.windows(2).map(|w| w[0] * w[1]).collect();
    let all: usize = products.iter().sum();
    2 * all + 2 * all + 2 * products.iter().skip(1).sum::<usize>()
}

/// The processor's practical peak on one core: GFLOP/s of a 256 × 256
/// matrix product (the library's best case), and nanoseconds per tanh over
/// a long slice, the project's and the standard library's.
pub fn machine(seconds: f64) -> (f64, f64, f64) {
    let n = 256;
    let a = Array2::from_shape_fn((n, n), |(i, j)| ((i * n + j) as f64).sin());
    let mut c = Array2::zeros((n, n));
    let ns_per_product = nanos_per_item(seconds, || {
        general_mat_mul(1.0, &a, &a, 0.0, &mut c);
        1
    });
    let gflops = 2.0 * (n * n * n) as f64 / ns_per_product;
    let mut xs: Vec<f64> = (0..4096).map(|i| (i as f64 * 0.01).sin() * 3.0).collect();
    let tanh_ns = nanos_per_item(seconds, || {
        pg_core::fastmath::tanh_in_place(&mut xs);
        black_box(&xs);
        xs.len()
    });
    let library_ns = nanos_per_item(seconds, || {
        xs.iter_mut().for_each(|x| *x = x.tanh());
        black_box(&xs);
        xs.len()
    });
    (gflops, tanh_ns, library_ns)
}
