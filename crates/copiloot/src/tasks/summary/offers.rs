//! Offers and proposals the agent made ("Ik kan een monteur inplannen …", "I can offer you a free month")
//! and how the customer answered them (accepted, declined, thinking about it, or not at all), each with
//! its turns and quotes: a note must say "aanbod afgewezen", not only quote the offer. Regexes in Dutch
//! and English, like the other cues (`cues.rs`).

use super::cues::{hit, re};
use super::fields::{company_speaker, quote};
use super::TurnState;
use crate::conversation::Speaker;
use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// Offers listed at most (the first ones: later ones are usually the same offer again).
const MAX_OFFERS: usize = 4;

/// How the customer answered an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OfferResponse {
    Accepted,
    Declined,
    /// The customer will think about it or come back to it.
    Considering,
    /// No answer before the next offer or the end of the conversation.
    Open,
}

/// A proposal of the agent and the customer's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Offer {
    /// The proposing sentence, as said.
    pub quote: String,
    pub response: OfferResponse,
    /// The offer's turn, then the answering turn when there is one.
    pub turns: Vec<usize>,
    /// The answering sentence (empty when `open`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub response_quote: String,
}

static OFFER: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:(?:i|we) (?:can|could|would like to|'d like to) (?:also )?(?:offer|give|arrange|schedule|book|send|credit|waive|upgrade|refund|apply|extend)|can i offer|would you like (?:me to|us to|a|an|to)|shall i|how about|(?:a|one|two|three|\d+) (?:free months?|months? (?:for )?free)|discount of|goodwill (?:credit|gesture)|(?:ik|wij|we) (?:kan|kunnen|zou|zouden) (?:u|je|jou)? ?(?:\S+ ){0,8}?(?:aanbieden|geven|inplannen|regelen|sturen|terugboeken|crediteren|kwijtschelden|upgraden|verlengen|aanbod doen)|zal ik|wilt u (?:dat|misschien|graag)|wat vindt u van|(?:een|twee|drie|\d+) maand(?:en)? gratis|korting van|een aanbod)\b",
    )
});
/// Checked first: "nee, dank u" thanks but declines.
static DECLINE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)(?:^\W*(?:nee|neen|no|nope)\b|\bno,? thanks?\b|\bnot interested\b|\bgeen interesse\b|\bhoeft (?:niet|al niet)\b|\bwil ik niet\b|\b(?:i )?(?:don't|do not) want (?:it|that|this|one)\b|\blaat (?:maar|u maar)\b|\bnever ?mind\b|\b(?:daar )?(?:heb|hebben) (?:ik|we) (?:niks|niets) (?:meer )?aan\b|\bheeft (?:geen|weinig) zin\b|\bno point\b|\btoo late\b|\bte laat\b|\b(?:ik wil|i (?:just )?want to) (?:gewoon |toch |just |still )?(?:opzeggen|cancel|stoppen|leave)\b|\bniet nodig\b|\bnot (?:necessary|needed)\b)",
    )
});
static CONSIDER: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:nadenken|bedenken|denk er (?:nog )?over|erover denken|think (?:about it|it over|about that)|consider it|let you know|laat (?:het )?(?:u|je|jullie) (?:nog )?weten|kom (?:er )?(?:nog )?op terug|get back to you on)\b",
    )
});
static ACCEPT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)(?:^\W*(?:ja|jawel|yes|yeah|yep|sure|graag|prima|akkoord|perfect|deal|absolutely|please)\b|\b(?:doe (?:dat|maar)|dat is goed|is goed|klinkt goed|sounds (?:good|great)|that works|that would be (?:great|good|nice)|please do|go ahead|i'll take (?:it|that)|let's do (?:it|that)|ja graag|dat wil ik (?:wel|graag)|dat helpt|that helps)\b|\bgraag\W*$)",
    )
});

/// A sentence that names an offer ("over het aanbod wil ik nadenken"): it may answer one made earlier.
static NAMES_OFFER: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"(?i)\b(?:aanbod|aanbieding|voorstel|korting|offer|deal|proposal|discount)\b"));

