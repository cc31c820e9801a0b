//! The AVX2 kernel of [`Q8Matrix::matmul`] and [`Q4Matrix::matmul`], for x86-64 CPUs without AVX-512
//! VNNI (AMD before Zen 4, most Intel desktop parts): the same packed layout and tiles as `vnni.rs`,
//! with each 64-byte chunk of 16 columns taken as two 256-bit halves of 8.
//!
//! AVX2 has no `vpdpbusd`; `vpmaddubsw` (u8 × i8 → pairs summed into saturating i16) plus `vpmaddwd`
//! against ones does the same 4-products-per-lane sum. For int8 weights the `+ 128` is taken off
//! first and the sign moved onto the activation (`|w| · sign(a, w)`), so a pair sum is at most
//! 2 · 127 · 127 and never saturates; the result is `Σ q·a` itself, without the VNNI correction term.
//! 4-bit weights (0..15) go in as they are. Same integers as the portable path.

use super::q4::{Q4Matrix, PACKED_BLOCK4};
use super::vnni::{dispatch, for_tiles};
use super::{Q8Matrix, Q8Rows, BLOCK, GROUP, PACKED_BLOCK};

/// Whether this CPU runs the kernel (std caches the CPUID answer).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `y = a · Wᵀ`; callers checked shapes and [`available`].
pub fn matmul(w: &Q8Matrix, a: &Q8Rows, m: usize, y: &mut [f32]) {
    for_tiles(w.n, m, y, |r, rows, g, c, y| {
        // SAFETY: `available()` was checked by the caller; the tile stays inside `a`, `w` and the output
        // rectangle of its unit.
        unsafe { dispatch!(tile, rows, c, w, a, r, g, y) }
    });
}

/// `y = a · Wᵀ` for 4-bit weights; callers checked shapes and [`available`].
pub fn matmul4(w: &Q4Matrix, a: &Q8Rows, m: usize, y: &mut [f32]) {
    for_tiles(w.n, m, y, |r, rows, g, c, y| {
        // SAFETY: as in `matmul`.
        unsafe { dispatch!(tile4, rows, c, w, a, r, g, y) }
    });
}

/// Write one group's accumulators (two halves of 8 columns per row) to `y`, cut at column `n`.
///
/// # Safety
/// The CPU has AVX; the rows and the columns below `n` lie inside `y` (`[m, n]`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn store<const R: usize>(
    acc: &[[std::arch::x86_64::__m256; 2]; R],
    n: usize,
    row0: usize,
    g: usize,
    y: *mut f32,
) {
    use std::arch::x86_64::*;
    let col = g * GROUP;
    let valid = (n - col).min(GROUP);
    for (r, acc) in acc.iter().enumerate() {
        let mut row = [0f32; GROUP];
        _mm256_storeu_ps(row.as_mut_ptr(), acc[0]);
        _mm256_storeu_ps(row.as_mut_ptr().add(8), acc[1]);
        std::ptr::copy_nonoverlapping(row.as_ptr(), y.add((row0 + r) * n + col), valid);
    }
}

/// `R` rows from `row0` × `C` column groups from `g0`, int8 weights.
///
/// # Safety
/// The CPU has AVX2 and FMA; `row0 + R <= m`, `g0 + C <= groups`; `y` points at `[m, n]` f32.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile<const R: usize, const C: usize>(
    w: &Q8Matrix,
    a: &Q8Rows,
    row0: usize,
    g0: usize,
    y: *mut f32,
) {
    use std::arch::x86_64::*;
    let kb = w.blocks;
    let (wp, qp) = (w.packed.as_ptr(), a.q.as_ptr());
    let (ones, offset) = (_mm256_set1_epi16(1), _mm256_set1_epi8(-128));
    for g in g0..g0 + C {
        let mut acc = [[_mm256_setzero_ps(); 2]; R];
        for b in 0..kb {
            let mut dot = [[_mm256_setzero_si256(); 2]; R];
            for step in 0..BLOCK / 4 {
                let p = wp.add((g * kb + b) * PACKED_BLOCK + step * GROUP * 4);
                // `u ^ 0x80` is `u - 128` in two's complement: the signed weight.
                let ws = [
                    _mm256_xor_si256(_mm256_loadu_si256(p.cast()), offset),
                    _mm256_xor_si256(_mm256_loadu_si256(p.add(32).cast()), offset),
                ];
                let abs = [_mm256_abs_epi8(ws[0]), _mm256_abs_epi8(ws[1])];
                for (r, dot) in dot.iter_mut().enumerate() {
                    let q = qp.add(((row0 + r) * kb + b) * BLOCK + step * 4);
                    let av = _mm256_set1_epi32(std::ptr::read_unaligned(q.cast::<i32>()));
                    for h in 0..2 {
                        let pairs = _mm256_maddubs_epi16(abs[h], _mm256_sign_epi8(av, ws[h]));
                        dot[h] = _mm256_add_epi32(dot[h], _mm256_madd_epi16(pairs, ones));
                    }
                }
            }
            for (r, (acc, dot)) in acc.iter_mut().zip(&dot).enumerate() {
                let d = _mm256_set1_ps(*a.d.get_unchecked((row0 + r) * kb + b));
                for h in 0..2 {
                    let s = _mm256_loadu_ps(w.scales.as_ptr().add((g * kb + b) * GROUP + h * 8));
                    acc[h] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(dot[h]), d), s, acc[h]);
                }
            }
        }
        store(&acc, w.n, row0, g, y);
    }
}

