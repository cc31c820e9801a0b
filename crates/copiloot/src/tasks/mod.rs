//! The inference tasks, each behind the [`ConversationTask`] contract: intent, sentiment, the grounded
//! summary and churn (which reads the others' results), and the default list the facade runs.
//!
//! Every task takes embeddings computed once by the facade (one per turn, L2-normalised, classification
//! role: `query: ` for e5), so a conversation is never encoded twice. Texts that arrive on their own
//! (the `classify` API, training and evaluation files) go through a [`TextEmbedder`]. Training and
//! evaluation live apart, in [`crate::training`] and [`crate::eval`].

pub mod alerts;
pub mod churn;
pub mod intent;
pub mod knowledge;
pub mod lexicon;
mod pipeline;
pub mod sentiment;
pub mod summary;

pub use alerts::AlertTask;
pub use churn::ChurnScorer;
pub use intent::IntentTask;
pub use knowledge::KnowledgeTask;
pub use pipeline::{ConversationTask, TaskContext, TaskMemo};
pub use sentiment::SentimentTask;
pub use summary::SummaryTask;

use crate::error::{Error, Location, Result};
pub use crate::models::{EncoderBranch, FeatureSpec};
use std::path::Path;
use std::sync::Arc;

/// The tasks `Copilot::analyze` runs by default, in order: zero-shot intents over the shipped taxonomy,
/// the shipped sentiment head, the grounded summary, churn, the alert rules. Registering a new task is one line here.
pub fn default_tasks(
    models_dir: &Path,
    encoder: &dyn TextEmbedder,
    churn: &churn::ChurnOptions,
) -> Result<Vec<Arc<dyn ConversationTask>>> {
    let churn = ChurnScorer::load(models_dir, churn)?;
    // The summary cites the competitor / price / repeat phrases of the same lists churn scores.
    let summary = summary::SummaryModel::load_with_lexicon(models_dir, encoder, churn.config().clone())?;
    Ok(vec![
        Arc::new(IntentTask::load(models_dir, encoder)?),
        Arc::new(SentimentTask::load(models_dir, encoder)?),
        Arc::new(SummaryTask::new(summary)),
        Arc::new(churn),
        Arc::new(AlertTask::load(models_dir)?),
    ])
}

/// Per text, from one encoder pass: the sentence embeddings and the concatenated per-layer features.
pub type LayerEmbeddings = (Vec<Vec<f32>>, Vec<Vec<f32>>);

/// What the tasks need from a sentence encoder. Implemented by `models::Encoder`; a trait so the tasks can
/// be unit-tested with tiny deterministic embedders and so users can plug in their own encoder.
pub trait TextEmbedder {
    /// Identifier of the encoder (heads remember it and refuse another one).
    fn model_id(&self) -> &str;
    /// Embedding width.
    fn dim(&self) -> usize;
    /// L2-normalised embeddings in the classification role (the same role the facade uses for turns).
    fn embed_for_classification(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
    /// From one encoder pass: the embeddings of [`Self::embed_for_classification`] and, per text, the
    /// features of `spec`: the mean-pooled hidden states of its layers and the output of its branch, each
    /// L2-normalised, concatenated (see `Encoder::encode_features`). Embedders that do not expose their
    /// layers refuse.
    fn embed_with_features(&self, texts: &[&str], spec: &FeatureSpec) -> Result<LayerEmbeddings> {
        let _ = texts;
        Err(Error::Config(format!(
            "`{}` does not expose its hidden layers, but a head reading {} needs them; use the encoder \
             the head was trained on",
            self.model_id(),
            spec.describe()
        )))
    }
    /// Loads a task branch (fine-tuned top layers) for this embedder; embedders without layers refuse.
    fn load_branch(&self, path: &Path) -> Result<EncoderBranch> {
        Err(Error::model_load(
            path,
            format!("`{}` cannot run a branch of fine-tuned encoder layers", self.model_id()),
        ))
    }
    /// Number of hidden layers [`Self::embed_with_features`] can read (0 when it cannot).
    fn layer_count(&self) -> usize {
        0
    }
    /// Names the vectors [`Self::embed_for_classification`] gives, for on-disk caches: the model id
    /// unless the vectors are something else (e.g. [`LayerFeatures`]).
    fn cache_id(&self) -> String {
        self.model_id().to_string()
    }
}

/// A [`TextEmbedder`] whose "embeddings" are another embedder's features for a [`FeatureSpec`] (layers,
/// a branch; [`TextEmbedder::embed_with_features`]): what a head on them is trained and evaluated on.
pub struct LayerFeatures<'a> {
    inner: &'a dyn TextEmbedder,
    spec: FeatureSpec,
}

