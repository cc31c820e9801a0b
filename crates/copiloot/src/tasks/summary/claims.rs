//! Grounding check for generated text: numbers, amounts, dates and names that the sources (the
//! conversation, the grounded summary fields) never mention are reported, so they are never passed off
//! as fact.
//!
//! Matching is tolerant to formatting: `€ 12,50`, `EUR 12.50` and `12.5 euro` are the same amount;
//! `3 maart 2025`, `March 3, 2025` and `03-03-2025` the same date; names compare case-insensitively word
//! by word. A capitalised word that opens a sentence is only a name candidate when it is followed by
//! another capitalised word ("Peter Jansen"), because "Customer", "De" or "Summary" open sentences too.

use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClaimKind {
    Number,
    Amount,
    Date,
    Name,
}

/// A span of the generated text that the sources do not support.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UnsupportedClaim {
    pub text: String,
    pub kind: ClaimKind,
    /// Byte offsets into the generated text.
    pub start: usize,
    pub end: usize,
}

const NUM: &str = r"\d+(?:[.,]\d+)*";
static NUMBER: LazyLock<Regex> = LazyLock::new(|| regex(&format!(r"\b{NUM}\b")));
static AMOUNT: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"(?i)(?:€|eur\b|euro\b|\$|usd\b|£|gbp\b)\s?(?P<a>{NUM})(?:,-)?|(?P<b>{NUM})(?:,-)?\s?(?:€|eur\b|euros?\b|dollars?\b|usd\b|pounds?\b|gbp\b)"
    ))
});
static NUMERIC_DATE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"\b(?:(?P<y1>\d{4})-(?P<m1>\d{1,2})-(?P<d1>\d{1,2})|(?P<d2>\d{1,2})[-/.](?P<m2>\d{1,2})[-/.](?P<y2>\d{2,4}))\b",
    )
});
static WORD: LazyLock<Regex> = LazyLock::new(|| regex(r"[\p{L}][\p{L}\p{M}'’-]*"));

fn regex(pattern: &str) -> Regex {
    // The patterns are constants checked by the unit tests; a failure here is a programming error.
    #[allow(clippy::expect_used)]
    Regex::new(pattern).expect("claims regex")
}

const MONTHS: &[(&str, u32)] = &[
    ("january", 1),
    ("januari", 1),
    ("jan", 1),
    ("february", 2),
    ("februari", 2),
    ("feb", 2),
    ("march", 3),
    ("maart", 3),
    ("mar", 3),
    ("mrt", 3),
    ("april", 4),
    ("apr", 4),
    ("may", 5),
    ("mei", 5),
    ("june", 6),
    ("juni", 6),
    ("jun", 6),
    ("july", 7),
    ("juli", 7),
    ("jul", 7),
    ("august", 8),
    ("augustus", 8),
    ("aug", 8),
    ("september", 9),
    ("sept", 9),
    ("sep", 9),
    ("october", 10),
    ("oktober", 10),
    ("oct", 10),
    ("okt", 10),
    ("november", 11),
    ("nov", 11),
    ("december", 12),
    ("dec", 12),
];

fn month(word: &str) -> Option<u32> {
    let w = word.trim_end_matches('.').to_lowercase();
    MONTHS.iter().find(|(name, _)| *name == w).map(|(_, m)| *m)
}

static TEXT_DATE: LazyLock<Regex> = LazyLock::new(|| {
    let names: Vec<&str> = MONTHS.iter().map(|(n, _)| *n).collect();
    let m = names.join("|");
    regex(&format!(
        r"(?i)\b(?:(?P<d1>\d{{1,2}})(?:st|nd|rd|th|e)?\s+(?P<m1>{m})\.?(?:\s+(?P<y1>\d{{4}}))?|(?P<m2>{m})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y2>\d{{4}}))?)\b"
    ))
});

/// Words that open sentences or fill summaries and are never names on their own.
const NOT_NAMES: &[&str] = &["i", "ok", "oké", "nb", "n.b"];

/// Dutch and other name particles allowed between the parts of a name ("Jan van der Berg").
const PARTICLES: &[&str] =
    &["van", "de", "der", "den", "het", "ter", "ten", "te", "von", "la", "le", "du", "da", "di", "'t"];

#[derive(Default)]
struct Facts {
    numbers: HashSet<String>,
    dates: Vec<(u32, u32, Option<u32>)>,
    words: HashSet<String>,
}

impl Facts {
    fn from_sources(sources: &[&str]) -> Self {
        let mut facts = Facts::default();
        for text in sources {
            for m in NUMBER.find_iter(text) {
                facts.numbers.extend(number_values(m.as_str()));
                // Parts too: "14.30 uur" supports "14:30", "06-1234" supports "1234".
                for part in m.as_str().split(['.', ',']) {
                    facts.numbers.extend(number_values(part));
                }
            }
            facts.dates.extend(dates(text).into_iter().map(|d| d.2));
            facts.words.extend(WORD.find_iter(text).map(|w| normalise_word(w.as_str())));
        }
        facts
    }

