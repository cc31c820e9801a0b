//! The intent and sentiment models `Copilot::analyze` runs by default, loaded together: zero-shot intents
//! over the shipped taxonomy and the shipped sentiment head, both reading the facade's turn embeddings.

use super::cache::CachedEmbedder;
use super::intent::{default_taxonomy_path, ConversationIntents, IntentModel, IntentOptions, Taxonomy};
use super::sentiment::{SentimentAnalysis, SentimentModel};
use super::TextEmbedder;
use crate::conversation::Conversation;
use crate::error::Result;
use std::path::Path;

/// Intent + sentiment, ready to read turn embeddings.
#[derive(Debug, Clone)]
pub struct ConversationTasks {
    pub intent: IntentModel,
    /// `None` when the shipped head does not fit the encoder (a head is tied to the encoder it was trained
    /// on); the reason is in `warnings`. Zero-shot intents work with any encoder.
    pub sentiment: Option<SentimentModel>,
    pub intent_options: IntentOptions,
    /// What the caller should surface (e.g. in `Analysis::warnings`).
    pub warnings: Vec<String>,
}

impl ConversationTasks {
    /// Loads `models_dir/taxonomy/intents.toml` (zero-shot) and `models_dir/heads/sentiment/`, for
    /// embeddings of `encoder`. The taxonomy's embeddings are cached in `models_dir/.cache/embeddings`, so
    /// only the first start pays for embedding it (a few seconds); a read-only models folder just skips
    /// the cache.
    pub fn load(models_dir: &Path, encoder: &dyn TextEmbedder) -> Result<ConversationTasks> {
        let taxonomy = Taxonomy::from_path(&default_taxonomy_path(models_dir))?;
        Self::load_with_taxonomy(models_dir, encoder, taxonomy)
    }

    /// Like [`Self::load`] with a user taxonomy (e.g. the shipped one [`Taxonomy::extend`]ed).
    pub fn load_with_taxonomy(
        models_dir: &Path,
        encoder: &dyn TextEmbedder,
        taxonomy: Taxonomy,
    ) -> Result<ConversationTasks> {
        let cache_dir = models_dir.join(".cache").join("embeddings");
        let intent = match CachedEmbedder::open(encoder, &cache_dir) {
            Ok(cached) => {
                let model = IntentModel::zero_shot(taxonomy, &cached)?;
                if let Err(e) = cached.save() {
                    tracing::debug!("taxonomy embeddings not cached: {e}");
                }
                model
            }
            Err(_) => IntentModel::zero_shot(taxonomy, encoder)?,
        };
        let head_dir = SentimentModel::default_dir(models_dir);
        let mut warnings = Vec::new();
        let sentiment = match SentimentModel::load(&head_dir, encoder.model_id()) {
            Ok(model) => Some(model),
            Err(e @ crate::error::Error::ModelLoad { .. })
                if head_dir.join(super::head::META_FILE).is_file() =>
            {
                warnings.push(format!("sentiment skipped: {e}"));
                None
            }
            Err(e) => return Err(e),
        };
        Ok(ConversationTasks { intent, sentiment, intent_options: IntentOptions::default(), warnings })
    }

    /// Both analyses from one set of turn embeddings (one per turn, `TextRole::Query`).
    pub fn analyze(
        &self,
        conversation: &Conversation,
        turn_embeddings: &[Vec<f32>],
    ) -> Result<(ConversationIntents, Option<SentimentAnalysis>)> {
        let intents =
            self.intent.analyze_conversation(conversation, turn_embeddings, &self.intent_options)?;
        let sentiment = self
            .sentiment
            .as_ref()
            .map(|s| s.analyze_conversation(conversation, turn_embeddings))
            .transpose()?;
        Ok((intents, sentiment))
    }
}
