//! The facade that owns the models and runs `analyze`: one pass over a conversation, nothing computed twice.

use crate::analysis::{Analysis, ModelsUsed, SCHEMA_VERSION};
use crate::conversation::{Conversation, ConversationMetrics};
use crate::error::{Error, Result};
use crate::models::{default_models_dir, Catalog, Encoder, ModelSource, TextRole, DEFAULT_BATCH_SIZE};
use crate::redact::Redactor;
use std::path::PathBuf;
use std::sync::Arc;

/// How to build a [`Copilot`]. `Default` uses the catalog's default encoder from the models folder.
#[derive(Debug, Clone, Default)]
pub struct CopilotOptions {
    /// The encoder to use; the catalog's default (`models/multilingual-e5-small`) when `None`.
    pub encoder: Option<ModelSource>,
    /// Where installed models live; [`default_models_dir`] when `None`.
    pub models_dir: Option<PathBuf>,
    /// Turns encoded per forward pass.
    pub batch_size: Option<usize>,
    /// Mask PII in the turns before any model sees them (outputs never carry unmasked text either way).
    pub redact_input: bool,
}

/// Owns the loaded models; cheap to clone and safe to share across threads.
#[derive(Clone)]
pub struct Copilot {
    encoder: Arc<Encoder>,
    batch_size: usize,
    redact_input: bool,
}

/// Per-turn sentence vectors of one conversation: computed once, read by every task.
#[derive(Debug, Clone)]
pub struct TurnEmbeddings {
    pub vectors: Vec<Vec<f32>>,
    /// Turn indices whose text was longer than the encoder's maximum.
    pub truncated: Vec<usize>,
}

impl Copilot {
    /// Load the default models (installed by `copiloot models install`).
    pub fn load_default() -> Result<Self> {
        Self::new(CopilotOptions::default())
    }

    pub fn new(options: CopilotOptions) -> Result<Self> {
        let (source, name) = match options.encoder {
            Some(source) => {
                let name = source.id();
                (source, name)
            }
            None => {
                let dir = options.models_dir.unwrap_or_else(default_models_dir);
                let catalog = Catalog::load(&dir)?;
                let path = dir.join(&catalog.roles.encoder);
                if !path.join("config.json").is_file() {
                    return Err(Error::ModelNotFound {
                        source_id: catalog.roles.encoder.clone(),
                        hint: format!(
                            "the default encoder is not installed in {}; run `copiloot models install` \
                             (or pass --encoder with a folder or hub id)",
                            dir.display()
                        ),
                    });
                }
                (ModelSource::Folder { path }, catalog.roles.encoder)
            }
        };
        let encoder = Encoder::load(&source)?.with_id(name);
        Ok(Self {
            encoder: Arc::new(encoder),
            batch_size: options.batch_size.unwrap_or(DEFAULT_BATCH_SIZE),
            redact_input: options.redact_input,
        })
    }

    /// Build from an already loaded encoder (e.g. shared with other components).
    pub fn with_encoder(encoder: Arc<Encoder>) -> Self {
        Self { encoder, batch_size: DEFAULT_BATCH_SIZE, redact_input: false }
    }

    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// Encode every turn of a conversation once.
    pub fn embed_turns(&self, conversation: &Conversation) -> Result<TurnEmbeddings> {
        let texts: Vec<&str> = conversation.turns.iter().map(|t| t.text.as_str()).collect();
        let encoded = self.encoder.encode(&texts, TextRole::Query, self.batch_size)?;
        Ok(TurnEmbeddings { vectors: encoded.embeddings, truncated: encoded.truncated })
    }

    /// Analyse one conversation.
    pub fn analyze(&self, conversation: &Conversation) -> Result<Analysis> {
        if conversation.turns.is_empty() {
            return Err(Error::invalid(
                crate::error::Location::field("turns"),
                format!("conversation `{}` has no turns", conversation.id),
            ));
        }
        let redacted;
        let conversation = if self.redact_input {
            redacted = Redactor::default().redact_conversation(conversation).0;
            &redacted
        } else {
            conversation
        };
        let language = conversation.language.clone().or_else(|| conversation.detect_language());
        let metrics = ConversationMetrics::compute(conversation);
        let embeddings = self.embed_turns(conversation)?;
        let warnings = embeddings
            .truncated
            .iter()
            .map(|i| {
                format!(
                    "turn {i} is longer than the encoder's {} tokens; only its start was read",
                    self.encoder.max_tokens()
                )
            })
            .collect();
        Ok(Analysis {
            schema_version: SCHEMA_VERSION.to_string(),
            conversation_id: conversation.id.clone(),
            language,
            metrics,
            intents: None,
            sentiment: None,
            summary: None,
            churn: None,
            models: ModelsUsed { encoder: self.encoder.model_id().to_string(), generator: None },
            warnings,
        })
    }
}
