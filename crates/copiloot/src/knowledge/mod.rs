//! The knowledge assistant: a company's own articles, cut into passages, embedded once and kept in an
//! on-disk index ([`KnowledgeBase`]), and searched with what the conversation says so far ([`search`]).
//!
//! Flow: [`sources`] reads a folder or JSONL file into articles → [`passages`] cuts them along headings
//! → the encoder embeds each passage (passage role) and [`lexical`] indexes its stemmed terms →
//! [`store`] writes one file. Re-indexing reuses the vectors of articles whose text did not change.

pub mod lexical;
pub mod passages;
pub mod search;
pub mod sources;
mod store;

pub use search::{
    Highlight, KnowledgeQuery, QueryTurn, Retriever, SearchOptions, Suggestion, DEFAULT_INTENT_WEIGHT,
};
pub use sources::MAX_ARTICLE_BYTES;
pub use store::FORMAT_VERSION;

use crate::error::{Error, Result};
use crate::models::{Encoder, TextRole};
use lexical::LexicalIndex;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use store::{ArticleEntry, EncoderStamp, Manifest, PassageEntry, Stored};

/// Passages encoded per encoder call while indexing (progress is reported after each).
const INDEX_BATCH: usize = 64;

/// A searchable index of a company's articles. Load once and share (`Send + Sync`).
#[derive(Debug, Clone)]
pub struct KnowledgeBase {
    stored: Stored,
    /// Languages whose stemmers made the terms; a query is stemmed for each.
    languages: Vec<String>,
    path: Option<PathBuf>,
}

/// What [`KnowledgeBase::index`] did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct IndexReport {
    pub articles: usize,
    pub passages: usize,
    /// Passages of new or changed articles (given vectors now; identical texts are encoded once).
    pub embedded: usize,
    /// Passages whose vectors came from the previous index (unchanged articles).
    pub reused: usize,
    /// Articles of the previous index that are no longer in the source.
    pub removed: usize,
    /// Files skipped (not UTF-8, binary, too large) and other things to know.
    pub warnings: Vec<String>,
}

