//! Tests of conversation scoring with hand-made intents and sentiment (the real-model tests are in
//! `real_model_tests.rs`), and of table scoring with unknown categories.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::conversation::{parse_transcript, ParseOptions};
use crate::tasks::intent::{DetectedIntent, TurnIntent};
use crate::tasks::sentiment::{Trajectory, Trend};
use crate::training::TrainOptions;

fn intents(id: &str, score: f32) -> ConversationIntents {
    ConversationIntents {
        primary: Some(id.into()),
        intents: vec![DetectedIntent { intent: id.into(), name: None, score, turns: vec![1] }],
        turns: vec![TurnIntent { turn: 1, intent: id.into(), score }],
        model: "test".into(),
    }
}

fn sentiment(start: f32, end: f32) -> SentimentAnalysis {
    SentimentAnalysis {
        turns: vec![],
        speakers: vec![],
        customer_trajectory: Some(Trajectory {
            start,
            end,
            trend: Trend::Stable,
            most_negative_turn: 1,
            most_negative_score: start.min(end),
        }),
        model: "test".into(),
    }
}

const NL: &str = "Medewerker: Goedemiddag, waarmee kan ik u helpen?\n\
Klant: Ik wil mijn abonnement opzeggen. Bij Odido krijg ik hetzelfde voor minder.\n\
Medewerker: Dat vind ik jammer.\n\
Klant: Dit is al de derde keer dat ik bel, en het is gewoon te duur.";

fn dutch() -> Conversation {
    let mut c = parse_transcript("nl", NL, &ParseOptions::default()).unwrap();
    c.language = Some("nl".into());
    c.customer.tenure_months = Some(7.0);
    c.customer.contract_end = Some("2027-01-05".into());
    c
}

#[test]
fn a_dutch_cancellation_is_high_risk_with_dutch_reasons() {
    let scorer = ChurnScorer::builtin().unwrap();
    let as_of = Some("2026-12-01".parse().unwrap());
    let risk = scorer
        .score_conversation(
            &dutch(),
            Some(&intents("cancel", 0.8)),
            Some(&sentiment(-0.2, -0.6)),
            Some(Resolution::Unresolved),
            as_of,
        )
        .unwrap();
    assert_eq!(risk.band, Band::High, "{risk:#?}");
    assert!(risk.score > 0.9);
    assert_eq!(risk.reasons[0].feature, "intent_cancel");
    assert_eq!(risk.reasons[0].text, "klant wil opzeggen (kans 80 %)");
    let text = |f: &str| risk.reasons.iter().find(|r| r.feature == f).map(|r| r.text.clone()).unwrap();
    assert_eq!(text("competitor_mention"), "klant noemt overstappen naar een concurrent (“Odido”)");
    assert_eq!(text("months_to_contract_end"), "contract loopt over 1 maand af");
    assert_eq!(text("unresolved"), "probleem niet opgelost");
    assert!(text("repeat_contact").contains("derde keer"));
    assert!(text("sentiment_end").contains("negatief") && text("sentiment_end").contains("−0,6"));
    // Sorted by size of the contribution, and the contributions add up to the score's logit.
    assert!(risk.reasons.windows(2).all(|w| w[0].contribution.abs() >= w[1].contribution.abs()));
    let logit = scorer.model().intercept + risk.reasons.iter().map(|r| r.contribution).sum::<f64>();
    assert!((model::sigmoid(logit) - risk.score).abs() < 1e-12);
    let competitor = risk.reasons.iter().find(|r| r.feature == "competitor_mention").unwrap();
    assert_eq!(competitor.evidence[0].turn, 1);
}

#[test]
fn a_happy_contact_is_low_risk_in_english_and_resolution_counts() {
    let scorer = ChurnScorer::builtin().unwrap();
    let c = parse_transcript(
        "en",
        "Customer: Thank you so much, great service!\nAgent: You're welcome.",
        &ParseOptions::default(),
    )
    .unwrap();
    let risk = scorer
        .score_conversation(&c, Some(&intents("compliment", 0.9)), Some(&sentiment(0.8, 0.9)), None, None)
        .unwrap();
    assert_eq!(risk.band, Band::Low);
    assert!(risk.score < 0.05, "{}", risk.score);
    assert_eq!(risk.reasons[0].text, "customer ends the conversation positive (sentiment 0.9)");
    let resolved = scorer
        .score_conversation(
            &c,
            Some(&intents("compliment", 0.9)),
            Some(&sentiment(0.8, 0.9)),
            Some(Resolution::Resolved),
            None,
        )
        .unwrap();
    assert!(resolved.score < risk.score);
    assert!(resolved.reasons.iter().any(|r| r.text == "problem resolved"));
}