/// The customer's answer in one sentence, if it is one.
fn answer(sentence: &str) -> Option<OfferResponse> {
    if hit(&DECLINE, sentence) {
        Some(OfferResponse::Declined)
    } else if hit(&CONSIDER, sentence) {
        Some(OfferResponse::Considering)
    } else if hit(&ACCEPT, sentence) {
        Some(OfferResponse::Accepted)
    } else {
        None
    }
}

/// Whether an agent sentence proposes something.
pub fn is_offer(sentence: &str) -> bool {
    hit(&OFFER, sentence)
}

/// The agent's offers in order (one per turn, its first proposing sentence), each answered by the first
/// customer sentence that accepts, declines or defers before the agent's next offer; an offer left
/// unanswered there takes a later answer that names an offer ("over het aanbod wil ik nog nadenken").
pub(crate) fn offers(states: &[TurnState]) -> Vec<Offer> {
    let company = company_speaker(states);
    let offering: Vec<(usize, usize, usize)> = states
        .iter()
        .enumerate()
        .filter(|(_, s)| s.speaker == company)
        .filter_map(|(i, s)| {
            let x = s.sentences.iter().find(|x| !x.cues.filler && is_offer(&s.text[x.start..x.end]))?;
            Some((i, x.start, x.end))
        })
        .take(MAX_OFFERS)
        .collect();
    offering
        .iter()
        .enumerate()
        .map(|(k, &(i, start, end))| {
            let until = offering.get(k + 1).map_or(states.len(), |next| next.0);
            let customer = |from: usize, to: usize| {
                states[from..to].iter().filter(|s| s.speaker == Speaker::Customer).collect::<Vec<_>>()
            };
            let first_answer = |turns: Vec<&TurnState>, named: bool| {
                turns.into_iter().find_map(|s| {
                    s.sentences.iter().find_map(|x| {
                        let text = &s.text[x.start..x.end];
                        let r = answer(text).filter(|_| !named || hit(&NAMES_OFFER, text))?;
                        Some((r, s.index, quote(s, x.start, x.end)))
                    })
                })
            };
            let answered = first_answer(customer(i + 1, until), false)
                .or_else(|| first_answer(customer(until, states.len()), true));
            let mut turns = vec![states[i].index];
            let (response, response_quote) = match answered {
                Some((r, turn, q)) => {
                    turns.push(turn);
                    (r, q)
                }
                None => (OfferResponse::Open, String::new()),
            };
            Offer { quote: quote(&states[i], start, end), response, turns, response_quote }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_in_both_languages() {
        for s in [
            "Ik kan een monteur inplannen voor donderdag tussen 8 en 12 uur en u een maand gratis geven.",
            "Daarnaast kan ik u een aanbod doen: hetzelfde abonnement voor 29,50 euro per maand.",
            "Zal ik de terugboeking alvast regelen?",
            "I can offer you three months free if you stay.",
            "Would you like me to book an engineer?",
        ] {
            assert!(is_offer(s), "{s}");
        }
        for s in [
            "Ik kijk het even voor u na.",
            "Uw contract loopt nog tot 1 februari.",
            "I have reset your line.",
        ] {
            assert!(!is_offer(s), "{s}");
        }
    }

    #[test]
    fn answers_in_both_languages() {
        use OfferResponse::*;
        for (s, want) in [
            ("Nee, daar heb ik niks meer aan. Ik wil gewoon opzeggen.", Some(Declined)),
            ("Nee dank u.", Some(Declined)),
            ("No thanks, I just want to cancel.", Some(Declined)),
            ("Over het aanbod wil ik nog even nadenken.", Some(Considering)),
            ("I'll think about it.", Some(Considering)),
            ("Ja, doe dat in ieder geval.", Some(Accepted)),
            ("Dat helpt, graag.", Some(Accepted)),
            ("Yes please, that would be great.", Some(Accepted)),
            ("Hmm, dat is al beter, maar Odido is nog steeds goedkoper.", None),
        ] {
            assert_eq!(answer(s), want, "{s}");
        }
    }
}
