//! What a run may take, decided before it starts: its peak memory,
//! estimated from its settings and held to a budget (`--memory-budget`, by
//! default half the machine's memory), and the work of one iteration, held
//! to [`MAX_WORK`]. A run over either is refused with the flag to change and
//! the largest (or, for `--minibatch`, smallest) value that fits.
//!
//! The estimate is an upper bound built from measured costs: a batch's steps
//! at their longest (every episode reaching its time limit), the network's
//! parameters times the copies the update keeps, the record of every
//! episode and iteration, and a stack per thread. `tests/bounds.rs` runs
//! the largest settings a budget allows under an operating-system limit of
//! that budget and checks that they complete.

pub use pg_likelihood_ratio::registry::{UpdateWork, ValueFitWork};

/// Memory every run needs besides its batches, network and record: the
/// program, its allocator and the small fixed networks (value functions).
const FIXED_BYTES: f64 = 32.0 * MIB;
/// Bytes per environment step of a batch, besides the activations.
const STEP_BYTES: f64 = 1024.0;
/// Bytes per step and unit of hidden width: a batch's activations and their gradients.
const STEP_WIDTH_BYTES: f64 = 24.0;
/// Bytes kept per recorded episode (its record, and the vector's growth).
const EPISODE_BYTES: f64 = 72.0;
/// Bytes kept per recorded iteration (its metrics, and its row of `--out`).
const ITERATION_BYTES: f64 = 4096.0;
/// Bytes per thread of chapter 7's pool (its stack and allocator arena).
const THREAD_BYTES: f64 = 4.0 * MIB;
/// Multiply-adds one iteration may take, as [`Plan::work`] counts them
/// (fixed costs included): far more than any iteration of the book's runs.
pub const MAX_WORK: f64 = 1e12;
/// Multiply-adds of one Adam step, per parameter (its moments, their
/// corrections and the step).
const ADAM: f64 = 10.0;
/// What a row of a forward pass is assumed to cost besides its parameters'
/// multiply-adds, in multiply-adds: the environment's step, the activation
/// function, the rows' log-probabilities and KL terms, fresh arrays (a
/// backward row counts twice). Set from timings of `pg train` with a linear
/// policy, where it is most of the work; not checked by a test.
const ROW_COST: f64 = 500.0;
/// What an optimiser step is assumed to cost besides its arithmetic per
/// parameter, in multiply-adds: a minibatch's selection and arrays (set
/// from timings of PPO with `--minibatch 1`; not checked by a test).
const STEP_COST: f64 = 10_000.0;

const MIB: f64 = 1024.0 * 1024.0;

/// The shortest episode CartPole can have: its pole starts within 0.05 rad
/// of upright and cannot pass 12° (0.21 rad) sooner under 10 N pushes at
/// 50 steps a second (checked by `tests/bounds.rs` on extreme policies).
pub const CARTPOLE_MIN_STEPS: usize = 8;

/// What a run's footprint depends on, resolved from its flags and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Whether the policy is a table (of `obs_dim` states × `outputs` actions).
    pub tabular: bool,
    /// Observation size and action outputs of the policy's network.
    pub obs_dim: usize,
    pub outputs: usize,
    /// Hidden widths of the policy's network (none for a tabular policy).
    pub hidden: Vec<usize>,
    /// The shortest and the longest episode the environment can have, in steps.
    pub episode_steps: (usize, usize),
    /// Episodes per batch (chapters 1–6's loop).
    pub batch: usize,
    /// Chapter 7's sampler: steps per batch, environments, groups, threads.
    pub lockstep: Option<Lockstep>,
    pub iters: usize,
    pub max_env_steps: Option<usize>,
    /// Parameter-sized vectors the update keeps (gradients, optimiser
    /// moments, old policies, conjugate-gradient vectors, the value function).
    pub copies: usize,
    /// Whether the estimator keeps a gradient per episode (the optimal baseline).
    pub per_episode_gradients: bool,
    /// The update's passes over each batch (`--reuse`, `--epochs` and
    /// `--minibatch` set its epochs and minibatch).
    pub update: UpdateWork,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lockstep {
    pub batch_steps: usize,
    pub envs: usize,
    pub groups: usize,
    pub threads: usize,
}

