//! The churn step of the analysis: the scorer reads what the intent, sentiment and summary steps wrote.

use super::ChurnScorer;
use crate::analysis::Analysis;
use crate::error::Result;
use crate::tasks::summary::RequestKind;
use crate::tasks::{ConversationTask, TaskContext};

impl ConversationTask for ChurnScorer {
    fn name(&self) -> &'static str {
        "churn"
    }

    /// Reads the intents, the sentiment and the summary's resolution and request written before it.
    fn run(&self, context: &mut TaskContext<'_>, analysis: &mut Analysis) -> Result<()> {
        let resolution = analysis.summary.as_ref().map(|s| s.resolution.status);
        let mut signals = self.signals(
            context.conversation,
            analysis.intents.as_ref(),
            analysis.sentiment.as_ref(),
            resolution,
            None,
        );
        // A confirmed cancellation keeps the risk up (see `ChurnSignals::cancellation_processed`).
        signals.cancellation_processed = analysis
            .summary
            .as_ref()
            .and_then(|s| s.request.as_ref())
            .is_some_and(|r| r.kind == RequestKind::Cancellation && r.handled);
        let churn = self.score_signals(&signals, context.conversation.language.as_deref())?;
        analysis.churn = Some(churn);
        Ok(())
    }
}
