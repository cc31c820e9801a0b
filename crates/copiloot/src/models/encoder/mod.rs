//! The sentence encoder: BERT-family transformers turned into L2-normalised sentence vectors.
//!
//! Loads `bert`, `xlm-roberta` and `distilbert` folders in Hugging Face layout, reads the
//! sentence-transformers files (pooling, max length, query/passage prompts) when present, and runs
//! our own padding-free forward ([`bert`]): texts are sorted by token count and cut into batches,
//! and within a batch no token is spent on padding. [`Precision`] picks f32 or int8 linear layers.

pub(crate) mod bert;
mod st_config;

pub use bert::Precision;
pub(crate) use st_config::sentence_transformers_files;
pub use st_config::Pooling;

use super::source::ModelSource;
use crate::error::{Error, Result};
use bert::BertModel;
use st_config::SentenceConfig;
use std::path::Path;
use std::sync::Arc;
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

/// How to load an encoder.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct EncoderOptions {
    /// Precision of the linear layers (`q8` by default; `f32` reproduces the reference vectors exactly).
    #[serde(default)]
    pub precision: Precision,
}

/// The per-text features asked of one encoder pass besides the sentence vectors (see
/// [`Encoder::encode_features`]): the mean-pooled hidden states of `layers`, then, with a `branch`, its
/// mean-pooled output; each L2-normalised, concatenated in that order.
#[derive(Clone, Default, Debug)]
pub struct FeatureSpec {
    pub layers: Vec<usize>,
    pub branch: Option<Arc<EncoderBranch>>,
}

impl FeatureSpec {
    /// Only these layers, no branch.
    pub fn layers(layers: &[usize]) -> Self {
        Self { layers: layers.to_vec(), branch: None }
    }

    pub fn is_empty(&self) -> bool {
        self.layers.is_empty() && self.branch.is_none()
    }

    /// How many vectors of the encoder's width each text's features hold.
    pub fn vectors(&self) -> usize {
        self.layers.len() + usize::from(self.branch.is_some())
    }

    /// For messages: "layers [6, 9]", "a branch of layers 10..12", or both joined by "and".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.layers.is_empty() {
            parts.push(format!("layers {:?}", self.layers));
        }
        if let Some(b) = &self.branch {
            parts.push(format!("a branch of layers {}..{}", b.start_layer(), b.start_layer() + b.layers()));
        }
        parts.join(" and ")
    }

    /// Names these features in cache keys: the layers, and the branch by the sha256 of its file.
    pub fn cache_suffix(&self) -> String {
        let layers: Vec<String> = self.layers.iter().map(usize::to_string).collect();
        let mut out = format!("layers-{}", layers.join("-"));
        if let Some(b) = &self.branch {
            out.push_str(&format!("+branch-{}", &b.sha256[..16.min(b.sha256.len())]));
        }
        out
    }
}

/// A task's fine-tuned copy of an encoder's top layers, loaded for that encoder ([`Encoder::load_branch`]).
pub struct EncoderBranch {
    branch: bert::Branch,
    /// sha256 of the branch file: tells branches apart in caches.
    sha256: String,
}

impl EncoderBranch {
    /// The encoder layer whose output the branch starts from.
    pub fn start_layer(&self) -> usize {
        self.branch.start_layer()
    }

    /// Number of layers in the branch.
    pub fn layers(&self) -> usize {
        self.branch.layer_count()
    }
}

impl std::fmt::Debug for EncoderBranch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncoderBranch(layers {}..{})", self.start_layer(), self.start_layer() + self.layers())
    }
}

/// A loaded sentence encoder. `Send + Sync`: load once, share across threads (e.g. in an `Arc`).
pub struct Encoder {
    model: BertModel,
    tokenizer: Tokenizer,
    config: SentenceConfig,
    id: String,
    dim: usize,
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
    /// Load from any [`ModelSource`] (folder or hub id) with the default options; the id is kept for reports.
    pub fn load(source: &ModelSource) -> Result<Self> {
        Self::load_with(source, &EncoderOptions::default())
    }

    /// Load from any [`ModelSource`] with explicit options.
    pub fn load_with(source: &ModelSource, options: &EncoderOptions) -> Result<Self> {
        let dir = source.resolve_encoder_folder()?;
        let mut enc = Self::from_dir_with(&dir, options)?;
        enc.id = source.id();
        Ok(enc)
    }

