//! Conversations: the types, the parsers (JSON, JSONL, plain transcripts, summarisation datasets' dialogues),
//! language detection and cheap metrics.

mod dialogue;
mod json;
mod language;
mod metrics;
mod parse;
mod rules;
mod types;

pub use dialogue::dialogue_to_conversation;
pub use language::{detect_language, LanguageGuess};
pub use metrics::{ConversationMetrics, SpeakerMetrics};
pub use parse::{
    decode_utf8, parse_json, parse_jsonl, parse_str, parse_transcript, read_conversations, with_line,
};
pub use rules::{speaker_from_name, Limits, ParseOptions, SPEAKER_ALIASES};
pub use types::{Channel, Conversation, CustomerInfo, Parties, Speaker, Turn};

/// JSON Schema of the input conversation (`copiloot schema input`).
pub fn input_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Conversation)).unwrap_or_default()
}

#[cfg(test)]
mod tests;