/// The estimate, by part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Footprint {
    pub batch: f64,
    pub network: f64,
    pub record: f64,
    pub threads: f64,
}

impl Footprint {
    /// The peak in bytes.
    pub fn bytes(&self) -> f64 {
        FIXED_BYTES + self.batch + self.network + self.record + self.threads
    }
}

impl Plan {
    /// The most environment steps one batch can hold: every episode at its
    /// time limit, and with chapter 7's sampler a last episode in every
    /// environment past the batch's steps.
    pub fn max_batch_steps(&self) -> f64 {
        let longest = self.episode_steps.1 as f64;
        match self.lockstep {
            Some(l) => l.batch_steps as f64 + (l.envs as f64) * (l.groups as f64) * longest,
            None => self.batch as f64 * longest,
        }
    }

    /// The most episodes one batch can hold.
    fn max_batch_episodes(&self) -> f64 {
        match self.lockstep {
            Some(_) => self.max_batch_steps() / self.episode_steps.0 as f64,
            None => self.batch as f64,
        }
    }

    /// The fewest environment steps one batch can hold.
    fn min_batch_steps(&self) -> f64 {
        match self.lockstep {
            Some(l) => l.batch_steps as f64,
            None => self.batch as f64 * self.episode_steps.0 as f64,
        }
    }

    /// The policy's parameters: the layers' weights and biases (and the
    /// Gaussian's log σ), or the table's entries.
    pub fn params(&self) -> f64 {
        if self.tabular {
            return (self.obs_dim * self.outputs) as f64;
        }
        network_params(self.obs_dim, &self.hidden, self.outputs) + 1.0
    }

    /// The estimated peak memory, by part.
    pub fn footprint(&self) -> Footprint {
        let steps = self.max_batch_steps();
        let width: f64 = self.hidden.iter().map(|&w| w as f64).sum();
        let params = self.params();
        let episodes_per_batch = self.max_batch_episodes();
        let mut batch = steps * (STEP_BYTES + STEP_WIDTH_BYTES * width);
        if self.per_episode_gradients {
            batch += 2.0 * 8.0 * params * episodes_per_batch;
        }
        let by_budget =
            self.max_env_steps.map_or(f64::INFINITY, |m| (m as f64 / self.min_batch_steps()).ceil());
        let iterations = (self.iters as f64).min(by_budget);
        let record = iterations * (ITERATION_BYTES + EPISODE_BYTES * episodes_per_batch);
        let threads = self.lockstep.map_or(0.0, |l| l.threads as f64 * THREAD_BYTES);
        Footprint { batch, network: 8.0 * params * self.copies as f64, record, threads }
    }

    /// Multiply-adds of one iteration at most: the policy's forward pass on
    /// every step sampled, the update's passes over the batch and its Adam
    /// steps, and the value function's fit (see [`UpdateWork`]), with the
    /// fixed cost of every row and optimiser step counted as multiply-adds.
    pub fn work(&self) -> f64 {
        let (network, fixed) = self.work_parts();
        network + fixed
    }

    /// [`Plan::work`] in two parts: the multiply-adds of the network passes,
    /// the Adam steps and the optimal baseline's sums; and the fixed costs
    /// of rows and optimiser steps.
    pub fn work_parts(&self) -> (f64, f64) {
        let (steps, params) = (self.max_batch_steps(), self.params());
        let episodes = self.max_batch_episodes();
        let u = &self.update;
        let adam_steps = u.epochs as f64 * u.minibatch.map_or(1.0, |m| (steps / m as f64).ceil());
        let value_steps = u.value_fit.map_or(0.0, |v| v.steps as f64);
        let value_adam = u.value_fit.map_or(0.0, |v| v.steps as f64 * v.params as f64);
        let pairs = u.epochs as f64 * u.per_episode_pair * episodes * episodes * params;
        let sampling = steps * params;
        let fixed = ROW_COST * self.rows(steps, episodes) + STEP_COST * (adam_steps + value_steps);
        let network = sampling
            + u.pass_multiply_adds(steps, episodes, params)
            + pairs
            + ADAM * (adam_steps * params + value_adam);
        (network, fixed)
    }

