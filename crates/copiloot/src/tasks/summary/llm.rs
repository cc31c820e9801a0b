//! The optional LLM rewrite of a grounded summary: its fields and the turns (masked unless redaction is
//! off) go to the local generator; the note that comes back keeps the fields' evidence, lists every
//! number, date or name the conversation does not contain, and gets the grounded facts the model dropped
//! back in one closing "Details: …" sentence (a small model keeps few of them on its own).

use super::compose::{self, NoteStyle, Voice};
use super::gate;
use super::rewrite::{rewrite_messages, rewrite_summary, GroundedField, PromptTurn, Rewrite};
use super::Summary;
use crate::conversation::{Conversation, Speaker};
use crate::error::Result;
use crate::models::generator::{GenerationOptions, Generator, Repetition, StopReason};

/// The summary's fields as the generator sees them, each with its turns: the composer's third-person
/// sentences ("Klant wil abonnement opzeggen"), not the first-person quotes, which a small model tends
/// to continue rather than report.
pub fn grounded_fields(summary: &Summary, style: &NoteStyle) -> Vec<GroundedField> {
    let field = |name: &str, text: String, turns: &[usize]| GroundedField {
        name: name.to_string(),
        text,
        turns: turns.to_vec(),
    };
    let names = compose::capitals(&summary.mentions, style);
    let say = |text: &str, voice: Voice| compose::clause(text, voice, style, &names);
    let mut fields = Vec::new();
    if let Some(r) = &summary.reason {
        fields.push(field("reason", say(&r.quote, Voice::Customer), &r.turns));
    }
    for o in &summary.offers {
        fields.push(field("offer", compose::offer_item(o, style), &o.turns));
    }
    for a in &summary.actions {
        fields.push(field("action", say(&a.quote, Voice::Agent), &a.turns));
    }
    let status = serde_json::to_value(summary.resolution.status).ok();
    let status = status.as_ref().and_then(|v| v.as_str()).unwrap_or("unknown").to_string();
    let resolution = match summary.resolution.quote.as_str() {
        "" => status,
        quote => format!("{status} ({})", say(quote, Voice::Agent)),
    };
    fields.push(field("resolution", resolution, &summary.resolution.turns));
    for n in &summary.next_steps {
        let due = n.due.as_deref().map(|d| format!(" (due: {d})")).unwrap_or_default();
        let said = say(&n.what, compose::voice(n.who));
        fields.push(field("next step", format!("{}{due}", said.trim_end_matches('.')), &n.turns));
    }
    fields
}

/// Rewrite `summary` with `generator`. `display` holds one text per turn (the masked texts unless
/// redaction is off). The whole transcript goes into the prompt when it fits the model's context next
/// to `options.max_tokens` new tokens; otherwise only the cited turns do (`Rewrite::prompt_turns` says
/// which), so a long conversation still gets a note rather than an error.
///
/// The grounded facts (`summary.entities`) the model's text does not mention are listed in
/// `missing_facts` and appended in a closing sentence (`restored_facts`), which `on_token` receives as the
/// last piece: the streamed pieces stay the note. A cancelled stream gets no closing sentence.
///
/// The generation stops on a loop unless `options.repetition` says otherwise, and the model's text goes
/// through the quality gate ([`gate::withhold`]): a rewrite in another language than the note's, a loop,
/// a prompt label or an unsupported claim sets `Rewrite::withheld` (the text is kept for inspection, gets
/// no closing sentence, and the grounded note stands).
pub fn rewrite(
    generator: &Generator,
    summary: &Summary,
    style: &NoteStyle,
    conversation: &Conversation,
    display: &[String],
    options: &GenerationOptions,
    on_token: &mut dyn FnMut(&str) -> bool,
) -> Result<Rewrite> {
    let fields = grounded_fields(summary, style);
    let (code, language) = if summary.language == "nl" { ("nl", "Dutch") } else { ("en", "English") };
    // A loop is never a note: the guard is on unless the caller turned it off.
    let options = &GenerationOptions {
        repetition: options.repetition.guard(true).map_or(Repetition::Off, Repetition::Stop),
        ..options.clone()
    };
    let all: Vec<PromptTurn> = conversation
        .turns
        .iter()
        .zip(display)
        .map(|(t, text)| PromptTurn { index: t.index, speaker: speaker_name(t.speaker), text: text.clone() })
        .collect();
    let turns = if fits(generator, &fields, &all, language, options.max_tokens)? {
        all
    } else {
        let cited: Vec<usize> = fields.iter().flat_map(|f| f.turns.iter().copied()).collect();
        all.into_iter().filter(|t| cited.contains(&t.index)).collect()
    };
    // The untrimmed streamed text decides how the closing sentence joins it (see `closing_piece`).
    let mut streamed = String::new();
    let mut rewrite = rewrite_summary(generator, &fields, &turns, language, options, &mut |piece| {
        streamed.push_str(piece);
        on_token(piece)
    })?;
    rewrite.withheld = gate::withhold(&rewrite.text, rewrite.stop_reason, &rewrite.unsupported_claims, code);
    rewrite.missing_facts = summary
        .entities
        .iter()
        .filter(|e| !mentions(&rewrite.text, &e.value))
        .map(|e| e.value.clone())
        .collect();
    let shown = rewrite.withheld.is_none() && rewrite.stop_reason != StopReason::Cancelled;
    if shown && !rewrite.missing_facts.is_empty() {
        let piece = closing_piece(&streamed, &rewrite.missing_facts);
        on_token(&piece);
        rewrite.text = format!("{streamed}{piece}").trim().to_string();
        rewrite.restored_facts = rewrite.missing_facts.clone();
    }
    Ok(rewrite)
}

