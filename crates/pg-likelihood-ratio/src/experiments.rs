//! The chapter's experiments, generic over the estimator so that later
//! chapters rerun them with theirs. Each returns its numbers; [`crate::book`]
//! turns them into figures and tables, the notebook plots them, the tests
//! check them.

use crate::exact::{Moments, exact_moments};
use crate::train::{Episode, TrainConfig, TrainLog, train};
use crate::{BehaviourCloning, Estimator, PolicyGradient, Reinforce};

pub mod broken;
use ndarray::Array1;
use pg_core::env::{CartPole, Stay, TabularMdp};
use pg_core::plot::{self, Spread};
use pg_core::policy::{Bernoulli, Categorical, Mlp, Policy, TabularSoftmax};
use pg_core::report::{folded, markdown_table};
use pg_core::rng::{seeded, substream};
use pg_core::rollout::rollout;
use pg_core::{Batch, PgError};
use plotly::Plot;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The fixed policy at which the three-state MDP's gradient is estimated.
pub fn reference_policy() -> TabularSoftmax {
    three_state_policy(&[0.4, -0.3, -0.5, 0.6, 0.0, 0.0])
}

/// A tabular policy for the three-state MDP with parameters `theta` (six of them).
pub fn three_state_policy(theta: &[f64]) -> TabularSoftmax {
    let mut p = TabularSoftmax::new(3, 2);
    p.params_mut().assign(&Array1::from(theta.to_vec()));
    p
}

/// Sample mean and (n − 1)-normalised standard deviation.
pub fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// The least-squares slope of `y` against `x`.
pub fn fit_slope(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let var: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    cov / var
}

/// Pearson correlation.
pub fn correlation(x: &[f64], y: &[f64]) -> f64 {
    let (mx, sx) = mean_sd(x);
    let (my, sy) = mean_sd(y);
    let cov = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum::<f64>() / (x.len() as f64 - 1.0);
    cov / (sx * sy)
}

/// Runs `f` on every item, on rayon's threads (one per core), and returns the
/// results in the items' order. Idle threads take the next waiting item, so
/// a long run does not hold back the others, and the results do not depend
/// on the thread count as long as each `f(item)` does not.
pub fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use rayon::prelude::*;
    items.par_iter().map(&f).collect()
}

/// Runs `run(setting, seed)` for every setting and every seed, on every
/// core; `result[i][j]` belongs to `settings[i]` and `seeds[j]`, or the
/// first error in that order.
pub fn runs_grid<T: Sync, R: Send, E: Send>(
    settings: &[T],
    seeds: &[u64],
    run: impl Fn(&T, u64) -> Result<R, E> + Sync,
) -> Result<Vec<Vec<R>>, E> {
    let jobs: Vec<(usize, u64)> =
        (0..settings.len()).flat_map(|i| seeds.iter().map(move |&s| (i, s))).collect();
    let mut results = parallel_map(&jobs, |&(i, s)| run(&settings[i], s)).into_iter();
    settings.iter().map(|_| results.by_ref().take(seeds.len()).collect()).collect()
}

/// Estimator error against batch size on the three-state MDP.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorVsN {
    /// Batch sizes N.
    pub ns: Vec<usize>,
    /// Root mean squared error √(E‖ĝ_N − ∇J‖²) over the repetitions.
    pub rmse: Vec<f64>,
    /// For each N: the mean and standard deviation, over repetitions, of ‖ĝ_N − ∇J‖².
    pub sq_err_mean_sd: Vec<(f64, f64)>,
    /// The exact tr Cov[ĝ₁], so that the exact MSE of an unbiased estimator is this over N.
    pub trace_cov: f64,
    /// The least-squares slope of log RMSE against log N.
    pub slope: f64,
    /// Repetitions per N.
    pub reps: usize,
}

