//! The one Pendulum evaluation protocol: its episodes, its start states, its
//! frozen view of normalised observations, its schedule, and the two ways a
//! log is read (the evaluation at a budget, the sustained crossing).

use ndarray::{Array1, array};
use pg_core::env::{PENDULUM_MAX_STEPS, Pendulum};
use pg_core::policy::Gaussian;
use pg_core::rng::{seeded, substream};
use pg_core::{Dist, Env, PgError, Policy};
use pg_likelihood_ratio::{IterStats, TrainConfig, TrainLog, UpdateStats, train};
use pg_surrogate::evaluate::{
    EVAL_EPISODES, EVAL_STREAM, Evaluable, ObsView, SUSTAINED, evaluate, evaluation_at, evaluations,
    sustained_at, train_evaluated,
};
use pg_surrogate::experiments::{PendulumSetup, pendulum_policy, pendulum_update};
use pg_surrogate::normalize::NormalizedObservations;
use rand::Rng;

fn small_setup(normalize_observations: bool) -> PendulumSetup {
    PendulumSetup { hidden: vec![8], batch: 2, value_steps: 2, normalize_observations, ..Default::default() }
}

/// The protocol written out step by step: `EVAL_EPISODES` episodes from
/// stream `EVAL_STREAM + index` of `seed`, each action the policy's mean.
fn by_hand(policy: &Gaussian, view: &ObsView, seed: u64, index: usize) -> f64 {
    let rng = &mut substream(seed, EVAL_STREAM + index as u64);
    let mut env = Pendulum::new();
    let mut total = 0.0;
    for _ in 0..EVAL_EPISODES {
        let mut obs = env.reset(rng);
        for t in 0..PENDULUM_MAX_STEPS {
            let Dist::Gaussian { mean, .. } = policy.dist(view.apply(obs.view()).view()) else {
                panic!("a Gaussian policy")
            };
            let step = env.step(&mean, rng);
            total += step.reward;
            obs = step.obs;
            assert_eq!(step.truncated, t + 1 == PENDULUM_MAX_STEPS, "episodes last 200 steps");
        }
    }
    total / EVAL_EPISODES as f64
}

#[test]
fn an_evaluation_is_20_mean_action_episodes_from_the_runs_and_the_evaluations_own_stream() {
    assert_eq!(EVAL_EPISODES, 20);
    // Training draws from the seed's generator and its streams 1 000 and
    // 2 000; no evaluation of the first 1 000 replays any of them.
    for seed in 0..3 {
        let first = |mut rng: pg_core::rng::PgRng| -> [u64; 4] { std::array::from_fn(|_| rng.next_u64()) };
        let training = [first(seeded(seed)), first(substream(seed, 1_000)), first(substream(seed, 2_000))];
        for k in 0..1_000 {
            let eval = first(substream(seed, EVAL_STREAM + k));
            assert!(!training.contains(&eval), "seed {seed}, evaluation {k}");
        }
    }
    let policy = pendulum_policy(3, &small_setup(false));
    let view = ObsView::Standardized { mean: array![0.1, -0.2, 0.3], sd: array![0.5, 0.7, 2.0] };
    for v in [ObsView::Raw, view] {
        let mut seen = Vec::new();
        for seed in 0..3 {
            for index in 0..3 {
                let e = evaluate(&policy, &v, seed, index);
                assert_eq!(e, by_hand(&policy, &v, seed, index), "seed {seed}, evaluation {index}");
                assert_eq!(e, evaluate(&policy, &v, seed, index), "an evaluation is reproducible");
                seen.push(e);
            }
        }
        seen.sort_by(f64::total_cmp);
        seen.dedup();
        assert_eq!(seen.len(), 9, "three runs × three evaluations share no start states: {seen:?}");
    }
}

