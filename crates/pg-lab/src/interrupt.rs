//! Ctrl-C: says what it interrupted and exits with status 130, never in the
//! middle of writing a file. Every file `pg` writes goes through
//! [`crate::files::write_atomic`] (a temporary file renamed into place), which
//! holds [`writing`] while it writes: the handler waits for it, so an
//! interrupted run leaves each file as it was or wholly replaced, and no
//! temporary file behind. SIGKILL cannot be caught; the renames alone keep
//! files whole then, and `pg book` clears what a killed run left over.

use std::sync::{Mutex, MutexGuard};

static ACTIVITY: Mutex<String> = Mutex::new(String::new());
static WRITING: Mutex<()> = Mutex::new(());

/// The exit status of an interrupted run (128 + SIGINT).
pub const INTERRUPTED: i32 = 130;

/// Installs the handler of Ctrl-C (and SIGTERM).
pub fn install() -> Result<(), String> {
    ctrlc::set_handler(|| {
        let _no_write_in_flight = writing();
        let what = lock(&ACTIVITY).clone();
        eprintln!("\ninterrupted: {what}");
        std::process::exit(INTERRUPTED);
    })
    .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))
}

/// Says what the program is doing, for the message of an interruption.
pub fn doing(what: impl Into<String>) {
    *lock(&ACTIVITY) = what.into();
}

/// Held while a file is being written (and renamed into place).
pub fn writing() -> MutexGuard<'static, ()> {
    lock(&WRITING)
}

fn lock<T>(m: &'static Mutex<T>) -> MutexGuard<'static, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
