//! Chapter 1's figures and tables: [`write`] runs the chapter's experiments
//! and writes every file that `book/src/01-likelihood-ratio.md` includes.

use crate::experiments::{self as ex, CartPoleSetup, broken};
use crate::{Estimator, Reinforce};
use pg_core::env::{CartPole, Pendulum, Stay, TabularMdp};
use pg_core::grading::book_section;
use pg_core::policy::{Policy, TabularSoftmax};
use pg_core::report::{Report, markdown_table};

/// Every file [`write`] generates; the chapter may include only these.
pub const GENERATED: &[&str] = &[
    "01-checks.md",
    "01-error-vs-n.html",
    "01-error-table.md",
    "01-slope.txt",
    "01-learning-curves.html",
    "01-learning-table.md",
    "01-bc-link.html",
    "01-bc-table.md",
    "problems-three-state.svg",
    "problems-reference-policy.md",
    "problems-gymnasium.md",
    "01-exercise-score.md",
    "01-exercise-reinforce.md",
];

/// Single-trajectory estimates per z-test, in the tests and in the book.
pub const Z_TEST_N: usize = 200_000;

/// The seed of the z-tests, in the tests and in the book.
pub const Z_TEST_SEED: u64 = 1;

/// The chapter's estimator and its deliberately broken variants, for the check table.
pub fn checked_estimators() -> Vec<Box<dyn Estimator<TabularSoftmax>>> {
    vec![
        Box::new(Reinforce),
        Box::new(broken::SignFlipped),
        Box::new(broken::PastRewards),
        Box::new(broken::FirstStepOnly),
        Box::new(broken::Scaled(Reinforce, 1.1)),
        Box::new(broken::DiscountedReturn(0.99)),
    ]
}

/// The stay MDP's variance check: stay probability, episodes, seed.
pub const STAY_CHECK: (f64, usize, u64) = (0.5, 200_000, 11);

/// The CartPole settings of the book's learning curves.
pub fn cartpole_setup(quick: bool) -> CartPoleSetup {
    if quick {
        CartPoleSetup { seeds: vec![0, 1], iters: 10, batch: 8, ..Default::default() }
    } else {
        CartPoleSetup {
            seeds: (0..10).collect(),
            lr: 0.003,
            batch: 32,
            iters: 1000,
            max_env_steps: Some(500_000),
            ..Default::default()
        }
    }
}

/// The check table with the exact bias of every estimator, the z-tests and the
/// stay MDP's variance.
fn checks(report: &mut dyn Report) -> Result<(), String> {
    let quick = report.quick();
    let n = if quick { Z_TEST_N / 10 } else { Z_TEST_N };
    report.start("chapter 1: exact and statistical checks of unbiasedness");
    let rows = ex::check_rows(&checked_estimators(), n, Z_TEST_SEED);
    let power = rows[0].power;
    let mut text = ex::check_table(&rows);
    text += &format!(
        "\nThe z-test averages {n} single-trajectory estimates and rejects when any component's \
         $\\lvert z\\rvert$ exceeds {z}. With the exact variances it detects, with probability 0.999, an \
         estimator whose mean overshoots $\\nabla J$ by a relative {power:.3} or more.\n",
        z = ex::Z_MAX
    );

    let (theta, episodes, seed) = STAY_CHECK;
    let episodes = if quick { episodes / 10 } else { episodes };
    report.start("chapter 1: variance on the stay MDP");
    let v = ex::stay_variance(&Reinforce, theta, episodes, seed);
    let exact_stay = crate::exact::stay_moments(&Reinforce, theta, 4000);
    text += &format!(
        "\nStay MDP at $\\theta = {theta}$: closed-form variance {:.2}, by summing over episode lengths {:.2}, \
         simulated {:.2} over {episodes} episodes; $dJ/d\\theta$ = {:.2} in closed form, simulated mean {:.2}.\n",
        ex::stay_closed_form_variance(theta),
        exact_stay.variance[0],
        v.variance,
        Stay::gradient(theta),
        v.mean
    );
    report.write("01-checks.md", &text)
}

/// What the graders of the chapter's exercises know and print.
fn exercises(report: &mut dyn Report) -> Result<(), String> {
    use crate::exercises::*;
    report.start("chapter 1: exercise graders");
    let score = check_score(SCORE_STARTER);
    report.write("01-exercise-score.md", &book_section(SCORE_MISTAKES, &score))?;
    let reinforce = check_reinforce(REINFORCE_STARTER);
    report.write("01-exercise-reinforce.md", &book_section(REINFORCE_MISTAKES, &reinforce))
}

/// Runs chapter 1's experiments and writes its generated files.
pub fn write(report: &mut dyn Report) -> Result<(), String> {
    let quick = report.quick();
    problems(report)?;
    checks(report)?;
    exercises(report)?;

    let ns: &[usize] = if quick { &[10, 100, 1000] } else { &[10, 30, 100, 300, 1000, 3000] };
    let reps = if quick { 50 } else { 200 };
    report.start("chapter 1: estimator error against N");
    let e = ex::error_vs_batch_size(&Reinforce, ns, reps, 1);
    report.figure("01-error-vs-n.html", &e.plot("REINFORCE error against batch size (three-state MDP)"))?;
    report.write("01-error-table.md", &e.table())?;
    report.write("01-slope.txt", &format!("{:.3}", e.slope))?;

    let setup = cartpole_setup(quick);
    report.start(&format!("chapter 1: CartPole learning curves ({} seeds)", setup.seeds.len()));
    let logs = ex::cartpole_learning_curves(&Reinforce, &setup).map_err(|e| e.to_string())?;
    let groups = [("REINFORCE", logs.as_slice())];
    let title = format!("REINFORCE on CartPole-v1 ({} seeds)", setup.seeds.len());
    report.figure("01-learning-curves.html", &ex::learning_curve_plot(&title, &groups))?;
    report.write("01-learning-table.md", &ex::solved_table(&setup, &groups))?;

    let episodes = if quick { 50 } else { 200 };
    report.start("chapter 1: behaviour-cloning link");
    let link = ex::behaviour_cloning_link(BC_SEEDS.start, episodes, 0.5);
    report.figure("01-bc-link.html", &link.plot())?;
    let seeds: Vec<u64> = if quick { (0..4).collect() } else { BC_SEEDS.collect() };
    let corr = ex::bc_link_over_seeds(&seeds, episodes, 0.5);
    report.write("01-bc-table.md", &(bc_table(&corr, episodes, link.bc_identity_error) + &bc_counts(&link)))
}

