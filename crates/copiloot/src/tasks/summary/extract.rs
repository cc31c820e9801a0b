//! Facts a CRM note must keep exact, found with regexes in Dutch and English: dates and deadlines, times,
//! amounts of money, order numbers and ticket/reference numbers. Each hit keeps its byte span, so a
//! commitment can say which facts its own sentence holds.

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// What kind of fact an entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A calendar date or weekday ("Wednesday the 13th", "donderdag 14 november", "2026-12-20").
    Date,
    /// A relative deadline or duration ("within 3 to 5 working days", "binnen tien werkdagen", "tomorrow").
    Deadline,
    /// A clock time or time window ("between 1pm and 6pm", "tussen 8:00 en 12:00").
    Time,
    /// An amount of money ("189.99", "42,50 euro", "9 pounds 33").
    Amount,
    /// An order number ("order 5521-0098", "bestelnummer 1024-7781-3390").
    OrderNumber,
    /// A ticket, case, fault or reference number ("VM-77310", "storingsnummer ST-448120").
    Reference,
}

/// One fact found in a text: its kind, the text as written, and its byte span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub kind: EntityKind,
    pub value: String,
    pub start: usize,
    pub end: usize,
}

const MONTHS: &str = "january|february|march|april|may|june|july|august|september|october|november|december|\
    jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|januari|februari|maart|mei|juni|juli|augustus|oktober";
const WEEKDAYS: &str = "monday|tuesday|wednesday|thursday|friday|saturday|sunday|\
    maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag";
const NUMBER_WORDS: &str = "\\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fourteen|\
    fifteen|twenty|thirty|een|één|twee|drie|vier|vijf|zes|zeven|acht|negen|tien|twaalf|veertien|vijftien|twintig|dertig";
const UNITS: &str = "(?:working |business |werk)?(?:days?|dagen|werkdagen|hours?|uur|uren|weeks?|weken|minutes?|minuten|months?|maanden)";

/// The patterns are constants covered by the unit tests; should one ever fail to compile it finds nothing
/// instead of panicking.
fn regex(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

static DATE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let day = r"(?:\d{1,2}(?:st|nd|rd|th|e|ste|de)?)";
    regex(&format!(
        r"(?i)\b(?:(?:(?:{WEEKDAYS})(?:,? (?:the )?{day}(?: (?:of )?(?:{MONTHS}))?)?)|(?:(?:the )?{day} (?:of )?(?:{MONTHS})\b(?: \d{{4}})?)|(?:(?:{MONTHS}) {day}(?:,? \d{{4}})?)|(?:on the {day}(?: of (?:{MONTHS}))?)|(?:\d{{4}}-\d{{2}}-\d{{2}})|(?:\d{{1,2}}[/-]\d{{1,2}}[/-]\d{{2,4}}))\b"
    ))
});

static DEADLINE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    regex(&format!(
        r"(?i)\b(?:(?:within|in|binnen|over|voor|before|by|maximaal|up to) (?:(?:{NUMBER_WORDS})(?: (?:to|tot|-|or|of) (?:{NUMBER_WORDS}))? {UNITS}|the hour|een uur|het uur)|(?:vandaag nog|vandaag|today|tonight|vanavond|tomorrow|morgen|overmorgen|next week|volgende week|this week|deze week|end of (?:the )?(?:day|week|month)|shortly|straks|zo snel mogelijk|as soon as possible|asap))\b"
    ))
});

static TIME: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let t = r"(?:\d{1,2}(?::\d{2})?\s?(?:am|pm|uur)?|\d{1,2}:\d{2})";
    regex(&format!(
        r"(?i)\b(?:(?:between|tussen|from|van) {t} (?:and|en|to|tot) {t}(?: uur)?|\d{{1,2}}:\d{{2}}(?: uur)?|\d{{1,2}}\s?(?:am|pm))"
    ))
});

static AMOUNT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let n = r"\d{1,3}(?:[.,]\d{3})*(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?";
    regex(&format!(
        r"(?i)(?:(?:€|£|\$|eur |euro |gbp |usd )\s?(?:{n})|\b(?:{n})\s?(?:euros?|eur|pounds?(?: \d{{2}}\b)?|pond|dollars?|cents?|€|£)|\b\d+[.,]\d{{2}}\b(?:[.,]\d)?)"
    ))
});

static ORDER: LazyLock<Option<Regex>> = LazyLock::new(|| {
    regex(
        r"(?i)\b(?:order(?: number| no\.?| nr\.?|nummer)?|bestel(?:nummer|ling)|ordernummer|bestelnr\.?)[:#]?\s*(?:#\s*)?([A-Z0-9]*\d[A-Z0-9-]{3,}\d)\b",
    )
});

