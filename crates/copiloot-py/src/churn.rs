//! Churn models from Python: train a tabular model on a table of columns (a DataFrame converted by
//! `python/copiloot/churn.py`), save and load `churn.json`, predict, explain and evaluate with the numbers
//! of `copiloot train churn` / `copiloot eval churn`.
//!
//! Cells are turned into the text cells of the core's `Table` while the GIL is held (numbers printed
//! the shortest way that reads back to the same float, so a DataFrame and the CSV it came from give the
//! same model); the work itself runs with the GIL released.

use crate::errors::{guarded, invalid, Failure};
use copiloot::tasks::churn::{score_table, ChurnModel, ModelKind};
use copiloot::training::{Table, TrainOptions, TrainReport};
use copiloot::Error;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString};
use std::path::PathBuf;

// Label columns tried when none is given — the list of `copiloot train/eval churn`.
use copiloot::training::table::LABEL_COLUMNS as LABELS;

/// One Python value as a table cell: `None` and NaN are missing; other types are refused with a hint.
fn cell(value: &Bound<'_, PyAny>) -> Result<Option<String>, String> {
    if value.is_none() {
        return Ok(None);
    }
    if let Ok(s) = value.cast::<PyString>() {
        return s
            .to_cow()
            .map(|s| Some(s.into_owned()))
            .map_err(|e| format!("a string that is not UTF-8 ({e})"));
    }
    // bool before int: Python's bool is an int subclass. `true`/`false` as the JSONL reader writes them.
    if let Ok(b) = value.cast::<PyBool>() {
        return Ok(Some(b.is_true().to_string()));
    }
    if let Ok(i) = value.cast::<PyInt>() {
        return Ok(Some(i.to_string()));
    }
    if let Ok(f) = value.cast::<PyFloat>() {
        let x = f.value();
        // NaN is pandas' missing value; infinity stays text, so the core reports it as not finite.
        // `{x}` prints the shortest text that parses back to the same f64 (20.0 → "20", as in a CSV).
        return Ok(if x.is_nan() { None } else { Some(format!("{x}")) });
    }
    let name = value.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
    Err(format!("a value of type {name}"))
}

/// A `Table` from column names and one list of values per column (all the same length).
fn table(columns: Vec<String>, data: Vec<Vec<Bound<'_, PyAny>>>) -> Result<Table, Failure> {
    if columns.len() != data.len() {
        return Err(invalid(
            "columns",
            format!(
                "{} column names but {} columns of values; give one name per column",
                columns.len(),
                data.len()
            ),
        ));
    }
    let n = data.first().map_or(0, Vec::len);
    for (name, values) in columns.iter().zip(&data) {
        if values.len() != n {
            return Err(invalid(
                name,
                format!("the column has {} values but the first column has {n}; give every column the same length", values.len()),
            ));
        }
    }
    let mut rows: Vec<Vec<Option<String>>> = (0..n).map(|_| Vec::with_capacity(columns.len())).collect();
    for (name, values) in columns.iter().zip(&data) {
        for (r, (value, row)) in values.iter().zip(rows.iter_mut()).enumerate() {
            let c = cell(value).map_err(|what| {
                invalid(
                    &format!("rows[{r}].{name}"),
                    format!(
                        "{what}; churn tables hold numbers, strings, booleans and missing values — convert \
                         the column (e.g. `df[{name:?}].astype(str)`, or a date to a number of days)"
                    ),
                )
            })?;
            row.push(c);
        }
    }
    Ok(Table::from_rows(columns, rows)?)
}

fn not_empty(table: &Table, what: &str) -> Result<(), Failure> {
    if table.is_empty() {
        return Err(invalid(
            "data",
            format!("the table has no rows; {what} needs labelled rows of both classes"),
        ));
    }
    Ok(())
}

/// The label column: the one given, else the first of [`LABELS`] the table has (any case).
fn label_of(given: Option<String>, table: &Table) -> Result<String, Failure> {
    if let Some(l) = given {
        return Ok(l);
    }
    let columns = table.columns();
    LABELS
        .iter()
        .find_map(|l| columns.iter().find(|c| c.eq_ignore_ascii_case(l)).cloned())
        .ok_or_else(|| {
            invalid(
                "label",
                format!("no label column given and none of {LABELS:?} found; the columns are {columns:?} — pass label=COLUMN"),
            )
        })
}

fn json_failure(e: serde_json::Error) -> Failure {
    Failure::Core(Error::Inference(e.to_string()))
}

/// A churn model (`churn.json`): logistic regression over standardised columns, with exact reasons.
#[pyclass(name = "ChurnModel", module = "copiloot._native", frozen)]
pub struct PyChurnModel {
    model: ChurnModel,
    /// What training did (held-out metrics, coefficients); `None` for a loaded model.
    report: Option<TrainReport>,
}

