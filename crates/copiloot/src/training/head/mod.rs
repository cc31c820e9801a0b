//! Classification heads on frozen sentence embeddings: multinomial logistic regression with an L2
//! penalty and class weights (what SetFit and sklearn users fit on top of sentence-transformers), fitted
//! by `super::logistic` (L-BFGS), or with one hidden ReLU layer ([`mlp`], `kind: "mlp"` in the JSON);
//! saved as `head.safetensors` + `head.json`.
//!
//! The JSON records the labels and the encoder the head expects, so a head is never silently applied to
//! embeddings from another model.

use super::logistic;
use crate::error::{Error, Location, Result};
use crate::tasks::{argmax, check_dims, softmax_in_place};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub const WEIGHTS_FILE: &str = "head.safetensors";
pub const META_FILE: &str = "head.json";
const FORMAT: &str = "copiloot-linear-head";
/// Version 2 adds `layers` (a head on several encoder layers), version 3 `kind` and `hidden` (a head with
/// a hidden layer), version 4 `branch` (a head on fine-tuned top layers of the encoder); heads without
/// them are still written as 1, 2 or 3, so older copiloot versions read them.
const FORMAT_VERSION: u32 = 4;
/// The version `kind`, `hidden` and `temperature` need.
const MLP_VERSION: u32 = 3;

mod file;
pub mod mlp;
mod select;

pub use select::{select_l2, L2_GRID};

/// What a head computes from the features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HeadKind {
    /// `logits = W·x + b` (tensors `weight`, `bias`).
    #[default]
    Linear,
    /// `logits = W·relu(H·x + c) + b` (tensors `hidden.weight` [hidden, dim], `hidden.bias`, `weight`
    /// [classes, hidden], `bias`).
    Mlp,
}

impl HeadKind {
    fn is_linear(&self) -> bool {
        *self == HeadKind::Linear
    }
}

/// How training examples of rare and frequent classes are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClassWeight {
    /// Every class counts as much in total (sklearn's `class_weight="balanced"`): good for skewed data.
    #[default]
    Balanced,
    /// Every example counts the same.
    None,
}

/// Training settings. The defaults match sklearn's `LogisticRegression(C=1, class_weight="balanced")` on
/// standardised features, a good starting point for sentence embeddings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    /// L2 strength on the (mean) loss; `None` = 1 / number of examples (sklearn's `C = 1`).
    pub l2: Option<f64>,
    pub class_weight: ClassWeight,
    pub max_iter: usize,
    /// Stop when the gradient norm falls below `tol` (relative to the loss).
    pub tol: f64,
    /// One weight per training example, multiplied with the class weight (e.g.
    /// [`crate::training::labelled::language_weights`]); `None`: all 1.
    #[serde(skip)]
    pub example_weights: Option<Vec<f32>>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            l2: None,
            class_weight: ClassWeight::Balanced,
            max_iter: 500,
            tol: 1e-5,
            example_weights: None,
        }
    }
}

/// What was trained, kept next to the weights for reproducibility.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainingSummary {
    pub examples: usize,
    pub per_class: BTreeMap<String, usize>,
    pub l2: f64,
    pub class_weight: ClassWeight,
    pub iterations: usize,
    pub final_loss: f64,
    pub train_accuracy: f64,
    /// Free text: the command or the data the head was trained with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The settings of a head with a hidden layer (`l2` is then AdamW's weight decay, `iterations` the
    /// optimiser steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlp: Option<Box<mlp::MlpConfig>>,
}

