//! Fine-tuning the top layers of a BERT encoder together with a linear head (`copiloot train intent
//! --fine-tune`), with candle's autograd and AdamW on cross-entropy.
//!
//! Only the top `layers` transformer layers (by default all) are trained: the frozen lower layers'
//! hidden states are computed once per text and kept, so an epoch costs a forward and backward pass
//! through the trained layers only. Training uses BERT's recipe: dropout, linear warm-up then decay, batches of similar length.
//! The head starts from the logistic-regression head on the frozen embeddings and is refitted (L-BFGS) at
//! the end on the embeddings of the tuned encoder as it will run (the saved folder, loaded like any
//! encoder). The result is a normal encoder folder (updated `model.safetensors`, tokenizer,
//! sentence-transformers files) plus `head.json`, which `--model DIR` loads as one classifier.

mod bert_layers;
mod folder;

use crate::error::{Error, Result};
use crate::models::{Encoder, EncoderOptions, FeatureSpec, Pooling, TextRole, DEFAULT_BATCH_SIZE};
use crate::training::head::{BranchMeta, LinearHead, TrainConfig};
use bert_layers::{embed, layer_tensor_names, mask_bias, mean_pool_normalised, BertWeights, Dropout, Layer};
use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use folder::{write_atomically, write_encoder};
use std::path::Path;
use tokenizers::Tokenizer;

/// Settings of a fine-tuning run.
#[derive(Debug, Clone)]
pub struct FineTuneConfig {
    /// How many of the top transformer layers are trained (the rest stay frozen); `None`: all of them.
    pub layers: Option<usize>,
    pub epochs: usize,
    /// AdamW learning rate.
    pub lr: f64,
    pub batch_size: usize,
    /// Seed of the example order and of the dropout masks.
    pub seed: u64,
    /// Dropout probability while training (BERT's own 0.1); 0 turns it off.
    pub dropout: f32,
    /// Share of the steps over which the learning rate rises linearly from 0 to `lr`; it then falls
    /// linearly to 0 at the last step (the schedule BERT and sentence-transformers fine-tune with).
    pub warmup: f64,
    /// Label smoothing of the training loss (0 = plain cross-entropy).
    pub label_smoothing: f64,
    /// Layer-wise learning-rate decay: the top layer (and the head) train at `lr`, each layer below at
    /// `layer_decay` times the rate of the one above (1 = one rate for all, the BERT recipe).
    pub layer_decay: f64,
    /// The logistic-regression head fitted before and after.
    pub head: TrainConfig,
    /// One weight per training text in the fine-tuning loss (a weighted mean; e.g. the languages
    /// weighed equally); `None`: every text the same.
    pub loss_weights: Option<Vec<f32>>,
    /// How the run is described in the saved head's metadata (e.g. the command line).
    pub source: String,
}

impl Default for FineTuneConfig {
    fn default() -> Self {
        Self {
            layers: None,
            epochs: 2,
            lr: 1e-4,
            batch_size: 32,
            seed: 1,
            dropout: 0.1,
            warmup: 0.1,
            label_smoothing: 0.1,
            layer_decay: 1.0,
            head: TrainConfig::default(),
            loss_weights: None,
            source: "copiloot fine-tuning".into(),
        }
    }
}