    /// The rows of the iteration's network passes, a backward row counting
    /// as 2: sampling's, the update's and the value function's (as in
    /// [`UpdateWork::pass_multiply_adds`]).
    fn rows(&self, steps: f64, episodes: f64) -> f64 {
        let u = &self.update;
        let passes = u.epochs as f64 * u.per_epoch + u.besides;
        let value = u
            .value_fit
            .map_or(0.0, |v| 2.0 * (steps + episodes) + v.steps as f64 * 3.0 * steps.min(v.minibatch as f64));
        steps + 3.0 * passes * steps + value
    }

    /// Refuses the plan when its memory exceeds `budget` bytes or its
    /// iteration's work exceeds [`MAX_WORK`], naming the flag given that
    /// brings it over and the largest value that fits (`given` lists the
    /// flags on the command line); else returns its footprint.
    pub fn check(&self, budget: f64, given: &[&str]) -> Result<Footprint, String> {
        let footprint = self.footprint();
        if footprint.bytes() > budget {
            return Err(self.over_memory(&footprint, budget, given));
        }
        let work = self.work();
        if work > MAX_WORK {
            return Err(self.over_work(work, given));
        }
        Ok(footprint)
    }

    fn over_memory(&self, footprint: &Footprint, budget: f64, given: &[&str]) -> String {
        let need = footprint.bytes();
        let fits = |p: &Plan| p.footprint().bytes() <= budget;
        let (need_text, budget_text) = sizes(need, budget);
        let over = format!(
            "this run could need {need_text} of memory ({}), over the memory budget of {budget_text} \
             (--memory-budget)",
            self.parts(footprint)
        );
        // The flag whose share of the estimate is largest, among those a smaller value of which fits.
        let share = |flag: &str| need - self.with(flag, self.lowest(flag)).footprint().bytes();
        let culprit = MEMORY_FLAGS
            .iter()
            .filter(|f| given.contains(f))
            .filter_map(|&flag| self.largest(flag, &fits).map(|v| (flag, v)))
            .filter(|(flag, v)| Some(*v) < self.value(flag))
            .max_by(|a, b| share(a.0).total_cmp(&share(b.0)));
        match culprit {
            Some((flag, v)) => format!(
                "{} is not allowed: {over}; {}, or a larger --memory-budget",
                self.shown(flag),
                self.advice(flag, v)
            ),
            None => format!(
                "{over}: {}, or a --memory-budget of at least {}",
                several(given, MEMORY_FLAGS, "smaller settings"),
                size_at_least(need)
            ),
        }
    }

    /// A flag with its value in this plan, as given.
    fn shown(&self, flag: &str) -> String {
        match flag {
            "--hidden" => format!("--hidden {}", join(&self.hidden)),
            _ => format!("{flag} {}", self.value(flag).unwrap_or(0)),
        }
    }

    /// What to give instead: `flag` at most `v` (for `--hidden`, layers at most `v` wide).
    fn advice(&self, flag: &str, v: usize) -> String {
        match flag {
            "--hidden" => format!(
                "use layers at most {v} wide, e.g. --hidden {}",
                join(&self.hidden.iter().map(|&h| h.min(v)).collect::<Vec<_>>())
            ),
            _ => format!("use {flag} {v} or less"),
        }
    }

    fn over_work(&self, work: f64, given: &[&str]) -> String {
        let fits = |p: &Plan| p.work() <= MAX_WORK;
        let over = format!(
            "one iteration could take {work:.1e} multiply-adds (counting each row's and optimiser step's fixed \
             cost as multiply-adds; epochs over the batch: {}; steps per batch: up to {}; parameters: {}), over \
             the limit of {MAX_WORK:.0e}",
            self.update.epochs,
            self.max_batch_steps(),
            self.params()
        );
        // Each flag given that a value of its own brings within the limit,
        // with that value and its share of the work; the largest share is named.
        let largest_minibatch = (self.max_batch_steps() as usize).max(1);
        let candidates = WORK_FLAGS.iter().filter(|f| given.contains(f)).filter_map(|&flag| {
            let now = self.value(flag)?;
            if flag == "--minibatch" {
                let m = self.smallest_minibatch(&fits).filter(|&m| m > now)?;
                let share = work - self.with_minibatch(largest_minibatch.max(now)).work();
                Some((flag, m, share))
            } else {
                let v = self.largest(flag, &fits).filter(|&v| v < now)?;
                Some((flag, v, work - self.with(flag, self.lowest(flag)).work()))
            }
        });
        match candidates.max_by(|a, b| a.2.total_cmp(&b.2)) {
            Some(("--minibatch", m, _)) => {
                let now = self.value("--minibatch").unwrap_or(0);
                format!("--minibatch {now} is not allowed: {over}; use --minibatch {m} or more")
            }
            Some((flag, v, _)) => {
                format!("{} is not allowed: {over}; {}", self.shown(flag), self.advice(flag, v))
            }
            None => {
                format!("{over}: {}", several(given, WORK_FLAGS, "a smaller batch, network or fewer epochs"))
            }
        }
    }

