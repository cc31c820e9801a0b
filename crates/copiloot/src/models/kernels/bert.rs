//! The fused non-matmul steps of the encoder, in plain Rust over row-major `f32` slices.
//!
//! Written branch-free over whole rows so the compiler vectorises them without `unsafe` or target
//! flags: `exp` and `erf` are polynomial / rational approximations (error below 1e-6), and every
//! reduction keeps 8 independent partial sums. Each step reads its inputs once and writes one output,
//! replacing chains of candle ops that allocate and sweep memory once per op. Rows may be stored wider
//! than they are (`stride`). The per-row work is also compiled for AVX-512 ([`wide_fn!`]) and picked by
//! CPUID.

use crate::models::kernels::simd::wide_fn;
use rayon::prelude::*;

/// Below this many rows a step runs on the calling thread: waking the pool costs more than it saves.
const PAR_MIN_ROWS: usize = 48;

/// `e^x` for `x` in about [-87, 88] (clamped outside), relative error ~2e-7 (Cephes `expf`).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // n = round(x / ln 2) by the 1.5·2^23 trick: no rounding call, so loops vectorise on plain SSE2.
    const SHIFT: f32 = 12_582_912.0;
    let n = (x * std::f32::consts::LOG2_E + SHIFT) - SHIFT;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(((n as i32 + 127) << 23) as u32)
}

/// The error function, rational approximation on [-4, 4] (±1 beyond), max error ~1e-7 (as in XLA / Eigen).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10_f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 + -2.101_024e-6;
    p = p * x2 + -5.692_506_4e-5;
    p = p * x2 + -7.349_906_3e-4;
    p = p * x2 + -2.954_6e-3;
    p = p * x2 + -1.609_603_3e-2;
    let mut q = -1.456_607_2e-5_f32;
    q = q * x2 + -2.133_740_6e-4;
    q = q * x2 + -1.682_827e-3;
    q = q * x2 + -7.373_329e-3;
    q = q * x2 + -1.426_474e-2;
    x * p / q
}

/// The feed-forward activations BERT-family configs name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `gelu`: the exact (erf) form.
    Gelu,
    /// `gelu_new` / `gelu_pytorch_tanh`: the tanh approximation.
    GeluTanh,
    Relu,
}

impl Activation {
    #[inline(always)]
    fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Gelu => 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2)),
            Activation::GeluTanh => {
                let u = 0.797_884_6 * (x + 0.044_715 * x * x * x);
                // tanh(u) = 1 - 2 / (e^{2u} + 1)
                0.5 * x * (2.0 - 2.0 / (exp(2.0 * u) + 1.0))
            }
            Activation::Relu => x.max(0.0),
        }
    }
}

/// Sum with 8 partial sums, so the loop vectorises (a single accumulator is a serial chain).
#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = xs.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Apply `f` to matching rows of `out` (width `out_stride`) and `inp` (width `in_stride`), in parallel
/// when there are enough rows.
fn for_rows<F>(out: &mut [f32], out_stride: usize, inp: &[f32], in_stride: usize, f: F)
where
    F: Fn(usize, &mut [f32], &[f32]) + Sync + Send,
{
    let rows = out.len() / out_stride.max(1);
    if rows < PAR_MIN_ROWS {
        for (r, (o, i)) in out.chunks_mut(out_stride).zip(inp.chunks(in_stride)).enumerate() {
            f(r, o, i);
        }
    } else {
        out.par_chunks_mut(out_stride)
            .zip(inp.par_chunks(in_stride))
            .enumerate()
            .with_min_len(16)
            .for_each(|(r, (o, i))| f(r, o, i));
    }
}

/// Layer-norm weights.
pub struct LayerNorm {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub eps: f32,
}

