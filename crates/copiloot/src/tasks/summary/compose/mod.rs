//! The CRM note, composed from the summary's facts in the third person and the conversation's language:
//! the reason, what lies behind it (cause, competitor, price, earlier contacts, how long), the offers
//! and the customer's answers, what the agent did, the status and the next steps — within `max_chars`,
//! cutting the least important facts first. Deterministic: it needs no generator, and it never adds a
//! fact: every clause is a turn's own sentence with its pronouns turned into "klant" / "agent"
//! ([`person`]), numbers, dates, amounts and names as said.

pub mod person;
pub mod style;

pub use person::Voice;
pub use style::{NoteStyle, NoteStyles};

use super::mentions::{Mention, MentionKind};
use super::offers::{Offer, OfferResponse};
use super::{Commitment, Entity, Evidence, RequestKind, RequestOutcome, Resolution, ResolutionField};
use crate::conversation::Speaker;

/// Everything a note may say, as the summary found it.
pub struct Facts<'a> {
    pub reason: Option<&'a Evidence>,
    /// The reason was said in a clearly negative turn: the note reports it as a complaint.
    pub complaint: bool,
    pub cause: Option<&'a Evidence>,
    pub mentions: &'a [Mention],
    pub offers: &'a [Offer],
    pub actions: &'a [Evidence],
    /// One per action: the best-scored action is kept before the others.
    pub action_scores: &'a [f32],
    pub resolution: &'a ResolutionField,
    pub request: Option<&'a RequestOutcome>,
    pub next_steps: &'a [Commitment],
    /// Dates, amounts, numbers and references found in the turns (their items survive the budget longer).
    pub entities: &'a [Entity],
}

/// A sentence as it should end in a note: with a full stop unless it has its own punctuation.
fn sentence(text: &str) -> String {
    let t = text.trim();
    if t.ends_with(['.', '!', '?', '…']) {
        t.to_string()
    } else {
        format!("{t}.")
    }
}

/// The first sentence of a text (the fallback when a whole item does not fit the budget).
fn first_sentence(text: &str) -> String {
    let cut = text
        .char_indices()
        .find(|&(i, c)| matches!(c, '.' | '!' | '?') && text[i + c.len_utf8()..].starts_with(' '));
    match cut {
        Some((i, c)) => text[..i + c.len_utf8()].to_string(),
        None => text.to_string(),
    }
}

/// Cuts at a word boundary to at most `max` characters, marking the cut with `…`.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    let at = cut.rfind(' ').filter(|&i| i > 0).unwrap_or(cut.len());
    format!("{}…", cut[..at].trim_end_matches([',', ';', ':', ' ']))
}

/// A turn's sentences in the note: without thanks and greetings, each without its opener, in the third
/// person, capitalised, ending in a full stop; an agent's request to the customer ("Please DM us …")
/// reads "Agent asks customer to DM agent …".
pub(crate) fn clause(text: &str, voice: Voice, style: &NoteStyle, names: &[&str]) -> String {
    reported(text, voice, false, style, names)
}

/// [`clause`], with the customer's first sentence reported as a complaint when `complaint` and the style
/// has a lead for it.
fn reported(text: &str, voice: Voice, complaint: bool, style: &NoteStyle, names: &[&str]) -> String {
    // Thanks and greetings inside a quote ("Hoi Sanne, fijn dat jullie zo snel reageren, dank je wel!")
    // are no facts: left out, unless nothing else is said.
    let all = super::cues::sentences(text);
    let facts: Vec<&str> = all
        .iter()
        .filter(|s| !s.cues.filler && !s.cues.only_thanks())
        .filter_map(|s| text.get(s.start..s.end))
        .collect();
    let facts = if facts.is_empty() { vec![text] } else { facts };
    let nouns = &style.nouns;
    let fill = |template: &str| person::fill(template, voice, style);
    let names_a_party = |s: &str| {
        let lower = s.to_lowercase();
        // Names given for the parties ("#Person1#", "Sanne") keep their capitals: compare in lower case.
        [&nouns.customer, &nouns.agent, &nouns.company].iter().any(|n| lower.starts_with(&n.to_lowercase()))
    };
    let mut out = String::new();
    for s in
        facts.iter().map(|s| person::drop_opener(&super::cues::clean(s), style)).filter(|s| !s.is_empty())
    {
        let said = match (voice, person::request(&s, style)) {
            (Voice::Agent, Some(rest)) => format!(
                "{}{}",
                fill(&style.request_lead),
                person::uncapitalize(&person::third_person(rest, voice, style), names)
            ),
            _ => person::third_person(&s, voice, style),
        };
        let said = said.trim();
        if names_a_party(said) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&sentence(&person::capitalize(said)));
        } else if out.is_empty() {
            // Who said it: a note attributes what it reports.
            let r = &style.reports;
            let lead = match (voice, said.ends_with('?')) {
                (Voice::Customer, false) if complaint && !r.customer_complaint.is_empty() => {
                    &r.customer_complaint
                }
                (Voice::Customer, false) => &r.customer,
                (Voice::Customer, true) => &r.customer_question,
                (Voice::Agent, false) => &r.agent,
                (Voice::Agent, true) => &r.agent_question,
            };
            out = sentence(&person::capitalize(&format!(
                "{}{}",
                fill(lead),
                person::uncapitalize(said, names)
            )));
        } else {
            // A further sentence of the same speaker joins the one before.
            let joined =
                format!("{}; {}", out.trim_end_matches(['.', '!']), person::uncapitalize(said, names));
            out = sentence(&joined);
        }
    }
    out
}

