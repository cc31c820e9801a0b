//! Labelled-data readers for training and evaluation: CSV/TSV (header row) or JSONL (one object per line),
//! with a text column and a label column found by name or given explicitly — Banking77's `text,category`
//! works as it is, like a pandas `DataFrame[["text", "label"]]` exported with `to_csv`/`to_json(lines=True)`.

use crate::error::{Error, Location, Result};
use crate::tasks::check_text;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Column names tried, in order, when none is given.
pub const TEXT_COLUMNS: &[&str] = &["text", "sentence", "utterance", "instruction", "query"];
pub const LABEL_COLUMNS: &[&str] = &["label", "category", "intent", "sentiment"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelledExample {
    pub text: String,
    pub label: String,
}

/// Which columns to read; `None` = find by name.
#[derive(Debug, Clone, Default)]
pub struct Columns {
    pub text: Option<String>,
    pub label: Option<String>,
}

/// Reads a labelled file; the format follows the extension (`.csv`, `.tsv`, `.jsonl`/`.ndjson`).
/// Empty texts and labels are errors naming the line, so a broken export is noticed before training.
pub fn read_labelled(path: &Path, columns: &Columns) -> Result<Vec<LabelledExample>> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let source = path.display().to_string();
    let examples = match ext.as_str() {
        "csv" => read_delimited(path, b',', columns)?,
        "tsv" => read_delimited(path, b'\t', columns)?,
        "jsonl" | "ndjson" => read_jsonl(path, columns)?,
        _ => return Err(Error::invalid(
            Location::default().with_source(source),
            "unknown labelled-data format; use a .csv, .tsv or .jsonl file with a text and a label column",
        )),
    };
    if examples.is_empty() {
        return Err(Error::invalid(Location::default().with_source(source), "the file has no labelled rows"));
    }
    Ok(examples)
}

fn pick(
    available: &[String],
    given: Option<&str>,
    defaults: &[&str],
    what: &str,
    source: &str,
) -> Result<usize> {
    let found = match given {
        Some(name) => available.iter().position(|c| c == name),
        None => defaults.iter().find_map(|d| available.iter().position(|c| c.trim().eq_ignore_ascii_case(d))),
    };
    found.ok_or_else(|| {
        let wanted = given.map(|g| format!("`{g}`")).unwrap_or_else(|| format!("one of {defaults:?}"));
        Error::invalid(
            Location::default().with_source(source),
            format!(
                "no {what} column {wanted}; the columns are {available:?} — pass --{}-col NAME",
                if what == "text" { "text" } else { "label" }
            ),
        )
    })
}

fn read_delimited(path: &Path, delimiter: u8, columns: &Columns) -> Result<Vec<LabelledExample>> {
    let source = path.display().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_path(path)
        .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| Error::invalid(Location::line(1).with_source(&source), format!("bad header row: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let ti = pick(&headers, columns.text.as_deref(), TEXT_COLUMNS, "text", &source)?;
    let li = pick(&headers, columns.label.as_deref(), LABEL_COLUMNS, "label", &source)?;
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record =
            record.map_err(|e| Error::invalid(Location::line(line).with_source(&source), e.to_string()))?;
        let field = |idx: usize, name: &str| {
            record.get(idx).map(str::to_string).ok_or_else(|| {
                Error::invalid(
                    Location::line(line).with_source(&source).with_field(name),
                    "the row has too few columns",
                )
            })
        };
        out.push(example(field(ti, &headers[ti])?, field(li, &headers[li])?, line, &source)?);
    }
    Ok(out)
}

fn read_jsonl(path: &Path, columns: &Columns) -> Result<Vec<LabelledExample>> {
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(raw).map_err(|e| {
            Error::invalid(Location::line(line).with_source(&source), format!("not a JSON object: {e}"))
        })?;
        let Some(obj) = value.as_object() else {
            return Err(Error::invalid(
                Location::line(line).with_source(&source),
                "each line must be a JSON object",
            ));
        };
        let keys: Vec<String> = obj.keys().cloned().collect();
        let tk = &keys[pick(&keys, columns.text.as_deref(), TEXT_COLUMNS, "text", &source)?];
        let lk = &keys[pick(&keys, columns.label.as_deref(), LABEL_COLUMNS, "label", &source)?];
        let as_text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        out.push(example(as_text(&obj[tk]), as_text(&obj[lk]), line, &source)?);
    }
    Ok(out)
}

fn example(text: String, label: String, line: usize, source: &str) -> Result<LabelledExample> {
    let loc = || Location::line(line).with_source(source);
    check_text(&text, loc)?;
    let label = label.trim().to_string();
    if label.is_empty() {
        return Err(Error::invalid(loc(), "the label is empty; every row needs a label"));
    }
    Ok(LabelledExample { text, label })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn write(name: &str, body: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        (dir, path)
    }

    #[test]
    fn reads_csv_by_column_name() {
        let (_d, p) =
            write("b.csv", "text,category\n\"Where is my card, please?\",card_arrival\nhi,greeting\n");
        let ex = read_labelled(&p, &Columns::default()).unwrap();
        assert_eq!(
            ex[0],
            LabelledExample { text: "Where is my card, please?".into(), label: "card_arrival".into() }
        );
        assert_eq!(ex.len(), 2);
    }

    #[test]
    fn reads_jsonl_with_given_columns_and_numeric_labels() {
        let (_d, p) =
            write("s.jsonl", "{\"tweet\": \"great!\", \"y\": 2}\n\n{\"tweet\": \"awful\", \"y\": 0}\n");
        let cols = Columns { text: Some("tweet".into()), label: Some("y".into()) };
        let ex = read_labelled(&p, &cols).unwrap();
        assert_eq!(ex[1].label, "0");
        assert_eq!(ex[0].text, "great!");
    }

    #[test]
    fn errors_name_the_problem() {
        let (_d, p) = write("x.csv", "body,label\nhello,a\n");
        let err = read_labelled(&p, &Columns::default()).unwrap_err();
        assert!(err.to_string().contains("--text-col"), "{err}");
        let (_d, p) = write("x.csv", "text,label\nhello,a\n ,b\n");
        let err = read_labelled(&p, &Columns::default()).unwrap_err();
        assert!(err.to_string().contains("line 3") && err.to_string().contains("empty"), "{err}");
        let (_d, p) = write("x.jsonl", "{\"text\": \"hi\", \"label\": \"\"}\n");
        assert!(read_labelled(&p, &Columns::default()).unwrap_err().to_string().contains("label is empty"));
        let (_d, p) = write("x.xml", "<a/>");
        assert!(matches!(read_labelled(&p, &Columns::default()).unwrap_err(), Error::InvalidInput { .. }));
    }
}