// ANCHOR: error_vs_n
/// Samples `reps` batches of each size in `ns` and measures how far the
/// estimate lands from the exact gradient. Independent batches average
/// independent errors, so for an unbiased estimator the RMSE falls like N^(−1/2).
pub fn error_vs_batch_size<E>(estimator: &E, ns: &[usize], reps: usize, seed: u64) -> ErrorVsN
where
    E: Estimator<TabularSoftmax> + ?Sized,
{
    let mut mdp = TabularMdp::three_state();
    let policy = reference_policy();
    let exact = mdp.exact_gradient(&policy);
    let trace_cov = exact_moments(&mdp, &policy, estimator, 1).total_variance();
    let mut rmse = Vec::new();
    let mut sq_err_mean_sd = Vec::new();
    for (k, &n) in ns.iter().enumerate() {
        let mut rng = substream(seed, k as u64);
        let errs: Vec<f64> = (0..reps)
            .map(|_| {
                let batch = Batch::sample(&mut mdp, &policy, n, &mut rng);
                let diff = estimator.gradient(&policy, &batch) - &exact;
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

impl ErrorVsN {
    /// The log-log figure, with the exact √(tr Σ / N) as a reference line.
    pub fn plot(&self, title: &str) -> Plot {
        let x: Vec<f64> = self.ns.iter().map(|&n| n as f64).collect();
        let reference: Vec<f64> = x.iter().map(|n| (self.trace_cov / n).sqrt()).collect();
        plot::log_log(
            title,
            "trajectories per batch N",
            "RMS error of the gradient estimate",
            &[
                ("measured", x.clone(), self.rmse.clone()),
                ("reference: exact sqrt(tr Cov / N)", x, reference),
            ],
        )
    }

    /// The table beside the figure.
    pub fn table(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .ns
            .iter()
            .zip(&self.rmse)
            .map(|(n, r)| {
                vec![n.to_string(), format!("{r:.4}"), format!("{:.4}", (self.trace_cov / *n as f64).sqrt())]
            })
            .collect();
        markdown_table(&["N", "RMS error", "exact $\\sqrt{\\operatorname{tr}\\Sigma/N}$"], &rows)
            + &format!(
                "\n{} batches per row; $\\operatorname{{tr}}\\Sigma = {:.3}$ by enumeration; fitted log-log slope {:.3}.\n",
                self.reps, self.trace_cov, self.slope
            )
    }
}

/// Settings of the CartPole learning-curve experiments.
#[derive(Debug, Clone, PartialEq)]
pub struct CartPoleSetup {
    /// Seeds, one run each.
    pub seeds: Vec<u64>,
    /// Hidden layer widths of the policy.
    pub hidden: Vec<usize>,
    /// Iterations (batches), at most.
    pub iters: usize,
    /// Environment steps, at most (the run stops after the iteration that reaches it).
    pub max_env_steps: Option<usize>,
    /// Episodes per batch.
    pub batch: usize,
    /// Adam's step size.
    pub lr: f64,
}

impl Default for CartPoleSetup {
    fn default() -> Self {
        Self {
            seeds: (0..5).collect(),
            hidden: vec![32, 32],
            iters: 100,
            max_env_steps: None,
            batch: 16,
            lr: 0.01,
        }
    }
}

/// CartPole-v1 counts as solved at this mean return over 100 episodes.
pub const CARTPOLE_SOLVED: f64 = 475.0;

/// Trains a fresh CartPole policy with `estimator` and one Adam step per
/// batch; the seed fixes both the initial weights and the sampled episodes,
/// so two estimators run with the same seed start from the same policy.
pub fn train_cartpole<E: Estimator<Categorical>>(
    estimator: E,
    seed: u64,
    setup: &CartPoleSetup,
) -> Result<TrainLog, PgError> {
    let mut policy = Categorical::mlp(4, &setup.hidden, 2, &mut substream(seed, 1_000));
    let config =
        TrainConfig { iters: setup.iters, batch: setup.batch, seed, max_env_steps: setup.max_env_steps };
    let mut update = PolicyGradient::adam(estimator, setup.lr)?;
    train(&mut CartPole::new(), &mut policy, &mut update, &config, |_| {})
}

// ANCHOR: learning_curves
/// One run per seed, on every core at once.
///
/// A run is fixed by the estimator (its name includes its settings), the
/// seed and the setup, so finished runs are kept for the rest of the process:
/// a later chapter comparing against this estimator reuses them.
pub fn cartpole_learning_curves<E>(estimator: &E, setup: &CartPoleSetup) -> Result<Vec<TrainLog>, PgError>
where
    E: Estimator<Categorical> + Clone + Send + Sync,
{
    static FINISHED: Mutex<BTreeMap<String, TrainLog>> = Mutex::new(BTreeMap::new());
    let key = |seed: u64| format!("{} | seed {seed} | {setup:?}", estimator.name());
    // A panic elsewhere cannot leave the map half-updated, so a poisoned lock is still usable.
    let finished = || FINISHED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let run = |&seed: &u64| {
        let known = finished().get(&key(seed)).cloned();
        match known {
            Some(log) => Ok(log),
            None => {
                let log = train_cartpole(estimator.clone(), seed, setup)?;
                finished().insert(key(seed), log.clone());
                Ok(log)
            }
        }
    };
    parallel_map(&setup.seeds, run).into_iter().collect()
}
// ANCHOR_END: learning_curves

/// The mean return of the last `window` episodes finished by each point of
/// `grid` (environment steps), for every run; a run contributes only up to
/// the steps it took.
pub fn steps_spread(logs: &[TrainLog], grid: &[f64], window: usize) -> Spread {
    spread_over(logs, grid, window, |e| e.env_steps as f64)
}

/// The mean return of the last `window` episodes finished by each point of
/// `grid`, where an episode's position is `x(episode)` (environment steps,
/// wall seconds, ...), for every run; a run contributes only up to its last episode.
pub fn spread_over(logs: &[TrainLog], grid: &[f64], window: usize, x: impl Fn(&Episode) -> f64) -> Spread {
    let runs: Vec<Vec<f64>> = logs
        .iter()
        .map(|log| {
            let last = log.episodes.last().map_or(0.0, &x);
            grid.iter()
                .take_while(|&&g| g <= last)
                .map(|&g| {
                    let done = log.episodes.partition_point(|e| x(e) <= g);
                    let tail = &log.episodes[done.saturating_sub(window)..done];
                    tail.iter().map(|e| e.ret).sum::<f64>() / tail.len().max(1) as f64
                })
                .collect()
        })
        .collect();
    Spread::new(grid, &runs)
}

/// Learning curves of several estimators against environment steps: the mean
/// return of the last 100 episodes, median and interquartile band over seeds
/// (small multiples beyond four estimators).
pub fn learning_curve_plot(title: &str, groups: &[(&str, &[TrainLog])]) -> Plot {
    let grid = step_grid(groups.iter());
    let spreads: Vec<(&str, Spread)> =
        groups.iter().map(|(name, logs)| (*name, steps_spread(logs, &grid, 100))).collect();
    plot::compare_curves(title, "environment steps", LEARNING_CURVE_Y, &spreads)
}

/// The y-axis of every learning curve against environment steps.
const LEARNING_CURVE_Y: &str = "mean return of the last 100 episodes";

/// 200 points up to the longest run's environment steps.
fn step_grid<'a>(groups: impl Iterator<Item = &'a (&'a str, &'a [TrainLog])>) -> Vec<f64> {
    let max_steps = groups.flat_map(|(_, logs)| logs.iter().map(TrainLog::env_steps)).max().unwrap_or(0);
    (1..=200).map(|i| i as f64 * max_steps as f64 / 200.0).collect()
}

/// A labelled set of runs: one estimator's or algorithm's runs over the seeds.
pub type Runs<'a> = (&'a str, &'a [TrainLog]);

/// Learning curves as [`learning_curve_plot`] draws them, in the panels the
/// caller chose: `(heading, groups)` each, at most four groups a panel.
pub fn learning_curve_panels(title: &str, panels: &[(&str, Vec<Runs>)]) -> Plot {
    let grid = step_grid(panels.iter().flat_map(|(_, groups)| groups.iter()));
    let spreads: Vec<(&str, Vec<(&str, Spread)>)> = panels
        .iter()
        .map(|(heading, groups)| {
            (*heading, groups.iter().map(|(name, logs)| (*name, steps_spread(logs, &grid, 100))).collect())
        })
        .collect();
    plot::learning_curve_panels(title, "environment steps", LEARNING_CURVE_Y, plot::Axes::Linear, &spreads)
}

/// A table with one row per group and one column per seed, each cell `cell`
/// of that seed's run (a group's runs are in the order of `seeds`; "–" where
/// a group has fewer runs).
pub fn per_seed_table(
    seeds: &[u64],
    groups: &[(&str, &[TrainLog])],
    cell: impl Fn(&TrainLog) -> String,
) -> String {
    let mut headers = vec!["".to_string()];
    headers.extend(seeds.iter().map(|s| format!("seed {s}")));
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|(name, logs)| {
            let cells = (0..seeds.len()).map(|i| logs.get(i).map_or("–".into(), &cell));
            std::iter::once(name.to_string()).chain(cells).collect()
        })
        .collect();
    markdown_table(&headers, &rows)
}

/// When a run first reached a 100-episode mean of 475, in environment steps.
pub fn steps_to_solve(log: &TrainLog) -> Option<usize> {
    log.solved_at(CARTPOLE_SOLVED, 100).map(|e| e.env_steps)
}

/// When a run first reached a 100-episode mean of 475, in seconds since it started.
pub fn seconds_to_solve(log: &TrainLog) -> Option<f64> {
    log.solved_at(CARTPOLE_SOLVED, 100).map(|e| e.wall_seconds)
}

/// How a set of CartPole runs fared against 475: the medians of their steps
/// and seconds to get there (a run that never did counts as infinitely slow;
/// `None` when at least half never did), and how many did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Solving {
    /// The median steps to 475.
    pub median_steps: Option<f64>,
    /// The median wall-clock seconds to 475.
    pub median_seconds: Option<f64>,
    /// Runs that got there.
    pub solved: usize,
    /// Runs in all.
    pub runs: usize,
}

impl Solving {
    /// Measures `logs`.
    pub fn of<'a>(logs: impl IntoIterator<Item = &'a TrainLog> + Clone) -> Self {
        let steps = |l: &TrainLog| steps_to_solve(l).map(|s| s as f64);
        Self {
            median_steps: median_of_some(logs.clone().into_iter().map(steps)),
            median_seconds: median_of_some(logs.clone().into_iter().map(seconds_to_solve)),
            solved: logs.clone().into_iter().filter(|l| steps_to_solve(l).is_some()).count(),
            runs: logs.into_iter().count(),
        }
    }
}

