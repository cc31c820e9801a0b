//! PII redaction for Dutch and English text: e-mail, phone, IBAN, BSN, postcode, card, date of birth and
//! address, masked with typed placeholders (`[IBAN]`), with the spans kept so output can still cite turns.
//!
//! Checksummed identifiers are validated (IBAN mod-97, BSN elfproef, card Luhn): a nine-digit number that
//! fails the elfproef is not a BSN. The library keeps no copy of the original text.

mod checksum;
mod detectors;

use crate::conversation::Conversation;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use checksum::{elfproef_valid, iban_valid, luhn_valid};

/// The kinds of personal data we mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    Email,
    Phone,
    Iban,
    Bsn,
    Postcode,
    Card,
    DateOfBirth,
    Address,
}

impl PiiKind {
    pub const ALL: [PiiKind; 8] = [
        PiiKind::Email,
        PiiKind::Phone,
        PiiKind::Iban,
        PiiKind::Bsn,
        PiiKind::Postcode,
        PiiKind::Card,
        PiiKind::DateOfBirth,
        PiiKind::Address,
    ];

    pub fn placeholder(self) -> &'static str {
        match self {
            PiiKind::Email => "[EMAIL]",
            PiiKind::Phone => "[PHONE]",
            PiiKind::Iban => "[IBAN]",
            PiiKind::Bsn => "[BSN]",
            PiiKind::Postcode => "[POSTCODE]",
            PiiKind::Card => "[CARD]",
            PiiKind::DateOfBirth => "[DATE_OF_BIRTH]",
            PiiKind::Address => "[ADDRESS]",
        }
    }

    /// When spans overlap the more certain kind wins: exact formats and checksums before patterns.
    fn priority(self) -> u8 {
        match self {
            PiiKind::Email => 0,
            PiiKind::Iban => 1,
            PiiKind::Card => 2,
            PiiKind::Bsn => 3,
            PiiKind::DateOfBirth => 4,
            PiiKind::Phone => 5,
            PiiKind::Postcode => 6,
            PiiKind::Address => 7,
        }
    }
}

/// One masked span: byte offsets into the original text and into the redacted text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PiiSpan {
    pub kind: PiiKind,
    pub start: usize,
    pub end: usize,
    pub redacted_start: usize,
    pub redacted_end: usize,
}

/// Redacted text and what was masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Redacted {
    pub text: String,
    pub spans: Vec<PiiSpan>,
}

/// A span in one turn of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TurnSpan {
    pub turn: usize,
    pub span: PiiSpan,
}

/// Which kinds to mask (all by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedactOptions {
    pub kinds: Vec<PiiKind>,
}

impl Default for RedactOptions {
    fn default() -> Self {
        Self { kinds: PiiKind::ALL.to_vec() }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    options: RedactOptions,
}

impl Redactor {
    pub fn new(options: RedactOptions) -> Self {
        Self { options }
    }

    /// Non-overlapping PII spans in `text`, in order (offsets into `text`, redacted offsets unset).
    ///
    /// Runs to a fixpoint: a candidate that lost to an overlapping higher-priority span ("+1 06-12345678
    /// 4111 1111 1111 1111": the greedy phone match reaches into the card) or that only becomes a word of
    /// its own next to a placeholder is looked for again on the text with the spans taken so far masked.
    /// That is what makes redaction idempotent: a second pass over the output finds nothing.
    pub fn find(&self, text: &str) -> Vec<(PiiKind, usize, usize)> {
        let mut taken: Vec<(PiiKind, usize, usize)> = Vec::new();
        let mut masked = std::borrow::Cow::Borrowed(text);
        loop {
            let fresh = self.pick(&masked, &taken);
            if fresh.is_empty() {
                return taken;
            }
            taken.extend(fresh);
            taken.sort_by_key(|t| t.1);
            taken = glue_to_words(text, taken);
            masked = std::borrow::Cow::Owned(mask(text, &taken));
        }
    }

    /// The candidates in `text` that overlap neither `taken` nor each other, higher priority first.
    fn pick(&self, text: &str, taken: &[(PiiKind, usize, usize)]) -> Vec<(PiiKind, usize, usize)> {
        let mut candidates = detectors::find_all(text, &self.options.kinds);
        candidates.sort_by_key(|&(kind, start, end)| (kind.priority(), start, std::cmp::Reverse(end)));
        let mut fresh: Vec<(PiiKind, usize, usize)> = Vec::new();
        for c in candidates {
            let overlaps = |t: &(PiiKind, usize, usize)| c.1 < t.2 && t.1 < c.2;
            if c.1 < c.2 && !taken.iter().any(overlaps) && !fresh.iter().any(overlaps) {
                fresh.push(c);
            }
        }
        fresh
    }

    pub fn redact(&self, text: &str) -> Redacted {
        let mut out = String::with_capacity(text.len());
        let mut spans = Vec::new();
        let mut last = 0;
        for (kind, start, end) in self.find(text) {
            out.push_str(&text[last..start]);
            let redacted_start = out.len();
            out.push_str(kind.placeholder());
            spans.push(PiiSpan { kind, start, end, redacted_start, redacted_end: out.len() });
            last = end;
        }
        out.push_str(&text[last..]);
        Redacted { text: out, spans }
    }

    /// A copy of the conversation with every turn redacted, plus the spans per turn.
    pub fn redact_conversation(&self, conversation: &Conversation) -> (Conversation, Vec<TurnSpan>) {
        let mut copy = conversation.clone();
        let mut all = Vec::new();
        for turn in &mut copy.turns {
            let r = self.redact(&turn.text);
            all.extend(r.spans.into_iter().map(|span| TurnSpan { turn: turn.index, span }));
            turn.text = r.text;
        }
        (copy, all)
    }
}

/// Widens each span to the whole run of letters and digits it touches, merging spans that then meet.
/// A number glued to a word ("00111111111011me19…") would otherwise leave a fragment that, next to the
/// placeholder's `]`, starts a new word and matches on a second pass (found by fuzzing): masking the whole
/// glued token keeps redaction idempotent and never leaves part of an identifier readable.
fn glue_to_words(text: &str, spans: Vec<(PiiKind, usize, usize)>) -> Vec<(PiiKind, usize, usize)> {
    let mut out: Vec<(PiiKind, usize, usize)> = Vec::with_capacity(spans.len());
    for (kind, mut start, mut end) in spans {
        while let Some(c) = text[..start].chars().next_back().filter(|c| c.is_alphanumeric()) {
            start -= c.len_utf8();
        }
        while let Some(c) = text[end..].chars().next().filter(|c| c.is_alphanumeric()) {
            end += c.len_utf8();
        }
        match out.last_mut() {
            Some(prev) if start <= prev.2 => prev.2 = prev.2.max(end),
            _ => out.push((kind, start, end)),
        }
    }
    out
}

/// `text` with each span replaced by `[XX…X]` of the same byte length: to the detectors this looks like a
/// placeholder (no pattern crosses `[` or `]`), and every offset outside the spans stays the same.
fn mask(text: &str, spans: &[(PiiKind, usize, usize)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for &(_, start, end) in spans {
        out.push_str(&text[last..start]);
        out.push('[');
        out.extend(std::iter::repeat_n('X', (end - start).saturating_sub(2)));
        if end - start >= 2 {
            out.push(']');
        }
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

/// Redact with every kind enabled.
pub fn redact(text: &str) -> Redacted {
    Redactor::default().redact(text)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
