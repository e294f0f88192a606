//! Chapter 7's figures and tables: [`write`] measures and writes every file
//! that `book/src/07-how-fast.md` includes. Every number is measured when
//! the book is built, on the machine that builds it.

use crate::experiments::{self as ex, Timed};
use crate::{Quota, VecConfig, Weighting, with_threads};
use pg_causality::RewardToGo;
use pg_core::env::CartPole;
use pg_core::peers::{self, Peers};
use pg_core::plot::{self, Axes};
use pg_core::policy::Categorical;
use pg_core::report::{Report, markdown_table};
use pg_kl_constraint::experiments::{Algo, Setup as KlSetup};
use pg_likelihood_ratio::experiments::{
    Solving, median, median_of_some, or_never, seconds_to_solve, steps_to_solve,
};
use pg_likelihood_ratio::{PolicyGradient, TrainConfig, TrainLog, train};
use pg_surrogate::Surrogate;
use std::time::Instant;

/// Every file [`write`] generates; the chapter may include only these.
pub const GENERATED: &[&str] = &[
    "07-throughput.md",
    "07-algorithms.md",
    "07-breakdown.md",
    "07-limit.md",
    "07-batch.html",
    "07-width.html",
    "07-threads.html",
    "07-peers.md",
];

/// The hidden layer of the chapter's runs.
const HIDDEN: [usize; 1] = [32];

/// Batch sizes (steps) of the batch-size figure.
pub const BATCHES: [usize; 5] = [1_000, 2_000, 5_000, 10_000, 20_000];
/// Hidden widths of the width figure.
pub const WIDTHS: [usize; 6] = [8, 16, 32, 64, 128, 256];

/// The cores of this machine.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

struct Sizes {
    seeds: u64,
    solve_budget: usize,
    sweep_budget: usize,
    seconds: f64,
}

fn sizes(quick: bool) -> Sizes {
    if quick {
        Sizes { seeds: 1, solve_budget: 20_000, sweep_budget: 5_000, seconds: 0.01 }
    } else {
        Sizes { seeds: 10, solve_budget: 1_000_000, sweep_budget: 300_000, seconds: 0.3 }
    }
}

/// Chapter 4's loop (episodes one at a time, the batched surrogate
/// gradient, batches of 32 episodes) on one thread, for comparison.
fn one_at_a_time(budget: usize) -> Result<Timed, String> {
    let err = |e: pg_core::PgError| e.to_string();
    let mut policy = ex::initial_policy(&HIDDEN, 0);
    let mut update = PolicyGradient::adam(Surrogate(RewardToGo::new()), 0.01).map_err(err)?;
    let config = TrainConfig { iters: usize::MAX, batch: 32, seed: 0, max_env_steps: Some(budget) };
    let start = Instant::now();
    let log = with_threads(1, || train(&mut CartPole::new(), &mut policy, &mut update, &config, |_| {}))
        .and_then(|r| r)
        .map_err(err)?;
    Ok(Timed { log, seconds: start.elapsed().as_secs_f64() })
}

/// What this project measured, for the comparison with the peers.
struct Ours {
    /// Reward-to-go on 1 thread and on every core.
    reward_to_go: Vec<OnThreads>,
    /// TRPO's and PPO's runs with the lockstep sampler against 475.
    algorithms: Vec<(Algo, Solving)>,
}

/// The vectorised reward-to-go's runs on one thread count.
struct OnThreads {
    threads: usize,
    /// The whole runs' median environment steps per second.
    rate: f64,
    /// The median of [`rate_to_solve`].
    rate_to_solve: f64,
    /// How the runs fared against 475.
    solving: Solving,
}

/// A run's environment steps per second up to its first 100-episode mean
/// of 475 (the whole run's, if it never got there): the rate a run that
/// stops at 475, as the peers' runs do, would have.
fn rate_to_solve(run: &Timed) -> f64 {
    match (steps_to_solve(&run.log), seconds_to_solve(&run.log)) {
        (Some(steps), Some(seconds)) => steps as f64 / seconds,
        _ => run.steps_per_second(),
    }
}

