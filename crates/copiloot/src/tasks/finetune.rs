//! Fine-tuning the top layers of a BERT encoder together with a linear head (`copiloot train intent
//! --fine-tune`), with candle's autograd and AdamW on cross-entropy.
//!
//! Only the top `layers` transformer layers are trained: the frozen lower layers' hidden states are
//! computed once per text and kept, so an epoch costs a forward and backward pass through a few layers
//! instead of the whole model — minutes on a CPU instead of hours. The head starts from the
//! logistic-regression head on the frozen embeddings and is refitted (L-BFGS) on the tuned ones at the
//! end. The result is a normal encoder folder (updated `model.safetensors`, tokenizer,
//! sentence-transformers files) plus `head.json`, which `--model DIR` loads as one classifier.

use super::bert_layers::{embed, layer_tensor_names, mask_bias, mean_pool_normalised, BertWeights, Layer};
use super::head::{LinearHead, TrainConfig};
use crate::error::{Error, Result};
use crate::models::{Encoder, Pooling, TextRole};
use candle_core::{Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use std::path::Path;
use tokenizers::Tokenizer;

/// Settings of a fine-tuning run.
#[derive(Debug, Clone)]
pub struct FineTuneConfig {
    /// How many of the top transformer layers are trained (the rest stay frozen).
    pub layers: usize,
    pub epochs: usize,
    /// AdamW learning rate.
    pub lr: f64,
    pub batch_size: usize,
    /// Seed of the example order.
    pub seed: u64,
    /// The logistic-regression head fitted before and after.
    pub head: TrainConfig,
}

impl Default for FineTuneConfig {
    fn default() -> Self {
        Self { layers: 2, epochs: 3, lr: 5e-5, batch_size: 32, seed: 1, head: TrainConfig::default() }
    }
}

/// The outcome: updated weights, the refitted head, and the mean training loss of every epoch.
pub struct FineTuned {
    pub weights: BertWeights,
    pub head: LinearHead,
    pub epoch_losses: Vec<f64>,
}

/// Token ids of each text as the encoder would see it (prompt, truncation that keeps the last token).
fn tokenize(dir: &Path, encoder: &Encoder, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
    let path = dir.join("tokenizer.json");
    let mut tok = Tokenizer::from_file(&path).map_err(|e| Error::model_load(&path, e))?;
    tok.with_padding(None);
    tok.with_truncation(None).map_err(|e| Error::model_load(&path, e))?;
    let prompt = encoder.prompt(TextRole::Query);
    let inputs: Vec<String> = texts.iter().map(|t| format!("{prompt}{t}")).collect();
    let enc = tok.encode_batch(inputs, true).map_err(|e| Error::Inference(format!("tokenizer: {e}")))?;
    let max = encoder.max_tokens().max(2);
    Ok(enc
        .iter()
        .map(|e| {
            let ids = e.get_ids();
            if ids.len() <= max {
                return ids.to_vec();
            }
            let mut cut = ids[..max - 1].to_vec();
            cut.extend(ids.last());
            cut
        })
        .collect())
}

/// A padded batch of cached hidden states `[n, len, hidden]` and its 0/1 mask `[n, len]`.
fn pad_batch(rows: &[&Tensor]) -> Result<(Tensor, Tensor)> {
    let len = rows.iter().map(|r| r.dim(0).unwrap_or(0)).max().unwrap_or(1).max(1);
    let mut padded = Vec::with_capacity(rows.len());
    let mut mask = Vec::with_capacity(rows.len() * len);
    for r in rows {
        let l = r.dim(0)?;
        padded.push(if l < len { r.pad_with_zeros(0, 0, len - l)? } else { (*r).clone() });
        mask.extend(std::iter::repeat_n(1f32, l));
        mask.extend(std::iter::repeat_n(0f32, len - l));
    }
    let mask = Tensor::from_vec(mask, (rows.len(), len), &Device::Cpu)?;
    Ok((Tensor::stack(&padded, 0)?, mask))
}

/// Runs the embeddings and the frozen lower layers once per text; returns each text's hidden states
/// `[tokens, hidden]` at the first trained layer.
fn frozen_states(weights: &BertWeights, lower: &[Layer], ids: &[Vec<u32>]) -> Result<Vec<Tensor>> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| ids[i].len());
    let mut out: Vec<Option<Tensor>> = vec![None; ids.len()];
    for chunk in order.chunks(32) {
        let len = chunk.iter().map(|&i| ids[i].len()).max().unwrap_or(1).max(1);
        let mut flat = Vec::with_capacity(chunk.len() * len);
        let mut mask = Vec::with_capacity(chunk.len() * len);
        for &i in chunk {
            let row = &ids[i];
            flat.extend_from_slice(row);
            flat.extend(std::iter::repeat_n(0u32, len - row.len()));
            mask.extend(std::iter::repeat_n(1f32, row.len()));
            mask.extend(std::iter::repeat_n(0f32, len - row.len()));
        }
        let t = Tensor::from_vec(flat, (chunk.len(), len), &Device::Cpu)?;
        let bias = mask_bias(&Tensor::from_vec(mask, (chunk.len(), len), &Device::Cpu)?)?;
        let mut x = embed(weights, &t)?;
        for layer in lower {
            x = layer.forward(&x, &bias)?;
        }
        for (j, &i) in chunk.iter().enumerate() {
            out[i] = Some(x.get(j)?.narrow(0, 0, ids[i].len())?.contiguous()?);
        }
    }
    out.into_iter()
        .map(|t| t.ok_or_else(|| Error::Inference("a text lost its hidden states".into())))
        .collect()
}

