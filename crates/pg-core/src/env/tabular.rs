//! Small tabular MDPs whose trajectories can be enumerated, so that
//! J(θ) and ∇θ J(θ) are known exactly.

use super::{Env, Step};
use crate::math::exp;
use crate::policy::Policy;
use crate::rng::PgRng;
use crate::rollout::{StepEnd, Trajectory};
use ndarray::Array1;
use rand::RngExt;

mod diagram;

/// One outcome of taking an action: the next state, with its probability.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    /// The probability p(s′|s, a).
    pub prob: f64,
    /// The next state s′.
    pub next: usize,
}

/// A finite MDP with a finite horizon. Observations are one-hot vectors of
/// length `n_states`. Entering a terminal state ends the episode (`terminated`);
/// reaching the horizon cuts it (`truncated`).
#[derive(Debug, Clone)]
pub struct TabularMdp {
    n_actions: usize,
    init: Vec<f64>,
    /// `trans[s][a]`: the possible next states.
    trans: Vec<Vec<Vec<Transition>>>,
    /// `reward[s][a]`.
    reward: Vec<Vec<f64>>,
    terminal: Vec<bool>,
    horizon: usize,
    /// Reaching the horizon counts as a termination rather than a truncation.
    horizon_terminates: bool,
    state: usize,
    steps: usize,
}

impl TabularMdp {
    /// Builds an MDP, checking that every distribution sums to one.
    ///
    /// # Panics
    /// If the tables disagree in size or a distribution does not sum to one
    /// (these are programming errors: the tables are written in code).
    pub fn new(
        init: Vec<f64>,
        trans: Vec<Vec<Vec<Transition>>>,
        reward: Vec<Vec<f64>>,
        terminal: Vec<bool>,
        horizon: usize,
    ) -> Self {
        let n_states = init.len();
        assert!(n_states > 0 && trans.len() == n_states && reward.len() == n_states);
        assert_eq!(terminal.len(), n_states);
        let n_actions = trans[0].len();
        let sums_to_one = |p: f64| (p - 1.0).abs() < 1e-12;
        assert!(sums_to_one(init.iter().sum()));
        for (s, row) in trans.iter().enumerate() {
            assert_eq!(row.len(), n_actions);
            assert_eq!(reward[s].len(), n_actions);
            for outcomes in row {
                assert!(sums_to_one(outcomes.iter().map(|t| t.prob).sum()));
                assert!(outcomes.iter().all(|t| t.next < n_states && t.prob > 0.0));
            }
        }
        Self {
            n_actions,
            init,
            trans,
            reward,
            terminal,
            horizon,
            horizon_terminates: false,
            state: 0,
            steps: 0,
        }
    }

    /// The chapter's running example: three states (the last one terminal),
    /// two actions, stochastic transitions and a horizon of four steps.
    ///
    /// Action 1 ("risky") moves towards the rewarding state 1 but may fall into
    /// the terminal state 2; action 0 ("safe") pays a little now.
    pub fn three_state() -> Self {
        Self::three_state_with_horizon(4)
    }

    /// The running example with another horizon: the same states, actions,
    /// rewards and transitions, episodes cut after `horizon` steps (at least 1).
    pub fn three_state_with_horizon(horizon: usize) -> Self {
        assert!(horizon >= 1, "a horizon of at least one step");
        let t = |prob, next| Transition { prob, next };
        Self::new(
            vec![0.7, 0.3, 0.0],
            vec![
                vec![vec![t(0.9, 0), t(0.1, 1)], vec![t(0.6, 1), t(0.3, 0), t(0.1, 2)]],
                vec![vec![t(0.5, 0), t(0.5, 1)], vec![t(0.8, 1), t(0.2, 2)]],
                vec![vec![t(1.0, 2)], vec![t(1.0, 2)]],
            ],
            vec![vec![0.5, 0.0], vec![0.2, 2.0], vec![0.0, 0.0]],
            vec![false, false, true],
            horizon,
        )
    }

    /// The same MDP with `c` added to every reward.
    pub fn with_reward_offset(mut self, c: f64) -> Self {
        self.reward.iter_mut().flatten().for_each(|r| *r += c);
        self
    }

    /// The same MDP without terminal states: a state that used to end the
    /// episode is now an ordinary (absorbing) one, so every episode lasts
    /// exactly the horizon. Adding c to every reward then adds c·H to every
    /// return and leaves ∇θ J unchanged.
    pub fn without_termination(mut self) -> Self {
        self.terminal.iter_mut().for_each(|t| *t = false);
        self
    }

    /// The same MDP with the horizon as part of the problem: reaching it ends
    /// the episode as a termination (nothing would have followed), not as a
    /// time-limit truncation (rewards would have followed). A value function
    /// then has nothing to bootstrap from at the horizon.
    pub fn horizon_terminates(mut self) -> Self {
        self.horizon_terminates = true;
        self
    }

    /// How a step that enters `next` after `steps` steps ends.
    fn step_end(&self, next: usize, steps: usize) -> StepEnd {
        let at_horizon = steps >= self.horizon;
        StepEnd {
            terminated: self.terminal[next] || (self.horizon_terminates && at_horizon),
            truncated: !self.horizon_terminates && at_horizon,
        }
    }