/// A table's cells for `solving`: median steps, median seconds, "k of n" solved.
fn cells(solving: &Solving) -> Vec<String> {
    vec![
        or_never(solving.median_steps, 0),
        or_never(solving.median_seconds, 3),
        format!("{} of {}", solving.solved, solving.runs),
    ]
}

/// The throughput table; returns the runs on 1 thread and on every core.
fn throughput(report: &mut dyn Report, s: &Sizes) -> Result<Vec<OnThreads>, String> {
    let err = |e: pg_core::PgError| e.to_string();
    report.start(&format!(
        "chapter 7: training to a mean of 475 ({} seeds, 1 and {} threads)",
        s.seeds,
        cores()
    ));
    let mut rows = vec![];
    let earlier = one_at_a_time(s.sweep_budget)?;
    rows.push(vec![
        "chapter 4's loop, one episode at a time".to_string(),
        "1".into(),
        format!("{:.0}", earlier.steps_per_second()),
        "–".into(),
        "–".into(),
        "–".into(),
    ]);
    let mut per_thread = vec![];
    for threads in [1, cores()] {
        let runs: Vec<Timed> = (0..s.seeds)
            .map(|seed| ex::timed_run(&ex::config(s.solve_budget, seed), &HIDDEN, threads))
            .collect::<Result<_, _>>()
            .map_err(err)?;
        let rate = median(runs.iter().map(Timed::steps_per_second).collect());
        let solving = Solving::of(runs.iter().map(|r| &r.log));
        let rate_to_solve = median(runs.iter().map(rate_to_solve).collect());
        per_thread.push(OnThreads { threads, rate, rate_to_solve, solving });
        rows.push(
            [vec!["vectorised".to_string(), threads.to_string(), format!("{rate:.0}")], cells(&solving)]
                .concat(),
        );
    }
    let table = markdown_table(
        &["sampler", "threads", "env steps per second", "steps to 475", "seconds to 475", "seeds solved"],
        &rows,
    );
    report.write(
        "07-throughput.md",
        &format!(
            "{table}\nReward-to-go, hidden layer of 32, Adam with step size 0.01. Vectorised runs: batches of at \
             least 5000 steps from two groups of five environments, {} steps per run, medians over {} seeds; \
             chapter 4's loop: batches of 32 episodes, one run of {} steps. Measured on {} cores.\n",
            s.solve_budget,
            s.seeds,
            s.sweep_budget,
            cores()
        ),
    )?;
    Ok(per_thread)
}

/// Chapter 6's TRPO and PPO with the lockstep sampler: steps and seconds to
/// a mean of 475, medians over the seeds, one run at a time on every core.
fn algorithms(report: &mut dyn Report, s: &Sizes) -> Result<Vec<(Algo, Solving)>, String> {
    let setup = if report.quick() {
        KlSetup { seeds: vec![0], max_env_steps: 3_000, ..KlSetup::cartpole() }
    } else {
        KlSetup { seeds: (0..s.seeds).collect(), ..KlSetup::cartpole() }
    };
    report.start(&format!("chapter 7: TRPO and PPO with the lockstep sampler ({} seeds)", setup.seeds.len()));
    let (mut rows, mut solved) = (vec![], vec![]);
    for algo in [Algo::Trpo, Algo::Ppo] {
        let logs: Vec<TrainLog> = setup
            .seeds
            .iter()
            .map(|&seed| ex::train_cartpole_lockstep(algo, seed, &setup))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let solving = Solving::of(&logs);
        solved.push((algo, solving));
        rows.push([vec![algo.name().to_string()], cells(&solving)].concat());
    }
    let table =
        markdown_table(&["algorithm", "median steps to 475", "median seconds to 475", "seeds solved"], &rows);
    report.write(
        "07-algorithms.md",
        &format!(
            "{table}\nChapter 6's settings and budget of {} steps; batches of {} episodes sampled by two groups \
             in lockstep on {} threads, the update on one.\n",
            setup.max_env_steps,
            setup.batch,
            cores()
        ),
    )?;
    Ok(solved)
}