impl KnowledgeBase {
    /// Reads the articles of `source`, embeds what changed since the index at `out` (if there is a
    /// compatible one) and writes the new index to `out` atomically. `progress(done, total)` follows
    /// the passages being embedded.
    pub fn index(
        source: &Path,
        out: &Path,
        encoder: &Encoder,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<(KnowledgeBase, IndexReport)> {
        let mut warnings = Vec::new();
        let previous = if out.exists() {
            match KnowledgeBase::load(out).and_then(|kb| kb.check_encoder(encoder).map(|()| kb)) {
                Ok(kb) => Some(kb),
                Err(e) => {
                    warnings.push(format!("the existing index is rebuilt from scratch: {e}"));
                    None
                }
            }
        } else {
            None
        };
        let (kb, mut report) = Self::build(source, encoder, previous.as_ref(), progress)?;
        kb.save(out)?;
        warnings.append(&mut report.warnings);
        report.warnings = warnings;
        Ok((KnowledgeBase { path: Some(out.to_path_buf()), ..kb }, report))
    }

    /// Builds an index in memory, reusing the vectors of `previous` for unchanged articles.
    pub fn build(
        source: &Path,
        encoder: &Encoder,
        previous: Option<&KnowledgeBase>,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<(KnowledgeBase, IndexReport)> {
        let read = sources::read_articles(source)?;
        let dim = encoder.dim();
        let old: HashMap<&str, &ArticleEntry> = previous
            .map(|kb| kb.stored.manifest.articles.iter().map(|a| (a.id.as_str(), a)).collect())
            .unwrap_or_default();

        let mut articles = Vec::new();
        let mut passages = Vec::new();
        let mut vectors: Vec<Option<(Vec<i8>, f32)>> = Vec::new();
        let mut report = IndexReport { warnings: read.warnings, ..Default::default() };
        for article in &read.articles {
            let pieces = passages::split_article(article);
            let hash = article_hash(article);
            let language = article_language(article);
            let first = passages.len() as u32;
            let reuse = old.get(article.id.as_str()).filter(|a| a.hash == hash).zip(previous);
            for (i, piece) in pieces.into_iter().enumerate() {
                vectors.push(reuse.map(|(a, kb)| kb.stored_vector(a.first_passage as usize + i)));
                passages.push(PassageEntry {
                    article: articles.len() as u32,
                    heading: piece.heading,
                    text: piece.text,
                });
            }
            articles.push(ArticleEntry {
                id: article.id.clone(),
                title: article.title.clone(),
                url: article.url.clone(),
                source: article.source.clone(),
                language,
                intents: article.intents.clone(),
                hash,
                first_passage: first,
                passage_count: passages.len() as u32 - first,
            });
        }
        report.removed = old.keys().filter(|id| !articles.iter().any(|a| a.id == **id)).count();

        // Embed the passages without a kept vector; a text that occurs more than once (a "contact us"
        // section under every article) is embedded once.
        let mut first_of: HashMap<String, usize> = HashMap::new();
        let mut copies: Vec<(usize, usize)> = Vec::new();
        let mut todo: Vec<(usize, String)> = Vec::new();
        for i in (0..passages.len()).filter(|i| vectors[*i].is_none()) {
            let text = passage_document(&articles[passages[i].article as usize], &passages[i]);
            match first_of.get(&text) {
                Some(first) => copies.push((i, *first)),
                None => {
                    first_of.insert(text.clone(), i);
                    todo.push((i, text));
                }
            }
        }
        progress(0, todo.len());
        for (batch_no, batch) in todo.chunks(INDEX_BATCH).enumerate() {
            let refs: Vec<&str> = batch.iter().map(|(_, t)| t.as_str()).collect();
            let embedded = encoder.embed_with(&refs, TextRole::Passage, INDEX_BATCH)?;
            for ((i, _), v) in batch.iter().zip(embedded) {
                vectors[*i] = Some(quantize(&v));
            }
            progress(batch_no * INDEX_BATCH + batch.len(), todo.len());
        }
        for (i, first) in &copies {
            vectors[*i] = vectors[*first].clone();
        }
        report.embedded = todo.len() + copies.len();
        report.reused = passages.len() - report.embedded;

        let mut flat = Vec::with_capacity(passages.len() * dim);
        let mut scales = Vec::with_capacity(passages.len());
        for v in vectors {
            let (q, s) = v.ok_or_else(|| Error::Inference("a passage was left without a vector".into()))?;
            if q.len() != dim {
                return Err(Error::Inference(format!("passage vector of width {}, expected {dim}", q.len())));
            }
            flat.extend(q);
            scales.push(s);
        }
        let docs: Vec<Vec<String>> = passages
            .iter()
            .map(|p| {
                let a = &articles[p.article as usize];
                lexical::terms(&passage_document(a, p), &a.language)
            })
            .collect();
        let lexical = LexicalIndex::build(&docs);
        report.articles = articles.len();
        report.passages = passages.len();
        let manifest = Manifest {
            encoder: EncoderStamp { id: encoder.model_id().to_string(), dim },
            articles,
            passages,
            terms: Vec::new(),
            postings: 0,
        };
        let stored = Stored { manifest, vectors: flat, scales, lexical };
        Ok((KnowledgeBase::from_stored(stored, None), report))
    }

    /// Loads an index written by [`KnowledgeBase::index`] or [`KnowledgeBase::save`].
    pub fn load(path: &Path) -> Result<KnowledgeBase> {
        Ok(KnowledgeBase::from_stored(store::load(path)?, Some(path.to_path_buf())))
    }

    /// Writes the index to `path` (atomically: a temporary file renamed into place).
    pub fn save(&self, path: &Path) -> Result<()> {
        store::save(&self.stored, path)
    }

    fn from_stored(stored: Stored, path: Option<PathBuf>) -> KnowledgeBase {
        let mut languages: Vec<String> =
            stored.manifest.articles.iter().map(|a| a.language.clone()).collect();
        languages.sort();
        languages.dedup();
        KnowledgeBase { stored, languages, path }
    }

    /// Errors unless `encoder` is the one the passages were embedded with.
    pub fn check_encoder(&self, encoder: &Encoder) -> Result<()> {
        let stamp = &self.stored.manifest.encoder;
        if stamp.id != encoder.model_id() || stamp.dim != encoder.dim() {
            return Err(Error::Config(format!(
                "the knowledge base{} was built with encoder `{}` ({} dims) but this copilot runs `{}` ({} dims); \
                 rebuild it with `copiloot kb index` or use the same encoder",
                self.path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default(),
                stamp.id,
                stamp.dim,
                encoder.model_id(),
                encoder.dim()
            )));
        }
        Ok(())
    }

    pub fn encoder_id(&self) -> &str {
        &self.stored.manifest.encoder.id
    }
    pub fn article_count(&self) -> usize {
        self.stored.manifest.articles.len()
    }
    pub fn passage_count(&self) -> usize {
        self.stored.manifest.passages.len()
    }
    /// The ids of every article.
    pub fn article_ids(&self) -> std::collections::HashSet<&str> {
        self.stored.manifest.articles.iter().map(|a| a.id.as_str()).collect()
    }
    /// Where it was loaded from or saved to by `index`.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether any article is tagged with intents (only then do a query's intents matter).
    pub fn has_intents(&self) -> bool {
        self.stored.manifest.articles.iter().any(|a| !a.intents.is_empty())
    }

    fn stored_vector(&self, passage: usize) -> (Vec<i8>, f32) {
        let dim = self.stored.manifest.encoder.dim;
        (self.stored.vectors[passage * dim..(passage + 1) * dim].to_vec(), self.stored.scales[passage])
    }
}

/// The text a passage is embedded and indexed as: its article title and headings, then its text, so
/// "Opzegtermijn" under "Abonnement opzeggen" is found by a question about cancelling.
fn passage_document(article: &ArticleEntry, passage: &PassageEntry) -> String {
    let mut head = vec![article.title.as_str()];
    head.extend(passage.heading.iter().map(String::as_str));
    head.retain(|h| !h.is_empty());
    if head.is_empty() {
        passage.text.clone()
    } else {
        format!("{}\n{}", head.join(" › "), passage.text)
    }
}

fn article_hash(article: &sources::Article) -> String {
    let mut h = Sha256::new();
    for part in [article.title.as_str(), article.url.as_deref().unwrap_or(""), article.text.as_str()] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.update((passages::MAX_PASSAGE_WORDS as u64).to_le_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// `nl` or `en` when the article is clearly in one of them (its terms are stemmed for it), else `und`.
fn article_language(article: &sources::Article) -> String {
    let sample: String = format!("{}\n{}", article.title, article.text).chars().take(2000).collect();
    crate::conversation::detect_language(&sample)
        .map(|g| g.code)
        .filter(|c| lexical::STEMMED_LANGUAGES.contains(&c.as_str()))
        .unwrap_or_else(|| "und".to_string())
}

/// Symmetric int8 with one scale per vector: a quarter of f32's memory, and the scan stays exact
/// enough to rank (cosines change by about 1e-3).
fn quantize(v: &[f32]) -> (Vec<i8>, f32) {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    (v.iter().map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8).collect(), scale)
}
