//! `copiloot train intent|sentiment`: fit a logistic-regression head on frozen embeddings of labelled
//! CSV/JSONL files and save it (`head.safetensors` + `head.json`). Also holds what `eval` shares with it:
//! reading labelled files and embedding them with a progress bar and an optional on-disk cache.

use crate::common::ModelArgs;
use anyhow::Context;
use copiloot::tasks::intent::Taxonomy;
use copiloot::tasks::{sentiment, TextEmbedder};
use copiloot::training::cache::CachedEmbedder;
use copiloot::training::head::{select_l2, ClassWeight, LinearHead, TrainConfig, L2_GRID};
use copiloot::training::labelled::{read_labelled, Columns, LabelledExample};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    Intent,
    Sentiment,
    /// Churn risk: a customer table (tabular) or conversations with an outcome label.
    Churn,
}

impl Task {
    pub fn name(self) -> &'static str {
        match self {
            Task::Intent => "intent",
            Task::Sentiment => "sentiment",
            Task::Churn => "churn",
        }
    }
}

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

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// What the head predicts.
    #[arg(value_enum)]
    pub task: Task,
    #[command(flatten)]
    pub data: DataArgs,
    /// Output folder for the head.
    #[arg(long)]
    pub out: PathBuf,
    /// L2 regularisation strength (default 1/number of examples, like sklearn's C=1).
    #[arg(long)]
    pub l2: Option<f64>,
    /// Pick the L2 strength by k-fold cross-validation on the training data (e.g. `--cv 5`).
    #[arg(long, conflicts_with = "l2", value_parser = clap::value_parser!(u16).range(2..=20))]
    pub cv: Option<u16>,
    /// Weight classes so each counts equally (`balanced`) or every example the same (`none`).
    #[arg(long, value_enum, default_value = "balanced")]
    pub class_weight: ClassWeightArg,
    /// Maximum L-BFGS iterations.
    #[arg(long, default_value_t = 500)]
    pub max_iter: usize,
    /// Intent only: refuse labels that are not intent ids of this taxonomy file.
    #[arg(long)]
    pub taxonomy: Option<PathBuf>,
    /// Intent only: also fine-tune the encoder's layers with the head (cross-entropy, AdamW); `--out`
    /// then holds the tuned encoder and its head, loaded as one classifier by `--model DIR`.
    #[arg(long)]
    pub fine_tune: bool,
    /// Fine-tuning: passes over the training data.
    #[arg(long, default_value_t = 2, requires = "fine_tune")]
    pub epochs: usize,
    /// Fine-tuning: AdamW peak learning rate.
    #[arg(long, default_value_t = 1e-4, requires = "fine_tune")]
    pub lr: f64,
    /// Fine-tuning: how many top transformer layers are trained (the lower ones stay frozen and run once
    /// per text: fewer is faster). Default: all of them.
    #[arg(long, requires = "fine_tune")]
    pub layers: Option<usize>,
    /// Fine-tuning: examples per optimiser step.
    #[arg(long, default_value_t = 32, requires = "fine_tune", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub train_batch_size: u32,
    /// Fine-tuning: dropout probability in the trained layers (0 turns it off).
    #[arg(long, default_value_t = 0.1, requires = "fine_tune")]
    pub dropout: f32,
    /// Fine-tuning: share of the steps with a linear learning-rate warm-up (then linear decay to 0).
    #[arg(long, default_value_t = 0.1, requires = "fine_tune")]
    pub warmup: f64,
    /// Fine-tuning: label smoothing of the cross-entropy (0 = none).
    #[arg(long, default_value_t = 0.1, requires = "fine_tune")]
    pub label_smoothing: f64,
    /// Fine-tuning: layer-wise learning-rate decay; each layer trains at this factor times the rate of the
    /// layer above it (the top layer and the head at `--lr`). 1 = the same rate everywhere.
    #[arg(long, default_value_t = 1.0, requires = "fine_tune")]
    pub layer_decay: f64,
    /// Seed of the random choices: the held-out split (churn) or the example order (fine-tuning).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[command(flatten)]
    pub churn: super::churn::ChurnTrainArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ClassWeightArg {
    Balanced,
    None,
}

