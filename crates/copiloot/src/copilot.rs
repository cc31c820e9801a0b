//! The facade that owns the models and runs `analyze`: one pass over a conversation, nothing computed twice.

use crate::analysis::{Analysis, ModelsUsed, SCHEMA_VERSION};
use crate::conversation::{Conversation, ConversationMetrics};
use crate::error::{Error, Result};
use crate::models::generator::{GenerationOptions, Generator};
use crate::models::{
    default_models_dir, Catalog, Encoder, EncoderOptions, ModelSource, Precision, TextRole,
    DEFAULT_BATCH_SIZE,
};
use crate::redact::Redactor;
use crate::tasks::churn::{ChurnOptions, ChurnScorer};
use crate::tasks::summary::{llm, Signals, Summary, SummaryModel, SummaryOptions};
use crate::tasks::ConversationTasks;
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
    /// What is masked; by default every output (PII spans are reported so any shown text can be masked).
    pub redaction: Redaction,
    /// Churn scoring: today's date for the contract end, a trained model, phrase lists, bands.
    pub churn: ChurnOptions,
    /// Precision of the encoder's linear layers; [`Precision::default`] when `None`.
    pub precision: Option<Precision>,
    /// A local LLM (GGUF) that rewrites each summary's note; none by default (the grounded note only).
    pub generator: Option<ModelSource>,
    /// How the generator decodes (greedy by default).
    pub generation: GenerationOptions,
}

/// Where PII redaction applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Redaction {
    /// Outputs only (the default): the Analysis lists the PII spans per turn, and any transcript text a
    /// task puts in its output is masked. The models read the original text.
    #[default]
    Outputs,
    /// Also before inference: the models only ever see masked turns.
    Everything,
    /// Nothing is masked and no spans are reported — for trusted batch jobs (`--no-redact`).
    Off,
}

