//! Retrieval that reads the conversation: the last customer turn is the question, the turns before it
//! say what it is about ("and how long does that take?"). Dense: the turns' query vectors, recent ones
//! weighing more, against the int8 passage vectors. Lexical: BM25 over the same turns' stemmed terms.
//! The two are fused into one score, plus a bonus for articles tagged with an intent the turns show
//! (the intent task's per-turn predictions); the passage's best-matching sentence is highlighted.

use super::lexical;
use super::passages::sentence_spans;
use super::KnowledgeBase;
use crate::error::{Error, Location, Result};
use crate::models::{Encoder, TextRole};
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Weight of the lexical score (BM25 relative to the query's best passage) added to the cosine. This and
/// the turn weights below were chosen on the MTRAG, StackFAQ and Dutch fixture sets (README, "Knowledge
/// assistant"): there is no held-out set, so treat them as defaults to re-check on your own queries.
const LEXICAL_WEIGHT: f32 = 0.04;
/// Weights of earlier turns, per step back from the question, in the dense query and the BM25 terms.
const EARLIER_CUSTOMER: [f32; 2] = [0.3, 0.15];
const EARLIER_AGENT: f32 = 0.15;
/// Bonus for an article tagged with the question's intent (earlier customer turns' intents count with
/// their turn weight). Small next to the cosine spread of a good match, so it decides between close
/// candidates ("how much does that cost?" after "I want to cancel") rather than overruling the text.
pub const DEFAULT_INTENT_WEIGHT: f32 = 0.01;
/// The intent id that means "no intent fits"; never matched against tags.
const NO_INTENT: &str = "other";
/// The default threshold of the fused score, for the default encoder (multilingual-e5-small, whose
/// cosines are compressed: off-topic questions score 0.80–0.88, answerable ones 0.86–0.95). It keeps 96 %
/// of the Dutch fixture's questions and drops greetings and thanks; another encoder needs its own value.
pub const DEFAULT_MIN_SCORE: f32 = 0.88;

/// One turn of a query: who said it and what (and, when known, its intent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QueryTurn {
    /// `true` for the customer (the one asking).
    pub customer: bool,
    pub text: String,
    /// The turn's intent id (as the intent task predicts it), matched against the articles' `intents`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
}

impl QueryTurn {
    pub fn new(customer: bool, text: impl Into<String>) -> Self {
        QueryTurn { customer, text: text.into(), intent: None }
    }
}

/// What to search with: the conversation so far (its last customer turn is the question).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KnowledgeQuery {
    pub turns: Vec<QueryTurn>,
}

impl KnowledgeQuery {
    /// A single question.
    pub fn text(question: impl Into<String>) -> Self {
        KnowledgeQuery { turns: vec![QueryTurn::new(true, question)] }
    }

    /// The position of the question (the last customer turn), or a typed error when there is none.
    pub fn question(&self) -> Result<usize> {
        self.turns.iter().rposition(|t| t.customer && !t.text.trim().is_empty()).ok_or_else(|| {
            Error::invalid(Location::field("turns"), "the query has no customer turn to answer")
        })
    }

    /// The same query cut to the turns the retriever reads (the question last): what needs encoding.
    pub fn context(&self) -> Result<KnowledgeQuery> {
        let question = self.question()?;
        let turns = context_positions(&self.turns, question).into_iter().map(|i| self.turns[i].clone());
        Ok(KnowledgeQuery { turns: turns.collect() })
    }
}

/// Positions of the turns the hybrid retriever reads for the question at `question`, in order (the
/// question last). A query cut to these turns scores exactly as the whole one.
pub fn context_positions(turns: &[QueryTurn], question: usize) -> Vec<usize> {
    let mut positions: Vec<usize> =
        turn_weights(turns, question, Retriever::Hybrid).into_iter().map(|(i, _)| i).collect();
    positions.sort_unstable();
    positions
}

/// How the passages are scored: the full retriever, or one half alone (the baselines in `eval knowledge`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Retriever {
    /// Dense and BM25 over the conversation, fused.
    #[default]
    Hybrid,
    /// BM25 on the last customer turn only.
    Lexical,
    /// Cosine of the last customer turn's vector only.
    Dense,
}

/// Search settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SearchOptions {
    /// Articles returned at most (each with its best passage).
    pub top_k: usize,
    /// Suggestions scoring below this are left out, so the assistant stays quiet when nothing fits.
    pub min_score: f32,
    pub retriever: Retriever,
    /// Bonus for articles tagged with an intent the query's turns show (hybrid only; 0 turns it off).
    #[serde(default = "default_intent_weight")]
    pub intent_weight: f32,
}

fn default_intent_weight() -> f32 {
    DEFAULT_INTENT_WEIGHT
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            top_k: 3,
            min_score: DEFAULT_MIN_SCORE,
            retriever: Retriever::Hybrid,
            intent_weight: DEFAULT_INTENT_WEIGHT,
        }
    }
}