/// `x` with `digits` decimals, or "never" for a run that never got there.
pub fn or_never(x: Option<f64>, digits: usize) -> String {
    x.map_or("never".into(), |v| format!("{v:.digits$}"))
}

/// The median over runs, counting a run that never got there as infinitely
/// slow, with `digits` decimals, or "never".
pub fn median_or_never(xs: impl IntoIterator<Item = Option<f64>>, digits: usize) -> String {
    or_never(median_of_some(xs), digits)
}

/// The median of the runs' steps to 475, counting a run that never got there
/// as infinitely slow (`None` when at least half never did).
pub fn median_steps_to_solve(logs: &[TrainLog]) -> Option<f64> {
    median_steps_to(logs, CARTPOLE_SOLVED)
}

/// The median of the runs' steps until the mean return of the last 100
/// episodes first reached `threshold`, counting a run that never got there
/// as infinitely slow (`None` when at least half never did).
pub fn median_steps_to(logs: &[TrainLog], threshold: f64) -> Option<f64> {
    median_of_some(logs.iter().map(|l| l.solved_at(threshold, 100).map(|e| e.env_steps as f64)))
}

/// The median of `xs` (the mean of the middle two for an even count; NaN
/// for none).
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => xs[n / 2],
        _ => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

/// The median of values that may be missing (a run that never got
/// somewhere), a missing one counted as infinitely large; `None` when at
/// least half are missing.
pub fn median_of_some(xs: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let m = median(xs.into_iter().map(|x| x.unwrap_or(f64::INFINITY)).collect());
    m.is_finite().then_some(m)
}

