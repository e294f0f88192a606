//! What `pg book` writes for the Play page: the menu (every algorithm of the
//! registry with its flags, their help from `pg train --help` and their
//! defaults on CartPole from the run itself) and the native run the page's
//! default settings are compared with.

use crate::args::RunLine;
use crate::registry::algorithms;
use crate::session::Session;
use clap::CommandFactory;
use pg_core::report::Report;
use serde_json::{Value, json};

/// Files this module generates.
pub const GENERATED: &[&str] = &["play-registry.js", "play-native.md"];

/// The step budget of a run on the page unless the reader sets `--max-env-steps`.
pub const PAGE_BUDGET: usize = 1_000_000;

/// The page's default run as `pg train` flags, in the order the page writes
/// them: chapter 7's vectorised reward-to-go, seed 0, stopped after the
/// page's budget or when solved, on one thread (the page has one).
pub fn default_line() -> String {
    format!(
        "--algo reward-to-go --batch-steps 5000 --seed 0 --max-env-steps {PAGE_BUDGET} --until-solved --threads 1"
    )
}

/// `n` with a comma between groups of three digits, as the page writes it: 255,424.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Flags the page offers for every algorithm, after its own: the iteration
/// cap and the step budget (which the page always passes: the algorithm's
/// own, or [`PAGE_BUDGET`] for those without one).
const COMMON: &[&str] = &["--iters", "--max-env-steps"];

/// The summary key of a flag's value: `--gae-lambda` → `gae_lambda`.
fn summary_key(flag: &str) -> String {
    flag.trim_start_matches("--").replace('-', "_")
}

/// A flag's value in a run's summary, as the page shows it (widths comma-separated).
fn shown(value: &Value) -> Value {
    match value {
        Value::Array(items) => json!(items.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",")),
        other => other.clone(),
    }
}

/// The page's menu: per algorithm its name, chapter, title, presets and
/// flags, each flag with its help, its choices (if it has a fixed set) and
/// its default on CartPole, read from a run built with no other flag.
pub fn menu() -> Result<Value, String> {
    let command = RunLine::command();
    let help =
        |flag: &str| command.get_arguments().find(|a| a.get_long() == Some(flag.trim_start_matches("--")));
    let mut out = vec![];
    for algo in algorithms() {
        let defaults = Session::from_line(&format!("--algo {} --env cartpole", algo.name))?.summary();
        let budget = defaults["max_env_steps"].as_u64().map_or(PAGE_BUDGET as u64, |b| b);
        let flags = algo
            .flags
            .iter()
            .chain(COMMON)
            .map(|&flag| {
                let arg = help(flag).ok_or(format!("{flag} is not a flag of pg train"))?;
                let choices: Vec<String> =
                    arg.get_possible_values().iter().map(|v| v.get_name().to_string()).collect();
                let text = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                Ok(json!({
                    "flag": flag,
                    "help": text,
                    "choices": choices,
                    "default": match flag {
                        "--max-env-steps" => json!(budget),
                        _ => shown(defaults.get(summary_key(flag)).ok_or(format!(
                            "--algo {} lists {flag}, which its summary does not report",
                            algo.name
                        ))?),
                    },
                }))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let presets: Vec<Value> =
            algo.presets.iter().map(|(name, flags)| json!({"name": name, "flags": flags})).collect();
        out.push(json!({
            "name": algo.name, "chapter": algo.chapter, "title": algo.title, "flags": flags, "presets": presets,
        }));
    }
    Ok(json!(out))
}

/// Trains the run of `line` natively; returns its summary and per-iteration rows.
pub fn native_run(line: &str) -> Result<(Value, Value), String> {
    let mut session = Session::from_line(line)?;
    session.run()?;
    Ok((session.summary(), session.iterations()))
}

/// Writes the menu and the native reference run.
pub fn write(report: &mut dyn Report) -> Result<(), String> {
    report.start("play: the menu and the native run of the page's default settings");
    let line = default_line();
    let (summary, rows) = native_run(&line)?;
    let page = json!({
        "algorithms": menu()?,
        "default": {"algo": "reward-to-go", "preset": "--batch-steps 5000", "seed": 0},
        "native": {"line": line, "summary": summary, "iterations": rows},
    });
    report.write("play-registry.js", &format!("self.PG_PLAY = {page};\n"))?;
    let solved = summary["solved_at_steps"].as_u64();
    let per_second = summary["env_steps_per_second"].as_f64().unwrap_or(0.0);
    let seconds = summary["solved_at_seconds"].as_f64();
    let text = match (solved, seconds) {
        (Some(steps), Some(secs)) => format!(
            "Natively, on the machine that built this book, `pg train {line}` reached a \
             100-episode mean of 475 after {} environment steps, in {secs:.2} s ({} thousand steps per \
             second over the run).",
            grouped(steps),
            grouped((per_second / 1e3).round() as u64)
        ),
        _ => format!("Natively, `pg train {line}` did not reach a 100-episode mean of 475."),
    };
    report.write("play-native.md", &format!("{text}\n"))
}

#[cfg(test)]
mod tests {
    use super::grouped;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(255_424), "255,424");
        assert_eq!(grouped(1_000_000), "1,000,000");
    }
}
