//! Chapter 5's entry in the registry builds the estimator of `--estimator`
//! and reuses each batch `--reuse` times.

use pg_importance_sampling::{ALGORITHMS, ESTIMATORS, FirstOrder, PerDecision, TrajectoryRatio};
use pg_likelihood_ratio::Estimator;
use pg_likelihood_ratio::registry::{Build, Context, Value, probe, probe_gradient};

#[test]
fn the_entry_builds_the_chosen_estimator_and_reuse() {
    let (policy, batch) = probe();
    let direct: [(&str, &dyn Estimator<_>); 3] =
        [("trajectory", &TrajectoryRatio), ("per-decision", &PerDecision), ("first-order", &FirstOrder)];
    let names: Vec<&str> = ESTIMATORS.iter().map(|e| e.0).collect();
    assert_eq!(direct.map(|d| d.0).to_vec(), names, "one estimator per value of --estimator");
    let gradients: Vec<_> = direct.iter().map(|(_, e)| e.gradient(&policy, &batch)).collect();
    for (i, j) in [(0, 1), (0, 2), (1, 2)] {
        assert_ne!(gradients[i], gradients[j], "the probe tells {} from {}", direct[i].0, direct[j].0);
    }
    for ((name, _), gradient) in direct.iter().zip(&gradients) {
        let context = Context::new("mdp", 3, true, 0, &[("--estimator", name), ("--reuse", "3")]);
        assert_eq!(probe_gradient(&ALGORITHMS[0], &context).unwrap().as_ref(), Some(gradient), "{name}");
        let settings = (ALGORITHMS[0].settings)(&context).unwrap();
        assert_eq!(settings, vec![("reuse", Value::from(3)), ("estimator", Value::from(*name))]);
    }
    let Build::Estimator(e) = ALGORITHMS[0].build else { panic!("an estimator") };
    let defaults = Context::new("mdp", 3, true, 0, &[]);
    assert_eq!(e.reuse.map(|r| r(&defaults)), Some(Ok(4)), "--reuse 4 unless given");
    assert_eq!(
        probe_gradient(&ALGORITHMS[0], &defaults).unwrap().as_ref(),
        Some(&gradients[1]),
        "per-decision"
    );
    assert!(e.lockstep.is_none(), "chapter 7's sampler has no behaviour policy to reuse");
}

#[test]
fn the_entry_declares_the_work_of_each_estimators_gradient() {
    use pg_likelihood_ratio::registry::{counted_and_declared, pendulum_probe};
    let (policy, batch, params) = pendulum_probe();
    let Build::Estimator(e) = ALGORITHMS[0].build else { panic!("an estimator") };
    for (name, _) in ESTIMATORS {
        let context = Context::new("pendulum", 3, false, 0, &[("--estimator", name)]);
        let work = (e.work)(&context).unwrap();
        let mut estimator = (e.gaussian)(&context).unwrap();
        let (counted, declared) = counted_and_declared(estimator.as_mut(), &work, &policy, &batch, params);
        // Exactly: the ratios' forward pass and the gradient's, and no more.
        assert_eq!(counted, declared, "--estimator {name}");
    }
}
