//! `copiloot eval knowledge`: recall@1/5/10 and MRR@10 of the knowledge assistant's retriever and of its
//! two halves alone (BM25, cosine on the last customer turn), on queries JSONL with gold article ids.

use crate::common::ModelArgs;
use copiloot::eval::knowledge::{evaluate, read_queries};
use copiloot::knowledge::{Retriever, SearchOptions};
use copiloot::tasks::knowledge::search_with_intents;
use copiloot::{Error, KnowledgeBase};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct EvalKnowledgeArgs {
    /// An index from `copiloot kb index`.
    #[arg(long)]
    pub kb: PathBuf,
    /// Queries JSONL: `{id, text | turns: [{speaker, text}], gold_ids}`.
    #[arg(long)]
    pub data: PathBuf,
    /// Retrievers to score, comma-separated: hybrid, lexical (bm25), dense.
    #[arg(long, value_delimiter = ',', value_parser = crate::common::parse_retriever,
          default_value = "hybrid,lexical,dense")]
    pub retriever: Vec<Retriever>,
    /// Write every query's ranking (ids, scores, rank of the first gold article) as JSON lines here.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    /// Bonus for articles tagged with an intent the customer turns show (the zero-shot intent model
    /// of the models folder labels the turns; 0 turns intents off).
    #[arg(long, default_value_t = copiloot::knowledge::DEFAULT_INTENT_WEIGHT)]
    pub intent_weight: f32,
    /// Also time each query alone, end to end (encoding its turns, their intents + hybrid search), and
    /// print p50/p95.
    #[arg(long)]
    pub latency: bool,
    /// Write the full report as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: &EvalKnowledgeArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let kb = KnowledgeBase::load(&args.kb)?;
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    let queries = read_queries(&args.data)?;
    let encoder = args.model.encoder()?;
    let intents = match kb.has_intents() && args.intent_weight != 0.0 {
        true => Some(args.model.intent_model(&encoder)?),
        false => None,
    };
    let options = SearchOptions { intent_weight: args.intent_weight, ..Default::default() };
    let report = evaluate(
        &kb,
        &encoder,
        &queries,
        &args.retriever,
        &options,
        intents.as_ref(),
        args.model.batch_size,
    )?;
    if !report.missing_gold.is_empty() {
        eprintln!(
            "warning: {} gold ids are not in the knowledge base (e.g. `{}`)",
            report.missing_gold.len(),
            report.missing_gold[0]
        );
    }
    println!(
        "{} queries, {} articles, {} passages (index loaded in {load_ms:.0} ms)",
        queries.len(),
        kb.article_count(),
        kb.passage_count()
    );
    println!("{:<10} {:>9} {:>9} {:>10} {:>8}", "retriever", "recall@1", "recall@5", "recall@10", "MRR@10");
    for s in &report.scores {
        let name = serde_json::to_value(s.retriever)?.as_str().unwrap_or_default().to_string();
        println!(
            "{:<10} {:>9.3} {:>9.3} {:>10.3} {:>8.3}",
            name, s.recall_at_1, s.recall_at_5, s.recall_at_10, s.mrr_at_10
        );
    }
    if args.latency {
        let options = SearchOptions { min_score: f32::NEG_INFINITY, ..options };
        let mut times = Vec::with_capacity(queries.len());
        for q in &queries {
            let t = std::time::Instant::now();
            search_with_intents(&kb, &encoder, &q.query, intents.as_ref(), &options)?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
        println!(
            "latency per query (encode + intents + hybrid search): p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
            at(0.5),
            at(0.95),
            at(1.0)
        );
    }
    if let Some(p) = &args.predictions {
        let mut out = String::new();
        for q in &report.per_query {
            out.push_str(&serde_json::to_string(q)?);
            out.push('\n');
        }
        std::fs::write(p, out).map_err(|e| Error::io(p, e))?;
    }
    if let Some(p) = &args.report {
        std::fs::write(p, serde_json::to_string_pretty(&report)? + "\n").map_err(|e| Error::io(p, e))?;
        eprintln!("report written to {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}
