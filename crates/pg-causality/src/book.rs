//! Chapter 2's figures and tables: [`write`] runs the chapter's experiments
//! and writes every file that `book/src/02-causality.md` includes.

use crate::RewardToGo;
use crate::experiments::{self as ex, OffByOne};
use pg_core::env::TabularMdp;
use pg_core::grading::book_section;
use pg_core::policy::TabularSoftmax;
use pg_core::report::{Report, markdown_table};
use pg_likelihood_ratio::book::{STAY_CHECK, Z_TEST_N, Z_TEST_SEED, cartpole_setup};
use pg_likelihood_ratio::exact::{exact_moments, stay_moments};
use pg_likelihood_ratio::experiments::{self as ch1, broken};
use pg_likelihood_ratio::{Estimator, Reinforce};

/// Every file [`write`] generates; the chapter may include only these.
pub const GENERATED: &[&str] = &[
    "02-checks.md",
    "02-stay.md",
    "02-horizon.html",
    "02-horizon-table.md",
    "02-dropped.md",
    "02-learning-curves.html",
    "02-learning-table.md",
    "02-exercise-reward-to-go.md",
];

/// Reward-to-go and its deliberately broken variants, for the check table.
pub fn checked_estimators() -> Vec<Box<dyn Estimator<TabularSoftmax>>> {
    vec![
        Box::new(RewardToGo::new()),
        Box::new(broken::PastRewards),
        Box::new(OffByOne),
        Box::new(RewardToGo::discounted(0.99).expect("0.99 is a discount")),
        Box::new(broken::Scaled(RewardToGo::new(), 1.1)),
    ]
}

/// The horizons of the variance experiment.
pub const HORIZONS: std::ops::RangeInclusive<usize> = 1..=8;

fn checks(report: &mut dyn Report) -> Result<(), String> {
    let n = if report.quick() { Z_TEST_N / 10 } else { Z_TEST_N };
    report.start("chapter 2: exact and statistical checks");
    let rows = ch1::check_rows(&checked_estimators(), n, Z_TEST_SEED);
    let (rtg, power) = (rows[0].total_variance, rows[0].power);
    let plain =
        exact_moments(&TabularMdp::three_state(), &ch1::reference_policy(), &Reinforce, 1).total_variance();
    let text = ch1::check_table(&rows)
        + &format!(
            "\nAt the reference policy the exact $\\operatorname{{tr}}\\operatorname{{Cov}}[\\hat g]$ is {:.3} for \
             REINFORCE and {:.3} for reward-to-go, {:.2} times smaller. The z-test ({n} trajectories, reject at \
             $\\lvert z\\rvert > {}$) detects with probability 0.999 a mean that overshoots $\\nabla J$ by a \
             relative {power:.3} or more.\n",
            plain,
            rtg,
            plain / rtg,
            ch1::Z_MAX,
        );
    report.write("02-checks.md", &text)
}

fn stay(report: &mut dyn Report) -> Result<(), String> {
    let (theta, episodes, seed) = STAY_CHECK;
    let episodes = if report.quick() { episodes / 10 } else { episodes };
    report.start("chapter 2: variance on the stay MDP");
    let sim = ch1::stay_variance(&RewardToGo::new(), theta, episodes, seed);
    let series = stay_moments(&RewardToGo::new(), theta, 4000);
    let rows = vec![
        vec![
            "REINFORCE".into(),
            format!("{:.2}", ch1::stay_closed_form_variance(theta)),
            format!("{:.2}", stay_moments(&Reinforce, theta, 4000).variance[0]),
            format!("{:.2}", ch1::stay_variance(&Reinforce, theta, episodes, seed).variance),
        ],
        vec![
            "reward-to-go".into(),
            format!("{:.2}", ex::stay_closed_form_variance(theta)),
            format!("{:.2}", series.variance[0]),
            format!("{:.2}", sim.variance),
        ],
    ];
    let text = markdown_table(
        &[
            "estimator",
            "closed form",
            "sum over episode lengths",
            &format!("simulated ({episodes} episodes)"),
        ],
        &rows,
    ) + &format!(
        "\nStay probability $\\theta = {theta}$. Reward-to-go's mean: {:.4} by the series, {:.4} simulated; \
         $dJ/d\\theta = 1/(1-\\theta)^2$ = {:.4}.\n",
        series.mean[0],
        sim.mean,
        pg_core::env::Stay::gradient(theta)
    );
    report.write("02-stay.md", &text)
}

