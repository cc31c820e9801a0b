//! Language detection per turn and per conversation (whatlang, restricted to European languages).

use super::types::{Conversation, Speaker};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::LazyLock;
use whatlang::{Detector, Lang};

/// A detected language as an ISO 639-1 code with whatlang's confidence (0..1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LanguageGuess {
    pub code: String,
    pub confidence: f64,
}

/// Contact centers we serve talk in these; restricting the candidates makes short texts far more reliable.
const LANGUAGES: &[(Lang, &str)] = &[
    (Lang::Nld, "nl"),
    (Lang::Eng, "en"),
    (Lang::Deu, "de"),
    (Lang::Fra, "fr"),
    (Lang::Spa, "es"),
    (Lang::Ita, "it"),
    (Lang::Por, "pt"),
    (Lang::Pol, "pl"),
    (Lang::Swe, "sv"),
    (Lang::Dan, "da"),
    (Lang::Nob, "no"),
    (Lang::Fin, "fi"),
    (Lang::Tur, "tr"),
];

/// Shorter texts ("ok", "ja hoor") are too unreliable to vote.
const MIN_CHARS: usize = 12;
const MIN_WORDS: usize = 3;

static DETECTOR: LazyLock<Detector> =
    LazyLock::new(|| Detector::with_allowlist(LANGUAGES.iter().map(|(l, _)| *l).collect()));

/// Frequent function words: on short contact-center utterances they are a sharper signal than
/// character trigrams (whatlang alone calls "how can I help you today?" Portuguese).
const FUNCTION_WORDS: &[(&str, &[&str])] = &[
    (
        "nl",
        &[
            "de", "het", "een", "ik", "je", "u", "uw", "mijn", "niet", "is", "van", "en", "dat", "wil",
            "graag", "kan", "met", "voor", "op", "ook", "maar", "heb", "heeft", "wat", "hoe", "er", "nog",
            "wordt", "zijn", "dank", "bedankt",
        ],
    ),
    (
        "en",
        &[
            "the", "a", "an", "i", "you", "your", "my", "not", "is", "of", "and", "that", "want", "would",
            "can", "with", "for", "on", "to", "but", "have", "has", "what", "how", "it", "this", "be", "are",
            "thanks", "please", "today",
        ],
    ),
    (
        "de",
        &[
            "der", "die", "das", "ein", "eine", "ich", "sie", "mein", "nicht", "ist", "und", "dass", "mit",
            "für", "auf", "aber", "habe", "wie", "seit", "weil",
        ],
    ),
    (
        "fr",
        &[
            "le", "la", "les", "un", "une", "je", "vous", "mon", "ne", "pas", "est", "et", "que", "avec",
            "pour", "sur", "mais", "depuis", "parce",
        ],
    ),
    (
        "es",
        &[
            "el", "la", "los", "un", "una", "yo", "usted", "mi", "no", "es", "y", "que", "con", "para",
            "pero", "por",
        ],
    ),
];

fn function_word_vote(text: &str) -> Option<(&'static str, f64)> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut scores: Vec<(&str, usize)> = FUNCTION_WORDS
        .iter()
        .map(|(code, list)| (*code, words.iter().filter(|w| list.contains(&w.as_str())).count()))
        .collect();
    scores.sort_by_key(|s| std::cmp::Reverse(s.1));
    let (best, runner_up) = (scores.first()?, scores.get(1).map_or(0, |s| s.1));
    // Two clear hits ahead of every other language, or we defer to the trigram model.
    (best.1 >= 2 && best.1 >= runner_up + 2).then(|| (best.0, (best.1 - runner_up) as f64 / best.1 as f64))
}

/// Detect the language of one text; `None` when it is too short or no candidate fits.
pub fn detect_language(text: &str) -> Option<LanguageGuess> {
    let text = text.trim();
    if text.chars().count() < MIN_CHARS || text.split_whitespace().count() < MIN_WORDS {
        return None;
    }
    if let Some((code, confidence)) = function_word_vote(text) {
        return Some(LanguageGuess { code: code.to_string(), confidence });
    }
    let info = DETECTOR.detect(text)?;
    let code = LANGUAGES.iter().find(|(l, _)| *l == info.lang()).map(|(_, c)| *c)?;
    Some(LanguageGuess { code: code.to_string(), confidence: info.confidence() })
}

