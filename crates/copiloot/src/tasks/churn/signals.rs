//! Churn signals of a conversation and its customer record: intent probabilities, the customer's
//! sentiment at the end and its drop, resolution, competitor / price / repeat-contact phrases (from a
//! configurable Dutch + English list, `models/churn/signals.toml`), tenure, months to contract end,
//! recent contacts and plan — and the rule that combines a customer's chain of contacts.

use crate::conversation::{Conversation, Speaker};
use crate::error::Result;
use crate::tasks::intent::ConversationIntents;
use crate::tasks::sentiment::SentimentAnalysis;
use crate::tasks::summary::Resolution;
use crate::training::table::Table;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::tasks::lexicon::{default_signals_path, SignalConfig, DEFAULT_SIGNALS_TOML};

/// Where a phrase signal was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    /// The conversation, when signals of several conversations were combined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<String>,
    pub turn: usize,
    /// The matched words (a brand or a phrase from the list, never more of the turn).
    pub matched: String,
}

/// Everything the churn model reads about one conversation (or one customer's chain of them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChurnSignals {
    /// Conversations these signals come from (1, or the length of a customer's chain).
    pub conversations: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Highest probability of the intent over the customer's turns (0 when never detected).
    pub intent_cancel: f64,
    pub intent_complaint: f64,
    pub intent_escalation: f64,
    /// Customer sentiment at the end (−1..1) and its fall since the start (≥ 0).
    pub sentiment_end: Option<f64>,
    pub sentiment_drop: Option<f64>,
    pub resolution: Option<Resolution>,
    /// The agent confirmed the cancellation the customer asked for (the summary's `request`): the
    /// `unresolved` feature is then 1 whatever the resolution says — a customer who leaves is the risk
    /// itself, never a solved problem that lowers it. Absent (false) for older signals.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancellation_processed: bool,
    pub competitor: Vec<Evidence>,
    pub price_complaint: Vec<Evidence>,
    pub repeat_contact: Vec<Evidence>,
    pub tenure_months: Option<f64>,
    /// Negative when the contract has already ended.
    pub months_to_contract_end: Option<f64>,
    pub contacts_last_30_days: Option<f64>,
    pub plan: Option<String>,
    pub plan_flexible: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Column names of [`ChurnSignals::table`], in order: the features of a conversation model.
pub const SIGNAL_COLUMNS: &[&str] = &[
    "intent_cancel",
    "intent_complaint",
    "intent_escalation",
    "sentiment_end",
    "sentiment_drop",
    "unresolved",
    "competitor_mention",
    "price_complaint",
    "repeat_contact",
    "tenure_months",
    "months_to_contract_end",
    "contacts_last_30_days",
    "plan_flexible",
    "plan",
];

impl ChurnSignals {
    /// Reads the signals of one analysed conversation. `as_of` is today's date for "contract ends in N
    /// months" (without it the contract end is not used, and a warning says so).
    pub fn extract(
        config: &SignalConfig,
        conversation: &Conversation,
        intents: Option<&ConversationIntents>,
        sentiment: Option<&SentimentAnalysis>,
        resolution: Option<Resolution>,
        as_of: Option<Date>,
    ) -> ChurnSignals {
        let intent = |ids: &[String]| intents.map_or(0.0, |i| intent_probability(i, ids));
        let trajectory = sentiment.and_then(|s| s.customer_trajectory.as_ref());
        let mut s = ChurnSignals {
            conversations: 1,
            customer_id: conversation.customer.customer_id.clone(),
            intent_cancel: intent(&config.intents().cancel),
            intent_complaint: intent(&config.intents().complaint),
            intent_escalation: intent(&config.intents().escalation),
            sentiment_end: trajectory.map(|t| f64::from(t.end)),
            sentiment_drop: trajectory.map(|t| f64::from((t.start - t.end).max(0.0))),
            resolution: resolution.filter(|r| *r != Resolution::Unknown),
            ..ChurnSignals::default()
        };
        let own = crate::tasks::lexicon::own_handles(conversation.turns.iter().map(|t| t.text.as_str()));
        for turn in conversation.turns_by(Speaker::Customer) {
            let evidence = |m: regex::Match| Evidence {
                conversation: None,
                turn: turn.index,
                matched: m.as_str().to_string(),
            };
            if let Some(m) = config.competitor(&turn.text, &own) {
                s.competitor.push(evidence(m));
            }
            if let Some(m) = config.price(&turn.text) {
                s.price_complaint.push(evidence(m));
            }
            if let Some(m) = config.repeat_contact(&turn.text) {
                s.repeat_contact.push(evidence(m));
            }
        }
        let c = &conversation.customer;
        s.tenure_months = c.tenure_months.filter(|t| t.is_finite() && *t >= 0.0);
        if c.tenure_months.is_some() && s.tenure_months.is_none() {
            s.warnings.push("customer.tenure_months is negative or not a number; it was not used".into());
        }
        s.contacts_last_30_days = c.contacts_last_30_days.map(f64::from);
        s.plan = c.plan.clone();
        s.plan_flexible = c.plan.as_ref().map(|p| config.flexible_plan(p));
        if let Some(end) = &c.contract_end {
            match (end.parse::<Date>(), as_of) {
                (Ok(end), Some(today)) => {
                    s.months_to_contract_end = Some(f64::from(end.days_since(today)) / DAYS_PER_MONTH)
                }
                (Ok(_), None) => s.warnings.push("contract_end not used: no as-of date was given".into()),
                (Err(e), _) => s.warnings.push(format!("customer.contract_end not used: {e}")),
            }
        }
        s
    }

