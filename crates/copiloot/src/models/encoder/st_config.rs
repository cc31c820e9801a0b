//! The sentence-transformers side files of a model folder: pooling, maximum length and prompts.
//!
//! Read when present (`modules.json`, `1_Pooling/config.json`, `sentence_bert_config.json`,
//! `config_sentence_transformers.json`); sensible defaults otherwise (mean pooling, the model's maximum).

use crate::error::{Error, Result};
use candle_core::{DType, Tensor};
use serde::Deserialize;
use std::path::Path;

/// How token vectors become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    Mean,
    Cls,
    Max,
}

impl Pooling {
    /// Pool `hidden` [batch, seq, dim] under `mask` [batch, seq] (1 = real token).
    pub fn apply(self, hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1),
            Pooling::Mean => {
                let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
                let sum = hidden.broadcast_mul(&m)?.sum(1)?;
                let count = m.sum(1)?.clamp(1e-9, f64::MAX)?;
                sum.broadcast_div(&count)
            }
            Pooling::Max => {
                // Padding positions get a large negative value so they never win the max.
                let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
                let penalty = ((m.ones_like()? - &m)? * -1e9)?;
                hidden.broadcast_add(&penalty)?.max(1)
            }
        }
    }
}

/// Everything the encoder needs beyond the transformer weights.
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceConfig {
    pub pooling: Pooling,
    pub max_tokens: usize,
    pub query_prompt: String,
    pub passage_prompt: String,
    pub pad_id: u32,
}

#[derive(Deserialize)]
struct Module {
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize, Default)]
struct PoolingFile {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
}

#[derive(Deserialize, Default)]
struct SentenceBertFile {
    max_seq_length: Option<usize>,
}

#[derive(Deserialize, Default)]
struct StFile {
    #[serde(default)]
    prompts: std::collections::HashMap<String, String>,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    if !path.is_file() {
        return Ok(None);
    }
    let raw = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&raw).map(Some).map_err(|e| Error::model_load(path, e))
}

impl SentenceConfig {
    /// `name` is the folder (or hub) name, used only to recognise e5 models that ship without prompts.
    pub fn read(dir: &Path, name: &str, config_json: &serde_json::Value) -> Result<Self> {
        let pooling_dir = read_json::<Vec<Module>>(&dir.join("modules.json"))?
            .and_then(|mods| mods.into_iter().find(|m| m.kind.ends_with("Pooling")).map(|m| m.path))
            .unwrap_or_else(|| "1_Pooling".to_string());
        let pooling = match read_json::<PoolingFile>(&dir.join(&pooling_dir).join("config.json"))? {
            Some(p) if p.pooling_mode_cls_token && !p.pooling_mode_mean_tokens => Pooling::Cls,
            Some(p) if p.pooling_mode_max_tokens && !p.pooling_mode_mean_tokens => Pooling::Max,
            _ => Pooling::Mean,
        };

        let model_type = config_json.get("model_type").and_then(|v| v.as_str()).unwrap_or("bert");
        let positions =
            config_json.get("max_position_embeddings").and_then(|v| v.as_u64()).unwrap_or(512) as usize;
        // RoBERTa-style models reserve two positions for the padding offset.
        let model_max = if model_type.contains("roberta") || model_type == "camembert" {
            positions.saturating_sub(2)
        } else {
            positions
        };
        let st_max = read_json::<SentenceBertFile>(&dir.join("sentence_bert_config.json"))?
            .and_then(|s| s.max_seq_length);
        let max_tokens = st_max.map_or(model_max, |m| m.min(model_max)).max(2);

        let prompts =
            read_json::<StFile>(&dir.join("config_sentence_transformers.json"))?.unwrap_or_default().prompts;
        let is_e5 = name.to_ascii_lowercase().contains("e5");
        let prompt = |key: &str, e5_default: &str| {
            prompts.get(key).cloned().unwrap_or_else(|| {
                if is_e5 {
                    e5_default.to_string()
                } else {
                    String::new()
                }
            })
        };
        let pad_id = config_json.get("pad_token_id").and_then(|v| v.as_u64()).unwrap_or(0) as u32;
        Ok(Self {
            pooling,
            max_tokens,
            query_prompt: prompt("query", "query: "),
            passage_prompt: prompt("passage", "passage: "),
            pad_id,
        })
    }
}

/// The sentence-transformers files our installer writes next to a converted model, so that the folder
/// loads the same way in sentence-transformers and in copiloot.
pub fn sentence_transformers_files(
    dim: usize,
    max_seq_length: usize,
    query: &str,
    passage: &str,
) -> Vec<(&'static str, String)> {
    let modules = serde_json::json!([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
    ]);
    let pooling = serde_json::json!({
        "word_embedding_dimension": dim,
        "pooling_mode_cls_token": false,
        "pooling_mode_mean_tokens": true,
        "pooling_mode_max_tokens": false,
        "pooling_mode_mean_sqrt_len_tokens": false
    });
    let st =
        serde_json::json!({"prompts": {"query": query, "passage": passage}, "default_prompt_name": null});
    let sb = serde_json::json!({"max_seq_length": max_seq_length, "do_lower_case": false});
    [
        ("modules.json", modules),
        ("1_Pooling/config.json", pooling),
        ("config_sentence_transformers.json", st),
        ("sentence_bert_config.json", sb),
    ]
    .into_iter()
    .map(|(name, v)| (name, serde_json::to_string_pretty(&v).unwrap_or_default()))
    .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_e5_prompts() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = serde_json::json!({"model_type": "bert", "max_position_embeddings": 512});
        let c = SentenceConfig::read(dir.path(), "multilingual-e5-small", &cfg).unwrap();
        assert_eq!((c.pooling, c.max_tokens), (Pooling::Mean, 512));
        assert_eq!((c.query_prompt.as_str(), c.passage_prompt.as_str()), ("query: ", "passage: "));
        let c = SentenceConfig::read(dir.path(), "all-minilm-l6-v2", &cfg).unwrap();
        assert_eq!(c.query_prompt, "");
    }

    #[test]
    fn reads_sentence_transformers_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("1_Pooling")).unwrap();
        for (name, body) in sentence_transformers_files(384, 128, "q: ", "p: ") {
            std::fs::write(dir.path().join(name), body).unwrap();
        }
        let cfg = serde_json::json!({"model_type": "xlm-roberta", "max_position_embeddings": 514});
        let c = SentenceConfig::read(dir.path(), "x", &cfg).unwrap();
        assert_eq!((c.pooling, c.max_tokens), (Pooling::Mean, 128));
        assert_eq!(c.query_prompt, "q: ");
    }

    #[test]
    fn pooling_ignores_padding() {
        let dev = candle_core::Device::Cpu;
        let h = Tensor::new(&[[[1f32, 2.], [3., 4.], [100., 100.]]], &dev).unwrap();
        let m = Tensor::new(&[[1u32, 1, 0]], &dev).unwrap();
        assert_eq!(Pooling::Mean.apply(&h, &m).unwrap().to_vec2::<f32>().unwrap(), vec![vec![2., 3.]]);
        assert_eq!(Pooling::Max.apply(&h, &m).unwrap().to_vec2::<f32>().unwrap(), vec![vec![3., 4.]]);
        assert_eq!(Pooling::Cls.apply(&h, &m).unwrap().to_vec2::<f32>().unwrap(), vec![vec![1., 2.]]);
    }
}
