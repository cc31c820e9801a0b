//! Choosing what the summary says from the per-turn state: the reason for contact, the agent's actions,
//! the resolution, the commitments and the entities. Each choice is a quoted sentence span of one turn.

use super::cues::{self, Sentence};
use super::extract::EntityKind;
use super::prototypes::Class;
use super::Resolution;
use super::{
    Commitment, Entity, Evidence, RequestKind, RequestOutcome, ResolutionField, SummaryOptions, TurnState,
};
use crate::conversation::Speaker;

/// Longest reason quote, in bytes: enough for the customer's problem in two or three sentences.
const REASON_BYTES: usize = 260;
/// Weight of the encoder's "agent does something" prototype similarity (relative to the conversation's
/// mean) and of the turn's centrality in the conversation, against the regex cues (weight ≈ 1 each).
const PROTO_WEIGHT: f32 = 4.0;
const CENTRAL_WEIGHT: f32 = 4.0;
/// Actions scoring below this are not reported (apologies, small talk).
const MIN_ACTION_SCORE: f32 = 0.25;
/// Bonus of the agent's last substantive turn: where the outcome is (measured on TweetSumm: citing the
/// last agent turn beats citing the first by 5 ROUGE-L points).
const LAST_TURN_BONUS: f32 = 1.0;
/// An action quote may run over the next sentence of its turn up to this many bytes.
const ACTION_BYTES: usize = 220;

pub(super) fn quote(state: &TurnState, start: usize, end: usize) -> String {
    state.text.get(start..end).unwrap_or_default().to_string()
}

fn evidence(state: &TurnState, start: usize, end: usize) -> Evidence {
    let q = quote(state, start, end);
    Evidence { text: cues::clean(&q), turns: vec![state.index], quote: q }
}

fn substantive(s: &Sentence) -> bool {
    !s.cues.filler && s.cues.words >= 3
}

/// The customer turn that says why they got in touch: customers open with it, so the first customer turn
/// with a real sentence (five words or more, not only thanks); when the customer opens with little ("hello?", "please
/// read the above"), the first substantive turn the primary intent cites, else the first substantive
/// one. The quote runs from its first substantive sentence over the following ones up to
/// [`REASON_BYTES`].
pub fn reason(states: &[TurnState], primary_intent_turns: &[usize]) -> Option<Evidence> {
    let customer: Vec<&TurnState> = states.iter().filter(|s| s.speaker == Speaker::Customer).collect();
    // "Hoi Sanne, fijn dat jullie zo snel reageren, dank je wel!" is long, but no reason.
    let states_something =
        |x: &Sentence| substantive(x) && !(x.cues.thanks && !x.cues.problem && !x.cues.cancel);
    let has_substance = |s: &&&TurnState| s.sentences.iter().any(states_something);
    let opens = |s: &&&TurnState| s.sentences.iter().any(|x| states_something(x) && x.cues.words >= 5);
    let chosen = customer
        .iter()
        .find(opens)
        .or_else(|| {
            primary_intent_turns
                .iter()
                .filter_map(|i| customer.iter().find(|s| s.index == *i))
                .find(has_substance)
        })
        .or_else(|| customer.iter().find(has_substance))
        .or_else(|| customer.first())?;
    let first = chosen
        .sentences
        .iter()
        .position(states_something)
        .or_else(|| chosen.sentences.iter().position(substantive))
        .unwrap_or(0);
    let head = chosen.sentences.get(first)?;
    let mut end = head.end;
    for s in chosen.sentences.iter().skip(first + 1) {
        if s.cues.filler || s.end - head.start > REASON_BYTES {
            break;
        }
        end = s.end;
    }
    Some(evidence(chosen, head.start, end))
}

fn mean(values: impl Iterator<Item = f32>) -> f32 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        0.0
    } else {
        sum / n as f32
    }
}

/// Who acts for the company: agents, or the bot when no agent spoke.
pub(super) fn company_speaker(states: &[TurnState]) -> Speaker {
    if states.iter().any(|s| s.speaker == Speaker::Agent) {
        Speaker::Agent
    } else {
        Speaker::Bot
    }
}

