//! A tanh written for the networks' hidden layers: the same value as the
//! standard library's to a few units in the last place, but made of
//! multiplications, additions, one division and bit operations, so that a loop over
//! a slice compiles to vector instructions instead of one library call per
//! element (measured in `pg bench` and the speed chapter).

/// log₂ e.
const LOG2_E: f64 = std::f64::consts::LOG2_E;
/// ln 2 split in two: the high part has trailing zero bits, so k · LN2_HI is
/// exact for the |k| ≤ 58 that occur here (Cody and Waite's reduction).
const LN2_HI: f64 = 0.693_147_180_369_123_8;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// 1.5 · 2⁵²: adding it rounds a number of magnitude below 2⁵¹ to an integer.
const ROUND: f64 = 6_755_399_441_055_744.0;
/// n! for n = 0..13.
const FACTORIALS: [f64; 14] = [
    1.0,
    1.0,
    2.0,
    6.0,
    24.0,
    120.0,
    720.0,
    5_040.0,
    40_320.0,
    362_880.0,
    3_628_800.0,
    39_916_800.0,
    479_001_600.0,
    6_227_020_800.0,
];
/// tanh(x) rounds to ±1 beyond this.
const SATURATE: f64 = 20.0;

/// eʸ − 1 for y in [−2·SATURATE, 0], accurate relative to its value also for
/// tiny |y|: y = k ln 2 + r with |r| ≤ ½ ln 2, eʳ − 1 by its Taylor series
/// to r¹³ (remainder below 10⁻¹⁷), then eʸ − 1 = 2ᵏ(eʳ − 1) + (2ᵏ − 1).
/// Only multiplications and additions, each rounded: no fused multiply-add.
/// One would round the same on every platform, but WebAssembly has no
/// instruction for it, and there the library computes it in software, slowly
/// (the Play page runs this code in the browser).
#[inline(always)]
fn expm1_nonpositive(y: f64) -> f64 {
    let shifted = y * LOG2_E + ROUND;
    let kf = shifted - ROUND;
    let k = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i64;
    let r = (y - kf * LN2_HI) - kf * LN2_LO;
    // Σₙ rⁿ⁺¹/(n+1)! for n = 0..12 by Estrin's scheme: pairs, then pairs of
    // pairs, so that the chain of dependent operations is four long, not twelve.
    let c = |n: usize| 1.0 / FACTORIALS[n + 1];
    let (r2, r4) = (r * r, r * r * (r * r));
    let r8 = r4 * r4;
    let pair = |n: usize| r * c(n + 1) + c(n);
    let low = (r2 * pair(2) + pair(0)) + r4 * (r2 * pair(6) + pair(4));
    let high = (r2 * pair(10) + pair(8)) + r4 * c(12);
    let p = r8 * high + low;
    let em1_r = p * r;
    let scale = f64::from_bits(((k + 1023) as u64) << 52);
    // scale is a power of two, so scale · em1_r is exact: one rounding, as in a fused multiply-add.
    scale * em1_r + (scale - 1.0)
}

// ANCHOR: tanh
/// tanh(x) = −m / (2 + m) · sign(x) with m = e^(−2|x|) − 1, which keeps full
/// relative accuracy near 0 (no 1 − e^(−2|x|) cancellation); NaN stays NaN.
#[inline(always)]
pub fn tanh(x: f64) -> f64 {
    let m = expm1_nonpositive(-2.0 * x.abs().min(SATURATE));
    let t = (-m / (2.0 + m)).copysign(x);
    if x.is_nan() { x } else { t }
}

/// tanh of every element, in place. On x86-64 processors with AVX2 the same
/// arithmetic runs four elements per instruction (the operations are
/// identical, so are the results).
pub fn tanh_in_place(xs: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has just been found to support AVX2.
        unsafe { tanh_in_place_avx2(xs) };
        return;
    }
    tanh_in_place_portable(xs);
}

fn tanh_in_place_portable(xs: &mut [f64]) {
    for x in xs {
        *x = tanh(*x);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn tanh_in_place_avx2(xs: &mut [f64]) {
    for x in xs {
        *x = tanh(*x);
    }
}
// ANCHOR_END: tanh

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place.
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn agrees_with_the_standard_library() {
        let mut worst = 0;
        let mut x = 1e-300f64;
        while x < 40.0 {
            for v in [x, -x, x * 1.37, -x * 0.77] {
                let d = ulps(tanh(v), v.tanh());
                assert!(d <= 4, "tanh({v:e}) = {:e}, library {:e}: {d} ulps", tanh(v), v.tanh());
                worst = worst.max(d);
            }
            x *= 1.001;
        }
        assert!(worst >= 1, "the comparison saw rounding differences at all");
    }

    #[test]
    fn every_path_gives_the_same_bits() {
        let xs: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).sin() * 9.0 + 1e-9 * i as f64).collect();
        let (mut a, mut b) = (xs.clone(), xs.clone());
        tanh_in_place(&mut a);
        tanh_in_place_portable(&mut b);
        let one_by_one: Vec<f64> = xs.iter().map(|&x| tanh(x)).collect();
        assert!(
            a.iter()
                .zip(&b)
                .zip(&one_by_one)
                .all(|((x, y), z)| x.to_bits() == y.to_bits() && y.to_bits() == z.to_bits())
        );
    }

    #[test]
    fn ln2_splits_exactly() {
        assert_eq!(LN2_HI.to_bits(), 0x3fe6_2e42_fee0_0000, "the high part ends in zero bits");
        assert_eq!(LN2_HI + LN2_LO, std::f64::consts::LN_2);
    }

    #[test]
    fn special_values() {
        assert_eq!(tanh(0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(tanh(-0.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!(tanh(f64::INFINITY), 1.0);
        assert_eq!(tanh(f64::NEG_INFINITY), -1.0);
        assert!(tanh(f64::NAN).is_nan());
        assert_eq!(tanh(1e-320), 1e-320);
    }
}
