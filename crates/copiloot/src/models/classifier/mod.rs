//! Text classifiers that read the text themselves, with their own encoder: fine-tuned Hugging Face
//! `*ForSequenceClassification` folders (BERT, XLM-RoBERTa, DistilBERT, DeBERTa-v2), and encoder folders
//! fine-tuned by `copiloot train intent --fine-tune` (an encoder plus a `head.json` linear head).
//!
//! Labels come from `id2label` in `config.json`; a folder without real labels (absent, or the
//! `LABEL_0`… placeholders transformers writes when none were given) is refused, since its answers could
//! not be named.
//!
//! Why the Hugging Face classifiers run on candle-transformers and not on our own BERT forward
//! ([`crate::models::encoder`]): that forward implements the encoder bodies of bert, xlm-roberta and
//! distilbert only, while a classifier folder brings architectures and heads it does not have: DeBERTa-v2
//! (disentangled relative-position attention, its context pooler), BERT's tanh pooler on `[CLS]`, the
//! RoBERTa and DistilBERT classification heads. candle-transformers implements those as Hugging Face
//! does, and `tests.rs` checks each of them against PyTorch's logits for the same folders (within 1e-4;
//! 1e-3 for DistilBERT, whose GELU candle approximates). This stack is kept apart on purpose; the
//! folders `--fine-tune` writes are an encoder plus `head.json` and do run on our forward.

use crate::error::{Error, Result};
use crate::models::{Encoder, TextRole};
use crate::tasks::softmax_in_place;
use crate::training::head::{LinearHead, META_FILE};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{linear, Linear, VarBuilder};
use candle_transformers::models::{bert, debertav2, distilbert, xlm_roberta};
use std::path::Path;
use tokenizers::Tokenizer;

/// Architectures (`config.json` `architectures[0]`) that load as sequence classifiers.
pub const ARCHITECTURES: &[&str] = &[
    "BertForSequenceClassification",
    "XLMRobertaForSequenceClassification",
    "RobertaForSequenceClassification",
    "DistilBertForSequenceClassification",
    "DebertaV2ForSequenceClassification",
];

/// Texts per forward pass.
const BATCH: usize = 16;

/// Each architecture keeps its own head layout. (One per loaded model, so the size difference between
/// variants costs nothing worth boxing for.)
#[allow(clippy::large_enum_variant)]
enum Arch {
    /// `bert.pooler.dense` + tanh on `[CLS]`, then `classifier`.
    Bert { model: bert::BertModel, pooler: Linear, classifier: Linear },
    /// `classifier.dense` + tanh + `classifier.out_proj` on `<s>` (candle's own head).
    XlmRoberta(xlm_roberta::XLMRobertaForSequenceClassification),
    /// `pre_classifier` + ReLU + `classifier` on `[CLS]`.
    DistilBert { model: distilbert::DistilBertModel, pre: Linear, classifier: Linear },
    /// Context pooler + `classifier` (candle's own head).
    DebertaV2(debertav2::DebertaV2SeqClassificationModel),
}

/// A Hugging Face sequence classifier loaded from a folder (`config.json`, `model.safetensors`,
/// `tokenizer.json`).
pub struct SequenceClassifier {
    arch: Arch,
    tokenizer: Tokenizer,
    labels: Vec<String>,
    architecture: String,
    max_tokens: usize,
    pad_id: u32,
    device: Device,
}

/// Reads `config.json` of a folder, if there is one.
fn read_config(dir: &Path) -> Result<serde_json::Value> {
    let path = dir.join("config.json");
    let raw = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&raw).map_err(|e| Error::model_load(&path, e))
}

/// The first `architectures` entry of `config.json` when it ends in `ForSequenceClassification`.
pub fn sequence_architecture(dir: &Path) -> Option<String> {
    let json = read_config(dir).ok()?;
    let arch = json.get("architectures")?.as_array()?.first()?.as_str()?.to_string();
    arch.ends_with("ForSequenceClassification").then_some(arch)
}

/// Labels in id order from `id2label`; refuses missing, gapped or placeholder (`LABEL_3`) labels.
pub fn labels_from_config(json: &serde_json::Value, path: &Path) -> Result<Vec<String>> {
    let fix = "add `id2label` to config.json, e.g. {\"0\": \"negative\", \"1\": \"positive\"} (the names \
               of the classes the model was fine-tuned on, in the order of its output)";
    let map = json
        .get("id2label")
        .and_then(|v| v.as_object())
        .filter(|m| !m.is_empty())
        .ok_or_else(|| Error::model_load(path, format!("the classifier has no labels; {fix}")))?;
    let mut labels = vec![None; map.len()];
    for (id, name) in map {
        let slot = id.parse::<usize>().ok().and_then(|i| labels.get_mut(i)).ok_or_else(|| {
            Error::model_load(path, format!("id2label has id `{id}`; ids must be 0..{}", map.len()))
        })?;
        *slot = name.as_str().map(str::to_string);
    }
    let labels: Vec<String> = labels
        .into_iter()
        .collect::<Option<_>>()
        .ok_or_else(|| Error::model_load(path, format!("id2label names must be strings; {fix}")))?;
    if labels.iter().enumerate().all(|(i, l)| *l == format!("LABEL_{i}")) {
        return Err(Error::model_load(
            path,
            format!("id2label only has transformers' placeholders (LABEL_0, LABEL_1, …); {fix}"),
        ));
    }
    Ok(labels)
}