impl<'a> LayerFeatures<'a> {
    /// Fails when `inner` does not have every layer in `layers`, or `layers` is empty.
    pub fn new(inner: &'a dyn TextEmbedder, layers: &[usize]) -> Result<LayerFeatures<'a>> {
        check_layers(layers, inner)?;
        Ok(LayerFeatures { inner, spec: FeatureSpec::layers(layers) })
    }

    /// Features of any spec: its layers must be distinct layers `inner` has; a branch alone is enough.
    pub fn with_spec(inner: &'a dyn TextEmbedder, spec: FeatureSpec) -> Result<LayerFeatures<'a>> {
        check_spec(&spec, inner)?;
        Ok(LayerFeatures { inner, spec })
    }
}

/// Fails unless `embedder` gives the features of `spec`: [`check_layers`] on its layers, which may be
/// empty when the spec has a branch (the branch's output alone is a feature).
pub fn check_spec(spec: &FeatureSpec, embedder: &dyn TextEmbedder) -> Result<()> {
    if spec.branch.is_some() && spec.layers.is_empty() {
        return Ok(());
    }
    check_layers(&spec.layers, embedder)
}

/// Fails unless `layers` is a non-empty list of distinct layers `embedder` has.
pub fn check_layers(layers: &[usize], embedder: &dyn TextEmbedder) -> Result<()> {
    let count = embedder.layer_count();
    let mut seen = std::collections::BTreeSet::new();
    let bad = layers.iter().find(|&&l| l > count || !seen.insert(l));
    if layers.is_empty() || bad.is_some() {
        return Err(Error::invalid(
            Location::field("layers"),
            format!(
                "layers {layers:?} do not fit `{}`, which has {count} layers: give distinct layers in 0..={count} \
                 (0 = the embedding output), or retrain the head for this encoder",
                embedder.model_id()
            ),
        ));
    }
    Ok(())
}

impl TextEmbedder for LayerFeatures<'_> {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }
    fn dim(&self) -> usize {
        self.spec.vectors() * self.inner.dim()
    }
    fn embed_for_classification(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(self.inner.embed_with_features(texts, &self.spec)?.1)
    }
    fn cache_id(&self) -> String {
        format!("{}+{}", self.inner.cache_id(), self.spec.cache_suffix())
    }
}

impl TextEmbedder for crate::models::Encoder {
    fn model_id(&self) -> &str {
        crate::models::Encoder::model_id(self)
    }
    fn dim(&self) -> usize {
        crate::models::Encoder::dim(self)
    }
    /// The query role: the one `Copilot::embed_turns` uses for turns, so texts and turns are comparable.
    fn embed_for_classification(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_with(texts, crate::models::TextRole::Query, crate::models::DEFAULT_BATCH_SIZE)
    }
    fn embed_with_features(&self, texts: &[&str], spec: &FeatureSpec) -> Result<LayerEmbeddings> {
        let role = crate::models::TextRole::Query;
        let (encoded, features) =
            self.encode_features(texts, role, crate::models::DEFAULT_BATCH_SIZE, spec)?;
        Ok((encoded.embeddings, features))
    }
    fn load_branch(&self, path: &Path) -> Result<EncoderBranch> {
        crate::models::Encoder::load_branch(self, path)
    }
    fn layer_count(&self) -> usize {
        self.layers()
    }
}

/// Rejects texts no encoder can say anything useful about: empty ones, and ones whose letters are all in
/// a script the multilingual encoder was not trained on (e.g. cuneiform). Emoji-only texts are accepted
/// because in chats they carry sentiment ("👍").
pub fn check_text(text: &str, location: impl FnOnce() -> Location) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::invalid(location(), "the text is empty; remove the row or fill in the text"));
    }
    if unknown_script(text) {
        return Err(Error::invalid(
            location(),
            format!(
                "the text {:?} is in a script the encoder does not support; supported are Latin, Cyrillic, \
                 Greek, Arabic, Hebrew, CJK, Hangul, Devanagari and other major scripts",
                truncate(text, 40)
            ),
        ));
    }
    Ok(())
}

/// Whether a text has letters but none in a script the multilingual encoder was trained on.
pub(crate) fn unknown_script(text: &str) -> bool {
    text.chars().any(char::is_alphabetic) && whatlang::detect_script(text).is_none()
}

/// Cosine of two L2-normalised vectors (their dot product).
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Numerically stable softmax of `logits`, in place.
pub(crate) fn softmax_in_place(logits: &mut [f32]) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in logits.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    if sum > 0.0 {
        for v in logits.iter_mut() {
            *v /= sum;
        }
    }
}

/// Index and value of the largest element (first one on ties, so results are deterministic).
pub(crate) fn argmax(values: &[f32]) -> (usize, f32) {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, &v) in values.iter().enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best
}

pub(crate) fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// Checks that every embedding has the width the model expects.
pub(crate) fn check_dims(embeddings: &[Vec<f32>], dim: usize, what: &str) -> Result<()> {
    if let Some((i, e)) = embeddings.iter().enumerate().find(|(_, e)| e.len() != dim) {
        return Err(Error::invalid(
            Location::field(format!("{what}[{i}]")),
            format!(
                "embedding has {} values but the model expects {dim}; embed the turns with the encoder the \
                 model was built for",
                e.len()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod test_support {
    //! A tiny deterministic embedder for unit tests of shapes and error paths (the real-model tests live
    //! in the task modules and use the installed default encoder).
    use super::*;

    /// Bag of hashed character trigrams, L2-normalised: texts sharing words get similar vectors.
    pub struct HashEmbedder {
        pub dim: usize,
    }

    impl TextEmbedder for HashEmbedder {
        fn model_id(&self) -> &str {
            "test/hash-trigrams"
        }
        fn dim(&self) -> usize {
            self.dim
        }
        fn embed_for_classification(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
            Ok(texts.iter().map(|t| hash_embed(t, self.dim)).collect())
        }
    }

    pub fn hash_embed(text: &str, dim: usize) -> Vec<f32> {
        let chars: Vec<char> = format!("  {}  ", text.to_lowercase()).chars().collect();
        let mut v = vec![0.0f32; dim];
        for w in chars.windows(3) {
            let mut h: u64 = 1469598103934665603;
            for c in w {
                h ^= *c as u64;
                h = h.wrapping_mul(1099511628211);
            }
            v[(h % dim as u64) as usize] += 1.0;
        }
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        v.iter_mut().for_each(|x| *x /= n);
        v
    }
}

#[cfg(test)]
mod tests;
