//! The chapter's experiments. Each returns its numbers; `pg book` turns them
//! into figures and tables, the notebook plots them, the tests check them.

use crate::train::{TrainConfig, TrainLog, train};
use crate::{BehaviourCloning, Estimator, Reinforce, single_trajectory_estimate};

pub mod broken;
use ndarray::Array1;
use pg_core::env::{CartPole, Stay, TabularMdp};
use pg_core::plot::{self, Spread};
use pg_core::policy::{Bernoulli, Categorical, Mlp, Policy, TabularSoftmax};
use pg_core::rng::{seeded, substream};
use pg_core::rollout::rollout;
use pg_core::{Batch, PgError};
use plotly::Plot;

/// The fixed policy at which the three-state MDP's gradient is estimated.
pub fn reference_policy() -> TabularSoftmax {
    let mut p = TabularSoftmax::new(3, 2);
    p.params_mut().assign(&Array1::from(vec![0.4, -0.3, -0.5, 0.6, 0.0, 0.0]));
    p
}

/// Estimator error against batch size on the three-state MDP.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorVsN {
    /// Batch sizes \\(N\\).
    pub ns: Vec<usize>,
    /// Root mean squared error \\(\sqrt{\mathbb{E}\|\hat g_N - \nabla J\|^2}\\) over the repetitions.
    pub rmse: Vec<f64>,
    /// For each \\(N\\): the mean and standard deviation, over repetitions, of \\(\|\hat g_N - \nabla J\|^2\\).
    pub sq_err_mean_sd: Vec<(f64, f64)>,
    /// The exact \\(\operatorname{tr}\operatorname{Cov}[\hat g_1]\\), so that the exact MSE is this over \\(N\\).
    pub trace_cov: f64,
    /// The least-squares slope of \\(\log\) RMSE against \\(\log N\\).
    pub slope: f64,
    /// Repetitions per \\(N\\).
    pub reps: usize,
}

/// The least-squares slope of `y` against `x`.
pub fn fit_slope(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let var: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    cov / var
}

// ANCHOR: error_vs_n
/// Samples `reps` batches of each size in `ns` and measures how far REINFORCE
/// lands from the exact gradient. Independent batches average independent
/// errors, so the RMSE falls like \\(N^{-1/2}\\).
pub fn error_vs_batch_size(ns: &[usize], reps: usize, seed: u64) -> ErrorVsN {
    let mut mdp = TabularMdp::three_state();
    let policy = reference_policy();
    let exact = mdp.exact_gradient(&policy);
    let second_moment = mdp.expectation(&policy, |t| {
        let g = single_trajectory_estimate(&policy, t);
        ndarray::arr1(&[g.dot(&g)])
    })[0];
    let trace_cov = second_moment - exact.dot(&exact);
    let mut rmse = Vec::new();
    let mut sq_err_mean_sd = Vec::new();
    for (k, &n) in ns.iter().enumerate() {
        let mut rng = substream(seed, k as u64);
        let errs: Vec<f64> = (0..reps)
            .map(|_| {
                let batch = Batch::sample(&mut mdp, &policy, n, &mut rng);
                let diff = Reinforce.gradient(&policy, &batch) - &exact;
                diff.dot(&diff)
            })
            .collect();
        let (mean, sd) = mean_sd(&errs);
        rmse.push(mean.sqrt());
        sq_err_mean_sd.push((mean, sd));
    }
    let log_n: Vec<f64> = ns.iter().map(|&n| (n as f64).ln()).collect();
    let log_e: Vec<f64> = rmse.iter().map(|e| e.ln()).collect();
    ErrorVsN { ns: ns.to_vec(), rmse, sq_err_mean_sd, trace_cov, slope: fit_slope(&log_n, &log_e), reps }
}
// ANCHOR_END: error_vs_n

/// Sample mean and (n-1)-normalised standard deviation.
pub fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

impl ErrorVsN {
    /// The log-log figure, with the exact \\(\sqrt{\operatorname{tr}\Sigma/N}\\) as a dashed reference.
    pub fn plot(&self) -> Plot {
        let x: Vec<f64> = self.ns.iter().map(|&n| n as f64).collect();
        let reference: Vec<f64> = x.iter().map(|n| (self.trace_cov / n).sqrt()).collect();
        plot::log_log(
            "REINFORCE error against batch size (three-state MDP)",
            "trajectories per batch N",
            "RMS error of the gradient estimate",
            &[
                ("measured", x.clone(), self.rmse.clone()),
                ("reference: exact sqrt(tr Cov / N)", x, reference),
            ],
        )
    }
}