impl LayerNorm {
    /// Normalise `row[..n]` in place (n = gamma's length); the padding after it is zeroed.
    #[inline(always)]
    fn normalise(&self, row: &mut [f32]) {
        let n = self.gamma.len().min(row.len());
        let (vals, pad) = row.split_at_mut(n);
        let mean = sum(vals) / n as f32;
        let mut sq = [0f32; 8];
        let chunks = vals.chunks_exact(8);
        let tail: f32 = chunks.remainder().iter().map(|v| (v - mean) * (v - mean)).sum();
        for c in chunks {
            for (a, v) in sq.iter_mut().zip(c) {
                *a += (v - mean) * (v - mean);
            }
        }
        let var = (sq.iter().sum::<f32>() + tail) / n as f32;
        let inv = 1.0 / (var + self.eps).sqrt();
        for ((v, g), b) in vals.iter_mut().zip(&self.gamma).zip(&self.beta) {
            *v = (*v - mean) * inv * g + b;
        }
        pad.fill(0.0);
    }
}

/// `out = LayerNorm(x + bias + residual)`: x is a matmul output (rows of `n`), residual and out have
/// rows of `stride`. The end of every sub-layer of a post-LN transformer.
pub fn bias_residual_layer_norm(
    x: &[f32],
    bias: &[f32],
    residual: &[f32],
    stride: usize,
    ln: &LayerNorm,
) -> Vec<f32> {
    let n = bias.len();
    let rows = x.len() / n.max(1);
    let mut out = vec![0f32; rows * stride];
    for_rows(&mut out, stride, x, n, |r, o, xr| {
        let res = residual.get(r * stride..r * stride + n).unwrap_or(&[]);
        residual_layer_norm_row(o, xr, bias, res, ln);
    });
    out
}

wide_fn! {
    /// One row of [`bias_residual_layer_norm`].
    fn residual_layer_norm_row(o: &mut [f32], x: &[f32], bias: &[f32], res: &[f32], ln: &LayerNorm) {
        for (((o, x), b), s) in o.iter_mut().zip(x).zip(bias).zip(res) {
            *o = x + b + s;
        }
        ln.normalise(o);
    }
}

/// `out = act(x + bias)` with rows of `n` in and rows of `stride` out (zero padded).
pub fn bias_activation(x: &[f32], bias: &[f32], stride: usize, act: Activation) -> Vec<f32> {
    let n = bias.len();
    let rows = x.len() / n.max(1);
    let mut out = vec![0f32; rows * stride];
    for_rows(&mut out, stride, x, n, |_, o, xr| activation_row(o, xr, bias, act));
    out
}

wide_fn! {
    /// One row of [`bias_activation`].
    fn activation_row(o: &mut [f32], x: &[f32], bias: &[f32], act: Activation) {
        for ((o, x), b) in o.iter_mut().zip(x).zip(bias) {
            *o = act.apply(x + b);
        }
    }
}

/// Token, position and type embeddings summed and layer-normed, one row per token.
pub struct EmbeddingInput<'a> {
    /// `(token id, position)` per token, all sequences one after another.
    pub tokens: &'a [(u32, usize)],
    pub hidden: usize,
    pub stride: usize,
}

/// Build the first hidden state; `word(id, row)` writes the word vector (so the table may be stored
/// quantized). Ids and positions are checked by the caller.
pub fn embed<W>(input: &EmbeddingInput, word: W, positions: &[f32], type0: &[f32], ln: &LayerNorm) -> Vec<f32>
where
    W: Fn(u32, &mut [f32]) + Sync + Send,
{
    let (h, stride) = (input.hidden, input.stride);
    let mut out = vec![0f32; input.tokens.len() * stride];
    let body = |o: &mut [f32], &(id, pos): &(u32, usize)| {
        let row = &mut o[..h];
        word(id, row);
        let p = positions.get(pos * h..(pos + 1) * h).unwrap_or(&[]);
        for ((v, p), t) in row.iter_mut().zip(p).zip(type0.iter().chain(std::iter::repeat(&0.0))) {
            *v += p + t;
        }
        ln.normalise(o);
    };
    if input.tokens.len() < PAR_MIN_ROWS {
        out.chunks_mut(stride).zip(input.tokens).for_each(|(o, t)| body(o, t));
    } else {
        out.par_chunks_mut(stride).zip(input.tokens).with_min_len(16).for_each(|(o, t)| body(o, t));
    }
    out
}