impl Conversation {
    /// The conversation's language: a vote over its turns weighted by length and confidence, customer
    /// turns counting double (the note is written for the customer's language). Mixed conversations get
    /// their dominant language; a conversation of only very short turns is judged on its whole text.
    pub fn detect_language(&self) -> Option<String> {
        let guesses: Vec<Option<LanguageGuess>> =
            self.turns.iter().map(|t| detect_language(&t.text)).collect();
        self.language_from_guesses(&guesses)
    }

    /// The vote of [`Self::detect_language`] over per-turn guesses made earlier (one per turn, from
    /// [`detect_language`]): a live session guesses each turn once.
    pub fn language_from_guesses(&self, guesses: &[Option<LanguageGuess>]) -> Option<String> {
        let mut votes: HashMap<&str, f64> = HashMap::new();
        for (turn, guess) in self.turns.iter().zip(guesses) {
            if let Some(g) = guess {
                let weight = if turn.speaker == Speaker::Customer { 2.0 } else { 1.0 };
                *votes.entry(g.code.as_str()).or_default() +=
                    weight * g.confidence.max(0.05) * turn.text.len() as f64;
            }
        }
        if let Some((code, _)) = votes.into_iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
            return Some(code.to_string());
        }
        let all: Vec<&str> = self.turns.iter().map(|t| t.text.as_str()).collect();
        detect_language(&all.join(" ")).map(|g| g.code)
    }

    /// Per-turn languages (`None` for turns too short to tell).
    pub fn turn_languages(&self) -> Vec<Option<String>> {
        self.turns.iter().map(|t| detect_language(&t.text).map(|g| g.code)).collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::conversation::{Channel, CustomerInfo, Turn};

    fn conv(turns: &[(Speaker, &str)]) -> Conversation {
        Conversation {
            id: "t".into(),
            channel: Channel::Chat,
            language: None,
            turns: turns
                .iter()
                .enumerate()
                .map(|(index, (speaker, text))| Turn {
                    index,
                    speaker: *speaker,
                    text: text.to_string(),
                    timestamp: None,
                })
                .collect(),
            customer: CustomerInfo::default(),
            parties: Default::default(),
        }
    }

    #[test]
    fn detects_common_european_languages() {
        let cases = [
            ("Goedemiddag, ik bel omdat mijn internetverbinding al twee dagen niet werkt.", "nl"),
            ("Good afternoon, I am calling because my internet connection has been down for two days.", "en"),
            (
                "Guten Tag, ich rufe an, weil meine Internetverbindung seit zwei Tagen nicht funktioniert.",
                "de",
            ),
            (
                "Bonjour, j'appelle parce que ma connexion internet ne fonctionne plus depuis deux jours.",
                "fr",
            ),
        ];
        for (text, code) in cases {
            assert_eq!(detect_language(text).unwrap().code, code, "{text}");
        }
        assert!(detect_language("ok").is_none());
        assert!(detect_language("ja hoor").is_none());
    }

    #[test]
    fn mixed_conversation_follows_the_customer() {
        let c = conv(&[
            (Speaker::Agent, "Welcome to customer service, how can I help you today?"),
            (Speaker::Customer, "Ik wil graag mijn abonnement opzeggen want het is veel te duur geworden."),
            (Speaker::Agent, "Natuurlijk, ik help u daar graag mee. Mag ik uw klantnummer?"),
            (Speaker::Customer, "ok"),
        ]);
        assert_eq!(c.detect_language().as_deref(), Some("nl"));
        assert_eq!(c.turn_languages(), vec![Some("en".into()), Some("nl".into()), Some("nl".into()), None]);
    }

    #[test]
    fn short_turns_fall_back_to_the_whole_text() {
        let c = conv(&[(Speaker::Customer, "hallo daar"), (Speaker::Agent, "goedemorgen, zeg het maar")]);
        assert!(c.detect_language().is_some());
    }
}
