//! The quality gate of the LLM rewrite: a rewrite becomes the note only when it is in the language the
//! note is written in, does not loop, does not copy the prompt's labels and claims nothing the
//! conversation lacks. Otherwise it is withheld with the reasons, and the grounded note stands — a small
//! model's word salad must never be what an agent pastes into the CRM.

use super::claims::UnsupportedClaim;
use super::cues;
use super::rewrite::prompt_labels;
use crate::conversation::detect_language;
use crate::models::generator::StopReason;

/// Sentences shorter than this are not judged on their own language: a name or "OK, PAC code." says
/// nothing about the language of the note.
const MIN_SENTENCE_WORDS: usize = 5;

/// The language's name for messages.
fn name(code: &str) -> &str {
    match code {
        "nl" => "Dutch",
        "en" => "English",
        other => other,
    }
}

/// Why the model's `text` must not be the note (the reasons joined by "; "), or `None` when it passes.
/// `language` is the code of the language the prompt asked for (`nl` or `en`); `text` is the model's own
/// text, before the closing "Details" sentence, which only quotes grounded facts.
pub fn withhold(
    text: &str,
    stop_reason: StopReason,
    unsupported: &[UnsupportedClaim],
    language: &str,
) -> Option<String> {
    let mut why: Vec<String> = Vec::new();
    if stop_reason == StopReason::Repetition {
        why.push("it loops (generation stopped on a repeated phrase)".into());
    }
    let lower = text.to_lowercase();
    let leaked: Vec<String> = prompt_labels()
        .into_iter()
        .map(|l| format!("{}:", l.to_lowercase()))
        .filter(|l| lower.contains(l.as_str()))
        .collect();
    if !leaked.is_empty() {
        let quoted: Vec<String> = leaked.iter().map(|l| format!("\"{l}\"")).collect();
        why.push(format!("it copies the prompt's labels ({})", quoted.join(", ")));
    }
    match detect_language(text).map(|g| g.code) {
        None => why.push("it is too short to tell its language".into()),
        Some(code) if code != language => {
            why.push(format!("it is in {}, the conversation in {}", name(&code), name(language)))
        }
        Some(_) => {
            let other = cues::sentences(text).into_iter().find_map(|s| {
                let sentence = text.get(s.start..s.end)?;
                if cues::word_count(sentence) < MIN_SENTENCE_WORDS {
                    return None;
                }
                detect_language(sentence).map(|g| g.code).filter(|c| c != language)
            });
            if let Some(code) = other {
                why.push(format!("it mixes {} into a {} note", name(&code), name(language)));
            }
        }
    }
    if !unsupported.is_empty() {
        let claims: Vec<String> = unsupported.iter().map(|c| format!("\"{}\"", c.text)).collect();
        why.push(format!("it states what the conversation does not contain ({})", claims.join(", ")));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

#[cfg(test)]
mod tests {
    use super::withhold;
    use crate::models::generator::StopReason;
    use crate::tasks::summary::claims::unsupported_claims;

    const NL: &str = "De klant wil het mobiele abonnement opzeggen omdat Odido goedkoper is. De medewerker \
                      heeft de dubbele afschrijving teruggeboekt en stuurt een aanbod per e-mail.";

    #[test]
    fn a_dutch_note_in_dutch_passes() {
        assert_eq!(withhold(NL, StopReason::EndOfTurn, &[], "nl"), None);
        let en = "The customer wants to cancel the contract because of dropped calls. The agent waived the \
                  termination fee and processed the cancellation.";
        assert_eq!(withhold(en, StopReason::EndOfTurn, &[], "en"), None);
    }

    #[test]
    fn an_english_or_mixed_note_for_a_dutch_conversation_is_withheld() {
        let en = "The customer wants to cancel the subscription because another provider is cheaper.";
        assert_eq!(
            withhold(en, StopReason::EndOfTurn, &[], "nl").as_deref(),
            Some("it is in English, the conversation in Dutch")
        );
        let mixed = format!("{NL} The agent also sent an email with the offer to the customer.");
        assert_eq!(
            withhold(&mixed, StopReason::EndOfTurn, &[], "nl").as_deref(),
            Some("it mixes English into a Dutch note")
        );
    }

    #[test]
    fn prompt_labels_loops_and_claims_are_each_a_reason() {
        let leaked =
            "De klant wil opzeggen. What the agent did: De reden is; de medewerker heeft teruggeboekt.";
        let why = withhold(leaked, StopReason::EndOfTurn, &[], "nl").unwrap_or_default();
        assert!(why.contains("it copies the prompt's labels (\"what the agent did:\")"), "{why}");

        let why = withhold(NL, StopReason::Repetition, &[], "nl").unwrap_or_default();
        assert_eq!(why, "it loops (generation stopped on a repeated phrase)");

        let invented =
            "De klant wil opzeggen per 1 maart. De medewerker heeft 99 euro teruggeboekt aan de klant.";
        let claims = unsupported_claims(invented, &["Ik wil opzeggen.", "Ik boek 42,50 euro terug."]);
        assert!(!claims.is_empty());
        let why = withhold(invented, StopReason::EndOfTurn, &claims, "nl").unwrap_or_default();
        assert!(
            why.starts_with("it states what the conversation does not contain (") && why.contains("99"),
            "{why}"
        );

        // Several problems: every reason is given.
        let why = withhold("Outcome: resolved resolved resolved.", StopReason::Repetition, &[], "nl")
            .unwrap_or_default();
        assert!(why.contains("loops") && why.contains("\"outcome:\""), "{why}");
    }
}