/// The offer without its lead ("Ik kan …", "Shall I …"), in the third person, with the answer.
pub(crate) fn offer_item(offer: &Offer, style: &NoteStyle) -> String {
    let text = person::drop_opener(&super::cues::clean(&offer.quote), style);
    let core = style.offer_leads.iter().find_map(|r| r.find(&text).filter(|m| m.end() < text.len()));
    let rest = core.map_or(text.as_str(), |m| &text[m.end()..]);
    let said = person::third_person(rest.trim(), Voice::Agent, style);
    let said = said.trim_end_matches(['.', '?', '!', ' ']);
    let l = &style.labels;
    let answer = match offer.response {
        OfferResponse::Accepted => &l.accepted,
        OfferResponse::Declined => &l.declined,
        OfferResponse::Considering => &l.considering,
        OfferResponse::Open => &l.open,
    };
    format!("{} {said} ({answer}).", l.offer)
}

/// The importance of a mention: a competitor first (the save-offer moment), then earlier contacts.
fn mention_priority(kind: MentionKind) -> usize {
    match kind {
        MentionKind::Competitor => 1,
        MentionKind::RepeatContact => 3,
        MentionKind::Price | MentionKind::Duration => 4,
    }
}

/// The competitor names among the mentions.
pub(crate) fn competitor_names(mentions: &[Mention]) -> Vec<&str> {
    mentions.iter().filter(|m| m.kind == MentionKind::Competitor).map(|m| m.text.as_str()).collect()
}

/// Words a reported sentence keeps capitalised at its start: the competitors and the style's proper
/// words ("Customer says Three offers …", "Agent states that Saturday …").
pub(crate) fn capitals<'a>(mentions: &'a [Mention], style: &'a NoteStyle) -> Vec<&'a str> {
    let mut names = competitor_names(mentions);
    names.extend(style.proper.iter().map(String::as_str));
    names
}

pub(crate) fn voice(who: Speaker) -> Voice {
    if who == Speaker::Customer {
        Voice::Customer
    } else {
        Voice::Agent
    }
}

/// The part of `max_chars` that items without a fact (a date, amount, number, reference, offer or
/// mention: competitor, price, earlier contact, duration) may fill.
const CONTEXT_SHARE_PERCENT: usize = 65;

/// One fact of the note: `slot` fixes its place, `priority` what survives the budget (lower stays
/// longer), `quote` the turn span it says (empty for the status), so a fact quoted twice is written once.
struct Item<'q> {
    slot: usize,
    priority: usize,
    text: String,
    quote: &'q str,
}

