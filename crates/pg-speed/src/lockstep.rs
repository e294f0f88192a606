//! Lockstep rollouts: a group of environments advanced together, with one
//! batched policy pass per step over every episode still running, writing
//! into buffers that are reused from batch to batch.

use crate::CartPoles;
use ndarray::{Array1, ArrayView2};
use pg_core::math::{exp, ln};
use pg_core::policy::{Categorical, MlpBatch};
use pg_core::{PgRng, Policy, StepEnd, Trajectory};
use rand::RngExt;

/// CartPole's observation width.
const OBS: usize = 4;

/// How much a batch holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    /// Whole episodes, started until the batch has at least this many steps.
    Steps(usize),
    /// Exactly this many episodes.
    Episodes(usize),
}

impl Quota {
    /// The share of group `j` of `groups`: the quota split as evenly as
    /// possible, the first groups taking one more where it does not divide.
    pub fn share(self, j: usize, groups: usize) -> Quota {
        let split = |n: usize| n / groups + usize::from(j < n % groups);
        match self {
            Quota::Steps(n) => Quota::Steps(split(n)),
            Quota::Episodes(n) => Quota::Episodes(split(n)),
        }
    }

    /// Whether a group that has started `episodes` episodes and recorded
    /// `steps` steps starts another.
    fn starts_another(self, episodes: usize, steps: usize) -> bool {
        match self {
            Quota::Steps(n) => steps < n,
            Quota::Episodes(n) => episodes < n,
        }
    }
}

/// How every step of an episode is weighted in the gradient.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Weighting {
    /// Chapter 1: the whole return r(τ) on every step.
    Return,
    /// Chapter 2: the reward-to-go Σₜ′≥ₜ γ^(t′−t) rₜ′.
    RewardToGo(f64),
}

/// One episode of a group's batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpisodeRecord {
    /// Its number of steps T.
    pub len: usize,
    /// Its undiscounted return.
    pub ret: f64,
    /// How it ended.
    pub end: StepEnd,
    /// The observation after its last step.
    pub last_obs: [f64; OBS],
}

/// A group of environments stepped together, and the batch they sampled.
/// Rows are stored time-major: the rows of every running episode at one
/// step, then those of the next step, so the rows of one pass are adjacent.
#[derive(Debug, Clone)]
pub struct Group {
    envs: CartPoles,
    rng: PgRng,
    /// The environments with an episode running, in environment order.
    running: Vec<usize>,
    /// Each environment's current episode (an index into `episodes`).
    current: Vec<usize>,
    /// The observations of one step's running episodes.
    x: Vec<f64>,
    actions: Vec<usize>,
    log_probs: Vec<f64>,
    /// πθ(·|sₘ) of every row, n_actions per row.
    probs: Vec<f64>,
    rewards: Vec<f64>,
    /// The episode each row belongs to.
    episode_of: Vec<usize>,
    episodes: Vec<EpisodeRecord>,
    weights: Vec<f64>,
    acc: Vec<f64>,
    grad_logits: Vec<f64>,
    /// The policy's weights, input-major, for the per-step passes.
    transposed: Vec<f64>,
    /// Every row's observation and activations, layer by layer: the forward
    /// passes of the rollout, kept for the backward pass of the gradient.
    work: MlpBatch,
}

impl Group {
    /// `envs` environments driven by `rng` (resets and actions).
    pub fn new(envs: usize, rng: PgRng) -> Self {
        Self {
            envs: CartPoles::new(envs),
            rng,
            running: Vec::with_capacity(envs),
            current: vec![0; envs],
            x: vec![],
            actions: vec![],
            log_probs: vec![],
            probs: vec![],
            rewards: vec![],
            episode_of: vec![],
            episodes: vec![],
            weights: vec![],
            acc: vec![],
            grad_logits: vec![],
            transposed: vec![],
            work: MlpBatch::default(),
        }
    }

    fn start(&mut self, env: usize) {
        self.envs.reset(env, &mut self.rng);
        self.current[env] = self.episodes.len();
        let record = EpisodeRecord { len: 0, ret: 0.0, end: StepEnd::default(), last_obs: [0.0; OBS] };
        self.episodes.push(record);
    }