/// The `head.json` next to the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeadMeta {
    pub format: String,
    pub format_version: u32,
    /// `intent`, `sentiment` or whatever the user trained.
    pub task: String,
    pub labels: Vec<String>,
    /// Model id of the encoder whose embeddings this head reads.
    pub encoder: String,
    /// The encoder layers the head reads (their mean-pooled hidden states, each L2-normalised,
    /// concatenated; see `Encoder::encode_layers`); absent: the sentence embedding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<usize>>,
    /// Absent in heads before version 3: linear.
    #[serde(default, skip_serializing_if = "HeadKind::is_linear")]
    pub kind: HeadKind,
    /// Width of the hidden layer (`kind: "mlp"` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<usize>,
    /// The fine-tuned branch of the encoder's top layers whose mean-pooled output the head reads after
    /// the features of `layers` (version 4); absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<Box<BranchMeta>>,
    /// Calibration (version 3): the logits are divided by it before the softmax; absent: 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    pub dim: usize,
    pub training: TrainingSummary,
}

/// Where a head's branch is (`head.json` v4 `branch`): a copy of the encoder's top layers, fine-tuned with
/// the head (`copiloot train sentiment --branch N`), run from the output of layer `start_layer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchMeta {
    /// The safetensors file in the head's folder with the layers, under the encoder's tensor names.
    pub file: String,
    /// The encoder layer whose output the branch reads (its layers are `start_layer..` the top).
    pub start_layer: usize,
    /// How many layers the branch has.
    pub layers: usize,
}

/// A trained head: `logits = W·x + b` (or, for `kind: "mlp"`, `W·relu(H·x + c) + b`), probabilities by
/// softmax. The name is historical: it holds either kind.
#[derive(Debug, Clone)]
pub struct LinearHead {
    meta: HeadMeta,
    /// Row-major `[classes, dim]`, or `[classes, hidden]` after a hidden layer.
    weight: Vec<f32>,
    bias: Vec<f32>,
    hidden: Option<Box<Hidden>>,
}

/// The hidden layer of an MLP head: row-major `[hidden, dim]` and `[hidden]`.
#[derive(Debug, Clone)]
struct Hidden {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

/// One prediction: the label, its index in [`LinearHead::labels`], and its probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub label: String,
    pub index: usize,
    pub probability: f32,
}

impl LinearHead {
    /// Fits a head on `embeddings` (one per example) and their `labels`. Labels are sorted, so the same
    /// data gives the same head. Fails with a message saying what to fix on empty data, a single class,
    /// mismatched lengths or inconsistent embedding widths.
    pub fn train(
        task: &str,
        encoder: &str,
        embeddings: &[Vec<f32>],
        labels: &[String],
        config: &TrainConfig,
    ) -> Result<LinearHead> {
        let Prepared { dim, classes, per_class, y, sample_weight } = prepare(embeddings, labels, config)?;
        let (n, c) = (embeddings.len(), classes.len());
        let l2 = config.l2.unwrap_or(1.0 / n as f64);

        // Standardise features: sentence embeddings are anisotropic (all cosines high), which makes the raw
        // problem badly conditioned. The scaling is folded back into W and b after training.
        let (mean, std) = feature_stats(embeddings, dim);
        let x = standardised(embeddings, &mean, &std);
        let min = logistic::Multinomial { x, dim, y: &y, classes: c, sample_weight: &sample_weight }.fit(
            l2,
            config.max_iter,
            config.tol,
        )?;

        // Fold the standardisation into the weights: W' = W / std, b' = b − W'·mean.
        let mut weight = vec![0.0f32; c * dim];
        let mut bias = vec![0.0f32; c];
        for k in 0..c {
            let mut b = min.x[c * dim + k];
            for j in 0..dim {
                let wk = min.x[k * dim + j] / std[j] as f64;
                weight[k * dim + j] = wk as f32;
                b -= wk * mean[j] as f64;
            }
            bias[k] = b as f32;
        }
        let summary = TrainingSummary {
            examples: n,
            per_class,
            l2,
            class_weight: config.class_weight,
            iterations: min.iterations,
            final_loss: min.value,
            train_accuracy: 0.0,
            source: None,
            mlp: None,
        };
        Ok(LinearHead::assemble(task, encoder, classes, dim, summary, (weight, bias), None, &y, embeddings))
    }