#[test]
fn a_processed_cancellation_counts_as_unresolved_whatever_the_resolution() {
    let scorer = ChurnScorer::builtin().unwrap();
    let c = dutch();
    let mut signals = scorer.signals(&c, None, None, Some(Resolution::Resolved), None);
    let solved = scorer.score_signals(&signals, Some("nl")).unwrap();
    assert!(solved.reasons.iter().any(|r| r.text == "probleem opgelost" && r.contribution < 0.0));
    signals.cancellation_processed = true;
    assert_eq!(signals.row()[5].as_deref(), Some("1"));
    let leaving = scorer.score_signals(&signals, Some("nl")).unwrap();
    assert!(leaving.score > solved.score);
    let r = leaving.reasons.iter().find(|r| r.feature == "unresolved").unwrap();
    assert!(r.contribution > 0.0 && r.text == "opzegging verwerkt: de klant vertrekt", "{r:?}");
    // A customer's chain takes it from the last contact, and old signals without it read as false.
    let chain = [("a".to_string(), ChurnSignals::default()), ("b".to_string(), signals.clone())];
    assert!(ChurnSignals::combine(&chain).cancellation_processed);
    let old: ChurnSignals = serde_json::from_str(r#"{"conversations":1,"intent_cancel":0.5,"intent_complaint":0,"intent_escalation":0,"sentiment_end":null,"sentiment_drop":null,"resolution":null,"competitor":[],"price_complaint":[],"repeat_contact":[],"tenure_months":null,"months_to_contract_end":null,"contacts_last_30_days":null,"plan":null,"plan_flexible":null}"#).unwrap();
    assert!(!old.cancellation_processed);
}

#[test]
fn bands_are_configurable_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let options = ChurnOptions { bands: Some(Bands { medium: 0.01, high: 0.02 }), ..Default::default() };
    let scorer = ChurnScorer::load(dir.path(), &options).unwrap();
    let c = parse_transcript("en", "Customer: Hello.", &ParseOptions::default()).unwrap();
    assert_eq!(scorer.score_conversation(&c, None, None, None, None).unwrap().band, Band::High);
    let bad = ChurnOptions { bands: Some(Bands { medium: 0.7, high: 0.6 }), ..Default::default() };
    assert!(ChurnScorer::load(dir.path(), &bad).unwrap_err().to_string().contains("medium < high"));
}

#[test]
fn a_chain_scores_higher_than_its_calm_last_contact() {
    let scorer = ChurnScorer::builtin().unwrap();
    let first =
        scorer.signals(&dutch(), Some(&intents("cancel", 0.8)), Some(&sentiment(-0.5, -0.7)), None, None);
    let calm = parse_transcript(
        "nl2",
        "Klant: Ik heb een vraag over mijn factuur.\nMedewerker: Die staat online.",
        &ParseOptions::default(),
    )
    .unwrap();
    let last = scorer.signals(
        &calm,
        Some(&intents("billing_question", 0.7)),
        Some(&sentiment(0.0, 0.1)),
        None,
        None,
    );
    let alone = scorer.score_signals(&last, Some("nl")).unwrap();
    let chain = scorer.score_chain(&[("nl".into(), first), ("nl2".into(), last)], Some("nl")).unwrap();
    assert!(chain.score > alone.score + 0.3, "{} vs {}", chain.score, alone.score);
    assert!(chain.reasons.iter().any(|r| r.text == "2 contacten in de laatste 30 dagen"));
    let c = chain.reasons.iter().find(|r| r.feature == "competitor_mention").unwrap();
    assert_eq!(c.evidence[0].conversation.as_deref(), Some("nl"));
}

#[test]
fn table_scoring_reasons_and_unknown_categories() {
    let rows = |v: &[(&str, &str, &str)]| {
        v.iter()
            .map(|(a, b, c)| vec![Some(a.to_string()), Some(b.to_string()), Some(c.to_string())])
            .collect::<Vec<_>>()
    };
    let mut data = Vec::new();
    for i in 0..60 {
        let monthly = i % 2 == 0;
        let churn = if monthly { i % 6 != 0 } else { i % 10 == 1 };
        data.push((
            (i % 30).to_string(),
            if monthly { "Month-to-month" } else { "Two year" }.to_string(),
            if churn { "Yes" } else { "No" }.to_string(),
        ));
    }
    let data: Vec<(&str, &str, &str)> =
        data.iter().map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str())).collect();
    let t = Table::from_rows(vec!["tenure".into(), "contract".into(), "churn".into()], rows(&data)).unwrap();
    let (m, _) =
        ChurnModel::train(&t, "churn", &TrainOptions { test_fraction: 0.0, ..Default::default() }).unwrap();
    let new = Table::from_rows(
        vec!["tenure".into(), "contract".into()],
        rows(&[("3", "Month-to-month", ""), ("3", "Weekly", "")])
            .into_iter()
            .map(|mut r| {
                r.pop();
                r
            })
            .collect(),
    )
    .unwrap();
    let risks = score_table(&m, &new, None).unwrap();
    assert!(risks[0].score > 0.5);
    assert!(risks[0].reasons.iter().any(|r| r.text == "contract is Month-to-month"));
    assert!(
        risks[1].warnings.iter().any(|w| w.contains("\"Weekly\"") && w.contains("unseen")),
        "{:?}",
        risks[1].warnings
    );
    assert!(risks[1].reasons.iter().all(|r| r.feature != "contract"));
    let nl = score_table(&m, &new, Some("nl")).unwrap();
    assert!(nl[0].reasons.iter().any(|r| r.text.contains("gemiddeld")));
}
