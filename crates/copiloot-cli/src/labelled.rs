//! Labelled texts for `train intent|sentiment` and `eval intent|sentiment`: the `--data` arguments,
//! reading the files, checking labels against a model and embedding the texts with a progress bar and an
//! optional on-disk cache. Nothing here imports from `commands/`.

use anyhow::Context;
use copiloot::tasks::TextEmbedder;
use copiloot::training::cache::CachedEmbedder;
use copiloot::training::labelled::{read_labelled, Columns, LabelledExample};
use std::path::{Path, PathBuf};

/// Where the labelled data comes from; shared by `train` and `eval`.
#[derive(clap::Args, Debug, Clone)]
pub struct DataArgs {
    /// Labelled .csv/.tsv/.jsonl file; repeat to combine several (e.g. English and Dutch).
    #[arg(long, required = true)]
    pub data: Vec<PathBuf>,
    /// Text column (default: the first of text, sentence, utterance, instruction, query).
    #[arg(long)]
    pub text_col: Option<String>,
    /// Label column (default: the first of label, category, intent, sentiment; churn: churn, churned, …).
    #[arg(long, visible_alias = "label")]
    pub label_col: Option<String>,
    /// Keep embeddings of seen texts in this folder, so repeated runs skip the encoder.
    #[arg(long, env = "COPILOOT_EMBED_CACHE")]
    pub cache: Option<PathBuf>,
}

/// Reads every `--data` file with the given columns, in order.
pub fn read_all(args: &DataArgs) -> anyhow::Result<Vec<LabelledExample>> {
    let columns = Columns { text: args.text_col.clone(), label: args.label_col.clone() };
    let mut all = Vec::new();
    for path in &args.data {
        all.extend(read_labelled(path, &columns)?);
    }
    Ok(all)
}

/// Fails with the list of labels the model does not know (usually a wrong file or label column).
pub fn check_known_labels(labels: &[String], known: &[String], model: &Path) -> anyhow::Result<()> {
    let mut unknown: Vec<&str> = labels.iter().filter(|l| !known.contains(l)).map(String::as_str).collect();
    unknown.sort_unstable();
    unknown.dedup();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(copiloot::Error::invalid(
        copiloot::Location::field("label"),
        format!(
            "labels {:?}{} are not known to {}; it knows {:?}",
            &unknown[..unknown.len().min(8)],
            if unknown.len() > 8 { " (and more)" } else { "" },
            model.display(),
            &known[..known.len().min(30)]
        ),
    )
    .into())
}

/// Embeds the texts in chunks with a progress bar, through the cache when one is given.
pub fn embed_examples(
    encoder: &dyn TextEmbedder,
    examples: &[LabelledExample],
    cache_dir: Option<&Path>,
) -> anyhow::Result<Vec<Vec<f32>>> {
    let cached = cache_dir.map(|d| CachedEmbedder::open(encoder, d)).transpose()?;
    let embedder: &dyn TextEmbedder = match &cached {
        Some(c) => c,
        None => encoder,
    };
    let bar = indicatif::ProgressBar::new(examples.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("embedding {bar:30} {pos}/{len} texts  {per_sec}  eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut out = Vec::with_capacity(examples.len());
    for chunk in examples.chunks(256) {
        let texts: Vec<&str> = chunk.iter().map(|e| e.text.as_str()).collect();
        out.extend(embedder.embed_for_classification(&texts).context("embedding the labelled texts")?);
        if let Some(c) = &cached {
            c.save()?;
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(out)
}
