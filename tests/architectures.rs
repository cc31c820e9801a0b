//! Every supported encoder architecture loads from a Hugging Face folder and pools correctly.
//!
//! Tiny random-weight models (one layer, 8 dims) are built with candle's `VarMap` and saved as
//! safetensors: they test shapes, names and padding, not quality — the real models are tested elsewhere.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use candle_transformers::models::{bert, distilbert, xlm_roberta};
use copiloot::models::{cosine, Encoder, TextRole};
use std::path::{Path, PathBuf};

fn tokenizer() -> PathBuf {
    let p = common::models_dir().join("all-minilm-l6-v2/tokenizer.json");
    assert!(p.is_file(), "{} missing: run `bash scripts/setup.sh` first", p.display());
    p
}

fn write_folder(dir: &Path, config: serde_json::Value, build: impl FnOnce(VarBuilder, &serde_json::Value)) {
    let varmap = VarMap::new();
    build(VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu), &config);
    varmap.save(dir.join("model.safetensors")).unwrap();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    std::fs::copy(tokenizer(), dir.join("tokenizer.json")).unwrap();
}

fn check(dir: &Path) {
    let enc = Encoder::from_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let texts = ["a short one", "a much longer sentence about a broken modem and a late parcel", "x"];
    let batched = enc.embed_with(&texts, TextRole::Query, 3).unwrap();
    assert_eq!(batched.len(), 3);
    for (i, t) in texts.iter().enumerate() {
        assert_eq!(batched[i].len(), 8);
        let single = enc.embed_with(&[t], TextRole::Query, 1).unwrap();
        // Padding must not leak into the pooled vector.
        assert!(cosine(&single[0], &batched[i]) > 0.9999, "{}: text {i}", dir.display());
    }
}

const VOCAB: usize = 30522;

#[test]
fn bert_loads() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = serde_json::json!({
        "model_type": "bert", "vocab_size": VOCAB, "hidden_size": 8, "num_hidden_layers": 1,
        "num_attention_heads": 2, "intermediate_size": 16, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
        "max_position_embeddings": 64, "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
        "pad_token_id": 0
    });
    write_folder(dir.path(), cfg, |vb, c| {
        let c: bert::Config = serde_json::from_value(c.clone()).unwrap();
        bert::BertModel::load(vb, &c).unwrap();
    });
    check(dir.path());
}

#[test]
fn xlm_roberta_loads() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = serde_json::json!({
        "model_type": "xlm-roberta", "vocab_size": VOCAB, "hidden_size": 8, "num_hidden_layers": 1,
        "num_attention_heads": 2, "intermediate_size": 16, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0, "max_position_embeddings": 66, "type_vocab_size": 1,
        "layer_norm_eps": 1e-5, "pad_token_id": 1, "position_embedding_type": "absolute"
    });
    write_folder(dir.path(), cfg, |vb, c| {
        let c: xlm_roberta::Config = serde_json::from_value(c.clone()).unwrap();
        xlm_roberta::XLMRobertaModel::new(&c, vb).unwrap();
    });
    check(dir.path());
}

#[test]
fn distilbert_loads() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = serde_json::json!({
        "model_type": "distilbert", "vocab_size": VOCAB, "dim": 8, "n_layers": 1, "n_heads": 2,
        "hidden_dim": 16, "activation": "gelu", "max_position_embeddings": 64, "initializer_range": 0.02,
        "pad_token_id": 0
    });
    write_folder(dir.path(), cfg, |vb, c| {
        let c: distilbert::Config = serde_json::from_value(c.clone()).unwrap();
        distilbert::DistilBertModel::load(vb, &c).unwrap();
    });
    check(dir.path());
}

#[test]
fn unknown_architecture_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), r#"{"model_type": "llama"}"#).unwrap();
    std::fs::write(dir.path().join("model.safetensors"), b"").unwrap();
    std::fs::copy(tokenizer(), dir.path().join("tokenizer.json")).unwrap();
    let err = Encoder::from_dir(dir.path()).err().expect("must fail");
    assert_eq!(err.code(), "model_load", "{err}");
    assert!(err.to_string().contains("llama"), "{err}");
}
