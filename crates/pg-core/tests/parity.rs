//! CartPole and Pendulum against golden transitions recorded from Gymnasium
//! (`scripts/gen_gym_fixtures.py`). Single steps from recorded states, so
//! rounding cannot accumulate: agreement is required to 1e-12 relative.

use pg_core::env::{CartPole, Env, Pendulum};
use pg_core::seeded;

fn rows(csv: &str) -> Vec<Vec<f64>> {
    csv.lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().expect("fixture holds numbers")).collect())
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * 1f64.max(a.abs())
}

#[test]
fn cartpole_matches_gymnasium_transitions() {
    let data = rows(include_str!("../fixtures/cartpole.csv"));
    assert!(data.len() >= 1000);
    let mut terminated_seen = 0;
    for r in &data {
        let mut env = CartPole::new();
        env.set_state([r[0], r[1], r[2], r[3]], 0);
        let step = env.step(&(r[4] as usize), &mut seeded(0));
        let next = env.state();
        for k in 0..4 {
            assert!(
                close(next[k], r[5 + k]),
                "state {k}: {} vs gymnasium {} in row {r:?}",
                next[k],
                r[5 + k]
            );
            assert_eq!(step.obs[k], r[5 + k] as f32 as f64, "observations are float32 like gymnasium's");
        }
        assert_eq!(step.reward, r[9]);
        assert_eq!(step.terminated, r[10] == 1.0, "termination in row {r:?}");
        terminated_seen += usize::from(step.terminated);
    }
    assert!(terminated_seen > 50, "the fixture exercises termination ({terminated_seen} rows)");
}

#[test]
fn pendulum_matches_gymnasium_transitions() {
    let data = rows(include_str!("../fixtures/pendulum.csv"));
    assert!(data.len() >= 1000);
    for r in &data {
        let mut env = Pendulum::new();
        env.set_state([r[0], r[1]], 0);
        let step = env.step(&ndarray::array![r[2]], &mut seeded(0));
        let next = env.state();
        assert!(close(next[0], r[3]) && close(next[1], r[4]), "state {next:?} vs {r:?}");
        assert!(close(step.reward, r[5]), "reward {} vs {}", step.reward, r[5]);
        for k in 0..3 {
            assert!((step.obs[k] - r[6 + k]).abs() <= 1e-6, "obs {k}: {} vs {}", step.obs[k], r[6 + k]);
        }
        assert!(!step.terminated && !step.truncated);
    }
}

#[test]
fn time_limits_truncate_like_gymnasium() {
    let mut rng = seeded(1);
    let mut pole = CartPole::new();
    pole.reset(&mut rng);
    pole.set_state([0.0; 4], 499);
    let last = pole.step(&1, &mut rng);
    assert!(last.truncated && !last.terminated && last.reward == 1.0);

    let mut pend = Pendulum::new();
    pend.reset(&mut rng);
    let steps: Vec<_> = (0..200).map(|_| pend.step(&ndarray::array![0.0], &mut rng)).collect();
    assert!(steps[..199].iter().all(|s| !s.truncated) && steps[199].truncated);
}

#[test]
fn terminating_step_still_pays_reward() {
    let mut env = CartPole::new();
    env.set_state([2.4, 5.0, 0.0, 0.0], 0);
    let s = env.step(&1, &mut seeded(0));
    assert!(s.terminated && s.reward == 1.0);
}

#[test]
fn cartpole_reset_draws_small_start_states() {
    let mut env = CartPole::new();
    let mut rng = seeded(3);
    for _ in 0..200 {
        let obs = env.reset(&mut rng);
        assert!(obs.iter().all(|v| v.abs() <= 0.05));
    }
}
