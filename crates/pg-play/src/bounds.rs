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

use crate::args::EnvName;

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
/// Multiply-adds one iteration may take: about a quarter of an hour of one
/// core at 10⁹ per second, longer than any run of the book's takes per iteration.
pub const MAX_WORK: f64 = 1e12;

const MIB: f64 = 1024.0 * 1024.0;

/// The shortest episode CartPole can have: its pole starts within 0.05 rad
/// of upright and cannot pass 12° (0.21 rad) sooner under 10 N pushes at
/// 50 steps a second (checked by `tests/bounds.rs` on extreme policies).
pub const CARTPOLE_MIN_STEPS: usize = 8;

/// Steps at which the tabular MDPs' episodes end at the latest (the "stay"
/// MDP's truncation; the three-state MDP's horizon is shorter).
pub const TABULAR_MAX_STEPS: usize = 1000;

/// What a run's footprint depends on, resolved from its flags and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub env: EnvName,
    /// Observation size and action outputs of the policy's network.
    pub obs_dim: usize,
    pub outputs: usize,
    /// Hidden widths of the policy's network (none for a tabular policy).
    pub hidden: Vec<usize>,
    /// Episodes per batch (chapters 1–6's loop).
    pub batch: usize,
    /// Chapter 7's sampler: steps per batch, environments, groups, threads.
    pub lockstep: Option<Lockstep>,
    pub iters: usize,
    pub max_env_steps: Option<usize>,
    /// Parameter-sized vectors the update keeps (gradients, optimiser
    /// moments, old policies, conjugate-gradient vectors).
    pub copies: usize,
    /// Whether the estimator keeps a gradient per episode (the optimal baseline).
    pub per_episode_gradients: bool,
    /// Gradient passes over each batch (`--reuse`, `--epochs`), and the minibatch, if any.
    pub passes: usize,
    pub minibatch: Option<usize>,
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
        let longest = self.max_episode_steps() as f64;
        match self.lockstep {
            Some(l) => l.batch_steps as f64 + (l.envs as f64) * (l.groups as f64) * longest,
            None => self.batch as f64 * longest,
        }
    }

    fn max_episode_steps(&self) -> usize {
        match self.env {
            EnvName::Cartpole => pg_core::env::CARTPOLE_MAX_STEPS,
            EnvName::Pendulum => pg_core::env::PENDULUM_MAX_STEPS,
            EnvName::Mdp | EnvName::Stay => TABULAR_MAX_STEPS,
        }
    }

    fn min_episode_steps(&self) -> usize {
        match self.env {
            EnvName::Cartpole => CARTPOLE_MIN_STEPS,
            EnvName::Pendulum => pg_core::env::PENDULUM_MAX_STEPS,
            EnvName::Mdp | EnvName::Stay => 1,
        }
    }

    /// The policy's parameters: the layers' weights and biases (and the Gaussian's log σ).
    pub fn params(&self) -> f64 {
        if self.hidden.is_empty() && matches!(self.env, EnvName::Mdp | EnvName::Stay) {
            return 6.0; // a table of 3 states × 2 actions at most
        }
        let sizes: Vec<f64> = std::iter::once(self.obs_dim)
            .chain(self.hidden.iter().copied())
            .chain(std::iter::once(self.outputs))
            .map(|n| n as f64)
            .collect();
        sizes.windows(2).map(|w| w[0] * w[1] + w[1]).sum::<f64>() + 1.0
    }

    /// The estimated peak memory, by part.
    pub fn footprint(&self) -> Footprint {
        let steps = self.max_batch_steps();
        let width: f64 = self.hidden.iter().map(|&w| w as f64).sum();
        let params = self.params();
        let episodes_per_batch = match self.lockstep {
            Some(_) => steps / self.min_episode_steps() as f64,
            None => self.batch as f64,
        };
        let mut batch = steps * (STEP_BYTES + STEP_WIDTH_BYTES * width);
        if self.per_episode_gradients {
            batch += 2.0 * 8.0 * params * episodes_per_batch;
        }
        let min_batch_steps = match self.lockstep {
            Some(l) => l.batch_steps as f64,
            None => (self.batch * self.min_episode_steps()) as f64,
        };
        let by_budget = self.max_env_steps.map_or(f64::INFINITY, |m| (m as f64 / min_batch_steps).ceil());
        let iterations = (self.iters as f64).min(by_budget);
        let record = iterations * (ITERATION_BYTES + EPISODE_BYTES * episodes_per_batch);
        let threads = self.lockstep.map_or(0.0, |l| l.threads as f64 * THREAD_BYTES);
        Footprint { batch, network: 8.0 * params * self.copies as f64, record, threads }
    }

    /// Multiply-adds of one iteration's gradient passes, at most: a forward
    /// and backward pass per step and pass, and an optimiser step per minibatch.
    pub fn work(&self) -> f64 {
        let steps = self.max_batch_steps();
        let params = self.params();
        let updates = self.minibatch.map_or(1.0, |m| (steps / m as f64).ceil());
        self.passes as f64 * (6.0 * steps * params + 10.0 * updates * params)
    }

    /// Refuses the plan when its memory exceeds `budget` bytes or its
    /// iteration's work exceeds [`MAX_WORK`], naming the flag given that
    /// brings it over and the largest value that fits (`given` lists the
    /// flags on the command line).
    pub fn check(&self, budget: f64, given: &[&str]) -> Result<(), String> {
        let need = self.footprint().bytes();
        if need > budget {
            return Err(self.over_memory(need, budget, given));
        }
        let work = self.work();
        if work > MAX_WORK {
            return Err(self.over_work(work, given));
        }
        Ok(())
    }

    fn over_memory(&self, need: f64, budget: f64, given: &[&str]) -> String {
        let fits = |p: &Plan| p.footprint().bytes() <= budget;
        let over = format!(
            "this run could need {} of memory ({}), over the memory budget of {} (--memory-budget)",
            size(need),
            self.parts(),
            size(budget)
        );
        let culprit = MEMORY_FLAGS
            .iter()
            .filter(|f| given.contains(f))
            .filter_map(|&flag| self.largest(flag, &fits).map(|v| (flag, v)))
            .filter(|(flag, v)| Some(*v) < self.value(flag))
            .max_by(|a, b| {
                let ratio = |(f, v): &(&str, usize)| self.value(f).unwrap_or(0) as f64 / (*v).max(1) as f64;
                ratio(a).total_cmp(&ratio(b))
            });
        match culprit {
            Some((flag, v)) => format!(
                "{} is not allowed: {over}; {}, or a larger --memory-budget",
                self.shown(flag),
                self.advice(flag, v)
            ),
            None => format!("{over}: give a --memory-budget of at least {} or smaller settings", size(need)),
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
            "one iteration could take {work:.1e} multiply-adds (passes over the batch: {}; steps per batch: up to \
             {}; parameters: {}), over the limit of {MAX_WORK:.0e}",
            self.passes,
            self.max_batch_steps(),
            self.params()
        );
        for &flag in WORK_FLAGS.iter().filter(|f| given.contains(f)) {
            let now = self.value(flag).unwrap_or(0);
            if flag == "--minibatch" {
                let smallest = (now..=self.max_batch_steps() as usize)
                    .find(|&m| fits(&Plan { minibatch: Some(m), ..self.clone() }));
                if let Some(m) = smallest.filter(|&m| m > now) {
                    return format!("--minibatch {now} is not allowed: {over}; use --minibatch {m} or more");
                }
            } else if let Some(v) = self.largest(flag, &fits).filter(|&v| v < now) {
                return format!("{} is not allowed: {over}; {}", self.shown(flag), self.advice(flag, v));
            }
        }
        format!("{over}: use fewer --epochs or --reuse, a smaller batch or network")
    }

    /// What the estimate is made of, for the error.
    fn parts(&self) -> String {
        let f = self.footprint();
        let parts = [
            ("batches of up to {} steps", f.batch),
            ("a network of {} parameters", f.network),
            ("the record of every episode", f.record),
            ("the threads' stacks", f.threads),
        ];
        let mut parts: Vec<(String, f64)> = parts
            .iter()
            .filter(|(_, b)| *b > 0.0)
            .map(|(what, b)| {
                let what = what
                    .replace("{} steps", &format!("{} steps", self.max_batch_steps()))
                    .replace("{} parameters", &format!("{} parameters", self.params()));
                (what, *b)
            })
            .collect();
        parts.sort_by(|a, b| b.1.total_cmp(&a.1));
        parts.iter().map(|(what, b)| format!("{} for {what}", size(*b))).collect::<Vec<_>>().join(", ")
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
            "--epochs" | "--reuse" => Some(self.passes),
            "--minibatch" => self.minibatch,
            _ => None,
        }
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
            ("--epochs" | "--reuse", _) => p.passes = v,
            _ => {}
        }
        p
    }

    /// The largest value of `flag` at most its present one for which the
    /// plan `fits`, if even 1 does (the estimate grows with each of these flags).
    fn largest(&self, flag: &str, fits: &dyn Fn(&Plan) -> bool) -> Option<usize> {
        let now = self.value(flag)?;
        if !fits(&self.with(flag, 1)) {
            return None;
        }
        let (mut lo, mut hi) = (1, now);
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
const WORK_FLAGS: &[&str] = &["--epochs", "--reuse", "--minibatch", "--batch-steps", "--batch", "--hidden"];

fn join(widths: &[usize]) -> String {
    widths.iter().map(|w| w.to_string()).collect::<Vec<_>>().join(",")
}

/// Bytes in binary units, e.g. `1.5 GiB`.
pub fn size(bytes: f64) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{value:.0} bytes") } else { format!("{value:.1} {}", units[unit]) }
}