/// The agent's most informative sentences with their scores: regex cues (done > doing > request >
/// promise, facts) plus the encoder's action-prototype similarity, the turn's centrality and a bonus for
/// the agent's last substantive turn; one quote per turn (a sentence and, if short, the next), picked per
/// segment of `segment_turns` so long conversations are covered end to end. In turn order.
pub fn actions(states: &[TurnState], o: &SummaryOptions) -> Vec<(Evidence, f32)> {
    let who = company_speaker(states);
    let agent: Vec<&TurnState> = states.iter().filter(|s| s.speaker == who).collect();
    if agent.is_empty() {
        return Vec::new();
    }
    let dim = states.first().map_or(0, |s| s.embedding.len());
    let mut centroid = vec![0.0f32; dim];
    for s in states {
        centroid.iter_mut().zip(&s.embedding).for_each(|(c, v)| *c += v);
    }
    let norm = centroid.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-6);
    centroid.iter_mut().for_each(|c| *c /= norm);
    let central: Vec<f32> = agent.iter().map(|s| crate::tasks::dot(&s.embedding, &centroid)).collect();
    let mean_central = mean(central.iter().copied());
    let mean_proto = mean(agent.iter().map(|s| s.proto[Class::Action as usize]));
    let last = agent.iter().rposition(|s| s.sentences.iter().any(substantive));

    // (score, turn position in `agent`, sentence) of each agent turn's best sentence.
    let mut best: Vec<(f32, usize, &Sentence)> = Vec::new();
    for (k, s) in agent.iter().enumerate() {
        let turn_bonus = PROTO_WEIGHT * (s.proto[Class::Action as usize] - mean_proto)
            + CENTRAL_WEIGHT * (central[k] - mean_central)
            + if Some(k) == last { LAST_TURN_BONUS } else { 0.0 };
        let scored = s.sentences.iter().filter(|x| substantive(x)).map(|x| {
            let c = &x.cues;
            let facts = s.facts.iter().any(|f| f.start >= x.start && f.end <= x.end);
            let cue = f32::from(u8::from(c.done))
                + 0.7 * f32::from(u8::from(c.doing))
                + 0.5 * f32::from(u8::from(c.request))
                + 0.4 * f32::from(u8::from(c.promise))
                + 0.3 * f32::from(u8::from(facts));
            (cue + turn_bonus, k, x)
        });
        if let Some(top) = scored.max_by(|a, b| a.0.total_cmp(&b.0)) {
            best.push(top);
        }
    }
    let segment = o.segment_turns.max(1);
    let mut chosen: Vec<(f32, usize, &Sentence)> = Vec::new();
    let segments = states.last().map_or(1, |s| s.index / segment + 1);
    for seg in 0..segments {
        let mut here: Vec<(f32, usize, &Sentence)> =
            best.iter().copied().filter(|(_, k, _)| agent[*k].index / segment == seg).collect();
        here.sort_by(|a, b| b.0.total_cmp(&a.0));
        let quota = if seg == 0 { 2 } else { 1 };
        chosen.extend(here.into_iter().filter(|(score, _, _)| *score >= MIN_ACTION_SCORE).take(quota));
    }
    if chosen.is_empty() {
        // Always say something about the agent when they said anything substantive.
        chosen.extend(best.iter().copied().max_by(|a, b| a.0.total_cmp(&b.0)));
    }
    if chosen.len() > o.max_actions {
        chosen.sort_by(|a, b| b.0.total_cmp(&a.0));
        chosen.truncate(o.max_actions);
    }
    chosen.sort_by_key(|(_, k, _)| *k);
    chosen
        .into_iter()
        .map(|(score, k, x)| {
            let s = agent[k];
            let next = s.sentences.iter().find(|n| n.start >= x.end);
            let end = match next {
                Some(n) if substantive(n) && n.end - x.start <= ACTION_BYTES => n.end,
                _ => x.end,
            };
            (evidence(s, x.start, end), score)
        })
        .collect()
}

/// A sentence that decides the resolution.
#[derive(Clone, Copy)]
enum Signal {
    Unsolved,
    Pending,
    Solved,
}

fn signal(speaker: Speaker, c: &cues::Cues) -> Option<Signal> {
    match speaker {
        Speaker::Customer if c.unsolved => Some(Signal::Unsolved),
        Speaker::Customer if c.pending => Some(Signal::Pending),
        Speaker::Customer if c.solved && !c.filler => Some(Signal::Solved),
        Speaker::Customer => None,
        _ if c.pending => Some(Signal::Pending),
        _ if c.unsolved => Some(Signal::Unsolved),
        _ if c.done => Some(Signal::Solved),
        _ => None,
    }
}

