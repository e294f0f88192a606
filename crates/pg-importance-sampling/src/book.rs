//! Chapter 5's figures and tables: [`write`] runs the chapter's experiments
//! and writes every file that `book/src/05-importance-sampling.md` includes.

use crate::experiments::{self as ex, ReuseSetup};
use pg_core::env::TabularMdp;
use pg_core::grading::book_section;
use pg_core::plot::{self, Axes};
use pg_core::report::{Report, markdown_table};
use pg_likelihood_ratio::TrainLog;
use pg_likelihood_ratio::experiments::{self as ch1, CartPoleSetup, reference_policy};

/// Every file [`write`] generates; the chapter may include only these.
pub const GENERATED: &[&str] = &[
    "05-checks.md",
    "05-horizon.html",
    "05-horizon-table.md",
    "05-first-order.html",
    "05-first-order-table.md",
    "05-reuse.html",
    "05-reuse-kl.html",
    "05-reuse-table.md",
    "05-exercise-per-decision.md",
];

/// How far θ is moved from θ_old in the check table and the horizon experiment.
pub const SCALE: f64 = 0.5;

/// The horizons at which the ratio's spread is computed exactly.
pub const EXACT_HORIZONS: std::ops::RangeInclusive<usize> = 1..=8;

/// The scales of the first-order experiment.
pub const FIRST_ORDER_SCALES: [f64; 8] = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28];

/// The iterations over which the typical KL per update is summarised (the learning phase).
pub const EARLY: usize = 50;

/// The CartPole reuse settings of the book.
pub fn reuse_setup(quick: bool) -> ReuseSetup {
    if quick {
        ReuseSetup {
            reuse: vec![1, 2],
            cartpole: CartPoleSetup { seeds: vec![0], iters: 3, batch: 4, ..Default::default() },
        }
    } else {
        ReuseSetup {
            reuse: vec![1, 2, 4, 8, 16],
            cartpole: CartPoleSetup {
                seeds: (0..10).collect(),
                lr: 0.003,
                batch: 32,
                iters: 10_000,
                max_env_steps: Some(300_000),
                ..Default::default()
            },
        }
    }
}

fn checks(report: &mut dyn Report) -> Result<(), String> {
    report.start("chapter 5: exact bias and variance off-policy");
    let mdp = TabularMdp::three_state();
    let (old, new) = (reference_policy(), ex::moved_policy(SCALE));
    let truth = mdp.exact_gradient(&new);
    let rows: Vec<Vec<String>> = ex::checked_estimators()
        .iter()
        .map(|e| {
            let m = ex::off_policy_moments(&mdp, &old, &new, e.as_ref());
            vec![
                e.name(),
                format!("{:.1e}", m.relative_bias(&truth)),
                if m.max_abs_bias(&truth) <= ch1::EXACT_TOL { "unbiased" } else { "biased" }.into(),
                format!("{:.3}", m.total_variance()),
            ]
        })
        .collect();
    let text = markdown_table(
        &[
            "estimator",
            "exact relative bias for ∇J(θ)",
            "exact check",
            "exact $\\operatorname{tr}\\operatorname{Cov}[\\hat g]$",
        ],
        &rows,
    ) + &format!(
        "\nSamples from the reference policy θ_old, the gradient wanted at θ = θ_old + {SCALE}·d; every trajectory \
         enumerated, one trajectory per estimate. The mean KL divergence between the two policies over θ_old's \
         states is {:.4}.\n",
        ex::exact_mean_kl(&mdp, &old, &new)
    );
    report.write("05-checks.md", &text)
}

