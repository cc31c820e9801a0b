//! The short human sentences of churn reasons, in Dutch or English ("klant noemt overstappen naar een
//! concurrent", "contract ends in 1 month"). One function per kind of feature; the numbers are formatted
//! the way the language writes them (decimal comma in Dutch).

use super::signals::{ChurnSignals, Evidence};

/// Sentence language: Dutch for `nl…`, English otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    Nl,
    En,
}

impl Lang {
    pub(crate) fn of(language: Option<&str>) -> Lang {
        match language {
            Some(l) if l.to_ascii_lowercase().starts_with("nl") => Lang::Nl,
            _ => Lang::En,
        }
    }

    fn pick(self, nl: String, en: String) -> String {
        match self {
            Lang::Nl => nl,
            Lang::En => en,
        }
    }
}

fn num(v: f64, lang: Lang) -> String {
    let s = format!("{v:.1}").replace('-', "−");
    match lang {
        Lang::Nl => s.replace('.', ","),
        Lang::En => s,
    }
}

fn quoted(ev: &[Evidence]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for e in ev {
        if !seen.iter().any(|s| s.eq_ignore_ascii_case(&e.matched)) {
            seen.push(&e.matched);
        }
    }
    seen.truncate(3);
    if seen.is_empty() {
        String::new()
    } else {
        format!(" (“{}”)", seen.join("”, “"))
    }
}

fn months(m: f64, lang: Lang) -> String {
    let n = m.round().max(1.0) as i64;
    match (lang, n) {
        (Lang::Nl, 1) => "1 maand".into(),
        (Lang::Nl, n) => format!("{n} maanden"),
        (Lang::En, 1) => "1 month".into(),
        (Lang::En, n) => format!("{n} months"),
    }
}