/// Owns the loaded models; cheap to clone and safe to share across threads.
#[derive(Clone)]
pub struct Copilot {
    encoder: Arc<Encoder>,
    /// Intent (zero-shot taxonomy) and sentiment (trained head), reading the turn embeddings.
    tasks: Arc<ConversationTasks>,
    /// The grounded summary, reading the same turn embeddings.
    summary: Arc<SummaryModel>,
    /// Churn risk from the intents, the sentiment, the text and the customer record.
    churn: Arc<ChurnScorer>,
    /// The optional LLM rewrite of the summary note, and how it decodes.
    generator: Option<Arc<Generator>>,
    generation: GenerationOptions,
    batch_size: usize,
    redaction: Redaction,
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
        let models_dir = options.models_dir.clone().unwrap_or_else(default_models_dir);
        let (source, name) = match options.encoder {
            Some(source) => {
                let name = source.id();
                (source, name)
            }
            None => {
                let dir = &models_dir;
                let catalog = Catalog::load(dir)?;
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
        let encoder_options = EncoderOptions { precision: options.precision.unwrap_or_default() };
        let encoder = Encoder::load_with(&source, &encoder_options)?.with_id(name);
        let tasks = ConversationTasks::load(&models_dir, &encoder)?;
        let summary = SummaryModel::load(&models_dir, &encoder)?;
        let churn = ChurnScorer::load(&models_dir, &options.churn)?;
        let generator = options.generator.as_ref().map(Generator::load).transpose()?;
        Ok(Self {
            encoder: Arc::new(encoder),
            tasks: Arc::new(tasks),
            summary: Arc::new(summary),
            churn: Arc::new(churn),
            generator: generator.map(Arc::new),
            generation: options.generation,
            batch_size: options.batch_size.unwrap_or(DEFAULT_BATCH_SIZE),
            redaction: options.redaction,
        })
    }

    /// Build from an already loaded encoder (e.g. shared with other components); the taxonomy and the
    /// sentiment head come from `models_dir`.
    pub fn with_encoder(encoder: Arc<Encoder>, models_dir: &std::path::Path) -> Result<Self> {
        let tasks = Arc::new(ConversationTasks::load(models_dir, encoder.as_ref())?);
        let summary = Arc::new(SummaryModel::load(models_dir, encoder.as_ref())?);
        let churn = Arc::new(ChurnScorer::load(models_dir, &ChurnOptions::default())?);
        Ok(Self {
            encoder,
            tasks,
            summary,
            churn,
            generator: None,
            generation: GenerationOptions::default(),
            batch_size: DEFAULT_BATCH_SIZE,
            redaction: Redaction::default(),
        })
    }

    /// The same models with other summary options (e.g. a longer note).
    pub fn with_summary_options(mut self, options: SummaryOptions) -> Self {
        self.summary = Arc::new(self.summary.as_ref().clone().with_options(options));
        self
    }

    /// The same models with a local LLM that rewrites each summary's note (see
    /// [`crate::tasks::summary::llm::rewrite`]).
    pub fn with_generator(mut self, generator: Arc<Generator>, options: GenerationOptions) -> Self {
        self.generator = Some(generator);
        self.generation = options;
        self
    }

    /// The loaded generator, if any.
    pub fn generator(&self) -> Option<&Generator> {
        self.generator.as_deref()
    }

    /// The summary model (for a [`crate::tasks::summary::Summarizer`] during a live conversation).
    pub fn summary_model(&self) -> &SummaryModel {
        &self.summary
    }

    /// Only the summary of a conversation; a conversation without customer turns is an `InvalidInput`
    /// error here (`analyze` returns `summary: null` with a warning instead).
    pub fn summarize(&self, conversation: &Conversation) -> Result<Summary> {
        self.summarize_streaming(conversation, &mut |_| true)
    }

    /// [`Self::summarize`], passing the LLM rewrite's text to `on_token` as it is generated (returning
    /// `false` stops the generation: the rewrite then ends with `stop_reason: cancelled`).
    pub fn summarize_streaming(
        &self,
        conversation: &Conversation,
        on_token: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Summary> {
        let mut analysis = self.analyze_streaming(conversation, on_token)?;
        match analysis.summary.take() {
            Some(s) => Ok(s),
            None => Err(Error::invalid(
                crate::error::Location::field("turns"),
                analysis.warnings.pop().unwrap_or_else(|| "no summary could be made".to_string()),
            )),
        }
    }

    /// The same copilot with the intent taxonomy read from `taxonomy` (a TOML file like
    /// `models/taxonomy/intents.toml`); the sentiment head and the embedding cache stay in `models_dir`.
    pub fn with_taxonomy(mut self, models_dir: &std::path::Path, taxonomy: &std::path::Path) -> Result<Self> {
        let taxonomy = crate::tasks::intent::Taxonomy::from_path(taxonomy)?;
        self.tasks =
            Arc::new(ConversationTasks::load_with_taxonomy(models_dir, self.encoder.as_ref(), taxonomy)?);
        Ok(self)
    }

    /// The same copilot with another intent model (a trained head, a fine-tuned or Hugging Face
    /// classifier from `IntentModel::from_dir`).
    pub fn with_intent_model(mut self, model: crate::tasks::intent::IntentModel) -> Self {
        let mut tasks = (*self.tasks).clone();
        tasks.intent = model;
        self.tasks = Arc::new(tasks);
        self
    }

    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// The intent and sentiment models `analyze` runs, e.g. to classify single texts.
    pub fn tasks(&self) -> &ConversationTasks {
        &self.tasks
    }

    /// The churn scorer `analyze` uses (for customer-level scoring of several analyses).
    pub fn churn(&self) -> &ChurnScorer {
        &self.churn
    }

    /// Encode every turn of a conversation once.
    pub fn embed_turns(&self, conversation: &Conversation) -> Result<TurnEmbeddings> {
        let texts: Vec<&str> = conversation.turns.iter().map(|t| t.text.as_str()).collect();
        let encoded = self.encoder.encode(&texts, TextRole::Query, self.batch_size)?;
        Ok(TurnEmbeddings { vectors: encoded.embeddings, truncated: encoded.truncated })
    }

    /// Analyse one conversation.
    pub fn analyze(&self, conversation: &Conversation) -> Result<Analysis> {
        self.analyze_streaming(conversation, &mut |_| true)
    }

    /// [`Self::analyze`], streaming the LLM rewrite of the summary note (when a generator is set) to
    /// `on_token`.
    pub fn analyze_streaming(
        &self,
        conversation: &Conversation,
        on_token: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Analysis> {
        if conversation.turns.is_empty() {
            return Err(Error::invalid(
                crate::error::Location::field("turns"),
                format!("conversation `{}` has no turns", conversation.id),
            ));
        }
        // A working copy: redacted when asked, with the detected language set so tasks answer in it.
        // `display`: the turn texts an output may quote (masked unless redaction is off).
        let (mut conversation, pii, display) = match self.redaction {
            Redaction::Off => {
                (conversation.clone(), None, conversation.turns.iter().map(|t| t.text.clone()).collect())
            }
            Redaction::Outputs => {
                let (masked, spans) = Redactor::default().redact_conversation(conversation);
                (conversation.clone(), Some(spans), masked.turns.into_iter().map(|t| t.text).collect())
            }
            Redaction::Everything => {
                let (masked, spans) = Redactor::default().redact_conversation(conversation);
                let display = masked.turns.iter().map(|t| t.text.clone()).collect();
                (masked, Some(spans), display)
            }
        };
        let display: Vec<String> = display;
        if conversation.language.is_none() {
            conversation.language = conversation.detect_language();
        }
        let conversation = &conversation;
        let language = conversation.language.clone();
        let metrics = ConversationMetrics::compute(conversation);
        let embeddings = self.embed_turns(conversation)?;
        let (intents, sentiment) = self.tasks.analyze(conversation, &embeddings.vectors)?;
        let max = self.encoder.max_tokens();
        let mut warnings: Vec<String> = embeddings
            .truncated
            .iter()
            .map(|i| format!("turn {i} is longer than the encoder's {max} tokens; only its start was read"))
            .collect();
        warnings.extend(self.tasks.warnings.iter().cloned());
        let signals = Signals::from_tasks(&intents, sentiment.as_ref());
        let mut summary = match self.summary.summarize(
            conversation,
            &display,
            &embeddings.vectors,
            &embeddings.truncated,
            &signals,
        ) {
            Ok(s) => Some(s),
            Err(Error::InvalidInput { message, .. }) => {
                warnings.push(format!("no summary: {message}"));
                None
            }
            Err(e) => return Err(e),
        };
        if let (Some(generator), Some(s)) = (&self.generator, summary.as_mut()) {
            // The rewrite is an extra: when it fails the grounded note stands, with the reason.
            match llm::rewrite(generator, s, conversation, &display, &self.generation, on_token) {
                Ok(r) => s.rewrite = Some(r),
                Err(e) => warnings.push(format!("no LLM rewrite of the note: {e}")),
            }
        }
        let resolution = summary.as_ref().map(|s| s.resolution.status);
        let churn = self.churn.score_conversation(
            conversation,
            Some(&intents),
            sentiment.as_ref(),
            resolution,
            None,
        )?;
        Ok(Analysis {
            schema_version: SCHEMA_VERSION.to_string(),
            conversation_id: conversation.id.clone(),
            language,
            metrics,
            intents: Some(intents),
            sentiment,
            summary,
            churn: Some(churn),
            models: ModelsUsed {
                encoder: self.encoder.model_id().to_string(),
                generator: self.generator.as_ref().map(|g| g.info().id.clone()),
            },
            pii,
            warnings,
        })
    }
}
