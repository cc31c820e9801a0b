//! `copiloot churn` (score conversations, customers or a customer table) and the churn parts of
//! `copiloot train churn` / `copiloot eval churn`: tabular training on a customer table, or conversation
//! training on JSONL conversations with an outcome label; evaluation with a calibration table and a
//! reliability plot.

use super::eval::EvalArgs;
use super::train::TrainArgs;
use crate::common::{read_input, ModelArgs};
use anyhow::Context;
use copiloot::conversation::{parse_jsonl, parse_str, read_conversations, ParseOptions};
use copiloot::eval::{plot, EvalReport};
use copiloot::tasks::churn::{
    score_table, ChurnModel, ChurnOptions, ChurnRisk, ChurnSignals, Date, ModelKind,
};
use copiloot::training::churn::train_conversations;
use copiloot::training::{Table, TrainOptions, TrainReport};
use copiloot::{Conversation, Copilot, Error, Location};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ChurnArgs {
    /// Conversations: JSON, JSONL (one per line) or a plain `Speaker: text` transcript; `-` for stdin.
    #[arg(conflicts_with_all = ["input", "table"])]
    pub file: Option<PathBuf>,
    /// Same as FILE (for batch jobs).
    #[arg(long, short, conflicts_with = "table")]
    pub input: Option<PathBuf>,
    /// Score the rows of a customer table (.csv/.tsv/.jsonl) with a tabular model (--model) instead.
    #[arg(long, requires = "model")]
    pub table: Option<PathBuf>,
    /// A model from `copiloot train churn` (default: the documented default coefficients).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// One risk per `customer.customer_id`, combining that customer's conversations (oldest first):
    /// the strongest intent and every competitor/price/repeat signal anywhere in the chain, the mood and
    /// resolution of the last contact, the chain itself as a repeat contact, the latest customer record.
    #[arg(long, conflicts_with = "table")]
    pub by_customer: bool,
    /// Phrase lists (default: models/churn/signals.toml).
    #[arg(long)]
    pub signals: Option<PathBuf>,
    /// Language of the reasons for table rows (`nl` or `en`; conversations use their own language).
    #[arg(long, default_value = "en")]
    pub language: String,
    /// Output: `jsonl` (one object per conversation/customer/row, default), `json` (pretty) or `text`.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: Format,
    #[command(flatten)]
    pub model_args: ModelArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Jsonl,
    Text,
}

/// The churn options of `copiloot train` (flattened into its arguments).
#[derive(clap::Args, Debug, Clone)]
pub struct ChurnTrainArgs {
    /// Churn: share of rows held out for evaluation (stratified).
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Churn: treat this column as categorical (repeat); e.g. a numeric plan code.
    #[arg(long)]
    pub categorical: Vec<String>,
    /// Churn: leave this column out (repeat); e.g. an identifier or a leak of the label.
    #[arg(long)]
    pub ignore: Vec<String>,
}

/// The churn options of `copiloot eval`.
#[derive(clap::Args, Debug, Clone)]
pub struct ChurnEvalArgs {
    /// Churn: write the reliability plot (predicted vs observed per decile) as PNG here.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

#[derive(Serialize)]
struct Scored<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    conversations: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    row: Option<usize>,
    churn: &'a ChurnRisk,
}

