//! Ctrl-C: says what it interrupted and exits with status 130, never in the
//! middle of writing a file. Every file `pg` writes goes through
//! [`crate::files::write_atomic`] (a temporary file renamed into place), which
//! holds [`writing`] while it writes: the handler waits for it, so an
//! interrupted run leaves each file as it was or wholly replaced, and no
//! temporary file behind. A directory being built beside its place (the
//! HTML book) is removed by the handler ([`remove_on_interrupt`]). SIGKILL
//! cannot be caught; the renames alone keep files whole then, and `pg book`
//! clears what a killed run left over.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

static ACTIVITY: Mutex<String> = Mutex::new(String::new());
static WRITING: Mutex<()> = Mutex::new(());
static SCRATCH: Mutex<Option<PathBuf>> = Mutex::new(None);

/// The exit status of an interrupted run (128 + SIGINT).
pub const INTERRUPTED: i32 = 130;

/// Installs the handler of Ctrl-C (and SIGTERM); `starting` says what the
/// program is doing until the next [`doing`].
pub fn install(starting: impl Into<String>) -> Result<(), String> {
    doing(starting);
    ctrlc::set_handler(|| {
        // Held from here to the exit: no write starts, and a finished run's
        // `finish` waits for the exit rather than returning success.
        let _no_write_in_flight = writing();
        let what = lock(&ACTIVITY).clone();
        let left = lock(&SCRATCH).take().filter(|dir| !remove_dir(dir));
        let left = left
            .map_or(String::new(), |d| format!(" ({} is left; the next pg book removes it)", d.display()));
        eprintln!("\ninterrupted: {what}{left}");
        std::process::exit(INTERRUPTED);
    })
    .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))
}

/// Says what the program is doing, for the message of an interruption.
pub fn doing(what: impl Into<String>) {
    *lock(&ACTIVITY) = what.into();
}

/// Names a directory that an interruption removes (one at a time), or none.
pub fn remove_on_interrupt(dir: Option<PathBuf>) {
    *lock(&SCRATCH) = dir;
}

/// Held while a file is being written (and renamed into place).
pub fn writing() -> MutexGuard<'static, ()> {
    lock(&WRITING)
}

/// Called once the work is done, before the program exits: from here on
/// Ctrl-C changes nothing. If the handler already began, this waits for
/// it, so an interrupted run never exits with success.
pub fn finish() {
    std::mem::forget(writing());
}

/// Removes `dir`, which the main thread may still be writing into (and so
/// create again): until it has stayed away for [`QUIET`], which it does
/// once the main thread stops writing (it waits on [`writing`] before its
/// next step), or for at most [`PATIENCE`].
/// Returns whether it is gone; it gives up at once if it cannot be removed.
fn remove_dir(dir: &std::path::Path) -> bool {
    let started = std::time::Instant::now();
    let mut gone_since = None;
    while started.elapsed() < PATIENCE {
        if dir.exists() {
            gone_since = None;
            // Not found: the main thread's writes raced the removal; anything else is for good.
            if let Err(e) = std::fs::remove_dir_all(dir)
                && e.kind() != std::io::ErrorKind::NotFound
                && e.kind() != std::io::ErrorKind::DirectoryNotEmpty
            {
                return false;
            }
        } else if gone_since.get_or_insert_with(std::time::Instant::now).elapsed() >= QUIET {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    !dir.exists()
}

/// How long a removed directory must stay away before the handler exits.
const QUIET: std::time::Duration = std::time::Duration::from_millis(100);
/// How long the handler tries at most.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

fn lock<T>(m: &'static Mutex<T>) -> MutexGuard<'static, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
