//! Chapter 3's figures and tables: [`write`] runs the chapter's experiments
//! and writes every file that `book/src/03-baselines.md` includes.

use crate::experiments::{self as ex, TabularRuns, VarianceRow};
use crate::{MeanBaseline, OptimalBaseline};
use pg_causality::RewardToGo;
use pg_core::env::TabularMdp;
use pg_core::grading::book_section;
use pg_core::plot::{self, Axes};
use pg_core::policy::TabularSoftmax;
use pg_core::report::{Report, markdown_table};
use pg_likelihood_ratio::book::{Z_TEST_N, Z_TEST_SEED, cartpole_setup};
use pg_likelihood_ratio::exact::exact_moments;
use pg_likelihood_ratio::experiments::{self as ch1, broken, mean_sd, reference_policy};
use pg_likelihood_ratio::{Estimator, Reinforce};

/// Every file [`write`] generates; the chapter may include only these.
pub const GENERATED: &[&str] = &[
    "03-checks.md",
    "03-constants.md",
    "03-offset.html",
    "03-offset-table.md",
    "03-sparse.md",
    "03-batch.html",
    "03-batch-table.md",
    "03-gae.md",
    "03-learning-curves.html",
    "03-learning-table.md",
    "03-exercise-leave-one-out.md",
    "03-exercise-gae.md",
];

/// The baselines (the first three) and their deliberately broken variants,
/// for the check table; all run on batches of [`ex::EXACT_BATCH`] trajectories.
pub fn checked_estimators() -> Vec<Box<dyn Estimator<TabularSoftmax>>> {
    let (mdp, policy) = (TabularMdp::three_state(), reference_policy());
    vec![
        Box::new(MeanBaseline { leave_one_out: true }),
        Box::new(OptimalBaseline { leave_one_out: true }),
        Box::new(ex::exact_value_baseline(&mdp, &policy, false)),
        Box::new(MeanBaseline { leave_one_out: false }),
        Box::new(OptimalBaseline { leave_one_out: false }),
        Box::new(ex::ActionValueBaseline { q: ex::exact_values(&mdp, &policy, false).q }),
        Box::new(broken::Scaled(MeanBaseline { leave_one_out: true }, 1.1)),
    ]
}

/// The reward offsets c of the offset experiments.
pub const OFFSETS: [f64; 3] = [0.0, 10.0, 100.0];

/// The λ of the GAE table.
pub const GAE_LAMBDAS: [f64; 5] = [0.0, 0.5, 0.9, 0.95, 1.0];

/// The batch sizes of the batch-size experiment.
pub const BATCH_SIZES: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];

/// The training runs on the three-state MDP: batch, iterations, step size, seeds.
pub fn tabular_runs(quick: bool) -> TabularRuns {
    TabularRuns { batch: 8, iters: 50, lr: 0.05, seeds: (0..if quick { 4 } else { 20 }).collect() }
}

