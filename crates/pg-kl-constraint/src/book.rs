//! Chapter 6's figures and tables: [`write`] runs the chapter's experiments
//! and writes every file that `book/src/06-kl-constraint.md` includes.

use crate::experiments::checks::{
    EXACT_TOL, FD_TOL, direction, fisher_errors, gaussian_case, kl_gradient_error, softmax_case,
};
use crate::experiments::{self as ex, Algo, EstimatorMaker, Setup, StepRule, broken};
use crate::{Fisher, Head, Samples, conjugate_gradient, mean_kl};
use ndarray::{Array1, Array2};
use pg_core::grading::book_section;
use pg_core::peers::{self, Peers};
use pg_core::plot::{self, Axes, Spread};
use pg_core::policy::{Categorical, Gaussian, MlpBatch};
use pg_core::report::{Report, folded, markdown_table};
use pg_core::seeded;
use pg_likelihood_ratio::experiments::{
    self as ch1, CartPoleSetup, median, median_of_some, median_or_never, or_never, parallel_map, runs_grid,
    seconds_to_solve, spread_over, steps_to_solve,
};
use pg_likelihood_ratio::{Reinforce, TrainLog};
use pg_surrogate::evaluate::{
    EVAL_EPISODES, SUSTAINED, evaluation_at, evaluation_spreads, last_evaluation, sustained_at,
};
use rand::RngExt;

/// Every file [`write`] generates; the chapter may include only these.
pub const GENERATED: &[&str] = &[
    "06-checks.md",
    "06-cg.md",
    "06-step-size-kl.html",
    "06-step-size-returns.html",
    "06-step-size-table.md",
    "06-cartpole.html",
    "06-cartpole-seconds.html",
    "06-cartpole-table.md",
    "06-pendulum.html",
    "06-pendulum-seconds.html",
    "06-pendulum-table.md",
    "06-pendulum-peer.md",
    "06-exercise-cg.md",
    "06-exercise-clipped.md",
    "06-exercise-kl.md",
];

/// Seeds of the check table (the largest error over them is shown).
const CHECK_SEEDS: u64 = 8;

/// The step rules of the robustness experiment.
pub const STEP_RULES: [StepRule; 5] = [
    StepRule::Gradient(0.01),
    StepRule::Gradient(0.1),
    StepRule::Gradient(1.0),
    StepRule::Npg(0.01),
    StepRule::Trpo(0.01),
];

/// Pendulum counts as learned, for the targets, when the mean of
/// [`SUSTAINED`] consecutive evaluations reaches this mean return.
pub const PENDULUM_EVAL_TARGET: f64 = -200.0;

/// The step budgets the Pendulum table reports the evaluation at.
pub const PENDULUM_BUDGETS: [usize; 2] = [100_000, 200_000];

/// The chapter's CartPole settings: 10 seeds and a budget of 10⁵ steps.
pub fn cartpole_setup(quick: bool) -> Setup {
    if quick {
        Setup { seeds: vec![0], max_env_steps: 3_000, ..Setup::cartpole() }
    } else {
        Setup::cartpole()
    }
}

/// The chapter's Pendulum settings: 10 seeds and a budget of 2·10⁵ steps.
pub fn pendulum_setup(quick: bool) -> Setup {
    if quick {
        let setup = Setup::pendulum();
        Setup { seeds: vec![0], max_env_steps: setup.eval_every, ..setup }
    } else {
        Setup::pendulum()
    }
}