/// Steps to 475 of several estimators' runs: a summary (median, interquartile
/// range, runs that got there) and, folded below it, the steps of every seed.
pub fn solved_table(setup: &CartPoleSetup, groups: &[(&str, &[TrainLog])]) -> String {
    let steps = |logs: &[TrainLog]| -> Vec<f64> {
        logs.iter().map(|l| steps_to_solve(l).map_or(f64::INFINITY, |s| s as f64)).collect()
    };
    let shown = |x: f64| if x.is_finite() { format!("{x:.0}") } else { "never".into() };
    let summary: Vec<Vec<String>> = groups
        .iter()
        .map(|(name, logs)| {
            let s = steps(logs);
            vec![
                name.to_string(),
                median_steps_to_solve(logs).map_or("never".into(), |m| format!("{m:.0}")),
                format!("{} to {}", shown(plot::quantile(&s, 0.25)), shown(plot::quantile(&s, 0.75))),
                format!("{} of {}", s.iter().filter(|x| x.is_finite()).count(), s.len()),
            ]
        })
        .collect();
    format!(
        "Environment steps until the mean return of the last 100 episodes first reached {CARTPOLE_SOLVED} \
         (\"never\": not within the budget), over {} seeds. Settings: hidden layers {:?}, {} episodes per batch, \
         Adam step size {}, at most {} iterations{}.\n\n",
        setup.seeds.len(),
        setup.hidden,
        setup.batch,
        setup.lr,
        setup.iters,
        setup.max_env_steps.map_or(String::new(), |m| format!(" or {m} environment steps"))
    ) + &markdown_table(
        &["estimator", "median steps", "25th to 75th percentile", "runs that got there"],
        &summary,
    ) + &folded(
        "Steps to 475, seed by seed",
        &per_seed_table(&setup.seeds, groups, |l| shown(steps(std::slice::from_ref(l))[0])),
    )
}