pub fn run(args: &TrainArgs) -> anyhow::Result<ExitCode> {
    if args.task == Task::Churn {
        return super::churn::train(args);
    }
    let examples = read_all(&args.data)?;
    let mut labels: Vec<String> = examples.iter().map(|e| e.label.clone()).collect();
    match args.task {
        Task::Sentiment => labels = sentiment::normalize_labels(&labels)?,
        Task::Churn => {}
        Task::Intent => {
            if let Some(path) = &args.taxonomy {
                check_known_labels(&labels, &Taxonomy::from_path(path)?.ids(), path)?;
            }
        }
    }
    copiloot::training::head::check_labels(&labels)?;
    let copilot = args.model.copilot()?;
    let encoder = copilot.encoder();
    if args.fine_tune {
        return fine_tune(args, encoder, &examples, &labels);
    }
    let embeddings = embed_examples(encoder, &examples, args.data.cache.as_deref())?;
    let mut config = head_config(args);
    let started = std::time::Instant::now();
    if let Some(folds) = args.cv {
        let (best, scores) = select_l2(&embeddings, &labels, &config, L2_GRID, folds as usize)?;
        for (l2, acc) in &scores {
            eprintln!("  cv l2={l2:<8} accuracy {:.2} %", 100.0 * acc);
        }
        eprintln!("  picked l2={best} ({folds}-fold cross-validation on the training data)");
        config.l2 = Some(best);
    }
    let mut head = LinearHead::train(args.task.name(), encoder.model_id(), &embeddings, &labels, &config)?;
    let files: Vec<String> = args
        .data
        .data
        .iter()
        .map(|p| p.file_name().map_or_else(|| p.display().to_string(), |f| f.to_string_lossy().into()))
        .collect();
    let cv = args.cv.map(|k| format!(" --cv {k}")).unwrap_or_default();
    head.set_source(format!("copiloot train {} --data {}{cv}", args.task.name(), files.join(" --data ")));
    head.save(&args.out)?;
    let t = &head.meta().training;
    eprintln!(
        "trained a {} head: {} labels, {} examples, {} iterations in {:.1}s, train accuracy {:.1}% → {}",
        args.task.name(),
        head.labels().len(),
        t.examples,
        t.iterations,
        started.elapsed().as_secs_f64(),
        100.0 * t.train_accuracy,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
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

/// `--fine-tune`: the encoder's top layers and the head, saved as one folder.
/// The logistic-regression head's settings from the command line (plain training and fine-tuning alike).
fn head_config(args: &TrainArgs) -> TrainConfig {
    TrainConfig {
        l2: args.l2,
        class_weight: match args.class_weight {
            ClassWeightArg::Balanced => ClassWeight::Balanced,
            ClassWeightArg::None => ClassWeight::None,
        },
        max_iter: args.max_iter,
        ..TrainConfig::default()
    }
}

fn fine_tune(
    args: &TrainArgs,
    encoder: &copiloot::models::Encoder,
    examples: &[LabelledExample],
    labels: &[String],
) -> anyhow::Result<ExitCode> {
    use copiloot::training::finetune::{self, FineTuneConfig};
    if args.task != Task::Intent {
        anyhow::bail!(copiloot::Error::Config("--fine-tune is for `train intent`".into()));
    }
    let base = match &args.model.encoder {
        Some(spec) => copiloot::models::ModelSource::parse(spec)?.resolve_encoder_folder()?,
        None => {
            let dir = args.model.models_dir.clone().unwrap_or_else(copiloot::models::default_models_dir);
            let catalog = copiloot::models::Catalog::load(&dir)?;
            dir.join(&catalog.roles.encoder)
        }
    };
    let layers = args.layers.map_or_else(|| "all".to_string(), |n| format!("the top {n}"));
    let layers_flag = args.layers.map(|n| format!(" --layers {n}")).unwrap_or_default();
    let source = format!(
        "copiloot train intent --fine-tune{layers_flag} --epochs {} --lr {} --train-batch-size {} --dropout {} \
         --warmup {} --label-smoothing {} --layer-decay {} --seed {} ({} examples)",
        args.epochs,
        args.lr,
        args.train_batch_size,
        args.dropout,
        args.warmup,
        args.label_smoothing,
        args.layer_decay,
        args.seed,
        examples.len()
    );
    let config = FineTuneConfig {
        layers: args.layers,
        epochs: args.epochs,
        lr: args.lr,
        seed: args.seed,
        batch_size: args.train_batch_size as usize,
        dropout: args.dropout,
        warmup: args.warmup,
        label_smoothing: args.label_smoothing,
        layer_decay: args.layer_decay,
        head: head_config(args),
        source,
    };
    let started = std::time::Instant::now();
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let mut log = |line: &str| eprintln!("  [{:6.0}s] {line}", started.elapsed().as_secs_f64());
    let tuned = finetune::fine_tune(&base, encoder, &texts, labels, &config, &args.out, &mut log)?;
    eprintln!(
        "fine-tuned {layers} layers and the head: {} labels, {} examples in {:.0}s → {} \
         (train accuracy: frozen head {:.2} %, tuned {:.2} %)",
        tuned.head.labels().len(),
        examples.len(),
        started.elapsed().as_secs_f64(),
        args.out.display(),
        100.0 * tuned.frozen_train_accuracy,
        100.0 * tuned.head.meta().training.train_accuracy
    );
    Ok(ExitCode::SUCCESS)
}
