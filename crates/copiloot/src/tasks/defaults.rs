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
    pub sentiment: SentimentModel,
    pub intent_options: IntentOptions,
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
        let sentiment = SentimentModel::load(&SentimentModel::default_dir(models_dir), encoder.model_id())?;
        Ok(ConversationTasks { intent, sentiment, intent_options: IntentOptions::default() })
    }

    /// Both analyses from one set of turn embeddings (one per turn, `TextRole::Query`).
    pub fn analyze(
        &self,
        conversation: &Conversation,
        turn_embeddings: &[Vec<f32>],
    ) -> Result<(ConversationIntents, SentimentAnalysis)> {
        let intents =
            self.intent.analyze_conversation(conversation, turn_embeddings, &self.intent_options)?;
        let sentiment = self.sentiment.analyze_conversation(conversation, turn_embeddings)?;
        Ok((intents, sentiment))
    }
}
