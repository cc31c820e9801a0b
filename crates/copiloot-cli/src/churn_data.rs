//! The labelled data of `train churn` and `eval churn` — one customer table, or JSONL conversations with an
//! outcome label — and the metrics table both print. Nothing here imports from `commands/`.

use anyhow::Context;
use copiloot::conversation::{parse_jsonl, ParseOptions};
use copiloot::eval::EvalReport;
use copiloot::tasks::churn::ChurnSignals;
use copiloot::training::Table;
use copiloot::{Conversation, Copilot, Error, Location};
use std::path::{Path, PathBuf};

/// Where the labelled churn data comes from; shared by `train churn` and `eval churn`.
#[derive(clap::Args, Debug, Clone)]
pub struct ChurnDataArgs {
    /// Labelled .csv/.tsv/.jsonl file; repeat to combine several (e.g. English and Dutch).
    #[arg(long, required = true)]
    pub data: Vec<PathBuf>,
    /// Label column (default: the first of label, category, intent, sentiment; churn: churn, churned, …).
    #[arg(long, visible_alias = "label")]
    pub label_col: Option<String>,
}

/// Label columns tried when `--label` is not given (the core's list, shared with Python).
pub use copiloot::training::table::LABEL_COLUMNS as LABELS;

/// The `--label` column, or the first of [`LABELS`] in the table.
pub fn label_of(args: &ChurnDataArgs, columns: &[String]) -> anyhow::Result<String> {
    if let Some(l) = &args.label_col {
        return Ok(l.clone());
    }
    LABELS
        .iter()
        .find_map(|l| columns.iter().find(|c| c.eq_ignore_ascii_case(l)).cloned())
        .ok_or_else(|| {
            Error::invalid(Location::field("label"), format!("no label column given and none of {LABELS:?} found; the columns are {columns:?} — pass --label COLUMN")).into()
        })
}

/// The one `--data` file churn reads.
pub fn one_file(args: &ChurnDataArgs) -> anyhow::Result<&Path> {
    match args.data.as_slice() {
        [one] => Ok(one),
        _ => Err(Error::invalid(
            Location::field("data"),
            "churn takes one --data file; concatenate the files first",
        )
        .into()),
    }
}

/// Conversations, their outcome labels and the label field's name.
pub type LabelledConversations = (Vec<Conversation>, Vec<Option<String>>, String);

/// Conversations (JSONL with `turns`) and their labels, when `path` holds conversations; `None` for a table.
pub fn conversation_rows(path: &Path, label: Option<&str>) -> anyhow::Result<Option<LabelledConversations>> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if !matches!(ext.as_str(), "jsonl" | "ndjson") {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let (table, _) = Table::from_jsonl(&text).map_err(|e| match e {
        Error::InvalidInput { location, message } => {
            Error::InvalidInput { location: location.with_source(path.display().to_string()), message }
        }
        other => other,
    })?;
    if table.find_column("turns").is_none() && table.find_column("messages").is_none() {
        return Ok(None);
    }
    let mut columns = table.columns().to_vec();
    columns.retain(|c| c != "turns" && c != "messages");
    let label = match label {
        Some(l) => l.to_string(),
        None => LABELS
            .iter()
            .find_map(|l| columns.iter().find(|c| c.eq_ignore_ascii_case(l)).cloned())
            .with_context(|| {
                format!("no label field given and none of {LABELS:?} found; pass --label FIELD")
            })?,
    };
    let col = table.column_index(&label)?;
    let labels = (0..table.len()).map(|r| table.cell(r, col).map(str::to_string)).collect();
    let opts = ParseOptions { source: Some(path.display().to_string()), ..ParseOptions::default() };
    Ok(Some((parse_jsonl(&text, &opts)?, labels, label)))
}

/// The churn signals of each conversation, with a progress bar.
pub fn signals_of(copilot: &Copilot, conversations: &[Conversation]) -> anyhow::Result<Vec<ChurnSignals>> {
    let bar = indicatif::ProgressBar::new(conversations.len() as u64);
    let mut out = Vec::with_capacity(conversations.len());
    for c in conversations {
        let a = copilot.analyze(c)?;
        out.push(a.churn.and_then(|r| r.signals).unwrap_or_default());
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}

/// The metrics of a churn model on labelled rows (held-out by `train churn`, all rows by `eval churn`).
pub fn print_metrics(r: &EvalReport, what: &str) {
    println!("{what}: {} rows, {} churners ({:.1} %)", r.rows, r.churners, 100.0 * r.churn_rate);
    println!("ROC AUC   {:.4}", r.roc_auc);
    println!("PR AUC    {:.4}  (average precision)", r.pr_auc);
    println!("Brier     {:.4}", r.brier);
    println!("log-loss  {:.4}", r.log_loss);
    println!("ECE       {:.4}  (10 equal-count bins: Σ rows/N · |mean predicted − observed|)", r.ece);
    println!("decile  rows  predicted  observed");
    for b in &r.calibration {
        println!("{:6}  {:4}  {:9.3}  {:8.3}", b.bin, b.rows, b.mean_predicted, b.observed);
    }
    for b in &r.bands {
        println!("band {:<6} {:5} rows, observed churn {:.1} %", b.band.as_str(), b.rows, 100.0 * b.observed);
    }
}
