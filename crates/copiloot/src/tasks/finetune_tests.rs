#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Fine-tuning against the real default encoder: the hand-written differentiable BERT reproduces the
//! encoder's vectors, a short run lowers the loss, and the saved folder loads as a classifier.

use super::*;
use crate::tasks::classifier::TextClassifier;
use std::path::PathBuf;

fn encoder_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/multilingual-e5-small");
    if dir.join("config.json").is_file() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: {} is not installed; run `copiloot models install`", dir.display());
        None
    }
}

const DATA: &[(&str, &str)] = &[
    ("Ik wil mijn abonnement opzeggen", "cancel"),
    ("I want to cancel my contract", "cancel"),
    ("Please terminate my subscription", "cancel"),
    ("Hoe zeg ik mijn contract op?", "cancel"),
    ("Mijn internet doet het niet", "outage"),
    ("The wifi keeps dropping since this morning", "outage"),
    ("Er is een storing, ik heb geen tv", "outage"),
    ("My internet connection is down", "outage"),
    ("Mijn factuur is veel te hoog", "billing"),
    ("Why was I charged twice this month?", "billing"),
    ("Ik begrijp mijn rekening niet", "billing"),
    ("There is a wrong amount on my invoice", "billing"),
];

#[test]
fn hand_written_bert_reproduces_the_encoder() {
    let Some(dir) = encoder_dir() else { return };
    // The exact f32 path: the hand-written layers are f32 (the default q8 encoder differs by ~1e-3).
    let f32 = crate::models::EncoderOptions { precision: crate::models::Precision::F32 };
    let encoder = Encoder::from_dir_with(&dir, &f32).unwrap();
    let weights = BertWeights::load(&dir).unwrap();
    let texts: Vec<&str> = DATA.iter().map(|d| d.0).collect();
    let ids = tokenize(&dir, &encoder, &texts).unwrap();
    let total = weights.shape.num_hidden_layers;
    let lower: Vec<Layer> =
        (0..total - 2).map(|i| Layer::frozen(&weights, i)).collect::<Result<_>>().unwrap();
    let top: Vec<Layer> =
        (total - 2..total).map(|i| Layer::frozen(&weights, i)).collect::<Result<_>>().unwrap();
    let mine = embeddings(&frozen_states(&weights, &lower, &ids).unwrap(), &top).unwrap();
    let theirs = encoder.embed(&texts).unwrap();
    for (a, b) in mine.iter().zip(&theirs) {
        let max = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(max < 1e-4, "max |diff| {max}");
    }
}

#[test]
fn fine_tuning_lowers_the_loss_and_saves_a_loadable_classifier() {
    let Some(dir) = encoder_dir() else { return };
    let encoder = Encoder::from_dir(&dir).unwrap().with_id("multilingual-e5-small");
    let texts: Vec<&str> = DATA.iter().map(|d| d.0).collect();
    let labels: Vec<String> = DATA.iter().map(|d| d.1.to_string()).collect();
    let config =
        FineTuneConfig { layers: 1, epochs: 3, lr: 1e-4, batch_size: 4, ..FineTuneConfig::default() };
    let mut lines = Vec::new();
    let tuned =
        fine_tune(&dir, &encoder, &texts, &labels, &config, &mut |l| lines.push(l.to_string())).unwrap();
    assert_eq!(tuned.epoch_losses.len(), 3);
    assert!(tuned.epoch_losses[2] < tuned.epoch_losses[0], "{:?}", tuned.epoch_losses);
    assert!(lines.iter().any(|l| l.contains("epoch 3/3")), "{lines:?}");

    let out = tempfile::tempdir().unwrap();
    let folder = out.path().join("tuned");
    save(&tuned, &dir, &encoder, &folder).unwrap();
    let classifier = TextClassifier::detect(&folder).unwrap().expect("loads as a classifier");
    assert_eq!(classifier.describe(), "fine-tuned:intent");
    assert_eq!(classifier.labels(), ["billing", "cancel", "outage"]);
    let probs = classifier.predict_proba(&["Ik wil opzeggen", "Mijn rekening klopt niet"]).unwrap();
    let best: Vec<&str> =
        probs.iter().map(|p| classifier.labels()[crate::tasks::argmax(p).0].as_str()).collect();
    assert_eq!(best, ["cancel", "billing"]);
    // The tuned encoder read back reproduces what was trained: same vectors as the in-memory layers.
    let reloaded = Encoder::from_dir(&folder).unwrap();
    assert_eq!(reloaded.prompt(TextRole::Query), "query: ");
}

#[test]
fn bad_fine_tuning_settings_are_typed_errors() {
    let Some(dir) = encoder_dir() else { return };
    let encoder = Encoder::from_dir(&dir).unwrap();
    let texts = ["a b c", "d e f"];
    let two = vec!["x".to_string(), "y".to_string()];
    let cfg = FineTuneConfig { layers: 13, ..FineTuneConfig::default() };
    let err = fine_tune(&dir, &encoder, &texts, &two, &cfg, &mut |_| {}).err().unwrap();
    assert!(matches!(err, Error::Config(_)) && err.to_string().contains("between 1 and 12"), "{err}");
    let one = vec!["x".to_string(), "x".to_string()];
    let err = fine_tune(&dir, &encoder, &texts, &one, &FineTuneConfig::default(), &mut |_| {}).err().unwrap();
    assert!(matches!(err, Error::InvalidInput { .. }) && err.to_string().contains("only one label"), "{err}");
}
