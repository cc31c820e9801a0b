//! `copiloot eval intent|sentiment`: score a classifier on labelled data — accuracy, macro-F1, per-class
//! precision/recall and the most confused pairs — printed as a table and optionally written as JSON.
//!
//! Without `--model` it evaluates what `analyze` uses: zero-shot over the shipped taxonomy for intent, the
//! shipped head for sentiment.

use crate::common::ModelArgs;
use crate::labelled::{check_known_labels, embed_examples, read_all, DataArgs};
use copiloot::eval::metrics::{evaluate, ClassificationReport};
use copiloot::tasks::intent::{default_taxonomy_path, IntentModel, IntentOptions, Taxonomy};
use copiloot::tasks::sentiment::{self, SentimentLabel, SentimentModel};
use copiloot::tasks::{LayerFeatures, TextEmbedder};
use copiloot::training::labelled::LabelledExample;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// `copiloot eval intent`.
#[derive(clap::Args, Debug)]
pub struct EvalIntentArgs {
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
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub model_args: ModelArgs,
}

/// `copiloot eval sentiment`.
#[derive(clap::Args, Debug)]
pub struct EvalSentimentArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// A folder from `copiloot train` (a head, or with --fine-tune an encoder and head) or, for intent, a
    /// Hugging Face `*ForSequenceClassification` folder (default: zero-shot taxonomy for intent, the
    /// shipped head for sentiment).
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub model_args: ModelArgs,
}

/// What `eval intent|sentiment` writes besides the table.
#[derive(clap::Args, Debug)]
pub struct OutputArgs {
    /// How many confused pairs to list.
    #[arg(long, default_value_t = 10)]
    pub top_confused: usize,
    /// Write every prediction as JSON lines (`text`, `gold`, `predicted`, `score`) here, for error analysis.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    /// Write the full report as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

#[derive(Serialize)]
struct Report<'a> {
    task: &'a str,
    model: String,
    encoder: String,
    data: Vec<String>,
    /// Share of predictions that were `other` (intent with --min-confidence > 0).
    other_rate: f64,
    /// Share of predictions that were `neutral` when the test set has no neutral gold label (binary sets
    /// such as SST-2): the scores are over the labels present, and this says how often neutral cost a hit.
    #[serde(skip_serializing_if = "Option::is_none")]
    neutral_rate: Option<f64>,
    /// Accuracy and macro-F1 per detected language of the text (`other`: rare or undetectable).
    by_language: BTreeMap<String, LanguageScores>,
    seconds: f64,
    #[serde(flatten)]
    metrics: ClassificationReport,
}

#[derive(Serialize)]
struct LanguageScores {
    examples: usize,
    accuracy: f64,
    macro_f1: f64,
}

/// The scores of the examples of each language (detected per text), languages in code order. Languages
/// with under 5 % of the examples are pooled as `other`: on short texts they are mostly misdetections
/// ("Good case, Excellent value." is not Danish), as are texts too short to tell.
fn by_language(
    examples: &[LabelledExample],
    gold: &[String],
    predicted: &[String],
) -> BTreeMap<String, LanguageScores> {
    let codes: Vec<Option<String>> =
        examples.iter().map(|e| copiloot::conversation::detect_language(&e.text).map(|l| l.code)).collect();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for code in codes.iter().flatten() {
        *counts.entry(code.as_str()).or_default() += 1;
    }
    let min = (examples.len() / 20).max(5);
    let mut groups: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for ((code, g), p) in codes.iter().zip(gold).zip(predicted) {
        let name = match code.as_deref() {
            Some(c) if counts.get(c).is_some_and(|&n| n >= min) => c,
            _ => "other",
        };
        let group = groups.entry(name.to_string()).or_default();
        group.0.push(g.clone());
        group.1.push(p.clone());
    }
    groups
        .into_iter()
        .map(|(code, (g, p))| {
            let m = evaluate(&g, &p, 0);
            (code, LanguageScores { examples: m.examples, accuracy: m.accuracy, macro_f1: m.macro_f1 })
        })
        .collect()
}

/// A classifier's answers on the labelled examples, in their order.
struct Predictions {
    gold: Vec<String>,
    predicted: Vec<String>,
    scores: Vec<f32>,
    model: String,
}