/// The closing sentence that re-adds `facts` to a note whose streamed text so far is `streamed`, with the
/// separator it needs: ". " after an unfinished sentence, " " after a finished one, nothing after
/// whitespace (which the pieces already carry). "Details" reads the same in Dutch and English.
fn closing_piece(streamed: &str, facts: &[String]) -> String {
    let note = streamed.trim_end();
    let separator = if note.is_empty() || streamed.len() > note.len() {
        ""
    } else if note.ends_with(['.', '!', '?', '…']) {
        " "
    } else {
        ". "
    };
    format!("{separator}Details: {}.", facts.join(", "))
}

/// Whether `text` mentions `fact`: all its digit groups ("order 5521-0098" → 5521, 0098) occur in `text`
/// as whole numbers, or — for a fact without digits ("tomorrow") — its words occur, ignoring case.
fn mentions(text: &str, fact: &str) -> bool {
    let numbers = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_ascii_digit()).filter(|n| !n.is_empty()).map(str::to_string).collect()
    };
    let wanted = numbers(fact);
    if wanted.is_empty() {
        return text.to_lowercase().contains(&fact.to_lowercase());
    }
    let present = numbers(text);
    wanted.iter().all(|n| present.contains(n))
}

fn speaker_name(speaker: Speaker) -> String {
    match speaker {
        Speaker::Customer => "Customer",
        Speaker::Agent => "Agent",
        Speaker::Bot => "Bot",
        Speaker::System => "System",
    }
    .to_string()
}

/// Whether the prompt leaves room for `max_tokens` new tokens in the model's context.
fn fits(
    generator: &Generator,
    fields: &[GroundedField],
    turns: &[PromptTurn],
    language: &str,
    max_tokens: usize,
) -> Result<bool> {
    let prompt = generator.render_prompt(&rewrite_messages(fields, turns, language))?;
    let ids = generator.encode_prompt(&prompt)?;
    Ok(ids.len() + max_tokens < generator.info().context_length)
}

#[cfg(test)]
mod tests {
    use super::{closing_piece, mentions};

    #[test]
    fn the_closing_sentence_joins_the_note_and_restores_every_fact() {
        let facts = vec!["order 5521-0098".to_string(), "€49,95".to_string(), "tomorrow".to_string()];
        let cases = [
            ("The customer's parcel is late.", " Details: order 5521-0098, €49,95, tomorrow."),
            ("The customer's parcel is late.\n", "Details: order 5521-0098, €49,95, tomorrow."),
            ("The customer asked about", ". Details: order 5521-0098, €49,95, tomorrow."),
            ("", "Details: order 5521-0098, €49,95, tomorrow."),
        ];
        for (streamed, piece) in cases {
            assert_eq!(closing_piece(streamed, &facts), piece, "{streamed:?}");
            let note = format!("{streamed}{piece}");
            assert!(facts.iter().all(|f| mentions(&note, f)), "{note}");
        }
    }

    #[test]
    fn facts_are_found_by_their_numbers_or_their_words() {
        assert!(mentions("Replacement sent for order 5521/0098.", "order 5521-0098"));
        assert!(!mentions("Replacement sent for order 5521.", "order 5521-0098"));
        assert!(!mentions("Costs 19.99 in total", "9.99"));
        assert!(mentions("It arrives Tomorrow.", "tomorrow"));
        assert!(!mentions("It arrives soon.", "tomorrow"));
    }
}