/// A named line of a figure: label, x and y.
type Series = (&'static str, Vec<f64>, Vec<f64>);

/// A maker of fresh estimators, one per training run.
type Maker = Box<dyn Fn() -> Box<dyn Estimator<TabularSoftmax>> + Sync>;

/// The estimators of the training experiments on the three-state MDP.
pub fn trained_estimators() -> Vec<(&'static str, Maker)> {
    vec![
        ("REINFORCE (chapter 1)", Box::new(|| Box::new(Reinforce))),
        ("reward-to-go (chapter 2)", Box::new(|| Box::new(RewardToGo::new()))),
        ("mean baseline", Box::new(|| Box::new(MeanBaseline { leave_one_out: true }))),
        ("optimal constant", Box::new(|| Box::new(OptimalBaseline { leave_one_out: true }))),
        ("learned V(s)", Box::new(|| Box::new(ex::tabular_value_baseline(3).expect("valid value settings")))),
    ]
}

fn checks(report: &mut dyn Report) -> Result<(), String> {
    let n = if report.quick() { Z_TEST_N / 10 } else { Z_TEST_N };
    report.start("chapter 3: exact and statistical checks on batches of two");
    let rows = ch1::check_rows_batched(&checked_estimators(), ex::EXACT_BATCH, n, Z_TEST_SEED);
    let (mdp, policy) = (TabularMdp::three_state(), reference_policy());
    let exact = mdp.exact_gradient(&policy);
    let own = exact_moments(&mdp, &policy, &MeanBaseline { leave_one_out: false }, ex::EXACT_BATCH);
    let factor = own.mean.dot(&exact) / exact.dot(&exact);
    let text = ch1::check_table(&rows)
        + &format!(
            "\nEvery estimate here averages a batch of N = {} trajectories, and the exact moments enumerate \
             every such batch. The mean that includes a trajectory's own return has expectation {factor:.12} \
             times $\\nabla J$, the factor $(N-1)/N$. The z-test ({} batches, reject at $\\lvert z\\rvert > {}$) \
             detects with probability 0.999 a mean that overshoots $\\nabla J$ by a relative {:.3} or more \
             with the leave-one-out mean, but only by {:.3} or more with the leave-one-out optimal constant, \
             whose variance is far larger.\n",
            ex::EXACT_BATCH,
            n / ex::EXACT_BATCH,
            ch1::Z_MAX,
            rows[0].power,
            rows[1].power,
        );
    report.write("03-checks.md", &text)
}

fn constants(report: &mut dyn Report) -> Result<(), String> {
    report.start("chapter 3: exact variance of constant baselines");
    let rows = ex::constant_baselines();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut row = vec![r.name.clone(), format!("{:.4}", r.variance.iter().sum::<f64>())];
            row.extend(r.variance.iter().take(4).map(|v| format!("{v:.4}")));
            row.push(format!("{:.0e}", r.max_abs_bias));
            row
        })
        .collect();
    let text = markdown_table(
        &[
            "constant baseline",
            "$\\operatorname{tr}\\operatorname{Cov}[\\hat g]$",
            "$\\operatorname{Var}[\\hat g_1]$",
            "$\\operatorname{Var}[\\hat g_2]$",
            "$\\operatorname{Var}[\\hat g_3]$",
            "$\\operatorname{Var}[\\hat g_4]$",
            "largest bias",
        ],
        &cells,
    ) + "\nOne trajectory per estimate, reward-to-go weights, exact by enumeration. Components 5 and 6 \
         (the terminal state's) are zero in every estimate.\n";
    report.write("03-constants.md", &text)
}

/// A table of exact variances, one column per setting.
fn variance_table(first: &str, settings: &[String], rows: &[VarianceRow]) -> String {
    let mut headers = vec![first.to_string()];
    headers.extend(settings.iter().cloned());
    headers.push("largest bias".into());
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut row = vec![r.name.clone()];
            row.extend(r.variance.iter().map(|v| format!("{v:.4}")));
            row.push(format!("{:.0e}", r.max_abs_bias));
            row
        })
        .collect();
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    markdown_table(&headers, &cells)
}

/// Mean and standard deviation of the final exact J over the runs, as text.
fn mean_pm_sd(js: &[f64]) -> String {
    let (m, sd) = mean_sd(js);
    format!("{m:.3} ± {sd:.3}")
}

/// Final exact objectives of every trained estimator at every setting: the
/// table's cells (mean ± sd) and the figure's series (means), with `x` as
/// the settings' positions. `run` trains one estimator at one setting.
fn sweep<S: Copy>(
    settings: &[S],
    x: &[f64],
    run: impl Fn(&Maker, S) -> Result<Vec<f64>, pg_core::PgError>,
) -> Result<(Vec<Vec<String>>, Vec<Series>), String> {
    let mut cells = Vec::new();
    let mut series = Vec::new();
    for (name, make) in trained_estimators() {
        let mut row = vec![name.to_string()];
        let mut means = Vec::new();
        for &setting in settings {
            let js = run(&make, setting).map_err(|e| e.to_string())?;
            row.push(mean_pm_sd(&js));
            means.push(mean_sd(&js).0);
        }
        cells.push(row);
        series.push((name, x.to_vec(), means));
    }
    Ok((cells, series))
}