/// The variance decomposition of REINFORCE into reward-to-go and the
/// dropped terms, at the chapter's reference setting and at the
/// counterexample.
fn dropped(report: &mut dyn Report) -> Result<(), String> {
    report.start("chapter 2: what dropping the past rewards does to the variance (exact)");
    let mdp = TabularMdp::three_state();
    let rows = [
        ("own rewards, reference policy", ex::decomposition(&mdp, &ch1::reference_policy())),
        (
            "mixed rewards, mostly risky policy",
            ex::decomposition(&ex::with_rewards(&mdp, &ex::MIXED_REWARDS), &ex::mostly_risky_policy()),
        ),
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(name, d)| {
            vec![
                name.to_string(),
                format!("{:.4}", d.reinforce),
                format!("{:.4}", d.reward_to_go),
                format!("{:.4}", d.dropped),
                format!("{:.4}", d.twice_covariance),
                format!("{:.0e}", d.dropped_mean),
            ]
        })
        .collect();
    let table = markdown_table(
        &[
            "setting",
            "REINFORCE",
            "reward-to-go",
            "dropped terms $D$",
            "$2\\operatorname{tr}\\operatorname{Cov}[\\text{kept}, D]$",
            "largest $\\lvert\\mathbb{E}[D]\\rvert$",
        ],
        &cells,
    );
    let risky = match pg_core::Policy::dist(&ex::mostly_risky_policy(), mdp.one_hot(0).view()) {
        pg_core::Dist::Categorical(p) => p[1],
        pg_core::Dist::Gaussian { .. } => f64::NAN,
    };
    let verdict = |d: &ex::Decomposition| {
        if d.reward_to_go < d.reinforce {
            format!("{:.2} times smaller", d.reinforce / d.reward_to_go)
        } else {
            format!("{:.2} times larger", d.reward_to_go / d.reinforce)
        }
    };
    let text = format!(
        "Exact $\\operatorname{{tr}}\\operatorname{{Cov}}$ of one-trajectory estimates on the three-state MDP, \
         horizon 4. The mixed rewards: each safe action pays (1 in state 0, 2 in state 1), each risky one costs \
         ½; the mostly risky policy takes the risky action with probability {:.3} in both states. In the \
         first row reward-to-go's variance is {} than REINFORCE's; in the second it is {}: twice the \
         covariance of the dropped terms with the kept ones is {:.4}, more negative than the dropped terms' \
         own variance {:.4} is positive.\n\n",
        risky,
        verdict(&rows[0].1),
        verdict(&rows[1].1),
        rows[1].1.twice_covariance,
        rows[1].1.dropped,
    ) + &table;
    report.write("02-dropped.md", &text)
}

/// Runs chapter 2's experiments and writes its generated files.
pub fn write(report: &mut dyn Report) -> Result<(), String> {
    checks(report)?;
    stay(report)?;
    dropped(report)?;
    report.start("chapter 2: exercise grader");
    let starter = crate::exercises::check_reward_to_go(crate::exercises::STARTER);
    report.write("02-exercise-reward-to-go.md", &book_section(crate::exercises::MISTAKES, &starter))?;

    report.start("chapter 2: exact variance against horizon");
    let horizons: Vec<usize> = if report.quick() { (1..=4).collect() } else { HORIZONS.collect() };
    let rows = ex::variance_against_horizon(&horizons);
    report.figure("02-horizon.html", &ex::horizon_plot(&rows))?;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.horizon.to_string(),
                r.trajectories.to_string(),
                format!("{:.3}", r.reinforce),
                format!("{:.3}", r.reward_to_go),
                format!("{:.2}", r.ratio()),
                format!("{:.0e}", r.reward_to_go_bias),
            ]
        })
        .collect();
    let table = markdown_table(
        &["horizon", "trajectories", "REINFORCE", "reward-to-go", "ratio", "largest bias of reward-to-go"],
        &cells,
    );
    report.write("02-horizon-table.md", &table)?;

    let setup = cartpole_setup(report.quick());
    report.start(&format!("chapter 2: CartPole learning curves ({} seeds, 2 estimators)", setup.seeds.len()));
    let plain = ch1::cartpole_learning_curves(&Reinforce, &setup).map_err(|e| e.to_string())?;
    let rtg = ch1::cartpole_learning_curves(&RewardToGo::new(), &setup).map_err(|e| e.to_string())?;
    let groups = [("REINFORCE (chapter 1)", plain.as_slice()), ("reward-to-go (chapter 2)", rtg.as_slice())];
    let title = format!("CartPole-v1: chapters 1 and 2 ({} seeds)", setup.seeds.len());
    report.figure("02-learning-curves.html", &ch1::learning_curve_plot(&title, &groups))?;
    report.write("02-learning-table.md", &ch1::solved_table(&setup, &groups))
}

#[cfg(test)]
mod tests {
    #[test]
    fn quick_run_writes_exactly_the_listed_files() {
        pg_core::report::quick_run(super::write, super::GENERATED).unwrap();
    }
}
