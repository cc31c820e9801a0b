//! The churn model: logistic regression over standardised features, saved as one versioned JSON file
//! (`churn.json`), with the documented default coefficients for conversations.
//!
//! Every feature is `z = (transform(x) − center) / scale`, the logit is `intercept + Σ coefficient·z`, and
//! the probability is its sigmoid. A missing value (or an unknown category) gets `z = 0`: it contributes
//! nothing, so the model falls back to the reference for that feature instead of guessing. Because the
//! logit is a sum, `coefficient·z` is exactly each feature's contribution — the reasons.

use crate::error::{Error, Location, Result};
use crate::training::table::Table;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const MODEL_FILE: &str = "churn.json";
const FORMAT: &str = "copiloot-churn-model";
/// Bumped on any incompatible change of `churn.json`; older or newer files are refused with a hint.
pub const FORMAT_VERSION: u32 = 1;

/// What rows the model reads: conversation signals (see `signals`) or a company's own customer table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Conversation,
    Tabular,
}

/// A fixed transform applied before standardising.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Transform {
    #[default]
    Identity,
    /// `ln(1 + max(x, 0))`: for durations whose effect fades (the 2nd year matters less than the 2nd month).
    Log1p,
    /// Limits to `min..=max`: e.g. a contract ending in 3 or 30 years is equally far away.
    Clip { min: f64, max: f64 },
}

impl Transform {
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Transform::Identity => x,
            Transform::Log1p => x.max(0.0).ln_1p(),
            Transform::Clip { min, max } => x.clamp(min.min(max), max.max(min)),
        }
    }
}

/// One input column and how it enters the logit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase", tag = "type")]
pub enum Feature {
    Numeric {
        column: String,
        #[serde(default)]
        transform: Transform,
        center: f64,
        scale: f64,
        coefficient: f64,
    },
    /// One-hot: each level is an indicator, itself standardised by its training frequency.
    Categorical { column: String, levels: Vec<Level> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Level {
    pub value: String,
    pub center: f64,
    pub scale: f64,
    pub coefficient: f64,
}

impl Feature {
    pub fn column(&self) -> &str {
        match self {
            Feature::Numeric { column, .. } | Feature::Categorical { column, .. } => column,
        }
    }
}

/// Risk bands. A score `< medium` is low, `>= high` is high.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Bands {
    pub medium: f64,
    pub high: f64,
}

impl Default for Bands {
    /// 0.3 and 0.6: "medium" is about three times the default model's 10 % baseline, "high" is more likely
    /// than not to leave — a save team calls the high band first.
    fn default() -> Self {
        Bands { medium: 0.3, high: 0.6 }
    }
}

impl Bands {
    pub fn check(&self) -> Result<()> {
        let ok = self.medium.is_finite()
            && self.high.is_finite()
            && 0.0 < self.medium
            && self.medium < self.high
            && self.high < 1.0;
        if ok {
            Ok(())
        } else {
            Err(Error::Config(format!(
                "band thresholds medium={} high={} are invalid; they need 0 < medium < high < 1",
                self.medium, self.high
            )))
        }
    }