    /// This plan with minibatches of `m` states.
    fn with_minibatch(&self, m: usize) -> Plan {
        Plan { update: UpdateWork { minibatch: Some(m), ..self.update }, ..self.clone() }
    }

    /// The smallest minibatch at least the present one for which the plan
    /// `fits`, if any (the work falls as the minibatch grows).
    fn smallest_minibatch(&self, fits: &dyn Fn(&Plan) -> bool) -> Option<usize> {
        let now = self.update.minibatch?;
        let with = |m: usize| self.with_minibatch(m);
        // One minibatch of the whole batch is as little work as minibatches go.
        let (mut lo, mut hi) = (now, (self.max_batch_steps() as usize).max(now));
        if fits(&with(lo)) {
            return Some(lo);
        }
        if !fits(&with(hi)) {
            return None;
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if fits(&with(mid)) { hi = mid } else { lo = mid }
        }
        Some(hi)
    }

    /// What the estimate is made of, for the error.
    fn parts(&self, f: &Footprint) -> String {
        let mut parts = vec![
            (f.batch, format!("batches of up to {} steps", self.max_batch_steps())),
            (f.network, format!("a network of {} parameters", self.params())),
            (f.record, "the record of every episode".to_string()),
            (f.threads, "the threads' stacks".to_string()),
            (FIXED_BYTES, "the program".to_string()),
        ];
        parts.retain(|(b, _)| *b > 0.0);
        parts.sort_by(|a, b| b.0.total_cmp(&a.0));
        parts.iter().map(|(b, what)| format!("{} for {what}", size(*b))).collect::<Vec<_>>().join(", ")
    }

    /// The value of a flag in this plan (the largest width for `--hidden`).
    fn value(&self, flag: &str) -> Option<usize> {
        let l = self.lockstep;
        match flag {
            "--batch" => Some(self.batch),
            "--batch-steps" => l.map(|l| l.batch_steps),
            "--envs" => l.map(|l| l.envs),
            "--groups" => l.map(|l| l.groups),
            "--threads" => l.map(|l| l.threads),
            "--iters" => Some(self.iters),
            "--max-env-steps" => self.max_env_steps,
            "--hidden" => self.hidden.iter().copied().max(),
            "--epochs" | "--reuse" => Some(self.update.epochs),
            "--minibatch" => self.update.minibatch,
            _ => None,
        }
    }

    /// The smallest value `flag` may take besides fitting: 1, or for
    /// `--batch-steps` a step per group (the sampler's own rule).
    fn lowest(&self, flag: &str) -> usize {
        match (flag, self.lockstep) {
            ("--batch-steps", Some(l)) => l.groups.max(1),
            _ => 1,
        }
    }

    /// The largest value `flag` may take besides fitting: its present one,
    /// and for `--groups` at most the batch's steps (a step per group).
    fn highest(&self, flag: &str) -> Option<usize> {
        let now = self.value(flag)?;
        Some(match (flag, self.lockstep) {
            ("--groups", Some(l)) => now.min(l.batch_steps),
            _ => now,
        })
    }

