//! The environments' names, sizes, thresholds and the constants tables the
//! book prints, and how episodes start and end.

use ndarray::array;
use pg_core::env::{CartPole, Env, Pendulum, Stay, TabularMdp};
use pg_core::rollout::mean_episode_return;
use pg_core::{Batch, StepEnd, Trajectory, seeded};

fn table(rows: Vec<(&'static str, String)>) -> Vec<(String, String)> {
    rows.into_iter().map(|(what, value)| (what.to_string(), value)).collect()
}

fn expect(rows: &[(&str, &str)]) -> Vec<(String, String)> {
    rows.iter().map(|(w, v)| (w.to_string(), v.to_string())).collect()
}

#[test]
fn each_environment_has_its_name_size_and_threshold() {
    let mut rng = seeded(0);
    let (mut cartpole, mut pendulum, mut stay, mut mdp) =
        (CartPole::new(), Pendulum::new(), Stay::new(), TabularMdp::three_state());
    assert_eq!((cartpole.name(), cartpole.obs_dim(), cartpole.reset(&mut rng).len()), ("cartpole", 4, 4));
    assert_eq!((pendulum.name(), pendulum.obs_dim(), pendulum.reset(&mut rng).len()), ("pendulum", 3, 3));
    assert_eq!((stay.name(), stay.obs_dim(), stay.reset(&mut rng).len()), ("stay", 1, 1));
    assert_eq!((mdp.name(), mdp.obs_dim(), mdp.reset(&mut rng).len()), ("mdp", 3, 3));
    assert_eq!(mdp.one_hot(1), array![0.0, 1.0, 0.0]);
    assert_eq!(mdp.one_hot(2), array![0.0, 0.0, 1.0]);
    assert_eq!(cartpole.solved_threshold(), Some(475.0));
    assert_eq!(
        (pendulum.solved_threshold(), stay.solved_threshold(), mdp.solved_threshold()),
        (None, None, None)
    );
}

/// The book's tables of constants state Gymnasium's CartPole-v1 and
/// Pendulum-v1 values (the parity tests check the dynamics that use them).
#[test]
fn the_constants_tables_state_gymnasiums_values() {
    assert_eq!(
        table(CartPole::constants()),
        expect(&[
            ("gravity", "9.8 m/s²"),
            ("mass of the cart", "1 kg"),
            ("mass of the pole", "0.1 kg"),
            ("half the pole's length", "0.5 m"),
            ("force of a push (action 0 left, 1 right)", "10 N"),
            ("time step of the explicit Euler integrator", "0.02 s"),
            ("start state: each of the four variables uniform in", "±0.05"),
            ("terminates when the cart leaves", "±2.4 m"),
            ("terminates when the pole leans more than", "12°"),
            ("reward on every step, the terminating one included", "1"),
            ("time limit (a truncation)", "500 steps"),
            ("solved at a mean return of", "475"),
        ])
    );
    assert_eq!(
        table(Pendulum::constants()),
        expect(&[
            ("gravity", "10 m/s²"),
            ("mass", "1 kg"),
            ("length", "1 m"),
            ("time step of the semi-implicit Euler update", "0.05 s"),
            ("torque: actions are clipped to", "±2 N·m"),
            ("angular velocity clipped to", "±8 rad/s"),
            ("start: angle uniform in ±π, angular velocity uniform in", "±1 rad/s"),
            (
                "reward before the step, with the angle wrapped into [−π, π)",
                "−(angle² + 0.1·velocity² + 0.001·torque²)"
            ),
            ("time limit (a truncation; it never terminates)", "200 steps"),
        ])
    );
}

/// A reset starts the time limit's count again: after an episode cut at
/// three steps, the next one also lasts three.
#[test]
fn a_reset_restarts_the_time_limit() {
    let mut rng = seeded(1);
    let mut env = Stay::with_limit(3);
    for _ in 0..3 {
        assert_eq!(env.reset(&mut rng), array![1.0]);
        let ends: Vec<bool> = (0..3).map(|_| env.step(&1, &mut rng).truncated).collect();
        assert_eq!(ends, [false, false, true]);
    }
}

/// `mean_episode_return` plays whole episodes to their end, termination or
/// truncation: staying in the stay MDP is cut by the limit (return 5 each),
/// leaving at once terminates with return 0, and alternating gives 1 then 0.
#[test]
fn the_mean_episode_return_plays_each_episode_to_its_end() {
    let mut rng = seeded(2);
    let mut env = Stay::with_limit(5);
    assert_eq!(mean_episode_return(&mut env, 4, &mut rng, |_, _| 1), 5.0);
    assert_eq!(mean_episode_return(&mut env, 4, &mut rng, |_, _| 0), 0.0);
    let mut k = 0;
    let alternate = mean_episode_return(&mut env, 2, &mut rng, |_, _| {
        k += 1;
        k % 2
    });
    // Episode 1: stay (1), leave (0, terminated); episode 2 the same.
    assert_eq!(alternate, 1.0);
    // CartPole pushed always right: every episode terminates within 20 steps.
    let mut cartpole = CartPole::new();
    let right = mean_episode_return(&mut cartpole, 3, &mut rng, |_, _| 1);
    assert!((5.0..20.0).contains(&right), "{right}");
}

#[test]
fn a_batch_knows_its_size_steps_and_mean_return() {
    let end = |done: bool| StepEnd { terminated: done, truncated: false };
    let mut long = Trajectory::start(array![0.0]);
    for (k, r) in [1.0, 2.0, 3.0].into_iter().enumerate() {
        long.push(0usize, 0.0, r, array![0.0], end(k == 2));
    }
    let mut short = Trajectory::start(array![0.0]);
    short.push(1usize, 0.0, -5.0, array![0.0], end(true));
    let batch = Batch { trajectories: vec![long, short] };
    assert_eq!((batch.len(), batch.num_steps(), batch.is_empty()), (2, 4, false));
    assert_eq!(batch.returns(), vec![6.0, -5.0]);
    // 1 + 0.5·2 + 0.25·3.
    assert_eq!(batch.trajectories[0].discounted_return(0.5), 2.75);
    assert_eq!((batch.trajectories[0].len(), batch.trajectories[0].is_empty()), (3, false));
    assert!(Trajectory::<usize>::start(array![0.0]).is_empty());
    assert_eq!(batch.mean_return(), 0.5);
    assert!(Batch::<usize> { trajectories: vec![] }.is_empty());
}

/// The horizon ends an episode as a truncation unless the MDP is built with
/// `horizon_terminates`, and the MDP says which.
#[test]
fn the_horizon_truncates_unless_it_is_made_terminal() {
    let mut rng = seeded(3);
    for (mdp, terminal) in
        [(TabularMdp::three_state(), false), (TabularMdp::three_state().horizon_terminates(), true)]
    {
        assert_eq!(mdp.horizon_is_terminal(), terminal);
        // Always the safe action from state 0 or 1: never the terminal state, so the horizon ends it.
        let mut env = mdp.without_termination();
        env.reset(&mut rng);
        let last = (0..4).map(|_| env.step(&0, &mut rng)).last().unwrap();
        assert_eq!((last.terminated, last.truncated), (terminal, !terminal));
    }
}

/// CartPole's episode is over once it terminates or reaches its time limit:
/// a further step without a reset is a programming error and panics, in
/// both cases.
#[test]
fn cartpole_refuses_a_step_after_the_episode_ended() {
    let step_after = |setup: &dyn Fn(&mut CartPole)| {
        let mut env = CartPole::new();
        setup(&mut env);
        let mut rng = seeded(5);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            env.step(&1, &mut rng);
        }))
        .is_err()
    };
    // Leaning past the threshold: the next step terminates, the one after panics.
    assert!(step_after(&|env: &mut CartPole| {
        env.set_state([0.0, 0.0, 0.3, 0.0], 0);
        assert!(env.step(&1, &mut seeded(6)).terminated);
    }));
    // Upright at step 499 of 500: the next step truncates, the one after panics.
    assert!(step_after(&|env: &mut CartPole| {
        env.set_state([0.0; 4], 499);
        assert!(env.step(&1, &mut seeded(6)).truncated);
    }));
    // A step within the episode does not.
    assert!(!step_after(&|env: &mut CartPole| {
        env.reset(&mut seeded(4));
    }));
}

/// Pendulum's cost wraps the angle as Gymnasium's `angle_normalize` does,
/// `((θ + π) % (2π)) − π` with Python's `%`: the C remainder (`fmod`, which
/// is exact), moved into the divisor's sign. With no speed and no torque the
/// reward is −(wrapped θ)², and it must agree to the bit at angles over many
/// turns either way (an equivalent-looking `θ − π` rounds differently).
#[test]
fn pendulum_wraps_the_angle_like_pythons_remainder() {
    use std::f64::consts::PI;
    let python_mod = |a: f64, b: f64| {
        let r = a % b;
        if r != 0.0 && (r < 0.0) != (b < 0.0) { r + b } else { r }
    };
    for k in -2000..=2000 {
        let th = k as f64 * 0.0173;
        let wrapped = python_mod(th + PI, 2.0 * PI) - PI;
        assert!((-PI..PI).contains(&wrapped), "{th} wraps to {wrapped}");
        let (_, reward) = Pendulum::dynamics([th, 0.0], 0.0);
        assert_eq!(reward.to_bits(), (-(wrapped * wrapped)).to_bits(), "θ = {th}");
    }
}
