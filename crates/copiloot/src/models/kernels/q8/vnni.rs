//! The AVX-512 VNNI kernel of [`Q8Matrix::matmul`]: tiles of 4 activation rows × 32 output columns,
//! split over the cores in strips that write disjoint parts of the output.
//!
//! Per block of 32 inputs a tile does 8 steps; each step loads 64 bytes of packed weights per 16
//! columns and broadcasts 4 activation bytes per row, and `vpdpbusd` adds those 4 products into each of
//! the 16 columns. After the block the integer sums are scaled (`d_a · sum − correction`, times the
//! column scales) into f32 accumulators, so rounding happens once per block, as in Q8_0.

use super::q4::{Q4Matrix, PACKED_BLOCK4};
use super::{Q8Matrix, Q8Rows, BLOCK, GROUP, PACKED_BLOCK};
use rayon::prelude::*;

/// Whether this CPU runs the kernel (checked once; std caches the CPUID answer).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// [`super::RowQuantizer`] with AVX-512 for rows of whole blocks: the same integers as the portable path
/// (`vcvtps2dq` rounds to nearest even, as `round` there does).
pub fn quantize_row(x: &[f32], q: &mut [i8], d: &mut [f32], c: &mut [f32]) {
    for (((x, q), d), c) in x.chunks_exact(BLOCK).zip(q.chunks_exact_mut(BLOCK)).zip(d).zip(c) {
        // SAFETY: `available()` was checked by the caller; `x` and `q` hold one whole block each.
        let (scale, sum) = unsafe { quantize_block(x, q) };
        *d = scale;
        *c = scale * 128.0 * sum as f32;
    }
}

/// # Safety
/// The CPU has AVX-512 F/BW; `x` and `q` are at least 32 long.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn quantize_block(x: &[f32], q: &mut [i8]) -> (f32, i32) {
    use std::arch::x86_64::*;
    let (lo, hi) = (_mm512_loadu_ps(x.as_ptr()), _mm512_loadu_ps(x.as_ptr().add(16)));
    let max = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(lo), _mm512_abs_ps(hi)));
    let d = max / 127.0;
    let inv = _mm512_set1_ps(if d > 0.0 { 1.0 / d } else { 0.0 });
    let (lo, hi) = (_mm512_cvtps_epi32(_mm512_mul_ps(lo, inv)), _mm512_cvtps_epi32(_mm512_mul_ps(hi, inv)));
    _mm_storeu_si128(q.as_mut_ptr().cast(), _mm512_cvtepi32_epi8(lo));
    _mm_storeu_si128(q.as_mut_ptr().add(16).cast(), _mm512_cvtepi32_epi8(hi));
    (d, _mm512_reduce_add_epi32(_mm512_add_epi32(lo, hi)))
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn quantize_block(_: &[f32], _: &mut [i8]) -> (f32, i32) {
    unreachable!("the VNNI kernel is x86-64 only and gated by available()")
}

/// Rows and groups of one tile.
const TILE_ROWS: usize = 4;
const TILE_GROUPS: usize = 2;
/// Rows of one unit of parallel work; a unit walks its groups and, for each pair, all its rows, so
/// the pair's weights stay in L1/L2 while they are reused.
const STRIP_ROWS: usize = 32;

/// The output pointer shared by the units; each unit writes only its own rows × columns.
#[derive(Clone, Copy)]
struct Out(*mut f32);
// SAFETY: units write disjoint rectangles of the output (see `matmul`), and the pointer outlives them.
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

impl Out {
    /// Through a method, so closures capture the whole `Out` (Send + Sync), not its raw field.
    fn ptr(self) -> *mut f32 {
        self.0
    }
}

