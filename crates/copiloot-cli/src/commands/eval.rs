//! `copiloot eval intent|sentiment` (and `summary`, in `eval_summary.rs`): score a classifier on labelled data — accuracy, macro-F1, per-class
//! precision/recall and the most confused pairs — printed as a table and optionally written as JSON.
//!
//! Without `--model` it evaluates what `analyze` uses: zero-shot over the shipped taxonomy for intent, the
//! shipped head for sentiment.

use super::train::{check_known_labels, embed_examples, read_all, DataArgs, Task};
use crate::common::ModelArgs;
use copiloot::eval::metrics::{evaluate, ClassificationReport};
use copiloot::tasks::intent::{default_taxonomy_path, IntentModel, IntentOptions, Taxonomy};
use copiloot::tasks::sentiment::{self, SentimentModel};
use copiloot::tasks::TextEmbedder;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    #[arg(value_enum)]
    pub task: EvalTask,
    #[command(flatten)]
    pub data: DataArgs,
    /// A folder from `copiloot train` (a head, or with --fine-tune an encoder and head) or, for intent, a
    /// Hugging Face `*ForSequenceClassification` folder (default: zero-shot taxonomy for intent, the
    /// shipped head for sentiment).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Intent: zero-shot over this taxonomy file instead of the shipped one.
    #[arg(long, conflicts_with = "model")]
    pub taxonomy: Option<PathBuf>,
    /// Intent: zero-shot over the labels of the data themselves (names only, no examples).
    #[arg(long, conflicts_with_all = ["model", "taxonomy"])]
    pub zero_shot_labels: bool,
    /// Answer `other` below this probability or, zero-shot, below the taxonomy's calibrated similarity floor
    /// (default 0: no `other`, always the best intent — the usual benchmark setting).
    #[arg(long, default_value_t = 0.0)]
    pub min_confidence: f32,
    /// How many confused pairs to list.
    #[arg(long, default_value_t = 10)]
    pub top_confused: usize,
    /// Write every prediction as JSON lines (`text`, `gold`, `predicted`, `score`) here, for error analysis.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    /// Write the full report as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub churn: super::churn::ChurnEvalArgs,
    #[command(flatten)]
    pub model_args: ModelArgs,
    #[command(flatten)]
    pub summary: super::eval_summary::SummaryEvalArgs,
}

/// `eval` scores the trainable tasks, the summary (ROUGE, in `eval_summary.rs`) and churn (`churn.rs`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalTask {
    Intent,
    Sentiment,
    Summary,
    Churn,
}

#[derive(Serialize)]
struct Report<'a> {
    task: &'a str,
    model: String,
    encoder: String,
    data: Vec<String>,
    /// Share of predictions that were `other` (intent with --min-confidence > 0).
    other_rate: f64,
    seconds: f64,
    #[serde(flatten)]
    metrics: ClassificationReport,
}

