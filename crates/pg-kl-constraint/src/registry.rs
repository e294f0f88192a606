//! Chapter 6's algorithms as `pg train --algo`, `pg bench` and the Play page
//! build them: the book's setting for the environment
//! ([`Setup::cartpole`], [`Setup::pendulum`]) with the flags given applied.

use crate::Head;
use crate::experiments::{Algo, Setup};
use pg_likelihood_ratio::registry::{
    Algorithm, Build, Context, FromContext, RunDefaults, Settings, Updates, Value,
};
use pg_likelihood_ratio::{Estimator, Update};
use pg_surrogate::BatchedPolicy;
use pg_surrogate::normalize::NormalizedAdvantages;

/// The flags of the natural-gradient algorithms, whose step is set by δ.
const NATURAL_FLAGS: &[&str] = &["--batch", "--delta", "--gamma", "--gae-lambda", "--hidden"];

/// Why the natural-gradient algorithms take no learning rate.
const NO_LR: &[(&str, &str)] = &[("--lr", "its step is set by --delta")];

/// The flags of both PPO variants besides their own constraint's.
const PPO_FLAGS: [&str; 7] =
    ["--batch", "--lr", "--epochs", "--minibatch", "--gamma", "--gae-lambda", "--hidden"];

/// Chapter 6's algorithms.
pub const ALGORITHMS: &[Algorithm] = &[
    entry(
        ("npg", "Natural policy gradient"),
        "Chapter 6: the natural policy gradient, a step of quadratic KL --delta (cartpole, pendulum)",
        NATURAL_FLAGS,
        NO_LR,
        |c| natural_settings(&setup(c)?),
        Updates { categorical: npg, gaussian: npg, work: |c| Ok(setup(c)?.work(Algo::Npg, c.obs_dim)) },
    ),
    entry(
        ("trpo", "TRPO"),
        "Chapter 6: TRPO, the natural step with a line search on the measured KL (see --delta)",
        NATURAL_FLAGS,
        NO_LR,
        |c| natural_settings(&setup(c)?),
        Updates { categorical: trpo, gaussian: trpo, work: |c| Ok(setup(c)?.work(Algo::Trpo, c.obs_dim)) },
    ),
    entry(
        ("ppo", "PPO (clipped)"),
        "Chapter 6: PPO with the clipped objective (see --clip, --epochs, --minibatch)",
        &concat(PPO_FLAGS, "--clip"),
        &[],
        |c| {
            let s = setup(c)?;
            Ok([vec![("clip", Value::from(s.clip))], ppo_settings(&s)].concat())
        },
        Updates { categorical: ppo, gaussian: ppo, work: |c| Ok(setup(c)?.work(Algo::Ppo, c.obs_dim)) },
    ),
    entry(
        ("ppo-kl", "PPO (adaptive KL penalty)"),
        "Chapter 6: PPO with the adaptive KL penalty (see --kl-target, --epochs, --minibatch)",
        &concat(PPO_FLAGS, "--kl-target"),
        &[],
        |c| {
            let s = setup(c)?;
            Ok([vec![("kl_target", Value::from(s.kl_target))], ppo_settings(&s)].concat())
        },
        Updates {
            categorical: ppo_kl,
            gaussian: ppo_kl,
            work: |c| Ok(setup(c)?.work(Algo::PpoPenalty, c.obs_dim)),
        },
    ),
];

/// `flags` with `own` after the first two (batch and step size).
const fn concat(flags: [&'static str; 7], own: &'static str) -> [&'static str; 8] {
    let mut out = [own; 8];
    let mut i = 0;
    while i < 7 {
        out[if i < 2 { i } else { i + 1 }] = flags[i];
        i += 1;
    }
    out
}

/// An entry of this chapter: the book's setting as its defaults, its own update.
const fn entry(
    (name, title): (&'static str, &'static str),
    about: &'static str,
    flags: &'static [&'static str],
    refuses: &'static [(&'static str, &'static str)],
    settings: FromContext<Settings>,
    updates: Updates,
) -> Algorithm {
    Algorithm {
        name,
        chapter: 6,
        title,
        about,
        flags,
        only_with: &[],
        refuses,
        presets: &[],
        defaults,
        settings,
        build: Build::Update(updates),
    }
}