    /// This plan with `flag` set to `v` (for `--hidden`, every layer at most `v` wide).
    fn with(&self, flag: &str, v: usize) -> Plan {
        let mut p = self.clone();
        match (flag, p.lockstep.as_mut()) {
            ("--batch", _) => p.batch = v,
            ("--batch-steps", Some(l)) => l.batch_steps = v,
            ("--envs", Some(l)) => l.envs = v,
            ("--groups", Some(l)) => l.groups = v,
            ("--threads", Some(l)) => l.threads = v,
            ("--iters", _) => p.iters = v,
            ("--max-env-steps", _) => p.max_env_steps = Some(v),
            ("--hidden", _) => p.hidden.iter_mut().for_each(|h| *h = (*h).min(v)),
            ("--epochs" | "--reuse", _) => p.update.epochs = v,
            _ => {}
        }
        p
    }

    /// The largest value of `flag` between its lowest and its highest (see
    /// above) for which the plan `fits`, if any (the estimates grow with
    /// each of these flags).
    fn largest(&self, flag: &str, fits: &dyn Fn(&Plan) -> bool) -> Option<usize> {
        let (mut lo, mut hi) = (self.lowest(flag), self.highest(flag)?);
        if lo > hi || !fits(&self.with(flag, lo)) {
            return None;
        }
        if fits(&self.with(flag, hi)) {
            return Some(hi);
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if fits(&self.with(flag, mid)) { lo = mid } else { hi = mid }
        }
        Some(lo)
    }
}

/// Weights and biases of a network of these sizes.
fn network_params(inputs: usize, hidden: &[usize], outputs: usize) -> f64 {
    let sizes: Vec<f64> = std::iter::once(inputs)
        .chain(hidden.iter().copied())
        .chain(std::iter::once(outputs))
        .map(|n| n as f64)
        .collect();
    sizes.windows(2).map(|w| w[0] * w[1] + w[1]).sum()
}

/// Flags whose values the memory estimate grows with.
const MEMORY_FLAGS: &[&str] = &[
    "--batch-steps",
    "--envs",
    "--groups",
    "--threads",
    "--batch",
    "--hidden",
    "--iters",
    "--max-env-steps",
];
/// Flags whose values the work of an iteration grows with (falls with, for `--minibatch`).
const WORK_FLAGS: &[&str] =
    &["--epochs", "--reuse", "--minibatch", "--batch-steps", "--envs", "--groups", "--batch", "--hidden"];

/// What to change when no one flag given brings the run within its limit:
/// the given ones among `flags` together, or `otherwise`.
fn several(given: &[&str], flags: &[&str], otherwise: &str) -> String {
    let named: Vec<&str> = flags.iter().copied().filter(|f| given.contains(f)).collect();
    match named.as_slice() {
        [] => format!("use {otherwise}"),
        [one] => format!("{one} alone cannot bring it within; change it and other settings together"),
        [a, b] => format!("neither {a} nor {b} brings it within alone; change both"),
        [first @ .., last] => {
            format!(
                "no one of {} and {last} brings it within alone; change several of them",
                first.join(", ")
            )
        }
    }
}

fn join(widths: &[usize]) -> String {
    widths.iter().map(|w| w.to_string()).collect::<Vec<_>>().join(",")
}

/// Bytes in binary units, e.g. `1.5 GiB`.
pub fn size(bytes: f64) -> String {
    size_with(bytes, 1)
}

/// [`size`] rounded up: a budget of what it says holds `bytes`.
fn size_at_least(bytes: f64) -> String {
    let mut text = size(bytes);
    let mut up = bytes;
    while parse_size(&text.replace(' ', "").replace("bytes", "").replace("byte", "")).is_ok_and(|b| b < bytes)
    {
        up *= 1.0 + 1e-3;
        text = size(up);
    }
    text
}

/// `need` and `budget` in binary units, with as many decimals as it takes
/// to tell them apart (the exact bytes if none do).
fn sizes(need: f64, budget: f64) -> (String, String) {
    (1..=6)
        .map(|d| (size_with(need, d), size_with(budget, d)))
        .find(|(a, b)| a != b)
        .unwrap_or_else(|| (format!("{need:.0} bytes"), format!("{budget:.0} bytes")))
}

fn size_with(bytes: f64, decimals: usize) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 if value == 1.0 => "1 byte".to_string(),
        0 => format!("{value:.0} bytes"),
        _ => format!("{value:.decimals$} {}", units[unit]),
    }
}

