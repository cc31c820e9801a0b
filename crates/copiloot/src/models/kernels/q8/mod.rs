//! int8 matrix products with Q8_0 semantics — weights and activations in blocks of 32 values with one
//! f32 scale each — for the encoder's and the generator's linear layers.
//!
//! Why our own and not candle's `QMatMul`: candle's fast x86 path for Q8_0 wants rows that are a multiple
//! of 256 wide (384-wide BERT rows then carry a third of zeros, and SmolLM2's 576-wide rows miss it
//! altogether), and it quantises the activations on one thread with a scalar `roundf` — a quarter of the
//! encoder's time in q8. Here any width runs the fast path (a last partial block is zero-padded), activations are
//! quantised in parallel, and the same packed weights serve one row (generation) and many (prompts,
//! batches).
//!
//! Layout: output columns are packed in groups of 16, so one AVX-512 VNNI instruction (`vpdpbusd`)
//! multiplies 4 inputs of one activation row into 16 columns at once. Weights are stored as `w + 128`
//! (unsigned, as `vpdpbusd` wants its first operand); the `128 · Σa` this adds is subtracted per block.
//! Without VNNI, `avx2.rs` runs the same layout with AVX2 (`vpmaddubsw`), and without either, portable
//! Rust: same integers, same result up to float rounding order.

// The modules with `unsafe`: AVX-512 and AVX2 intrinsics, behind CPUID checks.
#[allow(unsafe_code)]
mod avx2;
mod decode;
mod q4;
#[allow(unsafe_code)]
mod vnni;

pub use q4::Q4Matrix;

use crate::error::{Error, Result};
use candle_core::quantized::{GgmlDType, QTensor};
use rayon::prelude::*;

/// Values per quantisation block (Q8_0's).
pub const BLOCK: usize = 32;
/// Output columns per packed group: one 512-bit vector of i32 / f32.
const GROUP: usize = 16;
/// Bytes of one packed (group, block): 16 columns × 32 values.
const PACKED_BLOCK: usize = GROUP * BLOCK;

/// A weight matrix `[n outputs, k inputs]` in int8 blocks, packed for [`Q8Matrix::matmul`].
pub struct Q8Matrix {
    n: usize,
    k: usize,
    /// Blocks per row: `⌈k / 32⌉`.
    blocks: usize,
    /// `[group][block][step of 4 inputs: 8][column: 16][4 inputs]`, each value `q + 128`.
    packed: Vec<u8>,
    /// `[group][block][column: 16]`; zero for the padding columns of the last group.
    scales: Vec<f32>,
}

/// Activation rows quantised per block of 32: the int8 values, each block's scale `d`, and the
/// correction `d · 128 · Σq` that undoes the `+ 128` of the packed weights.
pub(crate) struct Q8Rows {
    q: Vec<i8>,
    d: Vec<f32>,
    correction: Vec<f32>,
}

/// Round to nearest (ties to even) without a libm call, so the loop vectorises on plain SSE2; exact for
/// |x| < 2^22, and quantised values are at most 127.
#[inline(always)]
fn round(x: f32) -> f32 {
    const SHIFT: f32 = 12_582_912.0; // 1.5 · 2^23
    (x + SHIFT) - SHIFT
}

/// Quantise one block of up to 32 values into `q` (zero-filled beyond the input); returns its scale and Σq.
#[inline(always)]
fn quantize_block(x: &[f32], q: &mut [i8]) -> (f32, i32) {
    let max = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let d = max / 127.0;
    let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
    let mut sum = 0i32;
    for (i, q) in q.iter_mut().enumerate() {
        let v = x.get(i).map_or(0, |v| round(v * inv) as i32);
        sum += v;
        *q = v as i8;
    }
    (d, sum)
}

impl Q8Matrix {
    /// Quantise a row-major `[n, k]` f32 matrix (PyTorch's `[out, in]`). A `k` that is not a multiple of
    /// 32 ends in a zero-padded block.
    pub fn from_f32(w: &[f32], n: usize, k: usize) -> Result<Self> {
        if n == 0 || k == 0 || w.len() != n * k {
            return Err(Error::Inference(format!(
                "an int8 matrix needs n x k values; got {} values for {n}x{k}",
                w.len()
            )));
        }
        Ok(Self::pack(n, k, |row, b, q| {
            let x = &w[row * k..(row + 1) * k];
            quantize_block(&x[b * BLOCK..((b + 1) * BLOCK).min(k)], q).0
        }))
    }

    /// Whether [`Q8Matrix::from_qtensors`] reads tensors of this type.
    pub fn reads(dtype: GgmlDType) -> bool {
        decode::layout(dtype).is_some()
    }