#[pymethods]
impl PyChurnModel {
    /// Fit a tabular model on `data` (one list of values per name in `columns`), as
    /// `copiloot train churn` does: stratified held-out split by `seed`, L2 = 1/rows unless given.
    #[staticmethod]
    #[pyo3(signature = (columns, data, label=None, *, seed=42, test_fraction=0.2, l2=None, max_iter=1000,
                        categorical=Vec::new(), numeric=Vec::new(), ignore=Vec::new(), name=None))]
    #[allow(clippy::too_many_arguments)]
    fn train(
        py: Python<'_>,
        columns: Vec<String>,
        data: Vec<Vec<Bound<'_, PyAny>>>,
        label: Option<String>,
        seed: u64,
        test_fraction: f64,
        l2: Option<f64>,
        max_iter: usize,
        categorical: Vec<String>,
        numeric: Vec<String>,
        ignore: Vec<String>,
        name: Option<String>,
    ) -> PyResult<Self> {
        let table = table(columns, data).map_err(|f| f.into_py(py))?;
        let options = TrainOptions {
            test_fraction,
            seed,
            l2,
            max_iter: max_iter.max(1),
            categorical,
            numeric,
            ignore,
            name,
            ..TrainOptions::default()
        };
        py.detach(|| {
            guarded(|| {
                not_empty(&table, "training")?;
                let label = label_of(label, &table)?;
                let (mut model, report) = ChurnModel::train(&table, &label, &options)?;
                if let Some(t) = &mut model.training {
                    t.source = Some(format!(
                        "copiloot (Python) ChurnModel.train on {} rows, test_fraction {}, seed {}",
                        table.len(),
                        options.test_fraction,
                        options.seed
                    ));
                }
                Ok(PyChurnModel { model, report: Some(report) })
            })
        })
        .map_err(|f| f.into_py(py))
    }

    /// Load `churn.json` from a folder (or the file itself), written by `save` or `copiloot train churn`.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        py.detach(|| guarded(|| Ok(PyChurnModel { model: ChurnModel::load(&path)?, report: None })))
            .map_err(|f| f.into_py(py))
    }

    /// Write `churn.json` into the folder `path` (created if needed; never half a file).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let model = &self.model;
        py.detach(|| guarded(|| Ok(model.save(&path)?))).map_err(|f| f.into_py(py))
    }

    /// Churn probability per row.
    fn predict_proba(
        &self,
        py: Python<'_>,
        columns: Vec<String>,
        data: Vec<Vec<Bound<'_, PyAny>>>,
    ) -> PyResult<Vec<f64>> {
        let table = table(columns, data).map_err(|f| f.into_py(py))?;
        let model = &self.model;
        py.detach(|| guarded(|| Ok(model.predict_proba(&table)?))).map_err(|f| f.into_py(py))
    }

    /// Score, band, reasons (largest effect first, at most `top`) and warnings per row, as a JSON list —
    /// the objects of `copiloot churn --table FILE --model DIR`.
    #[pyo3(signature = (columns, data, language="en", top=None))]
    fn explain_json(
        &self,
        py: Python<'_>,
        columns: Vec<String>,
        data: Vec<Vec<Bound<'_, PyAny>>>,
        language: &str,
        top: Option<usize>,
    ) -> PyResult<String> {
        let table = table(columns, data).map_err(|f| f.into_py(py))?;
        let model = &self.model;
        py.detach(|| {
            guarded(|| {
                let mut risks = score_table(model, &table, Some(language))?;
                if let Some(k) = top {
                    risks.iter_mut().for_each(|r| r.reasons.truncate(k));
                }
                serde_json::to_string(&risks).map_err(json_failure)
            })
        })
        .map_err(|f| f.into_py(py))
    }

    /// ROC AUC, PR AUC, Brier, log-loss, calibration deciles, ECE and bands against the yes/no labels in
    /// `label` (default: the model's label column, else the CLI's list), as JSON — the report of
    /// `copiloot eval churn --model DIR --report FILE`.
    #[pyo3(signature = (columns, data, label=None))]
    fn evaluate_json(
        &self,
        py: Python<'_>,
        columns: Vec<String>,
        data: Vec<Vec<Bound<'_, PyAny>>>,
        label: Option<String>,
    ) -> PyResult<String> {
        let table = table(columns, data).map_err(|f| f.into_py(py))?;
        let model = &self.model;
        py.detach(|| {
            guarded(|| {
                not_empty(&table, "evaluation")?;
                let label = match label {
                    Some(l) => l,
                    None => match model.label.as_deref().filter(|l| table.find_column(l).is_some()) {
                        Some(l) => l.to_string(),
                        None => label_of(None, &table)?,
                    },
                };
                serde_json::to_string(&model.evaluate(&table, &label)?).map_err(json_failure)
            })
        })
        .map_err(|f| f.into_py(py))
    }

    #[getter]
    fn name(&self) -> &str {
        &self.model.name
    }

    /// The label column it was trained on.
    #[getter]
    fn label(&self) -> Option<&str> {
        self.model.label.as_deref()
    }

    /// `tabular` (a customer table) or `conversation` (conversation signals).
    #[getter]
    fn kind(&self) -> &'static str {
        match self.model.kind {
            ModelKind::Tabular => "tabular",
            ModelKind::Conversation => "conversation",
        }
    }

    /// The columns the model reads, in order.
    #[getter]
    fn features(&self) -> Vec<String> {
        self.model.features.iter().map(|f| f.column().to_string()).collect()
    }

    /// Probability of an average row (every feature at its training mean).
    #[getter]
    fn baseline(&self) -> f64 {
        self.model.baseline()
    }

    /// `(medium, high)`: a score below `medium` is low, from `high` on it is high.
    #[getter]
    fn bands(&self) -> (f64, f64) {
        (self.model.bands.medium, self.model.bands.high)
    }

    /// The model as `churn.json` holds it.
    fn to_json(&self) -> String {
        serde_json::to_string(&self.model).unwrap_or_default()
    }

    /// The training report (rows, column types, held-out metrics, coefficients) as JSON; `""` when the
    /// model was loaded.
    fn report_json(&self) -> String {
        self.report.as_ref().and_then(|r| serde_json::to_string(r).ok()).unwrap_or_default()
    }

    fn __repr__(&self) -> String {
        format!(
            "ChurnModel(name={:?}, kind={:?}, features={})",
            self.model.name,
            self.kind(),
            self.model.features.len()
        )
    }
}