/// One row per check, one column per policy kind, the worst case over the seeds.
fn checks(report: &mut dyn Report) -> Result<(), String> {
    report.start("chapter 6: KL gradient and Fisher-vector products against their referees");
    type Case = fn(u64) -> [f64; 6];
    fn measure<P: Head>(
        p: &P,
        s: &Samples<P::Action>,
        seed: u64,
        wrong_term: Option<fn(crate::RowView<'_>, crate::RowView<'_>, f64, crate::RowMut<'_>)>,
    ) -> [f64; 6] {
        let mut g = Array1::zeros(p.num_params());
        mean_kl(p, s, &mut MlpBatch::default(), Some(&mut g));
        let at_old = g.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let away = kl_gradient_error(p, s, &direction(p.num_params(), seed, 0.3));
        let v = direction(p.num_params(), seed + 7, 1.0);
        let (fd, explicit) = fisher_errors(p, s, &v, &Fisher::new(p, s, 0.0).apply(&v));
        let flipped = Fisher::new(p, s, 0.0).apply_with(&v, broken::flipped::<P>);
        let (flip_fd, flip_explicit) = fisher_errors(p, s, &v, &flipped);
        let missing = match wrong_term {
            Some(term) => fisher_errors(p, s, &v, &Fisher::new(p, s, 0.0).apply_with(&v, term)),
            None => (f64::NAN, f64::NAN),
        };
        [at_old, away, fd, explicit, flip_fd.min(flip_explicit), missing.0.min(missing.1)]
    }
    let cases: [(&str, Case); 3] = [
        ("softmax, 3 actions", |seed| {
            let (p, s) = softmax_case(seed);
            measure::<Categorical>(&p, &s, seed, Some(broken::softmax_without_outer_term))
        }),
        ("Gaussian, free σ", |seed| {
            let (p, s) = gaussian_case(seed, false);
            measure::<Gaussian>(&p, &s, seed, Some(broken::gaussian_without_log_std_block))
        }),
        ("Gaussian, σ(s)", |seed| {
            let (p, s) = gaussian_case(seed, true);
            measure::<Gaussian>(&p, &s, seed, Some(broken::gaussian_without_log_std_block))
        }),
    ];
    let results: Vec<Vec<[f64; 6]>> = cases.iter().map(|(_, f)| (0..CHECK_SEEDS).map(f).collect()).collect();
    let largest = |k: usize, c: usize| results[c].iter().map(|r| r[k]).fold(0.0, f64::max);
    let smallest = |k: usize, c: usize| results[c].iter().map(|r| r[k]).fold(f64::INFINITY, f64::min);
    let rows_spec: [(&str, usize, bool, f64); 6] = [
        ("max |∇D̄| at θ_old", 0, true, 0.0),
        ("∇D̄ against central differences, θ moved", 1, true, FD_TOL),
        ("F v against central differences of ∇D̄", 2, true, FD_TOL),
        ("F v against the explicit E[∇log π ∇log πᵀ] v", 3, true, EXACT_TOL),
        ("negative control: −F v (closer referee)", 4, false, 1e-3),
        ("negative control: a term of G left out (closer referee)", 5, false, 1e-3),
    ];
    let rows: Vec<Vec<String>> = rows_spec
        .iter()
        .map(|&(name, k, correct, tol)| {
            let mut row = vec![name.to_string()];
            let mut ok = true;
            for c in 0..cases.len() {
                if correct {
                    let e = largest(k, c);
                    ok &= e <= tol;
                    row.push(format!("{e:.1e}"));
                } else {
                    let e = smallest(k, c);
                    ok &= e > tol;
                    row.push(format!("{e:.2}"));
                }
            }
            row.push(match (correct, tol) {
                (true, 0.0) => "exactly 0".into(),
                (true, _) => format!("≤ {tol:.0e}"),
                (false, _) => format!("> {tol:.0e}"),
            });
            row.push(
                match (correct, ok) {
                    (true, true) => "passes",
                    (true, false) => "FAILS",
                    (false, true) => "caught",
                    (false, false) => "NOT CAUGHT",
                }
                .into(),
            );
            row
        })
        .collect();
    let mut headers = vec!["check"];
    headers.extend(cases.iter().map(|(n, _)| *n));
    headers.extend(["required", "result"]);
    let text = markdown_table(&headers, &rows)
        + &format!(
            "\nErrors are relative to the largest entry of F v (scaled per component for gradients); the worst case \
             over {CHECK_SEEDS} random policies and batches is shown, and for the negative controls the mildest case. \
             F is evaluated without damping.\n"
        );
    report.write("06-checks.md", &text)
}

/// Conjugate gradient on random SPD systems of growing size.
fn cg(report: &mut dyn Report) -> Result<(), String> {
    report.start("chapter 6: conjugate gradient on random SPD systems");
    let rows: Vec<Vec<String>> = [5usize, 10, 20, 40, 80]
        .iter()
        .map(|&n| {
            let rng = &mut seeded(n as u64);
            let b_mat = Array2::from_shape_fn((n, n), |_| rng.random_range(-1.0..1.0));
            let a = b_mat.t().dot(&b_mat) / n as f64 + Array2::<f64>::eye(n) * 0.1;
            let b = Array1::from_shape_fn(n, |_| rng.random_range(-1.0..1.0));
            let result = conjugate_gradient(|v| a.dot(v), &b, n, 1e-10);
            let r = &b - &a.dot(&result.x);
            let relative = r.dot(&r).sqrt() / b.dot(&b).sqrt();
            vec![n.to_string(), result.iterations.to_string(), format!("{relative:.1e}")]
        })
        .collect();
    let text = markdown_table(&["n", "iterations used", "‖b − Ax‖ / ‖b‖"], &rows)
        + "\nA = BᵀB/n + 0.1 I with B uniform in [−1, 1], eigenvalues between 0.1 and about 4.1; CG stops at \
           a relative residual of 10⁻¹⁰ or after n iterations.\n";
    report.write("06-cg.md", &text)
}

/// Every update's KL over a set of runs.
fn kls(logs: &[TrainLog]) -> Vec<f64> {
    logs.iter().flat_map(|l| l.iterations.iter().filter_map(|s| s.update.get("kl"))).collect()
}

/// The smallest KL the step-size figure draws: a policy that has collapsed
/// onto one action moves by less, down to rounding, and would stretch the log axis.
const KL_FLOOR: f64 = 1e-10;

fn step_size(report: &mut dyn Report) -> Result<(), String> {
    let setup = if report.quick() {
        Setup { seeds: vec![0], max_env_steps: 2_000, ..Setup::cartpole() }
    } else {
        Setup { seeds: vec![0, 1, 2], max_env_steps: 50_000, ..Setup::cartpole() }
    };
    report.start(&format!("chapter 6: step sizes against trust regions ({} seeds)", setup.seeds.len()));
    let logs = runs_grid(&STEP_RULES, &setup.seeds, |&r, s| ex::train_step_rule(r, s, &setup))
        .map_err(|e| e.to_string())?;
    let runs: Vec<&[TrainLog]> = logs.iter().map(Vec::as_slice).collect();
    let names: Vec<String> = STEP_RULES.iter().map(|r| r.name()).collect();
    // Every rule's runs over the updates that all runs of all rules took: a
    // rule whose policy collapses takes many tiny updates and would stretch the axis.
    let updates = runs.iter().flat_map(|logs| logs.iter().map(|l| l.iterations.len())).min().unwrap_or(0);
    let x: Vec<f64> = (1..=updates).map(|i| i as f64).collect();
    let kl_spread = |logs: &[TrainLog]| {
        let per_run: Vec<Vec<f64>> = logs
            .iter()
            .map(|l| {
                l.iterations[..updates]
                    .iter()
                    .map(|s| s.update.get("kl").unwrap_or(f64::NAN).max(KL_FLOOR))
                    .collect()
            })
            .collect();
        Spread::new(&x, &per_run)
    };
    let panel = |rules: std::ops::Range<usize>| -> Vec<(&str, Spread)> {
        rules.map(|r| (names[r].as_str(), kl_spread(runs[r]))).collect()
    };
    let fixed = STEP_RULES.iter().take_while(|r| matches!(r, StepRule::Gradient(_))).count();
    report.figure(
        "06-step-size-kl.html",
        &plot::learning_curve_panels(
            &format!(
                "KL divergence taken by each of the first {updates} updates<br><sub>a KL below {KL_FLOOR:e} (a \
                 collapsed policy's) is drawn at {KL_FLOOR:e}</sub>"
            ),
            "update",
            "mean KL over the batch's states",
            Axes::LogY,
            &[("fixed step sizes", panel(0..fixed)), ("trust regions", panel(fixed..STEP_RULES.len()))],
        ),
    )?;
    let groups: Vec<(&str, &[TrainLog])> =
        names.iter().map(String::as_str).zip(runs.iter().copied()).collect();
    report
        .figure("06-step-size-returns.html", &ch1::learning_curve_plot("CartPole-v1: step rules", &groups))?;
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|(name, logs)| {
            let k = kls(logs);
            let finals: Vec<f64> = logs.iter().map(|l| l.final_mean_return(100)).collect();
            vec![
                name.to_string(),
                format!("{:.4}", median(k.iter().map(|x| x.max(0.0)).collect())),
                format!("{:.3}", k.iter().copied().fold(0.0, f64::max)),
                format!("{:.1}", finals.iter().sum::<f64>() / finals.len() as f64),
                format!("{:.1}", finals.iter().copied().fold(f64::INFINITY, f64::min)),
            ]
        })
        .collect();
    let largest = |pick: fn(&StepRule) -> bool| {
        STEP_RULES.iter().zip(&runs).filter(|(r, _)| pick(r)).flat_map(|(_, l)| kls(l)).fold(0.0, f64::max)
    };
    let gradient_max = largest(|r| matches!(r, StepRule::Gradient(_)));
    let trpo_max = largest(|r| matches!(r, StepRule::Trpo(_)));
    let npg_max = largest(|r| matches!(r, StepRule::Npg(_)));
    let summary = format!(
        "\nThe largest KL any gradient-ascent update took was {gradient_max:.3}; NPG's largest was {npg_max:.4} \
         (its step is sized by the quadratic model) and TRPO's {trpo_max:.4}, for δ = {}.\n",
        setup.delta
    );
    let text = markdown_table(
        &["step rule", "median KL per update", "largest KL", "final return, mean over seeds", "worst seed"],
        &rows,
    ) + &summary
        + &format!(
            "\nCartPole, {} seeds, {} environment steps each, {} episodes per batch; every rule uses the same GAE \
         advantages (γ = {}, λ = {}, standardised). Final return: the mean of the last 100 episodes.\n",
            setup.seeds.len(),
            setup.max_env_steps,
            setup.batch,
            setup.gamma,
            setup.lambda
        );
    report.write("06-step-size-table.md", &text)
}

