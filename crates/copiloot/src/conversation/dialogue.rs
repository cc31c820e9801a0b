//! Summarisation datasets' dialogues (DialogSum, TweetSumm and the like) as conversations.
//!
//! A dialogue is `Speaker: text` lines, as in a plain transcript, but its speakers are often not roles:
//! DialogSum writes `#Person1#`, `#Person2#`. Known names (agent, customer, klant, … — see
//! [`speaker_from_name`]) keep their role; other names are mapped by order of appearance — the first
//! unknown speaker is the customer, every other one an agent (the one who opens a DialogSum dialogue usually
//! raises its topic). A role spoken only by one such name keeps it in the note ([`Parties`]). Lines
//! without `Speaker:` continue the previous turn; a prefix of more than three words
//! or one holding `http` is not a speaker. Used by `copiloot eval summary`.

use super::rules::{speaker_from_name, ParseOptions};
use super::types::{Channel, Conversation, Parties, Speaker, Turn};
use crate::error::{Error, Location, Result};

/// `Speaker: text` lines to a conversation; unknown speakers by order of appearance (see the module docs).
/// Errors (no turns, text before the first speaker) are [`Error::InvalidInput`] without a location: the
/// caller knows the file and line the dialogue came from.
pub fn dialogue_to_conversation(id: &str, dialogue: &str) -> Result<Conversation> {
    let opts = ParseOptions::default();
    let mut unknown: Vec<String> = Vec::new();
    // Who spoke for each role, as written; `None` for a known role name ("Agent", "Klant").
    let mut said_by: Vec<(Speaker, Option<String>)> = Vec::new();
    let mut turns: Vec<Turn> = Vec::new();
    for line in dialogue.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let split = line.split_once(':').filter(|(name, _)| {
            let n = name.trim();
            !n.is_empty() && n.split_whitespace().count() <= 3 && !n.contains("http")
        });
        match split {
            Some((name, text)) => {
                let known = speaker_from_name(name, &opts);
                let speaker = known.unwrap_or_else(|| {
                    let key = name.trim().to_lowercase();
                    if !unknown.contains(&key) {
                        unknown.push(key.clone());
                    }
                    if unknown.first() == Some(&key) {
                        Speaker::Customer
                    } else {
                        Speaker::Agent
                    }
                });
                let text = text.trim();
                if !text.is_empty() {
                    let who = (speaker, known.is_none().then(|| name.trim().to_string()));
                    if !said_by.contains(&who) {
                        said_by.push(who);
                    }
                    turns.push(Turn { index: turns.len(), speaker, text: text.to_string(), timestamp: None });
                }
            }
            None => match turns.last_mut() {
                Some(t) => {
                    t.text.push(' ');
                    t.text.push_str(line);
                }
                None => {
                    return Err(Error::invalid(
                        Location::default(),
                        format!("the dialogue starts without a speaker: {line:?}; write `Speaker: text`"),
                    ))
                }
            },
        }
    }
    if turns.is_empty() {
        return Err(Error::invalid(Location::default(), "the dialogue has no turns"));
    }
    // A role whose turns all come from one guessed name keeps that name in the note ("#Person1# asks
    // …"): the guess may be wrong, the transcript's name is not.
    let name = |role: Speaker| match said_by.iter().filter(|(s, _)| *s == role).collect::<Vec<_>>()[..] {
        [(_, Some(name))] => Some(name.clone()),
        _ => None,
    };
    let parties = Parties { customer: name(Speaker::Customer), agent: name(Speaker::Agent) };
    Ok(Conversation {
        id: id.to_string(),
        channel: Channel::Other,
        language: None,
        turns,
        customer: Default::default(),
        parties,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn speakers(c: &Conversation) -> Vec<Speaker> {
        c.turns.iter().map(|t| t.speaker).collect()
    }

    #[test]
    fn unknown_speakers_are_mapped_by_order_and_lines_continue_turns() {
        let c = dialogue_to_conversation(
            "t0",
            "#Person1#: Hi, my order is late.\n#Person2#: Let me check.\nIt left today.\n#Person1#: Thanks.",
        )
        .unwrap();
        assert_eq!(c.id, "t0");
        assert_eq!(c.channel, Channel::Other);
        assert_eq!(speakers(&c), [Speaker::Customer, Speaker::Agent, Speaker::Customer]);
        assert_eq!(c.turns[1].text, "Let me check. It left today.");
        assert_eq!(c.parties.customer.as_deref(), Some("#Person1#"));
        assert_eq!(c.parties.agent.as_deref(), Some("#Person2#"));
        assert_eq!(c.turns.iter().map(|t| t.index).collect::<Vec<_>>(), [0, 1, 2]);
    }

    #[test]
    fn known_names_keep_their_role_and_a_third_unknown_speaker_is_an_agent() {
        let c = dialogue_to_conversation("x", "Agent: Hello.\nKlant: Mijn pakket?\nBob: Hi.\nAlice: Hey.")
            .unwrap();
        assert_eq!(speakers(&c), [Speaker::Agent, Speaker::Customer, Speaker::Customer, Speaker::Agent]);
        // Each role was spoken by a known name and a guessed one: the note keeps its nouns.
        assert!(c.parties.is_empty(), "{:?}", c.parties);
        let c = dialogue_to_conversation("x", "Agent: Hi.\nBob: Hello.").unwrap();
        assert_eq!(c.parties, Parties { customer: Some("Bob".into()), agent: None });
    }

    #[test]
    fn urls_and_long_prefixes_are_not_speakers_and_empty_turns_are_dropped() {
        let c = dialogue_to_conversation(
            "x",
            "Customer: see\nhttps://example.com/a: b\nthis is not a speaker: really\nAgent:   \nAgent: ok",
        )
        .unwrap();
        assert_eq!(c.turns.len(), 2);
        assert_eq!(c.turns[0].text, "see https://example.com/a: b this is not a speaker: really");
        assert_eq!(c.turns[1].speaker, Speaker::Agent);
    }

    #[test]
    fn a_dialogue_without_turns_or_speaker_is_invalid_input() {
        let err = dialogue_to_conversation("x", "\n  \n").unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }) && err.to_string().contains("no turns"), "{err}");
        let err = dialogue_to_conversation("x", "no speaker here\nAgent: hi").unwrap_err();
        assert!(err.to_string().contains("starts without a speaker"), "{err}");
    }
}