    fn supports_number(&self, text: &str) -> bool {
        number_values(text).iter().any(|v| self.numbers.contains(v))
    }

    fn supports_date(&self, (d, m, y): (u32, u32, Option<u32>)) -> bool {
        self.dates.iter().any(|&(sd, sm, sy)| sd == d && sm == m && (y.is_none() || sy.is_none() || sy == y))
            // A date whose day and month number both occur (e.g. "de 3e van maand 3") is not invented.
            || (self.numbers.contains(&d.to_string()) && self.dates.iter().any(|&(_, sm, _)| sm == m))
    }
}

fn normalise_word(w: &str) -> String {
    w.trim_matches(|c: char| c == '\'' || c == '’' || c == '-').to_lowercase()
}

/// Every value a written number may stand for: "12,50" → 12.5; "1.234" → 1234 or 1.234; "007" → 7.
fn number_values(raw: &str) -> Vec<String> {
    let dots = raw.matches('.').count();
    let commas = raw.matches(',').count();
    let digits_only: String = raw.chars().filter(char::is_ascii_digit).collect();
    let mut out = vec![canonical(&digits_only, "")];
    let split_last = |sep: char| -> Option<(String, String)> {
        let (int, frac) = raw.rsplit_once(sep)?;
        Some((int.chars().filter(char::is_ascii_digit).collect(), frac.to_string()))
    };
    match (dots, commas) {
        (0, 0) => {}
        (1, 0) | (0, 1) => {
            let sep = if dots == 1 { '.' } else { ',' };
            if let Some((int, frac)) = split_last(sep) {
                out.push(canonical(&int, &frac));
            }
        }
        (_, 0) | (0, _) => {} // "1.234.567": thousands separators only
        _ => {
            // Both: the later one is the decimal mark ("1.234,56" and "1,234.56").
            let sep = if raw.rfind('.') > raw.rfind(',') { '.' } else { ',' };
            if let Some((int, frac)) = split_last(sep) {
                out.push(canonical(&int, &frac));
            }
        }
    }
    out
}

fn canonical(int: &str, frac: &str) -> String {
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    }
}

type Span = (usize, usize);
/// A date found in a text: byte span and (day, month, year if written).
type DateHit = (usize, usize, (u32, u32, Option<u32>));

fn dates(text: &str) -> Vec<DateHit> {
    let num = |c: &regex::Captures, k: &str| c.name(k).and_then(|m| m.as_str().parse::<u32>().ok());
    let mut out = Vec::new();
    for c in NUMERIC_DATE.captures_iter(text) {
        let Some(all) = c.get(0) else { continue };
        let (d, m, y) = match num(&c, "y1") {
            Some(y) => (num(&c, "d1"), num(&c, "m1"), Some(y)),
            None => (num(&c, "d2"), num(&c, "m2"), num(&c, "y2").map(|y| if y < 100 { 2000 + y } else { y })),
        };
        if let (Some(d), Some(m)) = (d, m) {
            if (1..=31).contains(&d) && (1..=12).contains(&m) {
                out.push((all.start(), all.end(), (d, m, y)));
            }
        }
    }
    for c in TEXT_DATE.captures_iter(text) {
        let Some(all) = c.get(0) else { continue };
        let (d, m, y) = if c.name("d1").is_some() {
            (num(&c, "d1"), c.name("m1").and_then(|m| month(m.as_str())), num(&c, "y1"))
        } else {
            (num(&c, "d2"), c.name("m2").and_then(|m| month(m.as_str())), num(&c, "y2"))
        };
        if let (Some(d), Some(m)) = (d, m) {
            if (1..=31).contains(&d) {
                out.push((all.start(), all.end(), (d, m, y)));
            }
        }
    }
    out
}

fn overlaps(spans: &[Span], (s, e): Span) -> bool {
    spans.iter().any(|&(a, b)| s < b && a < e)
}

/// Numbers, amounts, dates and names in `generated` that none of `sources` mention.
pub fn unsupported_claims(generated: &str, sources: &[&str]) -> Vec<UnsupportedClaim> {
    let facts = Facts::from_sources(sources);
    let mut claims = Vec::new();
    let mut taken: Vec<Span> = Vec::new();
    let push = |claims: &mut Vec<UnsupportedClaim>, start: usize, end: usize, kind| {
        if let Some(text) = generated.get(start..end) {
            claims.push(UnsupportedClaim { text: text.to_string(), kind, start, end });
        }
    };
    for (start, end, date) in dates(generated) {
        if overlaps(&taken, (start, end)) {
            continue;
        }
        taken.push((start, end));
        if !facts.supports_date(date) {
            push(&mut claims, start, end, ClaimKind::Date);
        }
    }
    for c in AMOUNT.captures_iter(generated) {
        let (Some(all), Some(n)) = (c.get(0), c.name("a").or_else(|| c.name("b"))) else { continue };
        if overlaps(&taken, (all.start(), all.end())) {
            continue;
        }
        taken.push((all.start(), all.end()));
        if !facts.supports_number(n.as_str()) {
            push(&mut claims, all.start(), all.end(), ClaimKind::Amount);
        }
    }
    for m in NUMBER.find_iter(generated) {
        if overlaps(&taken, (m.start(), m.end())) {
            continue;
        }
        if !facts.supports_number(m.as_str()) {
            push(&mut claims, m.start(), m.end(), ClaimKind::Number);
        }
    }
    for (start, end, words) in name_groups(generated) {
        if overlaps(&taken, (start, end)) {
            continue;
        }
        if words.iter().any(|w| !facts.words.contains(&normalise_word(w))) {
            push(&mut claims, start, end, ClaimKind::Name);
        }
    }
    claims.sort_by_key(|c| c.start);
    claims
}