    pub fn band(&self, score: f64) -> Band {
        if score >= self.high {
            Band::High
        } else if score >= self.medium {
            Band::Medium
        } else {
            Band::Low
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    Low,
    Medium,
    High,
}

impl Band {
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Low => "low",
            Band::Medium => "medium",
            Band::High => "high",
        }
    }
}

/// How a model was trained (kept in the file for reproducibility).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TrainingInfo {
    pub rows: usize,
    pub positive_rate: f64,
    pub l2: f64,
    pub iterations: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_out_roc_auc: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A churn model (the content of `churn.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChurnModel {
    pub format: String,
    pub format_version: u32,
    pub name: String,
    pub kind: ModelKind,
    /// The label column it was trained on (`None` for the default model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Logit of the reference row (all features at their center).
    pub intercept: f64,
    pub features: Vec<Feature>,
    #[serde(default)]
    pub bands: Bands,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<TrainingInfo>,
}

/// One feature's part of one prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    pub column: String,
    /// The raw cell (`None` when missing).
    pub value: Option<String>,
    /// The level whose indicator is set, for a categorical column with a known value.
    pub known_level: bool,
    /// Logit units: positive raises the risk.
    pub logit: f64,
}

/// A prediction with its parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Explained {
    pub probability: f64,
    pub logit: f64,
    pub contributions: Vec<Contribution>,
    pub warnings: Vec<String>,
}

pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl ChurnModel {
    pub(crate) fn new(name: String, kind: ModelKind, intercept: f64, features: Vec<Feature>) -> ChurnModel {
        ChurnModel {
            format: FORMAT.to_string(),
            format_version: FORMAT_VERSION,
            name,
            kind,
            label: None,
            intercept,
            features,
            bands: Bands::default(),
            training: None,
        }
    }

    /// Probability of the reference row (all features at their center).
    pub fn baseline(&self) -> f64 {
        sigmoid(self.intercept)
    }

    /// Scores one row of `table`; `columns[i]` is the table column of `features[i]` (see [`Self::bind`]).
    pub fn explain_row(&self, table: &Table, row: usize, columns: &[Option<usize>]) -> Result<Explained> {
        let mut logit = self.intercept;
        let mut contributions = Vec::with_capacity(self.features.len());
        let mut warnings = Vec::new();
        for (feature, col) in self.features.iter().zip(columns) {
            let value = col.and_then(|c| table.cell(row, c)).map(str::to_string);
            let (part, known_level) = match feature {
                Feature::Numeric { transform, center, scale, coefficient, .. } => {
                    let x = match col {
                        Some(c) => table.number(row, *c)?,
                        None => None,
                    };
                    let part = x.map_or(0.0, |x| coefficient * (transform.apply(x) - center) / scale);
                    (part, x.is_some())
                }
                Feature::Categorical { column, levels } => match &value {
                    None => (0.0, false),
                    Some(v) => match levels.iter().find(|l| l.value == *v) {
                        // The active level's indicator is 1, every other level's is 0.
                        Some(_) => (
                            levels
                                .iter()
                                .map(|l| {
                                    let x = if l.value == *v { 1.0 } else { 0.0 };
                                    l.coefficient * (x - l.center) / l.scale
                                })
                                .sum(),
                            true,
                        ),
                        None => {
                            warnings.push(format!(
                                "`{column}` has the value {v:?}, unseen in training; it counts as average"
                            ));
                            (0.0, false)
                        }
                    },
                },
            };
            logit += part;
            contributions.push(Contribution {
                column: feature.column().to_string(),
                value,
                known_level,
                logit: part,
            });
        }
        if !logit.is_finite() {
            return Err(Error::invalid(
                table.location(Some(row), None),
                "the score is not finite; a value is far outside anything seen in training",
            ));
        }
        Ok(Explained { probability: sigmoid(logit), logit, contributions, warnings })
    }

    /// The table column of each feature (`None` and a warning when the table lacks it: that feature then
    /// counts as average for every row).
    pub fn bind(&self, table: &Table) -> (Vec<Option<usize>>, Vec<String>) {
        let mut warnings = Vec::new();
        let cols = self
            .features
            .iter()
            .map(|f| {
                let c = table.find_column(f.column());
                if c.is_none() {
                    warnings.push(format!(
                        "the table has no column `{}` the model was trained on; it counts as average",
                        f.column()
                    ));
                }
                c
            })
            .collect();
        (cols, warnings)
    }

    /// Probabilities for every row of `table` (explanations: [`Self::explain_row`]).
    pub fn predict_proba(&self, table: &Table) -> Result<Vec<f64>> {
        let (cols, _) = self.bind(table);
        (0..table.len()).map(|r| self.explain_row(table, r, &cols).map(|e| e.probability)).collect()
    }

    /// Writes `dir/churn.json` (via a temporary file, so a crash never leaves half a model).
    pub fn save(&self, dir: &Path) -> Result<()> {
        self.check(dir)?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(MODEL_FILE);
        let tmp = dir.join(format!(".{MODEL_FILE}.tmp"));
        let json = serde_json::to_string_pretty(self).map_err(|e| Error::Config(e.to_string()))? + "\n";
        std::fs::write(&tmp, json).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
    }

    /// Reads `dir/churn.json` (or the file itself when `dir` is a file); refuses other formats and versions.
    pub fn load(dir: &Path) -> Result<ChurnModel> {
        let path = if dir.is_file() { dir.to_path_buf() } else { dir.join(MODEL_FILE) };
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let raw: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| Error::model_load(&path, format!("not JSON: {e}")))?;
        if raw.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(Error::model_load(
                &path,
                format!("not a copiloot churn model (expected \"format\": \"{FORMAT}\"); train one with `copiloot train churn`"),
            ));
        }
        let version = raw.get("format_version").and_then(|v| v.as_u64());
        if version != Some(u64::from(FORMAT_VERSION)) {
            return Err(Error::model_load(
                &path,
                format!(
                    "churn model format version {} but this copiloot reads version {FORMAT_VERSION}; retrain it \
                     with `copiloot train churn` (or use the copiloot version that wrote it)",
                    version.map_or_else(|| "unknown".to_string(), |v| v.to_string())
                ),
            ));
        }
        let model: ChurnModel = serde_json::from_value(raw)
            .map_err(|e| Error::model_load(&path, format!("bad churn model: {e}")))?;
        model.check(&path)?;
        Ok(model)
    }

    /// Every number finite, every scale positive, bands ordered: a model that passes never yields NaN.
    pub fn check(&self, path: &Path) -> Result<()> {
        let bad = |what: String| Error::model_load(path, format!("{what}; retrain the model"));
        if !self.intercept.is_finite() {
            return Err(bad("the intercept is not finite".into()));
        }
        for f in &self.features {
            let params: Vec<(f64, f64, f64)> = match f {
                Feature::Numeric { center, scale, coefficient, .. } => vec![(*center, *scale, *coefficient)],
                Feature::Categorical { levels, .. } => {
                    levels.iter().map(|l| (l.center, l.scale, l.coefficient)).collect()
                }
            };
            if params.iter().any(|(c, s, k)| !(c.is_finite() && k.is_finite() && s.is_finite() && *s > 0.0)) {
                return Err(bad(format!("feature `{}` has a non-finite number or a scale ≤ 0", f.column())));
            }
        }
        self.bands.check().map_err(|e| bad(e.to_string()))
    }

    /// `(feature, level, coefficient)` rows, largest effect first — what `train churn` prints.
    pub fn coefficients(&self) -> Vec<(String, Option<String>, f64)> {
        let mut rows: Vec<(String, Option<String>, f64)> = Vec::new();
        for f in &self.features {
            match f {
                Feature::Numeric { column, coefficient, .. } => {
                    rows.push((column.clone(), None, *coefficient))
                }
                Feature::Categorical { column, levels } => {
                    rows.extend(levels.iter().map(|l| (column.clone(), Some(l.value.clone()), l.coefficient)))
                }
            }
        }
        rows.sort_by(|a, b| b.2.abs().total_cmp(&a.2.abs()).then_with(|| a.0.cmp(&b.0)));
        rows
    }
}

/// The default conversation model. Coefficients are in logit units per `scale` of the feature, set by
/// hand from what churn studies and save teams report (no labelled Dutch contact-center data exists to fit
/// them; `copiloot train churn` fits them on a company's own history). Why each sign and size:
///
/// | feature | center · scale | coef | why |
/// |---|---|---|---|
/// | intercept | | −2.2 | a contact with no risk signal: ≈ 10 % risk, the yearly churn of a typical telco |
/// | `intent_cancel` | 0 · 0.5 | +1.2 | saying you want to leave is the strongest single predictor (p = 0.8 → +1.9) |
/// | `competitor_mention` | 0 · 1 | +0.8 | a concrete alternative (a named competitor, "overstappen") makes leaving easy |
/// | `unresolved` | 0.5 · 0.5 | +0.6 | an unresolved problem is the main reason service contacts end in churn; resolved lowers risk as much |
/// | `months_to_contract_end` | 12 · 6 | −0.6 | near or past the end the customer can leave for free (1 month → +1.1; 24 → −0.6) |
/// | `repeat_contact` | 0 · 1 | +0.5 | calling again about the same issue: effort is a known churn driver |
/// | `sentiment_end` | 0 · 0.5 | −0.5 | ending angry raises risk, ending happy lowers it (score −1..1) |
/// | `tenure_months` (log1p) | ln 25 · 1 | −0.5 | new customers leave most; 7 months → +0.6, 6 years → −0.5 |
/// | `intent_complaint` | 0 · 0.5 | +0.4 | a complaint signals dissatisfaction, weaker than a stated wish to leave |
/// | `price_complaint` | 0 · 1 | +0.4 | price is the most named reason to switch, but often a negotiation |
/// | `contacts_last_30_days` (clip 0..10) | 1 · 1.5 | +0.4 | many contacts in a month mean trouble (4 → +0.8) |
/// | `plan_flexible` | 0 · 1 | +0.4 | month-to-month/prepaid: no contract keeps the customer |
/// | `intent_escalation` | 0 · 0.5 | +0.3 | asking for a manager: frustration, mostly already in sentiment |
/// | `sentiment_drop` | 0 · 0.5 | +0.3 | a conversation that makes things worse |
pub fn default_conversation_model() -> ChurnModel {
    let num = |column: &str, transform: Transform, center: f64, scale: f64, coefficient: f64| {
        Feature::Numeric { column: column.to_string(), transform, center, scale, coefficient }
    };
    let id = Transform::Identity;
    ChurnModel::new(
        "default-conversation-v1".to_string(),
        ModelKind::Conversation,
        -2.2,
        vec![
            num("intent_cancel", id, 0.0, 0.5, 1.2),
            num("intent_complaint", id, 0.0, 0.5, 0.4),
            num("intent_escalation", id, 0.0, 0.5, 0.3),
            num("sentiment_end", id, 0.0, 0.5, -0.5),
            num("sentiment_drop", id, 0.0, 0.5, 0.3),
            num("unresolved", id, 0.5, 0.5, 0.6),
            num("competitor_mention", id, 0.0, 1.0, 0.8),
            num("price_complaint", id, 0.0, 1.0, 0.4),
            num("repeat_contact", id, 0.0, 1.0, 0.5),
            num("tenure_months", Transform::Log1p, 25f64.ln(), 1.0, -0.5),
            num("months_to_contract_end", Transform::Clip { min: 0.0, max: 24.0 }, 12.0, 6.0, -0.6),
            num("contacts_last_30_days", Transform::Clip { min: 0.0, max: 10.0 }, 1.0, 1.5, 0.4),
            num("plan_flexible", id, 0.0, 1.0, 0.4),
        ],
    )
}

/// Loads a model and checks it reads conversations (a tabular model cannot score a conversation).
pub fn load_conversation_model(dir: &Path) -> Result<ChurnModel> {
    let model = ChurnModel::load(dir)?;
    if model.kind != ModelKind::Conversation {
        return Err(Error::invalid(
            Location::default().with_source(dir.display().to_string()),
            "this churn model was trained on a customer table, not on conversations; score tables with \
             `copiloot churn --table FILE --model DIR`, or train on conversations with an outcome label",
        ));
    }
    Ok(model)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn default_model_is_valid_and_saves_and_loads() {
        let m = default_conversation_model();
        m.check(Path::new("default")).unwrap();
        assert!((m.baseline() - 0.0998).abs() < 1e-3);
        let dir = tempfile::tempdir().unwrap();
        m.save(dir.path()).unwrap();
        let loaded = ChurnModel::load(dir.path()).unwrap();
        // JSON keeps every number to the last bit or one ulp off (serde_json without float_roundtrip).
        assert_eq!(
            (loaded.name.as_str(), loaded.kind, loaded.features.len()),
            (m.name.as_str(), m.kind, m.features.len())
        );
        let t = Table::from_rows(
            vec!["tenure_months".into(), "intent_cancel".into()],
            vec![vec![Some("7".into()), Some("0.9".into())]],
        )
        .unwrap();
        let (a, b) = (m.predict_proba(&t).unwrap()[0], loaded.predict_proba(&t).unwrap()[0]);
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }

    #[test]
    fn other_versions_and_formats_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = serde_json::to_value(default_conversation_model()).unwrap();
        v["format_version"] = 99.into();
        std::fs::write(dir.path().join(MODEL_FILE), v.to_string()).unwrap();
        let e = ChurnModel::load(dir.path()).unwrap_err();
        assert!(matches!(e, Error::ModelLoad { .. }));
        assert!(e.to_string().contains("version 99") && e.to_string().contains("retrain"), "{e}");
        std::fs::write(dir.path().join(MODEL_FILE), "{\"format\": \"copiloot-linear-head\"}").unwrap();
        assert!(ChurnModel::load(dir.path()).unwrap_err().to_string().contains("not a copiloot churn model"));
        v["format_version"] = FORMAT_VERSION.into();
        v["features"][0]["scale"] = 0.0.into();
        std::fs::write(dir.path().join(MODEL_FILE), v.to_string()).unwrap();
        assert!(ChurnModel::load(dir.path()).unwrap_err().to_string().contains("scale"));
    }

    #[test]
    fn contributions_sum_to_the_logit_and_unknowns_count_as_average() {
        let m = ChurnModel::new(
            "t".into(),
            ModelKind::Tabular,
            -1.0,
            vec![
                Feature::Numeric {
                    column: "x".into(),
                    transform: Transform::Identity,
                    center: 2.0,
                    scale: 2.0,
                    coefficient: 0.5,
                },
                Feature::Categorical {
                    column: "c".into(),
                    levels: vec![
                        Level { value: "a".into(), center: 0.5, scale: 0.5, coefficient: 1.0 },
                        Level { value: "b".into(), center: 0.5, scale: 0.5, coefficient: -1.0 },
                    ],
                },
            ],
        );
        let t = Table::from_rows(
            vec!["x".into(), "c".into()],
            vec![vec![Some("6".into()), Some("a".into())], vec![None, Some("zzz".into())]],
        )
        .unwrap();
        let (cols, w) = m.bind(&t);
        assert!(w.is_empty());
        let e = m.explain_row(&t, 0, &cols).unwrap();
        // x: 0.5·(6−2)/2 = 1; c=a: 1·(1−.5)/.5 + (−1)·(0−.5)/.5 = 2.
        assert!(
            (e.contributions[0].logit - 1.0).abs() < 1e-12 && (e.contributions[1].logit - 2.0).abs() < 1e-12
        );
        assert!((e.logit - 2.0).abs() < 1e-12 && (e.probability - sigmoid(2.0)).abs() < 1e-12);
        let e = m.explain_row(&t, 1, &cols).unwrap();
        assert_eq!(e.logit, -1.0);
        assert!(e.warnings[0].contains("unseen in training"), "{:?}", e.warnings);
        let bad = Table::from_rows(vec!["x".into()], vec![vec![Some("many".into())]]).unwrap();
        let (cols, w) = m.bind(&bad);
        assert_eq!(w.len(), 1);
        assert!(m.explain_row(&bad, 0, &cols).unwrap_err().to_string().contains("not a number"));
    }
}
