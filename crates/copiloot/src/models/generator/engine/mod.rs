//! Our own forward pass for dense GGUF decoders of the llama (incl. Llama 3's RoPE factors), qwen2, qwen3
//! and gemma3 families: 4-bit matrices kept in their blocks ([`Q4Matrix`]: Q4_0, Q4_1 and Q4_K, whose
//! super-blocks are eight Q4_1-style blocks), every other one in int8 ([`Q8Matrix`]: Q8_0 as it is;
//! Q5_0/Q5_1/Q5_K/Q6_K and floats re-rounded), Q/K/V and gate/up as one matmul each, buffers and KV cache
//! kept between steps, and the non-matmul work in plain loops (`ops.rs`). What differs between families
//! (biases, Q/K norms, post-norms, RoPE pairing, GELU, sliding windows) is data in an [`Arch`], read by a
//! [`family::Family`]; there is one forward for all of them.
//!
//! Why: candle's quantised models do the same math as some 25 tensor ops per layer, each allocating; on
//! a 30-layer 135M model that overhead, not the arithmetic, was most of a generated token, and its Q8_0
//! matmul has no fast path for 576-wide rows. The math follows llama.cpp (RMS norm in f32, logits of the
//! last position only); tests compare logits with llama.cpp's on random-weight files of every family
//! and quant type (`tests/fixtures/gguf/`). Files this does not cover (mixtures of experts, other
//! families, Q2_K/Q3_K, partial or YaRN RoPE) stay on candle (see [`supported`]).

mod family;
mod ops;
#[cfg(test)]
mod tests;

use super::gguf::GgufFile;
use crate::error::{Error, Result};
use crate::models::kernels::q8::{Q4Matrix, Q8Matrix};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::Device;
use family::Arch;
use ops::Heads;
use rayon::prelude::*;
use std::io::Cursor;

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

    fn cols(&self) -> usize {
        match self {
            Weight::Q4(w) => w.cols(),
            Weight::Q8(w) => w.cols(),
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
    /// `[q | k | v]` biases (qwen2).
    qkv_bias: Option<Vec<f32>>,
    /// Per-head RMS norm weights of queries and keys (qwen3, gemma3).
    qk_norm: Option<(Vec<f32>, Vec<f32>)>,
    wo: Weight,
    /// Norms of the attention and FFN outputs (gemma3).
    post_norms: Option<(Vec<f32>, Vec<f32>)>,
    ffn_norm: Vec<f32>,
    /// Rows: the gate outputs, then the up outputs.
    gate_up: Weight,
    down: Weight,
    /// Attends through the sliding window (and turns with the local RoPE table).
    local: bool,
    /// `[position][kv_dim]`, grown as positions are fed.
    keys: Vec<f32>,
    values: Vec<f32>,
}

/// A loaded decoder with its KV cache.
pub struct Transformer {
    arch: Arch,
    vocab: usize,
    embed: Q8Matrix,
    /// `None`: tied to the embedding table.
    output: Option<Weight>,
    out_norm: Vec<f32>,
    blocks: Vec<Block>,
    /// RoPE frequencies of the global layers, one per pair of head dimensions (positions already
    /// divided by a linear scaling factor, Llama 3's `rope_freqs` factors applied).
    inv_freq: Vec<f32>,
    /// The local (sliding-window) layers' frequencies, when the model has such layers.
    local_inv_freq: Option<Vec<f32>>,
    /// Positions in the KV cache.
    cached: usize,
}

/// Weight types this path runs: 4-bit blocks it keeps (Q4_0, Q4_1, Q4_K), and every type the int8
/// matrices read block by block ([`Q8Matrix::reads`]: Q8_0 with the same integers; Q5_0, Q5_1, Q5_K, Q6_K,
/// whose 5-6 bit grid is finer than int8's step only by a factor of 2-4, so the re-rounding moves a weight
/// by at most about 1/8 of the file's own step; F16, F32), plus BF16 through f32. Q2_K/Q3_K stay on
/// candle, which keeps their small memory.
fn own_type(dtype: GgmlDType) -> bool {
    Q8Matrix::reads(dtype) || dtype == GgmlDType::BF16
}

/// Whether [`Transformer`] runs this file; `Err` says why not (the caller then uses candle's path).
pub fn supported(file: &GgufFile) -> std::result::Result<(), String> {
    arch_of(file).map(|_| ())
}

fn arch_of(file: &GgufFile) -> std::result::Result<Arch, String> {
    let family = family::family(&file.architecture_name)
        .ok_or_else(|| format!("architecture `{}`", file.architecture_name))?;
    let arch = family.arch(&family::Meta::new(file))?;
    // The first by name, so the note is the same at every load.
    let other = file.content.tensor_infos.iter().filter(|(_, t)| !own_type(t.ggml_dtype));
    match other.min_by_key(|(name, _)| name.as_str()) {
        Some((name, t)) => Err(format!("tensor `{name}` is {:?}", t.ggml_dtype)),
        None => Ok(arch),
    }
}

/// How many tensors [`Transformer::load`] re-quantises to int8: the 2-D ones not already 4-bit (kept as
/// they are) or Q8_0 (the same integers), plus a 4-bit embedding table (rows are read from int8).
pub fn requantized_tensors(file: &GgufFile) -> usize {
    file.content
        .tensor_infos
        .iter()
        .filter(|(name, t)| {
            let kept = match t.ggml_dtype {
                GgmlDType::Q8_0 => true,
                GgmlDType::Q4_0 | GgmlDType::Q4_1 | GgmlDType::Q4K => name.as_str() != "token_embd.weight",
                _ => false,
            };
            t.shape.rank() == 2 && !kept
        })
        .count()
}

impl super::decoder::Decoder for Transformer {
    fn forward(&mut self, ids: &[u32], pos: usize) -> Result<candle_core::Tensor> {
        let logits = Transformer::forward(self, ids, pos)?;
        let n = logits.len();
        Ok(candle_core::Tensor::from_vec(logits, n, &candle_core::Device::Cpu)?)
    }

    fn clear(&mut self) {
        Transformer::clear(self)
    }
}

/// Reads a file's tensors into the engine's layouts; every error names the tensor.
struct Loader<'a> {
    file: &'a GgufFile,
}

