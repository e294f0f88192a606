//! Chapter 3's entry in the registry builds the baseline of `--baseline`,
//! with the learned value's discount, GAE and network chosen as documented.

use ndarray::Array1;
use pg_baselines::{ALGORITHMS, MeanBaseline, OptimalBaseline, ValueBaseline, ValueFunction};
use pg_core::env::{CartPole, Pendulum};
use pg_core::policy::{Categorical, Gaussian, TabularSoftmax};
use pg_core::rng::substream;
use pg_core::{Batch, Policy};
use pg_likelihood_ratio::Estimator;
use pg_likelihood_ratio::registry::{
    Build, Context, Value, ValueSetting, counted_and_declared, pendulum_probe, probe, probe_gradient,
};

/// Flags given, as (flag, value).
type Flags = Vec<(&'static str, &'static str)>;

/// The learned value baseline as the entry should build it.
fn value(
    obs_dim: usize,
    hidden: &[usize],
    lr: f64,
    steps: usize,
    minibatch: usize,
    seed: u64,
) -> ValueFunction {
    let v = ValueFunction::new(obs_dim, hidden, lr, steps, &mut substream(seed, 2_000)).unwrap();
    v.with_minibatch(minibatch).unwrap()
}

fn settings(flags: &[(&'static str, &str)]) -> Result<Vec<(&'static str, Value)>, String> {
    (ALGORITHMS[0].settings)(&Context::new("mdp", 3, true, 0, flags))
}

#[test]
fn the_entry_builds_the_chosen_tabular_baseline() {
    let (policy, batch) = probe();
    let tabular = |seed| value(3, &[], 0.1, 20, 256, seed);
    let cases: Vec<(Flags, Box<dyn Estimator<TabularSoftmax>>)> = vec![
        (vec![("--baseline", "mean")], Box::new(MeanBaseline { leave_one_out: true })),
        (vec![("--baseline", "optimal")], Box::new(OptimalBaseline { leave_one_out: true })),
        (vec![], Box::new(ValueBaseline::new(tabular(0), 0.99).unwrap())),
        (vec![("--gamma", "0.9")], Box::new(ValueBaseline::new(tabular(0), 0.9).unwrap())),
        (
            vec![("--gae-lambda", "0.8")],
            Box::new(ValueBaseline::new(tabular(0), 0.99).unwrap().with_gae(0.8).unwrap()),
        ),
    ];
    let mut seen = vec![];
    for (flags, direct) in cases {
        let context = Context::new("mdp", 3, true, 0, &flags);
        let gradient = direct.gradient(&policy, &batch);
        assert_eq!(probe_gradient(&ALGORITHMS[0], &context).unwrap().as_ref(), Some(&gradient), "{flags:?}");
        assert!(!seen.contains(&gradient), "{flags:?}: the probe tells the cases apart");
        seen.push(gradient);
    }
    let Build::Estimator(e) = ALGORITHMS[0].build else { panic!("an estimator") };
    let weighs = |b| (e.weighs_steps)(&Context::new("mdp", 3, true, 0, &[("--baseline", b)]));
    assert_eq!((weighs("mean"), weighs("optimal"), weighs("value")), (true, false, true));
}

#[test]
fn the_entry_reports_its_settings_and_refuses_the_value_flags_without_it() {
    let expect = |b: &str, g: Option<f64>, l: Option<f64>| {
        Ok(vec![("baseline", Value::from(b)), ("gamma", Value::from(g)), ("gae_lambda", Value::from(l))])
    };
    assert_eq!(settings(&[]), expect("value", Some(0.99), None));
    assert_eq!(settings(&[("--baseline", "mean")]), expect("mean", None, None));
    assert_eq!(
        settings(&[("--gamma", "0.5"), ("--gae-lambda", "0.7")]),
        expect("value", Some(0.5), Some(0.7))
    );
    for b in ["mean", "optimal"] {
        for flag in ["--gamma", "--gae-lambda"] {
            let refused = settings(&[("--baseline", b), (flag, "0.9")]).unwrap_err();
            assert!(refused.contains(flag) && refused.contains("--baseline value"), "{refused}");
        }
    }
}

#[test]
fn network_baselines_take_the_environments_tuned_value_function_if_it_has_one() {
    // CartPole has none: one hidden layer of 32, γ = 0.99.
    let rng = &mut substream(5, 0);
    let policy = Categorical::mlp(4, &[8], 2, rng);
    let batch = Batch::sample(&mut CartPole::new(), &policy, 2, rng);
    let context = Context::new("cartpole", 4, false, 3, &[]);
    let Build::Estimator(e) = ALGORITHMS[0].build else { panic!("an estimator") };
    let direct = ValueBaseline::new(value(4, &[32], 0.01, 10, 256, 3), 0.99).unwrap();
    assert_eq!(
        (e.categorical)(&context).unwrap().gradient(&policy, &batch),
        direct.gradient(&policy, &batch)
    );
    // A tuned one brings its network, step size, steps, minibatch, γ and GAE's λ.
    let tuned =
        ValueSetting { hidden: vec![6, 5], lr: 0.02, steps: 3, minibatch: 64, gamma: 0.8, lambda: 0.7 };
    let context = Context { value: Some(tuned), ..Context::new("pendulum", 3, false, 3, &[]) };
    let policy = Gaussian::mlp(3, &[8], 1, -0.5, rng);
    let batch = Batch::sample(&mut Pendulum::new(), &policy, 1, rng);
    let direct = ValueBaseline::new(value(3, &[6, 5], 0.02, 3, 64, 3), 0.8).unwrap().with_gae(0.7).unwrap();
    let built = (e.gaussian)(&context).unwrap().gradient(&policy, &batch);
    assert_eq!(built, direct.gradient(&policy, &batch));
    assert!(built.iter().all(|g| g.is_finite()) && built != Array1::<f64>::zeros(policy.num_params()));
}

#[test]
fn the_entry_declares_the_work_of_each_baselines_gradient_and_fit() {
    let tuned =
        ValueSetting { hidden: vec![6, 5], lr: 0.02, steps: 3, minibatch: 64, gamma: 0.8, lambda: 0.7 };
    let (policy, batch, params) = pendulum_probe();
    let Build::Estimator(e) = ALGORITHMS[0].build else { panic!("an estimator") };
    for baseline in ["mean", "optimal", "value"] {
        let flags = [("--baseline", baseline)];
        let context = Context { value: Some(tuned.clone()), ..Context::new("pendulum", 3, false, 3, &flags) };
        let work = (e.work)(&context).unwrap();
        let mut estimator = (e.gaussian)(&context).unwrap();
        let (counted, declared) = counted_and_declared(estimator.as_mut(), &work, &policy, &batch, params);
        // Exactly: every pass the gradient and the fit make is declared, and no more.
        assert_eq!(counted, declared, "--baseline {baseline}");
    }
}
