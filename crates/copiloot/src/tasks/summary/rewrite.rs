//! Abstractive rewrite of a grounded summary: the model gets the grounded fields (each citing turns)
//! and the (redacted) transcript, writes a short note, and the note is checked against the sources.
//!
//! The note keeps the evidence links of the fields it was written from, and every number, amount,
//! date or name in it that the conversation does not contain is listed in `unsupported_claims`.

use super::claims::{unsupported_claims, UnsupportedClaim};
use crate::error::Result;
use crate::models::generator::{ChatMessage, GenerationOptions, Generator, StopReason};
use serde::{Deserialize, Serialize};

/// One grounded summary field, e.g. `("reason", "internet drops since Tuesday", [1, 3])`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroundedField {
    pub name: String,
    pub text: String,
    /// Turn indices that support the field.
    pub turns: Vec<usize>,
}

/// One transcript turn as the model sees it (already redacted by the caller when redaction is on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PromptTurn {
    pub index: usize,
    pub speaker: String,
    pub text: String,
}

/// The generated note with its grounding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Rewrite {
    /// The note: the model's text, then — when the model dropped grounded facts — one closing sentence
    /// "Details: …" that re-adds them (`restored_facts`), so the note keeps every fact the grounded summary
    /// found.
    pub text: String,
    /// Turns cited by the fields the note was written from (sorted, unique).
    pub evidence_turns: Vec<usize>,
    /// Numbers, amounts, dates and names in the model's text that occur in no turn and no field (the
    /// closing "Details" sentence only quotes grounded facts, so it adds none).
    pub unsupported_claims: Vec<UnsupportedClaim>,
    /// Facts the grounded summary found (dates, amounts, order and reference numbers) that the MODEL's text
    /// does not mention — what the model itself dropped (filled by `tasks::summary::llm::rewrite`).
    #[serde(default)]
    pub missing_facts: Vec<String>,
    /// The facts appended to `text` in the closing "Details" sentence: the same as `missing_facts`, except
    /// when the stream was cancelled (`stop_reason` = `cancelled`), which adds nothing.
    #[serde(default)]
    pub restored_facts: Vec<String>,
    /// The turns the model read (all of them, or only the cited ones when the whole transcript does not
    /// fit its context).
    pub prompt_turns: Vec<usize>,
    pub generator: String,
    pub stop_reason: StopReason,
    /// Why the rewrite is not the note, when the quality gate (`tasks::summary::gate`) held it back: not in
    /// the conversation's language, a loop, a prompt label, or a claim the conversation does not back.
    /// `text` is then the model's text, kept for inspection only: the grounded `summary.text` is the note
    /// (and `summary.warnings` says why). Absent when the rewrite passed — older readers see no change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withheld: Option<String>,
}

/// The prompt's names for the fields (`name` of a [`GroundedField`] → label), in the prompt's order.
const FIELD_LABELS: &[(&str, &str)] = &[
    ("reason", "the customer's problem"),
    ("offer", "offer"),
    ("action", "what the agent did"),
    ("resolution", "outcome"),
    ("next step", "next step"),
];

const FACTS_LABEL: &str = "Facts";
const CONVERSATION_LABEL: &str = "Conversation, for reference";

/// Every label the prompt writes before a colon: a note that repeats one ("what the agent did:") copies the
/// prompt instead of writing a note. Read by the gate, so the two cannot drift apart.
pub fn prompt_labels() -> Vec<&'static str> {
    let mut labels: Vec<&'static str> = FIELD_LABELS.iter().map(|(_, label)| *label).collect();
    labels.extend([FACTS_LABEL, CONVERSATION_LABEL]);
    labels
}

/// The chat messages for a rewrite; `language` is a name such as "Dutch" or "English".
///
/// Written for small instruct models: the extracted facts come first, on one line, as the thing to
/// rewrite; the transcript follows as one paragraph of quotes (`Customer wrote "…"`), not as `[i] Speaker:`
/// lines or a list, which SmolLM2-135M continues instead of writing a note; the request names the form of
/// the answer: two or three sentences in the third person, opening with "The customer" ("De klant"). A
/// one-shot example was tried and dropped: the 135M model copied the example's note.
pub fn rewrite_messages(fields: &[GroundedField], turns: &[PromptTurn], language: &str) -> Vec<ChatMessage> {
    let (customer, agent) =
        if language == "Dutch" { ("De klant", "De medewerker") } else { ("The customer", "The agent") };
    let system = format!(
        "You write short after-call notes for contact-center agents. Write in {language}, in the third person \
         (\"{customer} ...\", \"{agent} ...\"). Use only the facts you are given. Do not invent names, numbers, \
         dates or amounts."
    );
    let mut facts = Vec::new();
    for f in fields {
        let label = FIELD_LABELS.iter().find(|(name, _)| *name == f.name).map_or(f.name.as_str(), |(_, l)| l);
        facts.push(format!("{label}: {}", f.text.trim_end_matches(['.', ' '])));
    }
    let conversation: Vec<String> =
        turns.iter().map(|t| format!("{} wrote \"{}\"", t.speaker, t.text)).collect();
    let ask = format!("Write the note in {language}, two or three sentences, starting with \"{customer}\".");
    let user = format!(
        "{FACTS_LABEL}: {}.\n\n{CONVERSATION_LABEL}: {}\n\n{ask}",
        facts.join("; "),
        conversation.join(" ")
    );
    vec![ChatMessage::system(system), ChatMessage::user(user)]
}

