//! Trajectories, batches and sampling.

use crate::env::Env;
use crate::policy::Policy;
use crate::rng::PgRng;
use ndarray::{Array1, ArrayView1};

/// One episode: \\(s_0, a_0, r_0, s_1, \dots, s_T\\), with the way it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory<A> {
    /// `T + 1` observations: the state before each action, then the final one.
    pub obs: Vec<Array1<f64>>,
    /// `T` actions.
    pub actions: Vec<A>,
    /// `T` rewards, `rewards[t]` \\(= r(s_t, a_t)\\).
    pub rewards: Vec<f64>,
    /// Ended in a terminal state (no reward follows).
    pub terminated: bool,
    /// Cut by a time limit (reward would have followed).
    pub truncated: bool,
}

impl<A> Trajectory<A> {
    /// An empty trajectory at its first observation.
    pub fn start(obs: Array1<f64>) -> Self {
        Self { obs: vec![obs], actions: vec![], rewards: vec![], terminated: false, truncated: false }
    }

    /// Appends one step.
    pub fn push(&mut self, action: A, reward: f64, next_obs: Array1<f64>, terminated: bool, truncated: bool) {
        self.actions.push(action);
        self.rewards.push(reward);
        self.obs.push(next_obs);
        self.terminated = terminated;
        self.truncated = truncated;
    }

    /// The number of steps \\(T\\).
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// True when no action has been taken.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Whether the episode has ended.
    pub fn is_done(&self) -> bool {
        self.terminated || self.truncated
    }

    /// \\(s_t\\) for `t < T`, paired with \\(a_t\\).
    pub fn steps(&self) -> impl Iterator<Item = (ArrayView1<'_, f64>, &A)> {
        self.obs.iter().zip(&self.actions).map(|(o, a)| (o.view(), a))
    }

    /// The undiscounted return \\(r(\tau) = \sum_t r_t\\).
    pub fn total_reward(&self) -> f64 {
        self.rewards.iter().sum()
    }

    /// The discounted return \\(\sum_t \gamma^t r_t\\).
    pub fn discounted_return(&self, gamma: f64) -> f64 {
        discounted_sum(&self.rewards, gamma)
    }
}

/// \\(\sum_t \gamma^t x_t\\).
pub fn discounted_sum(xs: &[f64], gamma: f64) -> f64 {
    xs.iter().rev().fold(0.0, |acc, &x| x + gamma * acc)
}

/// Runs one episode of `policy` in `env` until it terminates or is truncated.
pub fn rollout<E, P>(env: &mut E, policy: &P, rng: &mut PgRng) -> Trajectory<E::Action>
where
    E: Env,
    P: Policy<Action = E::Action>,
{
    let mut traj = Trajectory::start(env.reset(rng));
    while !traj.is_done() {
        let obs = traj.obs.last().expect("a trajectory has an observation");
        let action = policy.sample(obs.view(), rng);
        let step = env.step(&action, rng);
        traj.push(action, step.reward, step.obs, step.terminated, step.truncated);
    }
    traj
}

/// A batch of whole episodes sampled from one policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch<A> {
    /// The episodes.
    pub trajectories: Vec<Trajectory<A>>,
}

impl<A> Batch<A> {
    /// Samples `n` episodes.
    pub fn sample<E, P>(env: &mut E, policy: &P, n: usize, rng: &mut PgRng) -> Self
    where
        E: Env<Action = A>,
        P: Policy<Action = A>,
        A: Clone,
    {
        Self { trajectories: (0..n).map(|_| rollout(env, policy, rng)).collect() }
    }

    /// The number of episodes \\(N\\).
    pub fn len(&self) -> usize {
        self.trajectories.len()
    }

    /// True for a batch without episodes.
    pub fn is_empty(&self) -> bool {
        self.trajectories.is_empty()
    }

    /// The total number of environment steps.
    pub fn num_steps(&self) -> usize {
        self.trajectories.iter().map(Trajectory::len).sum()
    }

    /// Each episode's undiscounted return.
    pub fn returns(&self) -> Vec<f64> {
        self.trajectories.iter().map(Trajectory::total_reward).collect()
    }

    /// The average undiscounted return.
    pub fn mean_return(&self) -> f64 {
        self.returns().iter().sum::<f64>() / self.len() as f64
    }
}
