//! Third person from a turn's sentence: "Ik wil mijn abonnement opzeggen" → "Klant wil abonnement
//! opzeggen", "I'll send you the label" → "Agent will send customer the label". Word tables and a few
//! agreement rules from the language's [`NoteStyle`]; numbers, dates, amounts and names are never touched.

use super::style::{Agreement, NoteStyle, Nouns, Role};
use regex::Regex;
use std::sync::LazyLock;

/// A word: letters and digits with inner apostrophes; a hyphen joins only after a single letter
/// ("U-Tunes", "e-mail"), so "verizon-you" is two words and its pronoun is seen.
static WORD: LazyLock<Option<Regex>> = LazyLock::new(|| {
    super::super::cues::re(r"[\p{L}\p{N}]-[\p{L}\p{N}][\p{L}\p{N}'’\-]*|[\p{L}\p{N}][\p{L}\p{N}'’]*")
});

/// The words of `text` (see [`WORD`]); the note-style check reads notes with the same words.
pub(crate) fn words(text: &str) -> Vec<regex::Match<'_>> {
    WORD.as_ref().map(|r| r.find_iter(text).collect()).unwrap_or_default()
}

/// Who says the sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voice {
    Customer,
    Agent,
}

struct Token {
    start: usize,
    end: usize,
    lower: String,
    /// The replacement, when the word changes.
    out: Option<String>,
}

/// True when the text between two words ends a clause (a comma, colon, dash or sentence mark).
fn breaks(gap: &str) -> bool {
    gap.chars().any(|c| matches!(c, ',' | ';' | ':' | '.' | '!' | '?' | '(' | ')' | '–' | '—' | '"'))
}

/// `word` agreed with a third-person subject by the table, else the first matching rule.
fn agree(word: &str, agreement: &Agreement, style: &NoteStyle) -> Option<String> {
    if let Some(w) = agreement.table.get(word) {
        return Some(w.clone());
    }
    if style.unchanged.contains(word)
        || style.not_verbs.contains(word)
        || word.chars().any(|c| c.is_numeric())
    {
        return None;
    }
    let (rule, with) = agreement.rules.iter().find(|(r, _)| r.is_match(word))?;
    Some(rule.replace(word, with.as_str()).into_owned())
}

/// The third-person form of a subject's verb: the speaker's own (and a plural "jullie") by table and
/// rules; the singular "u"/"you" inside a clause only by its table, because it is as often an object
/// there ("ik stuur u").
fn verb_form(
    word: &str,
    own: bool,
    plural: bool,
    agreement: &Agreement,
    style: &NoteStyle,
) -> Option<String> {
    if own || plural {
        agree(word, agreement, style)
    } else {
        style.other.table.get(word).cloned()
    }
}

/// Keeps the case of the first letter of `original`.
fn like(original: &str, replacement: &str) -> String {
    let upper = original.chars().next().is_some_and(char::is_uppercase);
    if upper {
        capitalize(replacement)
    } else {
        replacement.to_string()
    }
}

pub fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The nouns of the speaker and of the one spoken to.
fn parties(voice: Voice, n: &Nouns) -> (&String, &String) {
    match voice {
        Voice::Customer => (&n.customer, &n.agent),
        Voice::Agent => (&n.agent, &n.customer),
    }
}

/// `template` with the style's nouns: `{self}` / `{other}` (the speaker's and the addressee's),
/// `{customer}`, `{agent}`, `{company}`.
pub fn fill(template: &str, voice: Voice, style: &NoteStyle) -> String {
    let n = &style.nouns;
    let (own, other) = parties(voice, n);
    template
        .replace("{self}", own)
        .replace("{other}", other)
        .replace("{customer}", &n.customer)
        .replace("{agent}", &n.agent)
        .replace("{company}", &n.company)
}

