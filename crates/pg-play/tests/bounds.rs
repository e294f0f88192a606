//! The memory estimate's assumptions about episode lengths.

use pg_core::Env;
use pg_core::env::CartPole;
use pg_core::rng::seeded;
use pg_play::bounds::CARTPOLE_MIN_STEPS;
use rand::RngExt;

/// A policy of the test: the action at step t.
type Pick = dyn Fn(usize, &mut pg_core::PgRng) -> usize;

/// Steps of one CartPole episode under `policy` (given the step index).
fn episode(seed: u64, policy: &Pick) -> usize {
    let rng = &mut seeded(seed);
    let mut env = CartPole::new();
    env.reset(rng);
    for t in 0.. {
        let action = policy(t, rng);
        let step = env.step(&action, rng);
        if step.terminated || step.truncated {
            return t + 1;
        }
    }
    unreachable!()
}

/// The estimate counts at most one episode per CARTPOLE_MIN_STEPS steps.
/// The quickest falls come from pushing one way all along (the pole tips
/// the other way); none of 2,000 starts of each extreme policy, nor of a
/// random one, ends sooner.
#[test]
fn no_cartpole_episode_is_shorter_than_the_estimate_assumes() {
    let always_left = |_: usize, _: &mut pg_core::PgRng| 0;
    let always_right = |_: usize, _: &mut pg_core::PgRng| 1;
    let random = |_: usize, rng: &mut pg_core::PgRng| rng.random_range(0..2usize);
    let policies: [&Pick; 3] = [&always_left, &always_right, &random];
    let shortest = policies.iter().flat_map(|p| (0..2_000).map(move |s| episode(s, *p))).min().unwrap();
    assert!(shortest >= CARTPOLE_MIN_STEPS, "an episode of {shortest} steps");
    // The constant is not far below what the dynamics allow.
    assert!(shortest <= 2 * CARTPOLE_MIN_STEPS, "the shortest episode has {shortest} steps");
}
