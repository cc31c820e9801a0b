//! Our own BERT-family forward pass (bert, xlm-roberta, distilbert), built for CPU throughput.
//!
//! What it does differently from candle-transformers' models, each measured in benches/:
//! - no padding: the tokens of all texts in a batch are one `[tokens, hidden]` matrix for every
//!   linear layer, and attention runs per text over its own tokens only;
//! - fused steps: one QKV matmul; bias + GELU, bias + residual + layer-norm, and the whole attention
//!   of a text are single passes ([`crate::models::kernels::bert`]);
//! - optional int8 linear layers ([`Precision::Q8`]) through our own int8 kernel ([`crate::models::kernels::q8`]).

mod arch;
mod linear;
mod weights;

use crate::error::{Error, Result};
use crate::models::kernels::bert::{self as kernels, AttentionShape, EmbeddingInput, LayerNorm};
pub(crate) use arch::{Arch, Config, Family};
use candle_core::{Device, Tensor};
use linear::{with_data, Linear};
use rayon::prelude::*;
use std::path::Path;
use weights::Weights;

/// Numeric precision of the encoder's linear layers.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f32 everywhere: reproduces the reference embeddings (cosine ≥ 0.999).
    F32,
    /// int8 weights (Q8_0, blocks of 32) and int8 activations for the linear layers; embeddings int8,
    /// attention, layer norms and pooling stay f32. Faster, cosine ≥ 0.99 to f32 (see README).
    #[default]
    Q8,
}

impl Precision {
    pub const ALL: [Precision; 2] = [Precision::F32, Precision::Q8];

    pub fn as_str(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Q8 => "q8",
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" | "fp32" | "float32" => Ok(Precision::F32),
            "q8" | "q8_0" | "int8" => Ok(Precision::Q8),
            other => Err(Error::Config(format!("unknown precision `{other}`: use `f32` or `q8`"))),
        }
    }
}

/// The word-embedding table: f32, or int8 rows with one scale per 32 values (a quarter of the memory;
/// for the 250k-token multilingual vocabulary that is 96 MB instead of 384 MB).
enum WordTable {
    F32(Vec<f32>),
    Q8 { qs: Vec<i8>, scales: Vec<f32> },
}

impl WordTable {
    /// Read the `[vocab, hidden]` table; in q8 each row is quantised as it is read, so the f32 table
    /// (384 MB for the multilingual vocabulary) never exists whole.
    fn read(
        weights: &Weights,
        name: &str,
        vocab: usize,
        hidden: usize,
        precision: Precision,
    ) -> Result<Self> {
        if precision == Precision::F32 {
            return Ok(WordTable::F32(weights.get(name, &[vocab, hidden])?));
        }
        let mut qs = Vec::with_capacity(vocab * hidden);
        let mut scales = Vec::with_capacity(vocab * hidden.div_ceil(32));
        let mut row = Vec::with_capacity(hidden);
        weights.stream(name, &[vocab, hidden], &mut |mut piece| {
            while !piece.is_empty() {
                let (head, tail) = piece.split_at((hidden - row.len()).min(piece.len()));
                row.extend_from_slice(head);
                piece = tail;
                if row.len() == hidden {
                    quantize_row(&row, &mut qs, &mut scales);
                    row.clear();
                }
            }
        })?;
        Ok(WordTable::Q8 { qs, scales })
    }

    fn row(&self, id: usize, hidden: usize, out: &mut [f32]) {
        match self {
            WordTable::F32(t) => {
                if let Some(src) = t.get(id * hidden..(id + 1) * hidden) {
                    out.copy_from_slice(src);
                }
            }
            WordTable::Q8 { qs, scales } => {
                let blocks = hidden.div_ceil(32);
                let (Some(q), Some(d)) =
                    (qs.get(id * hidden..(id + 1) * hidden), scales.get(id * blocks..(id + 1) * blocks))
                else {
                    return;
                };
                for ((o, q), d) in out.chunks_mut(32).zip(q.chunks(32)).zip(d) {
                    for (o, &q) in o.iter_mut().zip(q) {
                        *o = q as f32 * d;
                    }
                }
            }
        }
    }
}