fn breakdown(report: &mut dyn Report, s: &Sizes, single_thread: f64) -> Result<(), String> {
    report.start("chapter 7: where a step's time goes");
    let parts = ex::breakdown(&[32], s.seconds);
    let measured_total = 1e9 / single_thread;
    let mut rows: Vec<Vec<String>> =
        parts.iter().map(|(what, ns)| vec![what.to_string(), format!("{ns:.0}")]).collect();
    rows.push(vec!["a whole training run, per step (1 thread)".into(), format!("{measured_total:.0}")]);
    report.write("07-breakdown.md", &markdown_table(&["part", "nanoseconds per step"], &rows))?;

    let (gflops, tanh_ns, library_tanh_ns) = ex::machine(s.seconds);
    let sizes = [4, 32, 2];
    let flops = ex::flops_per_step(&sizes);
    let tanhs = 32;
    let limit_ns = flops as f64 / gflops + tanhs as f64 * tanh_ns;
    let rows = vec![
        vec!["floating-point operations per step (forward and backward)".into(), flops.to_string()],
        vec!["tanh per step".into(), tanhs.to_string()],
        vec!["one core's matrix-product rate, GFLOP/s (256 × 256)".into(), format!("{gflops:.1}")],
        vec!["one tanh over a long slice, ns".into(), format!("{tanh_ns:.2}")],
        vec!["the standard library's tanh, ns".into(), format!("{library_tanh_ns:.2}")],
        vec!["the network's arithmetic at those rates, ns".into(), format!("{limit_ns:.0}")],
        vec!["a whole training step as measured, ns".into(), format!("{measured_total:.0}")],
    ];
    // What the measured breakdown says the network costs: the forward pass
    // is timed alone; the gradient's row holds the backward pass with more.
    let forward = parts.iter().find(|(what, _)| what.starts_with("policy forward pass")).map(|p| p.1);
    let text = markdown_table(&["quantity", "value"], &rows)
        + &format!(
            "\nAt those rates the network's arithmetic, forward and backward, would take {:.0} % of the measured \
             step. That is a bound, not a measurement: the breakdown above measures the forward pass alone at {} ns \
             per step, {} times the {:.0} ns that its share of the arithmetic would take at those rates.\n",
            100.0 * limit_ns / measured_total,
            forward.map_or("–".into(), |f| format!("{f:.0}")),
            forward.map_or("–".into(), |f| format!("{:.1}", f / forward_limit_ns(&sizes, gflops, tanh_ns))),
            forward_limit_ns(&sizes, gflops, tanh_ns),
        );
    report.write("07-limit.md", &text)
}

/// The forward pass's share of the arithmetic at the measured rates:
/// 2·in·out flops per layer and the hidden layers' tanh.
fn forward_limit_ns(sizes: &[usize], gflops: f64, tanh_ns: f64) -> f64 {
    let flops: usize = sizes.windows(2).map(|w| 2 * w[0] * w[1]).sum();
    let tanhs: usize = sizes[1..sizes.len() - 1].iter().sum();
    flops as f64 / gflops + tanhs as f64 * tanh_ns
}

fn figures(report: &mut dyn Report, s: &Sizes) -> Result<(), String> {
    let err = |e: pg_core::PgError| e.to_string();
    let threads = [1, cores()];
    let names: Vec<String> =
        threads.iter().map(|t| format!("{t} thread{}", if *t == 1 { "" } else { "s" })).collect();
    let series = |ys: Vec<Vec<f64>>, xs: Vec<f64>| -> Vec<(String, Vec<f64>, Vec<f64>)> {
        names.iter().cloned().zip(ys).map(|(n, y)| (n, xs.clone(), y)).collect()
    };

    report.start("chapter 7: throughput against batch size");
    let ys = ex::sweep(&BATCHES, &threads, |b| {
        (VecConfig { batch: crate::Quota::Steps(b), ..ex::config(s.sweep_budget, 0) }, vec![32])
    })
    .map_err(err)?;
    let lines = series(ys, BATCHES.iter().map(|&b| b as f64).collect());
    report.figure(
        "07-batch.html",
        &plot::lines(
            "Training throughput against batch size",
            "batch (steps)",
            "env steps per second",
            Axes::LogX,
            &named(&lines),
        ),
    )?;

    report.start("chapter 7: throughput against network width");
    let ys = ex::sweep(&WIDTHS, &threads, |w| (ex::config(s.sweep_budget, 0), vec![w])).map_err(err)?;
    let lines = series(ys, WIDTHS.iter().map(|&w| w as f64).collect());
    report.figure(
        "07-width.html",
        &plot::lines(
            "Training throughput against the hidden layer's width",
            "hidden units",
            "env steps per second",
            Axes::LogLog,
            &named(&lines),
        ),
    )?;

    report.start("chapter 7: throughput against thread count");
    let counts: Vec<usize> = (1..=2 * cores()).collect();
    let groups = [2, 2 * cores()];
    let lines: Vec<(String, Vec<f64>, Vec<f64>)> = groups
        .iter()
        .map(|&g| {
            let config = VecConfig { groups: g, envs: 10 / g.min(10), ..ex::config(s.sweep_budget, 0) };
            let ys: Result<Vec<f64>, _> = counts
                .iter()
                .map(|&t| ex::timed_run(&config, &[32], t).map(|r| r.steps_per_second()))
                .collect();
            ys.map(|y| {
                (format!("{g} groups of {}", config.envs), counts.iter().map(|&c| c as f64).collect(), y)
            })
        })
        .collect::<Result<_, _>>()
        .map_err(err)?;
    report.figure(
        "07-threads.html",
        &plot::lines(
            "Training throughput against threads",
            "threads",
            "env steps per second",
            Axes::Linear,
            &named(&lines),
        ),
    )
}