    /// A trained head from its parts; fills in the training accuracy on `embeddings` (labels `y`).
    #[allow(clippy::too_many_arguments)]
    fn assemble(
        task: &str,
        encoder: &str,
        labels: Vec<String>,
        dim: usize,
        training: TrainingSummary,
        (weight, bias): (Vec<f32>, Vec<f32>),
        hidden: Option<Box<Hidden>>,
        y: &[usize],
        embeddings: &[Vec<f32>],
    ) -> LinearHead {
        let mut head = LinearHead {
            meta: HeadMeta {
                format: FORMAT.into(),
                format_version: if hidden.is_some() { MLP_VERSION } else { 1 },
                task: task.into(),
                labels,
                encoder: canonical_encoder_id(encoder),
                layers: None,
                branch: None,
                kind: if hidden.is_some() { HeadKind::Mlp } else { HeadKind::Linear },
                hidden: hidden.as_ref().map(|h| h.bias.len()),
                temperature: None,
                dim,
                training,
            },
            weight,
            bias,
            hidden,
        };
        let correct = embeddings.iter().zip(y).filter(|(e, &k)| argmax(&head.logits(e)).0 == k).count();
        head.meta.training.train_accuracy = correct as f64 / embeddings.len().max(1) as f64;
        head
    }
}

/// Checked training data: the sorted classes, each example's class index and weight.
struct Prepared {
    dim: usize,
    classes: Vec<String>,
    per_class: BTreeMap<String, usize>,
    y: Vec<usize>,
    sample_weight: Vec<f32>,
}

/// Fails with a message saying what to fix on empty data, a single class, mismatched lengths, inconsistent
/// embedding widths or bad example weights; otherwise the classes and per-example weights.
fn prepare(embeddings: &[Vec<f32>], labels: &[String], config: &TrainConfig) -> Result<Prepared> {
    let loc = || Location::field("labels");
    if embeddings.len() != labels.len() {
        return Err(Error::invalid(
            loc(),
            format!(
                "{} embeddings but {} labels; give one label per example",
                embeddings.len(),
                labels.len()
            ),
        ));
    }
    if embeddings.is_empty() {
        return Err(Error::invalid(loc(), "no training examples; the data file has no labelled rows"));
    }
    let dim = embeddings[0].len();
    check_dims(embeddings, dim, "embeddings")?;
    let mut per_class: BTreeMap<String, usize> = BTreeMap::new();
    for l in labels {
        *per_class.entry(l.clone()).or_default() += 1;
    }
    check_labels(labels)?;
    let classes: Vec<String> = per_class.keys().cloned().collect();
    let class_index: BTreeMap<&str, usize> =
        classes.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
    let y: Vec<usize> = labels.iter().map(|l| class_index[l.as_str()]).collect();
    let n = embeddings.len();
    let c = classes.len();
    let mut sample_weight: Vec<f32> = match config.class_weight {
        ClassWeight::Balanced => {
            y.iter().map(|&k| n as f32 / (c as f32 * per_class[&classes[k]] as f32)).collect()
        }
        ClassWeight::None => vec![1.0; n],
    };
    if let Some(weights) = &config.example_weights {
        if weights.len() != n || weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return Err(Error::invalid(
                Location::field("example_weights"),
                format!(
                    "{} example weights for {n} examples; give one finite weight ≥ 0 each",
                    weights.len()
                ),
            ));
        }
        sample_weight.iter_mut().zip(weights).for_each(|(s, w)| *s *= w);
    }
    Ok(Prepared { dim, classes, per_class, y, sample_weight })
}

/// The features standardised by `mean` and `std`, row-major.
fn standardised(embeddings: &[Vec<f32>], mean: &[f32], std: &[f32]) -> Vec<f32> {
    embeddings.iter().flat_map(|e| e.iter().zip(mean).zip(std).map(|((v, m), s)| (v - m) / s)).collect()
}

