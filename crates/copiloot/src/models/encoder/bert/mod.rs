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

/// Transformer layer `l` of `arch` from `weights`, its linear layers in `precision`.
fn load_layer(weights: &Weights, arch: &Arch, l: usize, precision: Precision) -> Result<Layer> {
    let (h, i) = (arch.hidden, arch.intermediate);
    let linear = |base: &str, n: usize, k: usize| -> Result<Linear> {
        let w = weights.get(&format!("{base}.weight"), &[n, k])?;
        let b = weights.get(&format!("{base}.bias"), &[n])?;
        Linear::new(w, n, k, b, precision)
    };
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
        attn_ln: layer_norm(weights, &names.attn_ln, h, arch.eps)?,
        ffn_in: linear(&names.ffn_in, i, h)?,
        ffn_out: linear(&names.ffn_out, h, i)?,
        out_ln: layer_norm(weights, &names.out_ln, h, arch.eps)?,
    })
}

impl Layer {
    /// One post-LN transformer layer over the unpadded `[tokens, hidden]` rows of `shape`'s sequences.
    fn forward(&self, hidden: Vec<f32>, shape: &AttentionShape, arch: &Arch) -> Result<Vec<f32>> {
        let (sh, si) = (arch.hidden, arch.intermediate);
        let t = hidden.len() / sh.max(1);
        let cpu = &Device::Cpu;
        let x = Tensor::from_vec(hidden, (t, sh), cpu)?;
        let qkv = self.qkv.forward(&x)?;
        let ctx = with_data(&qkv, |d| kernels::attention(d, &self.qkv.bias, shape))?;
        let attn = self.attn_out.forward(&Tensor::from_vec(ctx, (t, sh), cpu)?)?;
        let h1 = with_data(&attn, |ad| {
            with_data(&x, |xd| {
                kernels::bias_residual_layer_norm(ad, &self.attn_out.bias, xd, sh, &self.attn_ln)
            })
        })??;
        let h1 = Tensor::from_vec(h1, (t, sh), cpu)?;
        let f = self.ffn_in.forward(&h1)?;
        let g = with_data(&f, |fd| kernels::bias_activation(fd, &self.ffn_in.bias, si, arch.activation))?;
        let o = self.ffn_out.forward(&Tensor::from_vec(g, (t, si), cpu)?)?;
        with_data(&o, |od| {
            with_data(&h1, |hd| {
                kernels::bias_residual_layer_norm(od, &self.ffn_out.bias, hd, sh, &self.out_ln)
            })
        })?
    }
}

/// A task's own copy of the encoder's top layers (fine-tuned for that task, e.g. sentiment): it runs
/// from the hidden states after layer `from` of the shared forward pass, so the lower layers are
/// computed once for every task and the shared layers' output does not change.
pub struct Branch {
    from: usize,
    layers: Vec<Layer>,
}

impl Branch {
    /// The encoder layer whose output the branch starts from.
    pub fn start_layer(&self) -> usize {
        self.from
    }

    /// Number of layers in the branch.
    pub fn layer_count(&self) -> usize {
        self.layers.len()
    }
}

impl BertModel {
    /// Loads a branch: a safetensors file holding layers `from..layers()` of this encoder under the
    /// encoder's own tensor names (what `training::finetune` writes), in this encoder's precision.
    pub fn load_branch(&self, path: &Path) -> Result<Branch> {
        let weights = Weights::open(path)?;
        let total = self.layers.len();
        let has = |l: usize| weights.contains(&format!("{}.weight", self.arch.layer(l).q));
        let from = (0..total).find(|&l| has(l)).ok_or_else(|| {
            Error::model_load(
                path,
                format!("no layer of this encoder's {total} is in the file: a branch for another encoder?"),
            )
        })?;
        if let Some(gap) = (from..total).find(|&l| !has(l)) {
            return Err(Error::model_load(
                path,
                format!(
                    "the branch has layer {from} but not layer {gap}: a branch holds the encoder's top \
                     layers, {from} to {}",
                    total - 1
                ),
            ));
        }
        let layers = (from..total)
            .into_par_iter()
            .map(|l| load_layer(&weights, &self.arch, l, self.precision))
            .collect::<Result<Vec<Layer>>>()?;
        Ok(Branch { from, layers })
    }

