//! Chapter 6's entries in the registry build the book's setting for the
//! environment with the flags given applied, and the update it names.

use pg_core::env::CartPole;
use pg_core::policy::Categorical;
use pg_core::rng::substream;
use pg_core::{Batch, Policy};
use pg_kl_constraint::ALGORITHMS;
use pg_kl_constraint::experiments::{Algo, Setup};
use pg_kl_constraint::registry::setup;
use pg_likelihood_ratio::Update;
use pg_likelihood_ratio::registry::{Algorithm, Build, Context, RunDefaults, Value};

fn entry(name: &str) -> Algorithm {
    *ALGORITHMS.iter().find(|a| a.name == name).unwrap()
}

#[test]
fn every_flag_given_changes_the_setting() {
    let given: &[(&str, &str)] = &[
        ("--hidden", "7,3"),
        ("--batch", "5"),
        ("--delta", "0.03"),
        ("--clip", "0.3"),
        ("--kl-target", "0.05"),
        ("--epochs", "3"),
        ("--minibatch", "17"),
        ("--lr", "0.02"),
        ("--gamma", "0.5"),
        ("--gae-lambda", "0.6"),
    ];
    let s = setup(&Context::new("cartpole", 4, false, 9, given)).unwrap();
    let expected = Setup {
        seeds: vec![9],
        hidden: vec![7, 3],
        batch: 5,
        delta: 0.03,
        clip: 0.3,
        kl_target: 0.05,
        epochs: 3,
        minibatch: 17,
        lr: 0.02,
        gamma: 0.5,
        lambda: 0.6,
        ..Setup::cartpole()
    };
    assert_eq!(format!("{s:?}"), format!("{expected:?}"));
    let pendulum = setup(&Context::new("pendulum", 3, false, 9, &[])).unwrap();
    assert_eq!(format!("{pendulum:?}"), format!("{:?}", Setup { seeds: vec![9], ..Setup::pendulum() }));
    // Every flag an entry lists is one of those above.
    for a in ALGORITHMS {
        assert!(a.flags.iter().all(|f| given.iter().any(|(g, _)| g == f)), "{}", a.name);
    }
}

#[test]
fn the_defaults_and_settings_are_the_books() {
    for (env, book) in [("cartpole", Setup::cartpole()), ("pendulum", Setup::pendulum())] {
        let context = Context::new(env, 4, false, 0, &[]);
        let defaults = RunDefaults {
            max_env_steps: Some(book.max_env_steps),
            batch: Some(book.batch),
            lr: Some(book.lr),
            hidden: Some(book.hidden.clone()),
            log_std: Some(book.log_std),
            eval_every: Some(book.eval_every),
            normalize_observations: Some(false),
            normalize_advantages: Some(true),
        };
        let (gamma, lambda) = (Value::from(book.gamma), Value::from(book.lambda));
        let ppo = [
            ("epochs", Value::from(book.epochs)),
            ("minibatch", Value::from(book.minibatch)),
            ("max_grad_norm", Value::from(book.max_grad_norm)),
            ("gamma", gamma.clone()),
            ("gae_lambda", lambda.clone()),
        ];
        let natural = vec![("delta", Value::from(book.delta)), ("gamma", gamma), ("gae_lambda", lambda)];
        for (name, settings) in [
            ("npg", natural.clone()),
            ("trpo", natural),
            ("ppo", [vec![("clip", Value::from(book.clip))], ppo.to_vec()].concat()),
            ("ppo-kl", [vec![("kl_target", Value::from(book.kl_target))], ppo.to_vec()].concat()),
        ] {
            assert_eq!((entry(name).defaults)(&context), Ok(defaults.clone()), "{name} {env}");
            assert_eq!((entry(name).settings)(&context), Ok(settings), "{name} {env}");
        }
    }
}

#[test]
fn each_entry_builds_its_update_over_gae_standardised_as_the_run_says() {
    let rng = &mut substream(4, 0);
    let policy = Categorical::mlp(4, &[8], 2, rng);
    let batch = Batch::sample(&mut CartPole::new(), &policy, 3, rng);
    for (name, algo) in
        [("npg", Algo::Npg), ("trpo", Algo::Trpo), ("ppo", Algo::Ppo), ("ppo-kl", Algo::PpoPenalty)]
    {
        let Build::Update(u) = entry(name).build else { panic!("{name}: an update") };
        for normalize in [true, false] {
            let context =
                Context { normalize_advantages: normalize, ..Context::new("cartpole", 4, false, 2, &[]) };
            let s = setup(&context).unwrap();
            let mut direct = if normalize {
                s.update(algo, s.advantages(4, 2).unwrap(), 2).unwrap()
            } else {
                s.update(algo, s.value_baseline(4, 2).unwrap(), 2).unwrap()
            };
            let mut built = (u.categorical)(&context).unwrap();
            assert_eq!(built.name(), direct.name());
            let (mut a, mut b) = (policy.clone(), policy.clone());
            built.update(&mut a, &batch, 0).unwrap();
            direct.update(&mut b, &batch, 0).unwrap();
            assert_eq!(a.params(), b.params(), "{name}, normalised: {normalize}");
            assert_ne!(a.params(), policy.params(), "{name}: the update moves the policy");
        }
    }
}