/// The outcome (the folder itself is written by [`fine_tune`]): the refitted head, the accuracy of the
/// frozen head it started from on the same texts, and the mean training loss of every epoch.
pub struct FineTuned {
    pub head: LinearHead,
    pub frozen_train_accuracy: f64,
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

/// Sentence vectors from cached states through `top` layers (no gradient kept); the tests compare
/// them with the encoder's.
#[cfg(test)]
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

/// The batches of one epoch: a seeded shuffle, then texts of similar length grouped together within
/// windows of 50 batches (so little of a batch is padding), then the batches themselves shuffled.
fn epoch_batches(lengths: &[usize], batch_size: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = crate::rng::SplitMix64(seed);
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    rng.shuffle(&mut order);
    let size = batch_size.max(1);
    let mut batches = Vec::with_capacity(order.len().div_ceil(size));
    for window in order.chunks_mut(size * 50) {
        window.sort_by_key(|&i| lengths[i]);
        batches.extend(window.chunks(size).map(<[usize]>::to_vec));
    }
    rng.shuffle(&mut batches);
    batches
}

/// Learning rate at `step` of `total`: linear warm-up over the first `warmup` share, then linear decay.
fn scheduled_lr(lr: f64, step: usize, total: usize, warmup: f64) -> f64 {
    let warm = (warmup.clamp(0.0, 1.0) * total as f64).round() as usize;
    if step < warm {
        return lr * (step + 1) as f64 / warm as f64;
    }
    lr * (total - step) as f64 / (total - warm).max(1) as f64
}

/// What a training step works on: the trained layers and head, the cached inputs and the gold labels.
struct Trainable<'a> {
    layers: &'a [Layer],
    w: &'a Var,
    b: &'a Var,
    states: &'a [Tensor],
    gold: &'a [u32],
    /// Per-text loss weights, mean 1 (all 1 without `config.loss_weights`).
    weights: &'a [f32],
    config: &'a FineTuneConfig,
}

impl Trainable<'_> {
    /// Forward and backward pass of one batch: the gradients of its mean loss, its summed loss and its
    /// correct predictions. (Splitting a batch over two threads was slower on 2 cores: candle 0.11 already
    /// runs its element-wise kernels on its own thread pool, and two callers contend for it.)
    fn batch_gradients(&self, idx: &[usize], step: usize) -> Result<(GradStore, f64, usize)> {
        let seed = self.config.seed.wrapping_add(step as u64);
        let refs: Vec<&Tensor> = idx.iter().map(|&i| &self.states[i]).collect();
        let (mut x, mask) = pad_batch(&refs)?;
        let bias = mask_bias(&mask)?;
        let mut dropout = Dropout::new(self.config.dropout, seed);
        for layer in self.layers {
            x = layer.forward_train(&x, &bias, Some(&mut dropout))?;
        }
        let pooled = mean_pool_normalised(&x, &mask)?;
        let logits = pooled.matmul(&self.w.as_tensor().t()?)?.broadcast_add(self.b.as_tensor())?;
        let gold: Vec<u32> = idx.iter().map(|&i| self.gold[i]).collect();
        let predicted = logits.argmax(1)?.to_vec1::<u32>()?;
        let right = predicted.iter().zip(&gold).filter(|(p, g)| p == g).count();
        let target = Tensor::from_vec(gold, idx.len(), &Device::Cpu)?;
        let weights: Vec<f32> = idx.iter().map(|&i| self.weights[i]).collect();
        let weights = Tensor::from_vec(weights, idx.len(), &Device::Cpu)?;
        let loss = smoothed_cross_entropy(&logits, &target, &weights, self.config.label_smoothing)?;
        let grads = loss.backward()?;
        Ok((grads, loss.to_scalar::<f32>()? as f64 * idx.len() as f64, right))
    }
}

/// Cross-entropy against targets smoothed by `eps` (the gold class gets 1−eps, the rest share eps),
/// averaged with the texts' `weights`: the loss never reaches zero on texts the head already gets
/// right, so they keep shaping the encoder.
fn smoothed_cross_entropy(
    logits: &Tensor,
    target: &Tensor,
    weights: &Tensor,
    eps: f64,
) -> candle_core::Result<Tensor> {
    let log_p = candle_nn::ops::log_softmax(logits, 1)?;
    let weighted_mean =
        |per_text: Tensor| (per_text * weights)?.sum_all()? / weights.sum_all()?.to_scalar::<f32>()? as f64;
    let nll = weighted_mean(log_p.gather(&target.unsqueeze(1)?, 1)?.squeeze(1)?.neg()?)?;
    if eps <= 0.0 {
        return Ok(nll);
    }
    let uniform = weighted_mean(log_p.mean(1)?.neg()?)?;
    (nll * (1.0 - eps))? + (uniform * eps)?
}