/// The seeds of the behaviour-cloning measurement (the figure shows the first).
pub const BC_SEEDS: std::ops::Range<u64> = 0..20;

fn bc_table(corr: &[(f64, f64)], episodes: usize, identity_error: f64) -> String {
    let summary = |xs: Vec<f64>| {
        let (mean, sd) = ex::mean_sd(&xs);
        let (lo, hi) = xs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        vec![format!("{mean:.3}"), format!("{sd:.3}"), format!("{lo:.3}"), format!("{hi:.3}")]
    };
    let mut r = vec!["REINFORCE gradient".to_string()];
    r.extend(summary(corr.iter().map(|c| c.0).collect()));
    let mut b = vec!["behaviour-cloning gradient".to_string()];
    b.extend(summary(corr.iter().map(|c| c.1).collect()));
    let n = corr.len();
    let wins = corr.iter().filter(|(r, b)| r > b).count();
    let r_positive = corr.iter().filter(|(r, _)| *r > 0.0).count();
    let b_negative = corr.iter().filter(|(_, b)| *b < 0.0).count();
    markdown_table(&["step along", "mean correlation", "sd", "min", "max"], &[r, b])
        + &format!(
            "\nCorrelation of episode return with the change in log-likelihood per step, over {n} seeds \
             (a fresh random policy and {episodes} episodes each). After the REINFORCE step it is positive \
             in {r_positive} of {n} seeds and larger than after the behaviour-cloning step in {wins} of {n}; \
             after the behaviour-cloning step it is negative in {b_negative} of {n}. The all-weights-one \
             gradient matches central differences of the mean log-likelihood to a scaled error of \
             {identity_error:.1e}.\n"
        )
}

/// How many episodes of the figure's batch each step made likelier: all of
/// them, and the quarters with the highest and the lowest returns.
fn bc_counts(link: &ex::BcLink) -> String {
    let n = link.returns.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| link.returns[a].total_cmp(&link.returns[b]));
    let quarter = n / 4;
    let up = |change: &[f64], which: &[usize]| which.iter().filter(|&&i| change[i] > 0.0).count();
    let (bottom, top) = (&order[..quarter], &order[n - quarter..]);
    let count = |change: &[f64]| {
        format!(
            "{} of {n} episodes (of the {quarter} with the highest returns {}, of the {quarter} with the lowest {})",
            up(change, &order),
            up(change, top),
            up(change, bottom)
        )
    };
    format!(
        "\nIn the figure's batch the REINFORCE step raised the log-likelihood per step of {}; the \
         behaviour-cloning step that of {}.\n",
        count(&link.reinforce_change),
        count(&link.bc_change)
    )
}

/// The book's page on the test problems: the three-state MDP drawn from its
/// own tables, the reference policy at which every chapter's exact checks
/// run, and the Gymnasium environments' constants.
fn problems(report: &mut dyn Report) -> Result<(), String> {
    report.start("the test problems");
    let mdp = TabularMdp::three_state();
    report.write("problems-three-state.svg", &mdp.to_svg())?;

    let policy = ex::reference_policy();
    let theta = policy.params();
    let rows: Vec<Vec<String>> = (0..mdp.n_states())
        .map(|s| {
            let obs = mdp.one_hot(s);
            let mut row = vec![s.to_string()];
            row.extend((0..mdp.n_actions()).map(|a| format!("{}", theta[s * mdp.n_actions() + a])));
            row.extend((0..mdp.n_actions()).map(|a| format!("{:.3}", policy.log_prob(obs.view(), &a).exp())));
            row
        })
        .collect();
    let (logits, probs): (Vec<String>, Vec<String>) = (0..mdp.n_actions())
        .map(|a| (format!("$\\theta_{{s,{a}}}$"), format!("$\\pi_\\theta({a} \\mid s)$")))
        .unzip();
    let mut headers = vec!["state $s$".to_string()];
    headers.extend(logits);
    headers.extend(probs);
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let trajectories = mdp.enumerate(&policy).len();
    let text = markdown_table(&headers, &rows)
        + &format!(
            "\nAt this policy the objective, summed exactly over the {trajectories} trajectories it can \
             produce, is $J(\\theta) = {:.4}$. The terminal state's parameters never enter a trajectory's \
             probability, so their components of $\\nabla_\\theta J$ are zero.\n",
            mdp.exact_objective(&policy)
        );
    report.write("problems-reference-policy.md", &text)?;

    let mut text = String::new();
    for (name, constants) in [("CartPole-v1", CartPole::constants()), ("Pendulum-v1", Pendulum::constants())]
    {
        let rows: Vec<Vec<String>> =
            constants.into_iter().map(|(what, value)| vec![what.to_string(), value]).collect();
        text += &markdown_table(&[name, "value"], &rows);
        text += "\n";
    }
    report.write("problems-gymnasium.md", &text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn quick_run_writes_exactly_the_listed_files() {
        pg_core::report::quick_run(super::write, super::GENERATED).unwrap();
    }
}
