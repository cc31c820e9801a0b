//! `copiloot redact`: text lines in, the same lines with PII masked out — line for line; or whole
//! conversations (JSON / JSONL) with every turn masked.

use crate::common::read_input;
use copiloot::conversation::{parse_json, with_line, ParseOptions};
use copiloot::redact::Redactor;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct RedactArgs {
    /// Input file (default: stdin).
    #[arg(long, short)]
    pub input: Option<PathBuf>,
    /// Treat the input as conversations (one JSON object, or JSONL) and mask every turn.
    #[arg(long)]
    pub conversations: bool,
    /// Print JSON lines `{"text": …, "spans": […]}` instead of plain text.
    #[arg(long)]
    pub spans: bool,
}

pub fn run(args: &RedactArgs) -> anyhow::Result<ExitCode> {
    let redactor = Redactor::default();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.conversations {
        let (name, text) = read_input(args.input.as_deref())?;
        let opts = ParseOptions { source: Some(name), ..ParseOptions::default() };
        let trimmed = text.trim();
        let records: Vec<(usize, &str)> = if looks_like_jsonl(trimmed) {
            text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i + 1, l)).collect()
        } else {
            vec![(1, trimmed)]
        };
        for (line, record) in records {
            let conversation = parse_json(record, &opts).map_err(|e| with_line(e, line))?;
            let (redacted, spans) = redactor.redact_conversation(&conversation);
            let json = if args.spans {
                serde_json::json!({"conversation": redacted, "spans": spans})
            } else {
                serde_json::to_value(&redacted)?
            };
            writeln!(out, "{json}")?;
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }

    // Streaming, line for line: each line is checked for UTF-8 and written whole before the next is read.
    let reader: Box<dyn BufRead> = match &args.input {
        Some(p) if p.as_os_str() != "-" => Box::new(std::io::BufReader::new(std::fs::File::open(p)?)),
        _ => Box::new(std::io::BufReader::new(std::io::stdin())),
    };
    for (i, raw) in reader.split(b'\n').enumerate() {
        let mut raw = raw?;
        let crlf = raw.last() == Some(&b'\r');
        if crlf {
            raw.pop();
        }
        let line = String::from_utf8(raw).map_err(|_| {
            copiloot::Error::invalid(
                copiloot::Location::line(i + 1),
                "line is not valid UTF-8; nothing after it was written",
            )
        })?;
        let r = redactor.redact(&line);
        if args.spans {
            writeln!(out, "{}", serde_json::json!({"text": r.text, "spans": r.spans}))?;
        } else {
            writeln!(out, "{}{}", r.text, if crlf { "\r" } else { "" })?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn looks_like_jsonl(text: &str) -> bool {
    text.lines().filter(|l| !l.trim().is_empty()).count() > 1
        && text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .all(|l| l.trim_start().starts_with('{') && l.trim_end().ends_with('}'))
}