/// Settings of the CartPole learning-curve experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct CartPoleSetup {
    /// Seeds, one run each.
    pub seeds: Vec<u64>,
    /// Hidden layer widths of the policy.
    pub hidden: Vec<usize>,
    /// Gradient steps, episodes per step, step size.
    pub iters: usize,
    /// Episodes per step.
    pub batch: usize,
    /// Adam's step size.
    pub lr: f64,
}

impl Default for CartPoleSetup {
    fn default() -> Self {
        Self { seeds: (0..5).collect(), hidden: vec![32, 32], iters: 100, batch: 16, lr: 0.01 }
    }
}

/// Trains a fresh CartPole policy with REINFORCE; the seed fixes both the
/// initial weights and the sampled episodes.
pub fn train_cartpole(seed: u64, setup: &CartPoleSetup) -> Result<TrainLog, PgError> {
    let mut policy = Categorical::mlp(4, &setup.hidden, 2, &mut substream(seed, 1_000));
    let config = TrainConfig { iters: setup.iters, batch: setup.batch, lr: setup.lr, seed };
    train(&mut CartPole::new(), &mut policy, &Reinforce, &config, |_| {})
}

// ANCHOR: learning_curves
/// One REINFORCE run per seed, two at a time (one per core).
pub fn cartpole_learning_curves(setup: &CartPoleSetup) -> Result<Vec<TrainLog>, PgError> {
    let mut logs = Vec::new();
    for pair in setup.seeds.chunks(2) {
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> =
                pair.iter().map(|&seed| s.spawn(move || train_cartpole(seed, setup))).collect();
            handles.into_iter().map(|h| h.join().expect("a training thread panicked")).collect()
        });
        for r in results {
            logs.push(r?);
        }
    }
    Ok(logs)
}
// ANCHOR_END: learning_curves

/// Mean batch return per iteration, summarised over runs.
pub fn return_spread(logs: &[TrainLog]) -> Spread {
    let runs: Vec<Vec<f64>> =
        logs.iter().map(|l| l.iterations.iter().map(|s| s.mean_return).collect()).collect();
    let x: Vec<f64> = (1..=runs.first().map_or(0, Vec::len)).map(|i| i as f64).collect();
    Spread::new(&x, &runs)
}

/// The learning-curve figure.
pub fn learning_curve_plot(logs: &[TrainLog]) -> Plot {
    plot::learning_curves(
        &format!("REINFORCE on CartPole-v1 ({} seeds)", logs.len()),
        "iteration",
        "mean return of the batch",
        &[("REINFORCE", return_spread(logs))],
    )
}

/// The behaviour-cloning link, measured on one batch of CartPole episodes.
#[derive(Debug, Clone, PartialEq)]
pub struct BcLink {
    /// Each episode's return.
    pub returns: Vec<f64>,
    /// Each episode's change in \\(\log p_\theta(\tau)\\) per step after a REINFORCE step.
    pub reinforce_change: Vec<f64>,
    /// The same after a behaviour-cloning step of the same length.
    pub bc_change: Vec<f64>,
    /// Largest scaled error between the all-weights-one gradient and central
    /// differences of the batch's mean log-likelihood.
    pub bc_identity_error: f64,
}

// ANCHOR: bc_link
/// Samples CartPole episodes from a random linear policy, then takes one
/// step of length `step` along the behaviour-cloning gradient (weights 1) and
/// one along REINFORCE (weights \\(r(\tau)\\)), and records how each episode's
/// log-likelihood per step changed.
pub fn behaviour_cloning_link(seed: u64, episodes: usize, step: f64) -> BcLink {
    let mut rng = substream(seed, 0);
    let mut policy = Categorical::linear(4, 2);
    policy.params_mut().assign(&Array1::from(Mlp::new(4, &[], 2).init(1.0, &mut rng)));
    let batch = Batch::sample(&mut CartPole::new(), &policy, episodes, &mut rng);

    let bc = BehaviourCloning.gradient(&policy, &batch);
    let mean_log_lik = |p: &Categorical| {
        batch.trajectories.iter().map(|t| p.log_likelihood(t)).sum::<f64>() / batch.len() as f64
    };
    let bc_identity_error = pg_core::gradcheck::check_policy(&policy, &bc, mean_log_lik);

    let reinforce = Reinforce.gradient(&policy, &batch);
    let change_along = |g: &Array1<f64>| -> Vec<f64> {
        let mut moved = policy.clone();
        moved.params_mut().scaled_add(step / g.dot(g).sqrt(), g);
        batch
            .trajectories
            .iter()
            .map(|t| (moved.log_likelihood(t) - policy.log_likelihood(t)) / t.len() as f64)
            .collect()
    };
    BcLink {
        returns: batch.returns(),
        reinforce_change: change_along(&reinforce),
        bc_change: change_along(&bc),
        bc_identity_error,
    }
}
// ANCHOR_END: bc_link