/// One row as int8 blocks of 32 values with one f32 scale each (symmetric, like Q8_0).
fn quantize_row(row: &[f32], qs: &mut Vec<i8>, scales: &mut Vec<f32>) {
    for block in row.chunks(32) {
        let max = block.iter().fold(0f32, |m, x| m.max(x.abs()));
        let d = max / 127.0;
        let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
        scales.push(d);
        qs.extend(block.iter().map(|x| (x * inv).round() as i8));
    }
}

struct Layer {
    qkv: Linear,
    attn_out: Linear,
    attn_ln: LayerNorm,
    ffn_in: Linear,
    ffn_out: Linear,
    out_ln: LayerNorm,
}

/// A loaded BERT-family encoder body; `forward_taps` gives the last hidden state of every token.
pub struct BertModel {
    arch: Arch,
    precision: Precision,
    word: WordTable,
    positions: Vec<f32>,
    type0: Vec<f32>,
    emb_ln: LayerNorm,
    layers: Vec<Layer>,
}

fn layer_norm(w: &Weights, base: &str, n: usize, eps: f32) -> Result<LayerNorm> {
    Ok(LayerNorm {
        gamma: w.get(&Arch::ln_param(|name| w.contains(name), base, "weight"), &[n])?,
        beta: w.get(&Arch::ln_param(|name| w.contains(name), base, "bias"), &[n])?,
        eps,
    })
}

impl BertModel {
    /// Load `model.safetensors` for the architecture `config` (read from `config_path`) describes.
    pub fn load(
        weights_path: &Path,
        config: &Config,
        config_path: &Path,
        precision: Precision,
    ) -> Result<Self> {
        let weights = Weights::open(weights_path)?;
        let arch = Arch::from_config(config, config_path)?.with_prefix_of(&weights);
        let (h, i) = (arch.hidden, arch.intermediate);
        let linear = |base: &str, n: usize, k: usize| -> Result<Linear> {
            let w = weights.get(&format!("{base}.weight"), &[n, k])?;
            let b = weights.get(&format!("{base}.bias"), &[n])?;
            Linear::new(w, n, k, b, precision)
        };
        let layer = |l: usize| -> Result<Layer> {
            let names = arch.layer(l);
            // Q, K and V share their input: one [3h, h] matmul instead of three.
            let mut w = Vec::with_capacity(3 * h * h);
            let mut b = Vec::with_capacity(3 * h);
            for base in [&names.q, &names.k, &names.v] {
                w.extend(weights.get(&format!("{base}.weight"), &[h, h])?);
                b.extend(weights.get(&format!("{base}.bias"), &[h])?);
            }
            Ok(Layer {
                qkv: Linear::new(w, 3 * h, h, b, precision)?,
                attn_out: linear(&names.attn_out, h, h)?,
                attn_ln: layer_norm(&weights, &names.attn_ln, h, arch.eps)?,
                ffn_in: linear(&names.ffn_in, i, h)?,
                ffn_out: linear(&names.ffn_out, h, i)?,
                out_ln: layer_norm(&weights, &names.out_ln, h, arch.eps)?,
            })
        };
        // Quantising is most of the load time with q8: the layers and the word table are prepared on all
        // cores (the file reads themselves take turns).
        let (layers, word) = rayon::join(
            || (0..arch.layers).into_par_iter().map(layer).collect::<Result<Vec<Layer>>>(),
            || WordTable::read(&weights, &arch.embedding("word_embeddings.weight"), arch.vocab, h, precision),
        );
        let (layers, word) = (layers?, word?);
        let positions =
            weights.get(&arch.embedding("position_embeddings.weight"), &[arch.max_positions, h])?;
        let type_name = arch.embedding("token_type_embeddings.weight");
        let type0 = if weights.contains(&type_name) {
            let mut t = weights.get(&type_name, &[usize_dim0(&weights, &type_name), h])?;
            t.truncate(h);
            t
        } else {
            vec![0.0; h]
        };
        let emb_ln = layer_norm(&weights, &arch.embedding("LayerNorm"), h, arch.eps)?;
        Ok(Self { word, arch, precision, positions, type0, emb_ln, layers })
    }

    pub fn hidden(&self) -> usize {
        self.arch.hidden
    }