impl SequenceClassifier {
    /// Loads a `*ForSequenceClassification` folder.
    pub fn load(dir: &Path) -> Result<SequenceClassifier> {
        let config_path = dir.join("config.json");
        let json = read_config(dir)?;
        let architecture = json
            .get("architectures")
            .and_then(|a| a.as_array())
            .and_then(|a| a.first())
            .and_then(|a| a.as_str())
            .unwrap_or_default()
            .to_string();
        if !ARCHITECTURES.contains(&architecture.as_str()) {
            return Err(Error::model_load(
                &config_path,
                format!(
                    "architecture `{architecture}` is not a supported sequence classifier; supported: {}",
                    ARCHITECTURES.join(", ")
                ),
            ));
        }
        let labels = labels_from_config(&json, &config_path)?;
        let n = labels.len();
        let device = Device::Cpu;
        let weights = dir.join("model.safetensors");
        let bytes = std::fs::read(&weights).map_err(|e| Error::io(&weights, e))?;
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &device)
            .map_err(|e| Error::model_load(&weights, e))?;
        let load_err = |e: candle_core::Error| {
            Error::model_load(dir, format!("{architecture} weights ({n} labels in id2label): {e}"))
        };
        let parse_err = |e: serde_json::Error| Error::model_load(&config_path, e);
        let pad = |key: &str, default: u64| json.get(key).and_then(|v| v.as_u64()).unwrap_or(default) as u32;
        let positions = json.get("max_position_embeddings").and_then(|v| v.as_u64()).unwrap_or(512) as usize;
        let (arch, pad_id, max_tokens) = match architecture.as_str() {
            "BertForSequenceClassification" => {
                let cfg: bert::Config = serde_json::from_value(json.clone()).map_err(parse_err)?;
                let h = cfg.hidden_size;
                let model = bert::BertModel::load(vb.pp("bert"), &cfg).map_err(load_err)?;
                let pooler = linear(h, h, vb.pp("bert.pooler.dense")).map_err(load_err)?;
                let classifier = linear(h, n, vb.pp("classifier")).map_err(load_err)?;
                (Arch::Bert { model, pooler, classifier }, pad("pad_token_id", 0), positions)
            }
            "XLMRobertaForSequenceClassification" | "RobertaForSequenceClassification" => {
                // transformers 5 no longer writes `position_embedding_type`; absolute is the only kind.
                let mut json = json.clone();
                if let Some(obj) = json.as_object_mut() {
                    obj.entry("position_embedding_type").or_insert_with(|| "absolute".into());
                }
                let cfg: xlm_roberta::Config = serde_json::from_value(json).map_err(parse_err)?;
                let model =
                    xlm_roberta::XLMRobertaForSequenceClassification::new(n, &cfg, vb).map_err(load_err)?;
                // Positions start after the padding index, so two fewer tokens fit.
                (Arch::XlmRoberta(model), cfg.pad_token_id, positions.saturating_sub(2))
            }
            "DistilBertForSequenceClassification" => {
                let cfg: distilbert::Config = serde_json::from_value(json.clone()).map_err(parse_err)?;
                let model = distilbert::DistilBertModel::load(vb.pp("distilbert"), &cfg).map_err(load_err)?;
                let pre = linear(cfg.dim, cfg.dim, vb.pp("pre_classifier")).map_err(load_err)?;
                let classifier = linear(cfg.dim, n, vb.pp("classifier")).map_err(load_err)?;
                (Arch::DistilBert { model, pre, classifier }, cfg.pad_token_id as u32, positions)
            }
            _ => {
                let cfg: debertav2::Config = serde_json::from_value(json.clone()).map_err(parse_err)?;
                let model = debertav2::DebertaV2SeqClassificationModel::load(vb.pp("deberta"), &cfg, None)
                    .map_err(load_err)?;
                (Arch::DebertaV2(model), pad("pad_token_id", 0), positions)
            }
        };
        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| Error::model_load(&tok_path, e))?;
        tokenizer.with_padding(None);
        tokenizer.with_truncation(None).map_err(|e| Error::model_load(&tok_path, e))?;
        Ok(SequenceClassifier {
            arch,
            tokenizer,
            labels,
            architecture,
            max_tokens: max_tokens.clamp(2, 512),
            pad_id,
            device,
        })
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn architecture(&self) -> &str {
        &self.architecture
    }

    /// Raw logits, one row per text in input order.
    pub fn logits(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| Error::Inference(format!("tokenizer: {e}")))?;
        let ids: Vec<Vec<u32>> = encodings
            .iter()
            .map(|e| {
                let ids = e.get_ids();
                if ids.len() <= self.max_tokens {
                    return ids.to_vec();
                }
                // Keep the final special token, as transformers' truncation does.
                let mut cut = ids[..self.max_tokens - 1].to_vec();
                cut.extend(ids.last());
                cut
            })
            .collect();
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        let mut out = vec![Vec::new(); ids.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
            for (&i, row) in chunk.iter().zip(self.forward(&batch)?) {
                out[i] = row;
            }
        }
        Ok(out)
    }

    fn forward(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let n = batch.len();
        let len = batch.iter().map(|r| r.len()).max().unwrap_or(0).max(1);
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for row in batch {
            ids.extend_from_slice(row);
            ids.extend(std::iter::repeat_n(self.pad_id, len - row.len()));
            mask.extend(std::iter::repeat_n(1u32, row.len()));
            mask.extend(std::iter::repeat_n(0u32, len - row.len()));
        }
        let ids = Tensor::from_vec(ids, (n, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (n, len), &self.device)?;
        let types = ids.zeros_like()?;
        let first = |hidden: &Tensor| hidden.narrow(1, 0, 1).and_then(|t| t.squeeze(1));
        let logits = match &self.arch {
            Arch::Bert { model, pooler, classifier } => {
                let hidden = model.forward(&ids, &types, Some(&mask))?;
                classifier.forward(&pooler.forward(&first(&hidden)?)?.tanh()?)?
            }
            Arch::XlmRoberta(model) => model.forward(&ids, &mask, &types)?,
            Arch::DistilBert { model, pre, classifier } => {
                let hide = mask.eq(0u32)?.reshape((n, 1, 1, len))?;
                let hidden = model.forward(&ids, &hide)?;
                classifier.forward(&pre.forward(&first(&hidden)?)?.relu()?)?
            }
            Arch::DebertaV2(model) => model.forward(&ids, Some(types), Some(mask))?,
        };
        Ok(logits.to_dtype(DType::F32)?.to_vec2::<f32>()?)
    }
}