/// `copiloot eval intent`: a trained head or classifier (`--model`), or zero-shot over a taxonomy.
pub fn run_intent(args: &EvalIntentArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let examples = read_all(&args.data)?;
    let gold: Vec<String> = examples.iter().map(|e| e.label.clone()).collect();
    let copilot = args.model_args.copilot()?;
    let encoder: &dyn TextEmbedder = copilot.encoder();
    let models_dir = args.model_args.models_dir.clone().unwrap_or_else(copiloot::models::default_models_dir);
    let (model, name) = if let Some(dir) = &args.model {
        (IntentModel::from_dir(dir, encoder.model_id())?, dir.display().to_string())
    } else if args.zero_shot_labels {
        let mut labels = gold.clone();
        labels.sort();
        labels.dedup();
        (IntentModel::zero_shot(Taxonomy::from_labels(&labels), encoder)?, "zero-shot:labels".to_string())
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
    let predicted = p.into_iter().map(|p| p.intent).collect();
    let predictions = Predictions { gold, predicted, scores, model: name };
    report("intent", &args.data, &args.output, encoder, &examples, predictions, started)
}

/// `copiloot eval sentiment`: the shipped sentiment head, or a head from `train sentiment` (`--model`).
pub fn run_sentiment(args: &EvalSentimentArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let examples = read_all(&args.data)?;
    let gold: Vec<String> = examples.iter().map(|e| e.label.clone()).collect();
    let copilot = args.model_args.copilot()?;
    let encoder: &dyn TextEmbedder = copilot.encoder();
    let models_dir = args.model_args.models_dir.clone().unwrap_or_else(copiloot::models::default_models_dir);
    let gold = sentiment::normalize_labels(&gold)?;
    let dir = args.model.clone().unwrap_or_else(|| SentimentModel::default_dir(&models_dir));
    let model = SentimentModel::load(&dir, encoder)?;
    let features =
        model.feature_spec().cloned().map(|spec| LayerFeatures::with_spec(encoder, spec)).transpose()?;
    let reads: &dyn TextEmbedder = match &features {
        Some(f) => f,
        None => encoder,
    };
    let embeddings = embed_examples(reads, &examples, args.data.cache.as_deref())?;
    let p = model.predict_embeddings(&embeddings)?;
    let scores = p.iter().map(|(_, s, _)| *s).collect();
    let predicted = p.into_iter().map(|(l, _, _)| l.as_str().to_string()).collect();
    let predictions = Predictions { gold, predicted, scores, model: dir.display().to_string() };
    report("sentiment", &args.data, &args.output, encoder, &examples, predictions, started)
}

/// Writes `--predictions`, prints the table and writes `--report`.
fn report(
    task: &str,
    data: &DataArgs,
    args: &OutputArgs,
    encoder: &dyn TextEmbedder,
    examples: &[LabelledExample],
    p: Predictions,
    started: std::time::Instant,
) -> anyhow::Result<ExitCode> {
    let Predictions { gold, predicted, scores, model: model_name } = p;
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
    let share =
        |label: &str| predicted.iter().filter(|p| *p == label).count() as f64 / predicted.len().max(1) as f64;
    let neutral = SentimentLabel::Neutral.as_str();
    let neutral_rate = (task == "sentiment" && !gold.iter().any(|g| g == neutral)).then(|| share(neutral));
    let languages = by_language(examples, &gold, &predicted);
    print_table(&metrics, &model_name);
    if let Some(rate) = neutral_rate {
        println!();
        println!(
            "no neutral gold label: scored over the labels present; neutral predicted for {:.2} %",
            100.0 * rate
        );
    }
    if languages.len() > 1 {
        println!();
        println!("per language  examples  accuracy  macro-F1");
        for (code, l) in &languages {
            println!(
                "{code:12}  {:8}  {:7.2} %  {:7.2} %",
                l.examples,
                100.0 * l.accuracy,
                100.0 * l.macro_f1
            );
        }
    }
    let report = Report {
        task,
        model: model_name,
        encoder: encoder.model_id().to_string(),
        data: data.data.iter().map(|p| p.display().to_string()).collect(),
        other_rate: share(copiloot::tasks::intent::OTHER),
        neutral_rate,
        by_language: languages,
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
    examples: &[LabelledExample],
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
