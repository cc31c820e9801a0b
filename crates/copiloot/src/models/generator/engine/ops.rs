//! The non-matmul work of a decoder step in plain loops: RMS norm, the gated FFN's activation, RoPE in
//! both pairings, and causal (optionally sliding-window) attention over the KV cache.

use super::family::{Activation, RopeStyle};
use crate::models::kernels::bert::exp;
use crate::models::kernels::simd::wide_fn;
use rayon::prelude::*;

wide_fn! {
    /// `out = x / rms(x) · w`, row by row (rows of `w.len()` values).
    pub(super) fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
        for (x, out) in x.chunks_exact(w.len()).zip(out.chunks_exact_mut(w.len())) {
            let scale = 1.0 / (dot(x, x) / w.len() as f32 + eps).sqrt();
            for ((o, &v), &g) in out.iter_mut().zip(x).zip(w) {
                *o = v * scale * g;
            }
        }
    }
}

/// [`rms_norm`] in place (the per-head Q/K norms, the post-attention / post-FFN norms).
pub(super) fn rms_norm_in_place(x: &mut [f32], w: &[f32], eps: f32) {
    for row in x.chunks_exact_mut(w.len()) {
        let scale = 1.0 / (dot(row, row) / w.len() as f32 + eps).sqrt();
        row.iter_mut().zip(w).for_each(|(v, &g)| *v *= scale * g);
    }
}

/// `act = f(gate) · up` per row of `gu = [gate | up]`.
pub(super) fn gated(activation: Activation, gu: &[f32], act: &mut [f32], ffn: usize) {
    match activation {
        Activation::Silu => swiglu(gu, act, ffn),
        Activation::GeluTanh => geglu(gu, act, ffn),
    }
}

wide_fn! {
    fn swiglu(gu: &[f32], act: &mut [f32], ffn: usize) {
        for (a, gu) in act.chunks_exact_mut(ffn).zip(gu.chunks_exact(2 * ffn)) {
            let (gate, up) = gu.split_at(ffn);
            for ((a, &g), &u) in a.iter_mut().zip(gate).zip(up) {
                *a = g / (1.0 + exp(-g)) * u;
            }
        }
    }
}

wide_fn! {
    fn geglu(gu: &[f32], act: &mut [f32], ffn: usize) {
        // tanh(z) = 1 - 2 / (e^{2z} + 1), through the vectorised exp; the argument is clamped so e^{2z}
        // stays finite (tanh is ±1 to f32 precision there).
        const C: f32 = 0.797_884_6; // √(2/π)
        for (a, gu) in act.chunks_exact_mut(ffn).zip(gu.chunks_exact(2 * ffn)) {
            let (gate, up) = gu.split_at(ffn);
            for ((a, &g), &u) in a.iter_mut().zip(gate).zip(up) {
                let z = (C * (g + 0.044_715 * g * g * g)).clamp(-15.0, 15.0);
                let tanh = 1.0 - 2.0 / (exp(2.0 * z) + 1.0);
                *a = 0.5 * g * (1.0 + tanh) * u;
            }
        }
    }
}

/// Turn one head by `angles[i] = (sin, cos)` of pair `i`, paired as the family stores it.
pub(super) fn rotate(style: RopeStyle, head: &mut [f32], angles: &[(f32, f32)]) {
    match style {
        RopeStyle::Adjacent => {
            for (pair, &(sin, cos)) in head.chunks_exact_mut(2).zip(angles) {
                let (a, b) = (pair[0], pair[1]);
                pair[0] = a * cos - b * sin;
                pair[1] = a * sin + b * cos;
            }
        }
        RopeStyle::Halves => {
            let (lo, hi) = head.split_at_mut(head.len() / 2);
            for ((a, b), &(sin, cos)) in lo.iter_mut().zip(hi.iter_mut()).zip(angles) {
                let (x, y) = (*a, *b);
                *a = x * cos - y * sin;
                *b = x * sin + y * cos;
            }
        }
    }
}

/// The shape of one attention call.
pub(super) struct Heads {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub scale: f32,
    /// `Some(w)`: a query sees only the keys less than `w` positions back.
    pub window: Option<usize>,
}

/// Causal attention of the new tokens (`q`: rows of `heads · head_dim`, at positions `pos..`) over every
/// cached position, one (token, head) per task; grouped-query heads share their KV head.
pub(super) fn attention(s: &Heads, q: &[f32], keys: &[f32], values: &[f32], pos: usize, ctx: &mut [f32]) {
    let (hd, kvd) = (s.head_dim, s.kv_heads * s.head_dim);
    let group = s.heads / s.kv_heads;
    ctx.par_chunks_mut(hd).enumerate().for_each_init(Vec::new, |scores: &mut Vec<f32>, (i, out)| {
        let (t, head) = (i / s.heads, i % s.heads);
        let q = &q[i * hd..][..hd];
        // Token t sees the cache up to and including its own position, and within a window only the
        // last `w` of those.
        let end = pos + t + 1;
        let start = s.window.map_or(0, |w| end.saturating_sub(w));
        let (k, v) = (&keys[start * kvd..end * kvd], &values[start * kvd..end * kvd]);
        attend_head(q, k, v, (kvd, (head / group) * hd, s.scale), scores, out);
    });
}

wide_fn! {
    /// Softmax(q · kᵀ · scale) · v for one query over the cached rows (`kvd` wide) of one KV head (at `kv`);
    /// `at = (kvd, kv, scale)`.
    fn attend_head(q: &[f32], keys: &[f32], values: &[f32], at: (usize, usize, f32), scores: &mut Vec<f32>, out: &mut [f32]) {
        let (hd, (kvd, kv, scale)) = (q.len(), at);
        scores.clear();
        scores.resize(keys.len() / kvd, 0.0);
        // A plain loop, not `extend(map(..))`: the closure of an iterator chain is not always inlined into
        // this AVX-512 copy.
        for (s, k) in scores.iter_mut().zip(keys.chunks_exact(kvd)) {
            *s = dot(q, &k[kv..kv + hd]) * scale;
        }
        let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
        let mut total = 0.0;
        for s in scores.iter_mut() {
            *s = exp(*s - max);
            total += *s;
        }
        out.fill(0.0);
        for (&p, v) in scores.iter().zip(values.chunks_exact(kvd)) {
            out.iter_mut().zip(&v[kv..kv + hd]).for_each(|(o, &v)| *o += p * v);
        }
        out.iter_mut().for_each(|o| *o /= total);
    }
}

/// Dot product with 8 partial sums, so the loop vectorises.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}
