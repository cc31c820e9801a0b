//! Integration tests of the sentence encoders on the real default models (installed by scripts/setup.sh).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use copiloot::models::{cosine, Encoder, TextRole};
use std::path::PathBuf;

fn model_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models").join(name);
    assert!(
        dir.join("model.safetensors").is_file(),
        "{} missing: run `bash scripts/setup.sh` first",
        dir.display()
    );
    dir
}

fn load(name: &str) -> Encoder {
    match Encoder::from_dir(&model_dir(name)) {
        Ok(e) => e,
        Err(e) => panic!("loading {name}: {e}"),
    }
}

fn embed(enc: &Encoder, texts: &[&str], batch: usize) -> Vec<Vec<f32>> {
    match enc.embed_with(texts, TextRole::Query, batch) {
        Ok(v) => v,
        Err(e) => panic!("embedding: {e}"),
    }
}

const MIXED: &[&str] = &[
    "Ik wil mijn abonnement opzeggen.",
    "Mijn internet valt steeds weg sinds gisteren, ik heb de modem al opnieuw opgestart.",
    "Waarom is mijn jaarafrekening zo hoog?",
    "ok",
    "Where is my parcel? The order number is 4471-2290 and it was due on Monday.",
    "I would like to speak to a manager, this is the third time I am calling about the same problem.",
    "Bedankt, u heeft me goed geholpen!",
    "Can I get a refund for the broken headphones?",
];

#[test]
fn reference_vectors_are_reproduced() {
    for (model, file) in [("multilingual-e5-small", "e5.json"), ("all-minilm-l6-v2", "minilm.json")] {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/reference").join(file);
        let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let reference: serde_json::Value = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{e}"));
        let texts: Vec<&str> =
            reference["texts"].as_array().into_iter().flatten().filter_map(|t| t.as_str()).collect();
        let expected: Vec<Vec<f32>> =
            serde_json::from_value(reference["embeddings"].clone()).unwrap_or_else(|e| panic!("{e}"));
        assert!(texts.len() >= 8 && texts.len() == expected.len());
        let got = embed(&load(model), &texts, 32);
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            let c = cosine(g, e);
            assert!(c >= 0.999, "{model}: text {i} ({:?}) cosine {c} < 0.999", texts[i]);
        }
    }
}

#[test]
fn batch_gives_the_same_vectors_as_one_by_one() {
    let enc = load("multilingual-e5-small");
    let batched = embed(&enc, MIXED, 32);
    for (i, text) in MIXED.iter().enumerate() {
        let single = embed(&enc, &[text], 1);
        let c = cosine(&single[0], &batched[i]);
        assert!(c > 0.9999, "text {i}: batch vs single cosine {c}");
    }
    assert!(batched.iter().all(|v| (v.iter().map(|x| x * x).sum::<f32>().sqrt() - 1.0).abs() < 1e-4));
    assert_eq!(batched[0].len(), enc.dim());
}

#[test]
fn dutch_english_paraphrases_score_above_unrelated_pairs() {
    let enc = load("multilingual-e5-small");
    let pairs = [
        ("Ik wil mijn abonnement opzeggen.", "I want to cancel my subscription."),
        ("Mijn internet doet het al twee dagen niet.", "My internet has not been working for two days."),
        ("Wanneer wordt mijn pakket bezorgd?", "When will my parcel be delivered?"),
        ("Ik wil graag een betalingsregeling treffen.", "I would like to set up a payment plan."),
        (
            "Ik ga verhuizen en wil mijn energiecontract meenemen.",
            "I am moving house and want to take my energy contract with me.",
        ),
    ];
    let nl: Vec<&str> = pairs.iter().map(|p| p.0).collect();
    let en: Vec<&str> = pairs.iter().map(|p| p.1).collect();
    let (vn, ve) = (embed(&enc, &nl, 8), embed(&enc, &en, 8));
    let (mut para, mut unrelated) = (Vec::new(), Vec::new());
    for i in 0..pairs.len() {
        for j in 0..pairs.len() {
            let c = cosine(&vn[i], &ve[j]);
            if i == j {
                para.push(c);
            } else {
                unrelated.push(c);
                // Each Dutch sentence is closer to its own translation than to any other English sentence.
                assert!(
                    cosine(&vn[i], &ve[i]) > c + 0.02,
                    "pair {i} vs {j}: {} <= {c}",
                    cosine(&vn[i], &ve[i])
                );
            }
        }
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    assert!(
        mean(&para) > mean(&unrelated) + 0.08,
        "paraphrase {} vs unrelated {}",
        mean(&para),
        mean(&unrelated)
    );
}

#[test]
fn long_texts_are_truncated_and_reported() {
    let enc = load("all-minilm-l6-v2");
    let long = "the modem keeps restarting every few minutes ".repeat(200);
    let out = enc.encode(&["short text", &long], TextRole::Query, 2).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.truncated, vec![1]);
    assert!(out.token_counts[1] > enc.max_tokens());
    assert_eq!(enc.max_tokens(), 256, "MiniLM's sentence_bert_config says 256");
    assert!(enc.prompt(TextRole::Query).is_empty());
    assert_eq!(load("multilingual-e5-small").prompt(TextRole::Query), "query: ");
}