static REFERENCE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    regex(
        r"\b(?:[A-Z]{1,4}-\d{3,}(?:-\d+)*|\d{3,}(?:-\d{3,})+)\b|(?i:(?:ticket|case|reference|ref|referentie|dossier|storings|klant|zaak)(?:nummer| number| no\.?| nr\.?)?[:#]?\s*)([A-Z]*\d[A-Z0-9-]{3,})\b",
    )
});

/// All facts in `text`, in order of position; overlapping hits keep the more specific kind
/// (an order number over a bare reference, a date over a deadline).
pub fn find(text: &str) -> Vec<Found> {
    let mut hits: Vec<Found> = Vec::new();
    let mut push = |kind, m: regex::Match<'_>| {
        let value = m.as_str().trim_end_matches(['.', ',']).trim().to_string();
        if !value.is_empty() {
            hits.push(Found { kind, value, start: m.start(), end: m.start() + m.as_str().len() });
        }
    };
    let captures = [(&ORDER, EntityKind::OrderNumber), (&REFERENCE, EntityKind::Reference)];
    for (re, kind) in captures {
        for c in re.iter().flat_map(|re| re.captures_iter(text)) {
            if let Some(m) = c.get(1).or_else(|| c.get(0)) {
                push(kind, m);
            }
        }
    }
    let plain = [
        (&DATE, EntityKind::Date),
        (&TIME, EntityKind::Time),
        (&AMOUNT, EntityKind::Amount),
        (&DEADLINE, EntityKind::Deadline),
    ];
    for (re, kind) in plain {
        re.iter().flat_map(|re| re.find_iter(text)).for_each(|m| push(kind, m));
    }
    // Earlier pushes win an overlap: order, reference, date, time, amount, deadline.
    let mut kept: Vec<Found> = Vec::new();
    for h in hits {
        if !kept.iter().any(|k| h.start < k.end && k.start < h.end) {
            kept.push(h);
        }
    }
    kept.sort_by_key(|f| f.start);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(EntityKind, String)> {
        find(text).into_iter().map(|f| (f.kind, f.value)).collect()
    }

    #[test]
    fn english_facts() {
        let k = kinds("The first available slot is Wednesday the 13th between 1pm and 6pm.");
        assert_eq!(
            k,
            [
                (EntityKind::Date, "Wednesday the 13th".into()),
                (EntityKind::Time, "between 1pm and 6pm".into())
            ]
        );
        let k =
            kinds("I have processed a full refund of 189.99. It will be back within 3 to 5 working days.");
        assert!(k.contains(&(EntityKind::Amount, "189.99".into())), "{k:?}");
        assert!(k.contains(&(EntityKind::Deadline, "within 3 to 5 working days".into())), "{k:?}");
        let k = kinds("Order number 5521-0098. Your reference number is VM-77310.");
        assert_eq!(
            k,
            [(EntityKind::OrderNumber, "5521-0098".into()), (EntityKind::Reference, "VM-77310".into())]
        );
        let k = kinds("compensation of 9 pounds 33 per day; the fee of 40 pounds; £12");
        assert_eq!(k.iter().filter(|(kind, _)| *kind == EntityKind::Amount).count(), 3, "{k:?}");
        assert!(kinds("My iPhone is on 11.1.2").iter().all(|(kind, _)| *kind != EntityKind::Amount));
        let k = kinds("Your contract ends on the 20th of December.");
        assert!(k.contains(&(EntityKind::Date, "on the 20th of December".into())), "{k:?}");
    }

    #[test]
    fn dutch_facts() {
        let k = kinds("De eerste mogelijkheid is donderdag 14 november tussen 8:00 en 12:00 uur.");
        assert_eq!(
            k,
            [
                (EntityKind::Date, "donderdag 14 november".into()),
                (EntityKind::Time, "tussen 8:00 en 12:00 uur".into())
            ]
        );
        let k = kinds("Ik kan de dubbele afschrijving van 42,50 euro vandaag voor u terugboeken.");
        assert_eq!(k, [(EntityKind::Amount, "42,50 euro".into()), (EntityKind::Deadline, "vandaag".into())]);
        let k = kinds("Bestelnummer 1024-7781-3390. Uw storingsnummer is ST-448120.");
        assert_eq!(
            k,
            [(EntityKind::OrderNumber, "1024-7781-3390".into()), (EntityKind::Reference, "ST-448120".into())]
        );
        let k = kinds("Die ontvangt u binnen tien werkdagen, het aanbod is geldig tot 15 december.");
        assert!(k.contains(&(EntityKind::Deadline, "binnen tien werkdagen".into())), "{k:?}");
        assert!(k.contains(&(EntityKind::Date, "15 december".into())), "{k:?}");
    }
}
