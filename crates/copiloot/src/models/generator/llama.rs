//! Our own forward pass for dense llama-architecture GGUF decoders (SmolLM2, Llama, Mistral-style):
//! 4-bit matrices kept in their blocks ([`Q4Matrix`]), every other one in int8 ([`Q8Matrix`]), Q/K/V and gate/up as one matmul each, buffers and KV cache kept
//! between steps, and the non-matmul work (RMS norm, RoPE, attention, SiLU) in plain loops.
//!
//! Why: candle's `quantized_llama` does the same math as some 25 tensor ops per layer, each allocating;
//! on a 30-layer 135M model that overhead, not the arithmetic, was most of a generated token, and its
//! Q8_0 matmul has no fast path for 576-wide rows. The math follows `quantized_llama` (interleaved RoPE
//! as GGUF stores llama, RMS norm in f32, logits of the last position only), so greedy output matches it
//! up to int8 rounding order. Files this does not cover (K-quants, mixtures of experts, other families)
//! stay on candle (see [`supported`]).

use super::gguf::GgufFile;
use crate::error::{Error, Result};
use crate::models::kernels::bert::exp;
use crate::models::kernels::q8::{Q4Matrix, Q8Matrix};
use crate::models::kernels::simd::wide_fn;
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::Device;
use rayon::prelude::*;
use std::io::Cursor;

struct Config {
    hidden: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    ffn: usize,
    eps: f32,
    vocab: usize,
}

impl Config {
    fn kv_dim(&self) -> usize {
        self.kv_heads * self.head_dim
    }
}

/// A matrix as the file's weights allow: 4-bit blocks kept, or int8.
enum Weight {
    Q4(Q4Matrix),
    Q8(Q8Matrix),
}

impl Weight {
    fn rows(&self) -> usize {
        match self {
            Weight::Q4(w) => w.rows(),
            Weight::Q8(w) => w.rows(),
        }
    }

    fn matmul(&self, x: &[f32], m: usize, y: &mut [f32]) -> Result<()> {
        match self {
            Weight::Q4(w) => w.matmul(x, m, y),
            Weight::Q8(w) => w.matmul(x, m, y),
        }
    }
}

struct Block {
    attn_norm: Vec<f32>,
    /// Rows: the Q outputs, then K, then V.
    qkv: Weight,
    wo: Weight,
    ffn_norm: Vec<f32>,
    /// Rows: the gate outputs, then the up outputs.
    gate_up: Weight,
    down: Weight,
    /// `[position][kv_dim]`, grown as positions are fed.
    keys: Vec<f32>,
    values: Vec<f32>,
}

/// A loaded llama-architecture decoder with its KV cache.
pub struct Llama {
    cfg: Config,
    embed: Q8Matrix,
    /// `None`: tied to the embedding table (SmolLM2).
    output: Option<Weight>,
    out_norm: Vec<f32>,
    blocks: Vec<Block>,
    /// RoPE frequencies, one per pair of head dimensions.
    inv_freq: Vec<f32>,
    /// Positions in the KV cache.
    cached: usize,
}

/// Weight types this path re-quantises to int8 without losing anything that matters: 8-bit and the
/// simple 4/5-bit formats (whose candle kernels are scalar or missing), and floats. K-quant files keep
/// candle's path, which has vector kernels for them and keeps their 4-bit memory.
const OWN_TYPES: [GgmlDType; 8] = [
    GgmlDType::Q4_0,
    GgmlDType::Q4_1,
    GgmlDType::Q5_0,
    GgmlDType::Q5_1,
    GgmlDType::Q8_0,
    GgmlDType::F16,
    GgmlDType::BF16,
    GgmlDType::F32,
];

/// Whether [`Llama`] runs this file; `Err` says why not (the caller then uses candle's path).
pub fn supported(file: &GgufFile) -> std::result::Result<(), String> {
    if file.architecture_name != "llama" {
        return Err(format!("architecture `{}`", file.architecture_name));
    }
    if file.metadata_u32("llama.expert_count").unwrap_or(0) > 1 {
        return Err("a mixture of experts".into());
    }
    if file.content.tensor_infos.contains_key("rope_freqs.weight") {
        return Err("scaled RoPE frequencies (rope_freqs.weight)".into());
    }
    let (heads, hidden) =
        (file.metadata_u32("llama.attention.head_count"), file.metadata_u32("llama.embedding_length"));
    let head_dim = match (heads, hidden) {
        (Some(h), Some(e)) if h > 0 && e % h == 0 => e / h,
        _ => return Err("no head count / embedding length".into()),
    };
    if file.metadata_u32("llama.rope.dimension_count").is_some_and(|d| d != head_dim) {
        return Err("RoPE on part of the head".into());
    }
    match file.content.tensor_infos.iter().find(|(_, t)| !OWN_TYPES.contains(&t.ggml_dtype)) {
        Some((name, t)) => Err(format!("tensor `{name}` is {:?}", t.ggml_dtype)),
        None => Ok(()),
    }
}

