//! How each chapter describes the algorithms it introduces, for `pg train
//! --algo`, `pg bench` and the book's Play page, which list them from these
//! descriptions (chapter by chapter: each crate's `ALGORITHMS`).

/// One algorithm as the command line and the Play page offer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Algorithm {
    /// The value of `pg train --algo`.
    pub name: &'static str,
    /// The chapter that introduces it.
    pub chapter: u8,
    /// A short title for menus.
    pub title: &'static str,
    /// The flags that tune it on CartPole (besides `--seed` and
    /// `--max-env-steps`, which every run takes); `pg train` refuses the
    /// others (checked by `pg-play`'s tests).
    pub flags: &'static [&'static str],
    /// Flags that select one of its variants, if any: (name, flags), e.g.
    /// ("vectorised", "--batch-steps 5000"), chapter 7's sampler for reward-to-go.
    pub presets: &'static [(&'static str, &'static str)],
}

/// Chapter 1's algorithm.
pub const ALGORITHMS: &[Algorithm] = &[Algorithm {
    name: "reinforce",
    chapter: 1,
    title: "REINFORCE",
    flags: &["--batch", "--lr", "--hidden"],
    presets: &[],
}];
