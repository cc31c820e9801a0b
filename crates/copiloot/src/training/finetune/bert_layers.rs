//! A small, differentiable BERT (embeddings and transformer layers) for fine-tuning: built only from
//! tensor ops that candle can back-propagate through (its fused layer-norm and softmax kernels have no
//! gradient). A layer's tensors can be made trainable [`candle_core::Var`]s and written back under
//! the same names.
//!
//! The model is not described a second time here. Sizes, layer-norm eps, activation and every tensor
//! name (embeddings, the sixteen tensors of a layer, the `bert.` prefix, the old `gamma` / `beta`
//! layer-norm names) come from the encoder's description, [`Arch`] and its per-layer names built from
//! the typed `config.json` [`Config`] (`models::encoder::bert`), the same one the inference forward
//! loads with. What stays separate, deliberately, is the arithmetic: the encoder's forward is our
//! fused, padding-free (optionally int8) kernels with no gradients, built for throughput; this one is
//! plain candle ops on padded batches, in f32, so autograd can run through the trained layers. Giving
//! the fast kernels backward passes would mean a second implementation of each of them anyway.
//! `hand_written_bert_reproduces_the_encoder` keeps the two forwards in agreement (< 1e-4).

use crate::error::{Error, Result};
use crate::models::encoder::bert::{Arch, Config};
use crate::models::kernels::bert::Activation;
use candle_core::{DType, Device, Tensor, Var, D};
use std::collections::HashMap;
use std::path::Path;

/// All tensors of a `model.safetensors`, by name, and the description of the BERT they form.
pub struct BertWeights {
    pub tensors: HashMap<String, Tensor>,
    /// Sizes and tensor names, as the encoder describes this model.
    pub arch: Arch,
    /// The `config.json` the description was built from. This and `prefix` repeat what `arch` says
    /// for the tests, which read them by these names.
    #[cfg_attr(not(test), allow(dead_code))]
    pub shape: Config,
    /// The prefix of the BERT tensors' names (`bert.` or none): `arch.prefix`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub prefix: String,
}

impl BertWeights {
    /// Reads `config.json` and `model.safetensors` of a BERT folder (`model_type` `bert`).
    pub fn load(dir: &Path) -> Result<BertWeights> {
        let config_path = dir.join("config.json");
        let config = Config::read(&config_path)?;
        let model_type = config.model_type.as_str();
        if model_type != "bert" {
            return Err(Error::Config(format!(
                "fine-tuning supports BERT encoders (like the default multilingual-e5-small); this one is \
                 `{model_type}` — train a frozen head instead (without --fine-tune)"
            )));
        }
        if let Some(act) = config.hidden_act.as_deref().filter(|a| *a != "gelu") {
            return Err(Error::Config(format!(
                "fine-tuning supports BERT with `gelu` activations; this one uses `{act}`"
            )));
        }
        let arch = Arch::from_config(&config, &config_path)?;
        let path = dir.join("model.safetensors");
        let tensors = candle_core::safetensors::load(&path, &Device::Cpu)
            .map_err(|e| Error::model_load(&path, e))?
            .into_iter()
            .map(|(k, v)| v.to_dtype(DType::F32).map(|v| (k, v)))
            .collect::<candle_core::Result<HashMap<_, _>>>()?;
        let arch = arch.with_prefix_among(|p| tensors.keys().any(|k| k.starts_with(p)));
        let prefix = arch.prefix.clone();
        Ok(BertWeights { tensors, arch, shape: config, prefix })
    }

    /// The tensor `name` (a full name, as [`Arch`] gives it).
    pub fn get(&self, name: &str) -> Result<Tensor> {
        self.tensors
            .get(name)
            .cloned()
            .ok_or_else(|| Error::Config(format!("the encoder has no tensor `{name}`; is it a BERT model?")))
    }

    /// Whether the file has a tensor `name`.
    fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// A layer norm's weight and bias, under their names in this file.
    fn layer_norm(&self, base: &str) -> Result<(Tensor, Tensor)> {
        let name = |param| Arch::ln_param(|n| self.contains(n), base, param);
        Ok((self.get(&name("weight"))?, self.get(&name("bias"))?))
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
    let a = &weights.arch;
    let (_, len) = ids.dims2()?;
    let word = weights.get(&a.embedding("word_embeddings.weight"))?;
    let pos = weights.get(&a.embedding("position_embeddings.weight"))?.narrow(0, a.position_offset, len)?;
    let types = weights.get(&a.embedding("token_type_embeddings.weight"))?.narrow(0, 0, 1)?;
    let (n, l) = ids.dims2()?;
    let x = word.index_select(&ids.flatten_all()?, 0)?.reshape((n, l, ()))?;
    let x = x.broadcast_add(&pos.unsqueeze(0)?)?.broadcast_add(&types.unsqueeze(0)?)?;
    let (w, b) = weights.layer_norm(&a.embedding("LayerNorm"))?;
    Ok(layer_norm(&x, &w, &b, f64::from(a.eps))?)
}

/// The full names of the sixteen tensors of transformer layer `i` in this file ([`Arch::layer`]),
/// weight then bias of Q, K, V, attention output, its layer norm, FFN in, FFN out, output layer norm.
pub fn layer_tensor_names(weights: &BertWeights, i: usize) -> Vec<String> {
    weights.arch.layer(i).tensors(|n| weights.contains(n))
}

/// One transformer layer; its tensors are plain (frozen) or the tensors of trainable `Var`s.
pub struct Layer {
    /// In the order of [`layer_tensor_names`].
    t: Vec<Tensor>,
    heads: usize,
    /// The layer norms' eps; the f32 of [`Arch::eps`] (candle adds it to f32 tensors as f32 anyway).
    eps: f64,
    activation: Activation,
}

impl Layer {
    fn new(weights: &BertWeights, t: Vec<Tensor>) -> Layer {
        let a = &weights.arch;
        Layer { t, heads: a.heads, eps: f64::from(a.eps), activation: a.activation }
    }

    pub fn frozen(weights: &BertWeights, i: usize) -> Result<Layer> {
        let t = layer_tensor_names(weights, i).iter().map(|n| weights.get(n)).collect::<Result<_>>()?;
        Ok(Layer::new(weights, t))
    }

    /// The layer with trainable copies of its weights, and those `Var`s (same order as the names).
    pub fn trainable(weights: &BertWeights, i: usize) -> Result<(Layer, Vec<Var>)> {
        let vars: Vec<Var> = layer_tensor_names(weights, i)
            .iter()
            .map(|n| weights.get(n).and_then(|t| Ok(Var::from_tensor(&t)?)))
            .collect::<Result<_>>()?;
        let t = vars.iter().map(|v| v.as_tensor().clone()).collect();
        Ok((Layer::new(weights, t), vars))
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
        let m = dense(&a, &t[10], &t[11])?;
        // Only `gelu` models are loaded for fine-tuning (the one checked against the encoder).
        let m = match self.activation {
            Activation::Gelu => m.gelu_erf()?,
            Activation::GeluTanh => m.gelu()?,
            Activation::Relu => m.relu()?,
        };
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