/// Resolution from the end of the conversation (the last third, 6 to 12 turns): the latest sentence that
/// says solved / pending / not solved decides, except that a fix followed by a customer who still has
/// something open ("I'll think about the offer") is partial. Without such a sentence: a promise of the
/// agent means partial, a clearly negative last customer turn unresolved, thanks resolved, else unknown.
pub fn resolution(states: &[TurnState]) -> ResolutionField {
    let n = states.len();
    let tail = (n / 3).clamp(6, 12).min(n);
    let window = &states[n - tail..];
    let sentences = || window.iter().rev().flat_map(|s| s.sentences.iter().rev().map(move |x| (s, x)));
    let field = |status, turns: Vec<usize>, q: String| ResolutionField { status, turns, quote: q };
    let latest = sentences().find_map(|(s, x)| signal(s.speaker, &x.cues).map(|sig| (sig, s, x)));
    if let Some((sig, s, x)) = latest {
        let q = quote(s, x.start, x.end);
        return match sig {
            Signal::Unsolved => field(Resolution::Unresolved, vec![s.index], q),
            Signal::Pending => field(Resolution::Partial, vec![s.index], q),
            Signal::Solved => {
                let open = sentences().find(|(o, y)| {
                    o.speaker == Speaker::Customer && o.index < s.index && y.cues.pending && !y.cues.unsolved
                });
                match open {
                    Some((o, _)) => field(Resolution::Partial, vec![o.index, s.index], q),
                    None => field(Resolution::Resolved, vec![s.index], q),
                }
            }
        };
    }
    let company = company_speaker(states);
    if let Some((s, x)) = sentences().find(|(s, x)| s.speaker == company && (x.cues.promise || x.cues.doing))
    {
        return field(Resolution::Partial, vec![s.index], quote(s, x.start, x.end));
    }
    if let Some(last) = window.iter().rev().find(|s| s.speaker == Speaker::Customer) {
        let whole = || quote(last, 0, last.text.len());
        if last.sentiment.is_some_and(|v| v <= super::CLEARLY_NEGATIVE) {
            return field(Resolution::Unresolved, vec![last.index], whole());
        }
        if last.sentences.iter().any(|x| x.cues.thanks) {
            return field(Resolution::Resolved, vec![last.index], whole());
        }
    }
    field(Resolution::Unknown, Vec::new(), String::new())
}

/// The cancellation the customer asks for — in their own words (`cues::Cues::cancel`) or as the primary
/// intent — and whether an agent turn after the first request confirms it done (the latest confirmation is
/// quoted). `None` when the customer asked for no cancellation.
pub fn request(states: &[TurnState], primary_intent: Option<&str>) -> Option<RequestOutcome> {
    let mut turns: Vec<usize> = states
        .iter()
        .filter(|s| s.speaker == Speaker::Customer && s.sentences.iter().any(|x| x.cues.cancel))
        .map(|s| s.index)
        .collect();
    let by_intent = primary_intent.is_some_and(|i| cues::CANCEL_INTENTS.contains(&i));
    if turns.is_empty() && !by_intent {
        return None;
    }
    let from = turns.first().copied().unwrap_or(0);
    let company = company_speaker(states);
    let confirmed = states.iter().rev().filter(|s| s.speaker == company && s.index >= from).find_map(|s| {
        let x = s.sentences.iter().rev().find(|x| x.cues.cancel_done && !x.cues.question)?;
        Some((s.index, quote(s, x.start, x.end)))
    });
    let quote = match confirmed {
        Some((index, q)) => {
            turns.push(index);
            q
        }
        None => String::new(),
    };
    Some(RequestOutcome { kind: RequestKind::Cancellation, handled: !quote.is_empty(), turns, quote })
}

fn is_when(kind: EntityKind) -> bool {
    matches!(kind, EntityKind::Date | EntityKind::Deadline | EntityKind::Time)
}