impl Loader<'_> {
    fn err(&self, m: String) -> Error {
        Error::model_load(&self.file.path, m)
    }

    fn tensor(&self, name: &str) -> Result<QTensor> {
        if !self.file.content.tensor_infos.contains_key(name) {
            return Err(self.err(format!("the file has no tensor `{name}`")));
        }
        self.file
            .content
            .tensor(&mut Cursor::new(&self.file.bytes), name, &Device::Cpu)
            .map_err(|e| self.err(format!("tensor `{name}`: {e}")))
    }

    fn dequantized(&self, name: &str, t: &QTensor) -> Result<Vec<f32>> {
        t.dequantize(&Device::Cpu)
            .and_then(|t| t.flatten_all()?.to_vec1::<f32>())
            .map_err(|e| self.err(format!("tensor `{name}`: {e}")))
    }

    /// A 1-D tensor (norm weights, biases) of `len` floats.
    fn vector(&self, name: &str, len: usize) -> Result<Vec<f32>> {
        let v = self.dequantized(name, &self.tensor(name)?)?;
        if v.len() != len {
            return Err(self.err(format!("tensor `{name}` has {} values, expected {len}", v.len())));
        }
        Ok(v)
    }

    /// Rows of several `[_, k]` matrices (already read from the file) one after the other, as one int8
    /// matrix: read block by block where the kernels know the type (Q8_0 as it is), else de-quantised
    /// (each dropped once it is) and rounded.
    fn stacked_q8(&self, names: &[String], tensors: Vec<QTensor>, k: usize) -> Result<Q8Matrix> {
        if k.is_multiple_of(32) && tensors.iter().all(|t| Q8Matrix::reads(t.dtype())) {
            let w =
                Q8Matrix::from_qtensors(&tensors).map_err(|e| self.err(format!("`{}`: {e}", names[0])))?;
            if w.cols() != k {
                return Err(self.err(format!("tensor `{}` has {} inputs, expected {k}", names[0], w.cols())));
            }
            return Ok(w);
        }
        let mut rows = Vec::new();
        let mut n = 0;
        for (name, t) in names.iter().zip(tensors) {
            let (r, cols) = t.shape().dims2().map_err(|e| self.err(format!("tensor `{name}`: {e}")))?;
            if cols != k {
                return Err(self.err(format!("tensor `{name}` is {r}x{cols}, expected {k} inputs")));
            }
            // The first (often only) matrix is moved, not copied: the embedding table is 100+ MB in f32.
            let f = self.dequantized(name, &t)?;
            if rows.is_empty() {
                rows = f;
            } else {
                rows.extend(f);
            }
            n += r;
        }
        Q8Matrix::from_f32(&rows, n, k)
    }

    /// 4-bit tensors keep their blocks (generation reads every weight byte per token: half the bytes of
    /// int8); anything else becomes int8. `rows` is the expected total.
    fn stacked(&self, names: &[String], rows: usize, k: usize) -> Result<Weight> {
        let tensors = names.iter().map(|n| self.tensor(n)).collect::<Result<Vec<_>>>()?;
        let w = if tensors.iter().all(Q4Matrix::takes) {
            Weight::Q4(
                Q4Matrix::from_qtensors(&tensors).map_err(|e| self.err(format!("`{}`: {e}", names[0])))?,
            )
        } else {
            Weight::Q8(self.stacked_q8(names, tensors, k)?)
        };
        if w.rows() != rows || w.cols() != k {
            return Err(self.err(format!(
                "`{}`{} is {}x{}, expected {rows}x{k} from the metadata",
                names[0],
                if names.len() > 1 { " and the tensors stacked with it" } else { "" },
                w.rows(),
                w.cols()
            )));
        }
        Ok(w)
    }

    fn block(&self, a: &Arch, l: usize) -> Result<Block> {
        let name = |t: &str| format!("blk.{l}.{t}.weight");
        let bias = |t: &str| format!("blk.{l}.{t}.bias");
        let (h, qd, kvd) = (a.hidden, a.q_dim(), a.kv_dim());
        let qkv_bias = match a.qkv_bias {
            true => Some(
                [
                    self.vector(&bias("attn_q"), qd)?,
                    self.vector(&bias("attn_k"), kvd)?,
                    self.vector(&bias("attn_v"), kvd)?,
                ]
                .concat(),
            ),
            false => None,
        };
        let qk_norm = match a.qk_norm {
            true => Some((
                self.vector(&name("attn_q_norm"), a.head_dim)?,
                self.vector(&name("attn_k_norm"), a.head_dim)?,
            )),
            false => None,
        };
        let post_norms = match a.post_norms {
            true => {
                Some((self.vector(&name("post_attention_norm"), h)?, self.vector(&name("post_ffw_norm"), h)?))
            }
            false => None,
        };
        Ok(Block {
            attn_norm: self.vector(&name("attn_norm"), h)?,
            qkv: self.stacked(&[name("attn_q"), name("attn_k"), name("attn_v")], qd + 2 * kvd, h)?,
            qkv_bias,
            qk_norm,
            wo: self.stacked(&[name("attn_output")], h, qd)?,
            post_norms,
            ffn_norm: self.vector(&name("ffn_norm"), h)?,
            gate_up: self.stacked(&[name("ffn_gate"), name("ffn_up")], 2 * a.ffn, h)?,
            down: self.stacked(&[name("ffn_down")], h, a.ffn)?,
            local: a.local(l),
            keys: Vec::new(),
            values: Vec::new(),
        })
    }
}