/// The passage of an article that answers the question, with its best sentence marked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Suggestion {
    pub article_id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The passage's section headings, top down.
    pub heading: Vec<String>,
    pub passage: String,
    pub highlight: Highlight,
    /// The fused score the threshold applies to (cosine plus a share of the relative BM25 score).
    pub score: f32,
    /// Cosine of the question and the passage (with earlier turns: the weighted mean of their cosines).
    pub dense: f32,
    /// BM25 relative to the best passage for this query (0–1).
    pub lexical: f32,
    /// The intent the article is tagged with that the conversation showed (it added to `score`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// The turn that asked (index in the conversation); set when suggestions come from an analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<usize>,
}

/// The sentence of the passage that matches the question best, as byte offsets into `passage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Highlight {
    pub start: usize,
    pub end: usize,
    pub sentence: String,
}

impl KnowledgeBase {
    /// Encodes the turns the retriever reads and searches.
    pub fn search(
        &self,
        encoder: &Encoder,
        query: &KnowledgeQuery,
        options: &SearchOptions,
    ) -> Result<Vec<Suggestion>> {
        self.check_encoder(encoder)?;
        let query = query.context()?;
        let texts: Vec<&str> = query.turns.iter().map(|t| t.text.as_str()).collect();
        let vectors = encoder.embed_with(&texts, TextRole::Query, texts.len().max(1))?;
        self.search_embedded(&query, &vectors, options)
    }

    /// Searches with the turns' query-role vectors already at hand (one per turn up to the question, as
    /// an analysis has them).
    pub fn search_embedded(
        &self,
        query: &KnowledgeQuery,
        vectors: &[Vec<f32>],
        options: &SearchOptions,
    ) -> Result<Vec<Suggestion>> {
        let question = query.question()?;
        if vectors.len() <= question {
            return Err(Error::invalid(
                Location::field("turns"),
                "one vector per turn up to the question is needed",
            ));
        }
        let weights = turn_weights(&query.turns, question, options.retriever);
        let n = self.passage_count();
        let dense = if options.retriever == Retriever::Lexical {
            vec![0.0; n]
        } else {
            let dim = self.stored.manifest.encoder.dim;
            let mut q = vec![0f32; dim];
            for (i, w) in &weights {
                let v = vectors.get(*i).filter(|v| v.len() == dim).ok_or_else(|| {
                    Error::Config(format!(
                        "a query vector is not {dim} wide: the knowledge base needs its own encoder"
                    ))
                })?;
                q.iter_mut().zip(v).for_each(|(a, b)| *a += w * b);
            }
            let total: f32 = weights.iter().map(|(_, w)| w).sum();
            self.cosines(&q, total)
        };
        let lexical = if options.retriever == Retriever::Dense {
            vec![0.0; n]
        } else {
            let texts: Vec<(&str, f32)> =
                weights.iter().map(|(i, w)| (query.turns[*i].text.as_str(), *w)).collect();
            let terms = lexical::weighted_terms(&texts, &self.languages);
            let mut s = self.stored.lexical.scores(&terms);
            let max = s.iter().fold(0f32, |m, x| m.max(*x));
            if max > 0.0 {
                s.iter_mut().for_each(|x| *x /= max);
            }
            s
        };
        let intents = if options.retriever == Retriever::Hybrid && options.intent_weight != 0.0 {
            self.intent_bonus(query, &weights)
        } else {
            Vec::new()
        };
        let bonus = |p: usize| {
            let article = self.stored.manifest.passages[p].article as usize;
            intents.get(article).and_then(|b| b.as_ref()).map_or(0.0, |(w, _)| options.intent_weight * w)
        };
        let fused: Vec<f32> = match options.retriever {
            Retriever::Hybrid => (0..n).map(|p| dense[p] + LEXICAL_WEIGHT * lexical[p] + bonus(p)).collect(),
            Retriever::Dense => dense.clone(),
            Retriever::Lexical => lexical.clone(),
        };
        let question_terms =
            lexical::weighted_terms(&[(query.turns[question].text.as_str(), 1.0)], &self.languages);
        Ok(self
            .best_per_article(&fused, options.top_k)
            .into_iter()
            .filter(|p| fused[*p] >= options.min_score)
            .map(|p| {
                let mut s = self.suggestion(p, fused[p], dense[p], lexical[p], &question_terms);
                let article = self.stored.manifest.passages[p].article as usize;
                s.intent = intents.get(article).and_then(|b| b.as_ref()).map(|(_, i)| i.clone());
                s
            })
            .collect())
    }