/// Promises: agent sentences that promise something ("you will receive", "ik stuur", "within two days"),
/// and customer sentences that do so in the first person ("I'll send the photo today"). A promise borrows
/// from the neighbouring sentences of its turn the facts it lacks: the time ("The first slot is Wednesday
/// the 13th. I'll book that.") and the amount ("I refunded 189.99. It will be back within 5 days."). The
/// latest `max` are kept: those are the ones still open.
pub fn next_steps(states: &[TurnState], max: usize) -> Vec<Commitment> {
    let mut out = Vec::new();
    for s in states {
        let facts_in = |a: usize, b: usize| s.facts.iter().filter(move |f| f.start >= a && f.end <= b);
        let has = |x: &Sentence, pred: fn(EntityKind) -> bool| facts_in(x.start, x.end).any(|f| pred(f.kind));
        for (i, x) in s.sentences.iter().enumerate() {
            let c = &x.cues;
            // A customer promises in the first person with a future or a time ("I'll send it today").
            let promises = c.promise
                && !c.question
                && (s.speaker != Speaker::Customer || (c.doing && (c.future || has(x, is_when))));
            if c.filler || !promises {
                continue;
            }
            let prev = i.checked_sub(1).and_then(|j| s.sentences.get(j));
            let next = s.sentences.get(i + 1);
            let (mut start, mut end) = (x.start, x.end);
            if !has(x, is_when) {
                if let Some(p) = prev.filter(|p| has(p, is_when)) {
                    start = p.start;
                } else if let Some(n) = next.filter(|n| has(n, is_when) && !n.cues.promise) {
                    end = n.end;
                }
            }
            if !facts_in(start, end).any(|f| f.kind == EntityKind::Amount) {
                if let Some(p) = prev.filter(|p| has(p, is_amount)) {
                    start = start.min(p.start);
                }
            }
            let when: Vec<&super::extract::Found> =
                facts_in(start, end).filter(|f| is_when(f.kind)).collect();
            // The first time, with any that follow it directly ("Wednesday the 13th" + "between 1pm and 6pm").
            let mut due: Option<String> = None;
            let mut last_end = 0;
            for f in when {
                let gap = s.text.get(last_end..f.start).unwrap_or("x");
                match &mut due {
                    None => due = Some(f.value.clone()),
                    Some(d) if gap.trim().is_empty() => {
                        d.push(' ');
                        d.push_str(&f.value);
                    }
                    Some(_) => break,
                }
                last_end = f.end;
            }
            let amounts =
                facts_in(start, end).filter(|f| is_amount(f.kind)).map(|f| f.value.clone()).collect();
            let mut references: Vec<String> = s
                .facts
                .iter()
                .filter(|f| matches!(f.kind, EntityKind::OrderNumber | EntityKind::Reference))
                .map(|f| f.value.clone())
                .collect();
            references.dedup();
            let q = quote(s, start, end);
            out.push(Commitment {
                who: s.speaker,
                what: cues::clean(&q),
                due,
                amounts,
                references,
                turns: vec![s.index],
                quote: q,
            });
        }
    }
    let skip = out.len().saturating_sub(max);
    out.into_iter().skip(skip).collect()
}

fn is_amount(kind: EntityKind) -> bool {
    kind == EntityKind::Amount
}

/// Every fact once (same kind and value, ignoring case), with all the turns that mention it.
pub fn entities(states: &[TurnState]) -> Vec<Entity> {
    let mut out: Vec<Entity> = Vec::new();
    for s in states {
        for f in &s.facts {
            match out.iter_mut().find(|e| e.kind == f.kind && e.value.eq_ignore_ascii_case(&f.value)) {
                Some(e) => {
                    if !e.turns.contains(&s.index) {
                        e.turns.push(s.index);
                    }
                }
                None => out.push(Entity { kind: f.kind, value: f.value.clone(), turns: vec![s.index] }),
            }
        }
    }
    out
}

/// The problem behind the reason, when the customer states it in another sentence: the first customer
/// sentence outside the reason's quote that names a problem and is no question ("het internet valt al drie weken uit" after
/// "ik wil opzeggen"), from a substantive sentence of four words or more. Only for a reason that names
/// no problem of its own (a cancellation, a plain request): after "my broadband keeps dropping out" a
/// later complaint is the customer's answer to the agent, not what lies behind the contact.
pub fn cause(states: &[TurnState], reason: Option<&Evidence>) -> Option<Evidence> {
    let reason = reason?;
    let turn = states.iter().find(|s| reason.turns.first() == Some(&s.index))?;
    let states_its_problem = turn
        .sentences
        .iter()
        .filter(|x| turn.text.get(x.start..x.end).is_some_and(|t| reason.quote.contains(t.trim())))
        .any(|x| x.cues.problem && !x.cues.cancel);
    if states_its_problem {
        return None;
    }
    states.iter().filter(|s| s.speaker == Speaker::Customer).find_map(|s| {
        s.sentences
            .iter()
            .filter(|x| substantive(x) && x.cues.problem && !x.cues.question && x.cues.words >= 4)
            .map(|x| evidence(s, x.start, x.end))
            .find(|e| !reason.quote.contains(e.quote.trim()))
    })
}