/// Series with owned names, as the plotting functions take them.
fn named(lines: &[(String, Vec<f64>, Vec<f64>)]) -> Vec<(&str, Vec<f64>, Vec<f64>)> {
    lines.iter().map(|(n, x, y)| (n.as_str(), x.clone(), y.clone())).collect()
}

/// The peer entries chapter 7 reads.
const TORCH: &str = "pytorch_reinforce_threads_";
const SB3_CARTPOLE: &str = "sb3_ppo_cartpole";

/// `x` with no decimals from 100 on, else three significant-ish decimals.
fn show(x: Option<f64>) -> String {
    x.map_or("never".into(), |x| if x.abs() >= 100.0 { format!("{x:.0}") } else { format!("{x:.3}") })
}

/// How many times `fast` is faster than `slow`, to two significant digits
/// (the two sides are measured at different times: more would be noise);
/// "–" where either is missing.
fn times(slow: Option<f64>, fast: Option<f64>) -> String {
    match (slow, fast) {
        (Some(s), Some(f)) if f > 0.0 => format!("{}×", two_digits(s / f)),
        _ => "–".into(),
    }
}

/// `x > 0` rounded to two significant digits.
fn two_digits(x: f64) -> String {
    if !(x > 0.0 && x.is_finite()) {
        return "–".into();
    }
    let magnitude = x.log10().floor() as i32;
    let step = 10f64.powi(magnitude - 1);
    let rounded = (x / step).round() * step;
    // Rounding may carry into the next power of ten (9.96 → 10).
    let decimals = (1 - rounded.log10().floor() as i32).max(0) as usize;
    format!("{rounded:.decimals$}")
}

/// "k of n": how many of an entry's runs reached 475.
fn solved_of(p: &Peers, entry: &str) -> String {
    let runs = p.runs(entry, "steps_to_475");
    format!("{} of {}", runs.iter().flatten().count(), runs.len())
}

/// The settings of chapter 7's reward-to-go run and of the PyTorch peer's,
/// as (what, ours, the peer's), each as JSON text.
fn reinforce_settings(p: &Peers, entry: &str, s: &Sizes) -> Vec<(&'static str, String, Option<String>)> {
    let ours = ex::config(s.solve_budget, 0);
    let json = |v: serde_json::Value| v.to_string();
    let batch = match ours.batch {
        Quota::Steps(n) => json(n.into()),
        Quota::Episodes(n) => format!("{n} episodes"),
    };
    let gamma = match ours.weighting {
        Weighting::RewardToGo(g) => json(g.into()),
        Weighting::Return => "the whole return".into(),
    };
    let theirs = |key: &str| p.json(&format!("/{entry}/settings/{key}"));
    vec![
        ("tanh hidden widths", json(HIDDEN.to_vec().into()), theirs("hidden")),
        ("batches of whole episodes to at least", batch, theirs("batch_steps")),
        ("Adam step size", json(ours.lr.into()), theirs("lr")),
        ("reward-to-go γ", gamma, theirs("gamma")),
        ("weights standardised", json(ours.normalize.into()), theirs("standardised")),
        // The policy's parameters are f64 (`Categorical` holds `f64`).
        ("floating point", json("float64".into()), theirs("dtype")),
        // `Categorical::mlp`'s initialisation (`Mlp::init`).
        (
            "initialisation",
            json(format!("glorot-uniform, output x{}, zero biases", Categorical::OUTPUT_SCALE).into()),
            theirs("init"),
        ),
    ]
}

