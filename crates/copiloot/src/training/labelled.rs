//! Labelled texts for training and evaluation: a text column and a label column, found by name or given
//! explicitly, picked from a file read by [`Table::read_verbatim`] (CSV/TSV with a header row, or JSONL
//! with one object per line) — Banking77's `text,category` works as it is, like a pandas
//! `DataFrame[["text", "label"]]` exported with `to_csv`/`to_json(lines=True)`.
//!
//! Cells are taken as written (a text may be `NA`); a JSONL line's columns are its own keys, so lines may
//! name their text differently. Errors name the file and the line.

use super::table::{Format, Table};
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
    let source = path.display().to_string();
    let Some(format) = Format::of(path) else {
        return Err(Error::invalid(
            Location::default().with_source(source),
            "unknown labelled-data format; use a .csv, .tsv or .jsonl file with a text and a label column",
        ));
    };
    let table = Table::read_verbatim(path)?;
    let mut out = Vec::with_capacity(table.len());
    match format {
        Format::Delimited(_) => {
            let headers = table.columns();
            let ti = pick(headers, columns.text.as_deref(), TEXT_COLUMNS, "text", &source)?;
            let li = pick(headers, columns.label.as_deref(), LABEL_COLUMNS, "label", &source)?;
            for row in 0..table.len() {
                let field = |idx: usize| {
                    table.cell(row, idx).map(str::to_string).ok_or_else(|| {
                        Error::invalid(
                            table.location(Some(row), Some(&headers[idx])),
                            "the row has too few columns",
                        )
                    })
                };
                out.push(example(field(ti)?, field(li)?, &table, row)?);
            }
        }
        Format::Jsonl => {
            for row in 0..table.len() {
                // The line's own keys (JSON null included), in serde_json's sorted order.
                let mut present: Vec<usize> =
                    (0..table.columns().len()).filter(|&j| table.cell(row, j).is_some()).collect();
                present.sort_by(|&a, &b| table.columns()[a].cmp(&table.columns()[b]));
                let keys: Vec<String> = present.iter().map(|&j| table.columns()[j].clone()).collect();
                let value = |given: Option<&str>, defaults: &[&str], what: &str| -> Result<String> {
                    let col = present[pick(&keys, given, defaults, what, &source)?];
                    Ok(table.cell(row, col).unwrap_or_default().to_string())
                };
                let text = value(columns.text.as_deref(), TEXT_COLUMNS, "text")?;
                let label = value(columns.label.as_deref(), LABEL_COLUMNS, "label")?;
                out.push(example(text, label, &table, row)?);
            }
        }
    }
    if out.is_empty() {
        return Err(Error::invalid(Location::default().with_source(source), "the file has no labelled rows"));
    }
    Ok(out)
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

/// The share of a file's detected texts a second language may have before the file counts as mixed.
pub const MIXED_LANGUAGE_SHARE: f64 = 0.25;

/// The language of a training file (`nl`, `en`, …): the one most of its texts are detected in (texts too
/// short to tell do not count); `None` when no text could be told. Fails when a second language has at
/// least [`MIXED_LANGUAGE_SHARE`] of the detected texts: the file cannot then stand for one language when
/// the languages are weighed against each other.
pub fn file_language(path: &Path, examples: &[LabelledExample]) -> Result<Option<String>> {
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for e in examples {
        if let Some(guess) = crate::conversation::detect_language(&e.text) {
            *counts.entry(guess.code).or_default() += 1;
        }
    }
    let detected: usize = counts.values().sum();
    let mut ranked: Vec<(String, usize)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if let [(first, n1), (second, n2), ..] = ranked.as_slice() {
        if *n2 as f64 >= MIXED_LANGUAGE_SHARE * detected as f64 {
            let pct = |n: usize| 100.0 * n as f64 / detected as f64;
            return Err(Error::invalid(
                Location::default().with_source(path.display().to_string()),
                format!(
                    "the file mixes languages: {:.0} % of its texts are `{first}` and {:.0} % `{second}`; put each \
                     language in its own file, so that the languages can be weighed equally",
                    pct(*n1),
                    pct(*n2)
                ),
            ));
        }
    }
    Ok(ranked.into_iter().next().map(|(code, _)| code))
}

/// Per-example weights that give every language the same total weight (the mean weight is 1); examples
/// of unknown language form a group of their own.
pub fn language_weights(languages: &[Option<String>]) -> Vec<f32> {
    let mut counts: std::collections::BTreeMap<Option<&str>, usize> = std::collections::BTreeMap::new();
    for l in languages {
        *counts.entry(l.as_deref()).or_default() += 1;
    }
    let (n, groups) = (languages.len() as f32, counts.len() as f32);
    languages.iter().map(|l| n / (groups * counts[&l.as_deref()] as f32)).collect()
}

fn example(text: String, label: String, table: &Table, row: usize) -> Result<LabelledExample> {
    let loc = || table.location(Some(row), None);
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
    fn a_file_in_two_languages_is_refused_and_languages_weigh_the_same() {
        let ex = |t: &str| LabelledExample { text: t.into(), label: "negative".into() };
        let dutch = [
            ex("Ik ben het echt zat met jullie service."),
            ex("Mijn pakket is nog steeds niet bezorgd."),
            ex("Waarom is mijn rekening zo hoog deze maand?"),
        ];
        let english = [ex("I am really fed up with your service."), ex("My parcel still has not arrived.")];
        let path = Path::new("mixed.csv");
        assert_eq!(file_language(path, &dutch).unwrap().as_deref(), Some("nl"));
        assert_eq!(file_language(path, &english).unwrap().as_deref(), Some("en"));
        let both: Vec<LabelledExample> = dutch.iter().chain(&english).cloned().collect();
        let err = file_language(path, &both).unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("mixed.csv") && msg.contains("`nl`") && msg.contains("own file"), "{msg}");

        let langs = [Some("nl".to_string()), Some("en".into()), Some("en".into()), Some("en".into())];
        assert_eq!(language_weights(&langs), [2.0, 2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0]);
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
