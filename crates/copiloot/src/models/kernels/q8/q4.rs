//! 4-bit weights (Q4_0 / Q4_1 blocks of 32, and Q4_K super-blocks as eight of them: `w = d · q + m`, q in 0..15) times int8 activations, for
//! generation, where every weight byte is read once per token and memory bandwidth sets the speed: the
//! 4-bit blocks of a GGUF are kept as they are (half the bytes of int8), never re-rounded.
//!
//! Layout: like [`super::Q8Matrix`], 16 output columns per group; per (group, block) four 64-byte vectors,
//! whose low nibbles are steps 0–3 of the block (4 inputs × 16 columns each) and high nibbles steps 4–7.
//! `Σ w·a = d · Σ q·a + m · Σ a`, with `Σ a` from the activation quantisation.

use super::decode::f16_at;
use super::{Q8Rows, BLOCK, GROUP};
use crate::error::{Error, Result};
use candle_core::quantized::{GgmlDType, QTensor};
use rayon::prelude::*;

/// Bytes of one packed (group, block): 16 columns × 32 nibbles.
pub(super) const PACKED_BLOCK4: usize = GROUP * BLOCK / 2;

/// A weight matrix `[n outputs, k inputs]` in 4-bit blocks, packed for `Q4Matrix::matmul` (in the parent module, which picks the kernel).
pub struct Q4Matrix {
    pub(super) n: usize,
    pub(super) k: usize,
    pub(super) blocks: usize,
    /// `[group][block][vector: 4][column: 16][4 inputs]`: low nibble step `v`, high nibble step `v + 4`.
    pub(super) packed: Vec<u8>,
    /// `[group][block][column: 16]` scales `d` and minimums `m`; zero for padding columns.
    pub(super) scales: Vec<f32>,
    pub(super) mins: Vec<f32>,
}

/// One block of 32 weights as GGUF stores it: scale, minimum and the 4-bit values.
pub(super) struct Block4 {
    pub(super) d: f32,
    pub(super) m: f32,
    pub(super) q: [u8; BLOCK],
}

/// The 4-bit blocks of a Q4_0 (18 bytes: f16 d, 16 bytes), Q4_1 (20 bytes: f16 d, f16 m, 16 bytes) or
/// Q4_K tensor; in Q4_0/Q4_1 element `j < 16` is the low nibble of byte `j`, element `j + 16` its high
/// nibble. A Q4_K super-block is eight such blocks whose scales and minimums are 6-bit multiples of two
/// f16 values ([`q4_k_blocks`]), so it becomes eight Q4_1-style blocks without rounding anything.
fn blocks_of(t: &QTensor) -> Result<Vec<Block4>> {
    let err = |m: String| Error::Inference(format!("reading a 4-bit GGUF tensor: {m}"));
    let data = t.data().map_err(|e| err(e.to_string()))?;
    let (size, has_min) = match t.dtype() {
        GgmlDType::Q4_0 => (18, false),
        GgmlDType::Q4_1 => (20, true),
        GgmlDType::Q4K => return Ok(data.chunks_exact(Q4_K_BYTES).flat_map(q4_k_blocks).collect()),
        other => return Err(err(format!("{other:?} is not Q4_0, Q4_1 or Q4_K"))),
    };
    Ok(data
        .chunks_exact(size)
        .map(|b| {
            let d = f16_at(b, 0);
            let (m, qs) = if has_min { (f16_at(b, 2), &b[4..20]) } else { (-8.0 * d, &b[2..18]) };
            let mut q = [0u8; BLOCK];
            for (j, &byte) in qs.iter().enumerate() {
                q[j] = byte & 0x0f;
                q[j + 16] = byte >> 4;
            }
            Block4 { d, m, q }
        })
        .collect())
}

/// Bytes of one Q4_K super-block of 256 values: f16 `d`, f16 `dmin`, 12 bytes of packed 6-bit scales and
/// minimums, 128 bytes of nibbles.
const Q4_K_BYTES: usize = 144;

/// The eight blocks of a Q4_K super-block (ggml's layout).
fn q4_k_blocks(b: &[u8]) -> [Block4; 8] {
    std::array::from_fn(|i| q4_k_block(b, i))
}

/// Block `i` of a Q4_K super-block: scale `d · sc[i]` and minimum `-dmin · mn[i]`; blocks `2c` and
/// `2c + 1` are the low and high nibbles of bytes `32c..32c + 32`. (Also what `decode.rs` reads for an
/// int8 matrix holding Q4_K rows.)
pub(super) fn q4_k_block(b: &[u8], i: usize) -> Block4 {
    let (d, dmin, packed, qs) = (f16_at(b, 0), f16_at(b, 2), &b[4..16], &b[16..Q4_K_BYTES]);
    let (sc, mn) = super::decode::scale_min_k4(i, packed);
    let bytes = &qs[(i / 2) * BLOCK..][..BLOCK];
    let shift = 4 * (i % 2);
    Block4 { d: d * sc as f32, m: -dmin * mn as f32, q: std::array::from_fn(|j| (bytes[j] >> shift) & 0x0f) }
}

