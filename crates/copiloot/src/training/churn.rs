//! Fits a [`ChurnModel`] on a labelled table: column types inferred (numbers standardised, text one-hot,
//! identifiers dropped), a stratified held-out split, L2-penalised binary logistic regression
//! (`super::logistic`), and a report with the held-out metrics and the coefficients.
//!
//! No class weights: an unweighted logistic fit is calibrated by construction (its mean prediction equals
//! the observed churn rate), which a save team needs more than a balanced accuracy.

use super::logistic;
use super::table::{labels, parse_number, Table};
use crate::error::{Error, Result};
use crate::eval::churn::{evaluate_scores, EvalReport};
use crate::tasks::churn::model::{ChurnModel, Feature, Level, ModelKind, TrainingInfo, Transform};
use crate::tasks::churn::{default_conversation_model, ChurnSignals};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Training settings; `Default` is what `copiloot train churn` uses.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TrainOptions {
    /// Share of rows held out for evaluation (stratified by label); 0 trains on everything.
    pub test_fraction: f64,
    /// Seed of the split (the same seed gives the same split on every platform).
    pub seed: u64,
    /// L2 strength on the mean log-loss; `None` = 1 / training rows (sklearn's `C = 1`).
    pub l2: Option<f64>,
    pub max_iter: usize,
    /// Columns to treat as categorical / numeric / not at all, overriding the inference.
    pub categorical: Vec<String>,
    pub numeric: Vec<String>,
    pub ignore: Vec<String>,
    /// A text column with more distinct values than this is taken for an identifier and dropped.
    pub max_levels: usize,
    /// Name written into the model (default: `tabular:<label>` or `conversation:<label>`).
    pub name: Option<String>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            test_fraction: 0.2,
            seed: 42,
            l2: None,
            max_iter: 1000,
            categorical: Vec::new(),
            numeric: Vec::new(),
            ignore: Vec::new(),
            max_levels: 50,
            name: None,
        }
    }
}

/// A column left out of the model, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IgnoredColumn {
    pub column: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Coefficient {
    pub feature: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Logit change per standard deviation of the feature (for a level: of its indicator).
    pub coefficient: f64,
}

/// What `train` did and how well the model does on rows it never saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TrainReport {
    pub rows: usize,
    pub train_rows: usize,
    pub test_rows: usize,
    pub positive_rate: f64,
    pub numeric: Vec<String>,
    pub categorical: Vec<String>,
    pub ignored: Vec<IgnoredColumn>,
    pub l2: f64,
    pub iterations: usize,
    pub final_loss: f64,
    /// Metrics on the held-out rows (`None` with `test_fraction = 0`).
    pub held_out: Option<EvalReport>,
    /// Largest effect first.
    pub coefficients: Vec<Coefficient>,
}

/// How a column enters the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Plan {
    Numeric(Transform),
    Categorical,
}

impl ChurnModel {
    /// Fits a tabular model: every column but `label` is a feature (types inferred, see [`TrainOptions`]).
    pub fn train(table: &Table, label: &str, options: &TrainOptions) -> Result<(ChurnModel, TrainReport)> {
        let label_col = table.column_index(label)?;
        let mut plans = Vec::new();
        let mut ignored = Vec::new();
        for (j, name) in table.columns().iter().enumerate() {
            if j == label_col {
                continue;
            }
            match infer(table, j, options)? {
                Ok(plan) => plans.push((name.clone(), plan)),
                Err(reason) => ignored.push(IgnoredColumn { column: name.clone(), reason }),
            }
        }
        fit(table, label, &plans, ignored, ModelKind::Tabular, options)
    }
}

/// Decides a column's type: `Err(reason)` to leave it out.
fn infer(table: &Table, col: usize, o: &TrainOptions) -> Result<std::result::Result<Plan, String>> {
    let name = table.columns().get(col).cloned().unwrap_or_default();
    let has = |list: &[String]| list.iter().any(|c| c.eq_ignore_ascii_case(&name));
    if has(&o.ignore) {
        return Ok(Err("ignored as asked".into()));
    }
    let values: Vec<(usize, &str)> =
        (0..table.len()).filter_map(|r| table.cell(r, col).map(|v| (r, v))).collect();
    if values.is_empty() {
        return Ok(Err("every value is missing".into()));
    }
    if has(&o.categorical) {
        return Ok(Ok(Plan::Categorical));
    }
    let not_numeric: Vec<(usize, &str)> =
        values.iter().copied().filter(|(_, v)| parse_number(v).is_err()).collect();
    // NaN or infinity is never a category: it is a broken computation upstream.
    if let Some(&(row, _)) =
        values.iter().find(|(_, v)| v.trim().parse::<f64>().is_ok_and(|x| !x.is_finite()))
    {
        table.number(row, col)?;
    }
    if has(&o.numeric) || not_numeric.len() * 2 < values.len() {
        // Mostly numbers: the rest are typos, which must be fixed, not silently one-hot encoded.
        if let Some(&(row, _)) = not_numeric.first() {
            table.number(row, col)?;
        }
        return Ok(Ok(Plan::Numeric(Transform::Identity)));
    }
    let distinct: std::collections::HashSet<&str> = values.iter().map(|(_, v)| *v).collect();
    if distinct.len() > o.max_levels {
        return Ok(Err(format!(
            "{} distinct text values: looks like an identifier (pass it as categorical to keep it)",
            distinct.len()
        )));
    }
    Ok(Ok(Plan::Categorical))
}