/// How many tensors [`Llama::load`] re-quantises to int8: the 2-D ones not already Q4_0 / Q4_1 (kept as
/// they are) or Q8_0 (the same integers), plus a 4-bit embedding table (rows are read from int8).
pub fn requantized_tensors(file: &GgufFile) -> usize {
    file.content
        .tensor_infos
        .iter()
        .filter(|(name, t)| {
            let kept = match t.ggml_dtype {
                GgmlDType::Q8_0 => true,
                GgmlDType::Q4_0 | GgmlDType::Q4_1 => name.as_str() != "token_embd.weight",
                _ => false,
            };
            t.shape.rank() == 2 && !kept
        })
        .count()
}

impl super::decoder::Decoder for Llama {
    fn forward(&mut self, ids: &[u32], pos: usize) -> Result<candle_core::Tensor> {
        let logits = Llama::forward(self, ids, pos)?;
        let n = logits.len();
        Ok(candle_core::Tensor::from_vec(logits, n, &candle_core::Device::Cpu)?)
    }

    fn clear(&mut self) {
        Llama::clear(self)
    }
}

impl Llama {
    pub fn load(file: &GgufFile) -> Result<Self> {
        let err = |m: String| Error::model_load(&file.path, m);
        let meta = |key: &str| {
            file.metadata_u32(&format!("llama.{key}"))
                .map(|v| v as usize)
                .ok_or_else(|| err(format!("no `llama.{key}`")))
        };
        let f32_meta = |key: &str| file.metadata(&format!("llama.{key}")).and_then(|v| v.to_f32().ok());
        let (hidden, heads) = (meta("embedding_length")?, meta("attention.head_count")?);
        let kv_heads = meta("attention.head_count_kv").unwrap_or(heads);
        if heads == 0 || kv_heads == 0 || !heads.is_multiple_of(kv_heads) || !hidden.is_multiple_of(heads) {
            return Err(err(format!(
                "{heads} heads, {kv_heads} KV heads and width {hidden} do not fit together"
            )));
        }
        let tensor = |name: &str| -> Result<QTensor> {
            file.content
                .tensor(&mut Cursor::new(&file.bytes), name, &Device::Cpu)
                .map_err(|e| err(format!("tensor `{name}`: {e}")))
        };
        let dequantized = |name: &str, t: &QTensor| -> Result<Vec<f32>> {
            t.dequantize(&Device::Cpu)
                .and_then(|t| t.flatten_all()?.to_vec1::<f32>())
                .map_err(|e| err(format!("tensor `{name}`: {e}")))
        };
        let floats = |name: &str| dequantized(name, &tensor(name)?);
        // Rows of several `[_, k]` matrices (already read from the file) one after the other, as one int8
        // matrix; each is dropped once it is de-quantised.
        let stacked_q8 = |names: &[String], tensors: Vec<QTensor>, k: usize| -> Result<Q8Matrix> {
            let mut rows = Vec::new();
            let mut n = 0;
            for (name, t) in names.iter().zip(tensors) {
                let (r, cols) = t.shape().dims2().map_err(|e| err(format!("tensor `{name}`: {e}")))?;
                if cols != k {
                    return Err(err(format!("tensor `{name}` is {r}x{cols}, expected {k} inputs")));
                }
                // The first (often only) matrix is moved, not copied: the embedding table is 100+ MB in f32.
                let f = dequantized(name, &t)?;
                if rows.is_empty() {
                    rows = f;
                } else {
                    rows.extend(f);
                }
                n += r;
            }
            Q8Matrix::from_f32(&rows, n, k)
        };
        // 4-bit tensors keep their blocks (generation reads every weight byte per token: half the bytes
        // of int8); anything else becomes int8.
        let stacked = |names: &[String], k: usize| -> Result<Weight> {
            let tensors = names.iter().map(|n| tensor(n)).collect::<Result<Vec<_>>>()?;
            if tensors.iter().all(Q4Matrix::takes) {
                let w = Q4Matrix::from_qtensors(&tensors).map_err(|e| err(e.to_string()))?;
                if w.cols() != k {
                    return Err(err(format!("`{}` has {} inputs, expected {k}", names[0], w.cols())));
                }
                return Ok(Weight::Q4(w));
            }
            Ok(Weight::Q8(stacked_q8(names, tensors, k)?))
        };
        let ffn = meta("feed_forward_length")?;
        let cfg = Config {
            hidden,
            heads,
            kv_heads,
            head_dim: hidden / heads,
            ffn,
            eps: f32_meta("attention.layer_norm_rms_epsilon").unwrap_or(1e-5),
            vocab: 0,
        };
        let layers = meta("block_count")?;
        let blocks = (0..layers)
            .into_par_iter()
            .map(|l| -> Result<Block> {
                let name = |t: &str| format!("blk.{l}.{t}.weight");
                Ok(Block {
                    attn_norm: floats(&name("attn_norm"))?,
                    qkv: stacked(&[name("attn_q"), name("attn_k"), name("attn_v")], hidden)?,
                    wo: stacked(&[name("attn_output")], hidden)?,
                    ffn_norm: floats(&name("ffn_norm"))?,
                    gate_up: stacked(&[name("ffn_gate"), name("ffn_up")], hidden)?,
                    down: stacked(&[name("ffn_down")], ffn)?,
                    keys: Vec::new(),
                    values: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        for (l, b) in blocks.iter().enumerate() {
            let shapes = [
                (b.qkv.rows(), hidden + 2 * cfg.kv_dim()),
                (b.wo.rows(), hidden),
                (b.gate_up.rows(), 2 * ffn),
                (b.down.rows(), hidden),
                (b.attn_norm.len(), hidden),
                (b.ffn_norm.len(), hidden),
            ];
            if shapes.iter().any(|(got, want)| got != want) {
                return Err(err(format!("layer {l}'s tensors do not match the metadata's sizes")));
            }
        }
        // The embedding stays int8 whatever the file has: a token's row is read from it directly.
        let embed_name = "token_embd.weight".to_string();
        let embed = stacked_q8(std::slice::from_ref(&embed_name), vec![tensor(&embed_name)?], hidden)?;
        let output = match file.content.tensor_infos.contains_key("output.weight") {
            true => Some(stacked(&["output.weight".to_string()], hidden)?),
            false => None,
        };
        let out_norm = floats("output_norm.weight")?;
        let vocab = output.as_ref().map_or(embed.rows(), Weight::rows);
        if out_norm.len() != hidden {
            return Err(err("the output norm does not match the model width".into()));
        }
        let base = f32_meta("rope.freq_base").unwrap_or(10_000.0);
        let d = cfg.head_dim;
        let inv_freq = (0..d).step_by(2).map(|i| 1.0 / base.powf(i as f32 / d as f32)).collect();
        Ok(Self { cfg: Config { vocab, ..cfg }, embed, output, out_norm, blocks, inv_freq, cached: 0 })
    }

    /// Forget the KV cache (a new conversation).
    pub fn clear(&mut self) {
        for b in &mut self.blocks {
            b.keys.clear();
            b.values.clear();
        }
        self.cached = 0;
    }

    /// Feed `tokens` at positions `pos..`; returns the logits of the last one. `pos` is 0 (start
    /// over) or the number of positions fed so far.
    pub fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<f32>> {
        // On a pool thread: each step has some 150 parallel loops, and a caller outside the pool would
        // block and be woken for every one of them (two context switches each), more than a small
        // model's whole step costs.
        rayon::scope(|_| self.step(tokens, pos))
    }

    fn step(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<f32>> {
        if pos == 0 {
            self.clear();
        }
        if pos != self.cached || tokens.is_empty() {
            return Err(Error::Inference(format!(
                "internal: llama step at position {pos} with {} cached and {} tokens",
                self.cached,
                tokens.len()
            )));
        }
        let c = &self.cfg;
        let (m, h, kvd, hd) = (tokens.len(), c.hidden, c.kv_dim(), c.head_dim);
        let mut x = vec![0f32; m * h];
        for (row, &id) in x.chunks_exact_mut(h).zip(tokens) {
            if id as usize >= self.embed.rows() {
                return Err(Error::Inference(format!("token id {id} is outside the vocabulary")));
            }
            self.embed.row(id as usize, row);
        }
        // cos / sin of every pair at every new position, shared by all layers.
        let pairs = hd / 2;
        let mut rope = Vec::with_capacity(m * pairs);
        for p in pos..pos + m {
            rope.extend(self.inv_freq.iter().map(|f| (p as f32 * f).sin_cos()));
        }
        let qkv_n = h + 2 * kvd;
        let (mut xn, mut qkv, mut ctx, mut o) =
            (vec![0f32; m * h], vec![0f32; m * qkv_n], vec![0f32; m * h], vec![0f32; m * h]);
        let (mut gu, mut act) = (vec![0f32; m * 2 * c.ffn], vec![0f32; m * c.ffn]);
        for b in &mut self.blocks {
            rms_norm(&x, &b.attn_norm, c.eps, &mut xn);
            b.qkv.matmul(&xn, m, &mut qkv)?;
            for (t, row) in qkv.chunks_exact_mut(qkv_n).enumerate() {
                let angles = &rope[t * pairs..(t + 1) * pairs];
                for head in row[..h + kvd].chunks_exact_mut(hd) {
                    rotate(head, angles);
                }
                b.keys.extend_from_slice(&row[h..h + kvd]);
                b.values.extend_from_slice(&row[h + kvd..]);
            }
            attention(c, &qkv, &b.keys, &b.values, pos, &mut ctx);
            b.wo.matmul(&ctx, m, &mut o)?;
            x.iter_mut().zip(&o).for_each(|(x, o)| *x += o);
            rms_norm(&x, &b.ffn_norm, c.eps, &mut xn);
            b.gate_up.matmul(&xn, m, &mut gu)?;
            swiglu(&gu, &mut act, c.ffn);
            b.down.matmul(&act, m, &mut o)?;
            x.iter_mut().zip(&o).for_each(|(x, o)| *x += o);
        }
        self.cached = pos + m;
        let mut last = vec![0f32; h];
        rms_norm(&x[(m - 1) * h..], &self.out_norm, c.eps, &mut last);
        let mut logits = vec![0f32; c.vocab];
        match &self.output {
            Some(w) => w.matmul(&last, 1, &mut logits)?,
            None => self.embed.matmul(&last, 1, &mut logits)?,
        }
        Ok(logits)
    }
}

wide_fn! {
    /// `out = x / rms(x) · w`, row by row (rows of `w.len()` values).
    fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
        for (x, out) in x.chunks_exact(w.len()).zip(out.chunks_exact_mut(w.len())) {
            let scale = 1.0 / (dot(x, x) / w.len() as f32 + eps).sqrt();
            for ((o, &v), &g) in out.iter_mut().zip(x).zip(w) {
                *o = v * scale * g;
            }
        }
    }
}

wide_fn! {
    /// `act = silu(gate) · up` per row of `gu = [gate | up]`.
    fn swiglu(gu: &[f32], act: &mut [f32], ffn: usize) {
        for (a, gu) in act.chunks_exact_mut(ffn).zip(gu.chunks_exact(2 * ffn)) {
            let (gate, up) = gu.split_at(ffn);
            for ((a, &g), &u) in a.iter_mut().zip(gate).zip(up) {
                *a = g / (1.0 + exp(-g)) * u;
            }
        }
    }
}

/// Interleaved RoPE (GGUF's llama layout): pairs `(x[2i], x[2i+1])` turn by `angles[i]`.
fn rotate(head: &mut [f32], angles: &[(f32, f32)]) {
    for (pair, &(sin, cos)) in head.chunks_exact_mut(2).zip(angles) {
        let (a, b) = (pair[0], pair[1]);
        pair[0] = a * cos - b * sin;
        pair[1] = a * sin + b * cos;
    }
}

/// Causal attention of the new tokens (rows of `qkv`, at positions `pos..`) over every cached position,
/// one (token, head) per task; grouped-query heads share their KV head.
fn attention(c: &Config, qkv: &[f32], keys: &[f32], values: &[f32], pos: usize, ctx: &mut [f32]) {
    let (h, kvd, hd) = (c.hidden, c.kv_dim(), c.head_dim);
    let group = c.heads / c.kv_heads;
    ctx.par_chunks_mut(hd).enumerate().for_each_init(Vec::new, |scores: &mut Vec<f32>, (i, out)| {
        let (t, head) = (i / c.heads, i % c.heads);
        let q = &qkv[t * (h + 2 * kvd) + head * hd..][..hd];
        // Token t sees the cache up to and including its own position.
        let seen = (pos + t + 1) * kvd;
        attend_head(q, &keys[..seen], &values[..seen], kvd, (head / group) * hd, scores, out);
    });
}

wide_fn! {
    /// Softmax(q · kᵀ / √d) · v for one query over the cached rows (`kvd` wide) of one KV head (at `kv`).
    fn attend_head(q: &[f32], keys: &[f32], values: &[f32], kvd: usize, kv: usize, scores: &mut Vec<f32>, out: &mut [f32]) {
        let hd = q.len();
        let scale = 1.0 / (hd as f32).sqrt();
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
