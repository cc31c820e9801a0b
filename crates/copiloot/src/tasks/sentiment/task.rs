//! The sentiment step of the analysis: the shipped head over the turn embeddings.

use super::SentimentModel;
use crate::analysis::Analysis;
use crate::error::{Error, Result};
use crate::tasks::{ConversationTask, TaskContext, TextEmbedder};
use crate::training::head::META_FILE;
use std::path::Path;

/// The sentiment step of the analysis: writes `Analysis::sentiment`. Without a head that fits the
/// encoder (a head is tied to the encoder it was trained on) it only repeats why, as a warning.
#[derive(Debug, Clone)]
pub struct SentimentTask {
    pub model: Option<SentimentModel>,
    /// Why `model` is `None`.
    pub skipped: Option<String>,
}

impl SentimentTask {
    /// The shipped head in `models_dir/heads/sentiment/`, for `encoder`.
    pub fn load(models_dir: &Path, encoder: &dyn TextEmbedder) -> Result<SentimentTask> {
        let head_dir = SentimentModel::default_dir(models_dir);
        match SentimentModel::load(&head_dir, encoder) {
            Ok(model) => Ok(SentimentTask { model: Some(model), skipped: None }),
            Err(e @ Error::ModelLoad { .. }) if head_dir.join(META_FILE).is_file() => {
                Ok(SentimentTask { model: None, skipped: Some(format!("sentiment skipped: {e}")) })
            }
            Err(e) => Err(e),
        }
    }
}

impl ConversationTask for SentimentTask {
    fn name(&self) -> &'static str {
        "sentiment"
    }

    fn run(&self, context: &mut TaskContext<'_>, analysis: &mut Analysis) -> Result<()> {
        match &self.model {
            Some(model) => {
                let features = match model.feature_spec() {
                    Some(_) => context.layer_features,
                    None => context.embeddings,
                };
                analysis.sentiment = Some(model.analyze_memo(context.conversation, features, context.memo)?)
            }
            None => analysis.warnings.extend(self.skipped.iter().cloned()),
        }
        Ok(())
    }
}