#[test]
fn the_frozen_view_standardises_by_every_observation_training_saw_so_far() {
    let mut wrapped = NormalizedObservations::new(Pendulum::new());
    assert_eq!(
        wrapped.view(),
        ObsView::Standardized {
            mean: array![0.0, 0.0, 0.0],
            sd: array![1.0, 1.0, 1.0].mapv(|v: f64| (v + 1e-8).sqrt())
        }
    );
    let mut raw = Pendulum::new();
    let (r1, r2) = (&mut seeded(5), &mut seeded(5));
    let mut seen: Vec<Array1<f64>> = vec![raw.reset(r1)];
    wrapped.reset(r2);
    for t in 0..350 {
        let torque = array![((t % 7) as f64 - 3.0) * 0.6];
        let step = raw.step(&torque, r1);
        wrapped.step(&torque, r2);
        seen.push(step.obs.clone());
        if step.truncated {
            seen.push(raw.reset(r1));
            wrapped.reset(r2);
        }
    }
    // Two-pass mean and population variance of everything seen.
    let n = seen.len() as f64;
    let mean = seen.iter().fold(Array1::<f64>::zeros(3), |acc, o| acc + o) / n;
    let var = seen.iter().fold(Array1::<f64>::zeros(3), |acc, o| acc + (o - &mean).mapv(|d| d * d)) / n;
    let sd = var.mapv(|v| (v + 1e-8).sqrt());
    let ObsView::Standardized { mean: m, sd: s } = wrapped.view() else { panic!("a standardised view") };
    for i in 0..3 {
        assert!((m[i] - mean[i]).abs() < 1e-12, "mean {i}: {} against {}", m[i], mean[i]);
        assert!((s[i] - sd[i]).abs() < 1e-12, "sd {i}: {} against {}", s[i], sd[i]);
    }
    let view = wrapped.view();
    let o = array![0.3, -0.9, 4.0];
    let expected = (&o - &mean) / &sd;
    let got = view.apply(o.view());
    for i in 0..3 {
        assert!((got[i] - expected[i]).abs() < 1e-12, "component {i}");
    }
    let far = view.apply(array![1e9, -1e9, 0.0].view());
    assert_eq!((far[0], far[1]), (10.0, -10.0), "clipped to ±10 like the wrapper");
    assert_eq!(Pendulum::new().view(), ObsView::Raw);
    assert_eq!(ObsView::Raw.apply(o.view()), o);
}

#[test]
fn evaluations_run_on_schedule_and_leave_training_exactly_as_it_was() {
    for normalize in [false, true] {
        let setup = small_setup(normalize);
        let config = TrainConfig { iters: 6, batch: setup.batch, seed: 4, max_env_steps: None };
        let every_steps = 3 * setup.batch * PENDULUM_MAX_STEPS;
        let mut evaluated = pendulum_policy(4, &setup);
        let log = if normalize {
            train_evaluated(
                NormalizedObservations::new(Pendulum::new()),
                &mut evaluated,
                &mut pendulum_update(4, &setup).unwrap(),
                &config,
                every_steps,
            )
        } else {
            train_evaluated(
                Pendulum::new(),
                &mut evaluated,
                &mut pendulum_update(4, &setup).unwrap(),
                &config,
                every_steps,
            )
        }
        .unwrap();
        let mut plain = pendulum_policy(4, &setup);
        let plain_log = if normalize {
            train(
                &mut NormalizedObservations::new(Pendulum::new()),
                &mut plain,
                &mut pendulum_update(4, &setup).unwrap(),
                &config,
                |_| {},
            )
        } else {
            train(&mut Pendulum::new(), &mut plain, &mut pendulum_update(4, &setup).unwrap(), &config, |_| {})
        }
        .unwrap();
        assert_eq!(evaluated.params(), plain.params(), "evaluation changes no training step");
        let episodes = |l: &TrainLog| l.episodes.iter().map(|e| (e.env_steps, e.ret)).collect::<Vec<_>>();
        assert_eq!(episodes(&log), episodes(&plain_log), "the same training episodes, step for step");
        let steps: Vec<usize> = evaluations(&log).iter().map(|(s, _)| *s).collect();
        assert_eq!(steps, vec![every_steps, 2 * every_steps], "after the 3rd and the 6th batch");
        assert_eq!(log.iterations.last().unwrap().env_steps, 6 * setup.batch * PENDULUM_MAX_STEPS);
    }
}

