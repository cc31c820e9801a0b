//! The summary step of the analysis: the grounded summary from the turn embeddings and the intent and
//! sentiment results, and (with a generator) the LLM rewrite of its note.

use super::{llm, Signals, SummaryModel};
use crate::analysis::Analysis;
use crate::error::{Error, Result};
use crate::models::generator::{GenerationOptions, Generator};
use crate::tasks::{ConversationTask, TaskContext};
use std::sync::Arc;

/// Writes `Analysis::summary`; a conversation without customer turns gets `null` and a warning.
#[derive(Clone)]
pub struct SummaryTask {
    pub model: SummaryModel,
    /// The optional local LLM that rewrites the note, and how it decodes.
    pub generator: Option<Arc<Generator>>,
    pub generation: GenerationOptions,
}

impl SummaryTask {
    /// The grounded summary only.
    pub fn new(model: SummaryModel) -> SummaryTask {
        SummaryTask { model, generator: None, generation: GenerationOptions::default() }
    }
}

impl ConversationTask for SummaryTask {
    fn name(&self) -> &'static str {
        "summary"
    }

    fn run(&self, context: &mut TaskContext<'_>, analysis: &mut Analysis) -> Result<()> {
        let signals = Signals::from_tasks(analysis.intents.as_ref(), analysis.sentiment.as_ref());
        let summary = self.model.summarize_memo(
            context.conversation,
            context.display,
            context.embeddings,
            context.truncated,
            &signals,
            context.memo,
        );
        let mut summary = match summary {
            Ok(s) => s,
            Err(Error::InvalidInput { message, .. }) => {
                analysis.warnings.push(format!("no summary: {message}"));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if let Some(generator) = &self.generator {
            // The rewrite is an extra: when it fails the grounded note stands, with the reason.
            let rewrite = llm::rewrite(
                generator,
                &summary,
                &self.model.style_for(&summary.language, &context.conversation.parties),
                context.conversation,
                context.display,
                &self.generation,
                context.on_token,
            );
            match rewrite {
                Ok(r) => {
                    // The grounded note stands; the warning says why the rewrite is not it.
                    if let Some(why) = &r.withheld {
                        summary.warnings.push(format!("LLM rewrite withheld: {why}"));
                    }
                    summary.rewrite = Some(r);
                }
                Err(e) => analysis.warnings.push(format!("no LLM rewrite of the note: {e}")),
            }
        }
        analysis.summary = Some(summary);
        Ok(())
    }
}
