//! The facade that owns the models and runs `analyze`: one pass over a conversation, nothing computed twice.

use crate::analysis::{Analysis, ModelsUsed};
use crate::conversation::Conversation;
use crate::error::{Error, Result};
use crate::models::generator::{GenerationOptions, Generator};
use crate::models::{
    default_models_dir, Catalog, Encoder, EncoderOptions, FeatureSpec, ModelSource, Precision, TextRole,
    DEFAULT_BATCH_SIZE,
};
use crate::redact::Redactor;
use crate::tasks::churn::{ChurnOptions, ChurnScorer};
use crate::tasks::sentiment::SentimentModel;
use crate::tasks::summary::{Summary, SummaryModel, SummaryOptions};
use crate::tasks::{
    default_tasks, ConversationTask, IntentTask, SentimentTask, SummaryTask, TaskContext, TaskMemo,
};
use std::any::Any;
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

/// Owns the loaded models and the task list; cheap to clone and safe to share across threads.
#[derive(Clone)]
pub struct Copilot {
    encoder: Arc<Encoder>,
    /// The analysis steps, run in order over one shared context ([`crate::tasks::default_tasks`]).
    tasks: Vec<Arc<dyn ConversationTask>>,
    batch_size: usize,
    redaction: Redaction,
}

/// Per-turn sentence vectors of one conversation: computed once, read by every task.
#[derive(Debug, Clone)]
pub struct TurnEmbeddings {
    pub vectors: Vec<Vec<f32>>,
    /// Per turn, the layer features the sentiment head reads (from the same encoder pass); empty when
    /// the head reads the sentence embedding. When missing, `analyze_embedded` computes them.
    pub layer_features: Vec<Vec<f32>>,
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
        let encoder = Self::load_encoder(&options)?;
        let mut tasks = default_tasks(&models_dir, &encoder, &options.churn)?;
        if let Some(source) = &options.generator {
            let generator = Arc::new(Generator::load(source)?);
            replace_summary(&mut tasks, |t| {
                t.generator = Some(generator);
                t.generation = options.generation.clone();
            });
        }
        Ok(Self {
            encoder: Arc::new(encoder),
            tasks,
            batch_size: options.batch_size.unwrap_or(DEFAULT_BATCH_SIZE),
            redaction: options.redaction,
        })
    }

    /// Only the encoder `options` name (the catalog's default when none), without the tasks: for work
    /// that needs vectors alone, such as indexing a knowledge base.
    pub fn load_encoder(options: &CopilotOptions) -> Result<Encoder> {
        let models_dir = options.models_dir.clone().unwrap_or_else(default_models_dir);
        let (source, name) = match options.encoder.clone() {
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
        Ok(encoder)
    }

    /// The same copilot with a knowledge assistant: every customer turn is searched in `kb` (built with
    /// this copilot's encoder, or this is a `Config` error) and `Analysis::knowledge` lists what fits.
    pub fn with_knowledge(
        mut self,
        kb: Arc<crate::knowledge::KnowledgeBase>,
        options: crate::knowledge::SearchOptions,
    ) -> Result<Self> {
        kb.check_encoder(&self.encoder)?;
        self.tasks.retain(|t| !(t.as_ref() as &dyn Any).is::<crate::tasks::KnowledgeTask>());
        self.tasks.push(Arc::new(crate::tasks::KnowledgeTask { kb, options }));
        Ok(self)
    }

    /// The knowledge base the copilot searches, when one is configured.
    pub fn knowledge(&self) -> Option<&Arc<crate::knowledge::KnowledgeBase>> {
        self.tasks
            .iter()
            .find_map(|t| (t.as_ref() as &dyn Any).downcast_ref::<crate::tasks::KnowledgeTask>())
            .map(|t| &t.kb)
    }

    /// The same models with other summary options (e.g. a longer note).
    pub fn with_summary_options(mut self, options: SummaryOptions) -> Self {
        replace_summary(&mut self.tasks, |t| t.model = t.model.clone().with_options(options));
        self
    }

    /// The same models with a local LLM that rewrites each summary's note (see
    /// [`crate::tasks::summary::llm::rewrite`]).
    pub fn with_generator(mut self, generator: Arc<Generator>, options: GenerationOptions) -> Self {
        replace_summary(&mut self.tasks, |t| {
            t.generator = Some(generator);
            t.generation = options;
        });
        self
    }

    /// The same copilot with one more task, run after the others.
    pub fn with_task(mut self, task: Arc<dyn ConversationTask>) -> Self {
        self.tasks.push(task);
        self
    }

    /// The tasks `analyze` runs, in order.
    pub fn tasks(&self) -> &[Arc<dyn ConversationTask>] {
        &self.tasks
    }

    /// The task of type `T`, e.g. `copilot.task::<IntentTask>()` to classify single texts.
    pub fn task<T: ConversationTask>(&self) -> Option<&T> {
        self.tasks.iter().find_map(|t| (t.as_ref() as &dyn Any).downcast_ref::<T>())
    }

    /// The loaded generator, if any.
    pub fn generator(&self) -> Option<&Generator> {
        self.task::<SummaryTask>().and_then(|t| t.generator.as_deref())
    }

    /// The summary model (for a [`crate::tasks::summary::Summarizer`] during a live conversation).
    pub fn summary_model(&self) -> Option<&SummaryModel> {
        self.task::<SummaryTask>().map(|t| &t.model)
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
        self.analyze_streaming(conversation, on_token)?.into_summary()
    }

    /// The same copilot with the intent taxonomy read from `taxonomy` (a TOML file like
    /// `models/taxonomy/intents.toml`); the embedding cache stays in `models_dir`.
    pub fn with_taxonomy(self, models_dir: &std::path::Path, taxonomy: &std::path::Path) -> Result<Self> {
        let taxonomy = crate::tasks::intent::Taxonomy::from_path(taxonomy)?;
        let task = IntentTask::with_taxonomy(models_dir, self.encoder.as_ref(), taxonomy)?;
        Ok(self.with_intent_task(task))
    }

    /// The same copilot with another intent model (a trained head, a fine-tuned or Hugging Face
    /// classifier from `IntentModel::from_dir`).
    pub fn with_intent_model(self, model: crate::tasks::intent::IntentModel) -> Self {
        self.with_intent_task(IntentTask::new(model))
    }

    fn with_intent_task(mut self, task: IntentTask) -> Self {
        let task: Arc<dyn ConversationTask> = Arc::new(task);
        match self.tasks.iter().position(|t| (t.as_ref() as &dyn Any).is::<IntentTask>()) {
            Some(i) => self.tasks[i] = task,
            None => self.tasks.insert(0, task),
        }
        self
    }

    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// Where PII redaction applies.
    pub fn redaction(&self) -> Redaction {
        self.redaction
    }

    /// The same copilot without the LLM rewrite of the note (a live session runs this one per turn).
    pub fn without_generator(mut self) -> Self {
        if self.generator().is_some() {
            replace_summary(&mut self.tasks, |t| t.generator = None);
        }
        self
    }

    /// The intent task `analyze` runs (its model and options), e.g. to classify single texts.
    pub fn intent(&self) -> Option<&IntentTask> {
        self.task::<IntentTask>()
    }

    /// The sentiment model `analyze` runs, when a head fits the encoder.
    pub fn sentiment(&self) -> Option<&SentimentModel> {
        self.task::<SentimentTask>().and_then(|t| t.model.as_ref())
    }

    /// The churn scorer `analyze` uses (for customer-level scoring of several analyses).
    pub fn churn(&self) -> Option<&ChurnScorer> {
        self.task::<ChurnScorer>()
    }

    /// Encode every turn of a conversation once.
    pub fn embed_turns(&self, conversation: &Conversation) -> Result<TurnEmbeddings> {
        let texts: Vec<&str> = conversation.turns.iter().map(|t| t.text.as_str()).collect();
        self.embed_texts(&texts)
    }

    /// Encode turn texts (query role, the configured batch size); `truncated` holds positions in `texts`.
    pub(crate) fn embed_texts(&self, texts: &[&str]) -> Result<TurnEmbeddings> {
        let spec = self.feature_spec();
        let (encoded, layer_features) =
            self.encoder.encode_features(texts, TextRole::Query, self.batch_size, &spec)?;
        let layer_features = if spec.is_empty() { Vec::new() } else { layer_features };
        Ok(TurnEmbeddings { vectors: encoded.embeddings, layer_features, truncated: encoded.truncated })
    }

    /// The features a task reads besides the embeddings (the sentiment head's layers and branch),
    /// computed with the turn embeddings in the same pass; empty when none.
    fn feature_spec(&self) -> FeatureSpec {
        self.sentiment().and_then(SentimentModel::feature_spec).cloned().unwrap_or_default()
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
        let embeddings = self.embed_turns(&conversation)?;
        self.analyze_embedded(&conversation, &display, pii, embeddings, on_token)
    }

    /// The tasks over turn embeddings computed elsewhere (e.g. read from a cache): `conversation` as the
    /// models read it with its language set, `display` the texts outputs may quote, `pii` the spans found.
    pub fn analyze_embedded(
        &self,
        conversation: &Conversation,
        display: &[String],
        pii: Option<Vec<crate::redact::TurnSpan>>,
        embeddings: TurnEmbeddings,
        on_token: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Analysis> {
        let mut memo = TaskMemo::default();
        let mut embeddings = embeddings;
        let spec = self.feature_spec();
        if !spec.is_empty() && embeddings.layer_features.len() != conversation.turns.len() {
            // Embeddings from elsewhere (a cache) without the layer features: one more encoder pass.
            let texts: Vec<&str> = conversation.turns.iter().map(|t| t.text.as_str()).collect();
            embeddings.layer_features =
                self.encoder.encode_features(&texts, TextRole::Query, self.batch_size, &spec)?.1;
        }
        let turns = TurnInputs {
            vectors: &embeddings.vectors,
            layer_features: &embeddings.layer_features,
            truncated: &embeddings.truncated,
        };
        self.run_tasks(conversation, display, pii, turns, &mut memo, on_token)
    }

    /// The task list over one prepared conversation; `memo` keeps per-turn results between calls over
    /// a growing conversation ([`crate::live::LiveSession`]).
    pub(crate) fn run_tasks(
        &self,
        conversation: &Conversation,
        display: &[String],
        pii: Option<Vec<crate::redact::TurnSpan>>,
        turns: TurnInputs<'_>,
        memo: &mut TaskMemo,
        on_token: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Analysis> {
        let TurnInputs { vectors, layer_features, truncated } = turns;
        let max = self.encoder.max_tokens();
        let models = ModelsUsed {
            encoder: self.encoder.model_id().to_string(),
            generator: self.generator().map(|g| g.info().id.clone()),
        };
        let mut analysis = Analysis::empty(conversation, models);
        analysis.pii = pii;
        analysis.warnings = truncated
            .iter()
            .map(|i| format!("turn {i} is longer than the encoder's {max} tokens; only its start was read"))
            .collect();
        let mut context = TaskContext {
            conversation,
            display,
            embeddings: vectors,
            layer_features,
            truncated,
            on_token,
            memo,
        };
        for task in &self.tasks {
            task.run(&mut context, &mut analysis)?;
        }
        Ok(analysis)
    }
}

/// The per-turn encoder outputs the tasks read (borrowed from [`TurnEmbeddings`] or a live session).
#[derive(Clone, Copy)]
pub(crate) struct TurnInputs<'a> {
    pub vectors: &'a [Vec<f32>],
    pub layer_features: &'a [Vec<f32>],
    pub truncated: &'a [usize],
}

/// Replaces the summary task by a changed copy (the tasks are shared, so they are not changed in place).
fn replace_summary(tasks: &mut [Arc<dyn ConversationTask>], change: impl FnOnce(&mut SummaryTask)) {
    for task in tasks.iter_mut() {
        if let Some(summary) = (task.as_ref() as &dyn Any).downcast_ref::<SummaryTask>() {
            let mut summary = summary.clone();
            change(&mut summary);
            *task = Arc::new(summary);
            return;
        }
    }
}
