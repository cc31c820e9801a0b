//! `copiloot summarize`: the grounded summary of a conversation — reason, actions, resolution, next steps,
//! entities (each citing turns and quoting them) and a short CRM note — as JSON or readable text.

use crate::common::{parse_max_chars, read_input, GeneratorArgs, ModelArgs};
use copiloot::conversation::{parse_json, parse_str, ParseOptions};
use copiloot::tasks::summary::{Summary, SummaryOptions};
use copiloot::Conversation;
use std::fmt::Write;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct SummarizeArgs {
    /// A conversation: JSON, JSONL (one per line) or a plain `Speaker: text` transcript; `-` for stdin.
    pub file: Option<PathBuf>,
    /// `json`: the summary fields (one JSON line per conversation for JSONL input); `text`: readable.
    #[arg(long, value_enum, default_value = "json")]
    pub format: SummaryFormat,
    /// Longest CRM note in characters; items that do not fit are dropped whole (they stay in the fields).
    #[arg(long, default_value_t = SummaryOptions::default().max_chars, value_parser = parse_max_chars)]
    pub max_chars: usize,
    /// With --generator: print the rewrite to stderr token by token while it is generated.
    #[arg(long)]
    pub stream: bool,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub generator: GeneratorArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SummaryFormat {
    Json,
    Text,
}

pub fn run(args: &SummarizeArgs) -> anyhow::Result<ExitCode> {
    let (name, text) = read_input(args.file.as_deref())?;
    let conversations = parse(&name, &text)?;
    let options = SummaryOptions { max_chars: args.max_chars, ..SummaryOptions::default() };
    let copilot = args.model.copilot()?.with_summary_options(options);
    let copilot = args.generator.attach(copilot, args.model.models_dir.as_deref())?;
    let stream = args.stream && copilot.generator().is_some();
    // A closed stderr stops only the printing, never the summary.
    let mut on_token = |piece: &str| {
        if stream {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(piece.as_bytes()).and_then(|_| err.flush());
        }
        true
    };
    let single = conversations.len() == 1;
    let mut failed = false;
    for c in &conversations {
        let summary = copilot.summarize_streaming(c, &mut on_token);
        if stream {
            eprintln!();
        }
        match summary {
            Ok(s) => print!("{}", render(c, &s, args.format, single)?),
            Err(e) if !single => {
                eprintln!("error: conversation `{}`: {e}", c.id);
                failed = true;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(if failed { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

fn parse(name: &str, text: &str) -> anyhow::Result<Vec<Conversation>> {
    let opts = ParseOptions { source: Some(name.to_string()), ..ParseOptions::default() };
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let jsonl = name.ends_with(".jsonl")
        || (lines.len() > 1
            && lines.iter().all(|l| l.trim_start().starts_with('{') && l.trim_end().ends_with('}')));
    if jsonl {
        return Ok(lines.iter().map(|l| parse_json(l, &opts)).collect::<Result<_, _>>()?);
    }
    let stem = Path::new(name).file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    Ok(vec![parse_str(&stem, text, &opts)?])
}

fn render(c: &Conversation, s: &Summary, format: SummaryFormat, single: bool) -> anyhow::Result<String> {
    Ok(match format {
        SummaryFormat::Json if single => serde_json::to_string_pretty(s)? + "\n",
        SummaryFormat::Json => {
            serde_json::to_string(&serde_json::json!({"conversation_id": c.id, "summary": s}))? + "\n"
        }
        SummaryFormat::Text => text(c, s),
    })
}

/// The note first (what an agent pastes), then every field with its turns.
pub fn text(c: &Conversation, s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "conversation {}  (language: {}, {} turns read)", c.id, s.language, s.turns_read);
    let _ = writeln!(out, "note: {}", s.text);
    if let Some(r) = &s.rewrite {
        match &r.withheld {
            // Shown for inspection, never as a note: the grounded note above stands.
            Some(why) => {
                let _ = writeln!(out, "rewrite withheld ({}): {why}", r.generator);
                let _ = writeln!(out, "withheld text: {:?}", r.text);
            }
            None => {
                let _ =
                    writeln!(out, "rewrite ({}): {}  [turns {:?}]", r.generator, r.text, r.evidence_turns);
            }
        }
        for claim in &r.unsupported_claims {
            let _ = writeln!(out, "unsupported claim: {:?} (not in the conversation)", claim.text);
        }
    }
    if let Some(r) = &s.reason {
        let _ = writeln!(out, "reason: {:?}  [turns {:?}]", r.quote, r.turns);
    }
    for a in &s.actions {
        let _ = writeln!(out, "action: {:?}  [turns {:?}]", a.quote, a.turns);
    }
    let status = serde_json::to_value(s.resolution.status).unwrap_or_default();
    let _ = writeln!(
        out,
        "resolution: {}  [turns {:?}] {:?}",
        status.as_str().unwrap_or("unknown"),
        s.resolution.turns,
        s.resolution.quote
    );
    for n in &s.next_steps {
        let due = n.due.as_deref().map(|d| format!(" (due: {d})")).unwrap_or_default();
        let _ = writeln!(out, "next step ({:?}): {}{due}  [turns {:?}]", n.who, n.what, n.turns);
    }
    for e in &s.entities {
        let kind = serde_json::to_value(e.kind).unwrap_or_default();
        let _ = writeln!(out, "entity {}: {}  [turns {:?}]", kind.as_str().unwrap_or("?"), e.value, e.turns);
    }
    for w in &s.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}
