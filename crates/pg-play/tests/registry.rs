//! The registry against the command line: every algorithm `pg train --algo`
//! offers is in it, and the flags it lists for each are exactly the ones
//! `pg train` accepts with that algorithm.

use clap::CommandFactory;
use pg_likelihood_ratio::registry::{Algorithm, Build, Context, Estimators, RunDefaults, Value, Weights};
use pg_play::Session;
use pg_play::args::{RunLine, parse_line};
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
fn pg_train_offers_each_algorithm_of_the_registry_once_with_its_help() {
    let names: Vec<&str> = algorithms().iter().map(|a| a.name).collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "each name once: {names:?}");
    // What --help shows for --algo's values (read from the argument: the rendering may wrap lines).
    let command = RunLine::command();
    let algo = command.get_arguments().find(|a| a.get_long() == Some("algo")).unwrap();
    let offered: Vec<(String, String)> = algo
        .get_possible_values()
        .iter()
        .map(|v| (v.get_name().to_string(), v.get_help().map(|h| h.to_string()).unwrap_or_default()))
        .collect();
    let listed: Vec<(String, String)> =
        algorithms().iter().map(|a| (a.name.into(), a.about.into())).collect();
    assert_eq!(offered, listed, "--algo's values and their help");
    for a in algorithms() {
        assert!(
            a.only_with.iter().all(|(f, _)| a.flags.contains(f)),
            "{}: only_with names its own flags",
            a.name
        );
        for (flag, _) in a.refuses {
            assert!(!a.flags.contains(flag), "{} refuses {flag}, which it lists", a.name);
            assert!(
                algorithms().iter().any(|b| b.flags.contains(flag)),
                "{}: no algorithm takes {flag}",
                a.name
            );
        }
    }
}

/// The algorithms a refusal names after "use it with --algo ".
fn named(refusal: &str) -> BTreeSet<String> {
    let list = refusal.split("use it with --algo ").nth(1).unwrap_or_default();
    list.replace(" or ", ", ")
        .split(", ")
        .filter_map(|a| a.split_whitespace().next())
        .map(String::from)
        .collect()
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
                (false, Err(e)) => {
                    assert!(e.contains(flag), "the refusal of {flag} names it: {e}");
                    let takers = algorithms()
                        .iter()
                        .filter(|a| a.flags.contains(flag))
                        .map(|a| a.name.into())
                        .collect();
                    assert_eq!(named(&e), takers, "the refusal names the algorithms that take {flag}: {e}");
                }
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

/// Reward-to-go at γ = ½, as a chapter would register it: one entry, no
/// change to `pg-play`.
fn half_discount<P: pg_core::Policy + 'static>(
    _: &Context,
) -> Result<Box<dyn pg_likelihood_ratio::Estimator<P>>, String> {
    Ok(Box::new(pg_causality::RewardToGo::discounted(0.5).map_err(|e| e.to_string())?))
}

const HALF: Algorithm = Algorithm {
    name: "half-discount",
    chapter: 2,
    title: "Reward-to-go at γ = ½",
    about: "A test's entry",
    flags: &["--batch"],
    only_with: &[],
    refuses: &[("--lr", "a test's reason")],
    presets: &[],
    defaults: |_| Ok(RunDefaults { lr: Some(0.01), ..RunDefaults::default() }),
    settings: |_| Ok(vec![("gamma", Value::from(0.5))]),
    build: Build::Estimator(Estimators {
        tabular: half_discount,
        categorical: half_discount,
        gaussian: half_discount,
        reuse: None,
        weighs_steps: |_| true,
        lockstep: Some(|_| Ok(Weights::RewardToGo(0.5))),
        work: pg_likelihood_ratio::registry::one_pass,
    }),
};

#[test]
fn a_new_algorithm_is_one_entry() {
    let rows = |mut s: Session| {
        s.run().unwrap();
        (s.summary(), s.iterations())
    };
    for (env, extra) in [("cartpole", ""), ("pendulum", ""), ("mdp", ""), ("cartpole", "--batch-steps 600")] {
        let batch = if extra.is_empty() { "--batch 4" } else { "" };
        let common = format!("--env {env} --iters 3 {batch} {extra} --seed 7");
        let entry =
            Session::with_algorithm(&parse_line(&format!("--algo reinforce {common}")).unwrap(), HALF);
        let (summary, ours) = rows(entry.unwrap());
        let (_, chapters) =
            rows(build(&format!("--algo reward-to-go --gamma 0.5 --lr 0.01 {common}")).unwrap());
        assert_eq!(ours, chapters, "{env} {extra}: the entry trains as chapter 2's reward-to-go at γ = ½");
        assert_eq!((summary["algo"].as_str(), summary["gamma"].as_f64()), (Some("half-discount"), Some(0.5)));
        assert_eq!(summary["lr"].as_f64(), Some(0.01), "its default step size");
    }
    let refused =
        Session::with_algorithm(&parse_line("--algo reinforce --lr 0.1").unwrap(), HALF).err().unwrap();
    assert!(refused.contains("--lr is not allowed with --algo half-discount (a test's reason)"), "{refused}");
    assert!(refused.contains("reinforce, reward-to-go, baseline, offpolicy, ppo or ppo-kl"), "{refused}");
}

