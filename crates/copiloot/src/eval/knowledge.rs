//! Retrieval scores for the knowledge assistant: recall@1/5/10 and MRR@10 over queries with gold article
//! ids, for the full retriever and its two halves (the baselines), from one encoding of the queries.

use crate::conversation::{speaker_from_name, ParseOptions, Speaker};
use crate::error::{Error, Location, Result};
use crate::knowledge::{KnowledgeBase, KnowledgeQuery, QueryTurn, Retriever, SearchOptions};
use crate::models::{Encoder, TextRole};
use crate::tasks::intent::IntentModel;
use crate::tasks::knowledge::tag_intents;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Ranks looked at: MRR and the deepest recall use the top 10 articles.
pub const DEPTH: usize = 10;

/// One evaluation query: `text`, or `turns` whose last customer turn is the question.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledQuery {
    pub id: String,
    pub query: KnowledgeQuery,
    pub gold_ids: Vec<String>,
}

/// Reads queries JSONL: `{id, text | turns: [{speaker, text}], gold_ids}`.
pub fn read_queries(path: &Path) -> Result<Vec<LabelledQuery>> {
    #[derive(Deserialize)]
    struct RawTurn {
        speaker: String,
        text: String,
    }
    #[derive(Deserialize)]
    struct Raw {
        #[serde(default)]
        id: Option<serde_json::Value>,
        #[serde(default)]
        text: Option<String>,
        #[serde(default)]
        turns: Option<Vec<RawTurn>>,
        gold_ids: Vec<serde_json::Value>,
    }
    let content = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in content.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || Location::line(i + 1).with_source(path.display().to_string());
        let raw: Raw = serde_json::from_str(line).map_err(|e| Error::invalid(at(), e.to_string()))?;
        let query = match (raw.text, raw.turns) {
            (Some(text), None) => KnowledgeQuery::text(text),
            (None, Some(turns)) => {
                let mut out = Vec::new();
                for t in turns {
                    let speaker =
                        speaker_from_name(&t.speaker, &ParseOptions::default()).ok_or_else(|| {
                            Error::invalid(
                                at().with_field("speaker"),
                                format!("unknown speaker `{}`", t.speaker),
                            )
                        })?;
                    out.push(QueryTurn::new(speaker == Speaker::Customer, t.text));
                }
                KnowledgeQuery { turns: out }
            }
            _ => return Err(Error::invalid(at(), "give either `text` or `turns`")),
        };
        query.question().map_err(|e| Error::invalid(at().with_field("turns"), e.to_string()))?;
        let gold_ids: Vec<String> = raw.gold_ids.iter().map(id_string).collect();
        if gold_ids.is_empty() {
            return Err(Error::invalid(at().with_field("gold_ids"), "at least one gold id is needed"));
        }
        let id = raw.id.as_ref().map(id_string).unwrap_or_else(|| format!("line-{}", i + 1));
        out.push(LabelledQuery { id, query, gold_ids });
    }
    if out.is_empty() {
        return Err(Error::invalid(
            Location::default().with_source(path.display().to_string()),
            "no queries",
        ));
    }
    Ok(out)
}

fn id_string(v: &serde_json::Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// Scores of one retriever.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RetrievalScores {
    pub retriever: Retriever,
    pub queries: usize,
    pub recall_at_1: f64,
    pub recall_at_5: f64,
    pub recall_at_10: f64,
    pub mrr_at_10: f64,
}

/// One query's outcome under one retriever.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct QueryResult {
    pub id: String,
    pub retriever: Retriever,
    pub gold_ids: Vec<String>,
    /// The top articles, best first.
    pub ranked: Vec<String>,
    pub scores: Vec<f32>,
    /// 1-based rank of the first gold article within the top 10.
    pub rank: Option<usize>,
}

/// The whole evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct KnowledgeReport {
    pub scores: Vec<RetrievalScores>,
    pub per_query: Vec<QueryResult>,
    /// Gold ids that are not in the knowledge base (their queries can never be answered).
    pub missing_gold: Vec<String>,
}

/// Scores `retrievers` on `queries` with `options` (its `intent_weight`; depth and threshold are the
/// evaluation's own). The turns the retrievers read are encoded once and shared by all of them; with an
/// intent model and a knowledge base tagged with intents, the customer turns get their intents first.
pub fn evaluate(
    kb: &KnowledgeBase,
    encoder: &Encoder,
    queries: &[LabelledQuery],
    retrievers: &[Retriever],
    options: &SearchOptions,
    intents: Option<&IntentModel>,
    batch_size: usize,
) -> Result<KnowledgeReport> {
    kb.check_encoder(encoder)?;
    let contexts: Vec<KnowledgeQuery> = queries.iter().map(|q| q.query.context()).collect::<Result<_>>()?;
    let mut texts: Vec<&str> = Vec::new();
    for q in &contexts {
        texts.extend(q.turns.iter().map(|t| t.text.as_str()));
    }
    let mut vectors = encoder.embed_with(&texts, TextRole::Query, batch_size.max(1))?.into_iter();
    let per_query_vectors: Vec<Vec<Vec<f32>>> =
        contexts.iter().map(|q| vectors.by_ref().take(q.turns.len()).collect()).collect();
    let mut contexts = contexts;
    if let Some(model) = intents.filter(|_| kb.has_intents()) {
        for (q, v) in contexts.iter_mut().zip(&per_query_vectors) {
            tag_intents(q, v, model, encoder)?;
        }
    }

    let mut report = KnowledgeReport { scores: Vec::new(), per_query: Vec::new(), missing_gold: Vec::new() };
    let known = kb.article_ids();
    for q in queries {
        for g in &q.gold_ids {
            if !known.contains(g.as_str()) && !report.missing_gold.contains(g) {
                report.missing_gold.push(g.clone());
            }
        }
    }
    for retriever in retrievers {
        let options =
            SearchOptions { top_k: DEPTH, min_score: f32::NEG_INFINITY, retriever: *retriever, ..*options };
        let (mut r1, mut r5, mut r10, mut mrr) = (0.0, 0.0, 0.0, 0.0);
        for ((q, context), vectors) in queries.iter().zip(&contexts).zip(&per_query_vectors) {
            let found = kb.search_embedded(context, vectors, &options)?;
            let ranked: Vec<String> = found.iter().map(|s| s.article_id.clone()).collect();
            let recall = |k: usize| {
                let hits = q.gold_ids.iter().filter(|g| ranked.iter().take(k).any(|r| r == *g)).count();
                hits as f64 / q.gold_ids.len() as f64
            };
            r1 += recall(1);
            r5 += recall(5);
            r10 += recall(10);
            let rank = ranked.iter().position(|r| q.gold_ids.contains(r)).map(|p| p + 1);
            mrr += rank.map_or(0.0, |r| 1.0 / r as f64);
            report.per_query.push(QueryResult {
                id: q.id.clone(),
                retriever: *retriever,
                gold_ids: q.gold_ids.clone(),
                scores: found.iter().map(|s| s.score).collect(),
                ranked,
                rank,
            });
        }
        let n = queries.len() as f64;
        report.scores.push(RetrievalScores {
            retriever: *retriever,
            queries: queries.len(),
            recall_at_1: r1 / n,
            recall_at_5: r5 / n,
            recall_at_10: r10 / n,
            mrr_at_10: mrr / n,
        });
    }
    Ok(report)
}
