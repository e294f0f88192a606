//! The WebAssembly module's whole interface: plain C functions over numbers
//! and UTF-8 text in the module's memory, so the page needs no generated
//! bindings. The page writes a run's flags into memory from [`pg_alloc`],
//! calls [`pg_start`], then [`pg_step`] once per batch, and reads each
//! answer (JSON, or an error message) at [`pg_text_ptr`] / [`pg_text_len`].
//!
//! The same functions are compiled natively, where the tests call them.

use crate::args::parse_line;
use crate::session::{Session, iteration_row};
use serde_json::{Value, json};
use std::cell::RefCell;

thread_local! {
    /// The run being trained (one per module instance; the page has one per worker).
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
    /// The last answer, read by the page at [`pg_text_ptr`].
    static TEXT: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Starts the run that `line` (`pg train`'s flags, e.g. `--algo ppo --seed 3`)
/// describes, replacing any earlier one; returns its summary before training.
pub fn start(line: &str) -> Result<Value, String> {
    let args = parse_line(line)?;
    if args.out.is_some() {
        return Err("--out is not allowed here: the page keeps the run in memory".into());
    }
    let session = Session::new(&args)?;
    let summary = session.summary();
    SESSION.with_borrow_mut(|s| *s = Some(session));
    Ok(summary)
}

/// Runs `f` on the current run, or fails if none was started.
fn with_session<T>(f: impl FnOnce(&mut Session) -> Result<T, String>) -> Result<T, String> {
    SESSION.with_borrow_mut(|s| match s {
        Some(session) => f(session),
        None => Err("no run: call pg_start first".into()),
    })
}

// ANCHOR: step
/// One iteration of the current run: its row (steps, mean return, the
/// update's metrics), the returns of the episodes it finished and the
/// environment steps at the end of each, the mean of
/// the last 100 episodes, and the steps at which the run was solved, if it was.
/// `None` once the run is finished.
pub fn step() -> Result<Option<Value>, String> {
    with_session(|session| {
        if session.finished() {
            return Ok(None);
        }
        let episodes_before = session.log().episodes.len();
        let row = iteration_row(session.step()?);
        let solved = session.solved_at().map(|e| e.env_steps);
        let log = session.log();
        let new = &log.episodes[episodes_before..];
        let returns: Vec<f64> = new.iter().map(|e| e.ret).collect();
        let episode_steps: Vec<usize> = new.iter().map(|e| e.env_steps).collect();
        Ok(Some(json!({
            "row": row,
            "returns": returns,
            "episode_steps": episode_steps,
            "mean_last_100": log.final_mean_return(crate::WINDOW),
            "episodes": log.episodes.len(),
            "solved_at_steps": solved,
            "finished": session.finished(),
        })))
    })
}

// ANCHOR_END: step

/// The current run's summary, as `pg train` prints it.
pub fn summary() -> Result<Value, String> {
    with_session(|session| Ok(session.summary()))
}

/// One episode of the current policy on CartPole, as [x, θ] per state, or
/// an empty list when the run's policy does not act on CartPole.
pub fn frames() -> Result<Value, String> {
    with_session(|session| Ok(json!(session.cartpole_frames().unwrap_or_default())))
}

/// Stores `answer` for the page and returns 0, or stores the error and returns 1.
fn answer(result: Result<Value, String>) -> i32 {
    let (text, code) = match result {
        Ok(value) => (value.to_string(), 0),
        Err(e) => (e, 1),
    };
    TEXT.with_borrow_mut(|t| *t = text);
    code
}

/// `len` bytes of the module's memory for the page to write into (freed by [`pg_free`]).
#[unsafe(no_mangle)]
pub extern "C" fn pg_alloc(len: usize) -> *mut u8 {
    let mut buffer = Vec::<u8>::with_capacity(len);
    let ptr = buffer.as_mut_ptr();
    std::mem::forget(buffer);
    ptr
}

/// Frees what [`pg_alloc`] returned.
///
/// # Safety
/// `ptr` and `len` must be a pointer from [`pg_alloc`] and the length it was given, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pg_free(ptr: *mut u8, len: usize) {
    // SAFETY: the caller passes back a buffer of capacity `len` from `pg_alloc`.
    drop(unsafe { Vec::from_raw_parts(ptr, 0, len) });
}

/// Starts a run from the `len` bytes of UTF-8 flags at `ptr` (see [`start`]).
/// Returns 0 with the summary as the answer, or 1 with the error.
///
/// # Safety
/// `ptr` must point to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pg_start(ptr: *const u8, len: usize) -> i32 {
    // SAFETY: the caller guarantees `len` readable bytes at `ptr`.
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
    answer(std::str::from_utf8(bytes).map_err(|e| format!("the flags are not UTF-8: {e}")).and_then(start))
}

/// One iteration (see [`step`]): 0 with its JSON as the answer, 1 with an
/// error, 2 when the run was already finished.
#[unsafe(no_mangle)]
pub extern "C" fn pg_step() -> i32 {
    match step() {
        Ok(None) => 2,
        Ok(Some(value)) => answer(Ok(value)),
        Err(e) => answer(Err(e)),
    }
}

/// The run's summary as the answer (see [`summary`]); 0, or 1 with an error.
#[unsafe(no_mangle)]
pub extern "C" fn pg_summary() -> i32 {
    answer(summary())
}

/// A CartPole episode of the current policy as the answer (see [`frames`]); 0, or 1 with an error.
#[unsafe(no_mangle)]
pub extern "C" fn pg_frames() -> i32 {
    answer(frames())
}

/// Where the last answer starts in the module's memory.
#[unsafe(no_mangle)]
pub extern "C" fn pg_text_ptr() -> *const u8 {
    TEXT.with_borrow(|t| t.as_ptr())
}

/// The last answer's length in bytes.
#[unsafe(no_mangle)]
pub extern "C" fn pg_text_len() -> usize {
    TEXT.with_borrow(|t| t.len())
}