    /// Longest input the position table allows, special tokens included.
    pub fn max_tokens(&self) -> usize {
        self.arch.max_tokens()
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Number of transformer layers.
    pub fn layers(&self) -> usize {
        self.layers.len()
    }

    /// Last hidden state of every token of every sequence, sequences one after another, in rows of
    /// [`Self::hidden`] values; and a copy of the hidden states after each layer in `taps` (0 = the
    /// embedding output, [`Self::layers`] = the last layer), in the order asked. Taps only copy: the
    /// last hidden state is the same with or without them.
    pub fn forward_taps(&self, batch: &[&[u32]], taps: &[usize]) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
        if let Some(&bad) = taps.iter().find(|&&l| l > self.layers.len()) {
            return Err(Error::Inference(format!(
                "layer {bad} was asked for but the encoder has {} layers (0 = embeddings)",
                self.layers.len()
            )));
        }
        // On a pool thread: a caller outside the pool would block and be woken for each of the layers'
        // parallel loops.
        rayon::scope(|_| self.forward_on_pool(batch, taps))
    }

    fn forward_on_pool(&self, batch: &[&[u32]], taps: &[usize]) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
        let a = &self.arch;
        let (h, sh, si) = (a.hidden, a.hidden, a.intermediate);
        let mut tokens = Vec::with_capacity(batch.iter().map(|s| s.len()).sum());
        for seq in batch {
            if seq.len() > a.max_tokens() {
                return Err(Error::Inference(format!(
                    "a sequence of {} tokens is longer than the model's {} positions",
                    seq.len(),
                    a.max_tokens()
                )));
            }
            for (p, &id) in seq.iter().enumerate() {
                if id as usize >= a.vocab {
                    return Err(Error::Inference(format!(
                        "token id {id} is outside the vocabulary of {}: tokenizer and model do not match",
                        a.vocab
                    )));
                }
                tokens.push((id, p + a.position_offset));
            }
        }
        let t = tokens.len();
        let mut tapped = vec![Vec::new(); taps.len()];
        if t == 0 {
            return Ok((Vec::new(), tapped));
        }
        let lengths: Vec<usize> = batch.iter().map(|s| s.len()).collect();
        let input = EmbeddingInput { tokens: &tokens, hidden: h, stride: sh };
        let word = |id: u32, out: &mut [f32]| self.word.row(id as usize, h, out);
        let mut hidden = kernels::embed(&input, word, &self.positions, &self.type0, &self.emb_ln);
        let shape = AttentionShape { lengths: &lengths, heads: a.heads, head_dim: a.head_dim(), stride: sh };
        let cpu = &Device::Cpu;
        let mut keep = |after: usize, hidden: &Vec<f32>| {
            for (slot, _) in tapped.iter_mut().zip(taps).filter(|(_, &l)| l == after) {
                slot.clone_from(hidden);
            }
        };
        keep(0, &hidden);
        for (l, layer) in self.layers.iter().enumerate() {
            let x = Tensor::from_vec(hidden, (t, sh), cpu)?;
            let qkv = layer.qkv.forward(&x)?;
            let ctx = with_data(&qkv, |d| kernels::attention(d, &layer.qkv.bias, &shape))?;
            let attn = layer.attn_out.forward(&Tensor::from_vec(ctx, (t, sh), cpu)?)?;
            let h1 = with_data(&attn, |ad| {
                with_data(&x, |xd| {
                    kernels::bias_residual_layer_norm(ad, &layer.attn_out.bias, xd, sh, &layer.attn_ln)
                })
            })??;
            let h1 = Tensor::from_vec(h1, (t, sh), cpu)?;
            let f = layer.ffn_in.forward(&h1)?;
            let g = with_data(&f, |fd| kernels::bias_activation(fd, &layer.ffn_in.bias, si, a.activation))?;
            let o = layer.ffn_out.forward(&Tensor::from_vec(g, (t, si), cpu)?)?;
            hidden = with_data(&o, |od| {
                with_data(&h1, |hd| {
                    kernels::bias_residual_layer_norm(od, &layer.ffn_out.bias, hd, sh, &layer.out_ln)
                })
            })??;
            keep(l + 1, &hidden);
        }
        Ok((hidden, tapped))
    }
}

fn usize_dim0(w: &Weights, name: &str) -> usize {
    w.dim0(name).unwrap_or(1)
}
