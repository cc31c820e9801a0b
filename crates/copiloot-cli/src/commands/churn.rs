//! `copiloot churn`: the churn risk with its reasons per conversation, per customer (`--by-customer`) or
//! per row of a customer table (`--table`, with a model from `copiloot train churn`).

use crate::common::{read_input, ModelArgs};
use anyhow::Context;
use copiloot::conversation::{parse_jsonl, parse_str, read_conversations, ParseOptions};
use copiloot::tasks::churn::{score_table, ChurnModel, ChurnOptions, ChurnRisk, ChurnSignals};
use copiloot::training::Table;
use copiloot::Conversation;
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