/// "Both sides: …" for the settings that agree, "What differs: …" for the rest.
fn settings_sentence(settings: &[(&str, String, Option<String>)]) -> String {
    let same: Vec<String> = settings
        .iter()
        .filter(|(_, o, t)| Some(o) == t.as_ref())
        .map(|(w, o, _)| format!("{w} {}", o.trim_matches('"')))
        .collect();
    let differ: Vec<String> = settings
        .iter()
        .filter(|(_, o, t)| Some(o) != t.as_ref())
        .map(|(w, o, t)| {
            format!(
                "{w} {} here, {} for the peer",
                o.trim_matches('"'),
                t.as_deref().unwrap_or("not recorded")
            )
        })
        .collect();
    let mut text = format!("Both sides: {}.", same.join("; "));
    if !differ.is_empty() {
        text += &format!(" What differs: {}.", differ.join("; "));
    }
    text
}

fn reinforce_rows(p: &Peers, ours: &Ours) -> Vec<Vec<String>> {
    let mut rows = vec![];
    for OnThreads { threads, rate_to_solve: rate, solving, .. } in &ours.reward_to_go {
        let entry = format!("{TORCH}{threads}");
        if !p.has(&entry) {
            continue;
        }
        let theirs = median_of_some(p.runs(&entry, "steps_per_second"));
        let seconds = median_of_some(p.runs(&entry, "seconds_to_475"));
        let steps = median_of_some(p.runs(&entry, "steps_to_475"));
        let t = threads.to_string();
        rows.push(vec![
            "env steps per second up to 475".into(),
            t.clone(),
            show(theirs),
            show(Some(*rate)),
            times(Some(*rate), theirs),
        ]);
        rows.push(vec![
            "median seconds to 475".into(),
            t.clone(),
            show(seconds),
            show(solving.median_seconds),
            times(seconds, solving.median_seconds),
        ]);
        rows.push(vec![
            "median steps to 475".into(),
            t.clone(),
            show(steps),
            show(solving.median_steps),
            "–".into(),
        ]);
        rows.push(vec![
            "seeds that reached 475".into(),
            t,
            solved_of(p, &entry),
            format!("{} of {}", solving.solved, solving.runs),
            "–".into(),
        ]);
    }
    rows
}

/// Which seeds each side ran: this project seeds 0 to `ours` − 1, the peer
/// the seeds its runs record.
fn seeds_sentence(ours: u64, theirs: &[Option<f64>]) -> String {
    let range =
        |n: u64| if n == 1 { "seed 0".to_string() } else { format!("seeds 0 to {}", n.saturating_sub(1)) };
    let expected: Vec<Option<f64>> = (0..ours).map(|s| Some(s as f64)).collect();
    if theirs == expected.as_slice() {
        format!("{} on both sides", range(ours))
    } else {
        let listed: Vec<String> =
            theirs.iter().map(|s| s.map_or("?".into(), |s| format!("{s:.0}"))).collect();
        format!("{} here, seeds {} for the peer", range(ours), listed.join(", "))
    }
}