/// Pearson correlation.
pub fn correlation(x: &[f64], y: &[f64]) -> f64 {
    let (mx, sx) = mean_sd(x);
    let (my, sy) = mean_sd(y);
    let cov = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum::<f64>() / (x.len() as f64 - 1.0);
    cov / (sx * sy)
}

impl BcLink {
    /// Scatter of per-step log-likelihood change against return, for both steps.
    pub fn plot(&self) -> Plot {
        use plotly::Scatter;
        use plotly::common::Mode;
        let mut plot = Plot::new();
        for (name, ys) in
            [("REINFORCE step", &self.reinforce_change), ("behaviour-cloning step", &self.bc_change)]
        {
            plot.add_trace(Scatter::new(self.returns.clone(), ys.clone()).mode(Mode::Markers).name(name));
        }
        plot.set_layout(
            plotly::Layout::new()
                .title(plotly::common::Title::with_text("Which episodes become likelier?"))
                .x_axis(plotly::layout::Axis::new().title(plotly::common::Title::with_text("episode return")))
                .y_axis(
                    plotly::layout::Axis::new()
                        .title(plotly::common::Title::with_text("change in log-likelihood per step")),
                ),
        );
        plot
    }
}

/// The largest standardised error
/// \\(|z_k| = |\bar g_k - \nabla_k J| / (s_k/\sqrt n)\\) over the gradient components of
/// `n` single-trajectory estimates on the three-state MDP, at the reference policy.
///
/// Components that are exactly zero in every sample (the terminal state's)
/// have no standard error; they must then equal the exact gradient, else
/// the result is infinite.
pub fn unbiasedness_max_z<E: Estimator>(estimator: &E, n: usize, seed: u64) -> f64 {
    let mut mdp = TabularMdp::three_state();
    let policy = reference_policy();
    let exact = mdp.exact_gradient(&policy);
    let mut rng = seeded(seed);
    let samples: Vec<Array1<f64>> = (0..n)
        .map(|_| {
            let batch = Batch::sample(&mut mdp, &policy, 1, &mut rng);
            estimator.gradient(&policy, &batch)
        })
        .collect();
    let mut worst: f64 = 0.0;
    for k in 0..policy.num_params() {
        let column: Vec<f64> = samples.iter().map(|g| g[k]).collect();
        let (mean, sd) = mean_sd(&column);
        let z = if sd == 0.0 {
            if mean == exact[k] { 0.0 } else { f64::INFINITY }
        } else {
            ((mean - exact[k]) / (sd / (n as f64).sqrt())).abs()
        };
        worst = worst.max(z);
    }
    worst
}

/// The plain estimator's variance on the one-state "stay" MDP, simulated.
#[derive(Debug, Clone, PartialEq)]
pub struct StayVariance {
    /// The stay probability \\(\theta\\).
    pub theta: f64,
    /// Draws.
    pub n: usize,
    /// The sample mean of the single-trajectory estimate.
    pub mean: f64,
    /// The sample variance.
    pub variance: f64,
    /// \\((4\theta + 8 + 1/\theta)/(1-\theta)^4\\).
    pub closed_form: f64,
}

/// The closed-form variance of the plain estimator on the "stay" MDP.
pub fn stay_closed_form_variance(theta: f64) -> f64 {
    (4.0 * theta + 8.0 + 1.0 / theta) / (1.0 - theta).powi(4)
}

// ANCHOR: stay_variance
/// Simulates `n` episodes of the "stay" MDP with stay probability `theta` and
/// measures the mean and variance of the single-trajectory REINFORCE estimate.
pub fn stay_variance(theta: f64, n: usize, seed: u64) -> StayVariance {
    let policy = Bernoulli::new(theta);
    let mut env = Stay::new();
    let mut rng = seeded(seed);
    let draws: Vec<f64> = (0..n)
        .map(|_| single_trajectory_estimate(&policy, &rollout(&mut env, &policy, &mut rng))[0])
        .collect();
    let (mean, sd) = mean_sd(&draws);
    StayVariance { theta, n, mean, variance: sd * sd, closed_form: stay_closed_form_variance(theta) }
}
// ANCHOR_END: stay_variance