/// A table of the final objectives, one column per setting.
fn settings_table(settings: &[String], cells: &[Vec<String>]) -> String {
    let mut headers = vec!["estimator"];
    headers.extend(settings.iter().map(String::as_str));
    markdown_table(&headers, cells)
}

fn offsets(report: &mut dyn Report) -> Result<(), String> {
    report.start("chapter 3: reward offsets (exact variances and training runs)");
    let settings: Vec<String> = OFFSETS.iter().map(|c| format!("c = {c}")).collect();
    let variances = ex::offset_variances(&OFFSETS);
    let runs = tabular_runs(report.quick());
    let h = TabularMdp::three_state().horizon() as f64;
    let (cells, series) = sweep(&OFFSETS, &OFFSETS, |make, c| {
        let mdp = TabularMdp::three_state().without_termination().horizon_terminates().with_reward_offset(c);
        Ok(ex::final_objectives(&mdp, make.as_ref(), &runs)?.iter().map(|j| j - c * h).collect())
    })?;
    let figure = plot::lines(
        "Training with c added to every reward (three-state MDP, no termination)",
        "reward offset c",
        "exact J(θ) − cH after training (mean over seeds)",
        Axes::Linear,
        &series,
    );
    report.figure("03-offset.html", &figure)?;
    let ending = ex::offset_variances_terminating(&OFFSETS);
    let mean_row = |rows: &[VarianceRow]| -> VarianceRow {
        rows.iter()
            .find(|r| r.name.starts_with("mean baseline"))
            .expect("the mean baseline is compared")
            .clone()
    };
    let (fixed_mean, ending_mean) = (mean_row(&variances), mean_row(&ending));
    let spread = |v: &[f64]| v.iter().map(|x| (x - v[0]).abs() / v[0]).fold(0.0, f64::max);
    let last = OFFSETS.len() - 1;
    // The training runs: which estimators end lower with the largest offset,
    // and how far the mean baseline's results move.
    let lower: Vec<&str> =
        series.iter().filter(|(_, _, m)| m[last] < m[0] - 1e-9).map(|(name, _, _)| *name).collect();
    let moved = |name: &str| {
        series
            .iter()
            .find(|(n, _, _)| n.starts_with(name))
            .map_or(f64::NAN, |(_, _, m)| m.iter().map(|x| (x - m[0]).abs()).fold(0.0, f64::max))
    };
    let text = format!(
        "Exact $\\operatorname{{tr}}\\operatorname{{Cov}}[\\hat g]$ on batches of {} trajectories at the \
         reference policy, **every episode lasting the horizon**:\n\n",
        ex::EXACT_BATCH
    ) + &variance_table("estimator", &settings, &variances)
        + &format!(
            "\nThe mean baseline's variance is the same at every $c$ (largest relative change {:.0e}).\n\n\
             The same on the **MDP as it is**, where an episode ends early when it enters the terminal \
             state (its $c = 0$ column is the \"rewards as they come\" column of the delayed-reward table \
             below):\n\n",
            spread(&fixed_mean.variance)
        )
        + &variance_table("estimator", &settings, &ending)
        + &format!(
            "\nHere the mean baseline's variance goes from {:.3} at $c = 0$ to {:.1} at $c = {}$.\n\n",
            ending_mean.variance[0], ending_mean.variance[last], OFFSETS[last]
        )
        + &format!(
            "Exact $J(\\theta) - cH$ after {} Adam steps of {} on batches of {}, every episode lasting the \
             horizon (mean ± sd over {} seeds):\n\n",
            runs.iters,
            runs.lr,
            runs.batch,
            runs.seeds.len()
        )
        + &settings_table(&settings, &cells)
        + &format!(
            "\nWith $c = {}$, these end lower than with $c = 0$: {}. The mean baseline's mean moves by at \
             most {:.1e} across the offsets.\n",
            OFFSETS[last],
            if lower.is_empty() { "none".to_string() } else { lower.join(", ") },
            moved("mean baseline"),
        );
    report.write("03-offset-table.md", &text)
}

