//! The sentence encoder: BERT-family transformers turned into L2-normalised sentence vectors.
//!
//! Loads `bert`, `xlm-roberta` and `distilbert` folders in Hugging Face layout, reads the
//! sentence-transformers files (pooling, max length, query/passage prompts) when present, and batches
//! texts with dynamic padding: texts are sorted by token count so a batch pads only to its own longest.

use super::source::ModelSource;
use super::st_config::{Pooling, SentenceConfig};
use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::{bert, distilbert, xlm_roberta};
use std::path::Path;
use tokenizers::Tokenizer;

/// What a text is, for models trained with asymmetric prompts (e5: `"query: "` / `"passage: "`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextRole {
    /// A short text compared against others: an utterance, a label description. The default.
    #[default]
    Query,
    /// A document to be retrieved.
    Passage,
    /// No prompt at all.
    None,
}

/// The default number of texts run through the model at once.
pub const DEFAULT_BATCH_SIZE: usize = 32;

enum Backbone {
    Bert(bert::BertModel),
    XlmRoberta(xlm_roberta::XLMRobertaModel),
    DistilBert(distilbert::DistilBertModel),
}

/// A loaded sentence encoder. `Send + Sync`: load once, share across threads (e.g. in an `Arc`).
pub struct Encoder {
    backbone: Backbone,
    tokenizer: Tokenizer,
    config: SentenceConfig,
    id: String,
    dim: usize,
    device: Device,
}

/// Vectors plus what happened on the way: which texts were cut at the model's maximum length.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub embeddings: Vec<Vec<f32>>,
    /// Token count of each text after tokenisation (before truncation).
    pub token_counts: Vec<usize>,
    /// Indices of texts longer than the model's maximum length; only their start was encoded.
    pub truncated: Vec<usize>,
}

impl Encoder {
    /// Load from any [`ModelSource`] (folder or hub id); the id is kept for reports.
    pub fn load(source: &ModelSource) -> Result<Self> {
        let dir = source.resolve_encoder_folder()?;
        let mut enc = Self::from_dir(&dir)?;
        enc.id = source.id();
        Ok(enc)
    }

    /// Load from a folder in Hugging Face layout.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let device = Device::Cpu;
        let config_path = dir.join("config.json");
        let raw = std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
        let json: serde_json::Value =
            serde_json::from_str(&raw).map_err(|e| Error::model_load(&config_path, e))?;
        let model_type = json.get("model_type").and_then(|v| v.as_str()).unwrap_or("bert").to_string();
        let dir_name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let config = SentenceConfig::read(dir, &dir_name, &json)?;

