//! Intent and sentiment classification throughput (utterances/s): end to end (encode + classify) with
//! the default encoder, and the heads alone on precomputed embeddings. Needs `copiloot models install`;
//! prints a notice and does nothing when the encoder is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use copiloot::models::Encoder;
use copiloot::tasks::intent::{default_taxonomy_path, IntentModel, IntentOptions, Taxonomy};
use copiloot::tasks::sentiment::SentimentModel;
use copiloot::tasks::TextEmbedder;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::path::PathBuf;

const UTTERANCES: &[&str] = &[
    "Ik wil mijn abonnement opzeggen",
    "Mijn internet doet het al twee dagen niet",
    "Waarom is mijn factuur zo hoog deze maand?",
    "Where is my parcel? I ordered it last week.",
    "Can I speak to a manager please",
    "Ik ga verhuizen en wil mijn contract meenemen",
    "Thanks, that was really helpful!",
    "I can't log in to the app anymore",
];

fn bench(c: &mut Criterion) {
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let dir = models.join("multilingual-e5-small");
    if !dir.join("config.json").is_file() {
        eprintln!(
            "classify bench skipped: {} is not installed (run `copiloot models install`)",
            dir.display()
        );
        return;
    }
    let encoder = Encoder::from_dir(&dir).unwrap();
    let taxonomy = Taxonomy::from_path(&default_taxonomy_path(&models)).unwrap();
    let intent = IntentModel::zero_shot(taxonomy, &encoder).unwrap();
    let sentiment = SentimentModel::load(&SentimentModel::default_dir(&models), &encoder).unwrap();
    let opts = IntentOptions::default();
    let texts: Vec<&str> = UTTERANCES.iter().cycle().take(32).copied().collect();
    let embeddings = encoder.embed_for_classification(&texts).unwrap();
    let features = sentiment.features(&texts, &encoder).unwrap();

    let mut g = c.benchmark_group("classify");
    g.throughput(Throughput::Elements(texts.len() as u64));
    g.sample_size(10);
    g.bench_function("intent_zero_shot_end_to_end", |b| {
        b.iter(|| intent.predict_texts(&texts, &encoder, &opts).unwrap())
    });
    g.bench_function("intent_zero_shot_on_embeddings", |b| {
        b.iter(|| intent.predict_embeddings(&embeddings, &opts).unwrap())
    });
    g.bench_function("sentiment_on_features", |b| {
        b.iter(|| sentiment.predict_embeddings(&features).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
