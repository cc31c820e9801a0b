//! Parsers: one JSON conversation, JSONL, and plain `Speaker: text` transcripts — lenient about names
//! (English and Dutch aliases), strict about content, with every error naming its line or field.

use super::json::RawConversation;
use super::rules::{parse_clock, speaker_from_name, unknown_speaker, validate, ParseOptions};
use super::types::{Conversation, Turn};
use crate::error::{Error, Result};
use std::path::Path;

/// Parse one JSON conversation.
pub fn parse_json(text: &str, opts: &ParseOptions) -> Result<Conversation> {
    check_size(text, opts)?;
    let raw: RawConversation = serde_json::from_str(text)
        .map_err(|e| Error::invalid(opts.location().with_line(e.line()), format!("malformed JSON: {e}")))?;
    raw.into_conversation(opts)
}

/// Parse JSONL: one conversation per non-blank line; errors carry the line number.
pub fn parse_jsonl(text: &str, opts: &ParseOptions) -> Result<Vec<Conversation>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push(parse_json(line, opts).map_err(|e| with_line(e, i + 1))?);
    }
    if out.is_empty() {
        return Err(Error::invalid(opts.location(), "no conversations in the input"));
    }
    Ok(out)
}

/// Set the line of an input error (used where the caller knows the line, e.g. JSONL).
pub fn with_line(err: Error, line: usize) -> Error {
    match err {
        Error::InvalidInput { location, message } => {
            Error::InvalidInput { location: location.with_line(line), message }
        }
        Error::InputTooLarge { location, what, actual, limit } => {
            Error::InputTooLarge { location: location.with_line(line), what, actual, limit }
        }
        other => other,
    }
}

/// Parse a plain transcript: one turn per line, `Speaker: text`, optional `[hh:mm:ss]` / `[mm:ss]` first.
/// Lines without a speaker prefix continue the previous turn; blank lines are skipped.
pub fn parse_transcript(id: &str, text: &str, opts: &ParseOptions) -> Result<Conversation> {
    check_size(text, opts)?;
    let mut turns: Vec<Turn> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (timestamp, rest) = split_timestamp(line);
        match split_speaker(rest) {
            Some((name, said)) => {
                let loc = opts.location().with_line(line_no);
                let speaker =
                    speaker_from_name(name, opts).ok_or_else(|| unknown_speaker(name, loc.clone()))?;
                turns.push(Turn { index: turns.len(), speaker, text: said.trim().to_string(), timestamp });
            }
            None => {
                match turns.last_mut() {
                    // A line without a prefix belongs to the turn before it (wrapped or multi-line messages).
                    Some(last) => {
                        if !last.text.is_empty() {
                            last.text.push('\n');
                        }
                        last.text.push_str(rest);
                    }
                    None => return Err(Error::invalid(
                        opts.location().with_line(line_no),
                        "a transcript line must start with `Speaker: text` (e.g. `Klant: …` or `Agent: …`)",
                    )),
                }
            }
        }
    }
    let conversation = Conversation {
        id: id.to_string(),
        channel: Default::default(),
        language: None,
        turns,
        customer: Default::default(),
        parties: Default::default(),
    };
    validate(conversation, opts)
}

/// Parse any supported format from its text: a JSON object, JSONL with exactly one record, or a transcript.
pub fn parse_str(id: &str, text: &str, opts: &ParseOptions) -> Result<Conversation> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') {
        return parse_json(trimmed, opts);
    }
    parse_transcript(id, trimmed, opts)
}

/// Read a file of conversations: `.json` (one object or an array), `.jsonl`, or a transcript (`.txt`
/// and anything else; its id is the file name without extension). Invalid UTF-8 is an input error.
pub fn read_conversations(path: &Path, opts: &ParseOptions) -> Result<Vec<Conversation>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut opts = opts.clone();
    opts.source.get_or_insert_with(|| path.display().to_string());
    let text = decode_utf8(&bytes, &opts)?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let text = text.trim_start_matches('\u{feff}');
    match ext.as_str() {
        "jsonl" | "ndjson" => parse_jsonl(text, &opts),
        _ if looks_like_json_array(text) => parse_json_array(text, &opts),
        "json" => parse_json(text, &opts).map(|c| vec![c]),
        _ => {
            let id = path
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_else(|| "conversation".into());
            parse_str(&id, text, &opts).map(|c| vec![c])
        }
    }
}

/// `[{…` is JSON; `[00:01] Klant: …` is a transcript with timestamps.
fn looks_like_json_array(text: &str) -> bool {
    text.trim_start().strip_prefix('[').is_some_and(|rest| {
        let rest = rest.trim_start();
        rest.starts_with('{') || rest.starts_with(']')
    })
}

fn parse_json_array(text: &str, opts: &ParseOptions) -> Result<Vec<Conversation>> {
    check_size(text, opts)?;
    let raws: Vec<RawConversation> = serde_json::from_str(text)
        .map_err(|e| Error::invalid(opts.location().with_line(e.line()), format!("malformed JSON: {e}")))?;
    raws.into_iter()
        .enumerate()
        .map(|(i, raw)| raw.into_conversation(opts).map_err(|e| with_field_prefix(e, &format!("[{i}]"))))
        .collect()
}

fn with_field_prefix(err: Error, prefix: &str) -> Error {
    match err {
        Error::InvalidInput { mut location, message } => {
            location.field = Some(match location.field {
                Some(f) => format!("{prefix}.{f}"),
                None => prefix.to_string(),
            });
            Error::InvalidInput { location, message }
        }
        other => other,
    }
}

/// UTF-8 check that names the line of the first bad byte.
pub fn decode_utf8<'a>(bytes: &'a [u8], opts: &ParseOptions) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| {
        let good = bytes.get(..e.valid_up_to()).unwrap_or_default();
        let line = 1 + good.iter().filter(|&&b| b == b'\n').count();
        Error::invalid(
            opts.location().with_line(line),
            "the input is not valid UTF-8; convert it to UTF-8 first",
        )
    })
}

fn check_size(text: &str, opts: &ParseOptions) -> Result<()> {
    if text.len() > opts.limits.max_bytes {
        return Err(Error::InputTooLarge {
            location: opts.location(),
            what: "conversation size in bytes".into(),
            actual: text.len(),
            limit: opts.limits.max_bytes,
        });
    }
    Ok(())
}

/// `[hh:mm:ss] rest` or `[mm:ss] rest` → (seconds, rest); anything else → (None, line).
fn split_timestamp(line: &str) -> (Option<f64>, &str) {
    let Some(inner_end) = line.strip_prefix('[').and_then(|r| r.find(']')) else {
        return (None, line);
    };
    let inner = &line[1..=inner_end];
    match parse_clock(inner) {
        Some(seconds) => (Some(seconds), line[inner_end + 2..].trim_start()),
        None => (None, line),
    }
}

/// `Name: text` where Name is short and starts with a letter or `#` → (name, text).
fn split_speaker(line: &str) -> Option<(&str, &str)> {
    let colon = line.find(':')?;
    let name = line[..colon].trim();
    let first = name.chars().next()?;
    let plausible = (first.is_alphabetic() || first == '#')
        && name.chars().count() <= 32
        && name.split_whitespace().count() <= 3
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '#' | '.' | '\''));
    // "http://…" or "Let op: …" in a continuation line: only a known-looking prefix followed by text counts.
    let rest = &line[colon + 1..];
    if !plausible || rest.starts_with("//") {
        return None;
    }
    Some((name, rest))
}
