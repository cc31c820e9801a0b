//! `copiloot eval summary`: ROUGE-1/2/L (F1) of the grounded summary's note, or of a Lead-N baseline,
//! against reference summaries in JSONL (DialogSum, TweetSumm and the like).
//!
//! Input lines hold a `dialogue` (transcript lines `Speaker: text`) and references in `summary`,
//! `summary1`…`summaryN` / `summary_1`…, or a list `abstractive_summaries`. Several references are
//! combined as the mean of the per-reference F1 scores. The dialogue becomes a conversation with
//! [`copiloot::conversation::dialogue_to_conversation`] (speakers such as DialogSum's `#Person1#` are mapped
//! by order of appearance: the first is the customer, the others agents).
//! For the grounded note it also reports the note-style checks ([`copiloot::eval::note_style`]).
//! `--cache DIR` keeps the turn embeddings on disk, so reruns (e.g. after changing the note length) skip
//! the encoder. ROUGE matches the `rouge-score` package (stemming on); `benches/rouge_check.sh` shows it on a sample.

use crate::common::{parse_max_chars, GeneratorArgs, ModelArgs};
use anyhow::Context;
use copiloot::conversation::dialogue_to_conversation;
use copiloot::eval::note_style::{self, NoteStyleCheck};
use copiloot::eval::rouge::{self, Rouge};
use copiloot::tasks::summary::{Summary, SummaryOptions};
use copiloot::tasks::TextEmbedder;
use copiloot::training::cache::CachedEmbedder;
use copiloot::{Conversation, Copilot, Error, Location, TurnEmbeddings};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// `copiloot eval summary`.
#[derive(clap::Args, Debug)]
pub struct EvalSummaryArgs {
    /// Labelled .csv/.tsv/.jsonl file; repeat to combine several (e.g. English and Dutch).
    #[arg(long, required = true)]
    pub data: Vec<PathBuf>,
    /// Keep embeddings of seen texts in this folder, so repeated runs skip the encoder.
    #[arg(long, env = "COPILOOT_EMBED_CACHE")]
    pub cache: Option<PathBuf>,
    /// Summary: what to score — the grounded note, or the first N turns (Lead-N baseline).
    #[arg(long, value_enum, default_value = "grounded")]
    pub system: SummarySystem,
    /// Summary: N of the Lead-N baseline.
    #[arg(long, default_value_t = 3)]
    pub lead_n: usize,
    /// Summary: only the first N dialogues.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Summary: longest note in characters.
    #[arg(long, default_value_t = SummaryOptions::default().max_chars, value_parser = parse_max_chars)]
    pub max_chars: usize,
    /// Write every prediction as JSON lines (`text`, `gold`, `predicted`, `score`) here, for error analysis.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    /// Write the full report as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Summary `--system rewrite`: the LLM that rewrites the grounded note (`default` = the catalog's).
    #[command(flatten)]
    pub generator: GeneratorArgs,
    #[command(flatten)]
    pub model_args: ModelArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SummarySystem {
    Grounded,
    /// The grounded note rewritten by `--generator` (scores `rewrite.text`).
    Rewrite,
    Lead,
}

/// One dialogue with its references.
#[derive(Debug)]
pub struct Example {
    pub id: String,
    pub conversation: Conversation,
    pub references: Vec<String>,
}

#[derive(Serialize)]
struct Report {
    task: &'static str,
    system: String,
    data: Vec<String>,
    dialogues: usize,
    /// Dialogues the system gave no summary for (scored 0).
    failed: usize,
    /// Mean F1 × 100 over dialogues (each the mean over its references).
    rouge1: f64,
    rouge2: f64,
    #[serde(rename = "rougeL")]
    rouge_l: f64,
    /// Mean words per prediction.
    words: f64,
    /// `rewrite` only: % of the grounded summaries' facts (dates, amounts, numbers) the rewrites mention
    /// (the model's text plus the closing "Details" sentence that re-adds what it dropped).
    #[serde(skip_serializing_if = "Option::is_none")]
    facts_kept: Option<f64>,
    /// `rewrite` only: % of those facts the model's own text mentions (before the "Details" sentence).
    #[serde(skip_serializing_if = "Option::is_none")]
    facts_kept_by_model: Option<f64>,
    /// `rewrite` only: rewrites the quality gate withheld, by reason (their grounded note was scored).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    withheld: std::collections::BTreeMap<String, usize>,
    /// `grounded` only: the note-style checks (`copiloot::eval::note_style`).
    #[serde(skip_serializing_if = "Option::is_none")]
    style: Option<StyleReport>,
    seconds: f64,
}

/// The note-style checks over all notes, in %.
#[derive(Serialize, Default)]
struct StyleReport {
    /// Notes with a first- or second-person word from the turns.
    notes_with_person_words: f64,
    /// Note sentences (four words or more) that are a turn's text verbatim.
    verbatim_sentences: f64,
    /// The fields' facts (dates, amounts, numbers, competitors, offers) the notes mention.
    facts_kept: f64,
    facts: usize,
    /// The most frequent person words left, with counts.
    person_words: Vec<(String, usize)>,
}

pub fn run(args: &EvalSummaryArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let mut examples = Vec::new();
    for path in &args.data {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        examples.extend(read_examples(&text, &path.display().to_string())?);
    }
    if let Some(limit) = args.limit {
        examples.truncate(limit);
    }
    let copilot = match args.system {
        SummarySystem::Grounded | SummarySystem::Rewrite => {
            let copilot = args
                .model_args
                .copilot()?
                .with_summary_options(SummaryOptions { max_chars: args.max_chars, ..Default::default() });
            Some(copilot)
        }
        SummarySystem::Lead => None,
    };
    let copilot = match (copilot, args.system) {
        (Some(c), SummarySystem::Rewrite) => {
            if args.generator.generator.is_none() {
                anyhow::bail!("--system rewrite needs a --generator (a .gguf file, or `default`)");
            }
            Some(args.generator.attach(c, args.model_args.models_dir.as_deref())?)
        }
        (c, _) => c,
    };
    let generation = args.generator.options();
    // With `--cache`, turn embeddings are kept on disk so reruns skip the encoder; the summary is then made
    // from them exactly as `Copilot::analyze` does (intents, sentiment, redacted quotes).
    let cached = match (&copilot, &args.cache) {
        (Some(c), Some(dir)) => Some(CachedEmbedder::open(c.encoder(), dir)?),
        _ => None,
    };
    let bar = ProgressBar::new(examples.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed}")
            .unwrap_or(ProgressStyle::default_bar()),
    );
    let mut scores: Vec<Rouge> = Vec::new();
    let mut predictions = String::new();
    let (mut failed, mut words) = (0, 0usize);
    let (mut facts, mut facts_missing, mut facts_restored) = (0usize, 0usize, 0usize);
    let mut withheld: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    let mut checks: Vec<NoteStyleCheck> = Vec::new();
    for e in &examples {
        let checked = checks.len();
        let prediction = match &copilot {
            Some(c) => match summarize(c, cached.as_ref(), &e.conversation) {
                Ok(summary) if args.system == SummarySystem::Rewrite => match summary.rewrite {
                    // What the agent reads then is the grounded note: score that, and count why.
                    Some(r) if r.withheld.is_some() => {
                        *withheld.entry(r.withheld.unwrap_or_default()).or_default() += 1;
                        summary.text
                    }
                    Some(r) => {
                        facts += summary.entities.len();
                        facts_missing += r.missing_facts.len();
                        facts_restored += r.restored_facts.len();
                        r.text
                    }
                    None => {
                        bar.suspend(|| eprintln!("warning: {}: no rewrite", e.id));
                        failed += 1;
                        String::new()
                    }
                },
                Ok(summary) => {
                    let turns: Vec<&str> = e.conversation.turns.iter().map(|t| t.text.as_str()).collect();
                    // The styles the notes were composed in (the models folder may add languages).
                    if let Some(model) = c.summary_model() {
                        checks.push(note_style::check(
                            &summary,
                            &turns,
                            model.styles().get(&summary.language),
                        ));
                    }
                    summary.text
                }
                Err(err) => {
                    bar.suspend(|| eprintln!("warning: {}: {err}", e.id));
                    failed += 1;
                    String::new()
                }
            },
            None => lead(&e.conversation, args.lead_n),
        };
        let r = rouge::rouge_multi(&e.references, &prediction);
        words += prediction.split_whitespace().count();
        if args.predictions.is_some() {
            let mut row = serde_json::json!({"id": e.id, "prediction": prediction, "references": e.references, "rouge": r});
            // The note-style check of this note (grounded notes), so a low figure can be traced.
            if let Some(check) = checks.get(checked) {
                row["style"] = serde_json::to_value(check).unwrap_or_default();
            }
            predictions.push_str(&(row.to_string() + "\n"));
        }
        scores.push(r);
        bar.inc(1);
        if scores.len().is_multiple_of(50) {
            if let Some(cache) = &cached {
                cache.save()?;
            }
        }
    }
    bar.finish_and_clear();
    if let Some(cache) = &cached {
        cache.save()?;
    }
    if let Some(path) = &args.predictions {
        std::fs::File::create(path)
            .and_then(|mut f| f.write_all(predictions.as_bytes()))
            .map_err(|e| Error::io(path, e))?;
    }
    let mean = rouge::mean(&scores);
    let system = match args.system {
        SummarySystem::Grounded => format!("grounded (max {} chars)", args.max_chars),
        SummarySystem::Rewrite => format!(
            "rewrite by {} (max {} tokens, of the grounded note)",
            copilot.as_ref().and_then(|c| c.generator()).map(|g| g.info().id.clone()).unwrap_or_default(),
            generation.max_tokens
        ),
        SummarySystem::Lead => format!("lead-{}", args.lead_n),
    };
    let report = Report {
        task: "summary",
        system,
        data: args.data.iter().map(|p| p.display().to_string()).collect(),
        dialogues: examples.len(),
        failed,
        rouge1: 100.0 * mean.rouge1.f1,
        rouge2: 100.0 * mean.rouge2.f1,
        rouge_l: 100.0 * mean.rouge_l.f1,
        words: words as f64 / examples.len().max(1) as f64,
        facts_kept: (args.system == SummarySystem::Rewrite)
            .then(|| 100.0 * (facts + facts_restored - facts_missing) as f64 / facts.max(1) as f64),
        facts_kept_by_model: (args.system == SummarySystem::Rewrite)
            .then(|| 100.0 * (facts - facts_missing) as f64 / facts.max(1) as f64),
        withheld,
        style: (!checks.is_empty()).then(|| style_report(&checks)),
        seconds: started.elapsed().as_secs_f64(),
    };
    println!("system     {}", report.system);
    println!("dialogues  {} ({} without a summary)", report.dialogues, report.failed);
    println!("ROUGE-1    {:.1}", report.rouge1);
    println!("ROUGE-2    {:.1}", report.rouge2);
    println!("ROUGE-L    {:.1}", report.rouge_l);
    println!("words      {:.1} per summary", report.words);
    if let (Some(kept), Some(by_model)) = (report.facts_kept, report.facts_kept_by_model) {
        println!("facts kept {kept:.1} % of the grounded facts are in the rewrite ({facts} facts)");
        println!("           {by_model:.1} % in the model's own text (the rest re-added as \"Details: …\")");
    }
    if !report.withheld.is_empty() {
        let total: usize = report.withheld.values().sum();
        println!("withheld   {total} rewrites by the quality gate (their grounded note was scored):");
        for (why, n) in &report.withheld {
            println!("           {n:4} × {why}");
        }
    }
    if let Some(st) = &report.style {
        println!("style      {:.1} % of notes have a first/second-person word", st.notes_with_person_words);
        println!(
            "           {:.1} % of note sentences are copied verbatim from a turn",
            st.verbatim_sentences
        );
        println!("           {:.1} % of the fields' {} facts are in the note", st.facts_kept, st.facts);
        if !st.person_words.is_empty() {
            let top: Vec<String> = st.person_words.iter().map(|(w, n)| format!("{w} {n}")).collect();
            println!("           person words left: {}", top.join(", "));
        }
    }
    println!("seconds    {:.1}", report.seconds);
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .map_err(|e| Error::io(path, e))?;
        eprintln!("report written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn summarize(
    copilot: &Copilot,
    cache: Option<&CachedEmbedder<'_>>,
    conversation: &Conversation,
) -> copiloot::Result<Summary> {
    let Some(cache) = cache else { return copilot.summarize(conversation) };
    let mut c = conversation.clone();
    if c.language.is_none() {
        c.language = c.detect_language();
    }
    let texts: Vec<&str> = c.turns.iter().map(|t| t.text.as_str()).collect();
    let vectors = cache.embed_for_classification(&texts)?;
    let display: Vec<String> = c.turns.iter().map(|t| copiloot::redact::redact(&t.text).text).collect();
    // The sentiment head's layer features, when it reads layers, are computed by `analyze_embedded`.
    let embeddings = TurnEmbeddings { vectors, layer_features: Vec::new(), truncated: Vec::new() };
    copilot.analyze_embedded(&c, &display, None, embeddings, &mut |_| true)?.into_summary()
}

fn style_report(checks: &[NoteStyleCheck]) -> StyleReport {
    let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    let with_person = checks.iter().filter(|c| !c.person_words.is_empty()).count();
    let sentences: usize = checks.iter().map(|c| c.sentences).sum();
    let verbatim: usize = checks.iter().map(|c| c.verbatim).sum();
    let facts: usize = checks.iter().map(|c| c.facts).sum();
    let kept: usize = checks.iter().map(|c| c.facts_kept).sum();
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for w in checks.iter().flat_map(|c| &c.person_words) {
        *counts.entry(w).or_default() += 1;
    }
    let mut person_words: Vec<(String, usize)> =
        counts.into_iter().map(|(w, n)| (w.to_string(), n)).collect();
    person_words.sort_by_key(|w| std::cmp::Reverse(w.1));
    person_words.truncate(8);
    StyleReport {
        notes_with_person_words: pct(with_person, checks.len()),
        verbatim_sentences: pct(verbatim, sentences),
        facts_kept: pct(kept, facts),
        facts,
        person_words,
    }
}

/// The first `n` turns' texts (no speaker names), the usual Lead-N baseline.
fn lead(c: &Conversation, n: usize) -> String {
    c.turns.iter().take(n).map(|t| t.text.as_str()).collect::<Vec<_>>().join(" ")
}

/// Parses the JSONL examples; every error names the file and line.
pub fn read_examples(text: &str, source: &str) -> anyhow::Result<Vec<Example>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let at = |field: &str| Location::line(i + 1).with_source(source).with_field(field);
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            Error::invalid(Location::line(i + 1).with_source(source), format!("not JSON: {e}"))
        })?;
        let dialogue = v.get("dialogue").and_then(|d| d.as_str()).ok_or_else(|| {
            Error::invalid(at("dialogue"), "missing `dialogue` (the transcript as `Speaker: text` lines)")
        })?;
        let references = references(&v);
        if references.is_empty() {
            return Err(Error::invalid(
                at("summary"),
                "no reference summary: give `summary`, `summary1`…, `summary_1`… or a list `abstractive_summaries`",
            )
            .into());
        }
        let id = ["fname", "conversation_id", "id"]
            .iter()
            .find_map(|k| v.get(*k).and_then(|x| x.as_str()).map(str::to_string))
            .unwrap_or_else(|| format!("line-{}", i + 1));
        let conversation = dialogue_to_conversation(&id, dialogue).map_err(|e| match e {
            Error::InvalidInput { message, .. } => Error::invalid(at("dialogue"), message),
            other => other,
        })?;
        out.push(Example { id, conversation, references });
    }
    Ok(out)
}