impl LinearHead {
    pub fn labels(&self) -> &[String] {
        &self.meta.labels
    }
    pub fn encoder(&self) -> &str {
        &self.meta.encoder
    }
    pub fn dim(&self) -> usize {
        self.meta.dim
    }
    pub fn meta(&self) -> &HeadMeta {
        &self.meta
    }
    /// The weights `[classes × dim]` (row-major) and biases, for fine-tuning from this head; `None` for a
    /// head with a hidden layer.
    pub fn parts(&self) -> Option<(&[f32], &[f32])> {
        self.hidden.is_none().then_some((&self.weight, &self.bias))
    }

    /// The encoder layers the head reads, when not the sentence embedding.
    pub fn layers(&self) -> Option<&[usize]> {
        self.meta.layers.as_deref()
    }

    /// The fine-tuned branch whose output the head reads, if any.
    pub fn branch(&self) -> Option<&BranchMeta> {
        self.meta.branch.as_deref()
    }

    /// Marks the head as reading the output of a branch (after the features of its layers, if any; call
    /// this before [`Self::set_layers`]); fails unless its width leaves one encoder vector for it.
    pub fn set_branch(&mut self, branch: BranchMeta) -> Result<()> {
        let vectors = self.meta.layers.as_ref().map_or(0, Vec::len) + 1;
        if !self.meta.dim.is_multiple_of(vectors) || branch.layers == 0 || branch.file.is_empty() {
            return Err(Error::invalid(
                Location::field("branch"),
                format!("a head of width {} cannot read {vectors} vectors with a branch", self.meta.dim),
            ));
        }
        self.meta.branch = Some(Box::new(branch));
        self.meta.format_version = FORMAT_VERSION;
        Ok(())
    }

    /// Marks the head as reading the features of these encoder layers (`Encoder::encode_layers`), not
    /// the sentence embedding (before a branch's output, if [`Self::set_branch`] came first); fails
    /// unless its width is a whole number of encoder vectors.
    pub fn set_layers(&mut self, layers: &[usize]) -> Result<()> {
        let vectors = layers.len() + usize::from(self.meta.branch.is_some());
        if layers.is_empty() || !self.meta.dim.is_multiple_of(vectors) {
            return Err(Error::invalid(
                Location::field("layers"),
                format!("a head of width {} cannot read {} layers", self.meta.dim, layers.len()),
            ));
        }
        self.meta.layers = Some(layers.to_vec());
        self.meta.format_version = self.meta.format_version.max(2);
        Ok(())
    }

