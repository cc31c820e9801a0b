#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Candle's logits against PyTorch's for the tiny random classifiers made by
//! `benches/reference/make_classifiers.py` (tests/fixtures/classifiers/).

use super::*;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/classifiers").join(name)
}

fn check_against_pytorch(name: &str, architecture: &str) {
    check_within(name, architecture, 1e-4);
}

fn check_within(name: &str, architecture: &str, tolerance: f32) {
    let dir = fixture(name);
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    assert_eq!(expected["architecture"], architecture);
    let texts: Vec<String> = serde_json::from_value(expected["texts"].clone()).unwrap();
    let want: Vec<Vec<f32>> = serde_json::from_value(expected["logits"].clone()).unwrap();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();

    let model = SequenceClassifier::load(&dir).unwrap();
    assert_eq!(model.labels(), ["billing", "cancel", "outage"], "labels come from id2label");
    assert_eq!(model.architecture(), architecture);
    // All texts in one padded batch: padding must not change any text's logits.
    let got = model.logits(&refs).unwrap();
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.len(), 3);
        for (a, b) in g.iter().zip(w) {
            assert!((a - b).abs() < tolerance, "{name} text {i}: candle {g:?} vs PyTorch {w:?}");
        }
    }
    // Through the dispatching loader too, as `--model DIR` uses it.
    let classifier = TextClassifier::detect(&dir).unwrap().expect("a classifier");
    assert_eq!(classifier.describe(), format!("classifier:{architecture}"));
    let p = classifier.predict_proba(&refs[..1]).unwrap();
    assert!((p[0].iter().sum::<f32>() - 1.0).abs() < 1e-5);
}

#[test]
fn bert_classifier_matches_pytorch() {
    check_against_pytorch("bert", "BertForSequenceClassification");
}

#[test]
fn xlm_roberta_classifier_matches_pytorch() {
    check_against_pytorch("xlm-roberta", "XLMRobertaForSequenceClassification");
}

#[test]
fn distilbert_classifier_matches_pytorch() {
    // candle-transformers 0.11.1's DistilBERT uses the tanh approximation of GELU where transformers uses
    // the exact (erf) one: measured |diff| up to 3.1e-4 on these random weights, hence the wider bound.
    check_within("distilbert", "DistilBertForSequenceClassification", 1e-3);
}

#[test]
fn deberta_v2_classifier_matches_pytorch() {
    check_against_pytorch("deberta-v2", "DebertaV2ForSequenceClassification");
}

/// Copies a fixture and rewrites its config, for the refusal tests.
fn with_config(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> tempfile::TempDir {
    let src = fixture(name);
    let dir = tempfile::tempdir().unwrap();
    for f in ["model.safetensors", "tokenizer.json"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    edit(&mut cfg);
    std::fs::write(dir.path().join("config.json"), cfg.to_string()).unwrap();
    dir
}

#[test]
fn refuses_a_classifier_without_labels() {
    let dir = with_config("bert", |c| {
        c.as_object_mut().unwrap().remove("id2label");
    });
    let err = SequenceClassifier::load(dir.path()).err().expect("refused");
    assert!(matches!(err, Error::ModelLoad { .. }), "{err}");
    assert!(err.to_string().contains("no labels") && err.to_string().contains("id2label"), "{err}");

    let dir = with_config("distilbert", |c| {
        c["id2label"] = serde_json::json!({"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"});
    });
    let err = TextClassifier::detect(dir.path()).expect_err("refused");
    assert!(err.to_string().contains("placeholders"), "{err}");
}

#[test]
fn refuses_labels_that_do_not_match_the_weights_or_unknown_architectures() {
    // Two labels for a three-way classifier layer: a shape error naming the label count.
    let dir = with_config("xlm-roberta", |c| c["id2label"] = serde_json::json!({"0": "a", "1": "b"}));
    let err = SequenceClassifier::load(dir.path()).err().expect("refused");
    assert!(err.to_string().contains("2 labels in id2label"), "{err}");

    let dir =
        with_config("bert", |c| c["architectures"] = serde_json::json!(["GPT2ForSequenceClassification"]));
    let err = TextClassifier::detect(dir.path()).expect_err("refused");
    assert!(err.to_string().contains("not a supported sequence classifier"), "{err}");

    let dir = with_config("bert", |c| c["architectures"] = serde_json::json!(["BertModel"]));
    let err = TextClassifier::detect(dir.path()).expect_err("refused");
    assert!(err.to_string().contains("no classification head"), "{err}");
}

#[test]
fn a_plain_head_folder_is_not_a_text_classifier() {
    let dir = tempfile::tempdir().unwrap();
    assert!(TextClassifier::detect(dir.path()).unwrap().is_none());
}