/// Generate the note and check it against the transcript and the fields.
pub fn rewrite_summary(
    generator: &Generator,
    fields: &[GroundedField],
    turns: &[PromptTurn],
    language: &str,
    options: &GenerationOptions,
    on_token: &mut dyn FnMut(&str) -> bool,
) -> Result<Rewrite> {
    let messages = rewrite_messages(fields, turns, language);
    let generation = generator.generate(&messages, options, on_token)?;
    let text = generation.text.trim().to_string();
    // The speaker labels were in the prompt too: "Customer" in the note is not an invented name.
    let sources: Vec<&str> = turns
        .iter()
        .flat_map(|t| [t.text.as_str(), t.speaker.as_str()])
        .chain(fields.iter().map(|f| f.text.as_str()))
        .collect();
    let mut evidence_turns: Vec<usize> = fields.iter().flat_map(|f| f.turns.iter().copied()).collect();
    evidence_turns.sort_unstable();
    evidence_turns.dedup();
    Ok(Rewrite {
        unsupported_claims: unsupported_claims(&text, &sources),
        text,
        evidence_turns,
        missing_facts: Vec::new(),
        restored_facts: Vec::new(),
        prompt_turns: turns.iter().map(|t| t.index).collect(),
        generator: generator.info().id.clone(),
        stop_reason: generation.stop_reason,
        withheld: None,
    })
}

#[cfg(test)]
mod tests {
    use super::{rewrite_messages, GroundedField, PromptTurn};

    fn example() -> (Vec<GroundedField>, Vec<PromptTurn>) {
        let field = |name: &str, text: &str, turns: Vec<usize>| GroundedField {
            name: name.into(),
            text: text.into(),
            turns,
        };
        let turn = |index, speaker: &str, text: &str| PromptTurn {
            index,
            speaker: speaker.into(),
            text: text.into(),
        };
        (
            vec![
                field("reason", "mijn pakket met bestelnummer 1024-7781 is niet aangekomen", vec![0]),
                field("next step", "agent: nieuw pakket versturen (due: morgen)", vec![1]),
            ],
            vec![
                turn(0, "Customer", "Mijn pakket met bestelnummer 1024-7781 is niet aangekomen."),
                turn(1, "Agent", "Ik verstuur morgen een nieuw pakket."),
            ],
        )
    }

    #[test]
    fn the_prompt_puts_the_facts_first_and_quotes_the_transcript() {
        let (fields, turns) = example();
        let messages = rewrite_messages(&fields, &turns, "English");
        let roles: Vec<&str> = messages.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user"]);
        let user = &messages[1].content;
        assert!(user.starts_with(
            "Facts: the customer's problem: mijn pakket met bestelnummer 1024-7781 is niet aangekomen; \
             next step: agent: nieuw pakket versturen (due: morgen).\n"
        ));
        assert!(user.contains(
            "Conversation, for reference: Customer wrote \"Mijn pakket met bestelnummer 1024-7781 is niet \
             aangekomen.\" Agent wrote \"Ik verstuur morgen een nieuw pakket.\"\n"
        ));
        // No line a small model could continue as the next turn or list item, and no turn numbers.
        assert!(
            !user.contains("[0]") && !user.lines().any(|l| l.starts_with("Customer:") || l.starts_with("- "))
        );
        assert!(user
            .ends_with("Write the note in English, two or three sentences, starting with \"The customer\"."));
        assert!(messages[0].content.contains("Write in English, in the third person"));
    }

    #[test]
    fn a_dutch_conversation_asks_for_a_dutch_note() {
        let (fields, turns) = example();
        let messages = rewrite_messages(&fields, &turns, "Dutch");
        assert!(
            messages[0].content.contains("Write in Dutch")
                && messages[0].content.contains("\"De klant ...\"")
        );
        assert!(messages[1]
            .content
            .ends_with("Write the note in Dutch, two or three sentences, starting with \"De klant\"."));
    }
}
