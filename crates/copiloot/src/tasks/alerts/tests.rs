//! Unit tests of the alert rules: each condition on hand-made findings, languages, and bad rule files.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::conversation::Turn;
use crate::redact::Redactor;

fn conversation(channel: Channel, language: &str, turns: &[(Speaker, &str, Option<f64>)]) -> Conversation {
    Conversation {
        id: "a".into(),
        channel,
        language: Some(language.into()),
        turns: turns
            .iter()
            .enumerate()
            .map(|(i, (s, t, ts))| Turn { index: i, speaker: *s, text: t.to_string(), timestamp: *ts })
            .collect(),
        customer: Default::default(),
        parties: Default::default(),
    }
}

fn ids(alerts: &[Alert]) -> Vec<(&str, Vec<usize>)> {
    alerts.iter().map(|a| (a.id.as_str(), a.turns.clone())).collect()
}

#[test]
fn personal_data_typed_into_a_chat_is_flagged_and_not_on_the_phone() {
    let rules = AlertRules::builtin().unwrap();
    let turns = [
        (Speaker::Agent, "Waarmee kan ik helpen?", None),
        (Speaker::Customer, "Mijn rekening is NL91ABNA0417164300, kunt u het geld terugstorten?", None),
    ];
    for (channel, expect) in [(Channel::Chat, vec![("pii_in_writing", vec![1])]), (Channel::Phone, vec![])] {
        let c = conversation(channel, "nl", &turns);
        let (_, spans) = Redactor::default().redact_conversation(&c);
        let findings =
            Findings { conversation: &c, intents: None, sentiment: None, churn: None, pii: Some(&spans) };
        let alerts = rules.check(&findings);
        assert_eq!(ids(&alerts), expect, "{channel:?}");
        if let Some(a) = alerts.first() {
            assert!(a.message.starts_with("Klant deelt gevoelige gegevens"), "{a:?}");
        }
    }
}

#[test]
fn a_long_silence_cites_the_turn_after_it_in_the_fallback_language() {
    let rules = AlertRules::builtin().unwrap();
    let c = conversation(
        Channel::Phone,
        "de",
        &[
            (Speaker::Customer, "Hallo?", Some(0.0)),
            (Speaker::Agent, "Einen Moment bitte.", Some(5.0)),
            (Speaker::Agent, "Danke fürs Warten.", Some(95.0)),
        ],
    );
    let findings = Findings { conversation: &c, intents: None, sentiment: None, churn: None, pii: None };
    let alerts = rules.check(&findings);
    assert_eq!(ids(&alerts), [("long_silence", vec![2])]);
    assert!(alerts[0].message.starts_with("Long silence"), "German falls back to English: {alerts:?}");
}

#[test]
fn a_sudden_drop_between_customer_turns_cites_both() {
    let rules = AlertRules::builtin().unwrap();
    let c = conversation(
        Channel::Chat,
        "en",
        &[
            (Speaker::Customer, "Thanks, that sounds great!", None),
            (Speaker::Agent, "The fee is 50 euros.", None),
            (Speaker::Customer, "What? That is outrageous.", None),
        ],
    );
    let turn = |turn: usize, speaker: Speaker, score: f32| crate::tasks::sentiment::TurnSentiment {
        turn,
        speaker,
        label: crate::tasks::sentiment::SentimentLabel::Neutral,
        score,
        confidence: 0.9,
    };
    let sentiment = crate::tasks::sentiment::summarize(
        vec![turn(0, Speaker::Customer, 0.7), turn(1, Speaker::Agent, 0.0), turn(2, Speaker::Customer, -0.6)],
        "test".into(),
    );
    let findings =
        Findings { conversation: &c, intents: None, sentiment: Some(&sentiment), churn: None, pii: None };
    assert_eq!(ids(&rules.check(&findings)), [("sentiment_drop", vec![0, 2])]);
}

#[test]
fn rule_files_with_mistakes_are_refused_with_the_reason() {
    let no_english = "[[alert]]\nid = \"x\"\nwhen = \"repeat_contact\"\ntext.nl = \"Let op\"\n";
    let err = AlertRules::from_toml(no_english, "rules.toml").unwrap_err().to_string();
    assert!(err.contains("rules.toml") && err.contains("`x`") && err.contains("text.en"), "{err}");
    let unknown = "[[alert]]\nid = \"x\"\nwhen = \"moon_phase\"\ntext.en = \"Look up\"\n";
    let err = AlertRules::from_toml(unknown, "rules.toml").unwrap_err().to_string();
    assert!(err.contains("rules.toml") && err.contains("moon_phase"), "{err}");
    let twice = "[[alert]]\nid = \"x\"\nwhen = \"repeat_contact\"\ntext.en = \"a\"\n\n[[alert]]\nid = \"x\"\nwhen = \"repeat_contact\"\ntext.en = \"b\"\n";
    let err = AlertRules::from_toml(twice, "rules.toml").unwrap_err().to_string();
    assert!(err.contains("defined twice"), "{err}");
}