/// The sentence in the third person: the speaker's and the addressee's pronouns become the note's nouns
/// (or are dropped, like "mijn" before a noun), and the verbs of those subjects agree.
pub fn third_person(text: &str, voice: Voice, style: &NoteStyle) -> String {
    let n = &style.nouns;
    let (own_noun, other_noun) = parties(voice, n);
    let fill = |template: &str| fill(template, voice, style);
    let mut tokens: Vec<Token> = words(text)
        .into_iter()
        .map(|m| Token {
            start: m.start(),
            end: m.end(),
            lower: m.as_str().to_lowercase().replace('’', "'"),
            out: None,
        })
        .collect();
    let gap = |tokens: &[Token], i: usize| -> &str {
        let from = if i == 0 { 0 } else { tokens[i - 1].end };
        &text[from..tokens[i].start]
    };
    for i in 0..tokens.len() {
        if tokens[i].out.is_some() {
            continue;
        }
        let lower = tokens[i].lower.clone();
        // A capital inside a sentence makes a name of the word ("Mijn KPN"), except English "I".
        let capital = text[tokens[i].start..].starts_with(char::is_uppercase);
        let sentence_start = i == 0 || gap(&tokens, i).contains(['.', '!', '?', ':', '\n']);
        if capital && !sentence_start && !style.capitalized.contains(&lower) {
            continue;
        }
        if let Some(&(role, plural)) = style.subjects.get(&lower) {
            // After "en"/"maar" a main clause starts again ("… en ik heb").
            let clause_start = i == 0 || breaks(gap(&tokens, i)) || {
                let prev = &tokens[i - 1].lower;
                style.connectives.contains(prev) || style.openers.contains(prev)
            };
            let after_subordinator = !clause_start && style.subordinators.contains(&tokens[i - 1].lower);
            let own = role == Role::Own;
            let agreement = if plural { &style.plural } else { &style.own };
            // Which word is the verb: the previous one in an inverted verb-second clause ("Nu wil ik"),
            // else the next one after adverbs ("I really need").
            let mut verb: Option<(usize, String)> = None;
            // An auxiliary right before the subject is its verb in a question ("Where do I …", "Can you …").
            let asks =
                !style.verb_second && !clause_start && style.auxiliaries.contains(&tokens[i - 1].lower);
            // "let you know": an object, whatever follows.
            let object = !own && !asks && !clause_start && style.object_after.contains(&tokens[i - 1].lower);
            if object {
                // No verb of its own: replaced as an object below.
            } else if (style.verb_second && !clause_start && !after_subordinator) || asks {
                let prev = &tokens[i - 1].lower;
                verb = verb_form(prev, own, plural, agreement, style).map(|f| (i - 1, f));
            } else if !after_subordinator {
                let mut j = i + 1;
                while j < tokens.len() && style.is_adverb(&tokens[j].lower) && !breaks(gap(&tokens, j)) {
                    j += 1;
                }
                if j < tokens.len() && !breaks(gap(&tokens, j)) {
                    let next = &tokens[j].lower;
                    verb = verb_form(next, own, plural, agreement, style).map(|f| (j, f));
                    // "You look great": opening its clause, "you" is the subject.
                    if verb.is_none() && !own && clause_start {
                        verb = agree(next, &style.other, style).map(|f| (j, f));
                    }
                }
            } else {
                // A subordinate clause keeps its verbs at the end: agree the known forms up to its end.
                // A plural verb not in the table is the clause's last word ("dat jullie snel reageren").
                let table = if own || plural { &agreement.table } else { &style.other.table };
                let mut last = i;
                for j in i + 1..tokens.len() {
                    if breaks(gap(&tokens, j)) {
                        break;
                    }
                    last = j;
                    if let Some(f) = table.get(&tokens[j].lower) {
                        verb = Some((j, f.clone()));
                        break;
                    }
                }
                if verb.is_none() && plural && last > i {
                    verb = agree(&tokens[last].lower, agreement, style).map(|f| (last, f));
                }
            }
            // "jullie" said to the agent means the company.
            let subject = if own {
                own_noun
            } else if plural {
                &n.company
            } else {
                other_noun
            };
            match verb {
                Some((j, form)) => {
                    let original = &text[tokens[j].start..tokens[j].end];
                    tokens[j].out = Some(like(original, &form));
                    tokens[i].out = Some(subject.clone());
                }
                // An ambiguous "u"/"you" without a verb of its own is an object or a possessive.
                None if !own => {
                    let word =
                        style.words.get(&lower).map(|(_, w)| fill(w)).unwrap_or_else(|| subject.clone());
                    tokens[i].out = Some(word);
                }
                None => tokens[i].out = Some(subject.clone()),
            }
        } else if let Some(replacement) = style.start_words.get(&lower).filter(|_| sentence_start) {
            tokens[i].out = Some(fill(replacement));
        } else if let Some((_, replacement)) = style.words.get(&lower) {
            tokens[i].out = Some(fill(replacement));
        }
        if sentence_start {
            tokens[i].out = tokens[i].out.as_deref().map(capitalize);
        }
    }
    // Rebuild: changed words in place, a dropped word takes the space before it along.
    let mut out = String::with_capacity(text.len() + 16);
    let mut at = 0;
    // A dropped first word hands its capital to the next ("Mijn internet valt" → "Internet valt").
    let mut capital_next = false;
    for (i, t) in tokens.iter().enumerate() {
        let before = &text[at..t.start];
        let word = match &t.out {
            Some(w) => w.clone(),
            None if capital_next => capitalize(&text[t.start..t.end]),
            None => continue,
        };
        let first = i == 0 || before.contains(['.', '!', '?', ':', '\n']);
        capital_next = word.is_empty() && (first || capital_next);
        if word.is_empty() {
            out.push_str(before.strip_suffix(' ').unwrap_or(before));
        } else {
            out.push_str(before);
            out.push_str(&word);
        }
        at = t.end;
    }
    out.push_str(&text[at..]);
    let out = out.trim_start_matches([' ', ',']).to_string();
    // The first word keeps sentence case: "ik …" → "Klant …", and "klant" inside stays lower case.
    if text.trim_start().chars().next().is_some_and(char::is_uppercase) {
        capitalize(&out)
    } else {
        out
    }
}