/// Shapes for [`attention`].
pub struct AttentionShape<'a> {
    /// Token count of each sequence; the rows of all sequences follow one another.
    pub lengths: &'a [usize],
    pub heads: usize,
    pub head_dim: usize,
    /// Row width of the output.
    pub stride: usize,
}

/// Multi-head self-attention of each sequence over itself only — no padding, no mask.
/// `qkv` has rows `[q | k | v]` (3·hidden, bias not yet added); returns rows of `stride`.
pub fn attention(qkv: &[f32], bias: &[f32], s: &AttentionShape) -> Vec<f32> {
    let hidden = s.heads * s.head_dim;
    let total: usize = s.lengths.iter().sum();
    let mut out = vec![0f32; total * s.stride];
    // One disjoint output block and one input block per sequence.
    let mut jobs = Vec::with_capacity(s.lengths.len());
    let (mut rest_out, mut rest_in) = (out.as_mut_slice(), qkv);
    for &len in s.lengths {
        let (Some((o, ro)), Some((i, ri))) =
            (rest_out.split_at_mut_checked(len * s.stride), rest_in.split_at_checked(len * 3 * hidden))
        else {
            break;
        };
        jobs.push((o, i, len));
        rest_out = ro;
        rest_in = ri;
    }
    // The common head widths get a version whose per-head vectors are fixed-size arrays kept in registers.
    let run = |(o, i, len): (&mut [f32], &[f32], usize)| match s.head_dim {
        32 => attend_fixed_32(i, bias, len, s, o),
        64 => attend_fixed_64(i, bias, len, s, o),
        _ => attend_one(i, bias, len, s, o),
    };
    if total < PAR_MIN_ROWS || jobs.len() < 2 {
        jobs.into_iter().for_each(run);
    } else {
        jobs.into_par_iter().for_each(run);
    }
    out
}

wide_fn! {
    /// [`attend_one`] for heads of 32 values (MiniLM, e5-small).
    fn attend_fixed_32(qkv: &[f32], bias: &[f32], len: usize, s: &AttentionShape, out: &mut [f32]) {
        attend_fixed::<32>(qkv, bias, len, s, out)
    }
}

wide_fn! {
    /// [`attend_one`] for heads of 64 values (BERT-base sizes).
    fn attend_fixed_64(qkv: &[f32], bias: &[f32], len: usize, s: &AttentionShape, out: &mut [f32]) {
        attend_fixed::<64>(qkv, bias, len, s, out)
    }
}

