//! The knowledge task: at every customer turn, the company's articles that answer what the customer
//! asks, read with the turns before it ([`crate::knowledge`]). Runs only when a knowledge base is
//! configured ([`crate::Copilot::with_knowledge`]).

use super::pipeline::{ConversationTask, TaskContext};
use crate::analysis::Analysis;
use crate::conversation::Speaker;
use crate::error::Result;
use crate::knowledge::{KnowledgeBase, KnowledgeQuery, QueryTurn, SearchOptions, Suggestion};
use std::collections::HashSet;
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
        let turns: Vec<QueryTurn> = context
            .conversation
            .turns
            .iter()
            .map(|t| QueryTurn { customer: t.speaker == Speaker::Customer, text: t.text.clone() })
            .collect();
        let embeddings = context.embeddings;
        // A turn's suggestions depend on the turns up to it only, so a live session keeps them.
        let per_turn = context.memo.per_turn("knowledge", turns.len(), |new| {
            new.map(|i| {
                if !turns[i].customer || turns[i].text.trim().is_empty() {
                    return Ok(Vec::new());
                }
                let query = KnowledgeQuery { turns: turns[..=i].to_vec() };
                let mut found = self.kb.search_embedded(&query, &embeddings[..=i], &self.options)?;
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