/// Calls `tile(row0, rows, g0, groups, y)` for every tile of an `[m, n]` output, spread over the cores in
/// units that write disjoint rectangles of `y`.
pub(super) fn for_tiles(
    n: usize,
    m: usize,
    y: &mut [f32],
    tile: impl Fn(usize, usize, usize, usize, *mut f32) + Sync,
) {
    let groups = n.div_ceil(GROUP);
    // Few rows (generation): split the columns finely so both cores share the weight stream.
    let strip_groups = if m <= TILE_ROWS { TILE_GROUPS } else { 8 };
    let row_strips = m.div_ceil(STRIP_ROWS);
    let group_strips = groups.div_ceil(strip_groups);
    let out = Out(y.as_mut_ptr());
    let unit = |u: usize| {
        let (rs, gs) = (u / group_strips * STRIP_ROWS, u % group_strips * strip_groups);
        let (re, ge) = ((rs + STRIP_ROWS).min(m), (gs + strip_groups).min(groups));
        let y = out.ptr();
        for g in (gs..ge).step_by(TILE_GROUPS) {
            for r in (rs..re).step_by(TILE_ROWS) {
                tile(r, (re - r).min(TILE_ROWS), g, (ge - g).min(TILE_GROUPS), y);
            }
        }
    };
    let units = row_strips * group_strips;
    if units == 1 {
        unit(0);
    } else {
        (0..units).into_par_iter().for_each(unit);
    }
}

/// Dispatch `(rows, groups)` to the monomorphised tile `$f::<R, C>`.
macro_rules! dispatch {
    ($f:ident, $rows:expr, $c:expr, $($arg:expr),*) => {
        match ($rows, $c) {
            (4, 2) => $f::<4, 2>($($arg),*),
            (3, 2) => $f::<3, 2>($($arg),*),
            (2, 2) => $f::<2, 2>($($arg),*),
            (1, 2) => $f::<1, 2>($($arg),*),
            (4, _) => $f::<4, 1>($($arg),*),
            (3, _) => $f::<3, 1>($($arg),*),
            (2, _) => $f::<2, 1>($($arg),*),
            _ => $f::<1, 1>($($arg),*),
        }
    };
}
pub(super) use dispatch;

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

/// A 4-bit tile: like [`tile`], but each 64-byte load holds two steps (low and high nibbles), and the
/// block's sum is `d · Σ q·a + m · Σ a`.
///
/// # Safety
/// As for [`tile`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn tile4<const R: usize, const C: usize>(
    w: &Q4Matrix,
    a: &Q8Rows,
    row0: usize,
    g0: usize,
    y: *mut f32,
) {
    use std::arch::x86_64::*;
    let kb = w.blocks;
    let wp = w.packed.as_ptr();
    let qp = a.q.as_ptr();
    let nibble = _mm512_set1_epi8(0x0f);
    let mut acc = [[_mm512_setzero_ps(); C]; R];
    for b in 0..kb {
        let mut dot = [[_mm512_setzero_si512(); C]; R];
        for v in 0..4 {
            let mut lo = [_mm512_setzero_si512(); C];
            let mut hi = [_mm512_setzero_si512(); C];
            for c in 0..C {
                let p = wp.add(((g0 + c) * kb + b) * PACKED_BLOCK4 + v * GROUP * 4);
                let raw = _mm512_loadu_si512(p.cast());
                lo[c] = _mm512_and_si512(raw, nibble);
                hi[c] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), nibble);
            }
            for (r, dot) in dot.iter_mut().enumerate() {
                let p = qp.add(((row0 + r) * kb + b) * BLOCK + v * 4);
                let a_lo = _mm512_set1_epi32(std::ptr::read_unaligned(p.cast::<i32>()));
                let a_hi = _mm512_set1_epi32(std::ptr::read_unaligned(p.add(16).cast::<i32>()));
                for c in 0..C {
                    dot[c] = _mm512_dpbusd_epi32(dot[c], lo[c], a_lo);
                    dot[c] = _mm512_dpbusd_epi32(dot[c], hi[c], a_hi);
                }
            }
        }
        for (r, (acc, dot)) in acc.iter_mut().zip(&dot).enumerate() {
            let i = (row0 + r) * kb + b;
            let d = _mm512_set1_ps(*a.d.get_unchecked(i));
            // correction = d_a · 128 · Σq, so Σa = correction / 128.
            let sum = _mm512_set1_ps(*a.correction.get_unchecked(i) * (1.0 / 128.0));
            for (c, (acc, dot)) in acc.iter_mut().zip(dot).enumerate() {
                let j = ((g0 + c) * kb + b) * GROUP;
                let scale = _mm512_loadu_ps(w.scales.as_ptr().add(j));
                let min = _mm512_loadu_ps(w.mins.as_ptr().add(j));
                *acc = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(*dot), d), scale, *acc);
                *acc = _mm512_fmadd_ps(sum, min, *acc);
            }
        }
    }
    store(&acc, w.n, row0, g0, y);
}