/// Chapters 1-3's estimators, each through chapter 4's batched gradient,
/// with the settings of their own chapters (the same seeds).
fn earlier_chapters(quick: bool) -> Result<Vec<(String, Vec<TrainLog>)>, String> {
    let setup: CartPoleSetup = pg_likelihood_ratio::book::cartpole_setup(quick);
    let lambda = pg_baselines::experiments::CARTPOLE_GAE_LAMBDA;
    let makers: [(String, EstimatorMaker); 3] = [
        ("REINFORCE (chapter 1)".into(), || Ok(Box::new(Reinforce))),
        ("reward-to-go (chapter 2)".into(), || Ok(Box::new(pg_causality::RewardToGo::new()))),
        (format!("GAE, λ = {lambda} (chapter 3)"), || {
            let lambda = pg_baselines::experiments::CARTPOLE_GAE_LAMBDA;
            Ok(Box::new(pg_baselines::experiments::cartpole_value_baseline(Some(lambda))?))
        }),
    ];
    let runs = runs_grid(&makers, &setup.seeds, |(_, make), s| ex::train_cartpole_batched(*make, s, &setup))
        .map_err(|e| e.to_string())?;
    Ok(makers.into_iter().map(|(name, _)| name).zip(runs).collect())
}

/// Learning curves against wall-clock seconds.
fn seconds_plot(title: &str, groups: &[(&str, &[TrainLog])]) -> plotly::Plot {
    let end = groups
        .iter()
        .flat_map(|(_, logs)| logs.iter().filter_map(|l| l.episodes.last().map(|e| e.wall_seconds)))
        .fold(0.0, f64::max);
    let grid: Vec<f64> = (1..=200).map(|i| i as f64 * end / 200.0).collect();
    let spreads: Vec<(&str, Spread)> = groups
        .iter()
        .map(|(name, logs)| (*name, spread_over(logs, &grid, 100, |e| e.wall_seconds)))
        .collect();
    plot::compare_curves(
        title,
        "wall-clock seconds (one core per run)",
        "mean return of the last 100 episodes",
        &spreads,
    )
}

