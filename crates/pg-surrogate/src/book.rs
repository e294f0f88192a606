//! Chapter 4's figures and tables: [`write`] runs the chapter's experiments
//! and writes every file that `book/src/04-surrogate-loss.md` includes.

use crate::experiments::{self as ex, PendulumSetup};

use crate::evaluate::{EVAL_EPISODES, SUSTAINED, evaluation_at, evaluation_spreads, sustained_at};
use pg_core::env::{CartPole, Pendulum};
use pg_core::grading::book_section;
use pg_core::plot::{self, Axes};
use pg_core::policy::{Categorical, Gaussian};
use pg_core::report::{Report, folded, markdown_table};
use pg_core::rng::seeded;
use pg_core::{Batch, StepWeights};
use pg_likelihood_ratio::TrainLog;
use pg_likelihood_ratio::experiments::{median_or_never, per_seed_table};
use plotly::Scatter;
use plotly::common::{DashType, Line, Mode};

/// Every file [`write`] generates; the chapter may include only these.
pub const GENERATED: &[&str] = &[
    "04-checks.md",
    "04-cost.html",
    "04-cost-table.md",
    "04-pendulum.html",
    "04-pendulum-table.md",
    "04-exercise-cross-entropy.md",
    "04-exercise-gaussian.md",
];

/// The hidden widths and batch sizes (episodes) of the cost measurement.
pub const COST_WIDTHS: [usize; 3] = [32, 64, 128];
/// Episodes per batch in the cost measurement.
pub const COST_EPISODES: [usize; 4] = [4, 16, 32, 64];
/// CartPole's default setting in `pg train`: width and episodes.
pub const CARTPOLE_DEFAULT: (usize, usize) = (32, 32);

/// The Pendulum setting of the book (its ablations run on the same seeds).
pub fn pendulum_setup(quick: bool) -> PendulumSetup {
    if quick {
        PendulumSetup { seeds: vec![0, 1], max_env_steps: 4_000, eval_every: 800, ..Default::default() }
    } else {
        PendulumSetup::default()
    }
}

/// The discount of the γ ablation: the other of the two usual choices.
pub fn other_gamma(setup: &PendulumSetup) -> f64 {
    if setup.gamma == 0.9 { 0.99 } else { 0.9 }
}

/// Weights that change from step to step and take both signs.
fn varied_weights<A>(batch: &Batch<A>) -> StepWeights {
    StepWeights::fill(batch, |i, _, w| {
        for (t, x) in w.iter_mut().enumerate() {
            *x = ((i * 31 + t) as f64 * 0.37).sin() * 3.0;
        }
    })
}

fn checks(report: &mut dyn Report) -> Result<(), String> {
    report.start("chapter 4: surrogate gradients against the per-step sum and finite differences");
    let mut rows = Vec::new();
    for hidden in [vec![], vec![16], vec![32, 32]] {
        let policy = Categorical::mlp(4, &hidden, 2, &mut seeded(5));
        let batch = Batch::sample(&mut CartPole::new(), &policy, 4, &mut seeded(6));
        let (rel, fd) = ex::surrogate_agreement(&policy, &batch, &varied_weights(&batch));
        rows.push(vec![
            format!("softmax, hidden {hidden:?}"),
            batch.num_steps().to_string(),
            format!("{rel:.1e}"),
            format!("{fd:.1e}"),
        ]);
    }
    for state_std in [false, true] {
        let rng = &mut seeded(7);
        let policy = if state_std {
            Gaussian::mlp_state_std(3, &[16], 1, -0.5, rng)
        } else {
            Gaussian::mlp(3, &[16], 1, -0.5, rng)
        };
        let batch = Batch::sample(&mut Pendulum::new(), &policy, 1, &mut seeded(8));
        let (rel, fd) = ex::surrogate_agreement(&policy, &batch, &varied_weights(&batch));
        let sigma = if state_std { "σ(s) from the network" } else { "σ a free parameter" };
        rows.push(vec![
            format!("Gaussian, hidden [16], {sigma}"),
            batch.num_steps().to_string(),
            format!("{rel:.1e}"),
            format!("{fd:.1e}"),
        ]);
    }
    let text = markdown_table(
        &[
            "policy",
            "steps in the batch",
            "‖−∇L − ĝ‖ / ‖ĝ‖",
            "largest scaled error against central differences",
        ],
        &rows,
    );
    report.write("04-checks.md", &text)
}

