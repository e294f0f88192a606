//! Chapter 2's entry in the registry builds the reward-to-go of `--gamma`.

use pg_causality::{ALGORITHMS, RewardToGo};
use pg_likelihood_ratio::Estimator;
use pg_likelihood_ratio::registry::{Build, Context, Value, Weights, one_pass_work, probe, probe_gradient};

#[test]
fn the_entry_builds_the_reward_to_go_of_gamma() {
    let (policy, batch) = probe();
    for (flags, gamma) in [(&[][..], 1.0), (&[("--gamma", "0.9")][..], 0.9), (&[("--gamma", "0")][..], 0.0)] {
        let context = Context::new("mdp", 3, true, 0, flags);
        let direct = RewardToGo::discounted(gamma).unwrap().gradient(&policy, &batch);
        assert_eq!(probe_gradient(&ALGORITHMS[0], &context).unwrap(), Some(direct), "γ = {gamma}");
        assert_eq!((ALGORITHMS[0].settings)(&context), Ok(vec![("gamma", Value::from(gamma))]));
        let Build::Estimator(e) = ALGORITHMS[0].build else { panic!("an estimator") };
        assert_eq!(e.lockstep.map(|w| w(&context)), Some(Ok(Weights::RewardToGo(gamma))));
    }
    // The probe tells the discounts apart.
    let at = |g: &str| probe_gradient(&ALGORITHMS[0], &Context::new("mdp", 3, true, 0, &[("--gamma", g)]));
    assert_ne!(at("0.9"), at("0.99"));
}

#[test]
fn the_entry_declares_the_work_of_its_gradient() {
    // Exactly one pass, forward and backward, over every step.
    let [counted, declared, one_pass] = one_pass_work(&ALGORITHMS[0]).unwrap();
    assert_eq!((counted, declared), (one_pass, one_pass));
}
