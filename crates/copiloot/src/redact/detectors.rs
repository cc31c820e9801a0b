//! One detector per kind of personal data: a regex finds candidates, a validator (checksum, digit count,
//! context word) keeps only the real ones — order numbers, amounts and times stay readable.

use super::checksum::{elfproef_valid, iban_valid, luhn_valid};
use super::PiiKind;
use regex::Regex;
use std::sync::LazyLock;

/// A candidate span (byte offsets) of one kind.
pub(crate) type Found = (PiiKind, usize, usize);

/// The patterns are constants of this file, compiled on first use; the unit tests compile every one,
/// so a typo fails the test suite rather than a user's run.
#[allow(clippy::expect_used)]
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("redaction patterns are valid regexes")
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| re(r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[A-Za-z]{2,}"));
static IBAN: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\b[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]){11,30}\b"));
/// Digits with single spaces or dashes between groups.
/// 9 (BSN) to 19 (card) digits; bounded so a pathological run of digits costs linear time, not quadratic.
static DIGIT_RUN: LazyLock<Regex> = LazyLock::new(|| re(r"\b[0-9](?:[ \-.]?[0-9]){8,18}"));
static PHONE: LazyLock<Regex> = LazyLock::new(|| re(r"(?:\+|\b00|\b0)[0-9](?:[ \-]?\(?[0-9]\)?){6,16}"));
static POSTCODE: LazyLock<Regex> = LazyLock::new(|| re(r"\b[1-9][0-9]{3} ?[A-Z]{2}\b"));
const MONTHS: &str =
    "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december|\
                      january|february|march|april|may|june|july|august|september|october|november|december|\
                      jan|feb|mrt|mar|apr|jun|jul|aug|sep|sept|okt|oct|nov|dec";
static DOB: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)\b(?:geboren\s+op|geboortedatum|geb\.|date\s+of\s+birth|birth\s*date|born\s+on|dob|d\.o\.b\.)\s*(?:is|was|:)?\s*(?:de\s+|the\s+)?([0-9]{{1,2}}[\-/. ][0-9]{{1,2}}[\-/. ][0-9]{{2,4}}|[0-9]{{1,2}}(?:st|nd|rd|th|e)?\s+(?:{MONTHS})\.?\s+[0-9]{{4}}|(?:{MONTHS})\s+[0-9]{{1,2}}(?:st|nd|rd|th)?,?\s+[0-9]{{4}}|[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}})"
    ))
});
const NL_STREET: &str =
    "straat|laan|weg|plein|gracht|kade|singel|dijk|steeg|hof|park|dreef|pad|markt|allee|boulevard|wal";
static ADDRESS_NL: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"\b(?:[A-Z][a-zà-ÿ]+(?:{NL_STREET})|(?:Laan|Plein|Burgemeester|Van|Prins|Koning|Sint)\s(?:[a-zA-Zà-ÿ]+\s){{0,2}}[A-Z][a-zà-ÿ]+)\s[0-9]{{1,4}}(?:[a-zA-Z]\b|-[0-9]{{1,3}})?"
    ))
});
static ADDRESS_EN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b[0-9]{1,4}[a-z]?\s(?:[A-Z][a-z]+\s){1,3}(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Close|Way|Court|Ct|Place|Pl|Square|Sq|Crescent|Terrace|Gardens|Grove)\b\.?",
    )
});

fn digits_of(s: &str) -> Vec<u8> {
    s.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect()
}

/// Card numbers: 13–19 digits, a real issuer prefix, and a valid Luhn checksum.
fn is_card(digits: &[u8]) -> bool {
    if !(13..=19).contains(&digits.len()) || !luhn_valid(digits) {
        return false;
    }
    let prefix = |n: usize| digits.iter().take(n).fold(0u32, |acc, &d| acc * 10 + u32::from(d));
    matches!(digits.first(), Some(4))
        || (51..=55).contains(&prefix(2))
        || (2221..=2720).contains(&prefix(4))
        || matches!(prefix(2), 34 | 37 | 36 | 38 | 30 | 35 | 62 | 65)
        || prefix(4) == 6011
}

fn is_iban(s: &str) -> bool {
    iban_valid(&s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase())
}

/// Dutch numbers: +31/0031 then 9 digits, or a 0 then 9 digits; other international numbers: 8–15 digits.
fn is_phone(candidate: &str) -> bool {
    let d = digits_of(candidate);
    let t = candidate.trim_start();
    if let Some(rest) = t.strip_prefix("+31").or_else(|| t.strip_prefix("0031")) {
        let n = digits_of(rest);
        return n.len() == 9 && n.first() != Some(&0);
    }
    // E.164: a country code that does not start with 0, then up to 15 digits in all; with `00` in front
    // at least 10 digits, so an order number such as 00508045 is not a phone number.
    if let Some(rest) = t.strip_prefix('+') {
        let n = digits_of(rest);
        return (8..=15).contains(&n.len()) && n.first() != Some(&0);
    }
    if t.starts_with("00") {
        return (10..=17).contains(&d.len()) && d.get(2) != Some(&0);
    }
    d.len() == 10 && d.first() == Some(&0) && d.get(1) != Some(&0)
}