fn sparse(report: &mut dyn Report) -> Result<(), String> {
    report.start("chapter 3: dense and delayed rewards (exact)");
    let rows = ex::dense_sparse_variances();
    let settings =
        vec!["rewards as they come".to_string(), "every reward delayed to the last step".to_string()];
    let text = format!(
        "Exact $\\operatorname{{tr}}\\operatorname{{Cov}}[\\hat g]$ on batches of {} trajectories; the \
         returns, $J$ and $\\nabla J$ are the same in both columns.\n\n",
        ex::EXACT_BATCH
    ) + &variance_table("estimator", &settings, &rows);
    let find = |name: &str| rows.iter().find(|r| r.name.starts_with(name)).expect("compared");
    let (b, v) = (find("exact optimal constant"), find("exact V(s)"));
    let compare = |k: usize| {
        let (lo, hi) = if b.variance[k] < v.variance[k] {
            ("the constant $b^*$", "the state value $V(s)$")
        } else {
            ("the state value $V(s)$", "the constant $b^*$")
        };
        format!(
            "{lo} ({:.3} against {:.3} for {hi})",
            b.variance[k].min(v.variance[k]),
            b.variance[k].max(v.variance[k])
        )
    };
    let text = text
        + &format!(
            "\nThe lower variance of the two exact baselines: with the rewards as they come, {}; with every \
             reward delayed, {}.\n",
            compare(0),
            compare(1)
        );
    report.write("03-sparse.md", &text)
}

fn batch_sizes(report: &mut dyn Report) -> Result<(), String> {
    report.start("chapter 3: batch size (training runs on the three-state MDP)");
    let mdp = TabularMdp::three_state().horizon_terminates();
    let base = tabular_runs(report.quick());
    let sizes: Vec<usize> = if report.quick() { vec![1, 4] } else { BATCH_SIZES.to_vec() };
    let x: Vec<f64> = sizes.iter().map(|&n| n as f64).collect();
    let (cells, mut series) = sweep(&sizes, &x, |make, batch| {
        ex::final_objectives(&mdp, make.as_ref(), &TabularRuns { batch, ..base.clone() })
    })?;
    let exact_runs = TabularRuns { batch: 1, seeds: vec![0], ..base.clone() };
    let limit = ex::final_objectives(&mdp, &|| Box::new(ex::ExactGradient(mdp.clone())), &exact_runs)
        .map_err(|e| e.to_string())?[0];
    series.push(("reference: the exact gradient (N = ∞)", x.clone(), vec![limit; x.len()]));
    let figure = plot::lines(
        &format!("Exact J(θ) after {} steps against the batch size", base.iters),
        "trajectories per batch N",
        "exact J(θ) after training (mean over seeds)",
        Axes::LogX,
        &series,
    );
    report.figure("03-batch.html", &figure)?;
    let settings: Vec<String> = sizes.iter().map(|n| format!("N = {n}")).collect();
    let text = format!(
        "Exact $J(\\theta)$ after {} Adam steps of {} (mean ± sd over {} seeds); the same steps along the \
         exact gradient reach {limit:.3}.\n\n",
        base.iters,
        base.lr,
        base.seeds.len()
    ) + &settings_table(&settings, &cells);
    report.write("03-batch-table.md", &text)
}

fn gae_table(report: &mut dyn Report) -> Result<(), String> {
    report.start("chapter 3: GAE(λ), exact bias and variance");
    let rows = ex::gae_tradeoff(&GAE_LAMBDAS);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.lambda.to_string(),
                format!("{:.1e}", r.bias_v),
                format!("{:.4}", r.variance_v),
                format!("{:.1e}", r.bias_vt),
                format!("{:.4}", r.variance_vt),
            ]
        })
        .collect();
    let text = markdown_table(
        &[
            "λ",
            "relative bias, exact V(s)",
            "tr Cov, exact V(s)",
            "relative bias, exact V(s, t)",
            "tr Cov, exact V(s, t)",
        ],
        &cells,
    ) + "\nOne trajectory per estimate, γ = 1, on the three-state MDP whose horizon ends the episode.\n";
    report.write("03-gae.md", &text)
}