/// The sentence for a conversation feature (`None` for a column this module does not know).
/// `raises` is the sign of the contribution.
pub(crate) fn conversation_reason(
    feature: &str,
    s: &ChurnSignals,
    raises: bool,
    lang: Lang,
) -> Option<String> {
    let pct = |p: f64| format!("{:.0} %", 100.0 * p);
    let l = lang;
    let text = match feature {
        "intent_cancel" if raises => l.pick(
            format!("klant wil opzeggen (kans {})", pct(s.intent_cancel)),
            format!("customer wants to cancel (probability {})", pct(s.intent_cancel)),
        ),
        "intent_cancel" => l.pick("klant wil niet opzeggen".into(), "no wish to cancel".into()),
        "intent_complaint" if raises => l.pick(
            format!("klant dient een klacht in (kans {})", pct(s.intent_complaint)),
            format!("customer complains (probability {})", pct(s.intent_complaint)),
        ),
        "intent_complaint" => l.pick("geen klacht".into(), "no complaint".into()),
        "intent_escalation" if raises => l.pick(
            "klant wil escaleren (leidinggevende of klacht hoger op)".into(),
            "customer asks to escalate (a manager or a formal complaint)".into(),
        ),
        "intent_escalation" => l.pick("geen escalatie".into(), "no escalation".into()),
        "sentiment_end" => {
            let v = s.sentiment_end.unwrap_or(0.0);
            let (nl, en) = if v <= -0.25 {
                ("negatief", "negative")
            } else if v >= 0.25 {
                ("positief", "positive")
            } else {
                ("neutraal", "neutral")
            };
            l.pick(
                format!("klant eindigt het gesprek {nl} (sentiment {})", num(v, l)),
                format!("customer ends the conversation {en} (sentiment {})", num(v, l)),
            )
        }
        "sentiment_drop" if raises => l.pick(
            format!(
                "stemming van de klant daalt tijdens het gesprek (−{})",
                num(s.sentiment_drop.unwrap_or(0.0), l)
            ),
            format!(
                "customer's mood drops during the conversation (−{})",
                num(s.sentiment_drop.unwrap_or(0.0), l)
            ),
        ),
        "sentiment_drop" => {
            l.pick("stemming van de klant daalt niet".into(), "customer's mood does not drop".into())
        }
        "unresolved" if s.cancellation_processed => l.pick(
            "opzegging verwerkt: de klant vertrekt".into(),
            "cancellation processed: the customer is leaving".into(),
        ),
        "unresolved" => match s.resolution {
            Some(crate::tasks::summary::Resolution::Resolved) => {
                l.pick("probleem opgelost".into(), "problem resolved".into())
            }
            Some(crate::tasks::summary::Resolution::Partial) => {
                l.pick("probleem deels opgelost".into(), "problem partly resolved".into())
            }
            _ => l.pick("probleem niet opgelost".into(), "problem not resolved".into()),
        },
        "competitor_mention" if !s.competitor.is_empty() => l.pick(
            format!("klant noemt overstappen naar een concurrent{}", quoted(&s.competitor)),
            format!("customer mentions switching to a competitor{}", quoted(&s.competitor)),
        ),
        "competitor_mention" => l.pick("geen concurrent genoemd".into(), "no competitor mentioned".into()),
        "price_complaint" if !s.price_complaint.is_empty() => l.pick(
            format!("klant klaagt over de prijs{}", quoted(&s.price_complaint)),
            format!("customer complains about the price{}", quoted(&s.price_complaint)),
        ),
        "price_complaint" => l.pick("geen klacht over de prijs".into(), "no price complaint".into()),
        "repeat_contact" if !s.repeat_contact.is_empty() => l.pick(
            format!("klant neemt opnieuw contact op over hetzelfde probleem{}", quoted(&s.repeat_contact)),
            format!("repeat contact about the same issue{}", quoted(&s.repeat_contact)),
        ),
        "repeat_contact" => {
            l.pick("eerste contact over dit probleem".into(), "first contact about this issue".into())
        }
        "tenure_months" => {
            let m = s.tenure_months.unwrap_or(0.0);
            let span = if m >= 24.0 {
                let y = (m / 12.0).round() as i64;
                l.pick(format!("{y} jaar"), format!("{y} years"))
            } else {
                months(m, l)
            };
            match (raises, l) {
                (true, Lang::Nl) => format!("klant sinds {span} (kort)"),
                (true, Lang::En) => format!("customer for only {span}"),
                (false, Lang::Nl) => format!("trouwe klant: al {span}"),
                (false, Lang::En) => format!("loyal customer for {span}"),
            }
        }
        "months_to_contract_end" => {
            let m = s.months_to_contract_end.unwrap_or(0.0);
            if m < 0.0 {
                l.pick(
                    "contract is al afgelopen: klant kan zo weg".into(),
                    "contract has ended: the customer can leave any time".into(),
                )
            } else if m < 0.5 {
                l.pick("contract loopt deze maand af".into(), "contract ends this month".into())
            } else {
                l.pick(
                    format!("contract loopt over {} af", months(m, l)),
                    format!("contract ends in {}", months(m, l)),
                )
            }
        }
        "contacts_last_30_days" => {
            let n = s.contacts_last_30_days.unwrap_or(0.0).round() as i64;
            match (l, n) {
                (Lang::Nl, 1) => "1 contact in de laatste 30 dagen".into(),
                (Lang::Nl, n) => format!("{n} contacten in de laatste 30 dagen"),
                (Lang::En, 1) => "1 contact in the last 30 days".into(),
                (Lang::En, n) => format!("{n} contacts in the last 30 days"),
            }
        }
        "plan_flexible" => {
            let plan = s.plan.as_deref().map(|p| format!(" ({p})")).unwrap_or_default();
            if s.plan_flexible == Some(true) {
                l.pick(
                    format!("abonnement zonder vaste looptijd{plan}"),
                    format!("plan without a fixed term{plan}"),
                )
            } else {
                l.pick(
                    format!("abonnement met vaste looptijd{plan}"),
                    format!("plan with a fixed term{plan}"),
                )
            }
        }
        "plan" => {
            let plan = s.plan.clone().unwrap_or_default();
            l.pick(format!("abonnement: {plan}"), format!("plan: {plan}"))
        }
        _ => return None,
    };
    Some(text)
}

/// The sentence for a column of a customer table: its value, and for numbers whether it is above or
/// below the training average.
pub(crate) fn table_reason(
    column: &str,
    value: Option<&str>,
    above_average: Option<bool>,
    lang: Lang,
) -> String {
    let v = value.unwrap_or("?");
    let side = match (above_average, lang) {
        (Some(true), Lang::Nl) => " (boven gemiddeld)",
        (Some(false), Lang::Nl) => " (onder gemiddeld)",
        (Some(true), Lang::En) => " (above average)",
        (Some(false), Lang::En) => " (below average)",
        (None, _) => "",
    };
    let name = column.replace('_', " ");
    format!("{name} is {v}{side}")
}