pub fn run(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let task = match args.task {
        EvalTask::Intent => Task::Intent,
        EvalTask::Sentiment => Task::Sentiment,
        EvalTask::Summary => return super::eval_summary::run(args),
        EvalTask::Churn => return super::churn::eval(args),
    };
    let started = std::time::Instant::now();
    let examples = read_all(&args.data)?;
    let mut gold: Vec<String> = examples.iter().map(|e| e.label.clone()).collect();
    let copilot = args.model_args.copilot()?;
    let encoder: &dyn TextEmbedder = copilot.encoder();
    let models_dir = args.model_args.models_dir.clone().unwrap_or_else(copiloot::models::default_models_dir);

    let (predicted, scores, model_name): (Vec<String>, Vec<f32>, String) = match task {
        Task::Intent => {
            let (model, name) = if let Some(dir) = &args.model {
                (IntentModel::from_dir(dir, encoder.model_id())?, dir.display().to_string())
            } else if args.zero_shot_labels {
                let mut labels = gold.clone();
                labels.sort();
                labels.dedup();
                (
                    IntentModel::zero_shot(Taxonomy::from_labels(&labels), encoder)?,
                    "zero-shot:labels".to_string(),
                )
            } else {
                let path = args.taxonomy.clone().unwrap_or_else(|| default_taxonomy_path(&models_dir));
                (
                    IntentModel::zero_shot(Taxonomy::from_path(&path)?, encoder)?,
                    format!("zero-shot:{}", path.display()),
                )
            };
            // Gold `other` is allowed: out-of-scope test sets measure how often `other` is answered.
            let mut known = model.labels();
            known.push(copiloot::tasks::intent::OTHER.to_string());
            check_known_labels(&gold, &known, std::path::Path::new(&name))?;
            let opts = IntentOptions {
                min_confidence: args.min_confidence,
                out_of_scope: args.min_confidence > 0.0,
                ..IntentOptions::default()
            };
            let p = if model.reads_text() {
                classify_texts(&model, encoder, &examples, &opts)?
            } else {
                let embeddings = embed_examples(encoder, &examples, args.data.cache.as_deref())?;
                model.predict_embeddings(&embeddings, &opts)?
            };
            let scores = p.iter().map(|p| p.score).collect();
            (p.into_iter().map(|p| p.intent).collect(), scores, name)
        }
        Task::Churn => unreachable_churn()?,
        Task::Sentiment => {
            gold = sentiment::normalize_labels(&gold)?;
            let dir = args.model.clone().unwrap_or_else(|| SentimentModel::default_dir(&models_dir));
            let model = SentimentModel::load(&dir, encoder.model_id())?;
            let embeddings = embed_examples(encoder, &examples, args.data.cache.as_deref())?;
            let p = model.predict_embeddings(&embeddings)?;
            let scores = p.iter().map(|(_, s, _)| *s).collect();
            (
                p.into_iter().map(|(l, _, _)| l.as_str().to_string()).collect(),
                scores,
                dir.display().to_string(),
            )
        }
    };
    if let Some(path) = &args.predictions {
        let mut out = String::new();
        for (i, e) in examples.iter().enumerate() {
            let row = serde_json::json!({"text": e.text, "gold": gold[i], "predicted": predicted[i], "score": scores[i]});
            out.push_str(&row.to_string());
            out.push('\n');
        }
        std::fs::write(path, out).map_err(|e| copiloot::Error::io(path, e))?;
    }
    let metrics = evaluate(&gold, &predicted, args.top_confused);
    let other = predicted.iter().filter(|p| *p == copiloot::tasks::intent::OTHER).count();
    print_table(&metrics, &model_name);
    let report = Report {
        task: task.name(),
        model: model_name,
        encoder: encoder.model_id().to_string(),
        data: args.data.data.iter().map(|p| p.display().to_string()).collect(),
        other_rate: other as f64 / predicted.len().max(1) as f64,
        seconds: started.elapsed().as_secs_f64(),
        metrics,
    };
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .map_err(|e| copiloot::Error::io(path, e))?;
        eprintln!("report written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Texts through a classifier with its own encoder, in chunks with a progress bar.
fn classify_texts(
    model: &IntentModel,
    encoder: &dyn TextEmbedder,
    examples: &[copiloot::training::labelled::LabelledExample],
    opts: &IntentOptions,
) -> anyhow::Result<Vec<copiloot::tasks::intent::IntentPrediction>> {
    let bar = indicatif::ProgressBar::new(examples.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "classifying {bar:30} {pos}/{len} texts  {per_sec}  eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut out = Vec::with_capacity(examples.len());
    for chunk in examples.chunks(256) {
        let texts: Vec<&str> = chunk.iter().map(|e| e.text.as_str()).collect();
        out.extend(model.predict_texts(&texts, encoder, opts)?);
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(out)
}

fn print_table(r: &ClassificationReport, model: &str) {
    println!("model     {model}");
    println!("examples  {}", r.examples);
    println!("accuracy  {:.2} %", 100.0 * r.accuracy);
    println!("macro-F1  {:.2} %", 100.0 * r.macro_f1);
    println!();
    let width = r.per_class.iter().map(|c| c.label.chars().count()).max().unwrap_or(5).max(5);
    println!("{:width$}  precision  recall     f1  support", "label");
    for c in &r.per_class {
        println!("{:width$}  {:9.3}  {:6.3}  {:5.3}  {:7}", c.label, c.precision, c.recall, c.f1, c.support);
    }
    if !r.most_confused.is_empty() {
        println!();
        println!("most confused (gold → predicted: count)");
        for p in &r.most_confused {
            println!("  {} → {}: {}", p.gold, p.predicted, p.count);
        }
    }
}

/// `churn` returned above; typed so the match stays exhaustive without a panic.
fn unreachable_churn() -> anyhow::Result<(Vec<String>, Vec<f32>, String)> {
    anyhow::bail!("churn is evaluated by `commands::churn::eval`")
}
