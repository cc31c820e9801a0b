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
    let ones = Tensor::new(&[1f32, 1.0], &Device::Cpu).unwrap();
    let ours = smoothed_cross_entropy(&logits, &target, &ones, 0.0).unwrap().to_scalar::<f32>().unwrap();
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
    let smoothed = smoothed_cross_entropy(&logits, &target, &ones, 0.1).unwrap().to_scalar::<f32>().unwrap();
    assert!((smoothed as f64 - expected).abs() < 1e-5, "{smoothed} vs {expected}");
    // Weights 3:1 make it the weighted mean of the two rows' losses.
    let (mut rows_loss, weights) = (Vec::new(), [3.0f64, 1.0]);
    for (row, gold) in rows.iter().zip([0usize, 2]) {
        let lse = row.iter().map(|v| v.exp()).sum::<f64>().ln();
        rows_loss.push(lse - row[gold]);
    }
    let expected = (3.0 * rows_loss[0] + rows_loss[1]) / 4.0;
    let w = Tensor::new(&[weights[0] as f32, weights[1] as f32], &Device::Cpu).unwrap();
    let weighted = smoothed_cross_entropy(&logits, &target, &w, 0.0).unwrap().to_scalar::<f32>().unwrap();
    assert!((weighted as f64 - expected).abs() < 1e-5, "{weighted} vs {expected}");
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

const SENTIMENT: &[(&str, &str)] = &[
    ("Ik ben het echt zat met jullie service", "negative"),
    ("Dit is de derde keer dat het misgaat, belachelijk", "negative"),
    ("This is the worst support I have ever had", "negative"),
    ("I am furious, nobody ever calls back", "negative"),
    ("Mijn klantnummer is 12345", "neutral"),
    ("Ik bel over mijn factuur van maart", "neutral"),
    ("My order number is 5521", "neutral"),
    ("I am calling about my contract", "neutral"),
    ("Dank u wel, super geholpen!", "positive"),
    ("Fijn dat het zo snel is opgelost", "positive"),
    ("Thanks a lot, that was really helpful", "positive"),
    ("Great service, I am very happy", "positive"),
];

/// Writes layers `layers` of the encoder's own weights, unchanged, as a branch file.
fn untouched_branch(weights: &BertWeights, layers: std::ops::Range<usize>, path: &Path) {
    let mut tensors = std::collections::HashMap::new();
    for layer in layers {
        for name in layer_tensor_names(weights, layer) {
            tensors.insert(name.clone(), weights.get(&name).unwrap());
        }
    }
    candle_core::safetensors::save(&tensors, path).unwrap();
}

#[test]
fn a_branch_runs_from_the_shared_pass_without_changing_it() {
    let Some(dir) = encoder_dir() else { return };
    let encoder = Encoder::from_dir(&dir).unwrap().with_id("multilingual-e5-small");
    let texts: Vec<&str> = SENTIMENT.iter().map(|(t, _)| *t).collect();
    let weights = BertWeights::load(&dir).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("copy.safetensors");
    untouched_branch(&weights, 10..12, &path);
    let branch = encoder.load_branch(&path).unwrap();
    assert_eq!((branch.start_layer(), branch.layers()), (10, 2));

    // An unchanged copy of the top two layers gives exactly the encoder's own output, after layer 6's
    // features; the embeddings and the layer features are those of a pass without the branch.
    let spec = FeatureSpec { layers: vec![6], branch: Some(std::sync::Arc::new(branch)) };
    let (with, features) = encoder.encode_features(&texts, TextRole::Query, 32, &spec).unwrap();
    let (without, layer6) = encoder.encode_layers(&texts, TextRole::Query, 32, &[6]).unwrap();
    assert_eq!(with.embeddings, without.embeddings);
    for ((f, l6), e) in features.iter().zip(&layer6).zip(&with.embeddings) {
        assert_eq!(f.len(), 2 * encoder.dim());
        assert_eq!(&f[..encoder.dim()], &l6[..]);
        let worst = f[encoder.dim()..].iter().zip(e).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-6, "the branch differs from the encoder's top layers by {worst}");
    }

    // Bad branch files are typed load errors that say what is wrong.
    let gap = tmp.path().join("gap.safetensors");
    untouched_branch(&weights, 10..11, &gap);
    let err = encoder.load_branch(&gap).unwrap_err().to_string();
    assert!(err.contains("not layer 11") && err.contains("top"), "{err}");
    let other = tmp.path().join("other.safetensors");
    let t = candle_core::Tensor::zeros(4, candle_core::DType::F32, &Device::Cpu).unwrap();
    candle_core::safetensors::save(&std::collections::HashMap::from([("x".to_string(), t)]), &other).unwrap();
    let err = encoder.load_branch(&other).unwrap_err().to_string();
    assert!(err.contains("another encoder"), "{err}");
}

#[test]
fn a_fine_tuned_sentiment_branch_loads_with_its_head_and_reads_clearly() {
    use crate::tasks::sentiment::{SentimentLabel, SentimentModel};
    let Some(dir) = encoder_dir() else { return };
    let encoder = Encoder::from_dir(&dir).unwrap().with_id("multilingual-e5-small");
    let (texts, labels): (Vec<&str>, Vec<String>) =
        SENTIMENT.iter().map(|&(t, l)| (t, l.to_string())).unzip();
    let config = FineTuneConfig {
        layers: Some(1),
        epochs: 3,
        lr: 1e-4,
        batch_size: 4,
        loss_weights: Some(vec![1.0; texts.len()]),
        ..FineTuneConfig::default()
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sentiment");
    let tuned =
        fine_tune_branch(&dir, &encoder, "sentiment", &[], &texts, &labels, &config, &out, &mut |_| {})
            .unwrap();
    assert!(tuned.epoch_losses.last() < tuned.epoch_losses.first(), "{:?}", tuned.epoch_losses);
    let mut files: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    files.sort();
    assert_eq!(files, ["sentiment"], "no partial folder is left");
    let branch = BertWeights::load(&dir).unwrap();
    let file = candle_core::safetensors::load(out.join(BRANCH_FILE), &Device::Cpu).unwrap();
    assert_eq!(file.len(), layer_tensor_names(&branch, 11).len(), "only the trained layer is stored");
    assert!(file.values().all(|t| t.dtype() == candle_core::DType::F16));

    let model = SentimentModel::load(&out, &encoder).unwrap();
    let spec = model.feature_spec().unwrap();
    assert!(spec.layers.is_empty() && spec.branch.as_ref().is_some_and(|b| b.start_layer() == 11));
    let p = model.predict_texts(&["Ik ben het echt zat.", "Dank u wel, top geholpen!"], &encoder).unwrap();
    assert_eq!((p[0].0, p[1].0), (SentimentLabel::Negative, SentimentLabel::Positive), "{p:?}");

    // head.json that disagrees with its branch file, and a missing file, are load errors.
    let meta_path = out.join("head.json");
    let meta = std::fs::read_to_string(&meta_path).unwrap();
    std::fs::write(&meta_path, meta.replace("\"start_layer\": 11", "\"start_layer\": 10")).unwrap();
    let err = SentimentModel::load(&out, &encoder).unwrap_err().to_string();
    assert!(err.contains("mixed up"), "{err}");
    std::fs::write(&meta_path, &meta).unwrap();
    std::fs::remove_file(out.join(BRANCH_FILE)).unwrap();
    let err = SentimentModel::load(&out, &encoder).unwrap_err();
    assert!(matches!(err, crate::Error::ModelLoad { .. }) && err.to_string().contains(BRANCH_FILE), "{err}");
}