    /// The number of states.
    pub fn n_states(&self) -> usize {
        self.init.len()
    }

    /// The number of actions.
    pub fn n_actions(&self) -> usize {
        self.n_actions
    }

    /// The horizon (maximum episode length).
    pub fn horizon(&self) -> usize {
        self.horizon
    }

    /// The start distribution p(s₀), one probability per state.
    pub fn initial(&self) -> &[f64] {
        &self.init
    }

    /// The possible next states of taking action `a` in state `s`, with their probabilities.
    pub fn transitions(&self, s: usize, a: usize) -> &[Transition] {
        &self.trans[s][a]
    }

    /// The reward r(s, a) of taking action `a` in state `s`.
    pub fn reward(&self, s: usize, a: usize) -> f64 {
        self.reward[s][a]
    }

    /// Whether entering state `s` ends the episode.
    pub fn is_terminal(&self, s: usize) -> bool {
        self.terminal[s]
    }

    /// Whether reaching the horizon counts as a termination ([`Self::horizon_terminates`]).
    pub fn horizon_is_terminal(&self) -> bool {
        self.horizon_terminates
    }

    /// Starts an episode in state `s` with the clock at zero.
    pub fn set_state(&mut self, s: usize) {
        self.state = s;
        self.steps = 0;
    }

    /// The one-hot observation of state `s`.
    pub fn one_hot(&self, s: usize) -> Array1<f64> {
        let mut o = Array1::zeros(self.n_states());
        o[s] = 1.0;
        o
    }

    /// Every trajectory the policy can produce, with its probability
    /// pθ(τ). The probabilities sum to one.
    pub fn enumerate<P: Policy<Action = usize>>(&self, policy: &P) -> Vec<(f64, Trajectory<usize>)> {
        let mut out = Vec::new();
        for (s0, &p0) in self.init.iter().enumerate() {
            if p0 > 0.0 {
                let start = Trajectory::start(self.one_hot(s0));
                self.expand(policy, s0, p0, start, &mut out);
            }
        }
        out
    }

    fn expand<P: Policy<Action = usize>>(
        &self,
        policy: &P,
        s: usize,
        prob: f64,
        traj: Trajectory<usize>,
        out: &mut Vec<(f64, Trajectory<usize>)>,
    ) {
        let obs = self.one_hot(s);
        for a in 0..self.n_actions {
            let log_pa = policy.log_prob(obs.view(), &a);
            for t in &self.trans[s][a] {
                let mut next = traj.clone();
                let end = self.step_end(t.next, next.len() + 1);
                next.push(a, log_pa, self.reward[s][a], self.one_hot(t.next), end);
                let p = prob * exp(log_pa) * t.prob;
                if end.terminated || end.truncated {
                    out.push((p, next));
                } else {
                    self.expand(policy, t.next, p, next, out);
                }
            }
        }
    }

    /// The exact expectation E_{τ∼pθ}[f(τ)], by enumeration.
    pub fn expectation<P, F>(&self, policy: &P, mut f: F) -> Array1<f64>
    where
        P: Policy<Action = usize>,
        F: FnMut(&Trajectory<usize>) -> Array1<f64>,
    {
        let mut acc: Option<Array1<f64>> = None;
        for (p, traj) in self.enumerate(policy) {
            let v = f(&traj) * p;
            acc = Some(match acc {
                Some(a) => a + v,
                None => v,
            });
        }
        acc.expect("an MDP has at least one trajectory")
    }

    /// The exact objective J(θ) = Σ_τ pθ(τ) r(τ).
    pub fn exact_objective<P: Policy<Action = usize>>(&self, policy: &P) -> f64 {
        self.enumerate(policy).iter().map(|(p, t)| p * t.total_reward()).sum()
    }

    /// The exact gradient
    /// ∇θ J = Σ_τ pθ(τ) ∇θ log pθ(τ) r(τ).
    pub fn exact_gradient<P: Policy<Action = usize>>(&self, policy: &P) -> Array1<f64> {
        self.expectation(policy, |t| policy.score(t) * t.total_reward())
    }
}

fn sample_index(probs: impl IntoIterator<Item = (f64, usize)>, rng: &mut PgRng) -> usize {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    let mut last = 0;
    for (p, i) in probs {
        if p <= 0.0 {
            continue;
        }
        acc += p;
        last = i;
        if u < acc {
            return i;
        }
    }
    last
}

impl Env for TabularMdp {
    type Action = usize;

    fn name(&self) -> &'static str {
        "mdp"
    }

    fn obs_dim(&self) -> usize {
        self.n_states()
    }

    fn reset(&mut self, rng: &mut PgRng) -> Array1<f64> {
        let s = sample_index(self.init.iter().copied().zip(0..), rng);
        self.set_state(s);
        self.one_hot(s)
    }

    fn step(&mut self, action: &usize, rng: &mut PgRng) -> Step {
        let (s, a) = (self.state, *action);
        let next = sample_index(self.trans[s][a].iter().map(|t| (t.prob, t.next)), rng);
        self.state = next;
        self.steps += 1;
        let end = self.step_end(next, self.steps);
        Step {
            obs: self.one_hot(next),
            reward: self.reward[s][a],
            terminated: end.terminated,
            truncated: end.truncated,
        }
    }
}