/// Lower case first letter, unless the first word is an acronym ("DM", "PAC") or one of `names` (a
/// competitor such as "Three" opening the sentence).
pub fn uncapitalize(text: &str, names: &[&str]) -> String {
    let first = words(text).first().map_or("", |m| m.as_str());
    if names.iter().any(|n| n.split_whitespace().next() == Some(first)) {
        return text.to_string();
    }
    let mut chars = text.chars();
    match (chars.next(), chars.clone().next()) {
        (Some(c), next) if !next.is_some_and(char::is_uppercase) => c.to_lowercase().chain(chars).collect(),
        _ => text.to_string(),
    }
}

/// The imperative an agent's sentence opens with ("Please DM us your order" → "DM us your order"), when
/// it is one: its first word, after the politeness words, is one of the style's request verbs. A question
/// that asks for the same ("Can you please DM us your order?") is one too, without its lead and mark.
pub fn request<'t>(text: &'t str, style: &NoteStyle) -> Option<&'t str> {
    if style.request_lead.is_empty() {
        return None;
    }
    let text = text.trim();
    let lower = text.to_lowercase();
    let lead = style.request_questions.iter().find(|q| {
        lower.starts_with(q.as_str())
            && lower.get(q.len()..).is_some_and(|r| r.starts_with(char::is_whitespace))
    });
    // A question mark may be missing: "Can you DM us the details and we will look into it."
    let text = match (lead, text.strip_suffix('?')) {
        (Some(lead), question) => question.unwrap_or(text).get(lead.len()..)?.trim_start(),
        (None, Some(_)) => return None,
        (None, None) => text,
    };
    let mut rest = text;
    for m in words(text) {
        let word = m.as_str().to_lowercase();
        if style.request_drop.contains(&word) {
            rest = text[m.end()..].trim_start_matches([',', ' ']);
            continue;
        }
        return style.request_verbs.contains(&word).then_some(rest);
    }
    None
}