    // ANCHOR: lockstep
    /// Samples a new batch of `quota` with `policy`, replacing the last one.
    /// Every step: write the running episodes' observations as new rows, one
    /// forward pass over those rows, one action per row, one step per
    /// environment; an environment whose episode ends starts another while
    /// the quota asks for more.
    pub fn sample(&mut self, policy: &Categorical, quota: Quota) {
        self.log_probs.clear();
        self.probs.clear();
        self.rewards.clear();
        self.work.clear();
        self.actions.clear();
        self.episode_of.clear();
        self.episodes.clear();
        self.running.clear();
        for env in 0..self.envs.len() {
            if quota.starts_another(self.episodes.len(), 0) {
                self.start(env);
                self.running.push(env);
            }
        }
        let params = policy.params().as_slice().expect("contiguous parameters");
        let n_actions = policy.net().output();
        policy.net().transpose_weights(params, &mut self.transposed);
        while !self.running.is_empty() {
            let (first, n) = (self.actions.len(), self.running.len());
            self.x.resize(n * OBS, 0.0);
            for (k, &env) in self.running.iter().enumerate() {
                self.envs.observe(env, &mut self.x[k * OBS..(k + 1) * OBS]);
            }
            let rows = ArrayView2::from_shape((n, OBS), &self.x[..n * OBS]).expect("rows of observations");
            policy.net().forward_append_few(&self.transposed, rows, &mut self.work);
            let logits = self.work.output().to_slice().expect("rows are contiguous");
            self.probs.resize((first + n) * n_actions, 0.0);
            let new = first * n_actions..;
            for (z, p) in
                logits[new.clone()].chunks_exact(n_actions).zip(self.probs[new].chunks_exact_mut(n_actions))
            {
                let (action, log_prob) = draw(z, p, self.rng.random::<f64>());
                self.actions.push(action);
                self.log_probs.push(log_prob);
            }
            let mut kept = 0;
            for k in 0..n {
                let env = self.running[k];
                let (reward, end) = self.envs.step(env, self.actions[first + k]);
                let episode = self.current[env];
                self.rewards.push(reward);
                self.episode_of.push(episode);
                let record = &mut self.episodes[episode];
                record.len += 1;
                record.ret += reward;
                if end.terminated || end.truncated {
                    record.end = end;
                    self.envs.observe(env, &mut record.last_obs);
                    if !quota.starts_another(self.episodes.len(), self.actions.len()) {
                        continue;
                    }
                    self.start(env);
                }
                self.running[kept] = env;
                kept += 1;
            }
            self.running.truncate(kept);
        }
    }
    // ANCHOR_END: lockstep

    /// The number of steps (rows) in the batch.
    pub fn num_steps(&self) -> usize {
        self.actions.len()
    }

    /// The batch's episodes, in the order they started.
    pub fn episodes(&self) -> &[EpisodeRecord] {
        &self.episodes
    }

    /// log π(aₘ|sₘ) of every row under the policy that sampled it.
    pub fn log_probs(&self) -> &[f64] {
        &self.log_probs
    }

    /// The weight of every row, from the last [`Group::weigh`].
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    // ANCHOR: weigh
    /// Weighs every row: one backward sweep over the rows keeps a running
    /// discounted sum per episode, the reward-to-go Q̂ₜ = rₜ + γ Q̂ₜ₊₁, so it needs no episode
    /// to be stored contiguously.
    pub fn weigh(&mut self, weighting: Weighting) {
        self.weights.resize(self.rewards.len(), 0.0);
        match weighting {
            Weighting::Return => {
                for (w, &e) in self.weights.iter_mut().zip(&self.episode_of) {
                    *w = self.episodes[e].ret;
                }
            }
            Weighting::RewardToGo(gamma) => {
                self.acc.clear();
                self.acc.resize(self.episodes.len(), 0.0);
                for m in (0..self.rewards.len()).rev() {
                    let g = &mut self.acc[self.episode_of[m]];
                    *g = self.rewards[m] + gamma * *g;
                    self.weights[m] = *g;
                }
            }
        }
    }
    // ANCHOR_END: weigh

    /// Replaces every weight w by (w − mean) / (sd + 10⁻⁸).
    pub fn standardize(&mut self, mean: f64, sd: f64) {
        self.weights.iter_mut().for_each(|w| *w = (*w - mean) / (sd + 1e-8));
    }

    // ANCHOR: gradient
    /// Adds ∇θ L of chapter 4's surrogate over this group's rows to `grad`,
    /// with N = `trajectories`, and returns L. The rollout's forward passes
    /// are reused: the logits' gradient (wₘ/N)(πθ(·|sₘ) − onehot(aₘ)) comes
    /// from the probabilities recorded while sampling, and only the backward
    /// pass runs.
    pub fn add_surrogate_gradient(
        &mut self,
        policy: &Categorical,
        trajectories: usize,
        grad: &mut Array1<f64>,
    ) -> f64 {
        let n = trajectories as f64;
        let (rows, n_actions) = (self.actions.len(), policy.net().output());
        self.grad_logits.clear();
        self.grad_logits
            .extend(self.probs.iter().enumerate().map(|(i, p)| self.weights[i / n_actions] * p / n));
        let mut loss = 0.0;
        for (m, (&a, &w)) in self.actions.iter().zip(&self.weights).enumerate() {
            loss -= w * self.log_probs[m] / n;
            self.grad_logits[m * n_actions + a] -= w / n;
        }
        let grad_out =
            ArrayView2::from_shape((rows, n_actions), &self.grad_logits).expect("one row per step");
        let params = policy.params().as_slice().expect("contiguous parameters");
        policy.net().backward_batch(
            params,
            &mut self.work,
            grad_out,
            grad.as_slice_mut().expect("contiguous"),
        );
        loss
    }
    // ANCHOR_END: gradient