/// The behaviour-cloning link, measured on one batch of CartPole episodes.
#[derive(Debug, Clone, PartialEq)]
pub struct BcLink {
    /// Each episode's return.
    pub returns: Vec<f64>,
    /// Each episode's change in log pθ(τ) per step after a REINFORCE step.
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
/// one along REINFORCE (weights r(τ)), and records how each episode's
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

impl BcLink {
    /// corr(return, change per step) after the REINFORCE step and after the behaviour-cloning step.
    pub fn correlations(&self) -> (f64, f64) {
        (correlation(&self.returns, &self.reinforce_change), correlation(&self.returns, &self.bc_change))
    }

    /// Scatter of per-step log-likelihood change against return, for both steps.
    pub fn plot(&self) -> Plot {
        plot::scatter(
            "Which episodes become likelier?",
            "episode return",
            "change in log-likelihood per step",
            &[
                ("REINFORCE step", self.returns.clone(), self.reinforce_change.clone()),
                ("behaviour-cloning step", self.returns.clone(), self.bc_change.clone()),
            ],
        )
    }
}

/// The two correlations of [`BcLink`] for each of `seeds` (a fresh random
/// policy and batch per seed).
pub fn bc_link_over_seeds(seeds: &[u64], episodes: usize, step: f64) -> Vec<(f64, f64)> {
    parallel_map(seeds, |&s| behaviour_cloning_link(s, episodes, step).correlations())
}

/// A z-test of unbiasedness on the three-state MDP.
#[derive(Debug, Clone, PartialEq)]
pub struct ZTest {
    /// Estimates averaged (one per trajectory, or one per batch).
    pub n: usize,
    /// The largest |z| = |ḡₖ − ∇ₖJ| / (sₖ/√n) over the gradient components.
    pub max_z: f64,
}

/// Rejection threshold of the z-tests: under the CLT one component exceeds it
/// with probability 5.7 × 10⁻⁷.
pub const Z_MAX: f64 = 5.0;

/// z such that a standard normal exceeds it with probability 0.001; a bias of
/// (Z_MAX + Z_POWER) standard errors is detected with probability ≥ 0.999.
pub const Z_POWER: f64 = 3.09;

// ANCHOR: z_test
/// Averages `n` single-trajectory estimates at the reference policy and
/// returns the largest standardised error against the exact gradient.
///
/// Components that are exactly zero in every sample (the terminal state's)
/// have no standard error; they must then equal the exact gradient, else
/// the result is infinite.
pub fn z_test<E: Estimator<TabularSoftmax> + ?Sized>(estimator: &E, n: usize, seed: u64) -> ZTest {
    z_test_batched(estimator, 1, n, seed)
}
/// [`z_test`] for an estimator that needs a batch (a batch-mean baseline,
/// say): averages the estimates of `n` independent batches of `batch`
/// trajectories each. With `batch` = 1 it is [`z_test`], draw for draw.
pub fn z_test_batched<E>(estimator: &E, batch: usize, n: usize, seed: u64) -> ZTest
where
    E: Estimator<TabularSoftmax> + ?Sized,
{
    let mut mdp = TabularMdp::three_state();
    let policy = reference_policy();
    let exact = mdp.exact_gradient(&policy);
    let mut rng = seeded(seed);
    let samples: Vec<Array1<f64>> = (0..n)
        .map(|_| estimator.gradient(&policy, &Batch::sample(&mut mdp, &policy, batch, &mut rng)))
        .collect();
    let mut max_z: f64 = 0.0;
    for k in 0..policy.num_params() {
        let column: Vec<f64> = samples.iter().map(|g| g[k]).collect();
        let (mean, sd) = mean_sd(&column);
        let z = if sd == 0.0 {
            if mean == exact[k] { 0.0 } else { f64::INFINITY }
        } else {
            ((mean - exact[k]) / (sd / (n as f64).sqrt())).abs()
        };
        max_z = max_z.max(z);
    }
    ZTest { n, max_z }
}
// ANCHOR_END: z_test

/// The power of [`z_test`] with `n` samples for an estimator with exact
/// `moments`: the smallest c such that an estimator whose mean is (1 + c)∇J
/// (same variance) is rejected with probability at least 0.999. It is
/// minₖ (Z_MAX + Z_POWER) σₖ / (√n |∇ₖJ|) over components with signal.
pub fn z_test_power(moments: &Moments, exact: &Array1<f64>, n: usize) -> f64 {
    exact
        .iter()
        .zip(&moments.variance)
        .filter(|(g, _)| g.abs() > 1e-12)
        .map(|(g, v)| (Z_MAX + Z_POWER) * (v / n as f64).sqrt() / g.abs())
        .fold(f64::INFINITY, f64::min)
}

/// One row of a chapter's check table.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRow {
    /// The estimator.
    pub name: String,
    /// ‖E[ĝ] − ∇J‖ / ‖∇J‖, exact.
    pub relative_bias: f64,
    /// maxₖ |E[ĝₖ] − ∇ₖJ|, exact.
    pub max_abs_bias: f64,
    /// tr Cov[ĝ] of one estimate (from one trajectory, or one batch), exact.
    pub total_variance: f64,
    /// The z-test on sampled trajectories.
    pub z: ZTest,
    /// The z-test's power for this estimator's variance ([`z_test_power`]).
    pub power: f64,
}

