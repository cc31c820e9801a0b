//! What every parser accepts: the limits, the options, speaker names in English and Dutch, clock times,
//! and the checks each parsed conversation passes. Below both parsers (`json`, `parse`), so they share it
//! without depending on each other.

use super::types::{Conversation, Speaker};
use crate::error::{Error, Location, Result};
use std::collections::HashMap;

/// Documented limits against absurd input; a record over a limit is an `InputTooLarge` error.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Bytes of one conversation's text (JSON record or transcript). Default 10 MiB.
    pub max_bytes: usize,
    /// Turns in one conversation. Default 5,000.
    pub max_turns: usize,
    /// Characters in one turn. Default 100,000.
    pub max_turn_chars: usize,
    /// Characters in a conversation id. Default 256.
    pub max_id_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_bytes: 10 << 20, max_turns: 5_000, max_turn_chars: 100_000, max_id_chars: 256 }
    }
}

/// Options for every parser.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    pub limits: Limits,
    /// Extra speaker names (lower-case) → speaker, e.g. `"jan" → Agent` or DialogSum's `"#person1#"`.
    pub speaker_map: HashMap<String, Speaker>,
    /// Name of the input (a file path) used in error locations.
    pub source: Option<String>,
}

impl ParseOptions {
    pub(crate) fn location(&self) -> Location {
        Location { source: self.source.clone(), ..Location::default() }
    }
}

/// Speaker names understood out of the box, English and Dutch.
pub const SPEAKER_ALIASES: &[(&str, Speaker)] = &[
    ("agent", Speaker::Agent),
    ("medewerker", Speaker::Agent),
    ("operator", Speaker::Agent),
    ("representative", Speaker::Agent),
    ("rep", Speaker::Agent),
    ("support", Speaker::Agent),
    ("klantenservice", Speaker::Agent),
    ("servicedesk", Speaker::Agent),
    ("employee", Speaker::Agent),
    ("customer", Speaker::Customer),
    ("klant", Speaker::Customer),
    ("client", Speaker::Customer),
    ("caller", Speaker::Customer),
    ("beller", Speaker::Customer),
    ("user", Speaker::Customer),
    ("gebruiker", Speaker::Customer),
    ("bot", Speaker::Bot),
    ("chatbot", Speaker::Bot),
    ("assistant", Speaker::Bot),
    ("virtual assistant", Speaker::Bot),
    ("system", Speaker::System),
    ("systeem", Speaker::System),
];

/// Resolve a speaker name via the options' map, then the built-in aliases (case-insensitive).
pub fn speaker_from_name(name: &str, opts: &ParseOptions) -> Option<Speaker> {
    let key = name.trim().to_lowercase();
    opts.speaker_map
        .get(&key)
        .copied()
        .or_else(|| SPEAKER_ALIASES.iter().find(|(alias, _)| *alias == key).map(|(_, s)| *s))
}

pub(crate) fn unknown_speaker(name: &str, location: Location) -> Error {
    let accepted: Vec<&str> = SPEAKER_ALIASES.iter().map(|(a, _)| *a).collect();
    Error::invalid(
        location,
        format!(
            "unknown speaker `{name}`; accepted (any case): {}; map other names with a speaker mapping \
             (ParseOptions::speaker_map)",
            accepted.join(", ")
        ),
    )
}

/// The checks every parser ends with: id, turn count, empty and oversized turns.
pub(crate) fn validate(c: Conversation, opts: &ParseOptions) -> Result<Conversation> {
    let limits = &opts.limits;
    if c.id.trim().is_empty() {
        return Err(Error::invalid(opts.location().with_field("id"), "the conversation id is empty"));
    }
    if c.id.chars().count() > limits.max_id_chars {
        return Err(Error::InputTooLarge {
            location: opts.location().with_field("id"),
            what: "id length in characters".into(),
            actual: c.id.chars().count(),
            limit: limits.max_id_chars,
        });
    }
    if c.turns.is_empty() {
        return Err(Error::invalid(
            opts.location().with_field("turns"),
            format!("conversation `{}` has no turns", c.id),
        ));
    }
    if c.turns.len() > limits.max_turns {
        return Err(Error::InputTooLarge {
            location: opts.location().with_field("turns"),
            what: "number of turns".into(),
            actual: c.turns.len(),
            limit: limits.max_turns,
        });
    }
    for t in &c.turns {
        let field = format!("turns[{}].text", t.index);
        if t.text.trim().is_empty() {
            return Err(Error::invalid(opts.location().with_field(field), "the turn has no text"));
        }
        let chars = t.text.chars().count();
        if chars > limits.max_turn_chars {
            return Err(Error::InputTooLarge {
                location: opts.location().with_field(field),
                what: "turn length in characters".into(),
                actual: chars,
                limit: limits.max_turn_chars,
            });
        }
    }
    Ok(c)
}

/// `hh:mm:ss`, `mm:ss` (optionally with fractional seconds) → seconds.
pub(crate) fn parse_clock(s: &str) -> Option<f64> {
    let parts: Vec<&str> = s.trim().split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let mut seconds = 0.0;
    for (i, p) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let ok = !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || (last && c == '.'));
        let v: f64 = if ok { p.parse().ok()? } else { return None };
        if !v.is_finite() || (i > 0 && v >= 60.0) {
            return None;
        }
        seconds = seconds * 60.0 + v;
    }
    Some(seconds)
}