    /// Sets the softmax temperature (calibration: below 1 sharpens the probabilities, above 1 softens
    /// them; the predicted labels do not change). Fails unless it is finite and positive.
    pub fn set_temperature(&mut self, temperature: f32) -> Result<()> {
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(Error::invalid(
                Location::field("temperature"),
                format!("the temperature must be a positive number (got {temperature})"),
            ));
        }
        self.meta.temperature = Some(temperature);
        self.meta.format_version = self.meta.format_version.max(MLP_VERSION);
        Ok(())
    }

    /// Records where the head came from (stored in `head.json`).
    pub fn set_source(&mut self, source: impl Into<String>) {
        self.meta.training.source = Some(source.into());
    }

    fn logits(&self, embedding: &[f32]) -> Vec<f32> {
        let affine = |w: &[f32], b: &[f32], x: &[f32]| -> Vec<f32> {
            let d = x.len();
            b.iter().enumerate().map(|(k, bk)| bk + crate::tasks::dot(&w[k * d..(k + 1) * d], x)).collect()
        };
        match &self.hidden {
            None => affine(&self.weight, &self.bias, embedding),
            Some(h) => {
                let hidden: Vec<f32> =
                    affine(&h.weight, &h.bias, embedding).into_iter().map(|v| v.max(0.0)).collect();
                affine(&self.weight, &self.bias, &hidden)
            }
        }
    }

    /// Class probabilities (in the order of [`Self::labels`]) for each embedding.
    pub fn predict_proba(&self, embeddings: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        check_dims(embeddings, self.meta.dim, "embeddings")?;
        Ok(embeddings
            .iter()
            .map(|e| {
                let mut p = self.logits(e);
                if let Some(t) = self.meta.temperature {
                    p.iter_mut().for_each(|v| *v /= t);
                }
                softmax_in_place(&mut p);
                p
            })
            .collect())
    }

    /// The most probable label for each embedding.
    pub fn predict(&self, embeddings: &[Vec<f32>]) -> Result<Vec<Prediction>> {
        Ok(self
            .predict_proba(embeddings)?
            .into_iter()
            .map(|p| {
                let (index, probability) = argmax(&p);
                Prediction { label: self.meta.labels[index].clone(), index, probability }
            })
            .collect())
    }

    /// Fails unless the head reads the plain sentence embedding: a head on encoder layers or on a
    /// fine-tuned branch (`train sentiment --layers/--branch`) needs the features only the sentiment
    /// task computes for it.
    pub fn check_reads_embedding(&self, dir: &Path) -> Result<()> {
        if self.meta.layers.is_some() || self.meta.branch.is_some() {
            return Err(Error::model_load(
                dir,
                format!(
                    "this {} head reads encoder layers or a fine-tuned branch, not the sentence embedding; \
                     load it as a sentiment head, or train an intent head with `copiloot train intent`",
                    self.meta.task
                ),
            ));
        }
        Ok(())
    }

    /// Fails unless this head was trained on embeddings of `model_id`.
    pub fn check_encoder(&self, model_id: &str, dir: &Path) -> Result<()> {
        if canonical_encoder_id(&self.meta.encoder) != canonical_encoder_id(model_id) {
            return Err(Error::model_load(
                dir,
                format!(
                    "this {} head was trained on embeddings of `{}` but the loaded encoder is `{model_id}`; load \
                     that encoder or retrain the head with `copiloot train {} --data FILE --out DIR`",
                    self.meta.task, self.meta.encoder, self.meta.task
                ),
            ));
        }
        Ok(())
    }
}

/// Fails unless the labels name at least two classes — checked before anything is embedded.
pub fn check_labels(labels: &[String]) -> Result<()> {
    let distinct: std::collections::BTreeSet<&str> = labels.iter().map(String::as_str).collect();
    if distinct.len() < 2 {
        let only = distinct.iter().next().copied().unwrap_or_default();
        return Err(Error::invalid(
            Location::field("labels"),
            format!(
                "the training data has only one label (`{only}`); a classifier needs examples of at least \
                 two labels — check the label column (--label-col)"
            ),
        ));
    }
    Ok(())
}

/// The name an encoder is recognised by, whether it was loaded from a hub id
/// (`intfloat/multilingual-e5-small@rev`) or a local folder (`/opt/models/multilingual-e5-small/`): the last
/// path segment without revision. Heads store this, so a head trained on one machine loads on another.
pub fn canonical_encoder_id(model_id: &str) -> String {
    let trimmed = model_id.trim().trim_end_matches(['/', '\\']);
    let last = trimmed.rsplit(['/', '\\']).next().unwrap_or(trimmed);
    last.split('@').next().unwrap_or(last).to_string()
}

fn feature_stats(embeddings: &[Vec<f32>], dim: usize) -> (Vec<f32>, Vec<f32>) {
    let n = embeddings.len() as f64;
    let mut mean = vec![0.0f64; dim];
    for e in embeddings {
        for (m, v) in mean.iter_mut().zip(e) {
            *m += *v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0.0f64; dim];
    for e in embeddings {
        for j in 0..dim {
            var[j] += (e[j] as f64 - mean[j]).powi(2);
        }
    }
    // A floor keeps constant features (possible with few examples) from dividing by zero.
    let std = var.iter().map(|v| ((v / n).sqrt().max(1e-4)) as f32).collect();
    (mean.into_iter().map(|m| m as f32).collect(), std)
}

#[cfg(test)]
mod tests;