    /// The rows of several tensors `[_, k]` one after the other, read block by block: Q8_0 keeps its
    /// integers and scales as they are; the other types [`Q8Matrix::reads`] are decoded 32 values at a
    /// time and rounded to int8 — the same matrix as [`Q8Matrix::from_f32`] of the de-quantised
    /// weights, without the f32 copy of the whole tensor (a model's load time and memory peak).
    pub fn from_qtensors(tensors: &[QTensor]) -> Result<Self> {
        let err = |m: String| Error::Inference(format!("reading a GGUF tensor: {m}"));
        let mut parts = Vec::new();
        let (mut n, mut k) = (0, 0);
        for t in tensors {
            let (r, cols) = t.shape().dims2().map_err(|e| err(e.to_string()))?;
            let Some((bytes, values)) = decode::layout(t.dtype()) else {
                return Err(err(format!("{:?} is not a type read block by block", t.dtype())));
            };
            if (k != 0 && cols != k) || cols == 0 || !cols.is_multiple_of(values) {
                return Err(err(format!("tensors of {cols} and {k} inputs cannot be stacked")));
            }
            let data = t.data().map_err(|e| err(e.to_string()))?;
            if data.len() != r * (cols / values) * bytes {
                return Err(err(format!("a {:?} tensor has the wrong number of bytes", t.dtype())));
            }
            parts.push((n, t.dtype(), bytes, values, data));
            k = cols;
            n += r;
        }
        if n == 0 {
            return Err(err("no rows".into()));
        }
        Ok(Self::pack(n, k, |row, b, q| {
            // The tensor holding `row`: the last whose first row is at or before it.
            let at = parts.partition_point(|p| p.0 <= row) - 1;
            let (first, dtype, bytes, values, data) = &parts[at];
            let per_row = k / values;
            let (stored, sub) = ((row - first) * per_row + b * BLOCK / values, (b * BLOCK % values) / BLOCK);
            let block = &data[stored * bytes..][..*bytes];
            if *dtype == GgmlDType::Q8_0 {
                q.iter_mut().zip(&block[2..]).for_each(|(q, &v)| *q = v as i8);
                return decode::f16_at(block, 0);
            }
            let mut x = [0f32; BLOCK];
            decode::values(*dtype, block, sub, &mut x);
            quantize_block(&x, q).0
        }))
    }

    /// Pack `[n, k]` weights whose block `b` of row `row` `block` writes as 32 int8 values (zero-padded)
    /// and returns the scale of.
    fn pack(n: usize, k: usize, block: impl Fn(usize, usize, &mut [i8; BLOCK]) -> f32 + Sync) -> Self {
        let blocks = k.div_ceil(BLOCK);
        let groups = n.div_ceil(GROUP);
        let mut packed = vec![128u8; groups * blocks * PACKED_BLOCK];
        let mut scales = vec![0f32; groups * blocks * GROUP];
        // One group (16 weight rows) at a time, on all cores: quantising is most of a model's load time.
        packed
            .par_chunks_mut(blocks * PACKED_BLOCK)
            .zip(scales.par_chunks_mut(blocks * GROUP))
            .enumerate()
            .for_each(|(g, (packed, scales))| {
                let mut q = [0i8; BLOCK];
                for col in 0..GROUP.min(n - g * GROUP) {
                    for b in 0..blocks {
                        scales[b * GROUP + col] = block(g * GROUP + col, b, &mut q);
                        let dst = &mut packed[b * PACKED_BLOCK..(b + 1) * PACKED_BLOCK];
                        for (i, &v) in q.iter().enumerate() {
                            dst[(i / 4) * GROUP * 4 + col * 4 + i % 4] = (v as i16 + 128) as u8;
                        }
                    }
                }
            });
        Self { n, k, blocks, packed, scales }
    }

    /// Outputs (`n`).
    pub fn rows(&self) -> usize {
        self.n
    }

    /// Inputs (`k`).
    pub fn cols(&self) -> usize {
        self.k
    }

    /// Weight row `i` de-quantised into `out` (`k` values): an embedding lookup in a tied table.
    pub fn row(&self, i: usize, out: &mut [f32]) {
        if i >= self.n || out.len() < self.k {
            return;
        }
        let (g, col) = (i / GROUP, i % GROUP);
        for b in 0..self.blocks {
            let base = (g * self.blocks + b) * PACKED_BLOCK;
            let d = self.scales[(g * self.blocks + b) * GROUP + col];
            for (j, o) in out[b * BLOCK..((b + 1) * BLOCK).min(self.k)].iter_mut().enumerate() {
                let u = self.packed[base + (j / 4) * GROUP * 4 + col * 4 + j % 4];
                *o = (u as i32 - 128) as f32 * d;
            }
        }
    }

    /// `y = x · Wᵀ`: `x` is `[m, k]` row-major, `y` is `[m, n]` (overwritten).
    pub fn matmul(&self, x: &[f32], m: usize, y: &mut [f32]) -> Result<()> {
        let Some(a) = Q8Rows::for_product(x, m, self.k, y.len(), self.n)? else { return Ok(()) };
        if vnni::available() {
            vnni::matmul(self, &a, m, y);
        } else if avx2::available() {
            avx2::matmul(self, &a, m, y);
        } else {
            self.matmul_portable(&a, m, y);
        }
        Ok(())
    }

