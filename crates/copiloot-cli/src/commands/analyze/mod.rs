//! `copiloot analyze`: one conversation to stdout, or a batch to a JSONL file — parallel, resumable,
//! whole lines only; `--live` replays one conversation turn by turn (`live.rs`).

mod live;

use crate::common::{read_input, GeneratorArgs, ModelArgs, SearchFlags};
use anyhow::Context;
use copiloot::conversation::{parse_json, parse_str, ParseOptions};
use copiloot::{Analysis, Conversation, Copilot, Error};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::collections::HashSet;
use std::io::{BufRead, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

#[derive(clap::Args, Debug)]
pub struct AnalyzeArgs {
    /// A conversation: JSON, JSONL (one per line) or a plain `Speaker: text` transcript; `-` for stdin.
    #[arg(conflicts_with = "input")]
    pub file: Option<PathBuf>,
    /// Same as FILE (for batch jobs).
    #[arg(long, short)]
    pub input: Option<PathBuf>,
    /// Write JSONL here; conversations whose ids are already in it are skipped (resume after a crash).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Output format (default: json for one conversation on stdout, jsonl otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Parallel conversations in a batch (default: number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Intents from this folder instead of the zero-shot taxonomy: a head or fine-tuned folder from
    /// `copiloot train intent`, or a Hugging Face `*ForSequenceClassification` folder.
    #[arg(long)]
    pub intent_model: Option<PathBuf>,
    /// Replay FILE as if it were happening now: one line per turn as it is analysed, then the final
    /// Analysis (`--help` for the format).
    ///
    /// A live session: each turn is analysed as it arrives. Prints one JSON line per turn as soon as it
    /// is analysed,
    /// `{"event":"update", …}` with the fields of a LiveUpdate (turn, speaker, masked text, this turn's
    /// intent and sentiment, the running intents, trajectory, summary and churn with `churn_change`, and
    /// the `alerts` this turn fired), then one line `{"event":"closed","analysis":{…}}` with the final
    /// Analysis (equal to `copiloot analyze FILE`). `--format text`: one readable line per turn, alerts
    /// highlighted, the CRM note at the end. FILE must hold one conversation (a JSONL file with more is
    /// refused). A turn the session refuses (e.g. a timestamp before the previous one) stops the replay
    /// with exit code 2; the lines already printed stay.
    #[arg(long, conflicts_with_all = ["output", "jobs"])]
    pub live: bool,
    /// With --live: multiply the waits between turn timestamps by X (1 = real time, the default;
    /// 0.1 = ten times faster; 0 = no waiting). Turns without a timestamp do not wait.
    ///
    /// A turn at t seconds is sent (t − t') × X seconds after the previous timestamped turn (at t') was
    /// printed; the analysis time comes on top.
    #[arg(long, requires = "live", value_name = "X")]
    pub speed: Option<f64>,
    /// A knowledge base from `copiloot kb index`: each customer turn is searched in it and the Analysis
    /// lists the passages that answer it (`knowledge`), the live replay per turn.
    #[arg(long)]
    pub kb: Option<PathBuf>,
    #[command(flatten)]
    pub kb_search: SearchFlags,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub generator: GeneratorArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum Format {
    Json,
    Jsonl,
    Text,
}

/// A conversation, or the error that kept one input record from becoming a conversation.
type Record = Result<Conversation, Error>;

pub fn run(args: &AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let path = args.file.as_deref().or(args.input.as_deref());
    let (name, text) = read_input(path)?;
    let records = parse_records(&name, &text)?;
    if args.live {
        return live::run(args, &name, records);
    }
    let copilot = copilot(args)?;

    if records.len() == 1 && args.output.is_none() {
        let conversation = records.into_iter().next().context("no conversation")??;
        let analysis = copilot.analyze(&conversation)?;
        print!("{}", render(&analysis, args.format.unwrap_or(Format::Json))?);
        return Ok(ExitCode::SUCCESS);
    }
    let format = args.format.unwrap_or(Format::Jsonl);
    match &args.output {
        Some(out) => run_batch(&copilot, records, out, format, args.jobs),
        None => {
            let mut failed = false;
            for record in records {
                match record.and_then(|c| copilot.analyze(&c)) {
                    Ok(a) => print!("{}", render(&a, format)?),
                    Err(e) => {
                        eprintln!("error: {e}");
                        failed = true;
                    }
                }
            }
            Ok(if failed { ExitCode::from(2) } else { ExitCode::SUCCESS })
        }
    }
}

/// The models of the run: the encoder and tasks of `--encoder` …, the generator and the intent model.
fn copilot(args: &AnalyzeArgs) -> anyhow::Result<Copilot> {
    let mut copilot = args.generator.attach(args.model.copilot()?, args.model.models_dir.as_deref())?;
    if let Some(dir) = &args.intent_model {
        let model = copiloot::tasks::intent::IntentModel::from_dir(dir, copilot.encoder().model_id())?;
        copilot = copilot.with_intent_model(model);
    }
    if let Some(path) = &args.kb {
        let kb = std::sync::Arc::new(copiloot::KnowledgeBase::load(path)?);
        copilot = copilot.with_knowledge(kb, args.kb_search.options())?;
    }
    Ok(copilot)
}

/// JSONL is split per line so one bad record is reported with its line number and the rest still run.
fn parse_records(name: &str, text: &str) -> anyhow::Result<Vec<Record>> {
    let opts = ParseOptions::default();
    let is_jsonl = name.ends_with(".jsonl") || looks_like_jsonl(text);
    if !is_jsonl {
        let stem = Path::new(name).file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        return Ok(vec![Ok(parse_str(&stem, text, &opts)?)]);
    }
    let records: Vec<Record> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| parse_json(line, &opts).map_err(|e| at_line(e, name, i + 1)))
        .collect();
    if records.is_empty() {
        return Err(Error::invalid(
            copiloot::Location::default().with_source(name),
            "no conversations in the input",
        )
        .into());
    }
    Ok(records)
}

fn looks_like_jsonl(text: &str) -> bool {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("");
    first.trim_start().starts_with('{') && first.trim_end().ends_with('}') && lines.next().is_some()
}

fn at_line(err: Error, source: &str, line: usize) -> Error {
    match err {
        Error::InvalidInput { location, message } => {
            Error::InvalidInput { location: location.with_source(source).with_line(line), message }
        }
        other => other,
    }
}

fn render(analysis: &Analysis, format: Format) -> anyhow::Result<String> {
    Ok(match format {
        Format::Json => serde_json::to_string_pretty(analysis)? + "\n",
        Format::Jsonl => serde_json::to_string(analysis)? + "\n",
        Format::Text => crate::text::render(analysis),
    })
}

fn run_batch(
    copilot: &Copilot,
    records: Vec<Record>,
    out_path: &Path,
    format: Format,
    jobs: Option<usize>,
) -> anyhow::Result<ExitCode> {
    if format != Format::Jsonl {
        anyhow::bail!("--output writes JSONL; drop --format or use --format jsonl");
    }
    let done = existing_ids(out_path)?;
    let mut failures = 0usize;
    let mut pending = Vec::new();
    for record in records {
        match record {
            Ok(c) if done.contains(&c.id) => {}
            Ok(c) => pending.push(c),
            Err(e) => {
                eprintln!("error: {e}");
                failures += 1;
            }
        }
    }
    if !done.is_empty() {
        eprintln!("resuming: {} conversations already in {}", done.len(), out_path.display());
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out_path)
        .with_context(|| format!("cannot open {}", out_path.display()))?;
    let writer = Mutex::new(file);
    let bar = ProgressBar::new(pending.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} conversations {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs.unwrap_or(0)).build()?;
    let errors: Vec<String> = pool.install(|| {
        pending
            .par_iter()
            .filter_map(|conversation| {
                let line = copilot
                    .analyze(conversation)
                    .map_err(anyhow::Error::from)
                    .and_then(|a| Ok(serde_json::to_string(&a)? + "\n"));
                bar.inc(1);
                let line = match line {
                    Ok(line) => line,
                    Err(e) => return Some(format!("conversation `{}`: {e:#}", conversation.id)),
                };
                // One write call per whole line, under the lock: lines never interleave.
                let mut file = match writer.lock() {
                    Ok(f) => f,
                    Err(poisoned) => poisoned.into_inner(),
                };
                file.write_all(line.as_bytes())
                    .err()
                    .map(|e| format!("cannot write {}: {e}", out_path.display()))
            })
            .collect()
    });
    bar.finish_and_clear();
    for e in &errors {
        eprintln!("error: {e}");
    }
    failures += errors.len();
    eprintln!(
        "analysed {} conversations, {failures} failed, output in {}",
        pending.len() - errors.len(),
        out_path.display()
    );
    Ok(if failures > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

/// Ids already in the output. A torn last line (a crash mid-write) is cut off so the file holds whole lines.
fn existing_ids(path: &Path) -> anyhow::Result<HashSet<String>> {
    let mut ids = HashSet::new();
    let Ok(file) = std::fs::OpenOptions::new().read(true).write(true).open(path) else {
        return Ok(ids);
    };
    let mut reader = std::io::BufReader::new(&file);
    let mut good_len = 0u64;
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line)?;
        if n == 0 {
            break;
        }
        let complete = line.ends_with('\n');
        let parsed = serde_json::from_str::<serde_json::Value>(line.trim_end()).ok();
        match parsed.as_ref().and_then(|v| v.get("conversation_id")).and_then(|v| v.as_str()) {
            Some(id) if complete => {
                ids.insert(id.to_string());
                good_len += n as u64;
            }
            _ => break,
        }
    }
    let total = file.metadata()?.len();
    if good_len < total {
        eprintln!("warning: dropping an incomplete last line from {}", path.display());
        file.set_len(good_len)?;
        (&file).seek(std::io::SeekFrom::End(0))?;
    }
    Ok(ids)
}
