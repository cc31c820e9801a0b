//! The output contract: one `Analysis` per conversation, versioned by `schema_version`.

use crate::conversation::{Conversation, ConversationMetrics};
use crate::knowledge::Suggestion;
use crate::redact::TurnSpan;
use crate::tasks::alerts::Alert;
use crate::tasks::churn::ChurnRisk;
use crate::tasks::intent::ConversationIntents;
use crate::tasks::sentiment::SentimentAnalysis;
use crate::tasks::summary::Summary;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change of the Analysis JSON.
pub const SCHEMA_VERSION: &str = "1.0";

/// Everything copiloot concludes about one conversation. Task fields are `null` until their task runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Analysis {
    pub schema_version: String,
    pub conversation_id: String,
    /// ISO 639-1 language of the conversation (given or detected).
    pub language: Option<String>,
    pub metrics: ConversationMetrics,
    /// Why the customer got in touch (intent task).
    pub intents: Option<ConversationIntents>,
    /// Per-turn and per-speaker sentiment with the customer's trajectory (sentiment task).
    pub sentiment: Option<SentimentAnalysis>,
    /// Grounded CRM summary (summary task); `null` for a conversation without customer turns (with a
    /// warning).
    pub summary: Option<Summary>,
    /// Churn risk with reasons (churn task).
    pub churn: Option<ChurnRisk>,
    /// Moments the agent should act on, each citing its turns (alerts task; `[]` when none fired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Vec<Alert>>,
    /// Passages of the company's own articles that answer the customer, each citing the turn that asked
    /// (knowledge task; absent unless a knowledge base is configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knowledge: Option<Vec<Suggestion>>,
    pub models: ModelsUsed,
    /// Personal data found per turn (kind and byte offsets, never the text), so anything that shows the
    /// transcript can mask it. Absent when redaction is off (`--no-redact`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pii: Option<Vec<TurnSpan>>,
    /// Things the caller should know: e.g. turns cut at the encoder's maximum length.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Analysis {
    /// An Analysis of `conversation` that no task has filled in yet.
    pub fn empty(conversation: &Conversation, models: ModelsUsed) -> Analysis {
        Analysis {
            schema_version: SCHEMA_VERSION.to_string(),
            conversation_id: conversation.id.clone(),
            language: conversation.language.clone(),
            metrics: ConversationMetrics::compute(conversation),
            intents: None,
            sentiment: None,
            summary: None,
            churn: None,
            alerts: None,
            knowledge: None,
            models,
            pii: None,
            warnings: Vec::new(),
        }
    }
}

impl Analysis {
    /// Only the summary; a conversation the summary task could not summarise (no customer turns) is an
    /// `InvalidInput` error with the task's reason (`analyze` keeps `summary: null` and a warning).
    pub fn into_summary(mut self) -> crate::Result<Summary> {
        match self.summary.take() {
            Some(s) => Ok(s),
            None => Err(crate::Error::invalid(
                crate::Location::field("turns"),
                self.warnings.pop().unwrap_or_else(|| "no summary could be made".to_string()),
            )),
        }
    }
}

/// Which models produced an Analysis, so results can be traced and compared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelsUsed {
    pub encoder: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<String>,
}

/// JSON Schema of the Analysis output (`copiloot schema output`).
pub fn output_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Analysis)).unwrap_or_default()
}
