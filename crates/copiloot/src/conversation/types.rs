//! The conversation data model: what every parser produces and every task reads.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who said a turn.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    Agent,
    Customer,
    Bot,
    System,
}

/// The contact channel of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Phone,
    Chat,
    Email,
    Social,
    #[default]
    Other,
}

impl Channel {
    /// A channel by its name in the output (`phone`, `chat`, …) or a common alias, Dutch included
    /// (`telefoon`, `whatsapp`, `e-mail`, `webcare`, `overig`); case and surrounding spaces are ignored.
    pub fn from_name(name: &str) -> Option<Channel> {
        Some(match name.trim().to_lowercase().as_str() {
            "phone" | "call" | "voice" | "telefoon" | "telefonisch" | "bellen" => Channel::Phone,
            "chat" | "livechat" | "whatsapp" | "messaging" => Channel::Chat,
            "email" | "e-mail" | "mail" => Channel::Email,
            "social" | "webcare" | "twitter" | "x" | "facebook" | "instagram" | "social media" => {
                Channel::Social
            }
            "other" | "overig" | "anders" => Channel::Other,
            _ => return None,
        })
    }
}

/// One utterance (or message) in a conversation. `index` is its 0-based position, used for citations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Turn {
    pub index: usize,
    pub speaker: Speaker,
    pub text: String,
    /// Seconds since the start of the conversation, when the source had timestamps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
}

/// What the contact center knows about the customer (all optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CustomerInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenure_months: Option<f64>,
    /// ISO date `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_end: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts_last_30_days: Option<u32>,
    /// Any other fields of the customer record, kept as they came.
    #[serde(default, flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// A whole customer conversation: a phone transcript, a chat, an e-mail thread or a webcare exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Conversation {
    pub id: String,
    #[serde(default)]
    pub channel: Channel,
    /// ISO 639-1 code (`nl`, `en`, …); detected from the text when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    pub turns: Vec<Turn>,
    #[serde(default)]
    pub customer: CustomerInfo,
    /// What the note calls the parties when the transcript names them; the note style's nouns
    /// ("customer" / "klant", "agent") otherwise.
    #[serde(default, skip_serializing_if = "Parties::is_empty")]
    pub parties: Parties,
}

/// The names a note uses for the customer and the agent, e.g. a dialogue's `#Person1#` and `#Person2#`
/// whose roles were only guessed: a note then says who did what as the transcript does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Parties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

impl Parties {
    pub fn is_empty(&self) -> bool {
        self.customer.is_none() && self.agent.is_none()
    }
}

impl Conversation {
    /// Turns said by one speaker, in order.
    pub fn turns_by(&self, speaker: Speaker) -> impl Iterator<Item = &Turn> {
        self.turns.iter().filter(move |t| t.speaker == speaker)
    }
}