/// An estimator counts as exactly unbiased when no component of E[ĝ] − ∇J
/// exceeds this (rounding in sums of a few hundred terms is far below it).
pub const EXACT_TOL: f64 = 1e-12;

/// Runs the exact check and the z-test (`n` trajectories, `seed`) on every
/// estimator, at the reference policy of the three-state MDP.
pub fn check_rows(estimators: &[Box<dyn Estimator<TabularSoftmax>>], n: usize, seed: u64) -> Vec<CheckRow> {
    check_rows_batched(estimators, 1, n, seed)
}

/// [`check_rows`] on batches of `batch` trajectories: exact moments over
/// every batch of that size (keep it at 1 or 2), and a z-test on `n`
/// trajectories grouped into n / `batch` batches.
pub fn check_rows_batched(
    estimators: &[Box<dyn Estimator<TabularSoftmax>>],
    batch: usize,
    n: usize,
    seed: u64,
) -> Vec<CheckRow> {
    let mdp = TabularMdp::three_state();
    let policy = reference_policy();
    let exact = mdp.exact_gradient(&policy);
    estimators
        .iter()
        .map(|estimator| {
            let m = exact_moments(&mdp, &policy, estimator.as_ref(), batch);
            CheckRow {
                name: estimator.name(),
                relative_bias: m.relative_bias(&exact),
                max_abs_bias: m.max_abs_bias(&exact),
                total_variance: m.total_variance(),
                z: z_test_batched(estimator.as_ref(), batch, n / batch, seed),
                power: z_test_power(&m, &exact, n / batch),
            }
        })
        .collect()
}