    /// Load `model.safetensors` for the architecture `config` (read from `config_path`) describes.
    pub fn load(
        weights_path: &Path,
        config: &Config,
        config_path: &Path,
        precision: Precision,
    ) -> Result<Self> {
        let weights = Weights::open(weights_path)?;
        let arch = Arch::from_config(config, config_path)?.with_prefix_of(&weights);
        let h = arch.hidden;
        let layer = |l: usize| load_layer(&weights, &arch, l, precision);
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
    /// With a `branch`, also the last hidden state of its layers, run from the output of its
    /// starting layer (empty without one).
    pub fn forward_taps(&self, batch: &[&[u32]], taps: &[usize], branch: Option<&Branch>) -> Result<Forward> {
        if let Some(&bad) = taps.iter().find(|&&l| l > self.layers.len()) {
            return Err(Error::Inference(format!(
                "layer {bad} was asked for but the encoder has {} layers (0 = embeddings)",
                self.layers.len()
            )));
        }
        // On a pool thread: a caller outside the pool would block and be woken for each of the layers'
        // parallel loops.
        rayon::scope(|_| self.forward_on_pool(batch, taps, branch))
    }

    fn forward_on_pool(&self, batch: &[&[u32]], taps: &[usize], branch: Option<&Branch>) -> Result<Forward> {
        let a = &self.arch;
        let (h, sh) = (a.hidden, a.hidden);
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
            return Ok(Forward { last: Vec::new(), taps: tapped, branch: Vec::new() });
        }
        let lengths: Vec<usize> = batch.iter().map(|s| s.len()).collect();
        let input = EmbeddingInput { tokens: &tokens, hidden: h, stride: sh };
        let word = |id: u32, out: &mut [f32]| self.word.row(id as usize, h, out);
        let mut hidden = kernels::embed(&input, word, &self.positions, &self.type0, &self.emb_ln);
        let shape = AttentionShape { lengths: &lengths, heads: a.heads, head_dim: a.head_dim(), stride: sh };
        let mut keep = |after: usize, hidden: &Vec<f32>| {
            for (slot, _) in tapped.iter_mut().zip(taps).filter(|(_, &l)| l == after) {
                slot.clone_from(hidden);
            }
        };
        let run_branch = |hidden: &Vec<f32>| -> Result<Vec<f32>> {
            let mut x = hidden.clone();
            for layer in branch.map(|b| b.layers.as_slice()).unwrap_or_default() {
                x = layer.forward(x, &shape, a)?;
            }
            Ok(x)
        };
        let mut branched = Vec::new();
        keep(0, &hidden);
        for (l, layer) in self.layers.iter().enumerate() {
            if branch.is_some_and(|b| b.from == l) {
                branched = run_branch(&hidden)?;
            }
            hidden = layer.forward(hidden, &shape, a)?;
            keep(l + 1, &hidden);
        }
        Ok(Forward { last: hidden, taps: tapped, branch: branched })
    }
}

/// What [`BertModel::forward_taps`] gives: rows of [`BertModel::hidden`] values, sequences one after
/// another.
pub struct Forward {
    /// The last layer's hidden states.
    pub last: Vec<f32>,
    /// The hidden states after each tapped layer, in the order asked.
    pub taps: Vec<Vec<f32>>,
    /// The branch's last hidden states (empty without a branch).
    pub branch: Vec<f32>,
}

fn usize_dim0(w: &Weights, name: &str) -> usize {
    w.dim0(name).unwrap_or(1)
}
