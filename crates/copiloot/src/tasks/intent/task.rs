//! The intent step of the analysis: the model that `Copilot::analyze` runs over the turn embeddings.

use super::{default_taxonomy_path, IntentModel, IntentOptions, Taxonomy};
use crate::analysis::Analysis;
use crate::error::Result;
use crate::tasks::{ConversationTask, TaskContext, TextEmbedder};
use crate::training::cache::CachedEmbedder;
use std::path::Path;

/// The intent step of the analysis: writes `Analysis::intents`.
#[derive(Debug, Clone)]
pub struct IntentTask {
    pub model: IntentModel,
    pub options: IntentOptions,
}

impl IntentTask {
    /// Zero-shot over `models_dir/taxonomy/intents.toml`.
    pub fn load(models_dir: &Path, encoder: &dyn TextEmbedder) -> Result<IntentTask> {
        let taxonomy = Taxonomy::from_path(&default_taxonomy_path(models_dir))?;
        Self::with_taxonomy(models_dir, encoder, taxonomy)
    }

    /// Zero-shot over a user taxonomy (e.g. the shipped one [`Taxonomy::extend`]ed). The taxonomy's
    /// embeddings are cached in `models_dir/.cache/embeddings`, so only the first start pays for
    /// embedding it (a few seconds); a read-only models folder just skips the cache.
    pub fn with_taxonomy(
        models_dir: &Path,
        encoder: &dyn TextEmbedder,
        taxonomy: Taxonomy,
    ) -> Result<IntentTask> {
        let cache_dir = models_dir.join(".cache").join("embeddings");
        let model = match CachedEmbedder::open(encoder, &cache_dir) {
            Ok(cached) => {
                let model = IntentModel::zero_shot(taxonomy, &cached)?;
                if let Err(e) = cached.save() {
                    tracing::debug!("taxonomy embeddings not cached: {e}");
                }
                model
            }
            Err(_) => IntentModel::zero_shot(taxonomy, encoder)?,
        };
        Ok(IntentTask::new(model))
    }

    /// Any intent model (a trained head, a fine-tuned or Hugging Face classifier) with default options.
    pub fn new(model: IntentModel) -> IntentTask {
        IntentTask { model, options: IntentOptions::default() }
    }
}

impl ConversationTask for IntentTask {
    fn name(&self) -> &'static str {
        "intent"
    }

    fn run(&self, context: &mut TaskContext<'_>, analysis: &mut Analysis) -> Result<()> {
        let intents =
            self.model.analyze_memo(context.conversation, context.embeddings, &self.options, context.memo)?;
        analysis.intents = Some(intents);
        Ok(())
    }
}
