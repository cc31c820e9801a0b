#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Fine-tuning against the real default encoder: the hand-written differentiable BERT reproduces the
//! encoder's vectors, a short run lowers the loss, and the saved folder loads as a classifier.

use super::*;
use crate::models::classifier::TextClassifier;
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

/// The texts and labels of [`DATA`], as `fine_tune` takes them.
fn labelled() -> (Vec<&'static str>, Vec<String>) {
    DATA.iter().map(|&(text, label)| (text, label.to_string())).unzip()
}

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
    let (texts, labels) = labelled();
    let config =
        FineTuneConfig { layers: Some(1), epochs: 3, lr: 1e-4, batch_size: 4, ..FineTuneConfig::default() };
    let mut lines = Vec::new();
    let out = tempfile::tempdir().unwrap();
    let folder = out.path().join("tuned");
    let tuned =
        fine_tune(&dir, &encoder, &texts, &labels, &config, &folder, &mut |l| lines.push(l.to_string()))
            .unwrap();
    assert_eq!(tuned.epoch_losses.len(), 3);
    assert!(tuned.epoch_losses[2] < tuned.epoch_losses[0], "{:?}", tuned.epoch_losses);
    assert!(lines.iter().any(|l| l.contains("epoch 3/3")), "{lines:?}");
    assert!(!out.path().join(".tuned.partial").exists(), "the partial folder was renamed");
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
    let none = tempfile::tempdir().unwrap();
    let nowhere = &none.path().join("never-written");
    let cfg = FineTuneConfig { layers: Some(13), ..FineTuneConfig::default() };
    let err = fine_tune(&dir, &encoder, &texts, &two, &cfg, nowhere, &mut |_| {}).err().unwrap();
    assert!(matches!(err, Error::Config(_)) && err.to_string().contains("between 1 and 12"), "{err}");
    let cfg = FineTuneConfig { dropout: 1.0, ..FineTuneConfig::default() };
    let err = fine_tune(&dir, &encoder, &texts, &two, &cfg, nowhere, &mut |_| {}).err().unwrap();
    assert!(matches!(err, Error::Config(_)) && err.to_string().contains("--dropout"), "{err}");
    let cfg = FineTuneConfig { warmup: 1.5, ..FineTuneConfig::default() };
    let err = fine_tune(&dir, &encoder, &texts, &two, &cfg, nowhere, &mut |_| {}).err().unwrap();
    assert!(matches!(err, Error::Config(_)) && err.to_string().contains("--warmup"), "{err}");
    let cfg = FineTuneConfig { layer_decay: 0.0, ..FineTuneConfig::default() };
    let err = fine_tune(&dir, &encoder, &texts, &two, &cfg, nowhere, &mut |_| {}).err().unwrap();
    assert!(matches!(err, Error::Config(_)) && err.to_string().contains("--layer-decay"), "{err}");
    let one = vec!["x".to_string(), "x".to_string()];
    let err = fine_tune(&dir, &encoder, &texts, &one, &FineTuneConfig::default(), nowhere, &mut |_| {})
        .err()
        .unwrap();
    assert!(matches!(err, Error::InvalidInput { .. }) && err.to_string().contains("only one label"), "{err}");
    assert_eq!(std::fs::read_dir(none.path()).unwrap().count(), 0, "a refused run writes nothing");
}

#[test]
fn epoch_batches_cover_every_text_once_and_group_similar_lengths() {
    let lengths: Vec<usize> = (0..1000).map(|i| 3 + (i * 7919) % 60).collect();
    let plan = epoch_batches(&lengths, 32, 7);
    let mut seen: Vec<usize> = plan.iter().flatten().copied().collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..1000).collect::<Vec<_>>());
    assert!(plan.iter().all(|b| !b.is_empty() && b.len() <= 32));
    // Padding: the mean spread of lengths inside a batch is far below the spread of the data (3..62).
    let spread: f64 = plan
        .iter()
        .map(|b| {
            let l: Vec<usize> = b.iter().map(|&i| lengths[i]).collect();
            (l.iter().max().unwrap() - l.iter().min().unwrap()) as f64
        })
        .sum::<f64>()
        / plan.len() as f64;
    assert!(spread < 10.0, "mean spread {spread}");
    assert_eq!(plan, epoch_batches(&lengths, 32, 7), "a seed gives the same plan");
    assert_ne!(plan, epoch_batches(&lengths, 32, 8));
}