/// Fits `plans` (column name and type) on `table` and reports; shared by tabular and conversation training.
pub(crate) fn fit(
    table: &Table,
    label: &str,
    plans: &[(String, Plan)],
    ignored: Vec<IgnoredColumn>,
    kind: ModelKind,
    options: &TrainOptions,
) -> Result<(ChurnModel, TrainReport)> {
    let y_all = labels(table, label)?;
    if !(0.0..=0.5).contains(&options.test_fraction) {
        return Err(Error::Config(format!(
            "test fraction {} is out of range; use a value from 0 (no held-out set) to 0.5",
            options.test_fraction
        )));
    }
    let (train_idx, test_idx) = split(&y_all, options.test_fraction, options.seed);
    let train = table.select(&train_idx);
    let y: Vec<bool> = train_idx.iter().filter_map(|&i| y_all.get(i).copied()).collect();
    if y.iter().all(|&v| v) || y.iter().all(|&v| !v) {
        return Err(Error::invalid(
            table.location(None, Some(label)),
            "the training part has a single class; give more rows of the rarer class",
        ));
    }
    // Centers and scales from the training rows only (the held-out rows must stay unseen).
    let mut features = Vec::new();
    let mut ignored = ignored;
    for (name, plan) in plans {
        let col = train.column_index(name)?;
        match plan {
            Plan::Numeric(transform) => {
                let xs: Vec<f64> = (0..train.len())
                    .map(|r| train.number(r, col))
                    .collect::<Result<Vec<_>>>()?
                    .into_iter()
                    .flatten()
                    .map(|x| transform.apply(x))
                    .collect();
                let (mean, sd) = mean_sd(&xs);
                if xs.is_empty() || sd < 1e-12 {
                    ignored.push(IgnoredColumn {
                        column: name.clone(),
                        reason: "constant in the training rows".into(),
                    });
                    continue;
                }
                features.push(Feature::Numeric {
                    column: name.clone(),
                    transform: *transform,
                    center: mean,
                    scale: sd,
                    coefficient: 0.0,
                });
            }
            Plan::Categorical => {
                let mut counts: BTreeMap<String, usize> = BTreeMap::new();
                for r in 0..train.len() {
                    if let Some(v) = train.cell(r, col) {
                        *counts.entry(v.to_string()).or_default() += 1;
                    }
                }
                let n = train.len() as f64;
                let levels: Vec<Level> = counts
                    .into_iter()
                    .map(|(value, c)| {
                        let p = c as f64 / n;
                        Level { value, center: p, scale: (p * (1.0 - p)).sqrt(), coefficient: 0.0 }
                    })
                    .filter(|l| l.scale > 1e-12)
                    .collect();
                if levels.is_empty() {
                    ignored.push(IgnoredColumn {
                        column: name.clone(),
                        reason: "a single value in the training rows".into(),
                    });
                    continue;
                }
                features.push(Feature::Categorical { column: name.clone(), levels });
            }
        }
    }
    let name = options.name.clone().unwrap_or_else(|| {
        format!("{}:{label}", if kind == ModelKind::Tabular { "tabular" } else { "conversation" })
    });
    let mut model = ChurnModel::new(name, kind, 0.0, features);
    model.label = Some(label.to_string());
    let x = design(&model, &train)?;
    let n = y.len();
    let l2 = options.l2.unwrap_or(1.0 / n as f64);
    if !(l2.is_finite() && l2 >= 0.0) {
        return Err(Error::Config(format!("l2 = {l2} is invalid; use a number ≥ 0")));
    }
    let min = logistic::fit_binary(&x, &y, l2, options.max_iter, 1e-9)?;
    let mut k = 0;
    for f in &mut model.features {
        match f {
            Feature::Numeric { coefficient, .. } => {
                *coefficient = min.x.get(k).copied().unwrap_or(0.0);
                k += 1;
            }
            Feature::Categorical { levels, .. } => {
                for l in levels {
                    l.coefficient = min.x.get(k).copied().unwrap_or(0.0);
                    k += 1;
                }
            }
        }
    }
    model.intercept = min.x.last().copied().unwrap_or(0.0);
    let held_out = if test_idx.is_empty() {
        None
    } else {
        let test = table.select(&test_idx);
        let y_test: Vec<bool> = test_idx.iter().filter_map(|&i| y_all.get(i).copied()).collect();
        if y_test.iter().all(|&v| v) || y_test.iter().all(|&v| !v) {
            None
        } else {
            Some(evaluate_scores(&model.predict_proba(&test)?, &y_test, &model.name)?)
        }
    };
    let positives = y_all.iter().filter(|&&v| v).count();
    model.training = Some(TrainingInfo {
        rows: n,
        positive_rate: positives as f64 / y_all.len().max(1) as f64,
        l2,
        iterations: min.iterations,
        held_out_roc_auc: held_out.as_ref().map(|h| h.roc_auc),
        source: table.location(None, None).source,
    });
    let by_type = |numeric: bool| {
        model
            .features
            .iter()
            .filter(|f| matches!(f, Feature::Numeric { .. }) == numeric)
            .map(|f| f.column().to_string())
            .collect()
    };
    let report = TrainReport {
        rows: y_all.len(),
        train_rows: train_idx.len(),
        test_rows: test_idx.len(),
        positive_rate: positives as f64 / y_all.len().max(1) as f64,
        numeric: by_type(true),
        categorical: by_type(false),
        ignored,
        l2,
        iterations: min.iterations,
        final_loss: min.value,
        held_out,
        coefficients: model
            .coefficients()
            .into_iter()
            .map(|(feature, level, coefficient)| Coefficient { feature, level, coefficient })
            .collect(),
    };
    Ok((model, report))
}