fn horizon(report: &mut dyn Report) -> Result<(), String> {
    report.start("chapter 5: the trajectory ratio against the horizon");
    let exact = ex::ratio_against_horizon(&EXACT_HORIZONS.collect::<Vec<_>>(), SCALE);
    let (long, n): (Vec<usize>, usize) =
        if report.quick() { (vec![10, 20], 2_000) } else { (vec![10, 20, 40, 80, 160], 20_000) };
    let simulated = ex::simulated_ratio_spread(&long, SCALE, n, 3);
    let h: Vec<f64> = exact.iter().map(|r| r.horizon as f64).collect();
    let long_h: Vec<f64> = simulated.iter().map(|(h, _, _)| *h as f64).collect();
    // The exact series enumerate the three-state MDP (with its terminal
    // state); the simulated ones run the same MDP without termination, so
    // that every episode lasts the whole horizon.
    let (exact_name, simulated_name) =
        ("three-state MDP, exact by enumeration", "three-state MDP without its terminal state, simulated");
    let figure = plot::line_panels(
        "The trajectory ratio against the horizon",
        "horizon H",
        Axes::LogLog,
        &[
            (
                "",
                "Var[log ρ(τ)]",
                vec![
                    (exact_name, h.clone(), exact.iter().map(|r| r.log_ratio_variance).collect()),
                    (simulated_name, long_h.clone(), simulated.iter().map(|s| s.1).collect()),
                ],
            ),
            (
                "",
                "effective sample size / N",
                vec![
                    (exact_name, h, exact.iter().map(|r| r.ess_fraction).collect()),
                    (simulated_name, long_h, simulated.iter().map(|s| s.2).collect()),
                ],
            ),
        ],
    );
    report.figure("05-horizon.html", &figure)?;
    let rows: Vec<Vec<String>> = exact
        .iter()
        .map(|r| {
            vec![
                r.horizon.to_string(),
                format!("{:.4}", r.log_ratio_variance),
                format!("{:.4}", r.ratio_variance),
                format!("{:.3}", r.ess_fraction),
                format!("{:.3}", r.trajectory),
                format!("{:.3}", r.per_decision),
            ]
        })
        .collect();
    let sim: Vec<String> = simulated
        .iter()
        .map(|(h, v, e)| format!("H = {h}: Var[log ρ] {v:.3}, effective sample size / N {e:.3}"))
        .collect();
    let text = markdown_table(
        &[
            "horizon",
            "Var[log ρ(τ)]",
            "Var[ρ(τ)]",
            "effective sample size per trajectory",
            "tr Cov, trajectory ratio",
            "tr Cov, per-decision",
        ],
        &rows,
    ) + &format!(
        "\nExact, θ = θ_old + {SCALE}·d. Simulated without the terminal state ({n} trajectories each): {}.\n",
        sim.join(", ")
    );
    report.write("05-horizon-table.md", &text)
}

fn first_order(report: &mut dyn Report) -> Result<(), String> {
    report.start("chapter 5: the first-order approximation's bias");
    let rows = ex::first_order_bias(&FIRST_ORDER_SCALES);
    let (against_distance, against_kl) = ex::bias_orders(&rows[..5]);
    let figure = plot::lines(
        "First-order approximation: exact bias against the KL divergence",
        "mean KL(πθ_old ‖ πθ) over θ_old's states",
        "‖E[ĝ] − ∇J(θ)‖",
        Axes::LogLog,
        &[
            (
                "first-order approximation",
                rows.iter().map(|r| r.kl).collect(),
                rows.iter().map(|r| r.bias).collect(),
            ),
            (
                "state ratio kept, later ratios dropped",
                rows.iter().map(|r| r.kl).collect(),
                rows.iter().map(|r| r.bias_state_ratio_kept).collect(),
            ),
        ],
    );
    report.figure("05-first-order.html", &figure)?;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                format!("{}", r.scale),
                format!("{:.4}", r.distance),
                format!("{:.2e}", r.kl),
                format!("{:.2e}", r.bias),
                format!("{:.2e}", r.bias_state_ratio_kept),
            ]
        })
        .collect();
    let at = &ex::first_order_bias(&[SCALE])[0];
    let text = markdown_table(
        &["scale", "‖θ − θ_old‖", "mean KL", "first-order bias", "bias with the state ratio kept"],
        &cells,
    ) + &format!(
        "\nFitted log-log slopes of the first-order bias over the five smallest scales: {against_distance:.3} \
         against ‖θ − θ_old‖ and {against_kl:.3} against the KL divergence. At the check table's scale {SCALE}, \
         the first-order bias is {:.1} % of ‖∇J(θ)‖; keeping the state ratio leaves {:.1} %, which is {:.0} % of \
         the first-order bias: the later ratios matter as well.\n",
        100.0 * at.bias / at.gradient_norm,
        100.0 * at.bias_state_ratio_kept / at.gradient_norm,
        100.0 * at.bias_state_ratio_kept / at.bias,
    );
    report.write("05-first-order-table.md", &text)
}