/// Write a tile's accumulators to `y` (`[m, n]`), masking the columns past `n`.
///
/// # Safety
/// The CPU has AVX-512 F; the tile's rows and columns (up to `n`) lie inside `y`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn store<const R: usize, const C: usize>(
    acc: &[[std::arch::x86_64::__m512; C]; R],
    n: usize,
    row0: usize,
    g0: usize,
    y: *mut f32,
) {
    use std::arch::x86_64::*;
    for (r, acc) in acc.iter().enumerate() {
        for (c, acc) in acc.iter().enumerate() {
            let col = (g0 + c) * GROUP;
            let valid = (n - col).min(GROUP);
            let mask: __mmask16 = if valid == GROUP { 0xffff } else { (1u16 << valid) - 1 };
            _mm512_mask_storeu_ps(y.add((row0 + r) * n + col), mask, *acc);
        }
    }
}

/// `R` rows from `row0` × `C` column groups from `g0`.
///
/// # Safety
/// The CPU has AVX-512 F/BW/VNNI; `row0 + R <= m`, `g0 + C <= groups`; `y` points at `[m, n]` f32.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn tile<const R: usize, const C: usize>(
    w: &Q8Matrix,
    a: &Q8Rows,
    row0: usize,
    g0: usize,
    y: *mut f32,
) {
    use std::arch::x86_64::*;
    let kb = w.blocks;
    let wp = w.packed.as_ptr();
    let qp = a.q.as_ptr();
    let mut acc = [[_mm512_setzero_ps(); C]; R];
    for b in 0..kb {
        let mut dot = [[_mm512_setzero_si512(); C]; R];
        for step in 0..BLOCK / 4 {
            let mut wv = [_mm512_setzero_si512(); C];
            for (c, wv) in wv.iter_mut().enumerate() {
                let p = wp.add(((g0 + c) * kb + b) * PACKED_BLOCK + step * GROUP * 4);
                *wv = _mm512_loadu_si512(p.cast());
            }
            for (r, dot) in dot.iter_mut().enumerate() {
                let p = qp.add(((row0 + r) * kb + b) * BLOCK + step * 4);
                let av = _mm512_set1_epi32(std::ptr::read_unaligned(p.cast::<i32>()));
                for (dot, wv) in dot.iter_mut().zip(&wv) {
                    *dot = _mm512_dpbusd_epi32(*dot, *wv, av);
                }
            }
        }
        for (r, (acc, dot)) in acc.iter_mut().zip(&dot).enumerate() {
            let i = (row0 + r) * kb + b;
            let d = _mm512_set1_ps(*a.d.get_unchecked(i));
            let corr = _mm512_set1_ps(*a.correction.get_unchecked(i));
            for (c, (acc, dot)) in acc.iter_mut().zip(dot).enumerate() {
                let s = _mm512_loadu_ps(w.scales.as_ptr().add(((g0 + c) * kb + b) * GROUP));
                let t = _mm512_fmsub_ps(_mm512_cvtepi32_ps(*dot), d, corr);
                *acc = _mm512_fmadd_ps(t, s, *acc);
            }
        }
    }
    store(&acc, w.n, row0, g0, y);
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn tile<const R: usize, const C: usize>(_: &Q8Matrix, _: &Q8Rows, _: usize, _: usize, _: *mut f32) {
    unreachable!("the VNNI kernel is x86-64 only and gated by available()")
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn tile4<const R: usize, const C: usize>(_: &Q4Matrix, _: &Q8Rows, _: usize, _: usize, _: *mut f32) {
    unreachable!("the VNNI kernel is x86-64 only and gated by available()")
}
