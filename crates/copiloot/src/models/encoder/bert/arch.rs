//! One description of the BERT-family encoders: [`Config`], the `config.json` keys we read, and
//! [`Arch`], the sizes and tensor names built from it.
//!
//! `bert`, `xlm-roberta` (also `roberta`, `camembert`) and `distilbert` are the same post-LN
//! transformer; they differ in config keys, tensor names, and where positions start. Both forwards of
//! the crate read this one description: the fast inference forward ([`super::BertModel`]) and the
//! differentiable fine-tuning forward (`training::finetune::bert_layers`).

use super::weights::Weights;
use crate::error::{Error, Result};
use crate::models::kernels::bert::Activation;
use serde::Deserialize;
use std::path::Path;

/// The `config.json` keys the BERT-family encoders use: a typed copy like candle-transformers'
/// `bert::Config`, read once by the encoder and by fine-tuning.
///
/// Field names are those of Hugging Face's [`BertConfig`], which [`XLMRobertaConfig`] shares;
/// [`DistilBertConfig`] spells five of them differently (`dim`, `n_layers`, `n_heads`, `hidden_dim`,
/// `activation`), read through serde aliases. A missing size reads as 0 and is refused by
/// [`Arch::from_config`], which names the key as the model's family spells it; the defaults that depend
/// on the family (padding id, layer-norm eps) are applied there too. Unknown keys are ignored.
///
/// [`BertConfig`]: https://huggingface.co/docs/transformers/model_doc/bert#transformers.BertConfig
/// [`XLMRobertaConfig`]: https://huggingface.co/docs/transformers/model_doc/xlm-roberta#transformers.XLMRobertaConfig
/// [`DistilBertConfig`]: https://huggingface.co/docs/transformers/model_doc/distilbert#transformers.DistilBertConfig
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Config {
    /// `bert` when absent.
    #[serde(default = "default_model_type")]
    pub model_type: String,
    #[serde(default, alias = "dim")]
    pub hidden_size: usize,
    #[serde(default, alias = "n_layers")]
    pub num_hidden_layers: usize,
    #[serde(default, alias = "n_heads")]
    pub num_attention_heads: usize,
    #[serde(default, alias = "hidden_dim")]
    pub intermediate_size: usize,
    /// `gelu` when absent.
    #[serde(default, alias = "activation")]
    pub hidden_act: Option<String>,
    #[serde(default)]
    pub vocab_size: usize,
    #[serde(default)]
    pub max_position_embeddings: usize,
    /// Absent: 1 for RoBERTa, else 0.
    #[serde(default)]
    pub pad_token_id: Option<usize>,
    /// Absent: 1e-12 (DistilBERT always uses 1e-12).
    #[serde(default)]
    pub layer_norm_eps: Option<f64>,
    /// Only `absolute` is supported.
    #[serde(default)]
    pub position_embedding_type: Option<String>,
}

fn default_model_type() -> String {
    "bert".into()
}

impl Config {
    /// Read from the parsed `config.json` at `path`; a value of the wrong type is an error naming its key.
    pub fn from_json(json: &serde_json::Value, path: &Path) -> Result<Self> {
        serde_path_to_error::deserialize(json)
            .map_err(|e| Error::model_load(path, format!("`{}` in config.json: {}", e.path(), e.inner())))
    }

    /// Read and parse the `config.json` at `path`.
    pub fn read(path: &Path) -> Result<Self> {
        let raw = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let json: serde_json::Value = serde_json::from_str(&raw).map_err(|e| Error::model_load(path, e))?;
        Self::from_json(&json, path)
    }

    /// The activation's name as the file gives it (`gelu` when absent).
    pub fn activation_name(&self) -> &str {
        self.hidden_act.as_deref().unwrap_or("gelu")
    }
}

/// Sizes and naming of one encoder.
#[derive(Debug, Clone)]
pub struct Arch {
    pub family: Family,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub vocab: usize,
    pub max_positions: usize,
    /// Position of the first token (RoBERTa counts from `pad_token_id + 1`).
    pub position_offset: usize,
    pub eps: f32,
    pub activation: Activation,
    /// Tensor name prefix (`bert.`, `roberta.`, `distilbert.` or empty).
    pub prefix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Bert,
    Roberta,
    DistilBert,
}