#[test]
fn every_algorithm_and_variant_takes_a_step_on_every_environment() {
    let command = RunLine::command();
    let values = |flag: &str| -> Vec<String> {
        let arg =
            command.get_arguments().find(|a| a.get_long() == Some(flag.trim_start_matches("--"))).unwrap();
        arg.get_possible_values().iter().map(|v| v.get_name().to_string()).collect()
    };
    for algo in algorithms() {
        // Each value of each flag with a fixed set of values, one at a time.
        let mut variants = vec![String::new()];
        for flag in algo.flags.iter().filter(|f| !values(f).is_empty()) {
            variants.extend(values(flag).iter().map(|v| format!("{flag} {v}")));
        }
        for env in ["cartpole", "pendulum", "mdp", "stay"] {
            for variant in &variants {
                let line = format!("--algo {} {variant} --env {env} --batch 2 --seed 1", algo.name);
                let network =
                    matches!(algo.build, Build::Estimator(_)) || matches!(env, "cartpole" | "pendulum");
                match build(&line) {
                    Ok(mut session) => {
                        assert!(network, "{line}: a constrained update on a tabular policy");
                        let before = pg_core::policy::multiply_adds();
                        let stats = session.step().unwrap_or_else(|e| panic!("{line}: {e}"));
                        assert!(stats.env_steps > 0, "{line}");
                        // The iteration's network passes, within the bound checked before it
                        // started (without its fixed costs); on Pendulum, whose episodes all
                        // reach its time limit, the bound is the batch's own (less what goes
                        // uncounted: Adam, a line search's unused steps).
                        let counted = pg_core::policy::multiply_adds() - before;
                        let estimate = session.network_work_estimate();
                        assert!(counted <= estimate, "{line}: {counted:e} multiply-adds, over {estimate:e}");
                        if env == "pendulum" {
                            assert!(
                                counted >= 0.9 * estimate,
                                "{line}: {counted:e} multiply-adds of {estimate:e}"
                            );
                        }
                    }
                    Err(e) => assert!(!network && e.contains("network policy"), "{line}: {e}"),
                }
            }
        }
    }
}

#[test]
fn the_help_states_the_defaults_each_run_takes() {
    use pg_play::args::EnvName;
    use pg_play::defaults::default_of;
    let flags = [
        "--iters",
        "--batch",
        "--max-env-steps",
        "--lr",
        "--hidden",
        "--gamma",
        "--baseline",
        "--gae-lambda",
        "--reuse",
        "--estimator",
        "--normalize-observations",
        "--normalize-advantages",
        "--delta",
        "--clip",
        "--kl-target",
        "--epochs",
        "--minibatch",
        "--eval-every",
    ];
    let command = RunLine::command();
    let help = |flag: &str| {
        let arg =
            command.get_arguments().find(|a| a.get_long() == Some(flag.trim_start_matches("--"))).unwrap();
        arg.get_help().map(|h| h.to_string()).unwrap_or_default()
    };
    let mut checked = 0;
    for flag in flags {
        assert!(help(flag).contains(&pg_play::defaults::defaults_note(flag)), "{flag}'s defaults in --help");
        for algo in algorithms() {
            for (env, name) in [
                (EnvName::Cartpole, "cartpole"),
                (EnvName::Pendulum, "pendulum"),
                (EnvName::Mdp, "mdp"),
                (EnvName::Stay, "stay"),
            ] {
                let Some(stated) = default_of(flag, &algo, env) else { continue };
                let run = build(&format!("--algo {} --env {name}", algo.name)).unwrap().summary();
                let key = flag.trim_start_matches("--").replace('-', "_");
                let took = &run[key.as_str()];
                let batch_steps = run["batch"].as_u64().unwrap() * 200;
                match flag {
                    // The run rounds the interval up to whole batches.
                    "--eval-every" => {
                        assert_eq!(
                            took.as_u64(),
                            stated.as_u64().map(|s| s.div_ceil(batch_steps) * batch_steps)
                        )
                    }
                    _ => assert_eq!(took, &stated, "{flag} of {} on {name}", algo.name),
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 200, "{checked} defaults checked");
}

#[test]
fn settings_do_not_overwrite_the_runs_own_keys_and_reuse_takes_its_steps() {
    let run = build("--algo reinforce --iters 1").unwrap().summary();
    for algo in algorithms() {
        let context = pg_play::defaults::context(pg_play::args::EnvName::Cartpole, 0, vec![]);
        for (key, _) in (algo.settings)(&context).unwrap() {
            assert!(run.get(key).is_none(), "{} reports {key}, a key of every run", algo.name);
        }
    }
    let rows = |reuse: &str| {
        let mut s =
            build(&format!("--algo offpolicy --reuse {reuse} --iters 2 --batch 4 --env mdp")).unwrap();
        s.run().unwrap();
        s.iterations()
    };
    assert_ne!(rows("1"), rows("3"), "--reuse changes the run");
}