fn cartpole(report: &mut dyn Report) -> Result<(), String> {
    let setup = cartpole_setup(report.quick());
    report.start(&format!(
        "chapter 6: CartPole, NPG, TRPO and PPO against chapters 1-3 ({} seeds)",
        setup.seeds.len()
    ));
    let algos = [Algo::Npg, Algo::Trpo, Algo::Ppo, Algo::PpoPenalty];
    let runs =
        ex::runs(&algos, &setup.seeds, |a, s| ex::train_cartpole(a, s, &setup)).map_err(|e| e.to_string())?;
    let earlier = earlier_chapters(report.quick())?;
    let earlier_setup = pg_likelihood_ratio::book::cartpole_setup(report.quick());
    let mut groups: Vec<(&str, &[TrainLog])> =
        earlier.iter().map(|(n, l)| (n.as_str(), l.as_slice())).collect();
    groups.extend(algos.iter().map(|a| a.name()).zip(runs.iter().map(Vec::as_slice)));
    // The step axis is cut at this chapter's budget, where its runs stop.
    let cut: Vec<(&str, Vec<TrainLog>)> = groups
        .iter()
        .map(|(name, logs)| (*name, logs.iter().map(|l| cut_at(l, setup.max_env_steps)).collect()))
        .collect();
    let cut_groups: Vec<(&str, &[TrainLog])> = cut.iter().map(|(n, l)| (*n, l.as_slice())).collect();
    let (before, this) = cut_groups.split_at(earlier.len());
    report.figure(
        "06-cartpole.html",
        &ch1::learning_curve_panels(
            "CartPole-v1: the first 10⁵ environment steps",
            &[("chapters 1 to 3", before.to_vec()), ("this chapter", this.to_vec())],
        ),
    )?;
    report
        .figure("06-cartpole-seconds.html", &seconds_plot("CartPole-v1 against wall-clock time", &groups))?;
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|(name, logs)| {
            let steps: Vec<f64> =
                logs.iter().map(|l| steps_to_solve(l).map_or(f64::INFINITY, |s| s as f64)).collect();
            vec![
                name.to_string(),
                median_or_never(logs.iter().map(|l| steps_to_solve(l).map(|s| s as f64)), 0),
                format!(
                    "{} to {}",
                    or_never(finite(plot::quantile(&steps, 0.25)), 0),
                    or_never(finite(plot::quantile(&steps, 0.75)), 0)
                ),
                median_or_never(logs.iter().map(seconds_to_solve), 2),
                format!("{} of {}", logs.iter().filter(|l| steps_to_solve(l).is_some()).count(), logs.len()),
                {
                    let k = kls(logs);
                    if k.is_empty() { "not measured".into() } else { format!("{:.4}", median(k)) }
                },
            ]
        })
        .collect();
    let fastest = |key: &dyn Fn(&TrainLog) -> Option<f64>| -> String {
        groups
            .iter()
            .filter_map(|(name, logs)| Some((*name, median_of_some(logs.iter().map(key))?)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map_or("none of them".into(), |(name, _)| name.to_string())
    };
    let summary = format!(
        "\nFewest median environment steps to {}: {}. Fewest median seconds: {}.\n",
        ch1::CARTPOLE_SOLVED,
        fastest(&|l| steps_to_solve(l).map(|s| s as f64)),
        fastest(&seconds_to_solve),
    ) + &damping_summary(&setup, &algos, &runs);
    let text = markdown_table(
        &[
            "algorithm",
            "median steps to 475",
            "25th to 75th percentile",
            "median seconds",
            "seeds solved",
            "median KL per update",
        ],
        &rows,
    ) + &folded(
        "Steps to 475, seed by seed",
        &ch1::per_seed_table(longer(&setup.seeds, &earlier_setup.seeds), &groups, |l| {
            steps_to_solve(l).map_or("never".into(), |s| s.to_string())
        }),
    ) + &summary
        + &format!(
            "\nSteps and wall-clock seconds until the mean return of the last 100 episodes first reached {}; medians over seeds {:?}, a run that never got there counted as infinitely slow. Chapters 1-3 with their own settings ({} episodes per batch, Adam {}, {}) and chapter 4's batched gradient; this chapter's algorithms with {} episodes per batch, δ = {}, PPO clip ε = {} with {} epochs of minibatches of {} steps, Adam {}, and a budget of {} steps. Each run had one core.\n",
            ch1::CARTPOLE_SOLVED,
            setup.seeds,
            earlier_setup.batch,
            earlier_setup.lr,
            earlier_setup
                .max_env_steps
                .map_or(format!("{} iterations", earlier_setup.iters), |m| format!("a budget of {m} steps")),
            setup.batch,
            setup.delta,
            setup.clip,
            setup.epochs,
            setup.minibatch,
            setup.lr,
            setup.max_env_steps,
        );
    report.write("06-cartpole-table.md", &text)
}

/// What the damping does in the natural-gradient runs: the states behind
/// the Fisher products of the first update against the parameters, and the
/// damping's share ½η‖Δ‖²/δ of the quadratic KL budget over every update.
fn damping_summary(setup: &Setup, algos: &[Algo], runs: &[Vec<TrainLog>]) -> String {
    let mut parts = Vec::new();
    for (algo, logs) in algos.iter().zip(runs) {
        let shares: Vec<f64> = logs
            .iter()
            .flat_map(|l| l.iterations.iter().filter_map(|s| s.update.get("damping_share")))
            .collect();
        let first = |key: &str| -> Vec<f64> {
            logs.iter().filter_map(|l| l.iterations.first()?.update.get(key)).collect()
        };
        let (states, batch) = (first("fisher_states"), first("batch_states"));
        if shares.is_empty() || states.is_empty() {
            continue;
        }
        parts.push(format!(
            "{}: F from {:.0} to {:.0} of the batch's {:.0} to {:.0} states at the first update; the damping's \
             share of δ {:.0} % (median; 25th to 75th percentile {:.0} to {:.0} %)",
            algo.name(),
            states.iter().cloned().fold(f64::INFINITY, f64::min),
            states.iter().cloned().fold(0.0, f64::max),
            batch.iter().cloned().fold(f64::INFINITY, f64::min),
            batch.iter().cloned().fold(0.0, f64::max),
            100.0 * median(shares.clone()),
            100.0 * plot::quantile(&shares, 0.25),
            100.0 * plot::quantile(&shares, 0.75),
        ));
    }
    if parts.is_empty() {
        return String::new();
    }
    format!(
        "\nThe policy has {} parameters, and a softmax over two actions adds at most one to F's rank per state. {}.\n",
        pg_core::Policy::num_params(&pg_core::policy::Categorical::mlp(
            4,
            &setup.hidden,
            2,
            &mut pg_core::rng::seeded(0)
        )),
        parts.join("; ")
    )
}

/// The longer of two seed lists: chapters 1 to 3 may run on more seeds than this chapter.
fn longer<'a>(a: &'a [u64], b: &'a [u64]) -> &'a [u64] {
    if b.len() > a.len() { b } else { a }
}

/// `x` when it is finite: a quantile over runs that never got there is infinite.
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// The log up to the first iteration at or beyond `steps`.
fn cut_at(log: &TrainLog, steps: usize) -> TrainLog {
    let n = log.iterations.iter().position(|s| s.env_steps >= steps).map_or(log.iterations.len(), |i| i + 1);
    let last = log.iterations.get(n.saturating_sub(1)).map_or(0, |s| s.env_steps);
    TrainLog {
        iterations: log.iterations[..n].to_vec(),
        episodes: log.episodes.iter().take_while(|e| e.env_steps <= last).cloned().collect(),
    }
}

/// The peer entry the Pendulum comparison reads.
const SB3_PENDULUM: &str = "sb3_ppo_pendulum";

/// Stable-Baselines3's PPO with the RL Zoo's Pendulum settings, evaluated by
/// the same protocol, beside this chapter's TRPO and PPO (their medians at
/// the steps `read_at` each budget of [`PENDULUM_BUDGETS`] reads).
fn pendulum_peer(
    ours: &[(&str, Vec<Option<f64>>)],
    read_at: &[usize],
    setup: &Setup,
) -> Result<String, String> {
    let Some(p) = Peers::read()? else { return Ok(peers::ABSENT.to_string()) };
    if !p.has(SB3_PENDULUM) {
        return Ok(peers::ABSENT.to_string());
    }
    let show = |m: Option<f64>| m.map_or("none".to_string(), |m| format!("{m:.0}"));
    let theirs: Vec<(Option<f64>, Option<f64>)> = PENDULUM_BUDGETS
        .iter()
        .map(|b| {
            let at = |f: &str| p.number(&format!("/{SB3_PENDULUM}/budgets/{b}/{f}"));
            (at("median"), at("env_steps"))
        })
        .collect();
    let episodes = match p.number(&format!("/{SB3_PENDULUM}/eval_episodes")) {
        Some(e) if e == EVAL_EPISODES as f64 => format!("{EVAL_EPISODES} mean-action episodes"),
        e => format!(
            "mean-action episodes, {EVAL_EPISODES} here and {} for the peer",
            e.map_or("unknown".into(), |e| format!("{e:.0}"))
        ),
    };
    let mut rows = vec![{
        let mut row = vec!["Stable-Baselines3 PPO, the RL Zoo's settings".to_string()];
        row.extend(theirs.iter().map(|(m, steps)| format!("{} (at {})", show(*m), show(*steps))));
        row
    }];
    for (name, medians) in ours {
        let mut row = vec![format!("this chapter's {name}")];
        row.extend(medians.iter().zip(read_at).map(|(m, steps)| format!("{} (at {steps})", show(*m))));
        rows.push(row);
    }
    let headers: Vec<String> = std::iter::once("".to_string())
        .chain(PENDULUM_BUDGETS.iter().map(|b| format!("median evaluation within {b} steps")))
        .collect();
    let their_seeds: Vec<Option<f64>> = p.runs(SB3_PENDULUM, "seed");
    let seeds = if their_seeds == setup.seeds.iter().map(|&s| Some(s as f64)).collect::<Vec<_>>() {
        format!("seeds {:?} on both sides", setup.seeds)
    } else {
        let listed: Vec<String> =
            their_seeds.iter().map(|s| s.map_or("?".into(), |s| format!("{s:.0}"))).collect();
        format!("seeds {:?} here, {} for the peer", setup.seeds, listed.join(", "))
    };
    let gamma = match p.number(&format!("/{SB3_PENDULUM}/gamma")) {
        Some(g) if g == setup.gamma => format!("γ = {g}"),
        g => format!(
            "γ = {} here and {} for the peer",
            setup.gamma,
            g.map_or("unknown".into(), |g| g.to_string())
        ),
    };
    Ok(format!(
        "{}\nBoth sides: {gamma}, the protocol above ({episodes} from start states of the \
         run's seed and the evaluation's number, not counted as steps), each budget read at the last policy \
         within it; {seeds}. What differs: each side runs its own tuned \
         settings (the peer's are the zoo's, in `peers/ppo_sb3_pendulum.py`, with state-dependent exploration \
         noise, gSDE; this chapter's are listed under the table above), and the peer's budgets fall on whole rollouts \
         (the steps in brackets). {}\n",
        markdown_table(&headers.iter().map(String::as_str).collect::<Vec<_>>(), &rows),
        p.provenance(&[SB3_PENDULUM]),
    ))
}

fn pendulum(report: &mut dyn Report) -> Result<(), String> {
    let setup = pendulum_setup(report.quick());
    report.start(&format!(
        "chapter 6: Pendulum, NPG, TRPO and PPO against chapter 4 ({} seeds)",
        setup.seeds.len()
    ));
    let algos = [Algo::Npg, Algo::Trpo, Algo::Ppo];
    let runs =
        ex::runs(&algos, &setup.seeds, |a, s| ex::train_pendulum(a, s, &setup)).map_err(|e| e.to_string())?;
    let ch4_setup = ex::chapter4_setup(&setup);
    let ch4 = parallel_map(&setup.seeds, |&s| ex::train_pendulum_chapter4(s, &setup))
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let mut groups: Vec<(&str, &[TrainLog])> =
        vec![("GAE, one Adam step per batch (chapter 4)", ch4.as_slice())];
    groups.extend(algos.iter().map(|a| a.name()).zip(runs.iter().map(Vec::as_slice)));
    let spreads = evaluation_spreads(&groups);
    report.figure(
        "06-pendulum.html",
        &plot::compare_curves(
            "Pendulum-v1: evaluation with the mean action",
            "environment steps",
            &format!("mean return of {EVAL_EPISODES} evaluation episodes"),
            &spreads,
        ),
    )?;
    report.figure(
        "06-pendulum-seconds.html",
        &seconds_plot("Pendulum-v1 against wall-clock time (training episodes)", &groups),
    )?;
    let target = PENDULUM_EVAL_TARGET;
    let budgets: Vec<usize> = PENDULUM_BUDGETS.iter().map(|&b| b.min(setup.max_env_steps)).collect();
    // The step of the evaluation each budget reads: the last at or before it.
    let read_at: Vec<usize> =
        budgets.iter().map(|&b| last_evaluation(&runs[0][0], b).map_or(0, |(steps, _)| steps)).collect();
    // Per group, per budget: the runs' evaluations.
    let at: Vec<Vec<Vec<f64>>> = groups
        .iter()
        .map(|(_, logs)| {
            budgets.iter().map(|&b| logs.iter().filter_map(|l| evaluation_at(l, b)).collect()).collect()
        })
        .collect();
    let median_at = |g: usize, b: usize| (!at[g][b].is_empty()).then(|| median(at[g][b].clone()));
    let rows: Vec<Vec<String>> = groups
        .iter()
        .enumerate()
        .map(|(g, (name, logs))| {
            let seconds: Vec<f64> =
                logs.iter().map(|l| l.iterations.last().map_or(0.0, |s| s.wall_seconds)).collect();
            let last = &at[g][1];
            let mut row = vec![name.to_string()];
            row.extend(
                (0..budgets.len()).map(|b| median_at(g, b).map_or("none".into(), |m| format!("{m:.0}"))),
            );
            row.extend([
                if last.is_empty() {
                    "none".into()
                } else {
                    format!("{:.0} to {:.0}", plot::quantile(last, 0.25), plot::quantile(last, 0.75))
                },
                median_or_never(logs.iter().map(|l| sustained_at(l, target).map(|s| s as f64)), 0),
                format!(
                    "{} of {}",
                    logs.iter().filter(|l| sustained_at(l, target).is_some()).count(),
                    logs.len()
                ),
                format!("{:.1}", median(seconds)),
            ]);
            row
        })
        .collect();
    let best = groups
        .iter()
        .enumerate()
        .filter_map(|(g, (name, _))| median_at(g, 1).map(|m| (*name, m)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let mut summary = best.map_or(String::new(), |(name, value)| {
        format!("\nHighest median evaluation at {} steps: {name}, {value:.0}.", read_at[1])
    });
    let target_line: Vec<String> = [Algo::Trpo, Algo::Ppo]
        .iter()
        .map(|a| {
            // Group 0 is chapter 4's update; the algorithms follow in order.
            let g = 1 + algos.iter().position(|b| b == a).expect("TRPO and PPO run");
            let m = median_at(g, 0).unwrap_or(f64::NEG_INFINITY);
            format!("{} {m:.0} ({})", a.name(), if m >= target { "met" } else { "missed" })
        })
        .collect();
    summary += &format!(
        " The target, a median evaluation of at least {target} within {} steps for TRPO or PPO, at {} steps: {}.\n",
        PENDULUM_BUDGETS[0],
        read_at[0],
        target_line.join(", ")
    );
    let text = markdown_table(
        &[
            "algorithm",
            &format!("median evaluation at {} steps", read_at[0]),
            &format!("at {} steps", read_at[1]),
            &format!("25th to 75th percentile at {} steps", read_at[1]),
            &format!("median steps until 3 consecutive evaluations averaged {target}"),
            "seeds that did",
            "median seconds per run",
        ],
        &rows,
    ) + &folded(
        "Evaluations seed by seed",
        &ch1::per_seed_table(&setup.seeds, &groups, |l| {
            budgets
                .iter()
                .map(|&b| evaluation_at(l, b).map_or("none".into(), |e| format!("{e:.0}")))
                .collect::<Vec<_>>()
                .join(" / ")
        }),
    ) + &summary
        + &format!(
            "\nEvery {} environment steps each run is evaluated: {EVAL_EPISODES} episodes with the mean action, from start states drawn from the run's seed and the evaluation's number (no two runs and no two evaluations share them), not counted as training steps. A budget reads the last evaluation at or before it ({} and {} steps: {} and {}); a run reaches {target} when the mean of {SUSTAINED} consecutive evaluations does. Medians over seeds {:?}, a run that never got there counted as infinitely slow; seconds per run include the evaluations. This chapter: {} episodes per batch, raw observations, initial log σ {}, γ = {}, λ = {}, value function Adam {} for {} steps of {} states per batch, δ = {}, PPO clip ε = {} with {} epochs of minibatches of {} steps, Adam {}, gradient norm at most {}. Chapter 4's update: its own settings ({} episodes per batch, {} observations, initial log σ {}, one Adam step of {} per batch with no bound on the gradient's norm, value function Adam {} for {} steps of {} states per batch), with this chapter's γ = {}, budget and evaluations.\n",
            setup.eval_every,
            budgets[0],
            budgets[1],
            read_at[0],
            read_at[1],
            setup.seeds,
            setup.batch,
            setup.log_std,
            setup.gamma,
            setup.lambda,
            setup.value_lr,
            setup.value_steps,
            setup.value_minibatch,
            setup.delta,
            setup.clip,
            setup.epochs,
            setup.minibatch,
            setup.lr,
            setup.max_grad_norm.map_or("unbounded".into(), |m| m.to_string()),
            ch4_setup.batch,
            if ch4_setup.normalize_observations { "normalised" } else { "raw" },
            ch4_setup.log_std,
            ch4_setup.lr,
            ch4_setup.value_lr,
            ch4_setup.value_steps,
            ch4_setup.value_minibatch,
            ch4_setup.gamma,
        );
    report.write("06-pendulum-table.md", &text)?;
    let ours: Vec<(&str, Vec<Option<f64>>)> = [Algo::Trpo, Algo::Ppo]
        .iter()
        .map(|a| {
            let g = 1 + algos.iter().position(|b| b == a).expect("TRPO and PPO run");
            (a.name(), (0..budgets.len()).map(|b| median_at(g, b)).collect())
        })
        .collect();
    report.write("06-pendulum-peer.md", &pendulum_peer(&ours, &read_at, &setup)?)
}

/// What the graders of the chapter's exercises know and print.
fn exercises(report: &mut dyn Report) -> Result<(), String> {
    use crate::exercises::*;
    report.start("chapter 6: exercise graders");
    report.write("06-exercise-cg.md", &book_section(CG_MISTAKES, &check_cg(CG_STARTER)))?;
    let starter = check_clipped(CLIPPED_STARTER);
    report.write("06-exercise-clipped.md", &book_section(CLIPPED_MISTAKES, &starter))?;
    report.write("06-exercise-kl.md", &book_section(KL_MISTAKES, &check_kl(KL_STARTER)))
}

/// Runs chapter 6's experiments and writes its generated files.
pub fn write(report: &mut dyn Report) -> Result<(), String> {
    checks(report)?;
    cg(report)?;
    exercises(report)?;
    step_size(report)?;
    cartpole(report)?;
    pendulum(report)
}

#[cfg(test)]
mod tests {
    #[test]
    fn quick_run_writes_exactly_the_listed_files() {
        pg_core::report::quick_run(super::write, super::GENERATED).unwrap();
    }
}