/// Attention of one sequence with heads of `D` values. K and V are laid out `[head][token][D]`; a score
/// is a dot product with 8 partial sums and the context of a head is a `[f32; D]` accumulator, so neither
/// inner loop goes through memory once per key (short texts made that the cost in [`attend_one`]).
#[inline(always)]
fn attend_fixed<const D: usize>(qkv: &[f32], bias: &[f32], len: usize, s: &AttentionShape, out: &mut [f32]) {
    let heads = s.heads;
    let hidden = heads * D;
    let scale = 1.0 / (D as f32).sqrt();
    let mut k = vec![0f32; heads * len * D];
    let mut v = vec![0f32; heads * len * D];
    for (t, row) in qkv.chunks_exact(3 * hidden).enumerate() {
        for head in 0..heads {
            let at = (head * len + t) * D;
            let (kb, vb) = (&bias[hidden + head * D..][..D], &bias[2 * hidden + head * D..][..D]);
            let (kr, vr) = (&row[hidden + head * D..][..D], &row[2 * hidden + head * D..][..D]);
            for i in 0..D {
                k[at + i] = kr[i] + kb[i];
                v[at + i] = vr[i] + vb[i];
            }
        }
    }
    let mut scores = vec![0f32; len];
    for (row, o) in qkv.chunks_exact(3 * hidden).zip(out.chunks_exact_mut(s.stride)) {
        for head in 0..heads {
            let mut q = [0f32; D];
            let (qr, qb) = (&row[head * D..][..D], &bias[head * D..][..D]);
            for i in 0..D {
                q[i] = (qr[i] + qb[i]) * scale;
            }
            let kh = &k[head * len * D..][..len * D];
            for (sc, kr) in scores.iter_mut().zip(kh.chunks_exact(D)) {
                let mut part = [0f32; 8];
                for (c, kc) in kr.chunks_exact(8).enumerate() {
                    for l in 0..8 {
                        part[l] += q[c * 8 + l] * kc[l];
                    }
                }
                *sc = part.iter().sum();
            }
            let max = scores.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
            for sc in scores.iter_mut() {
                *sc = exp(*sc - max);
            }
            let inv = 1.0 / sum(&scores);
            let mut ctx = [0f32; D];
            for (&p, vr) in scores.iter().zip(v[head * len * D..][..len * D].chunks_exact(D)) {
                for i in 0..D {
                    ctx[i] += p * vr[i];
                }
            }
            for (o, c) in o[head * D..(head + 1) * D].iter_mut().zip(ctx) {
                *o = c * inv;
            }
        }
    }
}