pub(crate) fn find_all(text: &str, kinds: &[PiiKind]) -> Vec<Found> {
    let mut found = Vec::new();
    let on = |k: PiiKind| kinds.contains(&k);
    // Digits inside an IBAN-shaped string (even an invalid one) are account digits, not a phone or card
    // number; a valid IBAN only covers its valid prefix of the greedy match.
    let iban_like: Vec<(usize, usize)> = IBAN
        .find_iter(text)
        .map(|m| (m.start(), m.start() + longest_valid_prefix(m.as_str(), &is_iban).unwrap_or(m.len())))
        .collect();
    let in_iban = |a: usize, b: usize| iban_like.iter().any(|&(x, y)| a < y && x < b);
    if on(PiiKind::Email) {
        found.extend(EMAIL.find_iter(text).map(|m| (PiiKind::Email, m.start(), m.end())));
    }
    if on(PiiKind::Iban) {
        found.extend(scan(&IBAN, text, is_iban).into_iter().map(|(a, b)| (PiiKind::Iban, a, b)));
    }
    if on(PiiKind::Card) || on(PiiKind::Bsn) {
        let card = |s: &str| on(PiiKind::Card) && card_shaped(s) && is_card(&digits_of(s));
        let bsn = |s: &str| on(PiiKind::Bsn) && bsn_shaped(s) && elfproef_valid(&digits_of(s));
        for (a, b) in
            scan(&DIGIT_RUN, text, |s| card(s) || bsn(s)).into_iter().filter(|&(a, b)| !in_iban(a, b))
        {
            let kind = if card(&text[a..b]) { PiiKind::Card } else { PiiKind::Bsn };
            found.push((kind, a, b));
        }
    }
    if on(PiiKind::DateOfBirth) {
        for c in DOB.captures_iter(text) {
            if let Some(m) = c.get(1) {
                found.push((PiiKind::DateOfBirth, m.start(), m.end()));
            }
        }
    }
    if on(PiiKind::Phone) {
        for (a, b) in scan(&PHONE, text, is_phone) {
            if !glued_to_digits(text, a, b) && !in_iban(a, b) {
                found.push((PiiKind::Phone, a, b));
            }
        }
    }
    if on(PiiKind::Postcode) {
        for m in POSTCODE.find_iter(text) {
            // "SA", "SD" and "SS" are never issued; they keep "1940 SS" (a year) readable.
            if !matches!(&m.as_str()[m.as_str().len() - 2..], "SA" | "SD" | "SS") {
                found.push((PiiKind::Postcode, m.start(), m.end()));
            }
        }
    }
    if on(PiiKind::Address) {
        found.extend(ADDRESS_NL.find_iter(text).map(|m| (PiiKind::Address, m.start(), m.end())));
        found.extend(ADDRESS_EN.find_iter(text).map(|m| (PiiKind::Address, m.start(), m.end())));
    }
    found
}

/// Digit group lengths of a number as written ("1234 5678" → [4, 4]), if its separators are all `sep`.
fn groups(s: &str, seps: &[char]) -> Vec<usize> {
    s.split(|c: char| seps.contains(&c)).map(str::len).collect()
}

/// A BSN is written as `123456782`, `1234.56.782` or `123 456 782` — not as a dashed order number.
fn bsn_shaped(s: &str) -> bool {
    let g = groups(s, &[' ', '.']);
    !s.contains('-') && (g == [9] || g == [4, 2, 3] || g == [3, 3, 3])
}

/// Cards are written in one run or in groups of four (Amex: 4-6-5).
fn card_shaped(s: &str) -> bool {
    let g = groups(s, &[' ', '-']);
    g.len() == 1
        || g == [4, 6, 5]
        || (g.len() >= 3
            && g[..g.len() - 1].iter().all(|&n| n == 4)
            && g.last().is_some_and(|&n| (1..=4).contains(&n)))
}

/// The regexes are greedy ("06 12345678 2" or "BE68…034 please" swallow what follows): keep the longest
/// prefix that ends at a group boundary and passes the validator.
fn longest_valid_prefix(candidate: &str, valid: &impl Fn(&str) -> bool) -> Option<usize> {
    let mut ends: Vec<usize> =
        candidate.char_indices().filter(|(_, c)| matches!(c, ' ' | '-')).map(|(i, _)| i).collect();
    ends.push(candidate.len());
    ends.into_iter().rev().find(|&end| valid(&candidate[..end]))
}

/// All matches of `re` cut to their longest valid prefix; after a cut the search resumes right behind
/// it, so a second identifier swallowed by the greedy match is still found.
fn scan(re: &Regex, text: &str, valid: impl Fn(&str) -> bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(m) = re.find_at(text, pos) {
        match longest_valid_prefix(m.as_str(), &valid) {
            Some(len) if len > 0 => {
                out.push((m.start(), m.start() + len));
                pos = m.start() + len;
            }
            // Nothing valid in it: restart at its next group ("06-12345678 111222333" still finds the
            // BSN), never inside a group of digits.
            _ => {
                let next_group = m.as_str().find([' ', '-', '.']).map(|i| m.start() + i + 1);
                pos = next_group.unwrap_or(m.end()).max(m.start() + 1);
            }
        }
    }
    out
}

/// A phone match that continues into more digits (an order number "8381-0048-9279", an amount) is not a
/// phone number.
fn glued_to_digits(text: &str, start: usize, end: usize) -> bool {
    let mut before = text[..start].chars().rev();
    let mut after = text[end..].chars();
    let joined = |first: Option<char>, second: Option<char>| match first {
        Some(c) if c.is_ascii_digit() => true,
        Some('-' | '.' | '/') => second.is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    };
    joined(before.next(), before.next()) || joined(after.next(), after.next())
}
