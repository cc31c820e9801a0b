//! The lenient JSON shape we accept (aliases for ids, speakers, texts, channels, timestamps), validated
//! into the strict [`Conversation`] type.

use super::rules::{parse_clock, speaker_from_name, unknown_speaker, validate, ParseOptions};
use super::types::{Channel, Conversation, CustomerInfo, Parties, Turn};
use crate::error::{Error, Result};
use serde::Deserialize;

#[derive(Deserialize)]
pub(crate) struct RawConversation {
    #[serde(default, alias = "conversation_id", alias = "conversationId")]
    id: Option<IdValue>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default, alias = "lang", alias = "taal")]
    language: Option<String>,
    #[serde(default, alias = "messages")]
    turns: Option<Vec<RawTurn>>,
    #[serde(default)]
    customer: Option<CustomerInfo>,
    #[serde(default, alias = "speaker_names")]
    parties: Option<Parties>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum IdValue {
    Text(String),
    Number(serde_json::Number),
}

#[derive(Deserialize)]
struct RawTurn {
    #[serde(default, alias = "role", alias = "from", alias = "author", alias = "spreker")]
    speaker: Option<String>,
    #[serde(default, alias = "message", alias = "content", alias = "body", alias = "tekst")]
    text: Option<String>,
    #[serde(default, alias = "time", alias = "ts", alias = "tijd")]
    timestamp: Option<serde_json::Value>,
}

impl RawConversation {
    pub(crate) fn into_conversation(self, opts: &ParseOptions) -> Result<Conversation> {
        let loc = opts.location();
        let id = match self.id {
            Some(IdValue::Text(s)) => s,
            Some(IdValue::Number(n)) => n.to_string(),
            None => return Err(Error::invalid(loc.with_field("id"), "missing `id` (or `conversation_id`)")),
        };
        let channel = match self.channel.as_deref() {
            None => Channel::Other,
            Some(name) => Channel::from_name(name)
                .ok_or_else(|| Error::invalid(loc.clone().with_field("channel"), format!(
                    "unknown channel `{name}`; use phone, chat, email, social or other (Dutch: telefoon, e-mail, webcare …)"
                )))?,
        };
        let raw_turns =
            self.turns.ok_or_else(|| Error::invalid(loc.clone().with_field("turns"), "missing `turns`"))?;
        if raw_turns.len() > opts.limits.max_turns {
            return Err(Error::InputTooLarge {
                location: loc.with_field("turns"),
                what: "number of turns".into(),
                actual: raw_turns.len(),
                limit: opts.limits.max_turns,
            });
        }
        let mut turns = Vec::with_capacity(raw_turns.len());
        for (index, raw) in raw_turns.into_iter().enumerate() {
            let field = |name: &str| loc.clone().with_field(format!("turns[{index}].{name}"));
            let name = raw.speaker.ok_or_else(|| Error::invalid(field("speaker"), "missing `speaker`"))?;
            let speaker =
                speaker_from_name(&name, opts).ok_or_else(|| unknown_speaker(&name, field("speaker")))?;
            let text = raw.text.ok_or_else(|| Error::invalid(field("text"), "missing `text`"))?;
            let timestamp = match raw.timestamp {
                None | Some(serde_json::Value::Null) => None,
                Some(v) => Some(parse_timestamp(&v).ok_or_else(|| {
                    Error::invalid(
                        field("timestamp"),
                        "timestamp must be seconds (a number) or `hh:mm:ss` / `mm:ss`",
                    )
                })?),
            };
            turns.push(Turn { index, speaker, text: text.trim().to_string(), timestamp });
        }
        let language = self.language.map(|l| l.trim().to_lowercase()).filter(|l| !l.is_empty());
        let customer = self.customer.unwrap_or_default();
        let parties = self.parties.unwrap_or_default();
        validate(Conversation { id, channel, language, turns, customer, parties }, opts)
    }
}

fn parse_timestamp(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64().filter(|x| x.is_finite() && *x >= 0.0),
        serde_json::Value::String(s) => {
            s.trim().parse::<f64>().ok().filter(|x| x.is_finite() && *x >= 0.0).or_else(|| parse_clock(s))
        }
        _ => None,
    }
}