/// A classifier that reads text: a Hugging Face sequence classifier, or an encoder fine-tuned by
/// `copiloot train intent --fine-tune` with its linear head (both in one folder). Held once per model
/// behind an `Arc`, so the variants' size difference is not worth boxing.
#[allow(clippy::large_enum_variant)]
pub enum TextClassifier {
    Sequence(SequenceClassifier),
    Tuned { encoder: Encoder, head: LinearHead },
}

impl std::fmt::Debug for TextClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TextClassifier({}, {:?})", self.describe(), self.labels())
    }
}

impl TextClassifier {
    /// Loads a folder: a `*ForSequenceClassification` model, or an encoder folder that also holds a
    /// `head.json` (written by `--fine-tune`). `None` when the folder is neither (e.g. a plain head).
    pub fn detect(dir: &Path) -> Result<Option<TextClassifier>> {
        if sequence_architecture(dir).is_some() {
            return SequenceClassifier::load(dir).map(|c| Some(TextClassifier::Sequence(c)));
        }
        if dir.join("config.json").is_file() && dir.join(META_FILE).is_file() {
            let encoder = Encoder::from_dir(dir)?;
            let head = LinearHead::load(dir)?;
            head.check_reads_embedding(dir)?;
            if head.dim() != encoder.dim() {
                return Err(Error::model_load(
                    dir,
                    format!(
                        "the head reads {}-wide embeddings but the encoder in this folder makes {}-wide ones; \
                         train it again with `copiloot train intent --fine-tune`",
                        head.dim(),
                        encoder.dim()
                    ),
                ));
            }
            return Ok(Some(TextClassifier::Tuned { encoder, head }));
        }
        if dir.join("config.json").is_file() && !dir.join(META_FILE).is_file() {
            // A plain encoder or an unsupported classifier: say which one is expected.
            let arch = read_config(dir)
                .ok()
                .and_then(|j| j.get("architectures")?.as_array()?.first()?.as_str().map(str::to_string))
                .unwrap_or_default();
            return Err(Error::model_load(
                dir,
                format!(
                    "this folder holds a model with architecture `{arch}` but no classification head; \
                     expected one of {} or a folder written by `copiloot train`",
                    ARCHITECTURES.join(", ")
                ),
            ));
        }
        Ok(None)
    }

    pub fn labels(&self) -> &[String] {
        match self {
            TextClassifier::Sequence(c) => c.labels(),
            TextClassifier::Tuned { head, .. } => head.labels(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            TextClassifier::Sequence(c) => format!("classifier:{}", c.architecture()),
            TextClassifier::Tuned { head, .. } => format!("fine-tuned:{}", head.meta().task),
        }
    }

    /// Class probabilities (in the order of [`Self::labels`]) for each text.
    pub fn predict_proba(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        match self {
            TextClassifier::Sequence(c) => {
                let mut rows = c.logits(texts)?;
                rows.iter_mut().for_each(|r| softmax_in_place(r));
                Ok(rows)
            }
            TextClassifier::Tuned { encoder, head } => {
                let e = encoder.embed_with(texts, TextRole::Query, crate::models::DEFAULT_BATCH_SIZE)?;
                head.predict_proba(&e)
            }
        }
    }
}

#[cfg(test)]
mod tests;
