//! Tabular data: a header and rows of optional text cells, read from CSV/TSV/JSONL or built in memory
//! (the Python module passes DataFrame rows). The one reader of tabular files: customer tables for churn
//! ([`Table::read`], cells cleaned) and labelled texts for the heads ([`Table::read_verbatim`], cells as
//! written, read by `labelled.rs`). Also the parsing rules for missing values, numbers and yes/no labels,
//! and the churn label columns looked for by the CLI and the Python module ([`LABEL_COLUMNS`]).

use crate::error::{Error, Location, Result};
use std::collections::HashSet;
use std::path::Path;

/// A header and rows of cells; `None` is a missing value. Cells keep their text: whether a column is
/// numeric or categorical is decided when a model is trained (and remembered by the model).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    columns: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
    /// File name for error messages, when the table came from a file.
    source: Option<String>,
    /// File line (1-based) of each row, for error messages, when the table came from a file.
    lines: Option<Vec<usize>>,
}

/// A file format [`Table`] reads, from the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.csv` (comma) or `.tsv` (tab), with a header row.
    Delimited(u8),
    /// `.jsonl` / `.ndjson`: one object per line.
    Jsonl,
}

impl Format {
    /// The format of `path` by its extension (any case); `None` when it is none of them.
    pub fn of(path: &Path) -> Option<Format> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Delimited(b',')),
            "tsv" => Some(Format::Delimited(b'\t')),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }
}

/// How cells are taken from a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cells {
    /// Customer tables: names and cells trimmed, missing markers (`NA`, `null`, …) are `None`, column
    /// names checked, every CSV row as long as the header.
    Clean,
    /// Labelled texts: names and cells exactly as written (a text may be `NA` or start with a space),
    /// JSON `null` is an empty cell; `None` is a cell that is not there at all (a CSV row shorter than
    /// the header, a key a JSON line lacks). Column names are not checked.
    Verbatim,
}

impl Table {
    /// A table from column names and rows (each as long as the header). Cells that are empty or `NA`,
    /// `N/A`, `null`, `None` count as missing.
    pub fn from_rows(columns: Vec<String>, rows: Vec<Vec<Option<String>>>) -> Result<Table> {
        let columns: Vec<String> = columns.into_iter().map(|c| c.trim().to_string()).collect();
        let mut seen = HashSet::new();
        for c in &columns {
            if c.is_empty() {
                return Err(Error::invalid(
                    Location::field("columns"),
                    "a column has an empty name; name it",
                ));
            }
            if !seen.insert(c.as_str()) {
                return Err(Error::invalid(
                    Location::field(c.clone()),
                    "the column name appears twice; rename one of them",
                ));
            }
        }
        for (i, row) in rows.iter().enumerate() {
            if row.len() != columns.len() {
                return Err(Error::invalid(
                    Location::field(format!("rows[{i}]")),
                    format!("the row has {} cells but there are {} columns", row.len(), columns.len()),
                ));
            }
        }
        let rows = rows
            .into_iter()
            .map(|r| {
                r.into_iter().map(|c| c.filter(|s| !is_missing(s)).map(|s| s.trim().to_string())).collect()
            })
            .collect();
        Ok(Table { columns, rows, source: None, lines: None })
    }

    /// Reads `.csv`, `.tsv` (header row) or `.jsonl`/`.ndjson` (one flat object per line; keys become
    /// columns, `null` is missing, nested values are kept as JSON text).
    pub fn read(path: &Path) -> Result<Table> {
        let source = path.display().to_string();
        let mut table = read_file(path, Cells::Clean)?;
        if table.rows.is_empty() {
            return Err(Error::invalid(Location::default().with_source(source), "the file has no data rows"));
        }
        table.source = Some(source);
        Ok(table)
    }

    /// Reads a file like [`Self::read`] but keeps every cell as written (see `Cells::Verbatim`): a CSV
    /// row may be shorter or longer than the header (absent cells are `None`, extra ones dropped), JSON
    /// `null` is `Some("")`, header names are neither trimmed nor checked, and a file without rows is
    /// not an error. Every error names the file. For labelled texts, whose cells are data, not codes.
    pub fn read_verbatim(path: &Path) -> Result<Table> {
        let source = path.display().to_string();
        let mut table = read_file(path, Cells::Verbatim).map_err(|e| with_source(e, &source))?;
        table.source = Some(source);
        Ok(table)
    }