#[test]
fn the_last_evaluation_is_evaluation_1_of_the_run_with_the_final_policy_and_statistics() {
    let setup = small_setup(true);
    let config = TrainConfig { iters: 4, batch: setup.batch, seed: 9, max_env_steps: None };
    let every_steps = 2 * setup.batch * PENDULUM_MAX_STEPS;
    let mut env = NormalizedObservations::new(Pendulum::new());
    let mut policy = pendulum_policy(9, &setup);
    let mut update = pendulum_update(9, &setup).unwrap();
    // Train the same run by hand to read its final statistics.
    let mut twin = pendulum_policy(9, &setup);
    train(&mut env, &mut twin, &mut pendulum_update(9, &setup).unwrap(), &config, |_| {}).unwrap();
    let log = train_evaluated(
        NormalizedObservations::new(Pendulum::new()),
        &mut policy,
        &mut update,
        &config,
        every_steps,
    )
    .unwrap();
    let last = evaluations(&log).last().unwrap().1;
    assert_eq!(last, evaluate(&twin, &env.view(), 9, 1));
    assert_ne!(last, evaluate(&twin, &env.view(), 9, 0), "each evaluation has its own start states");
}

#[test]
fn an_interval_that_is_not_whole_batches_is_refused_by_name() {
    let setup = small_setup(false);
    let config = TrainConfig { iters: 1, batch: setup.batch, seed: 0, max_env_steps: None };
    for bad in [0, 200, 1000, 401] {
        let err = train_evaluated(
            Pendulum::new(),
            &mut pendulum_policy(0, &setup),
            &mut pendulum_update(0, &setup).unwrap(),
            &config,
            bad,
        )
        .unwrap_err();
        let PgError::InvalidConfig { name, value, .. } = &err else { panic!("{err}") };
        assert_eq!((*name, value.as_str()), ("evaluation interval (steps)", bad.to_string().as_str()));
        assert!(err.to_string().contains("multiple of the batch"), "{err}");
    }
}

fn log_of(evals: &[(usize, Option<f64>)]) -> TrainLog {
    TrainLog {
        iterations: evals
            .iter()
            .enumerate()
            .map(|(iter, &(env_steps, eval))| IterStats {
                iter,
                env_steps,
                mean_return: -1000.0,
                wall_seconds: iter as f64,
                update: UpdateStats {
                    metrics: [("kl", 0.01)].into_iter().chain(eval.map(|e| ("eval", e))).collect(),
                },
            })
            .collect(),
        episodes: Vec::new(),
    }
}

#[test]
fn a_level_is_reached_by_the_mean_of_3_consecutive_evaluations_never_by_one() {
    assert_eq!(SUSTAINED, 3);
    let log = log_of(&[
        (1000, Some(-300.0)),
        (2000, None),
        (3000, Some(-100.0)),
        (4000, Some(-300.0)),
        (5000, Some(-250.0)),
        (6000, Some(-150.0)),
        (7000, Some(-190.0)),
        (8000, Some(-180.0)),
    ]);
    assert_eq!(evaluations(&log).len(), 7, "iterations without an evaluation are skipped");
    // Windows of three, by their last step: 4000 −233.3, 5000 −216.7,
    // 6000 −233.3, 7000 −196.7 (the first ≥ −200), 8000 −173.3.
    assert_eq!(sustained_at(&log, -200.0), Some(7000));
    assert_eq!(sustained_at(&log, -100.0), None, "one evaluation at the level is not enough");
    assert_eq!(sustained_at(&log, -233.0), Some(5000), "-216.7 at the second window");
    assert_eq!(sustained_at(&log_of(&[(1, Some(0.0)), (2, Some(0.0))]), -1.0), None, "fewer than 3");
    let tie = log_of(&[(1, Some(-150.0)), (2, Some(-250.0)), (3, Some(-200.0))]);
    assert_eq!(sustained_at(&tie, -200.0), Some(3), "a mean exactly at the level reaches it");
    assert_eq!(evaluation_at(&log, 999), None);
    assert_eq!(evaluation_at(&log, 1000), Some(-300.0));
    assert_eq!(evaluation_at(&log, 2999), Some(-300.0), "the last at or before the budget");
    assert_eq!(evaluation_at(&log, 4500), Some(-300.0));
    assert_eq!(evaluation_at(&log, 10_000), Some(-180.0));
}
