//! What a run takes when no flag sets it: the algorithm's own defaults where
//! its registry entry has them, else the environment's. [`crate::Session`]
//! starts from these, and `pg train --help` states them, generated from the
//! same registry (so a new entry's defaults reach the help by themselves).

use crate::args::EnvName;
use crate::registry::algorithms;
use crate::session::env_name;
use pg_likelihood_ratio::registry::{Algorithm, Build, Context, ValueSetting};
use pg_surrogate::experiments::PendulumSetup;
use serde_json::{Value, json};

/// The settings every run has, before the flags given.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSettings {
    /// Gradient steps, or `None` for no limit.
    pub iters: Option<usize>,
    /// Episodes per batch.
    pub batch: usize,
    /// The budget in environment steps, if any.
    pub max_env_steps: Option<usize>,
    /// Adam's step size.
    pub lr: f64,
    /// Hidden widths of the policy's network (none for a tabular policy).
    pub hidden: Vec<usize>,
    /// The Gaussian's initial log σ (Pendulum).
    pub log_std: f64,
    /// Environment steps between Pendulum's evaluations, before rounding up to whole batches.
    pub eval_every: usize,
    /// Whether observations are standardised.
    pub normalize_observations: bool,
    /// Whether the weights are standardised within each batch.
    pub normalize_advantages: bool,
}

/// Whether the environment's policy is tabular.
pub fn tabular(env: EnvName) -> bool {
    matches!(env, EnvName::Mdp | EnvName::Stay)
}

/// What the registry's builders read for a run on `env`: its observation
/// size, seed, tuned value function (chapter 4's, for Pendulum) and `flags`.
pub fn context(env: EnvName, seed: u64, flags: Vec<(&'static str, String)>) -> Context {
    let obs_dim = match env {
        EnvName::Cartpole => 4,
        EnvName::Pendulum | EnvName::Mdp => 3,
        EnvName::Stay => 1,
    };
    let value = (env == EnvName::Pendulum).then(|| {
        let ch4 = PendulumSetup::default();
        ValueSetting {
            hidden: ch4.hidden,
            lr: ch4.value_lr,
            steps: ch4.value_steps,
            minibatch: ch4.value_minibatch,
            gamma: ch4.gamma,
            lambda: ch4.lambda,
        }
    });
    Context {
        env: env_name(env),
        obs_dim,
        tabular: tabular(env),
        seed,
        value,
        flags,
        normalize_advantages: false,
    }
}

/// Whether `algo`'s gradient weighs each step's score (the optimal constant
/// baseline weighs each parameter instead).
pub fn weighs_steps(algo: &Algorithm, context: &Context) -> bool {
    match &algo.build {
        Build::Estimator(e) => (e.weighs_steps)(context),
        Build::Update(_) => true,
    }
}

/// Whether `algo` steps with Adam at `--lr`: every estimator does, and the
/// updates that list the flag (NPG and TRPO step by `--delta` instead).
pub fn takes_lr(algo: &Algorithm) -> bool {
    algo.flags.contains(&"--lr") || matches!(algo.build, Build::Estimator(_))
}

/// The settings of a run of `algo` on `env` before the flags given; `context` carries the flags.
pub fn run_defaults(algo: &Algorithm, env: EnvName, context: &Context) -> Result<RunSettings, String> {
    let own = (algo.defaults)(context)?;
    let (iters, batch, lr) = env.defaults();
    let ch4 = PendulumSetup::default();
    let (pendulum, tabular) = (env == EnvName::Pendulum, tabular(env));
    Ok(RunSettings {
        iters: own.max_env_steps.is_none().then_some(iters),
        batch: own.batch.unwrap_or(batch),
        max_env_steps: own.max_env_steps,
        lr: own.lr.unwrap_or(lr),
        hidden: match own.hidden {
            _ if tabular => vec![],
            Some(h) => h,
            None if pendulum => ch4.hidden.clone(),
            None => vec![32, 32],
        },
        log_std: own.log_std.unwrap_or(ch4.log_std),
        eval_every: own.eval_every.unwrap_or(ch4.eval_every),
        normalize_observations: !tabular
            && own.normalize_observations.unwrap_or(pendulum && ch4.normalize_observations),
        normalize_advantages: !tabular
            && weighs_steps(algo, context)
            && own.normalize_advantages.unwrap_or(pendulum && ch4.normalize_advantages),
    })
}

/// Every environment, in `--env`'s order.
const ENVS: [EnvName; 4] = [EnvName::Cartpole, EnvName::Pendulum, EnvName::Mdp, EnvName::Stay];

/// The default of `flag` for a run of `algo` on `env` with no flag given,
/// as JSON, or `None` where the flag does not apply.
pub fn default_of(flag: &str, algo: &Algorithm, env: EnvName) -> Option<Value> {
    let context = context(env, 0, vec![]);
    if matches!(algo.build, Build::Update(_)) && tabular(env) {
        return None;
    }
    let run = run_defaults(algo, env, &context).ok()?;
    let network = !tabular(env);
    Some(match flag {
        "--iters" => json!(run.iters),
        "--batch" => json!(run.batch),
        "--max-env-steps" => json!(run.max_env_steps),
        "--lr" if takes_lr(algo) => json!(run.lr),
        "--hidden" if network => json!(run.hidden),
        "--normalize-observations" if network => json!(run.normalize_observations),
        "--normalize-advantages" if network && weighs_steps(algo, &context) => {
            json!(run.normalize_advantages)
        }
        "--eval-every" if env == EnvName::Pendulum => json!(run.eval_every),
        f if algo.flags.contains(&f) => {
            let key = f.trim_start_matches("--").replace('-', "_");
            let settings = (algo.settings)(&context).ok()?;
            settings.into_iter().find(|(k, _)| *k == key)?.1
        }
        _ => return None,
    })
}

/// A number as a flag's value would be written: `1` rather than `1.0`,
/// `1000000` rather than `1000000.0`, `1e300` rather than 301 digits.
pub fn written(value: &Value) -> String {
    match value.as_f64() {
        Some(x) if value.is_f64() && x.abs() < 1e15 => x.to_string(),
        Some(x) if value.is_f64() => format!("{x:e}"),
        _ => value.to_string(),
    }
}

/// A default as the help writes it: `0.99`, `32,32`, `no limit`, `none`.
fn shown(flag: &str, value: &Value) -> String {
    match value {
        Value::Null if matches!(flag, "--iters" | "--max-env-steps") => "no limit".into(),
        Value::Null => "none".into(),
        Value::Array(items) if items.is_empty() => "\"\" (none)".into(),
        Value::Array(items) => items.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","),
        Value::String(s) => s.clone(),
        Value::Number(_) => written(value),
        other => other.to_string(),
    }
}