    /// The batch as trajectories, in the order they started (for comparing
    /// with the one-episode-at-a-time code of the earlier chapters).
    pub fn trajectories(&self) -> Vec<Trajectory<usize>> {
        let mut rows: Vec<Vec<usize>> = vec![vec![]; self.episodes.len()];
        for (m, &e) in self.episode_of.iter().enumerate() {
            rows[e].push(m);
        }
        let obs = self.work.input();
        let row_obs = |m: usize| obs.row(m).to_owned();
        rows.iter()
            .zip(&self.episodes)
            .map(|(rows, record)| {
                let mut traj = Trajectory::start(row_obs(rows[0]));
                for (i, &m) in rows.iter().enumerate() {
                    let (next, end) = match rows.get(i + 1) {
                        Some(&next) => (row_obs(next), StepEnd::default()),
                        None => (Array1::from(record.last_obs.to_vec()), record.end),
                    };
                    traj.push(self.actions[m], self.log_probs[m], self.rewards[m], next, end);
                }
                traj
            })
            .collect()
    }
}

/// Draws a ∼ softmax(ℓ) from the logits ℓ = `z` by inversion of a uniform
/// `fraction` in [0, 1): action i owns the share [Σ_{j<i} πⱼ, Σ_{j≤i} πⱼ).
/// Writes πθ(·|s) into `probs` and returns a with log πθ(a|s): one
/// exponential per action and one logarithm.
fn draw(z: &[f64], probs: &mut [f64], fraction: f64) -> (usize, f64) {
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for (p, zi) in probs.iter_mut().zip(z) {
        *p = exp(zi - max);
        sum += *p;
    }
    let u = fraction * sum;
    let mut acc = 0.0;
    let mut action = z.len() - 1;
    for (i, p) in probs.iter().enumerate() {
        acc += p;
        if u < acc {
            action = i;
            break;
        }
    }
    probs.iter_mut().for_each(|p| *p /= sum);
    // A fraction just below 1 can round u up to the sum, past every share:
    // the last action keeps it.
    (action, z[action] - max - ln(sum))
}

#[cfg(test)]
mod tests {
    use super::{Quota, draw};

    /// Evenly spaced fractions (k + ½)/M land in each action's share in
    /// proportion to its probability, to within one fraction: an exact check
    /// of the inversion, no sampling error. Shares are half-open, and a
    /// fraction that rounds up to the sum goes to the last action.
    #[test]
    fn inversion_gives_each_action_its_probability() {
        let z = [0.3, -1.2, 0.8, 0.0];
        let m = 100_000;
        let mut counts = [0usize; 4];
        let mut probs = [0.0; 4];
        for k in 0..m {
            let (a, log_prob) = draw(&z, &mut probs, (k as f64 + 0.5) / m as f64);
            counts[a] += 1;
            assert!((log_prob - probs[a].ln()).abs() < 1e-12);
        }
        let total: f64 = z.iter().map(|l: &f64| l.exp()).sum();
        for (i, c) in counts.iter().enumerate() {
            let p = z[i].exp() / total;
            assert!((probs[i] - p).abs() < 1e-15);
            assert!((*c as f64 / m as f64 - p).abs() <= 1.0 / m as f64, "action {i}: {c} of {m}, π = {p}");
        }
        // Two equal logits: the first owns [0, ½), so ½ itself is the second's.
        assert_eq!(draw(&[0.0, 0.0], &mut [0.0; 2], 0.5).0, 1);
        assert_eq!(draw(&[0.0, 0.0], &mut [0.0; 2], 0.0).0, 0);
        // The fraction 1 (u equal to the sum) falls past every share.
        assert_eq!(draw(&z, &mut probs, 1.0).0, 3);
    }

    #[test]
    fn a_quota_starts_another_episode_only_while_it_is_short() {
        assert!(Quota::Steps(10).starts_another(7, 9));
        assert!(!Quota::Steps(10).starts_another(0, 10));
        assert!(Quota::Episodes(3).starts_another(2, 1000));
        assert!(!Quota::Episodes(3).starts_another(3, 0));
    }
}