    /// Combines a customer's conversations (oldest first) into one set of signals — the chain rule:
    /// what the customer said anywhere in the chain counts (the highest intent probabilities, every
    /// competitor/price/repeat phrase); the mood and resolution are those of the LAST contact (the state
    /// the customer is left in); a chain of two or more contacts is itself a repeat contact; the record
    /// fields are the latest known, and recent contacts are at least the number of conversations.
    pub fn combine(chain: &[(String, ChurnSignals)]) -> ChurnSignals {
        let mut out = ChurnSignals { conversations: chain.len(), ..ChurnSignals::default() };
        let tag = |id: &str, ev: &[Evidence]| -> Vec<Evidence> {
            ev.iter().map(|e| Evidence { conversation: Some(id.to_string()), ..e.clone() }).collect()
        };
        for (id, s) in chain {
            out.intent_cancel = out.intent_cancel.max(s.intent_cancel);
            out.intent_complaint = out.intent_complaint.max(s.intent_complaint);
            out.intent_escalation = out.intent_escalation.max(s.intent_escalation);
            out.competitor.extend(tag(id, &s.competitor));
            out.price_complaint.extend(tag(id, &s.price_complaint));
            out.repeat_contact.extend(tag(id, &s.repeat_contact));
            out.customer_id = s.customer_id.clone().or(out.customer_id);
            out.tenure_months = s.tenure_months.or(out.tenure_months);
            out.months_to_contract_end = s.months_to_contract_end.or(out.months_to_contract_end);
            out.contacts_last_30_days = s.contacts_last_30_days.or(out.contacts_last_30_days);
            out.plan = s.plan.clone().or(out.plan);
            out.plan_flexible = s.plan_flexible.or(out.plan_flexible);
            out.warnings.extend(s.warnings.iter().map(|w| format!("{id}: {w}")));
        }
        if let Some((_, last)) = chain.last() {
            out.sentiment_end = last.sentiment_end;
            out.sentiment_drop = last.sentiment_drop;
            out.resolution = last.resolution;
            out.cancellation_processed = last.cancellation_processed;
        }
        if chain.len() >= 2 && out.repeat_contact.is_empty() {
            // Not a phrase: the chain itself. Turn 0 of the last conversation stands for "this contact".
            if let Some((id, _)) = chain.last() {
                out.repeat_contact.push(Evidence {
                    conversation: Some(id.clone()),
                    turn: 0,
                    matched: format!("{} contacts", chain.len()),
                });
            }
        }
        let n = chain.len() as f64;
        out.contacts_last_30_days = Some(out.contacts_last_30_days.map_or(n, |c| c.max(n)));
        out
    }

    /// The model's input row, in [`SIGNAL_COLUMNS`] order.
    pub fn row(&self) -> Vec<Option<String>> {
        let num = |v: Option<f64>| v.map(|x| x.to_string());
        let flag = |ev: &[Evidence]| Some(if ev.is_empty() { "0" } else { "1" }.to_string());
        let unresolved = self.resolution.and_then(|r| match r {
            _ if self.cancellation_processed => Some(1.0),
            Resolution::Resolved => Some(0.0),
            Resolution::Partial => Some(0.5),
            Resolution::Unresolved => Some(1.0),
            Resolution::Unknown => None,
        });
        let unresolved = unresolved.or(self.cancellation_processed.then_some(1.0));
        vec![
            num(Some(self.intent_cancel)),
            num(Some(self.intent_complaint)),
            num(Some(self.intent_escalation)),
            num(self.sentiment_end),
            num(self.sentiment_drop),
            num(unresolved),
            flag(&self.competitor),
            flag(&self.price_complaint),
            flag(&self.repeat_contact),
            num(self.tenure_months),
            num(self.months_to_contract_end),
            num(self.contacts_last_30_days),
            self.plan_flexible.map(|f| if f { "1" } else { "0" }.to_string()),
            self.plan.clone(),
        ]
    }