/// Sentence vectors from cached states through `top` layers (no gradient kept).
fn embeddings(states: &[Tensor], top: &[Layer]) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(states.len());
    for chunk in states.chunks(64) {
        let refs: Vec<&Tensor> = chunk.iter().collect();
        let (mut x, mask) = pad_batch(&refs)?;
        let bias = mask_bias(&mask)?;
        for layer in top {
            x = layer.forward(&x, &bias)?.detach();
        }
        out.extend(mean_pool_normalised(&x, &mask)?.to_vec2::<f32>()?);
    }
    Ok(out)
}

/// A deterministic shuffle (splitmix64), so a seed gives the same run.
fn shuffle(items: &mut [usize], seed: u64) {
    crate::rng::SplitMix64(seed).shuffle(items);
}

/// Fine-tunes the top layers of the BERT encoder in `dir` (loaded as `encoder`) on labelled texts.
/// `progress` receives one line per epoch.
pub fn fine_tune(
    dir: &Path,
    encoder: &Encoder,
    texts: &[&str],
    labels: &[String],
    config: &FineTuneConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<FineTuned> {
    super::head::check_labels(labels)?;
    if encoder.pooling() != Pooling::Mean {
        return Err(Error::Config(
            "fine-tuning supports mean-pooled encoders (like the default multilingual-e5-small)".into(),
        ));
    }
    let mut weights = BertWeights::load(dir)?;
    let total = weights.shape.num_hidden_layers;
    if config.layers == 0 || config.layers > total {
        return Err(Error::Config(format!("--layers must be between 1 and {total} (the encoder's layers)")));
    }
    let first_trained = total - config.layers;
    let lower: Vec<Layer> = (0..first_trained).map(|i| Layer::frozen(&weights, i)).collect::<Result<_>>()?;
    let ids = tokenize(dir, encoder, texts)?;
    progress(&format!("running the {first_trained} frozen layers once over {} texts", texts.len()));
    let states = frozen_states(&weights, &lower, &ids)?;
    drop(lower);

    let mut trained = Vec::new();
    let mut vars: Vec<Var> = Vec::new();
    for i in first_trained..total {
        let (layer, v) = Layer::trainable(&weights, i)?;
        trained.push(layer);
        vars.extend(v);
    }
    let start = embeddings(&states, &trained)?;
    let head0 = LinearHead::train("intent", encoder.model_id(), &start, labels, &config.head)?;
    progress(&format!("frozen head: train accuracy {:.2} %", 100.0 * head0.meta().training.train_accuracy));
    let (w0, b0) = head0.parts();
    let c = head0.labels().len();
    let dim = head0.dim();
    let w = Var::from_tensor(&Tensor::from_vec(w0.to_vec(), (c, dim), &Device::Cpu)?)?;
    let b = Var::from_tensor(&Tensor::from_vec(b0.to_vec(), c, &Device::Cpu)?)?;
    vars.push(w.clone());
    vars.push(b.clone());
    let y: Vec<u32> = labels
        .iter()
        .map(|l| head0.labels().iter().position(|k| k == l).map(|p| p as u32))
        .collect::<Option<_>>()
        .ok_or_else(|| Error::Inference("a label vanished from the head".into()))?;
    let mut opt = AdamW::new(vars, ParamsAdamW { lr: config.lr, weight_decay: 0.01, ..Default::default() })?;

    let mut epoch_losses = Vec::new();
    let mut order: Vec<usize> = (0..texts.len()).collect();
    for epoch in 0..config.epochs {
        shuffle(&mut order, config.seed.wrapping_add(epoch as u64));
        let (mut sum, mut batches) = (0.0, 0usize);
        for chunk in order.chunks(config.batch_size.max(1)) {
            let refs: Vec<&Tensor> = chunk.iter().map(|&i| &states[i]).collect();
            let (mut x, mask) = pad_batch(&refs)?;
            let bias = mask_bias(&mask)?;
            for layer in &trained {
                x = layer.forward(&x, &bias)?;
            }
            let pooled = mean_pool_normalised(&x, &mask)?;
            let logits = pooled.matmul(&w.as_tensor().t()?)?.broadcast_add(b.as_tensor())?;
            let target = Tensor::from_vec(chunk.iter().map(|&i| y[i]).collect(), chunk.len(), &Device::Cpu)?;
            let loss = candle_nn::loss::cross_entropy(&logits, &target)?;
            opt.backward_step(&loss)?;
            sum += loss.to_scalar::<f32>()? as f64;
            batches += 1;
        }
        let mean = sum / batches.max(1) as f64;
        progress(&format!("epoch {}/{}: mean loss {mean:.4}", epoch + 1, config.epochs));
        epoch_losses.push(mean);
    }

    let tuned = embeddings(&states, &trained)?;
    let head = LinearHead::train("intent", encoder.model_id(), &tuned, labels, &config.head)?;
    progress(&format!("refitted head: train accuracy {:.2} %", 100.0 * head.meta().training.train_accuracy));
    // Write the trained layers back under their names.
    for (k, layer_index) in (first_trained..total).enumerate() {
        for (name, t) in layer_tensor_names(layer_index).into_iter().zip(trained[k].tensors()) {
            let full = format!("{}{name}", weights.prefix);
            let key = if weights.tensors.contains_key(&full) {
                full
            } else {
                full.replace("LayerNorm.weight", "LayerNorm.gamma")
                    .replace("LayerNorm.bias", "LayerNorm.beta")
            };
            weights.tensors.insert(key, t.detach());
        }
    }
    Ok(FineTuned { weights, head, epoch_losses })
}

/// Files of the base folder copied unchanged next to the tuned weights.
const COPIED: &[&str] = &[
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
];

/// Writes the tuned encoder and its head into `out` (through a temporary folder, so a failed run leaves
/// nothing half-written). The prompts are written explicitly: the e5 default is recognised by name.
pub fn save(tuned: &FineTuned, base_dir: &Path, encoder: &Encoder, out: &Path) -> Result<()> {
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let name = out.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "model".into());
    let tmp = parent.join(format!(".{name}.partial"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(tmp.join("1_Pooling")).map_err(|e| Error::io(&tmp, e))?;
    for f in COPIED {
        let src = base_dir.join(f);
        if src.is_file() {
            std::fs::copy(&src, tmp.join(f)).map_err(|e| Error::io(&src, e))?;
        }
    }
    if !tmp.join("1_Pooling/config.json").is_file() {
        let pooling =
            serde_json::json!({"word_embedding_dimension": encoder.dim(), "pooling_mode_mean_tokens": true});
        write(&tmp.join("1_Pooling/config.json"), &pooling.to_string())?;
        let modules = serde_json::json!([
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
        ]);
        write(&tmp.join("modules.json"), &modules.to_string())?;
    }
    let prompts = serde_json::json!({
        "prompts": {"query": encoder.prompt(TextRole::Query), "passage": encoder.prompt(TextRole::Passage)},
        "default_prompt_name": null
    });
    write(&tmp.join("config_sentence_transformers.json"), &prompts.to_string())?;
    let weights_path = tmp.join("model.safetensors");
    candle_core::safetensors::save(&tuned.weights.tensors, &weights_path)
        .map_err(|e| Error::io(&weights_path, std::io::Error::other(e.to_string())))?;
    tuned.head.save(&tmp)?;
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(|e| Error::io(out, e))?;
    }
    std::fs::rename(&tmp, out).map_err(|e| Error::io(out, e))
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
#[path = "finetune_tests.rs"]
mod tests;