/// The encoder's weights with its top layers fine-tuned, and what the run measured.
struct Tuned {
    weights: BertWeights,
    /// The first trained layer: layers `first_trained..` were trained.
    first_trained: usize,
    frozen_train_accuracy: f64,
    epoch_losses: Vec<f64>,
}

/// The training loop both writers share: fine-tunes the top layers of the BERT encoder in `dir` (loaded
/// as `encoder`) with a linear head for `task` that starts from the frozen logistic-regression head.
fn tune(
    dir: &Path,
    encoder: &Encoder,
    task: &str,
    texts: &[&str],
    labels: &[String],
    config: &FineTuneConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<Tuned> {
    super::head::check_labels(labels)?;
    if encoder.pooling() != Pooling::Mean {
        return Err(Error::Config(
            "fine-tuning supports mean-pooled encoders (like the default multilingual-e5-small)".into(),
        ));
    }
    let mut weights = BertWeights::load(dir)?;
    let total = weights.arch.layers;
    let layers = config.layers.unwrap_or(total);
    if layers == 0 || layers > total {
        return Err(Error::Config(format!("--layers must be between 1 and {total} (the encoder's layers)")));
    }
    if !(0.0..1.0).contains(&config.dropout) {
        return Err(Error::Config(format!("--dropout must be in 0..1 (got {})", config.dropout)));
    }
    if !(0.0..=1.0).contains(&config.warmup) {
        return Err(Error::Config(format!(
            "--warmup is a share of the steps, 0..=1 (got {})",
            config.warmup
        )));
    }
    if !(0.0..1.0).contains(&config.label_smoothing) {
        return Err(Error::Config(format!(
            "--label-smoothing must be in 0..1 (got {})",
            config.label_smoothing
        )));
    }
    if !(config.layer_decay > 0.0 && config.layer_decay <= 1.0) {
        return Err(Error::Config(format!("--layer-decay must be in (0, 1] (got {})", config.layer_decay)));
    }
    if !(config.lr > 0.0 && config.lr.is_finite()) || config.epochs == 0 || config.batch_size == 0 {
        return Err(Error::Config("--lr, --epochs and --train-batch-size must be positive".into()));
    }
    let first_trained = total - layers;
    let lower: Vec<Layer> = (0..first_trained).map(|i| Layer::frozen(&weights, i)).collect::<Result<_>>()?;
    let ids = tokenize(dir, encoder, texts)?;
    progress(&format!("running the {first_trained} frozen layers once over {} texts", texts.len()));
    let states = frozen_states(&weights, &lower, &ids)?;
    drop(lower);

    // One group of variables per trained layer (bottom first), each with its share of the peak rate.
    let mut trained = Vec::new();
    let mut groups: Vec<(Vec<Var>, f64)> = Vec::new();
    for i in first_trained..total {
        let (layer, v) = Layer::trainable(&weights, i)?;
        trained.push(layer);
        groups.push((v, config.layer_decay.powi((total - 1 - i) as i32)));
    }
    progress("fitting the frozen head");
    let start = encoder.embed(texts)?;
    let head0 = LinearHead::train(task, encoder.model_id(), &start, labels, &config.head)?;
    drop(start);
    progress(&format!("frozen head: train accuracy {:.2} %", 100.0 * head0.meta().training.train_accuracy));
    let (w0, b0) =
        head0.parts().ok_or_else(|| Error::Config("fine-tuning starts from a linear head".into()))?;
    let c = head0.labels().len();
    let dim = head0.dim();
    let w = Var::from_tensor(&Tensor::from_vec(w0.to_vec(), (c, dim), &Device::Cpu)?)?;
    let b = Var::from_tensor(&Tensor::from_vec(b0.to_vec(), c, &Device::Cpu)?)?;
    groups.push((vec![w.clone(), b.clone()], 1.0));
    let y: Vec<u32> = labels
        .iter()
        .map(|l| head0.labels().iter().position(|k| k == l).map(|p| p as u32))
        .collect::<Option<_>>()
        .ok_or_else(|| Error::Inference("a label vanished from the head".into()))?;
    let mut opts = groups
        .into_iter()
        .map(|(vars, share)| {
            let params = ParamsAdamW { lr: config.lr * share, weight_decay: 0.01, ..Default::default() };
            Ok((AdamW::new(vars, params)?, share))
        })
        .collect::<Result<Vec<_>>>()?;

    let weights_mean_one = loss_weights(config.loss_weights.as_deref(), texts.len())?;
    let lengths: Vec<usize> = ids.iter().map(Vec::len).collect();
    let steps = config.epochs * texts.len().div_ceil(config.batch_size.max(1));
    let model = Trainable {
        layers: &trained,
        w: &w,
        b: &b,
        states: &states,
        gold: &y,
        weights: &weights_mean_one,
        config,
    };
    let mut step = 0;
    let mut epoch_losses = Vec::new();
    for epoch in 0..config.epochs {
        let (mut sum, mut batches, mut right) = (0.0, 0usize, 0usize);
        let plan = epoch_batches(&lengths, config.batch_size, config.seed.wrapping_add(epoch as u64));
        let epoch_started = std::time::Instant::now();
        for chunk in &plan {
            let lr = scheduled_lr(config.lr, step, steps, config.warmup);
            let (grads, loss_sum, correct) = model.batch_gradients(chunk, step)?;
            for (opt, share) in &mut opts {
                opt.set_learning_rate(lr * *share);
                opt.step(&grads)?;
            }
            step += 1;
            sum += loss_sum / chunk.len() as f64;
            right += correct;
            batches += 1;
            if batches % 50 == 0 && batches < plan.len() {
                let left =
                    epoch_started.elapsed().as_secs_f64() / batches as f64 * (plan.len() - batches) as f64;
                progress(&format!(
                    "epoch {}/{}: batch {batches}/{}, mean loss {:.4}, about {left:.0}s left in this epoch",
                    epoch + 1,
                    config.epochs,
                    plan.len(),
                    sum / batches as f64
                ));
            }
        }
        let mean = sum / batches.max(1) as f64;
        progress(&format!(
            "epoch {}/{}: mean loss {mean:.4}, train accuracy (with dropout) {:.2} %",
            epoch + 1,
            config.epochs,
            100.0 * right as f64 / texts.len().max(1) as f64
        ));
        epoch_losses.push(mean);
    }

    drop(states);

    // Write the trained layers back under their names.
    for (k, layer_index) in (first_trained..total).enumerate() {
        for (name, t) in layer_tensor_names(&weights, layer_index).into_iter().zip(trained[k].tensors()) {
            weights.tensors.insert(name, t.detach());
        }
    }
    let frozen_train_accuracy = head0.meta().training.train_accuracy;
    Ok(Tuned { weights, first_trained, frozen_train_accuracy, epoch_losses })
}

/// Per-text loss weights scaled to mean 1; all 1 without `weights`. Fails on a wrong count or a
/// negative, non-finite or all-zero weight.
fn loss_weights(weights: Option<&[f32]>, n: usize) -> Result<Vec<f32>> {
    let Some(w) = weights else { return Ok(vec![1.0; n]) };
    let sum: f32 = w.iter().sum();
    if w.len() != n || w.iter().any(|x| !x.is_finite() || *x < 0.0) || sum <= 0.0 {
        return Err(Error::invalid(
            crate::error::Location::field("loss_weights"),
            format!("{} loss weights for {n} texts; give one finite weight ≥ 0 each, not all 0", w.len()),
        ));
    }
    Ok(w.iter().map(|x| x * n as f32 / sum).collect())
}

/// Fine-tunes the top layers of the BERT encoder in `dir` (loaded as `encoder`) on labelled texts and
/// writes the tuned encoder with its head to the folder `out` (through a hidden `.NAME.partial` folder
/// that is renamed at the end, so a failed run leaves nothing half-written). `progress` receives a line
/// per stage and every 50 batches.
pub fn fine_tune(
    dir: &Path,
    encoder: &Encoder,
    texts: &[&str],
    labels: &[String],
    config: &FineTuneConfig,
    out: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<FineTuned> {
    let Tuned { weights, frozen_train_accuracy, epoch_losses, .. } =
        tune(dir, encoder, "intent", texts, labels, config, progress)?;
    // Save the folder and refit the head on what the saved encoder computes (in the precision the
    // caller's encoder runs, q8 by default, as the classifier will run it).
    let head = write_atomically(out, |tmp| {
        write_encoder(&weights, dir, encoder, tmp)?;
        progress("refitting the head on the tuned encoder");
        let options = EncoderOptions { precision: encoder.precision() };
        let tuned = Encoder::from_dir_with(tmp, &options)?.embed(texts)?;
        let head = LinearHead::train("intent", encoder.model_id(), &tuned, labels, &config.head)?;
        save_refitted(head, config, tmp, progress)
    })?;
    Ok(FineTuned { head, frozen_train_accuracy, epoch_losses })
}

/// The file a branch head keeps its layers in.
pub const BRANCH_FILE: &str = "branch.safetensors";

/// Fine-tunes the top `config.layers` layers of the encoder in `dir` as a branch for `task` (e.g.
/// sentiment) and writes a head folder to `out`: the tuned layers in [`BRANCH_FILE`] (f16, under the
/// encoder's tensor names) and a head (`head.json` with `branch`) refitted, as `encoder` runs them, on
/// the mean-pooled features of the frozen `read_layers` (may be empty) followed by the branch's output.
/// The encoder itself is untouched: the other tasks keep their embeddings, and the branch costs
/// `config.layers` extra layers per text. Written through a hidden `.NAME.partial` folder.
#[allow(clippy::too_many_arguments)]
pub fn fine_tune_branch(
    dir: &Path,
    encoder: &Encoder,
    task: &str,
    read_layers: &[usize],
    texts: &[&str],
    labels: &[String],
    config: &FineTuneConfig,
    out: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<FineTuned> {
    let total = encoder.layers();
    if config.layers.is_none_or(|n| n == 0 || n >= total) {
        return Err(Error::invalid(
            crate::error::Location::field("branch"),
            format!(
                "a branch is the encoder's top layers: give between 1 and {} of its {total} layers",
                total.saturating_sub(1)
            ),
        ));
    }
    if !read_layers.is_empty() {
        crate::tasks::check_layers(read_layers, encoder)?;
    }
    let Tuned { weights, first_trained, frozen_train_accuracy, epoch_losses } =
        tune(dir, encoder, task, texts, labels, config, progress)?;
    let head = write_atomically(out, |tmp| {
        let mut branch = std::collections::HashMap::new();
        for layer in first_trained..total {
            for name in layer_tensor_names(&weights, layer) {
                branch.insert(name.clone(), weights.get(&name)?.to_dtype(candle_core::DType::F16)?);
            }
        }
        let path = tmp.join(BRANCH_FILE);
        candle_core::safetensors::save(&branch, &path)
            .map_err(|e| Error::io(&path, std::io::Error::other(e.to_string())))?;
        progress("refitting the head on the branch's output");
        let spec = FeatureSpec {
            layers: read_layers.to_vec(),
            branch: Some(std::sync::Arc::new(encoder.load_branch(&path)?)),
        };
        let features = encoder.encode_features(texts, TextRole::Query, DEFAULT_BATCH_SIZE, &spec)?.1;
        let mut head = LinearHead::train(task, encoder.model_id(), &features, labels, &config.head)?;
        let layers = total - first_trained;
        head.set_branch(BranchMeta { file: BRANCH_FILE.into(), start_layer: first_trained, layers })?;
        if !read_layers.is_empty() {
            head.set_layers(read_layers)?;
        }
        save_refitted(head, config, tmp, progress)
    })?;
    Ok(FineTuned { head, frozen_train_accuracy, epoch_losses })
}

/// Records the run in the refitted head, reports its training accuracy and saves it into `tmp`.
fn save_refitted(
    mut head: LinearHead,
    config: &FineTuneConfig,
    tmp: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<LinearHead> {
    head.set_source(config.source.clone());
    progress(&format!("refitted head: train accuracy {:.2} %", 100.0 * head.meta().training.train_accuracy));
    head.save(tmp)?;
    Ok(head)
}

#[cfg(test)]
mod tests;