    /// Parses JSONL text: one object per non-empty line. Also returns the file line of each row.
    pub fn from_jsonl(text: &str) -> Result<(Table, Vec<usize>)> {
        parse_jsonl(text, Cells::Clean)
    }
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Position of a column, or an error listing the columns there are.
    pub fn column_index(&self, name: &str) -> Result<usize> {
        self.find_column(name).ok_or_else(|| {
            Error::invalid(
                self.location(None, Some(name)),
                format!("there is no column `{name}`; the columns are {:?}", self.columns),
            )
        })
    }

    /// Position of a column (exact name first, else case-insensitive).
    pub fn find_column(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c == name)
            .or_else(|| self.columns.iter().position(|c| c.eq_ignore_ascii_case(name)))
    }

    /// The cell at `row`, `col`; `None` when missing or out of range.
    pub fn cell(&self, row: usize, col: usize) -> Option<&str> {
        self.rows.get(row).and_then(|r| r.get(col)).and_then(|c| c.as_deref())
    }

    /// The rows at `indices`, in that order (out-of-range indices are skipped).
    pub fn select(&self, indices: &[usize]) -> Table {
        Table {
            columns: self.columns.clone(),
            rows: indices.iter().filter_map(|&i| self.rows.get(i).cloned()).collect(),
            source: self.source.clone(),
            lines: None,
        }
    }

    /// The file line (1-based) of `row`, when the table was read from a file (not for [`Self::select`]).
    pub fn line(&self, row: usize) -> Option<usize> {
        self.lines.as_ref().and_then(|l| l.get(row)).copied()
    }

    /// Where a cell is, for error messages: file, line (when known) and column.
    pub fn location(&self, row: Option<usize>, column: Option<&str>) -> Location {
        let mut loc = Location::default();
        if let Some(s) = &self.source {
            loc = loc.with_source(s.clone());
        }
        if let Some(r) = row {
            loc = match self.line(r) {
                Some(line) => loc.with_line(line),
                None => loc.with_field(format!("rows[{r}]")),
            };
        }
        if let Some(c) = column {
            loc.field = Some(match loc.field {
                Some(f) => format!("{f}.{c}"),
                None => c.to_string(),
            });
        }
        loc
    }

    /// The number in a cell: `None` when missing, an error (naming the cell) when it is not a finite number.
    pub fn number(&self, row: usize, col: usize) -> Result<Option<f64>> {
        let Some(text) = self.cell(row, col) else { return Ok(None) };
        parse_number(text).map(Some).map_err(|message| {
            Error::invalid(self.location(Some(row), self.columns.get(col).map(String::as_str)), message)
        })
    }
}

/// Parses JSONL text (see [`Table::from_jsonl`]) with cells taken as `cells` says.
fn parse_jsonl(text: &str, cells: Cells) -> Result<(Table, Vec<usize>)> {
    let mut columns: Vec<String> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let mut objects = Vec::new();
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(raw)
            .map_err(|e| Error::invalid(Location::line(i + 1), format!("not a JSON object: {e}")))?;
        let serde_json::Value::Object(obj) = value else {
            return Err(Error::invalid(Location::line(i + 1), "each line must be a JSON object"));
        };
        for k in obj.keys() {
            if !index.contains_key(k) {
                index.insert(k.clone(), columns.len());
                columns.push(k.clone());
            }
        }
        objects.push(obj);
        lines.push(i + 1);
    }
    let rows = objects
        .into_iter()
        .map(|obj| {
            let mut row = vec![None; columns.len()];
            for (k, v) in obj {
                if let Some(cell) = index.get(&k).and_then(|&j| row.get_mut(j)) {
                    *cell = match (cells, &v) {
                        (Cells::Verbatim, serde_json::Value::Null) => Some(String::new()),
                        _ => json_cell(&v),
                    };
                }
            }
            row
        })
        .collect();
    let mut table = match cells {
        Cells::Clean => Table::from_rows(columns, rows)?,
        Cells::Verbatim => Table { columns, rows, source: None, lines: None },
    };
    table.lines = Some(lines.clone());
    Ok((table, lines))
}