    /// Load from a folder in Hugging Face layout with the default options.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        Self::from_dir_with(dir, &EncoderOptions::default())
    }

    /// Load from a folder in Hugging Face layout.
    pub fn from_dir_with(dir: &Path, options: &EncoderOptions) -> Result<Self> {
        let config_path = dir.join("config.json");
        let raw = std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
        let json: serde_json::Value =
            serde_json::from_str(&raw).map_err(|e| Error::model_load(&config_path, e))?;
        let dir_name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let mut config = SentenceConfig::read(dir, &dir_name, &json)?;
        let arch_config = bert::Config::from_json(&json, &config_path)?;
        let model_type = &arch_config.model_type;
        if bert::Family::of(model_type).is_none() {
            return Err(Error::model_load(
                &config_path,
                format!(
                    "model_type `{model_type}` is not a supported encoder (bert, xlm-roberta, distilbert)"
                ),
            ));
        }
        if options.precision == Precision::Q8 {
            single_threaded_int8();
        }
        let weights = dir.join("model.safetensors");
        let tok_path = dir.join("tokenizer.json");
        // Parsing a large tokenizer.json (17 MB for the multilingual vocabulary) takes as long as reading
        // the weights, so the two happen side by side.
        let (model, tokenizer) = rayon::join(
            || BertModel::load(&weights, &arch_config, &config_path, options.precision),
            || Tokenizer::from_file(&tok_path).map_err(|e| Error::model_load(&tok_path, e)),
        );
        let (model, mut tokenizer) = (model?, tokenizer?);
        config.max_tokens = config.max_tokens.min(model.max_tokens()).max(2);

        // We batch ourselves and truncate explicitly so that truncation can be reported.
        tokenizer.with_padding(None);
        tokenizer.with_truncation(None).map_err(|e| Error::model_load(&tok_path, e))?;
        let dim = model.hidden();
        Ok(Self { model, tokenizer, config, id: dir.display().to_string(), dim })
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

    /// Precision of the linear layers this encoder was loaded with.
    pub fn precision(&self) -> Precision {
        self.model.precision()
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
        Ok(self.encode_layers(texts, role, batch_size, &[])?.0)
    }

    /// Number of transformer layers (a layer index for [`Self::encode_layers`] is 0..=this).
    pub fn layers(&self) -> usize {
        self.model.layers()
    }

    /// [`Self::encode`] plus, from the same forward pass, one feature vector per text: for each layer in
    /// `layers` (0 = the embedding output, [`Self::layers`] = the last) the mean of its hidden states over
    /// the text's tokens, L2-normalised, concatenated in the order given (`layers.len() × dim` values).
    /// The embeddings are exactly those of [`Self::encode`]. Empty `layers`: empty feature vectors.
    pub fn encode_layers(
        &self,
        texts: &[&str],
        role: TextRole,
        batch_size: usize,
        layers: &[usize],
    ) -> Result<(Encoded, Vec<Vec<f32>>)> {
        self.encode_features(texts, role, batch_size, &FeatureSpec::layers(layers))
    }

    /// Loads a task branch (a fine-tuned copy of this encoder's top layers, as `copiloot train sentiment
    /// --branch N` writes it) in this encoder's precision.
    pub fn load_branch(&self, path: &Path) -> Result<EncoderBranch> {
        let branch = self.model.load_branch(path)?;
        let sha256 = crate::models::install::sha256_file(path)?;
        Ok(EncoderBranch { branch, sha256 })
    }

    /// [`Self::encode_layers`] for a [`FeatureSpec`]: the layers' features, then the branch's mean-pooled
    /// output, each L2-normalised. The branch runs from its starting layer's output in the same pass, so
    /// the embeddings and the layers' features are exactly those without it.
    pub fn encode_features(
        &self,
        texts: &[&str],
        role: TextRole,
        batch_size: usize,
        spec: &FeatureSpec,
    ) -> Result<(Encoded, Vec<Vec<f32>>)> {
        let layers = spec.layers.as_slice();
        if let Some(&bad) = layers.iter().find(|&&l| l > self.layers()) {
            return Err(Error::invalid(
                crate::error::Location::field("layers"),
                format!(
                    "layer {bad} was asked for but `{}` has {} layers; use layers 0..={} (0 = the embedding output)",
                    self.id,
                    self.layers(),
                    self.layers()
                ),
            ));
        }
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
        let mut features = vec![Vec::new(); ids.len()];
        // Threads: f32 matmuls split well inside gemm, so batches run one after another. The int8 kernels
        // run single-threaded (see `single_threaded_int8`), so batches run side by side instead, and are
        // cut small enough that every thread gets one; results do not depend on the cut (no padding,
        // per-row quantization).
        let int8 = self.precision() == Precision::Q8;
        let threads = rayon::current_num_threads().max(1);
        let size = if int8 { batch_size.min(ids.len().div_ceil(threads)) } else { batch_size };
        let chunks: Vec<&[usize]> = order.chunks(size.max(1)).collect();
        let run = |chunk: &&[usize]| {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
            self.forward_batch(&batch, spec)
        };
        let results: Vec<Result<Pooled>> = if int8 && chunks.len() > 1 {
            use rayon::prelude::*;
            chunks.par_iter().map(run).collect()
        } else {
            chunks.iter().map(run).collect()
        };
        for (chunk, pooled) in chunks.iter().zip(results) {
            let (vectors, layer_vectors) = pooled?;
            for ((&i, vector), feature) in chunk.iter().zip(vectors).zip(layer_vectors) {
                embeddings[i] = vector;
                features[i] = feature;
            }
        }
        Ok((Encoded { embeddings, token_counts, truncated }, features))
    }

    /// The sentence vectors of a batch and, per text, its concatenated features for `spec`.
    fn forward_batch(&self, batch: &[&[u32]], spec: &FeatureSpec) -> Result<Pooled> {
        let branch = spec.branch.as_deref().map(|b| &b.branch);
        let forward = self.model.forward_taps(batch, &spec.layers, branch)?;
        let lengths: Vec<usize> = batch.iter().map(|ids| ids.len()).collect();
        let stride = self.model.hidden();
        let vectors = pool(&forward.last, stride, self.dim, &lengths, self.config.pooling);
        let mut features: Vec<Vec<f32>> = vec![Vec::with_capacity(spec.vectors() * self.dim); batch.len()];
        let branched = branch.map(|_| &forward.branch);
        for states in forward.taps.iter().chain(branched) {
            for (f, v) in features.iter_mut().zip(pool(states, stride, self.dim, &lengths, Pooling::Mean)) {
                f.extend(v);
            }
        }
        Ok((vectors, features))
    }
}

