//! The alerts step of the analysis: runs last, over what the other tasks wrote.

use super::{AlertRules, Findings};
use crate::analysis::Analysis;
use crate::error::Result;
use crate::tasks::{ConversationTask, TaskContext};
use std::path::Path;

/// Writes `Analysis::alerts` (an empty list when no rule fires).
#[derive(Debug, Clone)]
pub struct AlertTask {
    pub rules: AlertRules,
}

impl AlertTask {
    /// The rules of `models_dir/alerts/rules.toml`, else the built-in ones.
    pub fn load(models_dir: &Path) -> Result<AlertTask> {
        Ok(AlertTask { rules: AlertRules::for_models_dir(models_dir)? })
    }
}

impl ConversationTask for AlertTask {
    fn name(&self) -> &'static str {
        "alerts"
    }

    fn run(&self, context: &mut TaskContext<'_>, analysis: &mut Analysis) -> Result<()> {
        let findings = Findings {
            conversation: context.conversation,
            intents: analysis.intents.as_ref(),
            sentiment: analysis.sentiment.as_ref(),
            churn: analysis.churn.as_ref(),
            pii: analysis.pii.as_deref(),
        };
        analysis.alerts = Some(self.rules.check(&findings));
        Ok(())
    }
}
