//! `pg train`'s command line, fuzzed: argument vectors built from its real
//! flags (valid flags with values that include 0, negatives, NaN, infinities,
//! huge numbers, empty text and Unicode; unknown flags; repeated flags;
//! flags of other algorithms). Each is parsed and built into a run as given
//! (a case that gives no `--memory-budget` gets the harness's, [`BUDGET_MIB`])
//! and stepped for a few iterations. Every case either runs, stopping by
//! itself at its own `--iters` and `--max-env-steps`, or is refused with a
//! message that names a flag of the real set or the argument at fault
//! (clap's closing "try '--help'" does not count); none panics, and none
//! outgrows the memory budget: the test process runs under an
//! operating-system limit on its data of the budget plus the harness's own
//! share, so a run that did would fail to allocate and abort the test. A
//! run accepted under a larger budget of its own is built but not stepped.
//!
//! The test command runs 300 cases; `scripts/fuzz-train.sh` runs thousands.

use clap::CommandFactory;
use pg_play::Session;
use pg_play::args::RunLine;
use proptest::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

/// The memory budget of a run that gives none, in MiB.
const BUDGET_MIB: u64 = 256;
/// What the harness (proptest, the test runner) may take besides a run.
const HARNESS_MIB: u64 = 128;
/// The harness stops a run after the iteration that reaches this many
/// environment steps, or after [`ITERATION_BUDGET`] iterations, whatever its
/// own budgets (which are checked as far as the harness steps it).
const STEP_BUDGET: usize = 3_000;
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
    "18446744073709551615",
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

/// Budgets (`--max-env-steps`, `--iters`), mostly within the harness's few iterations.
const BUDGETS: &[&str] = &["1", "2", "1", "2", "4", "64", "500", "2999", "0", "-1", "1e308", "99999999999"];

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
    // Two cases in five also set a budget of their own, which the run must keep to.
    let budget = proptest::option::weighted(0.4, (proptest::bool::ANY, proptest::sample::select(BUDGETS)));
    (algo, proptest::collection::vec(item, 0..6), budget).prop_map(|(algo, items, budget)| {
        let mut argv: Vec<String> = algo.map(|a| vec!["--algo".to_string(), a]).unwrap_or_default();
        argv.extend(items.into_iter().flatten());
        if let Some((steps, value)) = budget {
            argv.extend([if steps { "--max-env-steps" } else { "--iters" }.to_string(), value.to_string()]);
        }
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
    let mut args = match pg_play::args::parse_args(argv) {
        Ok(args) => args,
        Err(e) => return refused("parse", &e, argv),
    };
    let budget = (BUDGET_MIB * 1024 * 1024) as f64;
    let mut given = argv.to_vec();
    if args.memory_budget.is_none() {
        args.memory_budget = Some(budget);
        given.push("--memory-budget".to_string());
    }
    let mut session = match Session::new(&args) {
        Ok(s) => s,
        Err(e) => return refused("build", &e, &given),
    };
    if session.memory_estimate() > budget {
        return tell("accepted under its own --memory-budget, not stepped", &args_text(argv));
    }
    let (iters, max_steps) = (session.config().iters, session.config().max_env_steps);
    let mut iterations = 0;
    while !session.finished() && iterations < ITERATION_BUDGET && session.log().env_steps() < STEP_BUDGET {
        if let Err(e) = session.step() {
            // A stop names the knob that usually fixes it, given or not.
            return match flags().iter().any(|(flag, _, _)| mentions(&e, flag)) {
                true => tell("stop", &e),
                false => Err(format!("a stop that names no flag: {e}")),
            };
        }
        iterations += 1;
        let steps = session.log().env_steps();
        let spent = iterations >= iters || max_steps.is_some_and(|m| steps >= m);
        if spent && !session.finished() {
            return Err(format!(
                "ran on past its budget: {iterations} of {iters} iterations, {steps} of {max_steps:?} steps"
            ));
        }
    }
    tell("ran", &format!("{} steps", session.log().env_steps()))
}

/// A refusal, which must name a flag given in `argv` (or by the harness)
/// or quote an argument of it.
fn refused(outcome: &str, message: &str, argv: &[String]) -> Result<(), String> {
    // clap ends its errors with "For more information, try '--help'.", and
    // every memory refusal says what it is over: "(--memory-budget)".
    let text = message.replace("'--help'", "").replace("(--memory-budget)", "");
    let flags_given =
        argv.iter().filter_map(|a| a.strip_prefix("--")).map(|a| a.split('=').next().unwrap_or(a));
    let names_flag = flags_given.filter(|f| !f.is_empty()).any(|f| mentions(&text, &format!("--{f}")));
    // An empty argument is quoted as clap's "unexpected argument '' found".
    // Only clap's errors quote arguments; a refusal of the run names its flag.
    let quotes_argument = outcome == "parse"
        && argv.iter().any(|a| match a.is_empty() {
            true => text.contains("argument '' found"),
            false => text.contains(&format!("'{a}'")),
        });
    if names_flag || quotes_argument {
        tell(outcome, message)
    } else {
        Err(format!("a refusal ({outcome}) that names no flag given and no argument: {message}"))
    }
}

/// Whether `text` names `flag` itself (not a longer flag it begins).
fn mentions(text: &str, flag: &str) -> bool {
    text.match_indices(flag)
        .any(|(at, _)| !text[at + flag.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-'))
}

fn args_text(argv: &[String]) -> String {
    argv.join(" ")
}

/// A case that went as allowed; with `PG_FUZZ_VERBOSE` set, prints its
/// outcome (to see what the cases reach).
fn tell(outcome: &str, detail: &str) -> Result<(), String> {
    if std::env::var_os("PG_FUZZ_VERBOSE").is_some() {
        eprintln!("FUZZ {outcome}: {}", detail.lines().next().unwrap_or(""));
    }
    Ok(())
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