fn json_cell(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Reads a file in the format its extension names.
fn read_file(path: &Path, cells: Cells) -> Result<Table> {
    match Format::of(path) {
        Some(Format::Delimited(delimiter)) => read_delimited(path, delimiter, cells),
        Some(Format::Jsonl) => {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            Ok(parse_jsonl(&text, cells)?.0)
        }
        None => Err(Error::invalid(
            Location::default().with_source(path.display().to_string()),
            "unknown table format; use a .csv, .tsv or .jsonl file",
        )),
    }
}

/// `e` with the file named, when it is an invalid-input error.
fn with_source(e: Error, source: &str) -> Error {
    match e {
        Error::InvalidInput { location, message } => {
            Error::InvalidInput { location: location.with_source(source), message }
        }
        other => other,
    }
}

fn read_delimited(path: &Path, delimiter: u8, cells: Cells) -> Result<Table> {
    let source = path.display().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(cells == Cells::Verbatim)
        .from_path(path)
        .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))?;
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| Error::invalid(Location::line(1).with_source(&source), format!("bad header row: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            let message = match cells {
                Cells::Clean => format!("{e}; every row needs as many cells as the header"),
                Cells::Verbatim => e.to_string(),
            };
            Error::invalid(Location::line(i + 2).with_source(&source), message)
        })?;
        rows.push((0..columns.len()).map(|j| record.get(j).map(str::to_string)).collect());
    }
    let lines = (2..rows.len() + 2).collect();
    let mut table = match cells {
        Cells::Clean => Table::from_rows(columns, rows).map_err(|e| with_source(e, &source))?,
        Cells::Verbatim => Table { columns, rows, source: None, lines: None },
    };
    table.lines = Some(lines);
    Ok(table)
}

/// Markers of a missing cell (what pandas, R and spreadsheets write). `NaN` is not one of them: a NaN
/// where a number is needed is an error, so a broken computation upstream is noticed.
pub fn is_missing(text: &str) -> bool {
    let t = text.trim();
    t.is_empty() || ["na", "n/a", "null", "none", "?"].iter().any(|m| t.eq_ignore_ascii_case(m))
}

/// A finite number, or a message saying what to fix.
pub fn parse_number(text: &str) -> std::result::Result<f64, String> {
    let t = text.trim();
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!(
            "{t:?} is not a finite number; leave the cell empty for a missing value (NaN and infinity are \
             not accepted)"
        )),
        Err(_) => Err(format!(
            "{t:?} is not a number but the column is numeric; fix the value (use a dot as decimal \
             separator), leave the cell empty, or train with the column as categorical"
        )),
    }
}

/// Churn label columns tried, in order and in any case, when none is given — by `copiloot train/eval
/// churn` and by the Python module alike.
pub const LABEL_COLUMNS: &[&str] = &["churn", "churned", "label", "outcome", "left", "exited"];

/// Reads a churn label: `Yes`/`No`, `true`/`false`, `1`/`0`, `y`/`n`, `ja`/`nee`, `churn(ed)`/`stayed`
/// (any case). `None` for anything else.
pub fn parse_label(text: &str) -> Option<bool> {
    let t = text.trim().to_ascii_lowercase();
    match t.as_str() {
        "yes" | "y" | "true" | "t" | "1" | "1.0" | "ja" | "j" | "churn" | "churned" | "left" => Some(true),
        "no" | "n" | "false" | "f" | "0" | "0.0" | "nee" | "stayed" | "retained" | "stay" => Some(false),
        _ => None,
    }
}