/// True when no item says `quote` already (nor a span holding it, nor one it holds).
fn is_new(items: &[Item<'_>], quote: &str) -> bool {
    let quote = quote.trim();
    !items.iter().map(|i| i.quote.trim()).any(|q| !q.is_empty() && (q.contains(quote) || quote.contains(q)))
}

/// The note and how many items did not fit in `max_chars`.
pub fn compose(facts: &Facts<'_>, style: &NoteStyle, max_chars: usize) -> (String, usize) {
    let l = &style.labels;
    let asked_nothing = facts.reason.is_none()
        && facts.actions.is_empty()
        && facts.next_steps.is_empty()
        && facts.request.is_none();
    if asked_nothing {
        return (l.nothing_asked.clone(), 0);
    }
    let names = capitals(facts.mentions, style);
    let say = |text: &str, voice: Voice| clause(text, voice, style, &names);
    let mut items: Vec<Item<'_>> = Vec::new();
    if let Some(r) = facts.reason.filter(|r| !r.text.is_empty()) {
        // The reason always stays; when long, its first sentence leaves room for the rest.
        let full = reported(&r.text, Voice::Customer, facts.complaint, style, &names);
        let text =
            if full.chars().count() * 5 > max_chars * 3 { sentence(&first_sentence(&full)) } else { full };
        items.push(Item { slot: 0, priority: 0, text, quote: &r.quote });
    }
    if let Some(c) = facts.cause.filter(|c| is_new(&items, &c.quote)) {
        items.push(Item { slot: 1, priority: 2, text: say(&c.text, Voice::Customer), quote: &c.quote });
    }
    for (k, m) in facts.mentions.iter().enumerate() {
        let priority = mention_priority(m.kind);
        match items.iter().position(|i| i.quote == m.quote) {
            // Another fact of a sentence already in: it only raises that sentence's importance.
            Some(i) => items[i].priority = items[i].priority.min(priority),
            None if is_new(&items, &m.quote) => {
                let text = say(&m.quote, Voice::Customer);
                items.push(Item { slot: 2 + k, priority, text, quote: &m.quote });
            }
            None => {}
        }
    }
    for (k, o) in facts.offers.iter().enumerate() {
        if is_new(&items, &o.quote) {
            // Offers are what a save or a complaint turns on: each stays before the later actions.
            let priority = 2 + k;
            items.push(Item { slot: 10 + k, priority, text: offer_item(o, style), quote: &o.quote });
        }
    }
    // The best-scored action comes right after the reason in importance, the others after the status.
    let shown: Vec<(&Evidence, f32)> = facts
        .actions
        .iter()
        .zip(facts.action_scores.iter().copied().chain(std::iter::repeat(0.0)))
        .filter(|(a, _)| !a.text.is_empty() && is_new(&items, &a.quote))
        .collect();
    let mut rank: Vec<usize> = (0..shown.len()).collect();
    rank.sort_by(|&a, &b| shown[b].1.total_cmp(&shown[a].1));
    for (k, (a, _)) in shown.iter().enumerate() {
        let r = rank.iter().position(|&i| i == k).unwrap_or(k);
        let priority = if r == 0 { 1 } else { 3 + 2 * r };
        items.push(Item { slot: 20 + k, priority, text: say(&a.text, Voice::Agent), quote: &a.quote });
    }
    let handled = facts.request.filter(|r| r.handled).map(|r| match r.kind {
        RequestKind::Cancellation => &l.cancelled,
    });
    let status = match facts.resolution.status {
        _ if handled.is_some() => handled,
        Resolution::Resolved => Some(&l.resolved),
        Resolution::Partial => Some(&l.partial),
        Resolution::Unresolved => Some(&l.unresolved),
        Resolution::Unknown => None,
    };
    if let Some(s) = status {
        // The status right after the reason: a note without it cannot be acted on.
        items.push(Item { slot: 40, priority: 1, text: format!("{} {s}", l.status), quote: "" });
    }
    // "I will." alone says nothing a note can use.
    let fresh: Vec<&Commitment> = facts
        .next_steps
        .iter()
        .filter(|c| super::cues::word_count(&c.what) >= 3 && is_new(&items, &c.quote))
        .collect();
    for (k, c) in fresh.into_iter().enumerate() {
        let text = say(&c.what, voice(c.who));
        items.push(Item { slot: 41 + k, priority: 4 + 2 * k, text, quote: &c.quote });
    }
    // Dates, amounts and numbers are what a note is read for: their items survive the budget longer.
    let holds_fact = |i: &Item<'_>| {
        i.text.chars().any(|c| c.is_ascii_digit())
            || facts.entities.iter().any(|e| !i.quote.is_empty() && i.quote.contains(&e.value))
    };
    let dated: Vec<bool> = items.iter().map(holds_fact).collect();
    // Offers, competitors, prices, earlier contacts and durations are facts a note is read for too,
    // though not raised above their place.
    let says_fact = |(i, &dated): (&Item<'_>, &bool)| {
        let quoted = |q: &str| !i.quote.is_empty() && !q.is_empty() && i.quote.contains(q);
        dated
            || facts.offers.iter().any(|o| quoted(&o.quote))
            || facts.mentions.iter().any(|m| quoted(&m.quote))
    };
    let has_fact: Vec<bool> = items.iter().zip(&dated).map(says_fact).collect();
    for (item, _) in items.iter_mut().zip(&dated).filter(|(i, &fact)| i.priority > 1 && fact) {
        item.priority -= 1;
    }
    let total = items.len();
    let mut by_priority: Vec<usize> = (0..items.len()).collect();
    by_priority.sort_by_key(|&i| (items[i].priority, items[i].slot));
    let mut kept: Vec<usize> = Vec::new();
    let mut used = 0;
    for i in by_priority {
        // Items without such a fact share a smaller part of the budget, the rest is kept for the facts;
        // the core (reason, best action, status: priority 1 or less) may use all of it.
        let core = has_fact[i] || items[i].priority <= 1;
        let limit = if core { max_chars } else { max_chars * CONTEXT_SHARE_PERCENT / 100 };
        // An item that does not fit may still fit with its first sentence only.
        let cost = items[i].text.chars().count() + 1;
        if kept.is_empty() || used + cost <= limit {
            kept.push(i);
            used += cost;
            continue;
        }
        let short = sentence(&first_sentence(&items[i].text));
        let cost = short.chars().count() + 1;
        if used + cost <= limit {
            items[i].text = short;
            kept.push(i);
            used += cost;
        }
    }
    kept.sort_by_key(|&i| items[i].slot);
    let note = kept.iter().map(|&i| items[i].text.as_str()).collect::<Vec<_>>().join(" ");
    (shorten(&note, max_chars.max(1)), total - kept.len())
}