/// The defaults of `flag` over every algorithm and environment, compactly:
/// per algorithm its value on the first environment it runs on (CartPole)
/// with the environments that differ in parentheses, algorithms with the same defaults grouped, and the
/// algorithms named unless every one takes the flag.
pub fn defaults_note(flag: &str) -> String {
    let all = algorithms();
    let mut groups: Vec<(Vec<String>, String)> = vec![];
    let mut takers = 0;
    for algo in &all {
        let values: Vec<(EnvName, String)> = ENVS
            .iter()
            .filter_map(|&env| default_of(flag, algo, env).map(|v| (env, shown(flag, &v))))
            .collect();
        // The first environment's value, with the others that differ.
        let Some((_, main)) = values.first() else {
            continue;
        };
        takers += 1;
        let others: Vec<String> = values
            .iter()
            .filter(|(_, v)| v != main)
            .map(|(env, v)| format!("{} {v}", env_name(*env)))
            .collect();
        let text = if others.is_empty() { main.clone() } else { format!("{main} ({})", others.join(", ")) };
        let name = match algo.only_with.iter().find(|(f, _)| *f == flag) {
            Some((_, variant)) => format!("{} with {variant}", algo.name),
            None => algo.name.to_string(),
        };
        match groups.iter_mut().find(|(_, t)| *t == text) {
            Some((names, _)) => names.push(name),
            None => groups.push((vec![name], text)),
        }
    }
    match groups.as_slice() {
        [(_, text)]
            if takers == all.len() && all.iter().all(|a| !a.only_with.iter().any(|(f, _)| *f == flag)) =>
        {
            text.clone()
        }
        [(names, text)] => format!("{text}; {} only", names.join(", ")),
        _ => groups
            .iter()
            .map(|(names, text)| format!("{}: {text}", names.join(", ")))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// `lead` followed by the flag's defaults, as `pg train --help` shows them.
pub fn help(lead: &str, flag: &str) -> String {
    format!("{lead} [default: {}]", defaults_note(flag))
}

/// `lead` followed by the algorithms that run on chapter 7's vectorised sampler.
pub fn lockstep_help(lead: &str) -> String {
    let names: Vec<&str> = algorithms()
        .iter()
        .filter(|a| matches!(&a.build, Build::Estimator(e) if e.lockstep.is_some()))
        .map(|a| a.name)
        .collect();
    format!("{lead} [{} only]", names.join(", "))
}