/// The labels of `column` as booleans; errors name the first row that is missing or not a yes/no value,
/// and a column with only one class.
pub fn labels(table: &Table, column: &str) -> Result<Vec<bool>> {
    let col = table.column_index(column)?;
    let mut out = Vec::with_capacity(table.len());
    for row in 0..table.len() {
        let loc = || table.location(Some(row), Some(column));
        let Some(text) = table.cell(row, col) else {
            return Err(Error::invalid(loc(), "the label is missing; drop unlabelled rows or fill them in"));
        };
        match parse_label(text) {
            Some(v) => out.push(v),
            None => {
                return Err(Error::invalid(
                    loc(),
                    format!(
                        "label {text:?} is not a yes/no value; use Yes/No, true/false or 1/0 (is `{column}` \
                         the right label column?)"
                    ),
                ))
            }
        }
    }
    let positives = out.iter().filter(|&&v| v).count();
    if positives == 0 || positives == out.len() {
        let only = if positives == 0 {
            "no churners (all labels are no)"
        } else {
            "only churners (all labels are yes)"
        };
        return Err(Error::invalid(
            table.location(None, Some(column)),
            format!(
                "the data has {only}; training and evaluation need both classes — use a larger or \
                 unfiltered history"
            ),
        ));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn labels_understand_yes_no_true_false_and_digits() {
        for (t, want) in
            [("Yes", true), ("no", false), ("TRUE", true), ("false", false), ("1", true), ("0", false)]
        {
            assert_eq!(parse_label(t), Some(want), "{t}");
        }
        assert_eq!(parse_label("maybe"), None);
        let t =
            Table::from_rows(vec!["y".into()], vec![vec![s("Yes")], vec![s("0")], vec![s("true")]]).unwrap();
        assert_eq!(labels(&t, "y").unwrap(), vec![true, false, true]);
    }

    #[test]
    fn label_errors_say_what_to_fix() {
        let t = Table::from_rows(vec!["y".into()], vec![vec![s("Yes")], vec![s("Yes")]]).unwrap();
        let e = labels(&t, "y").unwrap_err().to_string();
        assert!(e.contains("only churners") && e.contains("both classes"), "{e}");
        let e = labels(&t, "churn").unwrap_err().to_string();
        assert!(e.contains("no column `churn`") && e.contains("[\"y\"]"), "{e}");
        let t = Table::from_rows(vec!["y".into()], vec![vec![s("Yes")], vec![None]]).unwrap();
        assert!(labels(&t, "y").unwrap_err().to_string().contains("missing"));
        let t = Table::from_rows(vec!["y".into()], vec![vec![s("Yes")], vec![s("perhaps")]]).unwrap();
        assert!(labels(&t, "y").unwrap_err().to_string().contains("not a yes/no value"));
    }

    #[test]
    fn numbers_missing_nan_and_text() {
        assert_eq!(parse_number(" 42.5 ").unwrap(), 42.5);
        assert!(parse_number("NaN").unwrap_err().contains("finite"));
        assert!(parse_number("inf").unwrap_err().contains("finite"));
        assert!(parse_number("abc").unwrap_err().contains("not a number"));
        let t = Table::from_rows(vec!["x".into()], vec![vec![s("NA")], vec![s("")], vec![s("7")]]).unwrap();
        assert_eq!(t.number(0, 0).unwrap(), None);
        assert_eq!(t.number(1, 0).unwrap(), None);
        assert_eq!(t.number(2, 0).unwrap(), Some(7.0));
    }

    #[test]
    fn jsonl_and_csv_read_with_locations() {
        let (t, lines) =
            Table::from_jsonl("{\"a\": 1, \"b\": \"x\"}\n\n{\"b\": null, \"c\": true}\n").unwrap();
        assert_eq!(t.columns(), ["a", "b", "c"]);
        assert_eq!(lines, vec![1, 3]);
        assert_eq!(t.cell(0, 0), Some("1"));
        assert_eq!(t.cell(1, 1), None);
        assert_eq!(t.cell(1, 2), Some("true"));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, "x,churn\n1,Yes\nabc,No\n").unwrap();
        let t = Table::read(&p).unwrap();
        let e = t.number(1, 0).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("field `x`") && e.contains("t.csv"), "{e}");
        let p = dir.path().join("t.jsonl");
        std::fs::write(&p, "{\"x\": 1, \"churn\": \"Yes\"}\n\n{\"x\": \"abc\", \"churn\": \"No\"}\n")
            .unwrap();
        let e = Table::read(&p).unwrap().number(1, 0).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("t.jsonl"), "the line after a blank one: {e}");
        assert!(Table::from_rows(vec!["a".into(), "a".into()], vec![]).is_err());
        assert!(Table::from_rows(vec!["a".into()], vec![vec![]]).is_err());
    }

    #[test]
    fn verbatim_keeps_cells_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.csv");
        std::fs::write(&p, ",text,text\n0, NA ,x\n1\n").unwrap();
        let t = Table::read_verbatim(&p).unwrap();
        assert_eq!(t.columns(), ["", "text", "text"]);
        assert_eq!((t.cell(0, 1), t.cell(1, 1), t.line(1)), (Some(" NA "), None, Some(3)));
        let p = dir.path().join("v.jsonl");
        std::fs::write(&p, "{\"a\": null}\n{\"b\": 2}\n").unwrap();
        let t = Table::read_verbatim(&p).unwrap();
        assert_eq!((t.cell(0, 0), t.cell(0, 1), t.cell(1, 1)), (Some(""), None, Some("2")));
        std::fs::write(&p, "{\"a\": 1}\n[2]\n").unwrap();
        let e = Table::read_verbatim(&p).unwrap_err().to_string();
        assert!(e.contains("v.jsonl") && e.contains("line 2"), "{e}");
        assert_eq!(Format::of(Path::new("x.TSV")), Some(Format::Delimited(b'\t')));
    }
}
