//! The registry against the command line: every algorithm `pg train --algo`
//! offers is in it, and the flags it lists for each are exactly the ones
//! `pg train` accepts with that algorithm.

use clap::ValueEnum;
use pg_play::Session;
use pg_play::args::{Algo, parse_line};
use pg_play::registry::algorithms;
use std::collections::BTreeSet;

/// A valid value of each flag some algorithm lists.
fn sample_value(flag: &str) -> &'static str {
    match flag {
        "--batch" => "4",
        "--lr" => "0.01",
        "--hidden" => "8",
        "--gamma" => "0.9",
        "--gae-lambda" => "0.9",
        "--baseline" => "value",
        "--reuse" => "2",
        "--estimator" => "trajectory",
        "--delta" => "0.02",
        "--clip" => "0.1",
        "--epochs" => "2",
        "--minibatch" => "32",
        "--kl-target" => "0.02",
        other => panic!("no sample value for {other}: add one"),
    }
}

fn build(line: &str) -> Result<Session, String> {
    Session::new(&parse_line(line)?)
}

#[test]
fn every_algorithm_of_pg_train_is_in_the_registry_once() {
    let cli: Vec<String> = Algo::value_variants()
        .iter()
        .map(|a| a.to_possible_value().unwrap().get_name().to_string())
        .collect();
    let registry: Vec<&str> = algorithms().iter().map(|a| a.name).collect();
    assert_eq!(cli, registry, "pg train --algo's values and the registry, in chapter order");
}

#[test]
fn each_algorithm_takes_exactly_the_flags_it_lists() {
    let all: BTreeSet<&str> = algorithms().iter().flat_map(|a| a.flags.iter().copied()).collect();
    for algo in algorithms() {
        for flag in &all {
            let line = format!("--algo {} --env cartpole {flag} {}", algo.name, sample_value(flag));
            match (algo.flags.contains(flag), build(&line)) {
                (true, Ok(_)) => {}
                (true, Err(e)) => panic!("{} lists {flag}, which pg train refuses: {e}", algo.name),
                (false, Ok(_)) => panic!("{} does not list {flag}, which pg train accepts", algo.name),
                (false, Err(e)) => assert!(e.contains(flag), "the refusal of {flag} names it: {e}"),
            }
        }
    }
}

#[test]
fn every_preset_builds_a_run() {
    for algo in algorithms() {
        for (label, flags) in algo.presets {
            let line = format!("--algo {} {flags}", algo.name);
            assert!(build(&line).is_ok(), "{} preset {label:?}: {line}", algo.name);
        }
    }
}

#[test]
fn the_pages_menu_lists_every_algorithm_with_help_and_defaults() {
    let menu = pg_play::book::menu().expect("the menu builds");
    let names: Vec<&str> = menu.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, algorithms().iter().map(|a| a.name).collect::<Vec<_>>());
    let trpo = menu.as_array().unwrap().iter().find(|a| a["name"] == "trpo").unwrap();
    let delta = trpo["flags"].as_array().unwrap().iter().find(|f| f["flag"] == "--delta").unwrap();
    assert_eq!(delta["default"], pg_kl_constraint::experiments::Setup::cartpole().delta);
    assert!(delta["help"].as_str().unwrap().contains("trust region"), "{delta}");
    let baseline = menu.as_array().unwrap().iter().find(|a| a["name"] == "baseline").unwrap();
    let choices =
        &baseline["flags"].as_array().unwrap().iter().find(|f| f["flag"] == "--baseline").unwrap()["choices"];
    assert_eq!(choices, &serde_json::json!(["mean", "optimal", "value"]));
}
