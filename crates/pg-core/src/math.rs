//! The elementary functions every run uses, from one library (`libm`, pure
//! Rust) on every platform. The standard library's `f64::exp`, `ln`, `sin`
//! and `cos` call the platform's C library natively and a different
//! implementation in WebAssembly; both are accurate to within an ulp, but
//! not always the same ulp, and a single differing bit sends a training run
//! down another path. With these, the browser's run and `pg train`'s compute
//! the same bits (checked by the Play page's browser test).

/// eˣ.
#[inline]
pub fn exp(x: f64) -> f64 {
    libm::exp(x)
}

/// The natural logarithm ln x.
#[inline]
pub fn ln(x: f64) -> f64 {
    libm::log(x)
}

/// sin x (x in radians).
#[inline]
pub fn sin(x: f64) -> f64 {
    libm::sin(x)
}

/// cos x (x in radians).
#[inline]
pub fn cos(x: f64) -> f64 {
    libm::cos(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place.
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn agree_with_the_standard_library_to_an_ulp() {
        for i in -2000..2000 {
            let x = i as f64 * 0.01 + 0.003;
            assert!(ulps(exp(x), x.exp()) <= 1, "exp({x})");
            assert!(ulps(sin(x), x.sin()) <= 1, "sin({x})");
            assert!(ulps(cos(x), x.cos()) <= 1, "cos({x})");
            let y = x.abs() + 1e-3;
            assert!(ulps(ln(y), y.ln()) <= 1, "ln({y})");
        }
    }
}