fn peers(report: &mut dyn Report, ours: &Ours) -> Result<(), String> {
    report.start("chapter 7: peer measurements, if present");
    let Some(p) = Peers::read()? else {
        return report.write("07-peers.md", peers::ABSENT);
    };
    let mut text = String::new();
    let s = sizes(report.quick());
    let rows = reinforce_rows(&p, ours);
    if let Some(OnThreads { threads, .. }) =
        ours.reward_to_go.iter().find(|r| p.has(&format!("{TORCH}{}", r.threads)))
    {
        let entry = format!("{TORCH}{threads}");
        text += &format!(
            "#### REINFORCE against PyTorch\n\n{}\n{} The same thread count on each row; {}. A run stops counting at its \
             first 100-episode mean of 475 (the peer stops there; this project's run goes on to {} steps, and its \
             rate is read up to 475). The peer stamps each episode with the time it ended, this project a batch's \
             episodes with the time its gradient was done: at most one batch's time, against this project. The last column is how many times faster this project is. Medians over seeds, \
             a run that never reached 475 counted as infinitely slow.\n\n",
            markdown_table(&["measurement", "threads", "PyTorch", "this project", "ratio"], &rows),
            settings_sentence(&reinforce_settings(&p, &entry, &s)),
            seeds_sentence(s.seeds, &p.runs(&entry, "seed")),
            s.solve_budget,
        );
    }
    if p.has(SB3_CARTPOLE) {
        let theirs = |f: &str| median_of_some(p.runs(SB3_CARTPOLE, f));
        let (steps, seconds) = (theirs("steps_to_475"), theirs("seconds_to_475"));
        let mut rows = vec![vec![
            "Stable-Baselines3 PPO, the RL Zoo's settings".to_string(),
            show(steps),
            show(seconds),
            solved_of(&p, SB3_CARTPOLE),
            "–".into(),
        ]];
        for (algo, solving) in &ours.algorithms {
            rows.push(vec![
                format!("this project's {}", algo.name()),
                show(solving.median_steps),
                show(solving.median_seconds),
                format!("{} of {}", solving.solved, solving.runs),
                times(seconds, solving.median_seconds),
            ]);
        }
        text += &format!(
            "#### PPO against Stable-Baselines3\n\n{}\nSteps and seconds until the last 100 finished training episodes \
             average 475, the same rule on both sides (a callback stops the peer there); {}; medians over seeds, a \
             run that never got there counted as infinitely slow. This project's runs are those of the table \
             above (chapter 6's settings, sampled in lockstep on every core, the update on one thread); the peer \
             runs with PyTorch on every core. Each side runs its own tuned settings: the peer's are the zoo's, in \
             `peers/ppo_sb3.py` (its own γ, λ, rollouts and epochs, float32 networks, and a step size and clip \
             range that fall to 0 over its budget). The last column is how many times less time than the peer a \
             run took.\n\n",
            markdown_table(
                &[
                    "",
                    "median steps to 475",
                    "median seconds to 475",
                    "seeds that reached 475",
                    "ratio of seconds"
                ],
                &rows
            ),
            seeds_sentence(
                ours.algorithms.first().map_or(0, |(_, s)| s.runs as u64),
                &p.runs(SB3_CARTPOLE, "seed")
            ),
        );
    }
    let names: Vec<String> = ours
        .reward_to_go
        .iter()
        .map(|r| format!("{TORCH}{}", r.threads))
        .chain([SB3_CARTPOLE.to_string()])
        .collect();
    text += &p.provenance(&names.iter().map(String::as_str).collect::<Vec<_>>());
    text += &format!(" This project's figures were measured by this `pg book` on {} cores.\n", cores());
    report.write("07-peers.md", &text)
}

/// Runs the chapter's measurements and writes its files.
pub fn write(report: &mut dyn Report) -> Result<(), String> {
    let s = sizes(report.quick());
    let reward_to_go = throughput(report, &s)?;
    let algorithms = algorithms(report, &s)?;
    breakdown(report, &s, reward_to_go[0].rate)?;
    figures(report, &s)?;
    peers(report, &Ours { reward_to_go, algorithms })
}

#[cfg(test)]
mod tests {
    #[test]
    fn quick_run_writes_exactly_the_listed_files() {
        pg_core::report::quick_run(super::write, super::GENERATED).unwrap();
    }

    #[test]
    fn ratios_keep_two_significant_digits() {
        let cases = [
            (0.0, "–"),
            (f64::INFINITY, "–"),
            (213.3, "210"),
            (72.8, "73"),
            (27.8, "28"),
            (9.96, "10"),
            (1.04, "1.0"),
            (0.123, "0.12"),
        ];
        for (x, shown) in cases {
            assert_eq!(super::two_digits(x), shown, "{x}");
        }
    }
}