/// `1 / base^(2i/d)` for each pair of a `d`-wide head.
fn frequencies(base: f32, d: usize) -> Vec<f32> {
    (0..d).step_by(2).map(|i| 1.0 / base.powf(i as f32 / d as f32)).collect()
}

impl Transformer {
    pub fn load(file: &GgufFile) -> Result<Self> {
        let arch = arch_of(file).map_err(|why| Error::model_load(&file.path, why))?;
        let loader = Loader { file };
        let blocks =
            (0..arch.layers).into_par_iter().map(|l| loader.block(&arch, l)).collect::<Result<Vec<_>>>()?;
        // The embedding stays int8 whatever the file has: a token's row is read from it directly.
        let embed_name = "token_embd.weight".to_string();
        let embed = loader.stacked_q8(
            std::slice::from_ref(&embed_name),
            vec![loader.tensor(&embed_name)?],
            arch.hidden,
        )?;
        let vocab = embed.rows();
        let output = match file.content.tensor_infos.contains_key("output.weight") {
            true => Some(loader.stacked(&["output.weight".to_string()], vocab, arch.hidden)?),
            false => None,
        };
        let out_norm = loader.vector("output_norm.weight", arch.hidden)?;
        let pairs = arch.head_dim / 2;
        let mut inv_freq = frequencies(arch.rope_base, arch.head_dim);
        // Llama 3.x: per-pair divisors of the frequencies (long-context scaling baked into the file).
        if file.content.tensor_infos.contains_key("rope_freqs.weight") {
            let factors = loader.vector("rope_freqs.weight", pairs)?;
            inv_freq.iter_mut().zip(&factors).for_each(|(f, d)| *f /= d);
        }
        inv_freq.iter_mut().for_each(|f| *f /= arch.rope_scale);
        let local_inv_freq = arch.sliding.map(|s| frequencies(s.local_base, arch.head_dim));
        Ok(Self { arch, vocab, embed, output, out_norm, blocks, inv_freq, local_inv_freq, cached: 0 })
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
                "internal: decoder step at position {pos} with {} cached and {} tokens",
                self.cached,
                tokens.len()
            )));
        }
        let a = &self.arch;
        let (m, h, qd, kvd, hd) = (tokens.len(), a.hidden, a.q_dim(), a.kv_dim(), a.head_dim);
        let mut x = vec![0f32; m * h];
        for (row, &id) in x.chunks_exact_mut(h).zip(tokens) {
            if id as usize >= self.vocab {
                return Err(Error::Inference(format!("token id {id} is outside the vocabulary")));
            }
            self.embed.row(id as usize, row);
            if a.embed_scale != 1.0 {
                row.iter_mut().for_each(|v| *v *= a.embed_scale);
            }
        }
        // sin / cos of every pair at every new position, shared by all layers of a kind.
        let angles = |freqs: &[f32]| -> Vec<(f32, f32)> {
            (pos..pos + m).flat_map(|p| freqs.iter().map(move |f| (p as f32 * f).sin_cos())).collect()
        };
        let global = angles(&self.inv_freq);
        let local = self.local_inv_freq.as_deref().map(angles);
        let pairs = hd / 2;
        let qkv_n = qd + 2 * kvd;
        let (mut xn, mut qkv, mut q) = (vec![0f32; m * h], vec![0f32; m * qkv_n], vec![0f32; m * qd]);
        let (mut ctx, mut o) = (vec![0f32; m * qd], vec![0f32; m * h]);
        let (mut gu, mut act) = (vec![0f32; m * 2 * a.ffn], vec![0f32; m * a.ffn]);
        for b in &mut self.blocks {
            ops::rms_norm(&x, &b.attn_norm, a.eps, &mut xn);
            b.qkv.matmul(&xn, m, &mut qkv)?;
            let rope = match (&local, b.local) {
                (Some(local), true) => local,
                _ => &global,
            };
            for (t, row) in qkv.chunks_exact_mut(qkv_n).enumerate() {
                if let Some(bias) = &b.qkv_bias {
                    row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
                }
                if let Some((qn, kn)) = &b.qk_norm {
                    ops::rms_norm_in_place(&mut row[..qd], qn, a.eps);
                    ops::rms_norm_in_place(&mut row[qd..qd + kvd], kn, a.eps);
                }
                let turn = &rope[t * pairs..(t + 1) * pairs];
                for head in row[..qd + kvd].chunks_exact_mut(hd) {
                    ops::rotate(a.rope, head, turn);
                }
                q[t * qd..(t + 1) * qd].copy_from_slice(&row[..qd]);
                b.keys.extend_from_slice(&row[qd..qd + kvd]);
                b.values.extend_from_slice(&row[qd + kvd..]);
            }
            let heads = Heads {
                heads: a.heads,
                kv_heads: a.kv_heads,
                head_dim: hd,
                scale: a.attn_scale,
                window: a.sliding.filter(|_| b.local).map(|s| s.window),
            };
            ops::attention(&heads, &q, &b.keys, &b.values, pos, &mut ctx);
            b.wo.matmul(&ctx, m, &mut o)?;
            if let Some((after_attn, _)) = &b.post_norms {
                ops::rms_norm_in_place(&mut o, after_attn, a.eps);
            }
            x.iter_mut().zip(&o).for_each(|(x, o)| *x += o);
            ops::rms_norm(&x, &b.ffn_norm, a.eps, &mut xn);
            b.gate_up.matmul(&xn, m, &mut gu)?;
            ops::gated(a.activation, &gu, &mut act, a.ffn);
            b.down.matmul(&act, m, &mut o)?;
            if let Some((_, after_ffn)) = &b.post_norms {
                ops::rms_norm_in_place(&mut o, after_ffn, a.eps);
            }
            x.iter_mut().zip(&o).for_each(|(x, o)| *x += o);
        }
        self.cached = pos + m;
        let mut last = vec![0f32; h];
        ops::rms_norm(&x[(m - 1) * h..], &self.out_norm, a.eps, &mut last);
        let mut logits = vec![0f32; self.vocab];
        match &self.output {
            Some(w) => w.matmul(&last, 1, &mut logits)?,
            None => self.embed.matmul(&last, 1, &mut logits)?,
        }
        Ok(logits)
    }
}