fn cartpole(report: &mut dyn Report) -> Result<(), String> {
    let setup = cartpole_setup(report.quick());
    report.start(&format!("chapter 3: CartPole learning curves ({} seeds, 6 estimators)", setup.seeds.len()));
    let err = |e: pg_core::PgError| e.to_string();
    let plain = ch1::cartpole_learning_curves(&Reinforce, &setup).map_err(err)?;
    let rtg = ch1::cartpole_learning_curves(&RewardToGo::new(), &setup).map_err(err)?;
    let mean = ch1::cartpole_learning_curves(&MeanBaseline { leave_one_out: true }, &setup).map_err(err)?;
    let optimal =
        ch1::cartpole_learning_curves(&OptimalBaseline { leave_one_out: true }, &setup).map_err(err)?;
    let value = ch1::cartpole_learning_curves(&ex::cartpole_value_baseline(None).map_err(err)?, &setup)
        .map_err(err)?;
    let gae = ex::CARTPOLE_GAE_LAMBDA;
    let gae_runs =
        ch1::cartpole_learning_curves(&ex::cartpole_value_baseline(Some(gae)).map_err(err)?, &setup)
            .map_err(err)?;
    let gae_name = format!("GAE, λ = {gae}");
    let groups = [
        ("REINFORCE (chapter 1)", plain.as_slice()),
        ("reward-to-go (chapter 2)", rtg.as_slice()),
        ("mean baseline", mean.as_slice()),
        ("optimal constant", optimal.as_slice()),
        ("learned V(s)", value.as_slice()),
        (gae_name.as_str(), gae_runs.as_slice()),
    ];
    let title = format!("CartPole-v1: chapters 1 to 3 ({} seeds)", setup.seeds.len());
    report.figure("03-learning-curves.html", &ch1::learning_curve_plot(&title, &groups))?;
    let plain_median = ch1::median_steps_to_solve(&plain);
    let relative: Vec<String> = groups[1..]
        .iter()
        .map(|(name, logs)| match (ch1::median_steps_to_solve(logs), plain_median) {
            (Some(m), Some(p)) => format!("{name}: {:.2}", m / p),
            _ => format!("{name}: no median"),
        })
        .collect();
    report.write(
        "03-learning-table.md",
        &(ch1::solved_table(&setup, &groups)
            + &format!(
                "\nMedian steps to 475 as a fraction of REINFORCE's: {}. The learned value baseline and GAE \
                 discount by γ = {} (see the text); the mean and optimal baselines leave one trajectory out.\n",
                relative.join(", "),
                ex::CARTPOLE_GAMMA
            )),
    )
}

/// Runs chapter 3's experiments and writes its generated files.
pub fn write(report: &mut dyn Report) -> Result<(), String> {
    checks(report)?;
    constants(report)?;
    offsets(report)?;
    sparse(report)?;
    batch_sizes(report)?;
    gae_table(report)?;
    exercises(report)?;
    cartpole(report)
}

/// What the graders of the chapter's exercises know and print.
fn exercises(report: &mut dyn Report) -> Result<(), String> {
    use crate::exercises::*;
    report.start("chapter 3: exercise graders");
    let starter = check_leave_one_out(LEAVE_ONE_OUT_STARTER);
    report.write("03-exercise-leave-one-out.md", &book_section(LEAVE_ONE_OUT_MISTAKES, &starter))?;
    let starter = check_gae(GAE_STARTER);
    report.write("03-exercise-gae.md", &book_section(GAE_MISTAKES, &starter))
}

#[cfg(test)]
mod tests {
    #[test]
    fn quick_run_writes_exactly_the_listed_files() {
        pg_core::report::quick_run(super::write, super::GENERATED).unwrap();
    }
}
