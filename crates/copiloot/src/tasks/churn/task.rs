//! The churn step of the analysis: the scorer reads what the intent, sentiment and summary steps wrote.

use super::ChurnScorer;
use crate::analysis::Analysis;
use crate::error::Result;
use crate::tasks::{ConversationTask, TaskContext};

impl ConversationTask for ChurnScorer {
    fn name(&self) -> &'static str {
        "churn"
    }

    /// Reads the intents, the sentiment and the summary's resolution written before it.
    fn run(&self, context: &mut TaskContext<'_>, analysis: &mut Analysis) -> Result<()> {
        let resolution = analysis.summary.as_ref().map(|s| s.resolution.status);
        let churn = self.score_conversation(
            context.conversation,
            analysis.intents.as_ref(),
            analysis.sentiment.as_ref(),
            resolution,
            None,
        )?;
        analysis.churn = Some(churn);
        Ok(())
    }
}
