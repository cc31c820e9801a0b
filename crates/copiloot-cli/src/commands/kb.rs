//! `copiloot kb index|search`: build a knowledge base from a company's articles, and ask it a question.

use crate::common::{ModelArgs, SearchFlags};
use copiloot::knowledge::{KnowledgeQuery, Suggestion};
use copiloot::tasks::knowledge::search_with_intents;
use copiloot::KnowledgeBase;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum KbCommand {
    /// Index a folder of .md/.html/.txt articles or a JSONL file of {id, title, text, url?} records.
    /// Re-running on the same --out embeds only new and changed articles.
    Index(IndexArgs),
    /// Search a knowledge base: the best passage of the best articles, with the matching sentence.
    Search(SearchArgs),
}

#[derive(clap::Args, Debug)]
pub struct IndexArgs {
    /// A folder of articles (searched recursively) or a JSONL file.
    pub source: PathBuf,
    /// The index file to write (replaced atomically; an existing one is updated incrementally).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    /// An index from `copiloot kb index`.
    pub kb: PathBuf,
    /// The customer's question.
    pub question: String,
    #[command(flatten)]
    pub search: SearchFlags,
    /// Print the suggestions as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub model: ModelArgs,
}

impl KbCommand {
    pub fn run(&self) -> anyhow::Result<ExitCode> {
        match self {
            KbCommand::Index(args) => index(args),
            KbCommand::Search(args) => search(args),
        }
    }
}

fn index(args: &IndexArgs) -> anyhow::Result<ExitCode> {
    let encoder = args.model.encoder()?;
    let started = std::time::Instant::now();
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "embedding {bar:30} {pos}/{len} passages  {per_sec}  eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (_, report) = KnowledgeBase::index(&args.source, &args.out, &encoder, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!(
        "indexed {} articles, {} passages ({} embedded, {} reused, {} articles removed) into {} in {:.1} s",
        report.articles,
        report.passages,
        report.embedded,
        report.reused,
        report.removed,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn search(args: &SearchArgs) -> anyhow::Result<ExitCode> {
    let kb = KnowledgeBase::load(&args.kb)?;
    let encoder = args.model.encoder()?;
    let options = args.search.options();
    let intents = match kb.has_intents() && options.intent_weight != 0.0 {
        true => Some(args.model.intent_model(&encoder)?),
        false => None,
    };
    let query = KnowledgeQuery::text(args.question.clone());
    let found = search_with_intents(&kb, &encoder, &query, intents.as_ref(), &options)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&found)?)?;
    } else if found.is_empty() {
        writeln!(out, "no article scores above {} for this question", args.search.min_score)?;
    } else {
        for (i, s) in found.iter().enumerate() {
            write_suggestion(&mut out, i + 1, s)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A suggestion as text: rank, score, title › headings, link, the highlighted sentence.
pub fn write_suggestion(out: &mut impl Write, rank: usize, s: &Suggestion) -> std::io::Result<()> {
    let mut place = vec![s.title.as_str()];
    place.extend(s.heading.iter().map(String::as_str));
    place.retain(|p| !p.is_empty());
    writeln!(out, "{rank}. [{:.3}] {}  ({})", s.score, place.join(" › "), s.article_id)?;
    if let Some(url) = &s.url {
        writeln!(out, "   {url}")?;
    }
    writeln!(out, "   » {}", s.highlight.sentence)
}
