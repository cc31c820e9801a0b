//! Integration tests of the sentence encoders on the real default models (installed by scripts/setup.sh).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use copiloot::models::{cosine, Encoder, EncoderOptions, Precision, TextRole};
use std::path::PathBuf;

fn model_dir(name: &str) -> PathBuf {
    let dir = common::models_dir().join(name);
    assert!(
        dir.join("model.safetensors").is_file(),
        "{} missing: run `bash scripts/setup.sh` first",
        dir.display()
    );
    dir
}

fn load(name: &str) -> Encoder {
    load_as(name, Precision::F32)
}

fn load_as(name: &str, precision: Precision) -> Encoder {
    match Encoder::from_dir_with(&model_dir(name), &EncoderOptions { precision }) {
        Ok(e) => e,
        Err(e) => panic!("loading {name} ({precision}): {e}"),
    }
}

fn bench_utterances() -> Vec<String> {
    let path = common::root().join("benches/data/utterances.txt");
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    raw.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
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
        let path = common::fixtures().join("reference").join(file);
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
    for precision in Precision::ALL {
        let enc = load_as("multilingual-e5-small", precision);
        assert_eq!(enc.precision(), precision);
        let batched = embed(&enc, MIXED, 32);
        for (i, text) in MIXED.iter().enumerate() {
            let single = embed(&enc, &[text], 1);
            let c = cosine(&single[0], &batched[i]);
            assert!(c > 0.9999, "{precision}: text {i}: batch vs single cosine {c}");
        }
        assert!(batched.iter().all(|v| (v.iter().map(|x| x * x).sum::<f32>().sqrt() - 1.0).abs() < 1e-4));
        assert_eq!(batched[0].len(), enc.dim());
    }
}

/// The int8 path may only cost a little: every bench utterance within cosine 0.99 of f32, for both models.
#[test]
fn quantized_vectors_stay_close_to_f32() {
    let owned = bench_utterances();
    let texts: Vec<&str> = owned.iter().map(String::as_str).collect();
    assert!(texts.len() >= 200);
    for model in ["all-minilm-l6-v2", "multilingual-e5-small"] {
        let exact = embed(&load_as(model, Precision::F32), &texts, 32);
        let quant = embed(&load_as(model, Precision::Q8), &texts, 32);
        let cos: Vec<f32> = exact.iter().zip(&quant).map(|(a, b)| cosine(a, b)).collect();
        let (min, mean) =
            (cos.iter().copied().fold(1.0, f32::min), cos.iter().sum::<f32>() / cos.len() as f32);
        assert!(min >= 0.99, "{model}: q8 vs f32 min cosine {min} (mean {mean})");
        assert!(mean >= 0.995, "{model}: q8 vs f32 mean cosine {mean}");
    }
}

/// No work on padding, same result: our unpadded forward equals candle-transformers' padded BERT
/// (attention mask, mean pooling over real tokens) on a batch of very different lengths.
#[test]
fn unpadded_forward_equals_the_padded_reference() {
    use candle_core::{DType, Device, Tensor};
    use candle_transformers::models::bert;
    let dir = model_dir("all-minilm-l6-v2");
    let cfg: bert::Config =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let weights = std::fs::read(dir.join("model.safetensors")).unwrap();
    let vb = candle_nn::VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu).unwrap();
    let reference = bert::BertModel::load(vb, &cfg).unwrap();
    let mut tokenizer = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    tokenizer.with_padding(None);
    let ids: Vec<Vec<u32>> =
        MIXED.iter().map(|t| tokenizer.encode(*t, true).unwrap().get_ids().to_vec()).collect();
    let len = ids.iter().map(Vec::len).max().unwrap();
    let (mut flat, mut mask) = (Vec::new(), Vec::new());
    for row in &ids {
        flat.extend(row.iter().copied().chain(std::iter::repeat(0)).take(len));
        mask.extend((0..len).map(|i| u32::from(i < row.len())));
    }
    let n = ids.len();
    let input = Tensor::from_vec(flat, (n, len), &Device::Cpu).unwrap();
    let mask = Tensor::from_vec(mask, (n, len), &Device::Cpu).unwrap();
    let hidden = reference.forward(&input, &input.zeros_like().unwrap(), Some(&mask)).unwrap();
    let pooled = copiloot::models::Pooling::Mean.apply(&hidden, &mask).unwrap().to_vec2::<f32>().unwrap();
    let ours = embed(&load("all-minilm-l6-v2"), MIXED, 32);
    for (i, (a, b)) in pooled.iter().zip(&ours).enumerate() {
        let c = cosine(a, b);
        assert!(c > 0.9999, "text {i} ({:?}): unpadded vs padded cosine {c}", MIXED[i]);
    }
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

#[test]
fn layer_features_leave_the_embeddings_bit_identical() {
    // The sentiment head reads several layers from the same pass as the turn embeddings; the embeddings
    // every other task reads must not change, and the pooled last layer is the embedding itself (e5 pools
    // by mean), for both precisions.
    for precision in Precision::ALL {
        let enc = load_as("multilingual-e5-small", precision);
        let last = enc.layers();
        assert_eq!(last, 12);
        let plain = embed(&enc, MIXED, 4);
        let (encoded, features) = enc.encode_layers(MIXED, TextRole::Query, 4, &[6, 9, last]).unwrap();
        assert_eq!(encoded.embeddings, plain, "{precision}: the embeddings changed");
        let dim = enc.dim();
        for (f, e) in features.iter().zip(&plain) {
            assert_eq!(f.len(), 3 * dim);
            assert_eq!(&f[2 * dim..], e.as_slice(), "{precision}: the pooled last layer is the embedding");
            for block in f.chunks(dim) {
                let norm: f32 = block.iter().map(|x| x * x).sum::<f32>().sqrt();
                assert!((norm - 1.0).abs() < 1e-4, "each layer's mean is L2-normalised: {norm}");
            }
            // Middle layers carry other information than the last one.
            assert!(cosine(&f[..dim], e) < 0.99, "{precision}: layer 6 is not the last layer");
        }
        let err = enc.encode_layers(MIXED, TextRole::Query, 4, &[13]).unwrap_err().to_string();
        assert!(err.contains("layer 13") && err.contains("12 layers"), "{err}");
    }
}
