//! Criterion bench: embed 32 utterances with each installed encoder at batch 32 and batch 1.
//!
//! `cargo bench -p copiloot --bench encoder` (models from `copiloot models install`, found like the CLI
//! finds them: `$COPILOOT_MODELS`, else `models/`). A model that is not installed is skipped with a message.
//! Set `RAYON_NUM_THREADS` to pin the thread count. Kept small so it finishes in about a minute;
//! the side-by-side comparison with other stacks is benches/compare_encoders.sh.

use copiloot::models::{default_models_dir, Encoder, TextRole};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

const MODELS: [&str; 2] = ["all-minilm-l6-v2", "multilingual-e5-small"];
const N_TEXTS: usize = 32;

fn utterances() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benches/data/utterances.txt");
    match std::fs::read_to_string(&path) {
        // Every 8th line: a mix of Dutch and English, short and long.
        Ok(raw) => {
            raw.lines().filter(|l| !l.trim().is_empty()).step_by(8).take(N_TEXTS).map(String::from).collect()
        }
        Err(e) => {
            eprintln!("encoder bench: cannot read {}: {e}", path.display());
            Vec::new()
        }
    }
}

fn bench_encoders(c: &mut Criterion) {
    let owned = utterances();
    let texts: Vec<&str> = owned.iter().map(String::as_str).collect();
    if texts.is_empty() {
        return;
    }
    let models_dir = default_models_dir();
    for name in MODELS {
        let dir = models_dir.join(name);
        if !dir.join("model.safetensors").is_file() {
            eprintln!(
                "encoder bench: skipping {name}: not installed in {} (run `copiloot models install`)",
                dir.display()
            );
            continue;
        }
        let encoder = match Encoder::from_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("encoder bench: skipping {name}: {e}");
                continue;
            }
        };
        let mut group = c.benchmark_group(format!("encode/{name}"));
        group.throughput(Throughput::Elements(texts.len() as u64));
        // Flat sampling: 10 samples of equal iteration counts, so a slow model doesn't balloon the run.
        group.sampling_mode(SamplingMode::Flat).sample_size(10);
        group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
        for batch in [32, 1] {
            group.bench_function(format!("{}_texts_batch_{batch}", texts.len()), |b| {
                b.iter(|| encoder.embed_with(black_box(&texts), TextRole::Query, batch));
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_encoders);
criterion_main!(benches);