    /// A table of signal rows (plus extra columns, e.g. a label for training).
    pub fn table(rows: &[ChurnSignals], extra: &[(String, Vec<Option<String>>)]) -> Result<Table> {
        let mut columns: Vec<String> = SIGNAL_COLUMNS.iter().map(|c| c.to_string()).collect();
        columns.extend(extra.iter().map(|(name, _)| name.clone()));
        let data = rows
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut r = s.row();
                r.extend(extra.iter().map(|(_, vals)| vals.get(i).cloned().flatten()));
                r
            })
            .collect();
        Table::from_rows(columns, data)
    }
}

/// Highest score of any of `ids` in the conversation (detected intents, else per-turn predictions).
fn intent_probability(intents: &ConversationIntents, ids: &[String]) -> f64 {
    let detected = intents.intents.iter().filter(|d| ids.contains(&d.intent)).map(|d| d.score);
    let turns = intents.turns.iter().filter(|t| ids.contains(&t.intent)).map(|t| t.score);
    f64::from(detected.chain(turns).fold(0.0f32, f32::max)).clamp(0.0, 1.0)
}

/// Average month length, for "contract ends in N months".
pub const DAYS_PER_MONTH: f64 = 365.2425 / 12.0;

/// A calendar date (`YYYY-MM-DD`). The arithmetic is `jiff`'s; this type keeps the strict parsing (four-digit
/// year, an optional `T…` time that is ignored) and the error message the CLI and Python show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// Today in UTC, from the system clock (used at the edge: the CLI and the server).
    pub fn today_utc() -> Date {
        Date::from_civil(jiff::tz::Offset::UTC.to_datetime(jiff::Timestamp::now()).date())
    }

    /// Days from 1970-01-01.
    pub fn days(self) -> i64 {
        let epoch = jiff::civil::date(1970, 1, 1);
        self.civil().map_or(0, |d| i64::from(epoch.until(d).map_or(0, |span| span.get_days())))
    }

    /// Days from `other` to `self` (negative when `self` is earlier).
    pub fn days_since(self, other: Date) -> i32 {
        (self.days() - other.days()).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    }

    fn civil(self) -> Option<jiff::civil::Date> {
        let month = i8::try_from(self.month).ok()?;
        let day = i8::try_from(self.day).ok()?;
        jiff::civil::Date::new(i16::try_from(self.year).ok()?, month, day).ok()
    }

    fn from_civil(d: jiff::civil::Date) -> Date {
        Date { year: i32::from(d.year()), month: d.month() as u32, day: d.day() as u32 }
    }

    #[cfg(test)]
    fn from_days(days: i64) -> Date {
        let epoch = jiff::civil::date(1970, 1, 1);
        Date::from_civil(epoch.checked_add(jiff::Span::new().days(days)).unwrap_or(epoch))
    }
}