/// The default memory budget: half the memory the process may use, the
/// machine's (`/proc/meminfo`) or its control group's limit if lower
/// (`/sys/fs/cgroup/memory.max`), or 2 GiB where neither can be read (in the
/// browser, half of what a 32-bit WebAssembly module can address).
pub fn default_budget() -> f64 {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let machine = read("/proc/meminfo").and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024.0)
    });
    // "max" when the group has no limit.
    let group = read("/sys/fs/cgroup/memory.max").and_then(|text| text.trim().parse::<f64>().ok());
    let total = match (machine, group) {
        (Some(m), Some(g)) => Some(m.min(g)),
        (m, g) => m.or(g),
    };
    total.map_or(2.0 * 1024.0 * MIB, |t| t / 2.0)
}

/// `--memory-budget`'s value: bytes, or a number with K, M, G or T (powers of 1024).
pub fn parse_size(s: &str) -> Result<f64, String> {
    let err =
        || format!("'{s}' is not allowed: use a size such as 512M, 4G or 1.5G (K, M, G, T: powers of 1024)");
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    // "B" or "iB" after a unit letter ("4GiB"), or "B" alone ("1000B").
    let binary = lower.ends_with("ib") && lower[..lower.len() - 2].ends_with(['k', 'm', 'g', 't']);
    let unit = if binary { 2 } else { usize::from(lower.ends_with('b')) };
    let t = &t[..t.len() - unit];
    let (number, scale) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1024.0),
        Some('M') => (&t[..t.len() - 1], MIB),
        Some('G') => (&t[..t.len() - 1], 1024.0 * MIB),
        Some('T') => (&t[..t.len() - 1], 1024.0 * 1024.0 * MIB),
        _ => (t, 1.0),
    };
    match number.trim().parse::<f64>() {
        Ok(x) if x > 0.0 && (x * scale).is_finite() && x * scale >= 1.0 => Ok(x * scale),
        _ => Err(err()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE_PASS: UpdateWork = UpdateWork::ONE_PASS;

    fn plan() -> Plan {
        Plan {
            tabular: false,
            obs_dim: 4,
            outputs: 2,
            hidden: vec![32, 32],
            episode_steps: (CARTPOLE_MIN_STEPS, 500),
            batch: 32,
            lockstep: None,
            iters: 200,
            max_env_steps: None,
            copies: 6,
            per_episode_gradients: false,
            update: ONE_PASS,
        }
    }

    fn lockstep(batch_steps: usize, envs: usize, groups: usize) -> Plan {
        Plan { lockstep: Some(Lockstep { batch_steps, envs, groups, threads: 2 }), iters: 10, ..plan() }
    }

    fn epochs(epochs: usize, minibatch: Option<usize>) -> Plan {
        Plan { update: UpdateWork { epochs, minibatch, ..ONE_PASS }, ..plan() }
    }

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("4G").unwrap(), 4.0 * 1024.0 * MIB);
        assert_eq!(parse_size("4gb").unwrap(), 4.0 * 1024.0 * MIB);
        assert_eq!(parse_size("1.5GiB").unwrap(), 1.5 * 1024.0 * MIB);
        assert_eq!(parse_size("512m").unwrap(), 512.0 * MIB);
        assert_eq!(parse_size("1000").unwrap(), 1000.0);
        assert_eq!(parse_size("1000b").unwrap(), 1000.0);
        for bad in ["", "0", "-1G", "NaN", "infG", "4X", "G", "0.1", "1e300T", "1e308K", "b"] {
            assert!(parse_size(bad).unwrap_err().contains(&format!("'{bad}'")), "{bad}");
        }
        assert_eq!(size(1536.0 * MIB), "1.5 GiB");
        assert_eq!(size(100.0), "100 bytes");
        // A need just over the budget never reads as equal to it.
        assert_eq!(sizes(64.0 * MIB + 1000.0, 64.0 * MIB), ("64.001 MiB".into(), "64.000 MiB".into()));
        assert_eq!(sizes(64.0 * MIB + 1.0, 64.0 * MIB), ("64.000001 MiB".into(), "64.000000 MiB".into()));
        assert_eq!(
            sizes(1024.0 * MIB + 1.0, 1024.0 * MIB),
            ("1073741825 bytes".into(), "1073741824 bytes".into())
        );
        assert_eq!(size(1.0), "1 byte");
        assert!(parse_size("1ib").is_err() && parse_size("1KiB").is_ok());
    }

    #[test]
    fn the_network_counts_weights_biases_and_log_std() {
        // 4·32 + 32 + 32·32 + 32 + 32·2 + 2, and log σ.
        assert_eq!(plan().params(), 1283.0);
        assert_eq!(Plan { tabular: true, obs_dim: 3, outputs: 2, hidden: vec![], ..plan() }.params(), 6.0);
    }

    #[test]
    fn the_refusal_names_the_flag_and_the_largest_value_that_fits() {
        let p = Plan { batch: 1_000_000, ..plan() };
        let budget = 1024.0 * MIB;
        let e = p.check(budget, &["--batch"]).unwrap_err();
        let largest = p.largest("--batch", &|q: &Plan| q.footprint().bytes() <= budget).unwrap();
        assert!(e.starts_with("--batch 1000000 is not allowed"), "{e}");
        assert!(e.contains(&format!("use --batch {largest} or less")), "{e}");
        assert!(e.contains("32.0 MiB for the program"), "{e}");
        assert!(p.with("--batch", largest).check(budget, &["--batch"]).is_ok());
        assert!(p.with("--batch", largest + 1).check(budget, &["--batch"]).is_err());
        // Not given: the budget is named.
        let e = p.check(budget, &[]).unwrap_err();
        assert!(e.contains("use smaller settings, or a --memory-budget of at least"), "{e}");
        // The budget it offers holds the run's memory.
        let offered = e.rsplit("at least ").next().unwrap().replace(' ', "");
        assert!(p.footprint().bytes() <= parse_size(&offered).unwrap(), "{offered}");
        // Given, but no one of them brings it within alone: they are named.
        let e = lockstep(5_000_000, 1_000, 10_000).check(budget, &["--batch-steps", "--envs", "--groups"]);
        assert!(
            e.unwrap_err().contains("no one of --batch-steps, --envs and --groups brings it within alone")
        );
        let e = lockstep(5_000_000, 1_000, 10_000).check(budget, &["--envs", "--groups"]).unwrap_err();
        assert!(e.contains("neither --envs nor --groups brings it within alone; change both"), "{e}");
    }

    #[test]
    fn the_refusal_names_the_flag_with_the_largest_share() {
        let budget = 2048.0 * MIB;
        // Either flag could be cut to fit (the other to 1); the environments'
        // last episodes (1000 × 500 steps) hold more of the estimate than the
        // batch's 300 000 steps, though a cut of --batch-steps would be the
        // smaller in proportion.
        let p = lockstep(300_000, 1_000, 1);
        let e = p.check(budget, &["--batch-steps", "--envs"]).unwrap_err();
        assert!(e.starts_with("--envs 1000 is not allowed"), "{e}");
        let p = lockstep(700_000, 200, 1);
        let e = p.check(budget, &["--batch-steps", "--envs"]).unwrap_err();
        assert!(e.starts_with("--batch-steps 700000 is not allowed"), "{e}");
    }

    #[test]
    fn the_largest_groups_and_smallest_batch_steps_offered_keep_a_step_per_group() {
        let budget = 1024.0 * MIB;
        let fits = |q: &Plan| q.footprint().bytes() <= budget;
        // Without the rule, more groups than the batch's 50 steps would fit.
        let p = lockstep(50, 1, 1_000_000);
        let e = p.check(budget, &["--groups"]).unwrap_err();
        let v = p.largest("--groups", &fits).unwrap();
        assert!(v <= 50, "{v}");
        assert!(e.contains(&format!("use --groups {v} or less")), "{e}");
        // A batch of fewer steps than groups is never offered.
        let p = lockstep(10_000_000, 10, 1_000);
        let v = p.largest("--batch-steps", &fits);
        assert!(v.is_none_or(|v| v >= 1_000), "{v:?}");
    }

    #[test]
    fn huge_settings_are_estimated_without_overflow() {
        let p = Plan { batch: usize::MAX, iters: usize::MAX, max_env_steps: Some(usize::MAX), ..plan() };
        assert!(p.footprint().bytes() > 1e20);
        assert!(p.check(1e30, &["--batch"]).is_err());
        let p = lockstep(usize::MAX, usize::MAX, usize::MAX);
        assert!(p.check(1e30, &["--batch-steps", "--envs", "--groups"]).is_err());
    }

    #[test]
    fn the_work_bound_names_epochs_and_minibatch() {
        let p = epochs(1_000_000, Some(64));
        let e = p.check(f64::INFINITY, &["--epochs"]).unwrap_err();
        assert!(e.starts_with("--epochs 1000000 is not allowed"), "{e}");
        let p = epochs(5_000, Some(1));
        let e = p.check(f64::INFINITY, &["--minibatch"]).unwrap_err();
        let m = p.smallest_minibatch(&|q: &Plan| q.work() <= MAX_WORK).unwrap();
        assert!(
            e.starts_with("--minibatch 1 is not allowed") && e.contains(&format!("--minibatch {m} or more"))
        );
        assert!(
            Plan { update: UpdateWork { minibatch: Some(m), ..p.update }, ..p.clone() }.work() <= MAX_WORK
        );
        assert!(
            Plan { update: UpdateWork { minibatch: Some(m - 1), ..p.update }, ..p.clone() }.work() > MAX_WORK
        );
    }

    #[test]
    fn the_work_refusal_names_the_flag_with_the_largest_share() {
        // The environments' last episodes (10⁶ × 500 steps) outweigh the batch's 10⁶ steps.
        let e =
            lockstep(1_000_000, 1_000_000, 1).check(f64::INFINITY, &["--batch-steps", "--envs"]).unwrap_err();
        assert!(e.starts_with("--envs 1000000 is not allowed: one iteration could take"), "{e}");
        let e = lockstep(1_000_000, 1_000_000, 1).check(f64::INFINITY, &["--batch-steps"]).unwrap_err();
        assert!(e.contains("--batch-steps alone cannot bring it within"), "{e}");
    }

    #[test]
    fn the_smallest_minibatch_is_found_by_halving_even_for_a_huge_batch() {
        // A linear search over a batch of 5·10¹¹ steps would not end.
        let p = Plan { batch: 1_000_000_000, ..epochs(1, Some(1)) };
        let e = p.check(f64::INFINITY, &["--minibatch"]).unwrap_err();
        assert!(
            e.starts_with("one iteration could take") || e.starts_with("--minibatch 1 is not allowed"),
            "{e}"
        );
    }

    #[test]
    fn the_work_counts_every_pass_of_the_update_and_the_value_fit() {
        let p = plan();
        let (steps, params) = (32.0 * 500.0, p.params());
        // Sampling's forward pass (1 multiply-add per parameter and step), a
        // forward and backward pass (3), one Adam step, and the fixed costs of
        // their rows (a backward row counting twice) and of the Adam step.
        let rows = steps + 3.0 * steps;
        assert_eq!(p.work(), 4.0 * steps * params + ADAM * params + ROW_COST * rows + STEP_COST);
        let more = Plan { update: UpdateWork { besides: 2.0, ..ONE_PASS }, ..p.clone() };
        assert_eq!(more.work() - p.work(), (3.0 * params + 3.0 * ROW_COST) * 2.0 * steps);
        let v = network_params(4, &[32, 32], 1);
        let value = ValueFitWork { params: v as usize, steps: 20, minibatch: 64 };
        let fitted = Plan { update: UpdateWork { value_fit: Some(value), ..ONE_PASS }, ..p.clone() };
        let value_rows = 2.0 * (steps + 32.0) + 20.0 * 3.0 * 64.0;
        let fit = v * value_rows + 20.0 * (ADAM * v + STEP_COST) + ROW_COST * value_rows;
        assert_eq!(fitted.work() - p.work(), fit);
        // The optimal baseline's sums over pairs of the batch's 32 episodes.
        let pairs = Plan { update: UpdateWork { per_episode_pair: 2.0, ..ONE_PASS }, ..p.clone() };
        assert_eq!(pairs.work() - p.work(), 2.0 * 32.0 * 32.0 * params);
    }
}