    /// Per article: the weight of the strongest query turn whose intent the article is tagged with, and
    /// that intent. Empty when no article is tagged or no turn has an intent.
    fn intent_bonus(&self, query: &KnowledgeQuery, weights: &[(usize, f32)]) -> Vec<Option<(f32, String)>> {
        let shown: Vec<(&str, f32)> = weights
            .iter()
            .filter_map(|(i, w)| query.turns[*i].intent.as_deref().map(|x| (x, *w)))
            .filter(|(x, _)| *x != NO_INTENT)
            .collect();
        if shown.is_empty() || !self.has_intents() {
            return Vec::new();
        }
        self.stored
            .manifest
            .articles
            .iter()
            .map(|a| {
                shown
                    .iter()
                    .filter(|(x, _)| a.intents.iter().any(|t| t == x))
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|(x, w)| (*w, x.to_string()))
            })
            .collect()
    }

    /// `q · p / total` for every passage `p`, from the int8 vectors. With `q` a weighted sum of unit
    /// vectors and `total` the sum of the weights, this is the weighted mean of the turns' cosines: it
    /// ranks exactly as the cosine of the summed vector, but stays on the scale of one turn's cosine, so
    /// one threshold serves a single question and a conversation alike.
    fn cosines(&self, q: &[f32], total: f32) -> Vec<f32> {
        let dim = q.len();
        let max = q.iter().fold(0f32, |m, x| m.max(x.abs()));
        if total <= 0.0 || max == 0.0 {
            return vec![0.0; self.passage_count()];
        }
        let q_scale = max / 127.0;
        let q8: Vec<i8> = q.iter().map(|x| (x / q_scale).round() as i8).collect();
        let factor = q_scale / total;
        self.stored
            .vectors
            .par_chunks(dim)
            .zip(self.stored.scales.par_iter())
            .map(|(v, s)| dot_i8(&q8, v) as f32 * s * factor)
            .collect()
    }

    /// Passage indices of the `k` best articles (each by its best passage), best first.
    fn best_per_article(&self, scores: &[f32], k: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        // Not `clamp`: it panics when the index holds fewer than 50 passages.
        let pool = k.saturating_mul(20).max(50).min(order.len());
        if pool < order.len() {
            order.select_nth_unstable_by(pool, |a, b| scores[*b].total_cmp(&scores[*a]));
            order.truncate(pool);
        }
        order.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b)));
        let passages = &self.stored.manifest.passages;
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<usize> =
            order.into_iter().filter(|p| seen.insert(passages[*p].article)).take(k).collect();
        if out.len() < k && seen.len() < self.article_count() && scores.len() > pool {
            // Rare: the pool held fewer than k articles; rank every article by its best passage.
            let mut best: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
            for (p, passage) in passages.iter().enumerate() {
                let e = best.entry(passage.article).or_insert(p);
                if scores[p] > scores[*e] {
                    *e = p;
                }
            }
            out = best.into_values().collect();
            out.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b)));
            out.truncate(k);
        }
        out
    }

    fn suggestion(
        &self,
        p: usize,
        score: f32,
        dense: f32,
        lexical: f32,
        terms: &[(String, f32)],
    ) -> Suggestion {
        let passage = &self.stored.manifest.passages[p];
        let article = &self.stored.manifest.articles[passage.article as usize];
        Suggestion {
            article_id: article.id.clone(),
            title: article.title.clone(),
            url: article.url.clone(),
            heading: passage.heading.clone(),
            passage: passage.text.clone(),
            highlight: self.highlight(&passage.text, terms),
            score,
            dense,
            lexical,
            intent: None,
            turn: None,
        }
    }

    /// The sentence holding the most (idf-weighted) question terms; the first sentence when none does.
    fn highlight(&self, text: &str, terms: &[(String, f32)]) -> Highlight {
        let spans = sentence_spans(text);
        let mut best = (0f32, spans.first().copied().unwrap_or((0, text.len())));
        for (start, end) in &spans {
            let sentence_terms: std::collections::HashSet<String> =
                self.languages.iter().flat_map(|l| lexical::terms(&text[*start..*end], l)).collect();
            let score: f32 = terms
                .iter()
                .filter(|(t, _)| sentence_terms.contains(t))
                .map(|(t, w)| w * self.stored.lexical.idf(t).unwrap_or(0.0))
                .sum();
            if score > best.0 {
                best = (score, (*start, *end));
            }
        }
        let (start, end) = best.1;
        Highlight { start, end, sentence: text[start..end].to_string() }
    }
}

/// The turns that make up the query, with weights: the question 1.0; for the hybrid retriever also the
/// customer turns before it (fading) and the agent turn right before it.
fn turn_weights(turns: &[QueryTurn], question: usize, retriever: Retriever) -> Vec<(usize, f32)> {
    let mut out = vec![(question, 1.0)];
    if retriever != Retriever::Hybrid {
        return out;
    }
    let mut customers = 0;
    for i in (0..question).rev() {
        let turn = &turns[i];
        if turn.text.trim().is_empty() {
            continue;
        }
        if turn.customer {
            let Some(w) = EARLIER_CUSTOMER.get(customers) else { break };
            out.push((i, *w));
            customers += 1;
        } else if i + 1 == question {
            out.push((i, EARLIER_AGENT));
        }
    }
    out
}

crate::models::kernels::simd::wide_fn! {
    /// Integer dot product of two int8 vectors (exact; the compiler vectorises it).
    fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
        a.iter().zip(b).map(|(x, y)| *x as i32 * *y as i32).sum()
    }
}