/// Per text of a batch: its sentence vector, and its concatenated per-layer means.
type Pooled = (Vec<Vec<f32>>, Vec<Vec<f32>>);

/// Make candle's int8 matmuls run on the calling thread (`CANDLE_NUM_THREADS=1`, read once when its
/// thread pool starts), unless the user chose otherwise. Its pool synchronises through spinning barriers,
/// which collapse when the cores are shared (measured on 2 busy cores: 26 → 59 texts/s at batch 32,
/// 4 → 104 at batch 1); parallelism across texts (rayon) replaces it. f32 matmuls are not affected.
fn single_threaded_int8() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
            std::env::set_var("CANDLE_NUM_THREADS", "1");
        }
    });
}

/// One L2-normalised vector per sequence from the unpadded hidden rows (`stride` values per row, the
/// first `dim` used); sequences follow one another.
fn pool(hidden: &[f32], stride: usize, dim: usize, lengths: &[usize], pooling: Pooling) -> Vec<Vec<f32>> {
    let mut out = Vec::with_capacity(lengths.len());
    let mut rows = hidden.chunks_exact(stride.max(1)).map(|r| r.get(..dim).unwrap_or(r));
    for &len in lengths {
        let mut v = vec![0f32; dim];
        let seq = rows.by_ref().take(len);
        match pooling {
            Pooling::Cls => {
                let mut seq = seq;
                if let Some(first) = seq.next() {
                    v.copy_from_slice(first);
                }
                seq.for_each(drop);
            }
            Pooling::Mean => {
                for r in seq {
                    v.iter_mut().zip(r).for_each(|(a, x)| *a += x);
                }
                let n = len.max(1) as f32;
                v.iter_mut().for_each(|a| *a /= n);
            }
            Pooling::Max => {
                v.fill(f32::NEG_INFINITY);
                for r in seq {
                    v.iter_mut().zip(r).for_each(|(a, x)| *a = a.max(*x));
                }
                if len == 0 {
                    v.fill(0.0);
                }
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        v.iter_mut().for_each(|x| *x /= norm);
        out.push(v);
    }
    out
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
    fn pooling_over_unpadded_rows() {
        // Two sequences (2 rows, 1 row) of dim 2 stored in rows of 3.
        let hidden = [3.0, 0.0, 9.0, 1.0, 0.0, 9.0, 0.0, 5.0, 9.0];
        let mean = pool(&hidden, 3, 2, &[2, 1], Pooling::Mean);
        assert_eq!(mean, vec![vec![1.0, 0.0], vec![0.0, 1.0]]);
        let cls = pool(&hidden, 3, 2, &[2, 1], Pooling::Cls);
        assert_eq!(cls, vec![vec![1.0, 0.0], vec![0.0, 1.0]]);
    }

    #[test]
    fn encoder_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Encoder>();
    }
}