fn references(v: &serde_json::Value) -> Vec<String> {
    let text =
        |x: &serde_json::Value| x.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    if let Some(list) = v.get("abstractive_summaries").and_then(|x| x.as_array()) {
        return list.iter().filter_map(text).collect();
    }
    let mut keys: Vec<&String> = v
        .as_object()
        .map(|o| {
            o.keys()
                .filter(|k| {
                    k.strip_prefix("summary")
                        .map(|rest| rest.trim_start_matches('_'))
                        .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
                })
                .collect()
        })
        .unwrap_or_default();
    keys.sort();
    keys.into_iter().filter_map(|k| v.get(k).and_then(text)).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use copiloot::Speaker;

    #[test]
    fn dialogsum_and_tweetsumm_lines_become_examples() {
        let data = r##"{"fname":"t0","dialogue":"#Person1#: Hi, my order is late.\n#Person2#: Let me check.\nIt left today.","summary1":"A","summary2":"B","summary3":"C"}
{"conversation_id":"x","dialogue":"Customer: Help!\nAgent: @12 DM us.","abstractive_summaries":["one","two"]}"##;
        let ex = read_examples(data, "d.jsonl").unwrap();
        assert_eq!(ex[0].references, ["A", "B", "C"]);
        let speakers: Vec<Speaker> = ex[0].conversation.turns.iter().map(|t| t.speaker).collect();
        assert_eq!(speakers, [Speaker::Customer, Speaker::Agent]);
        assert_eq!(ex[0].conversation.turns[1].text, "Let me check. It left today.");
        assert_eq!(ex[1].references, ["one", "two"]);
        assert_eq!(ex[1].conversation.turns[1].speaker, Speaker::Agent);
        let err = read_examples(r#"{"dialogue":"A: b"}"#, "d.jsonl").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
