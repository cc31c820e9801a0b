//! Does a note read like one an agent wrote? Three checks on a composed note against its conversation:
//! first- or second-person words left from the turns ("ik", "mijn", "you"), sentences copied verbatim
//! from a turn, and the share of the summary's facts (dates, amounts, numbers, competitors, offers) the
//! note still holds within its budget.

use crate::tasks::summary::compose::person;
use crate::tasks::summary::{MentionKind, NoteStyle, Summary};
use serde::Serialize;

/// The checks of one note.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NoteStyleCheck {
    /// First/second-person words of the note (lower case), in order.
    pub person_words: Vec<String>,
    /// Sentences of the note, and how many of those (of four words or more) are a turn's text verbatim.
    pub sentences: usize,
    pub verbatim: usize,
    /// Facts the summary's fields found (dates, amounts and numbers in their quotes, competitors, offers),
    /// and how many the note mentions.
    pub facts: usize,
    pub facts_kept: usize,
    /// The facts the note left out (values as the fields hold them; offers by their quote).
    pub facts_missing: Vec<String>,
}

fn normalise(text: &str) -> String {
    let lower = text.to_lowercase().replace('’', "'");
    lower.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The note's sentences: split after `.`, `!` or `?` followed by a space.
fn sentences(note: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in note.char_indices() {
        let next = &note[i + c.len_utf8()..];
        if matches!(c, '.' | '!' | '?') && (next.is_empty() || next.starts_with(' ')) {
            out.push(note[start..i + c.len_utf8()].trim());
            start = i + c.len_utf8();
        }
    }
    if !note[start..].trim().is_empty() {
        out.push(note[start..].trim());
    }
    out
}

/// Checks `summary.text` against the conversation's `turns` (the texts the quotes come from) in the
/// note's `style`.
pub fn check(summary: &Summary, turns: &[&str], style: &NoteStyle) -> NoteStyleCheck {
    let note = &summary.text;
    let mut person_words = Vec::new();
    for sentence in sentences(note) {
        // The composer's words: "U-Tunes" is a name, "verizon-you" holds a pronoun.
        for (k, word) in person::words(sentence).iter().map(|m| m.as_str()).enumerate() {
            // A capital inside a sentence is a name ("Mijn KPN", "US"), as the composer reads it too.
            let lower = word.to_lowercase().replace('’', "'");
            if k > 0 && word.starts_with(char::is_uppercase) && !style.capitalized.contains(&lower) {
                continue;
            }
            if style.subjects.contains_key(&lower) || style.words.contains_key(&lower) {
                person_words.push(lower);
            }
        }
    }
    let turns: Vec<String> = turns.iter().map(|t| normalise(t)).collect();
    let all = sentences(note);
    let verbatim = all
        .iter()
        .map(|s| normalise(s.trim_end_matches(['.', '!', '?'])))
        .filter(|s| s.split(' ').count() >= 4 && turns.iter().any(|t| t.contains(s.as_str())))
        .count();
    let lower_note = note.to_lowercase();
    let mut facts = 0;
    let mut kept = 0;
    // The facts of the fields (the quotes the note is composed from), not every number of the turns.
    let mut quotes: Vec<&str> = Vec::new();
    quotes.extend(
        summary.reason.iter().chain(&summary.cause).chain(&summary.actions).map(|e| e.quote.as_str()),
    );
    quotes.extend(summary.mentions.iter().map(|m| m.quote.as_str()));
    quotes.extend(summary.offers.iter().map(|o| o.quote.as_str()));
    quotes.extend(summary.next_steps.iter().map(|c| c.quote.as_str()));
    let mut missing = Vec::new();
    let mut count = |value: &str, in_note: bool| {
        facts += 1;
        kept += usize::from(in_note);
        if !in_note {
            missing.push(value.to_string());
        }
    };
    // "Today, …" reported mid-sentence is "says today, …": the same fact.
    for e in summary.entities.iter().filter(|e| quotes.iter().any(|q| q.contains(&e.value))) {
        count(&e.value, lower_note.contains(&e.value.to_lowercase()));
    }
    for m in summary.mentions.iter().filter(|m| m.kind == MentionKind::Competitor) {
        count(&m.text, lower_note.contains(&m.text.to_lowercase()));
    }
    // Offers are written with the style's label: the first n in the note count as kept.
    let offers_in_note = note.matches(style.labels.offer.as_str()).count();
    for (k, o) in summary.offers.iter().enumerate() {
        count(&o.quote, k < offers_in_note);
    }
    NoteStyleCheck {
        person_words,
        sentences: all.len(),
        verbatim,
        facts,
        facts_kept: kept,
        facts_missing: missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_after_marks_only() {
        assert_eq!(
            sentences("Klant wil opzeggen. Bedrag 42,50 euro. Status: opgelost."),
            ["Klant wil opzeggen.", "Bedrag 42,50 euro.", "Status: opgelost."]
        );
    }
}
