//! `pg train`'s command line, fuzzed: argument vectors built from its real
//! flags (valid flags with values that include 0, negatives, NaN, infinities,
//! huge numbers, empty text and Unicode; unknown flags; repeated flags;
//! flags of other algorithms). Each is parsed, built into a run under a
//! memory budget of [`BUDGET_MIB`], and stepped until a short step budget is
//! spent. Every case either runs to its budget or is refused with a message
//! that names a flag; none panics, and none outgrows the memory budget: the
//! test process runs under an operating-system limit on its data of the
//! budget plus the harness's own share, so a run that did would fail to
//! allocate and abort the test.
//!
//! The test command runs 300 cases; `scripts/fuzz-train.sh` runs thousands.

use clap::CommandFactory;
use pg_play::Session;
use pg_play::args::RunLine;
use proptest::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

/// The memory budget of every run, in MiB.
const BUDGET_MIB: u64 = 256;
/// What the harness (proptest, the test runner) may take besides a run.
const HARNESS_MIB: u64 = 128;
/// Environment steps after which a run is stopped (it stops after the
/// iteration that reaches them).
const STEP_BUDGET: usize = 3_000;
/// Iterations after which a run must have stopped.
const ITERATION_BUDGET: usize = 3;

/// Values tried for every flag that takes one.
const VALUES: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "7",
    "64",
    "-1",
    "-0",
    "0.5",
    "1.5",
    "1e-9",
    "1e308",
    "-1e308",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "",
    " ",
    "99999999999",
    "18446744073709551616",
    "4294967297",
    "0x10",
    "1,2",
    "32,32",
    "4096,4096,4096",
    ",",
    "é",
    "💥",
    "true",
    "false",
    "1G",
    "1K",
];

/// Values a user might well give.
const PLAUSIBLE: &[&str] =
    &["1", "2", "3", "7", "16", "64", "0.5", "0.9", "0.01", "1e-3", "8,8", "4", "true", "false"];

/// The real flag set: each long flag, and the values it lists (if any).
fn flags() -> Vec<(String, bool, Vec<String>)> {
    RunLine::command()
        .get_arguments()
        .filter_map(|a| {
            let long = a.get_long()?;
            let takes = a.get_action().takes_values();
            let choices = a.get_possible_values().iter().map(|v| v.get_name().to_string()).collect();
            Some((format!("--{long}"), takes, choices))
        })
        .collect()
}

/// One argument vector: a few items, each a flag of the real set with a
/// value (one of its own choices or a hostile one), a flag alone, or junk.
fn argv() -> impl Strategy<Value = Vec<String>> {
    let flags = flags();
    let item = (0..flags.len(), 0..VALUES.len(), 0..PLAUSIBLE.len() + 4, 0..16u8).prop_map(
        move |(f, hostile, plausible, kind)| {
            let (flag, takes, choices) = &flags[f];
            // A quarter of the values are hostile; the others are the flag's own choices or plausible settings.
            let value = match (kind % 4, plausible.checked_sub(PLAUSIBLE.len())) {
                (0, _) => VALUES[hostile].to_string(),
                (_, Some(i)) if !choices.is_empty() => choices[i % choices.len()].clone(),
                (_, Some(_)) | (_, None) => PLAUSIBLE[plausible % PLAUSIBLE.len()].to_string(),
            };
            match kind {
                0 => vec!["--no-such-flag".to_string(), value],
                1 => vec![value],
                2 => vec![flag.clone()],
                3 => vec![format!("{flag}={value}")],
                _ if *takes => vec![flag.clone(), value],
                _ => vec![flag.clone()],
            }
        },
    );
    let algos: Vec<String> = pg_play::registry::algorithms().iter().map(|a| a.name.to_string()).collect();
    let algo = proptest::option::of(proptest::sample::select(algos));
    (algo, proptest::collection::vec(item, 0..6)).prop_map(|(algo, items)| {
        let mut argv: Vec<String> = algo.map(|a| vec!["--algo".to_string(), a]).unwrap_or_default();
        argv.extend(items.into_iter().flatten());
        argv
    })
}

/// Limits this process's data to the budget plus the harness's share.
fn limit_memory() {
    static LIMIT: Once = Once::new();
    LIMIT.call_once(|| {
        let bytes = (BUDGET_MIB + HARNESS_MIB) * 1024 * 1024;
        let status = std::process::Command::new("prlimit")
            .args(["--pid", &std::process::id().to_string(), &format!("--data={bytes}")])
            .status()
            .expect("prlimit (util-linux) limits the test's memory");
        assert!(status.success(), "prlimit failed");
    });
}

/// Runs one case; `Err` says what went wrong.
fn case(argv: &[String]) -> Result<(), String> {
    let parsed = RunLine::try_parse_from_args(argv);
    let mut args = match parsed {
        Ok(args) => args,
        Err(e) if e.contains("--") => return tell("parse", &e),
        Err(e) => return Err(format!("a refusal that names no flag: {e}")),
    };
    // The harness's budgets: at most the memory budget and a short run.
    let budget = (BUDGET_MIB * 1024 * 1024) as f64;
    args.memory_budget = Some(args.memory_budget.map_or(budget, |b| b.min(budget)));
    args.iters = Some(args.iters.map_or(ITERATION_BUDGET, |n| n.min(ITERATION_BUDGET)));
    args.max_env_steps = Some(args.max_env_steps.map_or(STEP_BUDGET, |n| n.min(STEP_BUDGET)));
    let mut session = match Session::new(&args) {
        Ok(s) => s,
        Err(e) if e.contains("--") => return tell("build", &e),
        Err(e) => return Err(format!("a refusal that names no flag: {e}")),
    };
    let mut iterations = 0;
    while !session.finished() {
        if let Err(e) = session.step() {
            return if e.contains("--") {
                tell("stop", &e)
            } else {
                Err(format!("a stop that names no flag: {e}"))
            };
        }
        iterations += 1;
        if iterations > ITERATION_BUDGET {
            return Err(format!("ran past its {ITERATION_BUDGET} iterations"));
        }
    }
    tell("ran", &format!("{} steps", session.log().env_steps()))
}

/// A case that went as allowed; with `PG_FUZZ_VERBOSE` set, prints its
/// outcome (to see what the cases reach).
fn tell(outcome: &str, detail: &str) -> Result<(), String> {
    if std::env::var_os("PG_FUZZ_VERBOSE").is_some() {
        eprintln!("FUZZ {outcome}: {}", detail.lines().next().unwrap_or(""));
    }
    Ok(())
}

trait ParseArgs {
    fn try_parse_from_args(argv: &[String]) -> Result<pg_play::args::TrainArgs, String>;
}

impl ParseArgs for RunLine {
    fn try_parse_from_args(argv: &[String]) -> Result<pg_play::args::TrainArgs, String> {
        use clap::Parser;
        RunLine::try_parse_from(argv).map(|l| l.args).map_err(|e| e.render().to_string())
    }
}

fn cases() -> u32 {
    std::env::var("PG_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(300)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_command_line_panics_or_outgrows_its_budgets(argv in argv()) {
        limit_memory();
        let outcome = catch_unwind(AssertUnwindSafe(|| case(&argv)));
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => prop_assert!(false, "pg train {}: {e}", argv.join(" ")),
            Err(_) => prop_assert!(false, "pg train {} panicked", argv.join(" ")),
        }
    }
}
