//! Cheap conversation metrics that need no model: turns and talk share per speaker, timing.

use super::types::{Conversation, Speaker};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What one speaker contributed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SpeakerMetrics {
    pub turns: usize,
    pub words: usize,
    pub characters: usize,
    /// Share of all words in the conversation (0..1).
    pub talk_share: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConversationMetrics {
    pub turns: usize,
    /// Keyed by speaker (`agent`, `customer`, `bot`, `system`); only speakers that spoke appear.
    pub speakers: BTreeMap<Speaker, SpeakerMetrics>,
    /// From the first to the last timestamp, when the input had timestamps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    /// From the customer's first turn to the first agent turn after it, when timestamps exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_seconds: Option<f64>,
}

impl ConversationMetrics {
    pub fn compute(c: &Conversation) -> Self {
        let mut speakers: BTreeMap<Speaker, SpeakerMetrics> = BTreeMap::new();
        for t in &c.turns {
            let m = speakers.entry(t.speaker).or_default();
            m.turns += 1;
            m.words += t.text.split_whitespace().count();
            m.characters += t.text.chars().count();
        }
        let total_words: usize = speakers.values().map(|m| m.words).sum();
        for m in speakers.values_mut() {
            m.talk_share = if total_words == 0 { 0.0 } else { m.words as f64 / total_words as f64 };
        }
        let times: Vec<f64> = c.turns.iter().filter_map(|t| t.timestamp).collect();
        let duration_seconds = match (times.first(), times.last()) {
            (Some(a), Some(b)) if times.len() >= 2 => Some((b - a).max(0.0)),
            _ => None,
        };
        let first_customer = c.turns.iter().position(|t| t.speaker == Speaker::Customer);
        let first_response_seconds = first_customer.and_then(|i| {
            let asked = c.turns.get(i)?.timestamp?;
            let answer = c.turns.iter().skip(i + 1).find(|t| t.speaker == Speaker::Agent)?.timestamp?;
            Some((answer - asked).max(0.0))
        });
        Self { turns: c.turns.len(), speakers, duration_seconds, first_response_seconds }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::conversation::{parse_transcript, ParseOptions};

    #[test]
    fn counts_talk_share_and_timing() {
        let text = "[00:00] Agent: Goedemiddag, waarmee kan ik helpen?\n\
                    [00:05] Klant: Mijn internet doet het niet\n\
                    [00:12] Agent: Dat ga ik voor u bekijken.\n\
                    [01:02] Klant: Dank u";
        let c = parse_transcript("m", text, &ParseOptions::default()).unwrap();
        let m = ConversationMetrics::compute(&c);
        assert_eq!(m.turns, 4);
        let agent = &m.speakers[&Speaker::Agent];
        let customer = &m.speakers[&Speaker::Customer];
        assert_eq!((agent.turns, agent.words), (2, 11));
        assert_eq!((customer.turns, customer.words), (2, 7));
        assert!((agent.talk_share - 11.0 / 18.0).abs() < 1e-9);
        assert_eq!(m.duration_seconds, Some(62.0));
        assert_eq!(m.first_response_seconds, Some(7.0));
    }

    #[test]
    fn no_timestamps_means_no_timing() {
        let c = parse_transcript("m", "Customer: hello\nAgent: hi", &ParseOptions::default()).unwrap();
        let m = ConversationMetrics::compute(&c);
        assert_eq!((m.duration_seconds, m.first_response_seconds), (None, None));
    }
}