/// A 4-bit tile: each 64-byte chunk holds two steps (low and high nibbles); the block's sum is
/// `d · Σ q·a + m · Σ a`, as in the VNNI kernel.
///
/// # Safety
/// As for [`tile`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile4<const R: usize, const C: usize>(
    w: &Q4Matrix,
    a: &Q8Rows,
    row0: usize,
    g0: usize,
    y: *mut f32,
) {
    use std::arch::x86_64::*;
    let kb = w.blocks;
    let (wp, qp) = (w.packed.as_ptr(), a.q.as_ptr());
    let (ones, nibble) = (_mm256_set1_epi16(1), _mm256_set1_epi8(0x0f));
    for g in g0..g0 + C {
        let mut acc = [[_mm256_setzero_ps(); 2]; R];
        for b in 0..kb {
            let mut dot = [[_mm256_setzero_si256(); 2]; R];
            for v in 0..4 {
                let p = wp.add((g * kb + b) * PACKED_BLOCK4 + v * GROUP * 4);
                let raw = [_mm256_loadu_si256(p.cast()), _mm256_loadu_si256(p.add(32).cast())];
                let lo = [_mm256_and_si256(raw[0], nibble), _mm256_and_si256(raw[1], nibble)];
                let hi = [
                    _mm256_and_si256(_mm256_srli_epi16(raw[0], 4), nibble),
                    _mm256_and_si256(_mm256_srli_epi16(raw[1], 4), nibble),
                ];
                for (r, dot) in dot.iter_mut().enumerate() {
                    let q = qp.add(((row0 + r) * kb + b) * BLOCK + v * 4);
                    let a_lo = _mm256_set1_epi32(std::ptr::read_unaligned(q.cast::<i32>()));
                    let a_hi = _mm256_set1_epi32(std::ptr::read_unaligned(q.add(16).cast::<i32>()));
                    for h in 0..2 {
                        let pairs = _mm256_add_epi16(
                            _mm256_maddubs_epi16(lo[h], a_lo),
                            _mm256_maddubs_epi16(hi[h], a_hi),
                        );
                        dot[h] = _mm256_add_epi32(dot[h], _mm256_madd_epi16(pairs, ones));
                    }
                }
            }
            for (r, (acc, dot)) in acc.iter_mut().zip(&dot).enumerate() {
                let i = (row0 + r) * kb + b;
                let d = _mm256_set1_ps(*a.d.get_unchecked(i));
                // correction = d_a · 128 · Σq, so Σa = correction / 128.
                let sum = _mm256_set1_ps(*a.correction.get_unchecked(i) * (1.0 / 128.0));
                for h in 0..2 {
                    let j = (g * kb + b) * GROUP + h * 8;
                    let scale = _mm256_loadu_ps(w.scales.as_ptr().add(j));
                    let min = _mm256_loadu_ps(w.mins.as_ptr().add(j));
                    acc[h] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(dot[h]), d), scale, acc[h]);
                    acc[h] = _mm256_fmadd_ps(sum, min, acc[h]);
                }
            }
        }
        store(&acc, w.n, row0, g, y);
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn tile<const R: usize, const C: usize>(_: &Q8Matrix, _: &Q8Rows, _: usize, _: usize, _: *mut f32) {
    unreachable!("the AVX2 kernel is x86-64 only and gated by available()")
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn tile4<const R: usize, const C: usize>(_: &Q4Matrix, _: &Q8Rows, _: usize, _: usize, _: *mut f32) {
    unreachable!("the AVX2 kernel is x86-64 only and gated by available()")
}