/// The default memory budget: half the machine's memory, read from
/// `/proc/meminfo`, or 2 GiB where it cannot be read (in the browser, half
/// of what a 32-bit WebAssembly module can address).
pub fn default_budget() -> f64 {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024.0)
    });
    total.map_or(2.0 * 1024.0 * MIB, |t| t / 2.0)
}

/// `--memory-budget`'s value: bytes, or a number with K, M, G or T (powers of 1024).
pub fn parse_size(s: &str) -> Result<f64, String> {
    let err =
        || format!("'{s}' is not allowed: use a size such as 512M, 4G or 1.5G (K, M, G, T: powers of 1024)");
    let t = s.trim();
    let t = t.strip_suffix("iB").or_else(|| t.strip_suffix('B')).unwrap_or(t);
    let (number, scale) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1024.0),
        Some('M') => (&t[..t.len() - 1], MIB),
        Some('G') => (&t[..t.len() - 1], 1024.0 * MIB),
        Some('T') => (&t[..t.len() - 1], 1024.0 * 1024.0 * MIB),
        _ => (t, 1.0),
    };
    match number.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x * scale >= 1.0 => Ok(x * scale),
        _ => Err(err()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            env: EnvName::Cartpole,
            obs_dim: 4,
            outputs: 2,
            hidden: vec![32, 32],
            batch: 32,
            lockstep: None,
            iters: 200,
            max_env_steps: None,
            copies: 6,
            per_episode_gradients: false,
            passes: 1,
            minibatch: None,
        }
    }

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("4G").unwrap(), 4.0 * 1024.0 * MIB);
        assert_eq!(parse_size("1.5GiB").unwrap(), 1.5 * 1024.0 * MIB);
        assert_eq!(parse_size("512m").unwrap(), 512.0 * MIB);
        assert_eq!(parse_size("1000").unwrap(), 1000.0);
        for bad in ["", "0", "-1G", "NaN", "infG", "4X", "G", "0.1"] {
            assert!(parse_size(bad).unwrap_err().contains(&format!("'{bad}'")), "{bad}");
        }
        assert_eq!(size(1536.0 * MIB), "1.5 GiB");
        assert_eq!(size(100.0), "100 bytes");
    }

    #[test]
    fn the_network_counts_weights_biases_and_log_std() {
        // 4·32 + 32 + 32·32 + 32 + 32·2 + 2, and log σ.
        assert_eq!(plan().params(), 1283.0);
    }

    #[test]
    fn the_refusal_names_the_flag_and_the_largest_value_that_fits() {
        let p = Plan { batch: 1_000_000, ..plan() };
        let budget = 1024.0 * MIB;
        let e = p.check(budget, &["--batch"]).unwrap_err();
        let largest = p.largest("--batch", &|q: &Plan| q.footprint().bytes() <= budget).unwrap();
        assert!(e.starts_with("--batch 1000000 is not allowed"), "{e}");
        assert!(e.contains(&format!("use --batch {largest} or less")), "{e}");
        assert!(p.with("--batch", largest).check(budget, &["--batch"]).is_ok());
        assert!(p.with("--batch", largest + 1).check(budget, &["--batch"]).is_err());
        // Not given: the budget is named.
        assert!(p.check(budget, &[]).unwrap_err().contains("give a --memory-budget of at least"));
    }

    #[test]
    fn the_work_bound_names_epochs_and_minibatch() {
        let p = Plan { passes: 1_000_000, minibatch: Some(64), ..plan() };
        let e = p.check(f64::INFINITY, &["--epochs"]).unwrap_err();
        assert!(e.starts_with("--epochs 1000000 is not allowed"), "{e}");
        let p = Plan { passes: 5_000, minibatch: Some(1), ..plan() };
        let e = p.check(f64::INFINITY, &["--minibatch"]).unwrap_err();
        assert!(e.starts_with("--minibatch 1 is not allowed") && e.contains("or more"), "{e}");
    }
}