fn reuse(report: &mut dyn Report) -> Result<(), String> {
    let setup = reuse_setup(report.quick());
    report.start(&format!(
        "chapter 5: CartPole with reuse ({} settings, {} seeds)",
        setup.reuse.len(),
        setup.cartpole.seeds.len()
    ));
    let runs = ex::reuse_runs(&setup).map_err(|e| e.to_string())?;
    let names: Vec<String> = setup.reuse.iter().map(|k| format!("U = {k}")).collect();
    let groups: Vec<(&str, &[TrainLog])> =
        names.iter().map(String::as_str).zip(runs.iter().map(Vec::as_slice)).collect();
    report.figure(
        "05-reuse.html",
        &ch1::learning_curve_plot("CartPole-v1: U steps per batch (first-order)", &groups),
    )?;
    let kl: Vec<(&str, Vec<f64>, Vec<f64>)> = groups
        .iter()
        .map(|(name, logs)| {
            let y = ex::mean_metric_per_iteration(logs, "kl");
            (*name, (0..y.len()).map(|i| i as f64).collect(), y)
        })
        .collect();
    report.figure(
        "05-reuse-kl.html",
        &plot::lines(
            "KL between the sampling and the updated policy",
            "iteration",
            "mean KL over the batch's states",
            Axes::LogY,
            &kl,
        ),
    )?;
    let kl_summary: Vec<String> = groups
        .iter()
        .map(|(name, logs)| {
            let kl = |l: &TrainLog, take: usize| -> Vec<f64> {
                l.iterations.iter().take(take).filter_map(|s| s.update.get("kl")).collect()
            };
            let early: Vec<f64> = logs.iter().flat_map(|l| kl(l, EARLY)).collect();
            let largest = logs.iter().flat_map(|l| kl(l, usize::MAX)).fold(0.0, f64::max);
            let median = if early.is_empty() { 0.0 } else { ch1::median(early) };
            format!("{name}: {median:.4} (largest {largest:.3})")
        })
        .collect();
    let text = ch1::solved_table(&setup.cartpole, &groups)
        + &format!(
            "\nMedian KL per update over the first {EARLY} iterations of every seed, and the largest over the whole run: {}.\n",
            kl_summary.join(", ")
        )
        + &reuse_verdict(&groups);
    report.write("05-reuse-table.md", &text)
}

/// What the table says about reuse, against one step per batch (the first
/// group): which U reached 475 in fewer median steps with at least as many
/// seeds, and which did worse on either count.
fn reuse_verdict(groups: &[(&str, &[TrainLog])]) -> String {
    let Some(((_, first), rest)) = groups.split_first() else { return String::new() };
    let base = ch1::Solving::of(first.iter());
    let steps = |s: &ch1::Solving| s.median_steps.unwrap_or(f64::INFINITY);
    let (mut better, mut worse) = (Vec::new(), Vec::new());
    for (name, logs) in rest {
        let s = ch1::Solving::of(logs.iter());
        if steps(&s) < steps(&base) && s.solved >= base.solved {
            better.push(*name);
        } else {
            worse.push(*name);
        }
    }
    let list = |v: &[&str]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
    format!(
        "\nAgainst {} ({} of {} seeds solved): fewer median environment steps to 475 with at least as many \
         seeds solved: {}; more steps or fewer seeds solved: {}.\n",
        groups[0].0,
        base.solved,
        base.runs,
        list(&better),
        list(&worse)
    )
}

/// Runs chapter 5's experiments and writes its generated files.
pub fn write(report: &mut dyn Report) -> Result<(), String> {
    checks(report)?;
    horizon(report)?;
    first_order(report)?;
    exercises(report)?;
    reuse(report)
}

/// What the grader of the chapter's exercise knows and prints.
fn exercises(report: &mut dyn Report) -> Result<(), String> {
    use crate::exercises::*;
    report.start("chapter 5: exercise grader");
    let starter = check_per_decision(PER_DECISION_STARTER);
    report.write("05-exercise-per-decision.md", &book_section(PER_DECISION_MISTAKES, &starter))
}

#[cfg(test)]
mod tests {
    #[test]
    fn quick_run_writes_exactly_the_listed_files() {
        pg_core::report::quick_run(super::write, super::GENERATED).unwrap();
    }
}