    /// The same product in plain Rust, row by row on all cores (CPUs without AVX-512 VNNI or AVX2, and
    /// the reference the kernels are tested against).
    fn matmul_portable(&self, a: &Q8Rows, m: usize, y: &mut [f32]) {
        let (n, kb) = (self.n, self.blocks);
        y[..m * n].par_chunks_mut(n).enumerate().for_each(|(r, out)| {
            for (g, out) in out.chunks_mut(GROUP).enumerate() {
                let mut acc = [0f32; GROUP];
                for b in 0..kb {
                    let w = &self.packed[(g * kb + b) * PACKED_BLOCK..][..PACKED_BLOCK];
                    let q = &a.q[(r * kb + b) * BLOCK..][..BLOCK];
                    let mut dot = [0i32; GROUP];
                    for (step, w) in w.chunks_exact(GROUP * 4).enumerate() {
                        let q = &q[step * 4..step * 4 + 4];
                        for (dot, w) in dot.iter_mut().zip(w.chunks_exact(4)) {
                            *dot += (0..4).map(|j| w[j] as i32 * q[j] as i32).sum::<i32>();
                        }
                    }
                    let (d, c) = (a.d[r * kb + b], a.correction[r * kb + b]);
                    let s = &self.scales[(g * kb + b) * GROUP..][..GROUP];
                    for col in 0..GROUP {
                        acc[col] += (dot[col] as f32 * d - c) * s[col];
                    }
                }
                out.copy_from_slice(&acc[..out.len()]);
            }
        });
    }
}

impl Q8Rows {
    /// Below this many rows quantising stays on the calling thread.
    const PAR_MIN_ROWS: usize = 16;

    /// The quantised `x` (`[m, k]`) for a product into `y_len` outputs of `n` columns, after checking the
    /// shapes; `None` when there are no rows.
    pub(crate) fn for_product(x: &[f32], m: usize, k: usize, y_len: usize, n: usize) -> Result<Option<Self>> {
        if x.len() != m * k || y_len != m * n {
            return Err(Error::Inference(format!(
                "internal: a product of [{m}, {k}] by [{n}, {k}]ᵀ got {} inputs and {y_len} outputs",
                x.len()
            )));
        }
        Ok((m > 0).then(|| Self::quantize(x, m, k)))
    }

    fn quantize(x: &[f32], m: usize, k: usize) -> Self {
        let kb = k.div_ceil(BLOCK);
        let mut q = vec![0i8; m * kb * BLOCK];
        let mut d = vec![0f32; m * kb];
        let mut correction = vec![0f32; m * kb];
        // Full blocks on an AVX-512 CPU take the vector path; its rounding (to nearest even) is ours too.
        let row: RowQuantizer =
            if k.is_multiple_of(BLOCK) && vnni::available() { vnni::quantize_row } else { quantize_row };
        if m >= Self::PAR_MIN_ROWS {
            x.par_chunks(k)
                .zip(q.par_chunks_mut(kb * BLOCK))
                .zip(d.par_chunks_mut(kb).zip(correction.par_chunks_mut(kb)))
                .for_each(|((x, q), (d, c))| row(x, q, d, c));
        } else {
            x.chunks(k)
                .zip(q.chunks_mut(kb * BLOCK))
                .zip(d.chunks_mut(kb).zip(correction.chunks_mut(kb)))
                .for_each(|((x, q), (d, c))| row(x, q, d, c));
        }
        Self { q, d, correction }
    }
}

/// Quantises one activation row: int8 blocks into `q`, their scales into `d`, corrections into `c`.
type RowQuantizer = fn(&[f32], &mut [i8], &mut [f32], &mut [f32]);

/// [`RowQuantizer`] in plain Rust.
fn quantize_row(x: &[f32], q: &mut [i8], d: &mut [f32], c: &mut [f32]) {
    for (((x, q), d), c) in x.chunks(BLOCK).zip(q.chunks_exact_mut(BLOCK)).zip(d).zip(c) {
        let (scale, sum) = quantize_block(x, q);
        *d = scale;
        *c = scale * 128.0 * sum as f32;
    }
}

impl Q4Matrix {
    /// `y = x · Wᵀ`: `x` is `[m, k]` row-major, `y` is `[m, n]` (overwritten). Here, not in `q4`, so the
    /// kernels depend on the 4-bit layout and not the other way round.
    pub fn matmul(&self, x: &[f32], m: usize, y: &mut [f32]) -> Result<()> {
        let Some(a) = Q8Rows::for_product(x, m, self.k, y.len(), self.n)? else { return Ok(()) };
        if vnni::available() {
            vnni::matmul4(self, &a, m, y);
        } else if avx2::available() {
            avx2::matmul4(self, &a, m, y);
        } else {
            self.matmul_portable(&a, m, y);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