#[test]
fn the_learning_rate_warms_up_then_decays_to_zero() {
    let lrs: Vec<f64> = (0..100).map(|s| scheduled_lr(1.0, s, 100, 0.1)).collect();
    assert!((lrs[0] - 0.1).abs() < 1e-12 && (lrs[9] - 1.0).abs() < 1e-12, "{:?}", &lrs[..10]);
    assert!(lrs[10..].windows(2).all(|w| w[1] < w[0]));
    assert!(lrs[99] > 0.0 && lrs[99] < 0.02);
    assert!((scheduled_lr(2.0, 0, 10, 0.0) - 2.0).abs() < 1e-12, "no warm-up starts at the full rate");
}

#[test]
fn dropout_keeps_the_expected_share_and_the_mean() {
    let x = Tensor::ones((200, 500), candle_core::DType::F32, &Device::Cpu).unwrap();
    let y = Dropout::new(0.1, 3).apply(&x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let zeros = y.iter().filter(|v| **v == 0.0).count() as f64 / y.len() as f64;
    assert!((zeros - 0.1).abs() < 0.005, "dropped {zeros}");
    let mean = y.iter().map(|v| *v as f64).sum::<f64>() / y.len() as f64;
    assert!((mean - 1.0).abs() < 0.01, "mean {mean}");
    let again = Dropout::new(0.1, 3).apply(&x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(y, again, "seeded");
    let off = Dropout::new(0.0, 3).apply(&x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(off.iter().all(|v| *v == 1.0));
}

#[test]
fn smoothed_cross_entropy_is_plain_at_zero_and_mixes_in_the_uniform_loss() {
    let logits = Tensor::new(&[[2.0f32, 0.5, -1.0], [0.1, 0.2, 3.0]], &Device::Cpu).unwrap();
    let target = Tensor::new(&[0u32, 2], &Device::Cpu).unwrap();
    let plain = candle_nn::loss::cross_entropy(&logits, &target).unwrap().to_scalar::<f32>().unwrap();
    let ours = smoothed_cross_entropy(&logits, &target, 0.0).unwrap().to_scalar::<f32>().unwrap();
    assert!((plain - ours).abs() < 1e-6, "{plain} vs {ours}");
    // By hand: row-wise log-softmax, gold term and the mean over classes.
    let rows = [[2.0f64, 0.5, -1.0], [0.1, 0.2, 3.0]];
    let (mut nll, mut uniform) = (0.0, 0.0);
    for (row, gold) in rows.iter().zip([0usize, 2]) {
        let lse = row.iter().map(|v| v.exp()).sum::<f64>().ln();
        nll += lse - row[gold];
        uniform += row.iter().map(|v| lse - v).sum::<f64>() / 3.0;
    }
    let expected = 0.9 * nll / 2.0 + 0.1 * uniform / 2.0;
    let smoothed = smoothed_cross_entropy(&logits, &target, 0.1).unwrap().to_scalar::<f32>().unwrap();
    assert!((smoothed as f64 - expected).abs() < 1e-5, "{smoothed} vs {expected}");
}

#[test]
fn layer_decay_slows_the_lower_layers() {
    let Some(dir) = encoder_dir() else { return };
    let encoder = Encoder::from_dir(&dir).unwrap().with_id("multilingual-e5-small");
    let (texts, labels) = labelled();
    // The top two layers train; with a decay of 1e-4 the lower one moves at a ten-thousandth of the rate.
    let config = FineTuneConfig {
        layers: Some(2),
        epochs: 1,
        lr: 1e-3,
        batch_size: 4,
        layer_decay: 1e-4,
        ..FineTuneConfig::default()
    };
    let out = tempfile::tempdir().unwrap();
    let folder = out.path().join("tuned");
    fine_tune(&dir, &encoder, &texts, &labels, &config, &folder, &mut |_| {}).unwrap();
    let (before, after) = (BertWeights::load(&dir).unwrap(), BertWeights::load(&folder).unwrap());
    let moved = |layer: usize| {
        let name = format!("{}encoder.layer.{layer}.attention.self.query.weight", before.prefix);
        let diff = (before.tensors[&name].clone() - after.tensors[&name].clone()).unwrap();
        diff.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap()
    };
    let (lower, top) = (moved(10), moved(11));
    assert!(top > 1e-4, "the top layer trains at --lr: moved {top}");
    assert!(lower < top / 100.0, "the layer below moves far less: {lower} vs {top}");
}
