//! The knowledge task: at every customer turn, the company's articles that answer what the customer
//! asks, read with the turns before it and their intents ([`crate::knowledge`]). Runs after the intent
//! task, and only when a knowledge base is configured ([`crate::Copilot::with_knowledge`]).

use super::intent::{IntentModel, IntentOptions};
use super::pipeline::{ConversationTask, TaskContext};
use super::TextEmbedder;
use crate::analysis::Analysis;
use crate::conversation::Speaker;
use crate::error::{Error, Location, Result};
use crate::knowledge::search::context_positions;
use crate::knowledge::{KnowledgeBase, KnowledgeQuery, QueryTurn, SearchOptions, Suggestion};
use crate::models::{Encoder, TextRole};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub struct KnowledgeTask {
    pub kb: Arc<KnowledgeBase>,
    pub options: SearchOptions,
}

impl ConversationTask for KnowledgeTask {
    fn name(&self) -> &'static str {
        "knowledge"
    }

    fn run(&self, context: &mut TaskContext<'_>, analysis: &mut Analysis) -> Result<()> {
        let conversation = context.conversation;
        // The intent task ran before: its per-turn predictions (by turn index) go with the turns.
        let intents: HashMap<usize, &str> =
            analysis.intents.iter().flat_map(|c| &c.turns).map(|t| (t.turn, t.intent.as_str())).collect();
        let turns: Vec<QueryTurn> = conversation
            .turns
            .iter()
            .map(|t| QueryTurn {
                customer: t.speaker == Speaker::Customer,
                text: t.text.clone(),
                intent: intents.get(&t.index).map(|i| i.to_string()),
            })
            .collect();
        let embeddings = context.embeddings;
        // A turn's suggestions depend on the turns up to it only, so a live session keeps them.
        let per_turn = context.memo.per_turn("knowledge", turns.len(), |new| {
            new.map(|i| {
                if !turns[i].customer || turns[i].text.trim().is_empty() {
                    return Ok(Vec::new());
                }
                // Only the turns the retriever reads: the same result, without copying the whole
                // conversation at every customer turn.
                let read = context_positions(&turns, i);
                let query = KnowledgeQuery { turns: read.iter().map(|&p| turns[p].clone()).collect() };
                let vectors: Vec<Vec<f32>> = read.iter().map(|&p| embeddings[p].clone()).collect();
                let mut found = self.kb.search_embedded(&query, &vectors, &self.options)?;
                found.iter_mut().for_each(|s| s.turn = Some(i));
                Ok(found)
            })
            .collect()
        })?;
        // An article is suggested once: at the first turn it fits.
        let mut seen = HashSet::new();
        let suggestions: Vec<Suggestion> =
            per_turn.iter().flatten().filter(|s| seen.insert(s.article_id.clone())).cloned().collect();
        analysis.knowledge = Some(suggestions);
        Ok(())
    }
}

/// Gives each customer turn of `query` its intent as the analysis would, for searches made outside an
/// analysis (`kb search`, `eval knowledge`). `vectors` holds one query-role vector per turn.
pub fn tag_intents(
    query: &mut KnowledgeQuery,
    vectors: &[Vec<f32>],
    model: &IntentModel,
    embedder: &dyn TextEmbedder,
) -> Result<()> {
    let asked: Vec<usize> = (0..query.turns.len())
        .filter(|&i| query.turns[i].customer && !query.turns[i].text.trim().is_empty())
        .collect();
    if asked.is_empty() {
        return Ok(());
    }
    if vectors.len() < query.turns.len() {
        return Err(Error::invalid(Location::field("turns"), "one vector per turn is needed"));
    }
    let options = IntentOptions::default();
    let predictions = if model.reads_text() {
        let texts: Vec<&str> = asked.iter().map(|&i| query.turns[i].text.as_str()).collect();
        model.predict_texts(&texts, embedder, &options)?
    } else {
        let chosen: Vec<Vec<f32>> = asked.iter().map(|&i| vectors[i].clone()).collect();
        model.predict_embeddings(&chosen, &options)?
    };
    for (&i, p) in asked.iter().zip(predictions) {
        query.turns[i].intent = Some(p.intent);
    }
    Ok(())
}

/// Searches `kb` as an analysis would: the turns the retriever reads are encoded once, and when the
/// articles are tagged with intents, `intents` labels the customer turns first. Without an intent model
/// (or tags) this is [`KnowledgeBase::search`].
pub fn search_with_intents(
    kb: &KnowledgeBase,
    encoder: &Encoder,
    query: &KnowledgeQuery,
    intents: Option<&IntentModel>,
    options: &SearchOptions,
) -> Result<Vec<Suggestion>> {
    let Some(model) = intents.filter(|_| kb.has_intents() && options.intent_weight != 0.0) else {
        return kb.search(encoder, query, options);
    };
    kb.check_encoder(encoder)?;
    let mut query = query.context()?;
    let texts: Vec<&str> = query.turns.iter().map(|t| t.text.as_str()).collect();
    let vectors = encoder.embed_with(&texts, TextRole::Query, texts.len().max(1))?;
    tag_intents(&mut query, &vectors, model, encoder)?;
    kb.search_embedded(&query, &vectors, options)
}