/// The standardised design matrix of `table` for `model`'s features (missing and unknown → 0).
fn design(model: &ChurnModel, table: &Table) -> Result<Vec<Vec<f64>>> {
    let (cols, _) = model.bind(table);
    let mut rows = Vec::with_capacity(table.len());
    for r in 0..table.len() {
        let mut x = Vec::new();
        for (f, col) in model.features.iter().zip(&cols) {
            match f {
                Feature::Numeric { transform, center, scale, .. } => {
                    let v = match col {
                        Some(c) => table.number(r, *c)?,
                        None => None,
                    };
                    x.push(v.map_or(0.0, |v| (transform.apply(v) - center) / scale));
                }
                Feature::Categorical { levels, .. } => {
                    let v = col.and_then(|c| table.cell(r, c));
                    let known = v.is_some_and(|v| levels.iter().any(|l| l.value == v));
                    for l in levels {
                        let ind = if v == Some(l.value.as_str()) { 1.0 } else { 0.0 };
                        x.push(if known { (ind - l.center) / l.scale } else { 0.0 });
                    }
                }
            }
        }
        rows.push(x);
    }
    Ok(rows)
}

fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len().max(1) as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Stratified split: the same share of churners in both parts; deterministic for a seed.
pub fn split(y: &[bool], test_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = crate::rng::SplitMix64(seed);
    let mut train = Vec::new();
    let mut test = Vec::new();
    for class in [false, true] {
        let mut idx: Vec<usize> = (0..y.len()).filter(|&i| y.get(i) == Some(&class)).collect();
        rng.shuffle(&mut idx);
        let k = (idx.len() as f64 * test_fraction).round() as usize;
        test.extend_from_slice(&idx[..k.min(idx.len())]);
        train.extend_from_slice(&idx[k.min(idx.len())..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// Fits a conversation model on the signals of analysed conversations and their outcome labels
/// (yes/no per conversation): the default model's features and transforms, plus `plan` one-hot.
pub fn train_conversations(
    signals: &[ChurnSignals],
    labels: &[Option<String>],
    options: &TrainOptions,
) -> Result<(ChurnModel, TrainReport)> {
    const LABEL: &str = "outcome";
    let table = ChurnSignals::table(signals, &[(LABEL.to_string(), labels.to_vec())])?;
    let mut plans: Vec<(String, Plan)> = default_conversation_model()
        .features
        .iter()
        .filter_map(|f| match f {
            Feature::Numeric { column, transform, .. } => Some((column.clone(), Plan::Numeric(*transform))),
            Feature::Categorical { .. } => None,
        })
        .collect();
    plans.push(("plan".to_string(), Plan::Categorical));
    let (mut model, report) = fit(&table, LABEL, &plans, Vec::new(), ModelKind::Conversation, options)?;
    model.label = None;
    if options.name.is_none() {
        model.name = "conversation:trained".to_string();
    }
    Ok((model, report))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn table(rows: &[(&str, &str, &str, &str)]) -> Table {
        Table::from_rows(
            vec!["id".into(), "months".into(), "contract".into(), "churn".into()],
            rows.iter()
                .map(|(a, b, c, d)| {
                    vec![Some(a.to_string()), Some(b.to_string()), Some(c.to_string()), Some(d.to_string())]
                })
                .collect(),
        )
        .unwrap()
    }

    fn synthetic(n: usize) -> Table {
        // Short tenure and month-to-month churn; the id is unique text.
        let mut rows = Vec::new();
        for i in 0..n {
            let months = (i * 7 % 60) as f64;
            let monthly = i % 3 == 0;
            let risk = if monthly { 0.6 } else { 0.1 } + if months < 12.0 { 0.3 } else { 0.0 };
            let churn = ((i * 37 % 100) as f64) < risk * 100.0;
            rows.push((
                format!("c{i}"),
                months.to_string(),
                if monthly { "Monthly" } else { "Two year" },
                if churn { "Yes" } else { "No" },
            ));
        }
        let rows: Vec<(&str, &str, &str, &str)> =
            rows.iter().map(|(a, b, c, d)| (a.as_str(), b.as_str(), *c, *d)).collect();
        table(&rows)
    }

    #[test]
    fn trains_one_hot_and_standardised_with_sensible_signs() {
        let t = synthetic(400);
        let (model, report) = ChurnModel::train(&t, "churn", &TrainOptions::default()).unwrap();
        assert_eq!(report.numeric, vec!["months"]);
        assert_eq!(report.categorical, vec!["contract"]);
        assert_eq!(report.ignored[0].column, "id");
        assert_eq!((report.train_rows, report.test_rows), (320, 80));
        let coef = |f: &str, l: Option<&str>| {
            report
                .coefficients
                .iter()
                .find(|c| c.feature == f && c.level.as_deref() == l)
                .unwrap()
                .coefficient
        };
        assert!(coef("months", None) < 0.0);
        assert!(coef("contract", Some("Monthly")) > 0.0 && coef("contract", Some("Two year")) < 0.0);
        assert!(report.held_out.unwrap().roc_auc > 0.7);
        // Calibrated in-sample: the mean prediction equals the churn rate (a property of the logistic fit).
        let p = model.predict_proba(&t).unwrap();
        let mean = p.iter().sum::<f64>() / p.len() as f64;
        assert!((mean - report.positive_rate).abs() < 0.03, "{mean} vs {}", report.positive_rate);
    }

    #[test]
    fn bad_numbers_single_class_and_missing_label_are_typed_errors() {
        let mut rows: Vec<(&str, &str, &str, &str)> = (0..40)
            .map(|i| ("x", if i % 2 == 0 { "3" } else { "40" }, "A", if i % 2 == 0 { "Yes" } else { "No" }))
            .collect();
        rows[5].1 = "NaN";
        let e = ChurnModel::train(&table(&rows), "churn", &TrainOptions::default()).unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }) && e.to_string().contains("finite"), "{e}");
        rows[5].1 = "lots";
        let e = ChurnModel::train(&table(&rows), "churn", &TrainOptions::default()).unwrap_err();
        assert!(e.to_string().contains("not a number") && e.to_string().contains("months"), "{e}");
        rows[5].1 = "4";
        for r in &mut rows {
            r.3 = "No";
        }
        let e = ChurnModel::train(&table(&rows), "churn", &TrainOptions::default()).unwrap_err();
        assert!(e.to_string().contains("no churners"), "{e}");
        let e = ChurnModel::train(&table(&rows), "left", &TrainOptions::default()).unwrap_err();
        assert!(e.to_string().contains("no column `left`"), "{e}");
    }

    #[test]
    fn split_is_stratified_and_deterministic() {
        let y: Vec<bool> = (0..100).map(|i| i % 4 == 0).collect();
        let (a, b) = split(&y, 0.2, 7);
        assert_eq!((a.len(), b.len()), (80, 20));
        assert_eq!(b.iter().filter(|&&i| y[i]).count(), 5);
        assert_eq!(split(&y, 0.2, 7), (a, b.clone()));
        assert_ne!(split(&y, 0.2, 8).1, b);
    }
}