/// The check table: for each estimator its exact bias and variance on the
/// three-state MDP, and the z-test's verdict.
pub fn check_table(rows: &[CheckRow]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                format!("{:.1e}", r.relative_bias),
                if r.max_abs_bias <= EXACT_TOL { "unbiased" } else { "rejected" }.into(),
                format!("{:.3}", r.total_variance),
                format!("{:.1}", r.z.max_z),
                if r.z.max_z > Z_MAX { "rejected" } else { "accepted" }.into(),
            ]
        })
        .collect();
    markdown_table(
        &[
            "estimator",
            "exact relative bias",
            "exact check",
            "exact $\\operatorname{tr}\\operatorname{Cov}[\\hat g]$",
            "z-test: largest $\\lvert z\\rvert$",
            "z-test verdict",
        ],
        &cells,
    )
}

/// A single-trajectory estimator's variance on the "stay" MDP, simulated.
#[derive(Debug, Clone, PartialEq)]
pub struct StayVariance {
    /// The stay probability θ.
    pub theta: f64,
    /// Draws.
    pub n: usize,
    /// The sample mean of the estimate.
    pub mean: f64,
    /// The sample variance.
    pub variance: f64,
}

/// The closed-form variance of the plain estimator on the "stay" MDP,
/// (4θ + 8 + 1/θ)/(1 − θ)⁴.
pub fn stay_closed_form_variance(theta: f64) -> f64 {
    (4.0 * theta + 8.0 + 1.0 / theta) / (1.0 - theta).powi(4)
}

// ANCHOR: stay_variance
/// Simulates `n` episodes of the "stay" MDP with stay probability `theta` and
/// measures the mean and variance of the single-trajectory estimate.
pub fn stay_variance<E: Estimator<Bernoulli> + ?Sized>(
    estimator: &E,
    theta: f64,
    n: usize,
    seed: u64,
) -> StayVariance {
    let policy = Bernoulli::new(theta);
    let mut env = Stay::new();
    let mut rng = seeded(seed);
    let draws: Vec<f64> = (0..n)
        .map(|_| {
            let batch = Batch { trajectories: vec![rollout(&mut env, &policy, &mut rng)] };
            estimator.gradient(&policy, &batch)[0]
        })
        .collect();
    let (mean, sd) = mean_sd(&draws);
    StayVariance { theta, n, mean, variance: sd * sd }
}
// ANCHOR_END: stay_variance
