//! Unit tests of the intent models on a toy embedder: zero-shot, conversation intents, typed errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::conversation::Turn;
use crate::tasks::test_support::HashEmbedder;

fn tiny_taxonomy() -> Taxonomy {
    Taxonomy::from_toml_str(
        r#"
name = "tiny"
[[intents]]
id = "cancel"
name = { en = "Cancel", nl = "Opzeggen" }
[intents.examples]
en = ["cancel my subscription", "I want to cancel the contract", "terminate my subscription"]
nl = ["abonnement opzeggen", "ik wil opzeggen"]
[[intents]]
id = "delivery"
name = { en = "Delivery", nl = "Bezorging" }
[intents.examples]
en = ["where is my parcel", "my parcel has not arrived", "parcel delivery status"]
nl = ["waar is mijn pakket", "pakket niet bezorgd"]
"#,
        "tiny.toml",
    )
    .unwrap()
}

fn conv(turns: &[(Speaker, &str)]) -> Conversation {
    Conversation {
        id: "c1".into(),
        channel: Default::default(),
        language: Some("en".into()),
        turns: turns
            .iter()
            .enumerate()
            .map(|(i, (s, t))| Turn { index: i, speaker: *s, text: t.to_string(), timestamp: None })
            .collect(),
        customer: Default::default(),
        parties: Default::default(),
    }
}

#[test]
fn zero_shot_with_a_toy_embedder_picks_the_overlapping_intent() {
    let e = HashEmbedder { dim: 256 };
    let model = IntentModel::zero_shot(tiny_taxonomy(), &e).unwrap();
    let opts = IntentOptions { min_confidence: 0.0, ..Default::default() };
    let p = model.predict_texts(&["please cancel my subscription"], &e, &opts).unwrap();
    assert_eq!(p[0].intent, "cancel");
    assert_eq!(p[0].top[0].intent, "cancel");
    assert!((p[0].top.iter().map(|s| s.score).sum::<f32>() - 1.0).abs() < 1e-4);
}

#[test]
fn conversation_intents_come_from_customer_turns_and_cite_them() {
    let e = HashEmbedder { dim: 256 };
    let model = IntentModel::zero_shot(tiny_taxonomy(), &e).unwrap();
    let c = conv(&[
        (Speaker::Agent, "where is my parcel? cancel my subscription?"),
        (Speaker::Customer, "I want to cancel my subscription"),
        (Speaker::Customer, "and where is my parcel"),
    ]);
    let texts: Vec<&str> = c.turns.iter().map(|t| t.text.as_str()).collect();
    let embs = e.embed_for_classification(&texts).unwrap();
    let opts = IntentOptions { min_confidence: 0.0, ..Default::default() };
    let r = model.analyze_conversation(&c, &embs, &opts).unwrap();
    assert_eq!(r.turns.len(), 2, "agent turn is not classified");
    let ids: Vec<&str> = r.intents.iter().map(|d| d.intent.as_str()).collect();
    assert!(ids.contains(&"cancel") && ids.contains(&"delivery"), "{ids:?}");
    let cancel = r.intents.iter().find(|d| d.intent == "cancel").unwrap();
    assert_eq!(cancel.turns, [1]);
    assert_eq!(cancel.name.as_deref(), Some("Cancel"));
    assert_eq!(r.model, "zero-shot:tiny");

    let one = IntentOptions { max_intents: 1, ..opts.clone() };
    let r1 = model.analyze_conversation(&c, &embs, &one).unwrap();
    assert_eq!(r1.intents.len(), 1);
    assert_eq!(
        r1.primary.as_deref(),
        Some(r1.intents[0].intent.as_str()),
        "the reason for contact stays listed"
    );
    assert_eq!(r1.primary.as_deref(), Some("cancel"));

    let err = model.analyze_conversation(&c, &embs[..1], &opts).unwrap_err();
    assert!(err.to_string().contains("1 embeddings for 3 turns"), "{err}");
}

#[test]
fn bad_texts_and_other_encoders_are_typed_errors() {
    let e = HashEmbedder { dim: 256 };
    let model = IntentModel::zero_shot(tiny_taxonomy(), &e).unwrap();
    let err = model.predict_texts(&["ok", ""], &e, &IntentOptions::default()).unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }) && err.to_string().contains("texts[1]"), "{err}");
    let other = HashEmbedder { dim: 128 };
    struct Renamed(HashEmbedder);
    impl TextEmbedder for Renamed {
        fn model_id(&self) -> &str {
            "other"
        }
        fn dim(&self) -> usize {
            self.0.dim
        }
        fn embed_for_classification(&self, t: &[&str]) -> Result<Vec<Vec<f32>>> {
            self.0.embed_for_classification(t)
        }
    }
    let err = model.predict_texts(&["hello"], &Renamed(other), &IntentOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
}
