//! A small, differentiable BERT (embeddings and transformer layers) for fine-tuning: built only from
//! tensor ops that candle can back-propagate through (its fused layer-norm and softmax kernels have no
//! gradient). Weights are read by their Hugging Face names; a layer's tensors can be made trainable
//! [`candle_core::Var`]s and written back under the same names.

use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor, Var, D};
use std::collections::HashMap;
use std::path::Path;

/// The parts of a BERT `config.json` the forward pass needs.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct BertShape {
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub hidden_act: Option<String>,
}

fn default_eps() -> f64 {
    1e-12
}

/// All tensors of a `model.safetensors`, by name, and the prefix (`bert.` or none) of the BERT ones.
pub struct BertWeights {
    pub tensors: HashMap<String, Tensor>,
    pub prefix: String,
    pub shape: BertShape,
}

impl BertWeights {
    /// Reads `config.json` and `model.safetensors` of a BERT folder (`model_type` `bert`).
    pub fn load(dir: &Path) -> Result<BertWeights> {
        let config_path = dir.join("config.json");
        let raw = std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
        let json: serde_json::Value =
            serde_json::from_str(&raw).map_err(|e| Error::model_load(&config_path, e))?;
        let model_type = json.get("model_type").and_then(|v| v.as_str()).unwrap_or("bert");
        if model_type != "bert" {
            return Err(Error::Config(format!(
                "fine-tuning supports BERT encoders (like the default multilingual-e5-small); this one is \
                 `{model_type}` — train a frozen head instead (without --fine-tune)"
            )));
        }
        let shape: BertShape =
            serde_json::from_value(json).map_err(|e| Error::model_load(&config_path, e))?;
        if let Some(act) = shape.hidden_act.as_deref().filter(|a| *a != "gelu") {
            return Err(Error::Config(format!(
                "fine-tuning supports BERT with `gelu` activations; this one uses `{act}`"
            )));
        }
        let path = dir.join("model.safetensors");
        let tensors = candle_core::safetensors::load(&path, &Device::Cpu)
            .map_err(|e| Error::model_load(&path, e))?
            .into_iter()
            .map(|(k, v)| v.to_dtype(DType::F32).map(|v| (k, v)))
            .collect::<candle_core::Result<HashMap<_, _>>>()?;
        let prefix =
            if tensors.contains_key("bert.embeddings.word_embeddings.weight") { "bert." } else { "" }
                .to_string();
        Ok(BertWeights { tensors, prefix, shape })
    }

    pub fn get(&self, name: &str) -> Result<Tensor> {
        let full = format!("{}{name}", self.prefix);
        // Old checkpoints call layer-norm parameters gamma/beta.
        let alt =
            full.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta");
        self.tensors
            .get(&full)
            .or_else(|| self.tensors.get(&alt))
            .cloned()
            .ok_or_else(|| Error::Config(format!("the encoder has no tensor `{full}`; is it a BERT model?")))
    }
}

/// Layer norm from basic ops (differentiable).
fn layer_norm(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let centered = x.broadcast_sub(&mean)?;
    let var = centered.sqr()?.mean_keepdim(D::Minus1)?;
    centered.broadcast_div(&(var + eps)?.sqrt()?)?.broadcast_mul(w)?.broadcast_add(b)
}

/// `x · wᵀ + b` for `x` of shape `[batch, seq, in]`, as one `[batch·seq, in]` matrix product (a
/// broadcast product would run one small product per text).
fn dense(x: &Tensor, w: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    let (n, l, k) = x.dims3()?;
    x.reshape((n * l, k))?.matmul(&w.t()?)?.broadcast_add(b)?.reshape((n, l, ()))
}

/// Word + position + token-type(0) embeddings and their layer norm; frozen.
pub fn embed(weights: &BertWeights, ids: &Tensor) -> Result<Tensor> {
    let (_, len) = ids.dims2()?;
    let word = weights.get("embeddings.word_embeddings.weight")?;
    let pos = weights.get("embeddings.position_embeddings.weight")?.narrow(0, 0, len)?;
    let types = weights.get("embeddings.token_type_embeddings.weight")?.narrow(0, 0, 1)?;
    let (n, l) = ids.dims2()?;
    let x = word.index_select(&ids.flatten_all()?, 0)?.reshape((n, l, ()))?;
    let x = x.broadcast_add(&pos.unsqueeze(0)?)?.broadcast_add(&types.unsqueeze(0)?)?;
    Ok(layer_norm(
        &x,
        &weights.get("embeddings.LayerNorm.weight")?,
        &weights.get("embeddings.LayerNorm.bias")?,
        weights.shape.layer_norm_eps,
    )?)
}

/// The tensor names of transformer layer `i`, without the model prefix.
pub fn layer_tensor_names(i: usize) -> Vec<String> {
    [
        "attention.self.query.weight",
        "attention.self.query.bias",
        "attention.self.key.weight",
        "attention.self.key.bias",
        "attention.self.value.weight",
        "attention.self.value.bias",
        "attention.output.dense.weight",
        "attention.output.dense.bias",
        "attention.output.LayerNorm.weight",
        "attention.output.LayerNorm.bias",
        "intermediate.dense.weight",
        "intermediate.dense.bias",
        "output.dense.weight",
        "output.dense.bias",
        "output.LayerNorm.weight",
        "output.LayerNorm.bias",
    ]
    .iter()
    .map(|n| format!("encoder.layer.{i}.{n}"))
    .collect()
}

