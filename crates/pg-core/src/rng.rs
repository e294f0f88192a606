//! One named, portable random number generator for the whole project.
//!
//! `ChaCha8Rng` produces the same stream on every platform and in every release
//! of `rand_chacha` 0.10, so a seed reproduces a run bit for bit.

use rand::SeedableRng;

/// The generator used everywhere a seed must reproduce a result.
pub type PgRng = rand_chacha::ChaCha8Rng;

/// A generator seeded from a `u64`.
pub fn seeded(seed: u64) -> PgRng {
    PgRng::seed_from_u64(seed)
}

/// An independent generator for stream `stream` of the run seeded by `seed`
/// (used to give every experiment repetition its own reproducible stream).
pub fn substream(seed: u64, stream: u64) -> PgRng {
    let mut rng = seeded(seed);
    rng.set_stream(stream);
    rng
}