impl Q4Matrix {
    /// Whether [`Q4Matrix::from_qtensors`] keeps this tensor's blocks as they are.
    pub fn takes(t: &QTensor) -> bool {
        matches!(t.dtype(), GgmlDType::Q4_0 | GgmlDType::Q4_1 | GgmlDType::Q4K)
    }

    /// The rows of several Q4_0 / Q4_1 / Q4_K tensors `[_, k]`, one after the other, as one matrix.
    pub fn from_qtensors(tensors: &[QTensor]) -> Result<Self> {
        let mut rows: Vec<Block4> = Vec::new();
        let mut n = 0;
        let mut k = 0;
        for t in tensors {
            let (r, cols) =
                t.shape().dims2().map_err(|e| Error::Inference(format!("a 4-bit GGUF tensor: {e}")))?;
            if (k != 0 && cols != k) || cols == 0 || !cols.is_multiple_of(BLOCK) {
                return Err(Error::Inference(format!("4-bit tensors of {cols} inputs cannot be stacked")));
            }
            k = cols;
            n += r;
            rows.extend(blocks_of(t)?);
        }
        let blocks = k / BLOCK;
        if n == 0 || rows.len() != n * blocks {
            return Err(Error::Inference("a 4-bit GGUF tensor has the wrong number of blocks".into()));
        }
        let groups = n.div_ceil(GROUP);
        let mut packed = vec![0u8; groups * blocks * PACKED_BLOCK4];
        let mut scales = vec![0f32; groups * blocks * GROUP];
        let mut mins = vec![0f32; groups * blocks * GROUP];
        packed
            .par_chunks_mut(blocks * PACKED_BLOCK4)
            .zip(scales.par_chunks_mut(blocks * GROUP).zip(mins.par_chunks_mut(blocks * GROUP)))
            .enumerate()
            .for_each(|(g, (packed, (scales, mins)))| {
                for col in 0..GROUP.min(n - g * GROUP) {
                    let row = &rows[(g * GROUP + col) * blocks..][..blocks];
                    for (b, block) in row.iter().enumerate() {
                        scales[b * GROUP + col] = block.d;
                        mins[b * GROUP + col] = block.m;
                        let dst = &mut packed[b * PACKED_BLOCK4..][..PACKED_BLOCK4];
                        for v in 0..4 {
                            for j in 0..4 {
                                let (lo, hi) = (block.q[v * 4 + j], block.q[(v + 4) * 4 + j]);
                                dst[v * GROUP * 4 + col * 4 + j] = lo | (hi << 4);
                            }
                        }
                    }
                }
            });
        Ok(Self { n, k, blocks, packed, scales, mins })
    }

    pub fn rows(&self) -> usize {
        self.n
    }

    pub fn cols(&self) -> usize {
        self.k
    }

    /// The same product in plain Rust (CPUs without AVX-512 VNNI or AVX2, and the kernels' test reference).
    pub(super) fn matmul_portable(&self, a: &Q8Rows, m: usize, y: &mut [f32]) {
        let (n, kb) = (self.n, self.blocks);
        y[..m * n].par_chunks_mut(n).enumerate().for_each(|(r, out)| {
            for (g, out) in out.chunks_mut(GROUP).enumerate() {
                let mut acc = [0f32; GROUP];
                for b in 0..kb {
                    let w = &self.packed[(g * kb + b) * PACKED_BLOCK4..][..PACKED_BLOCK4];
                    let q = &a.q[(r * kb + b) * BLOCK..][..BLOCK];
                    let mut dot = [0i32; GROUP];
                    for (v, w) in w.chunks_exact(GROUP * 4).enumerate() {
                        for (dot, w) in dot.iter_mut().zip(w.chunks_exact(4)) {
                            for j in 0..4 {
                                *dot += (w[j] & 0x0f) as i32 * q[v * 4 + j] as i32
                                    + (w[j] >> 4) as i32 * q[(v + 4) * 4 + j] as i32;
                            }
                        }
                    }
                    let i = (g * kb + b) * GROUP;
                    let (da, sum) = (a.d[r * kb + b], a.correction[r * kb + b] / 128.0);
                    for col in 0..GROUP {
                        acc[col] += dot[col] as f32 * da * self.scales[i + col] + sum * self.mins[i + col];
                    }
                }
                out.copy_from_slice(&acc[..out.len()]);
            }
        });
    }
}
