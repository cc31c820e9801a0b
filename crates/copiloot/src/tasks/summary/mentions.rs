//! Facts behind the reason that a note needs, found in the customer's sentences: a competitor or
//! switching talk, a price complaint, an earlier contact about the same thing (the shared phrase lists of
//! [`crate::tasks::lexicon`], the same the churn task reads), and how long the problem has lasted (the
//! note styles' `duration` patterns). Each cites its turns and quotes its sentence.

use super::compose::NoteStyles;
use super::fields::quote;
use super::TurnState;
use crate::conversation::Speaker;
use crate::tasks::lexicon::SignalConfig;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Mentions kept at most: one sentence per fact is what a note has room for.
const MAX_MENTIONS: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MentionKind {
    /// A competitor's name or talk of switching ("bij Odido krijg ik hetzelfde voor 25 euro").
    Competitor,
    /// The price is the problem ("te duur", "my bill went up").
    Price,
    /// The customer got in touch about it before ("al de derde keer dat ik bel").
    RepeatContact,
    /// How long the problem has lasted ("al drie weken", "since Monday").
    Duration,
}

/// One fact, with the words that matched, the sentence and its turns (later mentions of the same words
/// add their turns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Mention {
    pub kind: MentionKind,
    /// The matched words ("Odido", "derde keer", "al drie weken").
    pub text: String,
    pub turns: Vec<usize>,
    /// The first sentence that says it.
    pub quote: String,
}

/// The mentions in the customer's turns, in order of first appearance.
pub(crate) fn mentions(states: &[TurnState], lexicon: &SignalConfig, styles: &NoteStyles) -> Vec<Mention> {
    let mut found: Vec<Mention> = Vec::new();
    let own = crate::tasks::lexicon::own_handles(states.iter().map(|s| s.text.as_str()));
    for s in states.iter().filter(|s| s.speaker == Speaker::Customer) {
        for x in &s.sentences {
            let sentence = quote(s, x.start, x.end);
            let durations = styles.all().filter_map(|st| st.duration.as_ref()?.find(&sentence)).next();
            let hits = [
                (MentionKind::Competitor, lexicon.competitor(&sentence, &own)),
                (MentionKind::Price, lexicon.price(&sentence)),
                (MentionKind::RepeatContact, lexicon.repeat_contact(&sentence)),
                (MentionKind::Duration, durations),
            ];
            for (kind, m) in hits {
                let Some(m) = m else { continue };
                let text = m.as_str().trim().to_string();
                let same = found.iter().position(|f| f.kind == kind && f.text.eq_ignore_ascii_case(&text));
                match same {
                    Some(i) if !found[i].turns.contains(&s.index) => found[i].turns.push(s.index),
                    Some(_) => {}
                    None if found.len() < MAX_MENTIONS => found.push(Mention {
                        kind,
                        text,
                        turns: vec![s.index],
                        quote: sentence.trim().to_string(),
                    }),
                    None => {}
                }
            }
        }
    }
    found
}