fn cost(report: &mut dyn Report) -> Result<(), String> {
    report.start("chapter 4: cost of per-step and batched gradients");
    let (widths, episodes, reps): (&[usize], &[usize], usize) =
        if report.quick() { (&[32], &[4], 3) } else { (&COST_WIDTHS, &COST_EPISODES, 15) };
    let mut series: Vec<(String, Vec<plot::Series>)> = Vec::new();
    let mut rows = Vec::new();
    let x: Vec<f64> = episodes.iter().map(|&e| e as f64).collect();
    let mut at_default = None;
    for &width in widths {
        let costs: Vec<ex::GradientCost> =
            episodes.iter().map(|&e| ex::gradient_cost(width, e, reps)).collect();
        for c in &costs {
            rows.push(vec![
                width.to_string(),
                c.episodes.to_string(),
                c.steps.to_string(),
                format!("{:.2}", c.per_step * 1e6),
                format!("{:.2}", c.batched * 1e6),
                format!("{:.1}", c.speedup()),
            ]);
            if (c.width, c.episodes) == CARTPOLE_DEFAULT {
                at_default = Some(c.speedup());
            }
        }
        series.push((
            format!("hidden layers of width {width}"),
            vec![
                ("per step", x.clone(), costs.iter().map(|c| c.per_step * 1e6).collect()),
                ("batched", x.clone(), costs.iter().map(|c| c.batched * 1e6).collect()),
            ],
        ));
    }
    let panels: Vec<plot::LinePanel> = series
        .iter()
        .map(|(heading, lines)| (heading.as_str(), "microseconds per step", lines.clone()))
        .collect();
    let figure = plot::line_panels(
        "Gradient cost per environment step (CartPole batches, two hidden layers)",
        "episodes per batch",
        Axes::LogLog,
        &panels,
    );
    report.figure("04-cost.html", &figure)?;
    let mut text = markdown_table(
        &["width", "episodes", "steps", "per step (µs/step)", "batched (µs/step)", "speedup"],
        &rows,
    );
    text += &format!("\nMedian of {reps} timed gradients per cell, on this machine, when `pg book` ran.");
    if let Some(s) = at_default {
        text += &format!(
            " At `pg train`'s CartPole defaults (two hidden layers of {}, {} episodes) the batched pass is {s:.1} times faster.",
            CARTPOLE_DEFAULT.0, CARTPOLE_DEFAULT.1
        );
    }
    report.write("04-cost-table.md", &(text + "\n"))
}

/// The learning-curve figure with the random policy's return as a dashed line.
fn pendulum_plot(groups: &[(&str, &[TrainLog])], random: f64) -> plotly::Plot {
    let spreads = evaluation_spreads(groups);
    let mut figure = plot::compare_curves(
        "Pendulum-v1: Gaussian policy, GAE from a learned value",
        "environment steps",
        &format!("mean return of {EVAL_EPISODES} evaluation episodes"),
        &spreads,
    );
    let end = groups.iter().flat_map(|(_, l)| l.iter().map(TrainLog::env_steps)).max().unwrap_or(0) as f64;
    figure.add_trace(
        Scatter::new(vec![0.0, end], vec![random, random])
            .mode(Mode::Lines)
            .line(Line::new().dash(DashType::Dash).color("rgb(110,110,110)"))
            .name("reference: uniformly random torques"),
    );
    figure
}

