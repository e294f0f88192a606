//! The memory estimate holds: the largest settings a budget allows run to
//! the end under an operating-system limit of that budget on the process's
//! data (`ulimit -d`, which counts the heap, anonymous maps and thread
//! stacks), and one more is refused, naming the flag.

use std::process::Command;

const PG: &str = env!("CARGO_BIN_EXE_pg");
/// The budget of every run here, in MiB.
const BUDGET_MIB: u64 = 192;

/// Runs `pg train` with `args` and `--memory-budget`, under the data limit;
/// returns (success, stderr).
fn train_limited(args: &[String]) -> (bool, String) {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("ulimit -d {} && exec \"$0\" \"$@\"", BUDGET_MIB * 1024))
        .arg(PG)
        .arg("train")
        .args(args)
        .args(["--memory-budget", &format!("{BUDGET_MIB}M"), "--quiet"])
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The largest value of `flag` the budget allows with `base`, read from the refusal of a huge one.
fn largest(base: &[&str], flag: &str, huge: &str) -> String {
    let mut args: Vec<String> = base.iter().map(|s| s.to_string()).collect();
    args.extend([flag.to_string(), huge.to_string()]);
    let (ok, err) = train_limited(&args);
    assert!(!ok, "{args:?} was allowed");
    assert!(err.contains(&format!("{flag} {huge} is not allowed")), "{err}");
    let tail = err.split(&format!("use {flag} ")).nth(1).unwrap_or_else(|| panic!("no largest value: {err}"));
    tail.split_whitespace().next().unwrap().to_string()
}

#[test]
fn the_largest_settings_a_budget_allows_run_within_it() {
    let cases: [(&[&str], &str, &str); 5] = [
        // Chapter 7's sampler: every batch holds its steps exactly.
        (&["--algo", "reward-to-go", "--iters", "2"], "--batch-steps", "1000000000"),
        // Pendulum's episodes last 200 steps each: batches of their longest.
        (&["--algo", "reinforce", "--env", "pendulum", "--iters", "2"], "--batch", "1000000000"),
        (&["--algo", "trpo", "--env", "pendulum", "--max-env-steps", "1"], "--batch", "1000000000"),
        (
            &["--algo", "ppo", "--env", "pendulum", "--max-env-steps", "1", "--hidden", "64,64"],
            "--batch",
            "1000000",
        ),
        // The optimal baseline keeps a gradient per episode.
        (
            &["--algo", "baseline", "--baseline", "optimal", "--env", "pendulum", "--iters", "2"],
            "--batch",
            "100000",
        ),
    ];
    for (base, flag, huge) in cases {
        let value = largest(base, flag, huge);
        let mut args: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        args.extend([flag.to_string(), value.clone()]);
        let (ok, err) = train_limited(&args);
        assert!(ok, "{args:?}, the largest the budget allows, failed under the limit: {err}");
        let one_more = (value.parse::<u64>().unwrap() + 1).to_string();
        *args.last_mut().unwrap() = one_more;
        let (ok, err) = train_limited(&args);
        assert!(!ok && err.contains("is not allowed") && err.contains("--memory-budget"), "{args:?}: {err}");
    }
}

#[test]
fn the_widest_network_a_budget_allows_runs_within_it() {
    // CartPole's first episodes are short: the network's copies dominate.
    for algo in ["trpo", "ppo", "offpolicy"] {
        let base = ["--algo", algo, "--batch", "1", "--iters", "1", "--max-env-steps", "1"];
        let mut args: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        args.extend(["--hidden".into(), "4096,4096".into()]);
        let (ok, err) = train_limited(&args);
        assert!(!ok, "{args:?} was allowed");
        let width: String = err
            .split("layers at most ")
            .nth(1)
            .unwrap_or_else(|| panic!("{err}"))
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        *args.last_mut().unwrap() = format!("{width},{width}");
        let (ok, err) = train_limited(&args);
        assert!(ok, "{args:?}, the widest the budget allows, failed under the limit: {err}");
    }
}