wide_fn! {
    /// Attention of one sequence over itself: all heads, all its tokens.
    fn attend_one(qkv: &[f32], bias: &[f32], len: usize, s: &AttentionShape, out: &mut [f32]) {
        let (heads, d) = (s.heads, s.head_dim);
        let hidden = heads * d;
        let scale = 1.0 / (d as f32).sqrt();
        // K transposed per head ([head][dim][token]) and V per head ([head][token][dim]), bias added, so
        // both inner loops below run along contiguous memory without horizontal sums.
        let mut kt = vec![0f32; heads * d * len];
        let mut v = vec![0f32; heads * len * d];
        for (t, row) in qkv.chunks_exact(3 * hidden).enumerate() {
            // kt[(head · d + dim) · len + t] is kt[c · len + t]; V is copied one head-slice at a time (no
            // division per value).
            let (k_row, v_row) = (&row[hidden..2 * hidden], &row[2 * hidden..]);
            for (c, (&k, &b)) in k_row.iter().zip(&bias[hidden..2 * hidden]).enumerate() {
                kt[c * len + t] = k + b;
            }
            for head in 0..heads {
                let dst = &mut v[(head * len + t) * d..][..d];
                let (src, b) = (&v_row[head * d..][..d], &bias[2 * hidden + head * d..][..d]);
                for ((o, &x), &b) in dst.iter_mut().zip(src).zip(b) {
                    *o = x + b;
                }
            }
        }
        let mut q = vec![0f32; d];
        let mut scores = vec![0f32; len];
        for (row, o) in qkv.chunks_exact(3 * hidden).zip(out.chunks_exact_mut(s.stride)) {
            for head in 0..heads {
                for ((q, x), b) in q.iter_mut().zip(&row[head * d..(head + 1) * d]).zip(&bias[head * d..]) {
                    *q = (x + b) * scale;
                }
                scores.fill(0.0);
                for (qc, krow) in q.iter().zip(kt[head * d * len..(head + 1) * d * len].chunks_exact(len)) {
                    for (sc, k) in scores.iter_mut().zip(krow) {
                        *sc += qc * k;
                    }
                }
                let max = scores.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
                for sc in scores.iter_mut() {
                    *sc = exp(*sc - max);
                }
                let inv = 1.0 / sum(&scores);
                let ctx = &mut o[head * d..(head + 1) * d];
                ctx.fill(0.0);
                for (p, vrow) in scores.iter().zip(v[head * len * d..(head + 1) * len * d].chunks_exact(d)) {
                    let p = p * inv;
                    for (c, x) in ctx.iter_mut().zip(vrow) {
                        *c += p * x;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf by its Taylor series in f64: exact enough on [-4, 4] to judge an f32 approximation.
    fn erf_series(x: f64) -> f64 {
        let (mut term, mut total) = (x, x);
        for n in 1..200 {
            term *= -x * x / n as f64;
            total += term / (2 * n + 1) as f64;
        }
        total * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn exp_and_erf_are_accurate() {
        for i in -8000..=2000 {
            let x = i as f32 * 0.01;
            let (got, want) = (exp(x) as f64, (x as f64).exp());
            assert!(((got - want) / want).abs() < 1e-6, "exp({x}) = {got}, want {want}");
        }
        for i in -400..=400 {
            let x = i as f32 * 0.01;
            let (got, want) = (erf(x) as f64, erf_series(x as f64));
            assert!((got - want).abs() < 2e-6, "erf({x}) = {got}, want {want}");
        }
        // Beyond 4, erf is 1 to within 2e-8.
        assert!((erf(6.0) - 1.0).abs() < 1e-6 && (erf(-9.0) + 1.0).abs() < 1e-6);
    }

    #[test]
    fn layer_norm_with_bias_and_residual() {
        let ln = LayerNorm { gamma: vec![1.0, 2.0], beta: vec![0.0, 1.0], eps: 0.0 };
        // x + b + r = [1, 3] → mean 2, std 1 → [-1, 1] → gamma/beta → [-1, 3]; padding zeroed.
        let out = bias_residual_layer_norm(&[0.0, 1.0], &[0.5, 0.5], &[0.5, 1.5, 9.0], 3, &ln);
        assert_eq!(out.len(), 3);
        assert!((out[0] + 1.0).abs() < 1e-5 && (out[1] - 3.0).abs() < 1e-5 && out[2] == 0.0, "{out:?}");
    }

    #[test]
    fn attention_of_one_token_returns_its_value() {
        // One head of width 2: with a single token the softmax is 1 and the output is v + bias.
        let qkv = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let bias = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0];
        let s = AttentionShape { lengths: &[1], heads: 1, head_dim: 2, stride: 2 };
        assert_eq!(attention(&qkv, &bias, &s), vec![6.0, 7.0]);
    }

    #[test]
    fn the_fixed_width_attention_equals_the_general_one() {
        for d in [32, 64] {
            let (heads, len) = (3, 7);
            let hidden = heads * d;
            let wave = |i: usize, f: f32| ((i as f32) * f).sin();
            let qkv: Vec<f32> = (0..len * 3 * hidden).map(|i| wave(i, 0.37)).collect();
            let bias: Vec<f32> = (0..3 * hidden).map(|i| 0.1 * wave(i, 1.3)).collect();
            let s = AttentionShape { lengths: &[len], heads, head_dim: d, stride: hidden };
            let (mut general, mut fixed) = (vec![0f32; len * hidden], vec![0f32; len * hidden]);
            attend_one(&qkv, &bias, len, &s, &mut general);
            match d {
                32 => attend_fixed_32(&qkv, &bias, len, &s, &mut fixed),
                _ => attend_fixed_64(&qkv, &bias, len, &s, &mut fixed),
            }
            let diff = general.iter().zip(&fixed).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(diff < 1e-5, "head width {d}: max difference {diff}");
            assert_eq!(attention(&qkv, &bias, &s), fixed, "attention() takes the fixed-width path");
        }
    }

    #[test]
    fn attention_keeps_sequences_apart() {
        // Two sequences of one token each must not see each other (mixed, both would get 2).
        let qkv = [0.0, 0.0, 1.0, 0.0, 0.0, 3.0];
        let s = AttentionShape { lengths: &[1, 1], heads: 1, head_dim: 1, stride: 1 };
        assert_eq!(attention(&qkv, &[0.0; 3], &s), vec![1.0, 3.0]);
    }
}