/// The sentence without a leading interjection or connective ("Ja, doe dat" → "doe dat").
pub fn drop_opener(text: &str, style: &NoteStyle) -> String {
    let mut rest = text.trim_start();
    loop {
        let Some(m) = words(rest).into_iter().next() else { return rest.to_string() };
        let word = m.as_str().to_lowercase();
        let after = &rest[m.end()..];
        // "Yes, …", "dear , …" (a handle dropped before the comma), "Ok - …".
        let punctuated = after.trim_start().starts_with([',', '!', '.', '–', '-']);
        // "Hi there, …", "Hoi Sanne, …": the greeting and whom it greets, up to the comma (two words at most).
        let addressee = after.split_once(',').map(|(who, _)| who).filter(|who| {
            let names = who.split_whitespace();
            (1..=2).contains(&names.clone().count())
                && names.into_iter().all(|w| {
                    w.starts_with(char::is_uppercase) && w.chars().all(char::is_alphabetic)
                        || style.addressees.contains(&w.to_lowercase())
                })
        });
        if let Some(who) = addressee.filter(|_| m.start() == 0 && style.greetings.contains(&word)) {
            rest = after[who.len() + 1..].trim_start();
            continue;
        }
        let opener = (style.openers.contains(&word) && punctuated) || style.connectives.contains(&word);
        if m.start() != 0 || !opener {
            return rest.to_string();
        }
        rest = after.trim_start_matches([',', '!', '.', ' ', '–', '-']);
        if rest.is_empty() {
            return String::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::style::NoteStyles;
    use super::*;

    fn nl(text: &str, voice: Voice) -> String {
        third_person(text, voice, NoteStyles::builtin().unwrap().get("nl"))
    }

    fn en(text: &str, voice: Voice) -> String {
        third_person(text, voice, NoteStyles::builtin().unwrap().get("en"))
    }

    #[test]
    fn dutch_sentences_become_third_person() {
        assert_eq!(
            nl("Ik wil mijn mobiele abonnement opzeggen.", Voice::Customer),
            "Klant wil mobiele abonnement opzeggen."
        );
        assert_eq!(
            nl(
                "Ik betaal nu 42,50 euro per maand en bij Odido krijg ik hetzelfde voor 25 euro.",
                Voice::Customer
            ),
            "Klant betaalt nu 42,50 euro per maand en bij Odido krijgt klant hetzelfde voor 25 euro."
        );
        assert_eq!(
            nl("Ik stuur u vandaag nog een e-mail met het aanbod.", Voice::Agent),
            "Medewerker stuurt klant vandaag nog een e-mail met het aanbod."
        );
        assert_eq!(
            nl("Ik heb de terugboeking ingediend, het bedrag staat binnen vijf werkdagen weer op uw rekening.", Voice::Agent),
            "Medewerker heeft de terugboeking ingediend, het bedrag staat binnen vijf werkdagen weer op rekening."
        );
        assert_eq!(
            nl("Dan kunt u opzeggen via Mijn KPN.", Voice::Agent),
            "Dan kan klant opzeggen via Mijn KPN."
        );
        assert_eq!(
            nl("Dit is al de derde keer deze maand dat ik bel over mijn rekening.", Voice::Customer),
            "Dit is al de derde keer deze maand dat klant belt over rekening."
        );
        assert_eq!(nl("We sturen een nieuwe modem.", Voice::Agent), "Medewerker stuurt een nieuwe modem.");
        assert_eq!(nl("We praten morgen verder.", Voice::Agent), "Medewerker praat morgen verder.");
        assert_eq!(nl("Maar ik ga wel kijken.", Voice::Customer), "Maar klant gaat wel kijken.");
        assert_eq!(
            nl("Fijn dat jullie zo snel reageren.", Voice::Customer),
            "Fijn dat het bedrijf zo snel reageert."
        );
        assert_eq!(
            nl("Ik ben het zat. Mijn internet valt uit.", Voice::Customer),
            "Klant is het zat. Internet valt uit."
        );
        assert_eq!(
            nl("Dan heb je het donderdag in huis.", Voice::Agent),
            "Dan heeft klant het donderdag in huis."
        );
    }

    #[test]
    fn english_sentences_become_third_person() {
        assert_eq!(
            en("I want to cancel my contract.", Voice::Customer),
            "Customer wants to cancel their contract."
        );
        assert_eq!(en("I've already called twice.", Voice::Customer), "Customer has already called twice.");
        assert_eq!(
            en("I'll send you the return label today.", Voice::Agent),
            "Agent will send customer the return label today."
        );
        assert_eq!(
            en("You will receive a refund of £20.", Voice::Agent),
            "Customer will receive a refund of £20."
        );
        assert_eq!(en("I really need this fixed.", Voice::Customer), "Customer really needs this fixed.");
        assert_eq!(en("We have processed your refund.", Voice::Agent), "Agent has processed the refund.");
        assert_eq!(en("I called on Monday.", Voice::Customer), "Customer called on Monday.");
        assert_eq!(
            en("My speed drops every evening. I pay for 80 Mbps.", Voice::Customer),
            "Customer's speed drops every evening. Customer pays for 80 Mbps."
        );
        assert_eq!(en("I pay you 20 pounds.", Voice::Customer), "Customer pays agent 20 pounds.");
        assert_eq!(en("Where do I write to?", Voice::Customer), "Where does customer write to?");
        assert_eq!(
            en("I hope I can get you up and running, let you know, if you see it.", Voice::Agent),
            "Agent hopes agent can get customer up and running, let customer know, if customer sees it."
        );
        assert_eq!(en("Have You seen this before?", Voice::Customer), "Has agent seen this before?");
        assert_eq!(
            en("You look great, and I'll call.", Voice::Agent),
            "Customer looks great, and agent will call."
        );
    }

    #[test]
    fn agent_requests_are_reported() {
        let styles = NoteStyles::builtin().unwrap();
        let en = styles.get("en");
        assert_eq!(request("Please DM us your order number.", en), Some("DM us your order number."));
        assert_eq!(request("We will look into it.", en), None);
        assert_eq!(request("Can you DM us?", en), Some("DM us"));
        assert_eq!(request("Can you hear me?", en), None);
        assert_eq!(request("Do you have the receipt?", en), None);
        assert_eq!(
            request("Can you DM us the details and we will look into it.", en),
            Some("DM us the details and we will look into it.")
        );
        let note = super::super::clause("Please DM us your order number.", Voice::Agent, en, &[]);
        assert_eq!(note, "Agent asks customer to DM agent the order number.");
        let asked = "Could you please DM us your name and local store so we can log the feedback?";
        assert_eq!(
            super::super::clause(asked, Voice::Agent, en, &[]),
            "Agent asks customer to DM agent the name and local store so agent can log the feedback."
        );
        assert_eq!(
            super::super::clause("I accidentally put a wrong title.", Voice::Customer, en, &[]),
            "Customer accidentally put a wrong title."
        );
        // Negated auxiliaries stay as they are ("won't", not "won'ts").
        assert_eq!(
            super::super::clause("We won't be able to discuss that account.", Voice::Agent, en, &[]),
            "Agent won't be able to discuss that account."
        );
    }

    #[test]
    fn openers_are_dropped() {
        let styles = NoteStyles::builtin().unwrap();
        assert_eq!(drop_opener("Ja, doe dat in ieder geval.", styles.get("nl")), "doe dat in ieder geval.");
        assert_eq!(drop_opener("Okay, I see.", styles.get("en")), "I see.");
        assert_eq!(drop_opener("dear , the website is down", styles.get("en")), "the website is down");
        let en = styles.get("en");
        assert_eq!(drop_opener("Hey there, I have a package stuck.", en), "I have a package stuck.");
        assert_eq!(drop_opener("Hi Chris, which card is this?", en), "which card is this?");
        assert_eq!(
            drop_opener("Hoi Sanne, mijn pakket is er niet.", styles.get("nl")),
            "mijn pakket is er niet."
        );
        // Not an addressee: the words stay.
        assert_eq!(drop_opener("Hey it broke, help", en), "Hey it broke, help");
        assert_eq!(drop_opener("Hi I need help, now", en), "Hi I need help, now");
        assert_eq!(drop_opener("Nee dank u", styles.get("nl")), "Nee dank u");
        assert_eq!(drop_opener("En ik kan u", styles.get("nl")), "ik kan u");
    }
}