impl Family {
    /// The family of a `model_type`, if it is one we run.
    pub fn of(model_type: &str) -> Option<Family> {
        match model_type {
            "bert" => Some(Family::Bert),
            "xlm-roberta" | "roberta" | "camembert" => Some(Family::Roberta),
            "distilbert" => Some(Family::DistilBert),
            _ => None,
        }
    }
}

/// Tensor names of one layer (without the `.weight` / `.bias` suffix).
pub struct LayerNames {
    pub q: String,
    pub k: String,
    pub v: String,
    pub attn_out: String,
    pub attn_ln: String,
    pub ffn_in: String,
    pub ffn_out: String,
    pub out_ln: String,
}

impl LayerNames {
    /// The full names of the layer's sixteen tensors, weight then bias of Q, K, V, attention output,
    /// its layer norm, FFN in, FFN out and the output layer norm; layer norms as [`Arch::ln_param`]
    /// finds them in a file whose names `contains` answers for.
    pub fn tensors(&self, contains: impl Fn(&str) -> bool) -> Vec<String> {
        let mut out = Vec::with_capacity(16);
        for (base, norm) in [
            (&self.q, false),
            (&self.k, false),
            (&self.v, false),
            (&self.attn_out, false),
            (&self.attn_ln, true),
            (&self.ffn_in, false),
            (&self.ffn_out, false),
            (&self.out_ln, true),
        ] {
            for param in ["weight", "bias"] {
                out.push(if norm {
                    Arch::ln_param(&contains, base, param)
                } else {
                    format!("{base}.{param}")
                });
            }
        }
        out
    }
}

impl Arch {
    /// Sizes, eps and activation of `config` (read from `config_path`, named in errors); the tensor
    /// prefix is set by [`Arch::with_prefix_of`].
    pub fn from_config(config: &Config, config_path: &Path) -> Result<Self> {
        let Some(family) = Family::of(&config.model_type) else {
            return Err(Error::model_load(
                config_path,
                format!(
                    "model_type `{}` is not a supported encoder (bert, xlm-roberta, distilbert)",
                    config.model_type
                ),
            ));
        };
        // The keys as this family spells them, for the error messages.
        let keys: [&str; 4] = match family {
            Family::DistilBert => ["dim", "n_layers", "n_heads", "hidden_dim"],
            _ => ["hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"],
        };
        let need = |key: &str, v: usize| {
            if v > 0 {
                Ok(v)
            } else {
                Err(Error::model_load(config_path, format!("`{key}` is missing or zero in config.json")))
            }
        };
        let c = config;
        let (hidden, layers, heads, intermediate) = (
            need(keys[0], c.hidden_size)?,
            need(keys[1], c.num_hidden_layers)?,
            need(keys[2], c.num_attention_heads)?,
            need(keys[3], c.intermediate_size)?,
        );
        if hidden % heads != 0 {
            return Err(Error::model_load(
                config_path,
                format!("hidden size {hidden} is not a multiple of {heads} heads"),
            ));
        }
        let activation = match c.activation_name() {
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            other => {
                return Err(Error::model_load(config_path, format!("activation `{other}` is not supported")))
            }
        };
        if let Some(kind) = c.position_embedding_type.as_deref() {
            if kind != "absolute" {
                return Err(Error::model_load(
                    config_path,
                    format!("position_embedding_type `{kind}` is not supported (only absolute)"),
                ));
            }
        }
        let pad = c.pad_token_id.unwrap_or(if family == Family::Roberta { 1 } else { 0 });
        Ok(Self {
            family,
            hidden,
            layers,
            heads,
            intermediate,
            vocab: need("vocab_size", c.vocab_size)?,
            max_positions: need("max_position_embeddings", c.max_position_embeddings)?,
            position_offset: if family == Family::Roberta { pad + 1 } else { 0 },
            eps: match family {
                Family::DistilBert => 1e-12,
                _ => c.layer_norm_eps.unwrap_or(1e-12) as f32,
            },
            activation,
            prefix: String::new(),
        })
    }

    /// Pick the tensor-name prefix the file uses (`bert.embeddings…` or plain `embeddings…`).
    pub fn with_prefix_of(self, weights: &Weights) -> Self {
        self.with_prefix_among(|p| weights.has_prefix(p))
    }