impl std::str::FromStr for Date {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Date, String> {
        let bad = || format!("{s:?} is not a date; write it as YYYY-MM-DD (e.g. 2026-02-01)");
        let t = s.trim();
        let t =
            t.get(..10).filter(|_| t.len() == 10 || t.as_bytes().get(10) == Some(&b'T')).ok_or_else(bad)?;
        let mut parts = t.split('-');
        let (Some(y), Some(m), Some(d), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if y.len() != 4 {
            return Err(bad());
        }
        let (year, month, day) = (
            y.parse::<i16>().map_err(|_| bad())?,
            m.parse::<i8>().map_err(|_| bad())?,
            d.parse::<i8>().map_err(|_| bad())?,
        );
        jiff::civil::Date::new(year, month, day).map(Date::from_civil).map_err(|_| bad())
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::conversation::{parse_transcript, ParseOptions};

    #[test]
    fn dates_parse_and_count_days() {
        let d: Date = "2026-02-01".parse().unwrap();
        assert_eq!(d.days_since("2026-01-01".parse().unwrap()), 31);
        assert_eq!("2024-03-01".parse::<Date>().unwrap().days_since("2024-02-01".parse().unwrap()), 29);
        assert_eq!(Date::from_days(d.days()), d);
        assert_eq!(Date::from_days(0).to_string(), "1970-01-01");
        for bad in ["2026-13-01", "2026-02-30", "1-2-3", "tomorrow", "2026-1-01x"] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
        assert!("2026-02-01T00:00:00Z".parse::<Date>().is_ok());
    }

    #[test]
    fn phrases_are_found_in_customer_turns_only() {
        let config = SignalConfig::builtin().unwrap();
        let text = "Medewerker: U spreekt met Vodafone, wij zijn goedkoper dan Odido.\n\
                    Klant: Bij Odido krijg ik hetzelfde voor minder, dit is al de derde keer dat ik bel.\n\
                    Klant: Het is gewoon te duur.";
        let mut conv = parse_transcript("t", text, &ParseOptions::default()).unwrap();
        conv.customer.contract_end = Some("2027-01-01".into());
        conv.customer.tenure_months = Some(7.0);
        conv.customer.plan = Some("Sim Only maandelijks opzegbaar".into());
        let s = ChurnSignals::extract(&config, &conv, None, None, None, Some("2026-12-01".parse().unwrap()));
        assert_eq!(s.competitor.len(), 1);
        assert_eq!((s.competitor[0].turn, s.competitor[0].matched.as_str()), (1, "Odido"));
        assert_eq!(s.repeat_contact[0].matched, "derde keer");
        assert_eq!(s.price_complaint.len(), 1);
        assert_eq!(s.price_complaint[0].turn, 2);
        assert!((s.months_to_contract_end.unwrap() - 31.0 / DAYS_PER_MONTH).abs() < 1e-9);
        assert_eq!(s.plan_flexible, Some(true));
        let row = s.row();
        assert_eq!(row.len(), SIGNAL_COLUMNS.len());
        assert_eq!(row[6].as_deref(), Some("1"));
        assert_eq!(row[5], None, "no resolution → missing");
        let s = ChurnSignals::extract(&config, &conv, None, None, None, None);
        assert!(s.months_to_contract_end.is_none() && s.warnings[0].contains("as-of"));
    }

    #[test]
    fn english_competitors_respect_case_and_bad_lists_fail() {
        let config = SignalConfig::builtin().unwrap();
        let conv = parse_transcript(
            "t",
            "Customer: I called three times.\nCustomer: Three offers me a better deal.",
            &ParseOptions::default(),
        )
        .unwrap();
        let s = ChurnSignals::extract(&config, &conv, None, None, None, None);
        assert_eq!(s.competitor.len(), 1);
        assert_eq!(s.competitor[0].turn, 1);
        assert_eq!(s.repeat_contact[0].turn, 0);
        let e = SignalConfig::from_toml("version = 1\n[intents]\ncancel=[]\ncomplaint=[]\nescalation=[]\n[competitors]\nphrases = { en = [\"(unclosed\"] }\n", "x.toml").unwrap_err();
        assert!(e.to_string().contains("not a valid regex"), "{e}");
        assert!(SignalConfig::from_toml("version = 2", "x").is_err());
    }

    #[test]
    fn a_chain_keeps_what_was_said_and_ends_with_the_last_mood() {
        let first = ChurnSignals {
            conversations: 1,
            intent_cancel: 0.8,
            sentiment_end: Some(-0.6),
            competitor: vec![Evidence { conversation: None, turn: 2, matched: "Odido".into() }],
            tenure_months: Some(5.0),
            ..Default::default()
        };
        let second = ChurnSignals {
            conversations: 1,
            intent_cancel: 0.1,
            sentiment_end: Some(0.4),
            contacts_last_30_days: Some(1.0),
            ..Default::default()
        };
        let c = ChurnSignals::combine(&[("a".into(), first), ("b".into(), second)]);
        assert_eq!(c.conversations, 2);
        assert_eq!(c.intent_cancel, 0.8);
        assert_eq!(c.sentiment_end, Some(0.4));
        assert_eq!(c.competitor[0].conversation.as_deref(), Some("a"));
        assert_eq!(c.repeat_contact[0].matched, "2 contacts");
        assert_eq!(c.contacts_last_30_days, Some(2.0));
        assert_eq!(c.tenure_months, Some(5.0));
    }
}