fn is_capitalised(w: &str) -> bool {
    let mut chars = w.chars();
    chars.next().is_some_and(char::is_uppercase) && w.chars().count() >= 2
}

/// Runs of capitalised words (with name particles between them), minus lone sentence openers.
fn name_groups(text: &str) -> Vec<(usize, usize, Vec<&str>)> {
    let words: Vec<regex::Match> = WORD.find_iter(text).collect();
    let mut groups = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let Some(first) = words.get(i) else { break };
        if !is_capitalised(first.as_str()) || NOT_NAMES.contains(&first.as_str().to_lowercase().as_str()) {
            i += 1;
            continue;
        }
        let mut parts = vec![first.as_str()];
        let mut end = first.end();
        let mut j = i + 1;
        // Extend while the next word (after only spaces) is capitalised or a particle followed by one.
        while let Some(next) = words.get(j) {
            let gap = text.get(end..next.start()).unwrap_or("x");
            if !gap.chars().all(|c| c == ' ') {
                break;
            }
            if is_capitalised(next.as_str()) {
                parts.push(next.as_str());
                end = next.end();
                j += 1;
            } else if PARTICLES.contains(&next.as_str())
                && words.get(j + 1).is_some_and(|w| is_capitalised(w.as_str()))
            {
                j += 1;
            } else {
                break;
            }
        }
        let opener = text
            .get(..first.start())
            .map(|before| {
                let before = before.trim_end_matches([' ', '"', '\'', '*', '(', '“', '‘']);
                before.is_empty() || before.ends_with(['.', '!', '?', ':', '\n', '-', '•', ';'])
            })
            .unwrap_or(true);
        if !(opener && parts.len() == 1) {
            groups.push((first.start(), end, parts));
        }
        i = j;
    }
    groups
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn kinds(generated: &str, sources: &[&str]) -> Vec<(String, ClaimKind)> {
        unsupported_claims(generated, sources).into_iter().map(|c| (c.text, c.kind)).collect()
    }

    #[test]
    fn amounts_match_across_formats() {
        let src = ["Klant: Ik heb € 12,50 te veel betaald op 1.234 euro."];
        assert!(kinds("The customer was overcharged EUR 12.50.", &src).is_empty());
        assert!(kinds("Overcharged 12.5 euro of 1234 euro", &src).is_empty());
        assert_eq!(kinds("Refund of €15,00 promised.", &src), vec![("€15,00".into(), ClaimKind::Amount)]);
    }

    #[test]
    fn dates_match_dutch_and_english_months() {
        let src = ["Klant: de monteur komt op 3 maart 2025."];
        assert!(kinds("Technician visit on March 3, 2025.", &src).is_empty());
        assert!(kinds("Visit on 03-03-2025.", &src).is_empty());
        assert!(kinds("Visit on 2025-03-03.", &src).is_empty());
        assert_eq!(kinds("Visit on 4 March 2025.", &src), vec![("4 March 2025".into(), ClaimKind::Date)]);
    }

    #[test]
    fn invented_numbers_and_names_are_flagged() {
        let src = ["Customer: my order 4471-2290 has not arrived.", "Agent: I am Sanne, I will check it."];
        assert!(kinds("Sanne checked order 4471-2290.", &src).is_empty());
        let got = kinds("The customer spoke with Peter Jansen about order 9981. Sanne helped.", &src);
        assert_eq!(got, vec![("Peter Jansen".into(), ClaimKind::Name), ("9981".into(), ClaimKind::Number)]);
    }

    #[test]
    fn sentence_openers_are_not_names() {
        let src = ["customer: internet down"];
        assert!(kinds("Customer reports internet down. Summary: internet down.", &src).is_empty());
        assert_eq!(
            kinds("Internet down. Mark Rutte called.", &src),
            vec![("Mark Rutte".into(), ClaimKind::Name)]
        );
        assert_eq!(kinds("The issue was handled by Ziggo.", &src), vec![("Ziggo".into(), ClaimKind::Name)]);
    }

    #[test]
    fn number_values_cover_both_conventions() {
        assert!(number_values("12,50").contains(&"12.5".to_string()));
        assert!(number_values("1.234").contains(&"1234".to_string()));
        assert!(number_values("1.234,56").contains(&"1234.56".to_string()));
        assert!(number_values("1,234.56").contains(&"1234.56".to_string()));
        assert!(number_values("007").contains(&"7".to_string()));
    }
}
