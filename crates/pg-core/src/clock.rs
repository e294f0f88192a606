//! Wall-clock time for the training logs, on every platform the crates build
//! for. `std::time::Instant` has no clock on `wasm32-unknown-unknown` (it
//! panics when read), so there a [`Stopwatch`] reads the host's clock through
//! one imported function, `pg.now_seconds`, which the page (or any other host
//! of the WebAssembly module) provides, e.g. `() => performance.now() / 1000`.

/// Seconds since the stopwatch started.
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch {
    #[cfg(not(target_arch = "wasm32"))]
    start: std::time::Instant,
    #[cfg(target_arch = "wasm32")]
    start: f64,
}

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "pg")]
unsafe extern "C" {
    /// The host's monotonic clock, in seconds.
    safe fn now_seconds() -> f64;
}

impl Stopwatch {
    /// Starts now.
    pub fn start() -> Self {
        #[cfg(not(target_arch = "wasm32"))]
        return Self { start: std::time::Instant::now() };
        #[cfg(target_arch = "wasm32")]
        return Self { start: now_seconds() };
    }

    /// Seconds since [`Stopwatch::start`].
    pub fn seconds(&self) -> f64 {
        #[cfg(not(target_arch = "wasm32"))]
        return self.start.elapsed().as_secs_f64();
        #[cfg(target_arch = "wasm32")]
        return (now_seconds() - self.start).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_start_near_zero_and_never_decrease() {
        let watch = Stopwatch::start();
        let first = watch.seconds();
        let second = watch.seconds();
        assert!((0.0..1.0).contains(&first), "{first}");
        assert!(second >= first);
    }
}
