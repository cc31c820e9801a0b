//! Abstractive rewrite of a grounded summary: the model gets the grounded fields (each citing turns)
//! and the (redacted) transcript, writes a short note, and the note is checked against the sources.
//!
//! The note keeps the evidence links of the fields it was written from, and every number, amount,
//! date or name in it that the conversation does not contain is listed in `unsupported_claims`.

use super::{unsupported_claims, ChatMessage, GenerationOptions, Generator, StopReason, UnsupportedClaim};
use crate::error::Result;
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
    pub text: String,
    /// Turns cited by the fields the note was written from (sorted, unique).
    pub evidence_turns: Vec<usize>,
    /// Numbers, amounts, dates and names in `text` that occur in no turn and no field.
    pub unsupported_claims: Vec<UnsupportedClaim>,
    /// Facts the grounded summary found (dates, amounts, order and reference numbers) that the note does not
    /// mention — what the rewrite lost (filled by `tasks::summary::llm::rewrite`; the fields keep them).
    #[serde(default)]
    pub missing_facts: Vec<String>,
    /// The turns the model read (all of them, or only the cited ones when the whole transcript does not
    /// fit its context).
    pub prompt_turns: Vec<usize>,
    pub generator: String,
    pub stop_reason: StopReason,
}

/// The chat messages for a rewrite; `language` is a name such as "Dutch" or "English".
pub fn rewrite_messages(fields: &[GroundedField], turns: &[PromptTurn], language: &str) -> Vec<ChatMessage> {
    let system = format!(
        "You write short after-call notes for contact-center agents. Use only facts from the conversation \
         and the extracted facts. Do not invent names, numbers, dates or amounts. Write in {language}."
    );
    let mut user = String::from("Conversation:\n");
    for t in turns {
        user.push_str(&format!("[{}] {}: {}\n", t.index, t.speaker, t.text));
    }
    user.push_str("\nExtracted facts (turn numbers in brackets):\n");
    for f in fields {
        let cites: Vec<String> = f.turns.iter().map(usize::to_string).collect();
        user.push_str(&format!("- {}: {} [{}]\n", f.name, f.text, cites.join(", ")));
    }
    user.push_str("\nWrite the note in two or three sentences: the customer's question or problem, what was done, and what happens next.");
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
        prompt_turns: turns.iter().map(|t| t.index).collect(),
        generator: generator.info().id.clone(),
        stop_reason: generation.stop_reason,
    })
}