/// One transformer layer; its tensors are plain (frozen) or the tensors of trainable `Var`s.
pub struct Layer {
    /// In the order of [`layer_tensor_names`].
    t: Vec<Tensor>,
    heads: usize,
    eps: f64,
}

impl Layer {
    pub fn frozen(weights: &BertWeights, i: usize) -> Result<Layer> {
        let t = layer_tensor_names(i).iter().map(|n| weights.get(n)).collect::<Result<_>>()?;
        Ok(Layer { t, heads: weights.shape.num_attention_heads, eps: weights.shape.layer_norm_eps })
    }

    /// The layer with trainable copies of its weights, and those `Var`s (same order as the names).
    pub fn trainable(weights: &BertWeights, i: usize) -> Result<(Layer, Vec<Var>)> {
        let vars: Vec<Var> = layer_tensor_names(i)
            .iter()
            .map(|n| weights.get(n).and_then(|t| Ok(Var::from_tensor(&t)?)))
            .collect::<Result<_>>()?;
        let t = vars.iter().map(|v| v.as_tensor().clone()).collect();
        Ok((Layer { t, heads: weights.shape.num_attention_heads, eps: weights.shape.layer_norm_eps }, vars))
    }

    /// The layer's tensors in the order of [`layer_tensor_names`].
    pub fn tensors(&self) -> &[Tensor] {
        &self.t
    }

    /// `x`: `[batch, seq, hidden]`; `mask_bias`: `[batch, 1, 1, seq]` with 0 for tokens and a large
    /// negative number for padding.
    pub fn forward(&self, x: &Tensor, mask_bias: &Tensor) -> candle_core::Result<Tensor> {
        self.forward_train(x, mask_bias, None)
    }

    /// [`Layer::forward`] with BERT's training-time dropout (on the attention probabilities and on the
    /// two sub-layer outputs before their residual sums) when `dropout` is given.
    pub fn forward_train(
        &self,
        x: &Tensor,
        mask_bias: &Tensor,
        mut dropout: Option<&mut Dropout>,
    ) -> candle_core::Result<Tensor> {
        let mut drop = |y: Tensor| match dropout.as_deref_mut() {
            Some(d) => d.apply(&y),
            None => Ok(y),
        };
        let t = &self.t;
        let (n, l, h) = x.dims3()?;
        let d = h / self.heads;
        let split = |y: Tensor| y.reshape((n, l, self.heads, d))?.transpose(1, 2)?.contiguous();
        let q = split(dense(x, &t[0], &t[1])?)?;
        let k = split(dense(x, &t[2], &t[3])?)?;
        let v = split(dense(x, &t[4], &t[5])?)?;
        let scores = (q.matmul(&k.t()?)? / (d as f64).sqrt())?.broadcast_add(mask_bias)?;
        let max = scores.max_keepdim(D::Minus1)?.detach();
        let e = scores.broadcast_sub(&max)?.exp()?;
        let probs = drop(e.broadcast_div(&e.sum_keepdim(D::Minus1)?)?)?;
        let ctx = probs.matmul(&v)?.transpose(1, 2)?.contiguous()?.reshape((n, l, h))?;
        let a = layer_norm(&(drop(dense(&ctx, &t[6], &t[7])?)? + x)?, &t[8], &t[9], self.eps)?;
        let m = dense(&a, &t[10], &t[11])?.gelu_erf()?;
        layer_norm(&(drop(dense(&m, &t[12], &t[13])?)? + &a)?, &t[14], &t[15], self.eps)
    }
}

/// Inverted dropout with a seeded generator, so a fine-tuning run is reproducible (candle's own
/// dropout draws from an unseeded thread generator).
pub struct Dropout {
    p: f32,
    rng: crate::rng::SplitMix64,
}

impl Dropout {
    /// Drops each value with probability `p` (0 ≤ p < 1) and scales the rest by 1/(1−p).
    pub fn new(p: f32, seed: u64) -> Dropout {
        Dropout { p: p.clamp(0.0, 0.95), rng: crate::rng::SplitMix64(seed) }
    }

    pub fn apply(&mut self, x: &Tensor) -> candle_core::Result<Tensor> {
        if self.p <= 0.0 {
            return Ok(x.clone());
        }
        let keep = 1.0 / (1.0 - self.p);
        // 24 random bits per value are plenty for a drop decision.
        let threshold = (self.p as f64 * (1u64 << 24) as f64) as u64;
        let mask: Vec<f32> = (0..x.elem_count())
            .map(|_| if (self.rng.next() >> 40) < threshold { 0.0 } else { keep })
            .collect();
        x.mul(&Tensor::from_vec(mask, x.shape(), x.device())?)
    }
}

/// `[batch, 1, 1, seq]` additive attention mask from a 0/1 `[batch, seq]` f32 mask.
pub fn mask_bias(mask: &Tensor) -> candle_core::Result<Tensor> {
    let (n, l) = mask.dims2()?;
    (mask.reshape((n, 1, 1, l))? - 1.0)? * 1e4
}

/// Mean over the unmasked tokens, then L2 normalisation (the sentence vector of e5 and MiniLM).
pub fn mean_pool_normalised(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let m = mask.unsqueeze(D::Minus1)?;
    let sum = hidden.broadcast_mul(&m)?.sum(1)?;
    let pooled = sum.broadcast_div(&m.sum(1)?.clamp(1e-9, f64::MAX)?)?;
    let norm = pooled.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
    pooled.broadcast_div(&norm)
}
