//! Trajectories, batches and sampling.

use crate::env::Env;
use crate::policy::Policy;
use crate::rng::PgRng;
use ndarray::{Array1, ArrayView1};

/// One episode: s₀, a₀, r₀, s₁, …, s_T, with the way it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory<A> {
    /// `T + 1` observations: the state before each action, then the final one.
    pub obs: Vec<Array1<f64>>,
    /// `T` actions.
    pub actions: Vec<A>,
    /// `T` rewards, `rewards[t]` = r(sₜ, aₜ).
    pub rewards: Vec<f64>,
    /// `T` log-probabilities log π(aₜ|sₜ) under the policy that chose the
    /// actions (the behaviour policy), recorded when sampling, so that a later
    /// policy can weigh these samples by its probability ratio.
    pub log_probs: Vec<f64>,
    /// Ended in a terminal state (no reward follows).
    pub terminated: bool,
    /// Cut by a time limit (reward would have followed).
    pub truncated: bool,
}

impl<A> Trajectory<A> {
    /// An empty trajectory at its first observation.
    pub fn start(obs: Array1<f64>) -> Self {
        Self {
            obs: vec![obs],
            actions: vec![],
            rewards: vec![],
            log_probs: vec![],
            terminated: false,
            truncated: false,
        }
    }

    /// Appends one step: the action taken, its log-probability under the
    /// behaviour policy, the reward, the next observation and how it ended.
    pub fn push(&mut self, action: A, log_prob: f64, reward: f64, next: Array1<f64>, end: StepEnd) {
        self.actions.push(action);
        self.log_probs.push(log_prob);
        self.rewards.push(reward);
        self.obs.push(next);
        self.terminated = end.terminated;
        self.truncated = end.truncated;
    }

    /// The number of steps T.
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

    /// sₜ for `t < T`, paired with aₜ.
    pub fn steps(&self) -> impl Iterator<Item = (ArrayView1<'_, f64>, &A)> {
        self.obs.iter().zip(&self.actions).map(|(o, a)| (o.view(), a))
    }

    /// The undiscounted return r(τ) = Σₜ rₜ.
    pub fn total_reward(&self) -> f64 {
        self.rewards.iter().sum()
    }

    /// The discounted return Σₜ γᵗ rₜ.
    pub fn discounted_return(&self, gamma: f64) -> f64 {
        discounted_sum(&self.rewards, gamma)
    }
}

/// How a step ended: in a terminal state, at a time limit, both or neither.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepEnd {
    /// A terminal state was reached: no reward follows.
    pub terminated: bool,
    /// A time limit cut the episode: reward would have followed.
    pub truncated: bool,
}

/// Σₜ γᵗ xₜ.
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
        let (action, log_prob) = policy.sample_with_log_prob(obs.view(), rng);
        let step = env.step(&action, rng);
        let end = StepEnd { terminated: step.terminated, truncated: step.truncated };
        traj.push(action, log_prob, step.reward, step.obs, end);
    }
    traj
}

/// The mean undiscounted return of `episodes` episodes in which `act` picks
/// every action from the observation (a fixed rule, a random one, or a
/// policy's mean action), with `rng` driving resets, `act` and the dynamics
/// in that order.
pub fn mean_episode_return<E: Env>(
    env: &mut E,
    episodes: usize,
    rng: &mut PgRng,
    mut act: impl FnMut(ArrayView1<'_, f64>, &mut PgRng) -> E::Action,
) -> f64 {
    let mut total = 0.0;
    for _ in 0..episodes {
        let mut obs = env.reset(rng);
        loop {
            let action = act(obs.view(), rng);
            let step = env.step(&action, rng);
            total += step.reward;
            obs = step.obs;
            if step.terminated || step.truncated {
                break;
            }
        }
    }
    total / episodes as f64
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

    /// The number of episodes N.
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