fn pendulum(report: &mut dyn Report) -> Result<(), String> {
    let setup = pendulum_setup(report.quick());
    let gamma = other_gamma(&setup);
    report.start(&format!(
        "chapter 4: Pendulum ({} seeds, three ablations on the same seeds)",
        setup.seeds.len()
    ));
    let err = |e: pg_core::PgError| e.to_string();
    let full = ex::pendulum_runs(&setup).map_err(err)?;
    let flip_obs = PendulumSetup { normalize_observations: !setup.normalize_observations, ..setup.clone() };
    let flip_adv = PendulumSetup { normalize_advantages: !setup.normalize_advantages, ..setup.clone() };
    let obs = ex::pendulum_runs(&flip_obs).map_err(err)?;
    let adv = ex::pendulum_runs(&flip_adv).map_err(err)?;
    let other = ex::pendulum_runs(&PendulumSetup { gamma, ..setup.clone() }).map_err(err)?;
    let random = ex::random_policy_return(100, 0);
    let with = |on: bool| if on { "with" } else { "without" };
    let names = [
        "the setting above".to_string(),
        format!("{} observation normalisation", with(flip_obs.normalize_observations)),
        format!("{} advantage normalisation", with(flip_adv.normalize_advantages)),
        format!("γ = {gamma} instead of {}", setup.gamma),
    ];
    let groups = [
        (names[0].as_str(), full.as_slice()),
        (names[1].as_str(), obs.as_slice()),
        (names[2].as_str(), adv.as_slice()),
        (names[3].as_str(), other.as_slice()),
    ];
    report.figure("04-pendulum.html", &pendulum_plot(&groups, random))?;
    let target = ex::PENDULUM_TARGET;
    let budget = setup.max_env_steps;
    let finals =
        |logs: &[TrainLog]| -> Vec<f64> { logs.iter().filter_map(|l| evaluation_at(l, budget)).collect() };
    let by_group: Vec<Vec<f64>> = groups.iter().map(|(_, logs)| finals(logs)).collect();
    let summary: Vec<Vec<String>> = groups
        .iter()
        .zip(&by_group)
        .map(|((name, logs), f)| {
            let cell = |x: Option<f64>| x.map_or("none".into(), |x| format!("{x:.0}"));
            let reached: Vec<Option<f64>> =
                logs.iter().map(|l| sustained_at(l, target).map(|s| s as f64)).collect();
            vec![
                name.to_string(),
                cell((!f.is_empty()).then(|| plot::quantile(f, 0.5))),
                if f.is_empty() {
                    "none".into()
                } else {
                    format!("{:.0} to {:.0}", plot::quantile(f, 0.25), plot::quantile(f, 0.75))
                },
                cell(f.iter().copied().min_by(f64::total_cmp)),
                format!("{} of {}", reached.iter().flatten().count(), logs.len()),
                median_or_never(reached.into_iter(), 0),
            ]
        })
        .collect();
    let base = &by_group[0];
    let target_met = !base.is_empty() && plot::quantile(base, 0.5) >= target;
    let mut comparisons = format!(
        "\nThe target, a median evaluation of at least {target} after {budget} steps: {}.",
        if target_met { "met" } else { "missed" }
    );
    for ((name, _), f) in groups.iter().zip(&by_group).skip(1) {
        if f.is_empty() || base.is_empty() {
            continue;
        }
        let higher = f.iter().zip(base).filter(|(a, b)| a > b).count();
        comparisons += &format!(
            " Setting “{}”: median {:.0} against {:.0}, higher on {higher} of {} seeds.",
            name,
            plot::quantile(f, 0.5),
            plot::quantile(base, 0.5),
            f.len().min(base.len())
        );
    }
    comparisons.push('\n');
    let text = format!(
        "Settings: hidden layers {:?} for the policy and V, initial log σ {}, Adam step {}, {} episodes of 200 steps \
         per batch (one gradient step each), γ = {}, GAE λ = {}, V fitted with {} Adam steps of {} on {} states per \
         batch, observations normalised: {}, advantages normalised: {}; {} environment steps per run, seeds {:?} \
         for every setting.\n\n",
        setup.hidden,
        setup.log_std,
        setup.lr,
        setup.batch,
        setup.gamma,
        setup.lambda,
        setup.value_steps,
        setup.value_lr,
        setup.value_minibatch,
        if setup.normalize_observations { "yes" } else { "no" },
        if setup.normalize_advantages { "yes" } else { "no" },
        budget,
        setup.seeds,
    ) + &markdown_table(
        &[
            "setting",
            &format!("median evaluation at {budget} steps"),
            "25th to 75th percentile",
            "worst seed",
            &format!("seeds whose 3 consecutive evaluations averaged {target}"),
            "median steps until they did",
        ],
        &summary,
    ) + &comparisons
        + &format!(
            "\nEvery {} environment steps each run is evaluated: {EVAL_EPISODES} episodes with the mean action, from \
         start states drawn from the run's seed and the evaluation's number, observations standardised by the \
         statistics training had reached, not counted as training steps. A run reaches {target} when the mean of \
         {SUSTAINED} consecutive evaluations does; a run that never did counts as infinitely slow. Uniformly random \
         torques average {random:.0} over 100 episodes.\n",
            setup.eval_every,
        )
        + &folded(
            &format!("Evaluation at {budget} steps, seed by seed"),
            &per_seed_table(&setup.seeds, &groups, |l| {
                evaluation_at(l, budget).map_or("none".into(), |e| format!("{e:.0}"))
            }),
        );
    report.write("04-pendulum-table.md", &text)
}

/// Runs chapter 4's experiments and writes its generated files.
pub fn write(report: &mut dyn Report) -> Result<(), String> {
    checks(report)?;
    exercises(report)?;
    cost(report)?;
    pendulum(report)
}

/// What the graders of the chapter's exercises know and print.
fn exercises(report: &mut dyn Report) -> Result<(), String> {
    use crate::exercises::*;
    report.start("chapter 4: exercise graders");
    let starter = check_cross_entropy(CROSS_ENTROPY_STARTER);
    report.write("04-exercise-cross-entropy.md", &book_section(CROSS_ENTROPY_MISTAKES, &starter))?;
    let starter = check_gaussian(GAUSSIAN_STARTER);
    report.write("04-exercise-gaussian.md", &book_section(GAUSSIAN_MISTAKES, &starter))
}

#[cfg(test)]
mod tests {
    #[test]
    fn quick_run_writes_exactly_the_listed_files() {
        pg_core::report::quick_run(super::write, super::GENERATED).unwrap();
    }
}