/// The book's setting for the run's environment, with the flags given applied.
pub fn setup(c: &Context) -> Result<Setup, String> {
    let mut s = if c.env == "pendulum" { Setup::pendulum() } else { Setup::cartpole() };
    s.seeds = vec![c.seed];
    s.hidden = c.widths("--hidden")?.unwrap_or(s.hidden);
    s.batch = c.get("--batch")?.unwrap_or(s.batch);
    s.delta = c.get("--delta")?.unwrap_or(s.delta);
    s.clip = c.get("--clip")?.unwrap_or(s.clip);
    s.kl_target = c.get("--kl-target")?.unwrap_or(s.kl_target);
    s.epochs = c.get("--epochs")?.unwrap_or(s.epochs);
    s.minibatch = c.get("--minibatch")?.unwrap_or(s.minibatch);
    s.lr = c.get("--lr")?.unwrap_or(s.lr);
    s.gamma = c.get("--gamma")?.unwrap_or(s.gamma);
    s.lambda = c.get("--gae-lambda")?.unwrap_or(s.lambda);
    Ok(s)
}

/// The run's defaults: the setting's budget (no limit on iterations), batch,
/// network and evaluation interval; standardised advantages, raw observations.
fn defaults(c: &Context) -> Result<RunDefaults, String> {
    let s = setup(c)?;
    Ok(RunDefaults {
        max_env_steps: Some(s.max_env_steps),
        batch: Some(s.batch),
        lr: Some(s.lr),
        hidden: Some(s.hidden),
        log_std: Some(s.log_std),
        eval_every: Some(s.eval_every),
        normalize_observations: Some(false),
        normalize_advantages: Some(true),
    })
}

/// What NPG and TRPO report: δ and the advantages' γ and λ.
fn natural_settings(s: &Setup) -> Result<Settings, String> {
    Ok(vec![
        ("delta", Value::from(s.delta)),
        ("gamma", Value::from(s.gamma)),
        ("gae_lambda", Value::from(s.lambda)),
    ])
}

/// What both PPO variants report besides their own constraint.
fn ppo_settings(s: &Setup) -> Settings {
    vec![
        ("epochs", Value::from(s.epochs)),
        ("minibatch", Value::from(s.minibatch)),
        ("max_grad_norm", Value::from(s.max_grad_norm)),
        ("gamma", Value::from(s.gamma)),
        ("gae_lambda", Value::from(s.lambda)),
    ]
}

/// The update of `algo` over GAE advantages, standardised per batch if the
/// run does (by default it does: see [`defaults`]).
fn update<P: Head + BatchedPolicy + 'static>(algo: Algo, c: &Context) -> Result<Box<dyn Update<P>>, String> {
    let err = |e: pg_core::PgError| e.to_string();
    let s = setup(c)?;
    let gae = s.value_baseline(c.obs_dim, c.seed).map_err(err)?;
    let estimator: Box<dyn Estimator<P> + Send> =
        if c.normalize_advantages { Box::new(NormalizedAdvantages(gae)) } else { Box::new(gae) };
    Ok(s.update(algo, estimator, c.seed).map_err(err)?)
}

fn npg<P: Head + BatchedPolicy + 'static>(c: &Context) -> Result<Box<dyn Update<P>>, String> {
    update(Algo::Npg, c)
}

fn trpo<P: Head + BatchedPolicy + 'static>(c: &Context) -> Result<Box<dyn Update<P>>, String> {
    update(Algo::Trpo, c)
}

fn ppo<P: Head + BatchedPolicy + 'static>(c: &Context) -> Result<Box<dyn Update<P>>, String> {
    update(Algo::Ppo, c)
}

fn ppo_kl<P: Head + BatchedPolicy + 'static>(c: &Context) -> Result<Box<dyn Update<P>>, String> {
    update(Algo::PpoPenalty, c)
}