    /// [`Arch::with_prefix_of`] for any set of tensor names: `has_prefix(p)` says whether one starts
    /// with `p`.
    pub fn with_prefix_among(mut self, has_prefix: impl Fn(&str) -> bool) -> Self {
        let candidates: &[&str] = match self.family {
            Family::Bert => &["", "bert.", "model."],
            Family::Roberta => &["", "roberta.", "xlm-roberta.", "model."],
            Family::DistilBert => &["", "distilbert."],
        };
        self.prefix = candidates
            .iter()
            .find(|p| has_prefix(&format!("{p}embeddings.word_embeddings")))
            .map(|p| p.to_string())
            .unwrap_or_default();
        self
    }

    pub fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }

    /// Longest sequence the position table allows.
    pub fn max_tokens(&self) -> usize {
        self.max_positions.saturating_sub(self.position_offset)
    }

    pub fn embedding(&self, what: &str) -> String {
        format!("{}embeddings.{what}", self.prefix)
    }

    /// Name of a layer norm's weight or bias in a file whose names `contains` answers for; old
    /// checkpoints say `gamma` / `beta`.
    pub fn ln_param(contains: impl Fn(&str) -> bool, base: &str, param: &str) -> String {
        let name = format!("{base}.{param}");
        if contains(&name) {
            return name;
        }
        let old = if param == "weight" { "gamma" } else { "beta" };
        format!("{base}.{old}")
    }

    pub fn layer(&self, i: usize) -> LayerNames {
        let p = &self.prefix;
        match self.family {
            Family::DistilBert => {
                let l = format!("{p}transformer.layer.{i}");
                LayerNames {
                    q: format!("{l}.attention.q_lin"),
                    k: format!("{l}.attention.k_lin"),
                    v: format!("{l}.attention.v_lin"),
                    attn_out: format!("{l}.attention.out_lin"),
                    attn_ln: format!("{l}.sa_layer_norm"),
                    ffn_in: format!("{l}.ffn.lin1"),
                    ffn_out: format!("{l}.ffn.lin2"),
                    out_ln: format!("{l}.output_layer_norm"),
                }
            }
            _ => {
                let l = format!("{p}encoder.layer.{i}");
                LayerNames {
                    q: format!("{l}.attention.self.query"),
                    k: format!("{l}.attention.self.key"),
                    v: format!("{l}.attention.self.value"),
                    attn_out: format!("{l}.attention.output.dense"),
                    attn_ln: format!("{l}.attention.output.LayerNorm"),
                    ffn_in: format!("{l}.intermediate.dense"),
                    ffn_out: format!("{l}.output.dense"),
                    out_ln: format!("{l}.output.LayerNorm"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn arch(json: serde_json::Value) -> Result<Arch> {
        let path = Path::new("x/config.json");
        Arch::from_config(&Config::from_json(&json, path)?, path)
    }

    #[test]
    fn distilbert_keys_are_read_through_the_aliases() {
        let a = arch(serde_json::json!({
            "model_type": "distilbert", "vocab_size": 10, "dim": 8, "n_layers": 2, "n_heads": 2,
            "hidden_dim": 16, "activation": "relu", "max_position_embeddings": 64, "layer_norm_eps": 1e-5
        }))
        .unwrap();
        assert_eq!((a.hidden, a.layers, a.heads, a.intermediate), (8, 2, 2, 16));
        assert_eq!((a.activation, a.eps, a.position_offset), (Activation::Relu, 1e-12, 0));
    }

    #[test]
    fn bad_or_missing_keys_are_named_with_the_file() {
        let bert = serde_json::json!({
            "model_type": "bert", "vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1,
            "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 64
        });
        let a = arch(bert.clone()).unwrap();
        assert_eq!((a.activation, a.eps), (Activation::Gelu, 1e-12));
        let mut wrong = bert.clone();
        wrong["hidden_size"] = "8".into();
        let err = arch(wrong).err().unwrap().to_string();
        assert!(err.contains("`hidden_size`") && err.contains("x/config.json"), "{err}");
        let mut missing = bert;
        missing.as_object_mut().unwrap().remove("num_attention_heads");
        let err = arch(missing).err().unwrap().to_string();
        assert!(
            err.contains("`num_attention_heads` is missing or zero") && err.contains("x/config.json"),
            "{err}"
        );
        let err = arch(serde_json::json!({"model_type": "distilbert", "dim": 8})).err().unwrap().to_string();
        assert!(err.contains("`n_layers` is missing or zero"), "{err}");
    }
}
