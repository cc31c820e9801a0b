//! One description of the BERT-family encoders we run: sizes from `config.json` and tensor names.
//!
//! `bert`, `xlm-roberta` (also `roberta`, `camembert`) and `distilbert` are the same post-LN
//! transformer; they differ in config keys, tensor names, and where positions start.

use super::weights::Weights;
use crate::error::{Error, Result};
use crate::models::kernels::bert::Activation;
use std::path::Path;

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

/// Tensor names of one layer.
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

fn usize_of(json: &serde_json::Value, key: &str) -> Option<usize> {
    json.get(key).and_then(|v| v.as_u64()).map(|v| v as usize)
}

impl Arch {
    pub fn from_config(json: &serde_json::Value, model_type: &str, config_path: &Path) -> Result<Self> {
        let family = match model_type {
            "bert" => Family::Bert,
            "xlm-roberta" | "roberta" | "camembert" => Family::Roberta,
            "distilbert" => Family::DistilBert,
            other => {
                return Err(Error::model_load(
                    config_path,
                    format!(
                        "model_type `{other}` is not a supported encoder (bert, xlm-roberta, distilbert)"
                    ),
                ))
            }
        };
        let keys: [&str; 5] = match family {
            Family::DistilBert => ["dim", "n_layers", "n_heads", "hidden_dim", "activation"],
            _ => {
                ["hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act"]
            }
        };
        let need = |key: &str| {
            usize_of(json, key).filter(|&v| v > 0).ok_or_else(|| {
                Error::model_load(config_path, format!("`{key}` is missing or zero in config.json"))
            })
        };
        let (hidden, layers, heads, intermediate) =
            (need(keys[0])?, need(keys[1])?, need(keys[2])?, need(keys[3])?);
        if hidden % heads != 0 {
            return Err(Error::model_load(
                config_path,
                format!("hidden size {hidden} is not a multiple of {heads} heads"),
            ));
        }
        let act_name = json.get(keys[4]).and_then(|v| v.as_str()).unwrap_or("gelu");
        let activation = match act_name {
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            other => {
                return Err(Error::model_load(config_path, format!("activation `{other}` is not supported")))
            }
        };
        if let Some(kind) = json.get("position_embedding_type").and_then(|v| v.as_str()) {
            if kind != "absolute" {
                return Err(Error::model_load(
                    config_path,
                    format!("position_embedding_type `{kind}` is not supported (only absolute)"),
                ));
            }
        }
        let pad = usize_of(json, "pad_token_id").unwrap_or(if family == Family::Roberta { 1 } else { 0 });
        Ok(Self {
            family,
            hidden,
            layers,
            heads,
            intermediate,
            vocab: need("vocab_size")?,
            max_positions: need("max_position_embeddings")?,
            position_offset: if family == Family::Roberta { pad + 1 } else { 0 },
            eps: match family {
                Family::DistilBert => 1e-12,
                _ => json.get("layer_norm_eps").and_then(|v| v.as_f64()).unwrap_or(1e-12) as f32,
            },
            activation,
            prefix: String::new(),
        })
    }

    /// Pick the tensor-name prefix the file uses (`bert.embeddings…` or plain `embeddings…`).
    pub fn with_prefix_of(mut self, weights: &Weights) -> Self {
        let candidates: &[&str] = match self.family {
            Family::Bert => &["", "bert.", "model."],
            Family::Roberta => &["", "roberta.", "xlm-roberta.", "model."],
            Family::DistilBert => &["", "distilbert."],
        };
        self.prefix = candidates
            .iter()
            .find(|p| weights.has_prefix(&format!("{p}embeddings.word_embeddings")))
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

    /// Name of a layer norm's weight or bias; old checkpoints say `gamma` / `beta`.
    pub fn ln_param(weights: &Weights, base: &str, param: &str) -> String {
        let name = format!("{base}.{param}");
        if weights.contains(&name) {
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