        const SUPPORTED: &[&str] = &["bert", "xlm-roberta", "roberta", "camembert", "distilbert"];
        if !SUPPORTED.contains(&model_type.as_str()) {
            return Err(Error::model_load(
                &config_path,
                format!(
                    "model_type `{model_type}` is not a supported encoder (bert, xlm-roberta, distilbert)"
                ),
            ));
        }
        let weights = dir.join("model.safetensors");
        // SAFETY-free path: `from_mmaped_safetensors` needs `unsafe`, which the workspace forbids;
        // reading the file costs one copy at load time only.
        let bytes = std::fs::read(&weights).map_err(|e| Error::io(&weights, e))?;
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &device)
            .map_err(|e| Error::model_load(&weights, e))?;
        let load_err = |e: candle_core::Error| Error::model_load(dir, format!("{model_type} weights: {e}"));
        let parse_err = |e: serde_json::Error| Error::model_load(&config_path, e);
        let (backbone, dim) = match model_type.as_str() {
            "bert" => {
                let cfg: bert::Config = serde_json::from_value(json.clone()).map_err(parse_err)?;
                (Backbone::Bert(bert::BertModel::load(vb, &cfg).map_err(load_err)?), cfg.hidden_size)
            }
            "xlm-roberta" | "roberta" | "camembert" => {
                let cfg: xlm_roberta::Config = serde_json::from_value(json.clone()).map_err(parse_err)?;
                let vb = if vb.contains_tensor("roberta.embeddings.word_embeddings.weight") {
                    vb.pp("roberta")
                } else {
                    vb
                };
                let model = xlm_roberta::XLMRobertaModel::new(&cfg, vb).map_err(load_err)?;
                (Backbone::XlmRoberta(model), cfg.hidden_size)
            }
            "distilbert" => {
                let cfg: distilbert::Config = serde_json::from_value(json.clone()).map_err(parse_err)?;
                (
                    Backbone::DistilBert(distilbert::DistilBertModel::load(vb, &cfg).map_err(load_err)?),
                    cfg.dim,
                )
            }
            other => {
                return Err(Error::model_load(
                    &config_path,
                    format!(
                        "model_type `{other}` is not a supported encoder (bert, xlm-roberta, distilbert)"
                    ),
                ))
            }
        };

        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| Error::model_load(&tok_path, e))?;
        // We pad per batch ourselves and truncate explicitly so that truncation can be reported.
        tokenizer.with_padding(None);
        tokenizer.with_truncation(None).map_err(|e| Error::model_load(&tok_path, e))?;
        Ok(Self { backbone, tokenizer, config, id: dir.display().to_string(), dim, device })
    }

    /// Name the model in reports (e.g. its catalog name instead of a local path).
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Model identifier for reports: the source as the user gave it.
    pub fn model_id(&self) -> &str {
        &self.id
    }

    /// Dimension of the sentence vectors.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Longest input in tokens, special tokens included.
    pub fn max_tokens(&self) -> usize {
        self.config.max_tokens
    }

    pub fn pooling(&self) -> Pooling {
        self.config.pooling
    }

    /// The prompt put before a text of this role (`"query: "` for e5).
    pub fn prompt(&self, role: TextRole) -> &str {
        match role {
            TextRole::Query => &self.config.query_prompt,
            TextRole::Passage => &self.config.passage_prompt,
            TextRole::None => "",
        }
    }

    /// Embed texts as queries with the default batch size.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_with(texts, TextRole::Query, DEFAULT_BATCH_SIZE)
    }

    /// Embed texts; vectors come back in input order, L2-normalised.
    pub fn embed_with(&self, texts: &[&str], role: TextRole, batch_size: usize) -> Result<Vec<Vec<f32>>> {
        Ok(self.encode(texts, role, batch_size)?.embeddings)
    }

    /// Embed texts and report token counts and truncation.
    pub fn encode(&self, texts: &[&str], role: TextRole, batch_size: usize) -> Result<Encoded> {
        let prompt = self.prompt(role);
        let inputs: Vec<String> = texts.iter().map(|t| format!("{prompt}{t}")).collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| Error::Inference(format!("tokenizer: {e}")))?;
        let max = self.config.max_tokens;
        let token_counts: Vec<usize> = encodings.iter().map(|e| e.get_ids().len()).collect();
        let truncated: Vec<usize> =
            token_counts.iter().enumerate().filter(|(_, &n)| n > max).map(|(i, _)| i).collect();
        if !truncated.is_empty() {
            tracing::warn!(
                count = truncated.len(),
                max,
                "texts longer than the model's maximum were truncated"
            );
        }
        let ids: Vec<Vec<u32>> = encodings.iter().map(|e| truncate_keep_last(e.get_ids(), max)).collect();

        // Sorting by length means each batch pads only to its own longest text.
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        let mut embeddings = vec![Vec::new(); ids.len()];
        for chunk in order.chunks(batch_size.max(1)) {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
            for (&i, vector) in chunk.iter().zip(self.forward_batch(&batch)?) {
                embeddings[i] = vector;
            }
        }
        Ok(Encoded { embeddings, token_counts, truncated })
    }

    fn forward_batch(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let n = batch.len();
        let len = batch.iter().map(|ids| ids.len()).max().unwrap_or(0).max(1);
        let pad = self.config.pad_id;
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for row in batch {
            ids.extend_from_slice(row);
            ids.extend(std::iter::repeat_n(pad, len - row.len()));
            mask.extend(std::iter::repeat_n(1u32, row.len()));
            mask.extend(std::iter::repeat_n(0u32, len - row.len()));
        }
        let ids = Tensor::from_vec(ids, (n, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (n, len), &self.device)?;
        let types = ids.zeros_like()?;
        let hidden = match &self.backbone {
            Backbone::Bert(m) => m.forward(&ids, &types, Some(&mask))?,
            Backbone::XlmRoberta(m) => m.forward(&ids, &mask, &types, None, None, None)?,
            Backbone::DistilBert(m) => {
                // DistilBERT's mask marks the positions to hide, shaped to broadcast over heads and queries.
                let hide = mask.eq(0u32)?.reshape((n, 1, 1, len))?;
                m.forward(&ids, &hide)?
            }
        };
        let pooled = self.config.pooling.apply(&hidden, &mask)?;
        let norm = pooled.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        Ok(pooled.broadcast_div(&norm)?.to_vec2::<f32>()?)
    }
}

/// Keep the first `max - 1` tokens and the final special token (`[SEP]` / `</s>`), as truncation does.
fn truncate_keep_last(ids: &[u32], max: usize) -> Vec<u32> {
    if ids.len() <= max || max < 2 {
        return ids.iter().copied().take(max).collect();
    }
    let mut out = ids[..max - 1].to_vec();
    if let Some(&last) = ids.last() {
        out.push(last);
    }
    out
}

/// Cosine similarity of two vectors (1.0 for identical directions).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_the_closing_token() {
        assert_eq!(truncate_keep_last(&[101, 1, 2, 3, 102], 4), vec![101, 1, 2, 102]);
        assert_eq!(truncate_keep_last(&[101, 1, 102], 4), vec![101, 1, 102]);
    }

    #[test]
    fn cosine_of_known_vectors() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }

    #[test]
    fn encoder_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Encoder>();
    }
}