pub fn run(args: &ChurnArgs) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.table {
        let model = ChurnModel::load(args.model.as_deref().context("--table needs --model")?)?;
        let table = Table::read(path)?;
        let risks = score_table(&model, &table, Some(&args.language))?;
        let id_col = ["customer_id", "customerid", "id"].iter().find_map(|c| table.find_column(c));
        for (i, risk) in risks.iter().enumerate() {
            let id = id_col.and_then(|c| table.cell(i, c));
            emit(
                args.format,
                &Scored {
                    conversation_id: None,
                    customer_id: id,
                    conversations: vec![],
                    row: Some(i + 1),
                    churn: risk,
                },
                id.unwrap_or("row"),
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let conversations = read_any(args.file.as_deref().or(args.input.as_deref()))?;
    let options =
        ChurnOptions { model: args.model.clone(), signals: args.signals.clone(), ..ChurnOptions::default() };
    let copilot = args.model_args.copilot_with(options)?;
    let mut scored = Vec::new();
    for c in &conversations {
        let analysis = copilot.analyze(c)?;
        let risk = analysis.churn.context("the churn task did not run")?;
        scored.push((c, risk));
    }
    if !args.by_customer {
        for (c, risk) in &scored {
            emit(
                args.format,
                &Scored {
                    conversation_id: Some(c.id.as_str()),
                    customer_id: c.customer.customer_id.as_deref(),
                    conversations: vec![],
                    row: None,
                    churn: risk,
                },
                &c.id,
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Group by customer id in input order; a conversation without one is its own customer.
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, (c, _)) in scored.iter().enumerate() {
        let key = c.customer.customer_id.clone().unwrap_or_else(|| format!("(conversation {})", c.id));
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    for (customer, members) in &groups {
        let chain: Vec<(String, ChurnSignals)> = members
            .iter()
            .filter_map(|&i| scored.get(i))
            .map(|(c, r)| (c.id.clone(), r.signals.clone().unwrap_or_default()))
            .collect();
        let language = members
            .last()
            .and_then(|&i| scored.get(i))
            .and_then(|(c, _)| c.language.clone().or_else(|| c.detect_language()));
        let risk = copilot
            .churn()
            .context("the copilot has no churn task")?
            .score_chain(&chain, language.as_deref())?;
        let ids: Vec<&str> =
            members.iter().filter_map(|&i| scored.get(i)).map(|(c, _)| c.id.as_str()).collect();
        emit(
            args.format,
            &Scored {
                conversation_id: None,
                customer_id: Some(customer.as_str()),
                conversations: ids,
                row: None,
                churn: &risk,
            },
            customer,
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn emit(format: Format, s: &Scored, title: &str) -> anyhow::Result<()> {
    match format {
        Format::Jsonl => println!("{}", serde_json::to_string(s)?),
        Format::Json => println!("{}", serde_json::to_string_pretty(s)?),
        Format::Text => {
            let r = s.churn;
            println!(
                "{title}: {:.0} % {} (model {}, baseline {:.0} %)",
                100.0 * r.score,
                r.band.as_str(),
                r.model,
                100.0 * r.baseline
            );
            for reason in &r.reasons {
                println!("  {:+.2}  {}", reason.contribution, reason.text);
            }
            for w in &r.warnings {
                println!("  warning: {w}");
            }
        }
    }
    Ok(())
}

fn read_any(path: Option<&Path>) -> anyhow::Result<Vec<Conversation>> {
    let opts = ParseOptions::default();
    match path {
        Some(p) if p != Path::new("-") => Ok(read_conversations(p, &opts)?),
        _ => {
            let (_, text) = read_input(None)?;
            let t = text.trim_start();
            if t.starts_with('{') && t.lines().filter(|l| !l.trim().is_empty()).count() > 1 {
                Ok(parse_jsonl(t, &opts)?)
            } else {
                Ok(vec![parse_str("stdin", t, &opts)?])
            }
        }
    }
}

// Label columns tried when `--label` is not given.
use copiloot::training::table::LABEL_COLUMNS as LABELS;

fn label_of(args: &super::train::DataArgs, columns: &[String]) -> anyhow::Result<String> {
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

fn one_file(args: &super::train::DataArgs) -> anyhow::Result<&Path> {
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
type LabelledConversations = (Vec<Conversation>, Vec<Option<String>>, String);

/// Conversations (JSONL with `turns`) and their labels, when `path` holds conversations; `None` for a table.
fn conversation_rows(path: &Path, label: Option<&str>) -> anyhow::Result<Option<LabelledConversations>> {
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

fn signals_of(copilot: &Copilot, conversations: &[Conversation]) -> anyhow::Result<Vec<ChurnSignals>> {
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

/// `copiloot train churn`.
pub fn train(args: &TrainArgs) -> anyhow::Result<ExitCode> {
    let path = one_file(&args.data)?;
    let options = TrainOptions {
        test_fraction: args.churn.test_fraction,
        seed: args.seed,
        l2: args.l2,
        max_iter: args.max_iter.max(1000),
        categorical: args.churn.categorical.clone(),
        ignore: args.churn.ignore.clone(),
        ..TrainOptions::default()
    };
    let (mut model, report) = match conversation_rows(path, args.data.label_col.as_deref())? {
        Some((conversations, labels, label)) => {
            let copilot = args.model.copilot()?;
            let signals = signals_of(&copilot, &conversations)?;
            let (mut m, r) = train_conversations(&signals, &labels, &options)?;
            m.label = Some(label);
            (m, r)
        }
        None => {
            let table = Table::read(path)?;
            let label = label_of(&args.data, table.columns())?;
            ChurnModel::train(&table, &label, &options)?
        }
    };
    if let Some(t) = &mut model.training {
        t.source = Some(format!(
            "copiloot train churn --data {} --test-fraction {} --seed {}",
            path.file_name().map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().to_string()),
            options.test_fraction,
            options.seed
        ));
    }
    model.save(&args.out)?;
    print_train(&model, &report);
    eprintln!("model written to {}", args.out.join(copiloot::tasks::churn::model::MODEL_FILE).display());
    Ok(ExitCode::SUCCESS)
}

fn print_train(model: &ChurnModel, r: &TrainReport) {
    let kind = if model.kind == ModelKind::Tabular { "tabular" } else { "conversation" };
    println!(
        "churn model ({kind}): {} rows, {:.1} % churn; trained on {}, held out {}",
        r.rows,
        100.0 * r.positive_rate,
        r.train_rows,
        r.test_rows
    );
    println!("numeric: {}", r.numeric.join(", "));
    println!("categorical (one-hot): {}", r.categorical.join(", "));
    for i in &r.ignored {
        println!("ignored: {} ({})", i.column, i.reason);
    }
    println!("L-BFGS: {} iterations, l2 {:.2e}, loss {:.4}", r.iterations, r.l2, r.final_loss);
    if let Some(h) = &r.held_out {
        println!();
        print_metrics(h, "held-out");
    }
    println!();
    println!(
        "coefficients (logit per standard deviation; intercept {:+.3} = {:.1} % for an average customer)",
        model.intercept,
        100.0 * model.baseline()
    );
    for c in &r.coefficients {
        let name = match &c.level {
            Some(l) => format!("{} = {l}", c.feature),
            None => c.feature.clone(),
        };
        println!("  {:+.3}  {name}", c.coefficient);
    }
}

fn print_metrics(r: &EvalReport, what: &str) {
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

/// `copiloot eval churn`.
pub fn eval(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let path = one_file(&args.data)?;
    let (model, report, rows) = match conversation_rows(path, args.data.label_col.as_deref())? {
        Some((conversations, labels, _)) => {
            let options = ChurnOptions { model: args.model.clone(), ..ChurnOptions::default() };
            let copilot = args.model_args.copilot_with(options)?;
            let signals = signals_of(&copilot, &conversations)?;
            let table = ChurnSignals::table(&signals, &[("outcome".to_string(), labels)])?;
            let model = copilot.churn().context("the copilot has no churn task")?.model().clone();
            let report = model.evaluate(&table, "outcome")?;
            (model, report, table)
        }
        None => {
            let dir = args
                .model
                .as_deref()
                .context("a customer table needs --model DIR (from `copiloot train churn`)")?;
            let model = ChurnModel::load(dir)?;
            let table = Table::read(path)?;
            let label = label_of(&args.data, table.columns())?;
            let report = model.evaluate(&table, &label)?;
            (model, report, table)
        }
    };
    print_metrics(&report, "evaluation");
    if let Some(p) = &args.predictions {
        let probs = model.predict_proba(&rows)?;
        let mut out = String::new();
        for (i, s) in probs.iter().enumerate() {
            out.push_str(
                &serde_json::json!({"row": i + 1, "score": s, "band": model.bands.band(*s)}).to_string(),
            );
            out.push('\n');
        }
        std::fs::write(p, out).map_err(|e| Error::io(p, e))?;
    }
    if let Some(p) = &args.churn.plot {
        plot::reliability_png(&report, p)?;
        eprintln!("reliability plot written to {}", p.display());
    }
    if let Some(p) = &args.report {
        std::fs::write(p, serde_json::to_string_pretty(&report)? + "\n").map_err(|e| Error::io(p, e))?;
        eprintln!("report written to {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `--as-of` of the commands that analyse: a date, or today's (UTC) when not given.
pub fn as_of(given: Option<&str>) -> anyhow::Result<Date> {
    match given {
        Some(s) => s.parse::<Date>().map_err(|m| Error::invalid(Location::field("as-of"), m).into()),
        None => Ok(Date::today_utc()),
    }
}
