//! Churn risk a save team can act on: a calibrated probability, a band and the reasons behind it, for a
//! conversation, a customer's chain of conversations, or a row of a customer table.
//!
//! The model is logistic regression over standardised features ([`model`]); its logit is a sum, so each
//! feature's part of it is an exact explanation, turned into a sentence in the conversation's language.
//!
//! API (no files needed; the Python module wraps these):
//! - conversations: [`ChurnScorer::builtin`] (default coefficients, shipped phrase lists) or
//!   [`ChurnScorer::load`]; [`ChurnScorer::score_conversation`] from an analysed conversation (intents,
//!   sentiment, resolution, `as_of` date); [`ChurnScorer::score_chain`] for one customer;
//!   [`Copilot::analyze`](crate::Copilot::analyze) fills `Analysis::churn` with it.
//! - tables: [`Table::from_rows`](crate::training::Table::from_rows) / `Table::read` (CSV/TSV/JSONL), `ChurnModel::train` →
//!   `(ChurnModel, TrainReport)`, [`ChurnModel::save`] / [`ChurnModel::load`], [`score_table`] (risks with
//!   reasons) or [`ChurnModel::predict_proba`], `ChurnModel::evaluate` → [`EvalReport`](crate::eval::EvalReport) (ROC AUC, PR AUC,
//!   Brier, calibration per decile, ECE) and [`reliability_png`](crate::eval::plot::reliability_png).
//! - conversation models from labelled history: [`train_conversations`](crate::training::churn::train_conversations)
//!   over [`ChurnSignals`].

pub mod model;
pub mod signals;
mod task;
mod text;

pub use model::{default_conversation_model, Band, Bands, ChurnModel, Feature, ModelKind, Transform};
pub use signals::{ChurnSignals, Date, Evidence, SignalConfig, SIGNAL_COLUMNS};

use crate::conversation::Conversation;
use crate::error::Result;
use crate::tasks::intent::ConversationIntents;
use crate::tasks::sentiment::SentimentAnalysis;
use crate::tasks::summary::Resolution;
use crate::training::table::Table;
use model::Explained;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use text::Lang;

/// The `churn` field of the Analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChurnRisk {
    /// Probability that the customer leaves, 0..1.
    pub score: f64,
    /// `low` / `medium` / `high` by the model's thresholds.
    pub band: Band,
    /// Every feature that moved the score, largest effect first.
    pub reasons: Vec<Reason>,
    /// The model that scored (`default-conversation-v1`, or the name of a trained model).
    pub model: String,
    /// The score of a reference contact with no signal at all (the model's intercept).
    pub baseline: f64,
    /// The inputs, for data teams (present for conversations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signals: Option<ChurnSignals>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One feature's part of the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Reason {
    pub feature: String,
    /// In logit units: positive raises the risk. The contributions plus the baseline's logit give the
    /// score's logit.
    pub contribution: f64,
    /// The feature's input value.
    pub value: serde_json::Value,
    /// A short sentence in the conversation's language.
    pub text: String,
    /// Where in the conversation(s) the signal was found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
}

/// Options of conversation scoring.
#[derive(Debug, Clone, Default)]
pub struct ChurnOptions {
    /// Today's date for "contract ends in N months"; without it the contract end is not used. The CLI
    /// and the server pass the system date.
    pub as_of: Option<Date>,
    /// A model from `copiloot train churn` on conversations (default: the default coefficients).
    pub model: Option<PathBuf>,
    /// Phrase lists (default: `models/churn/signals.toml`, else the shipped lists).
    pub signals: Option<PathBuf>,
    /// Band thresholds instead of the model's.
    pub bands: Option<Bands>,
}

/// Scores conversations: a conversation model and the phrase lists.
#[derive(Debug, Clone)]
pub struct ChurnScorer {
    model: ChurnModel,
    config: SignalConfig,
    as_of: Option<Date>,
}

impl ChurnScorer {
    /// Default coefficients and the shipped phrase lists (no files read).
    pub fn builtin() -> Result<ChurnScorer> {
        Ok(ChurnScorer { model: default_conversation_model(), config: SignalConfig::builtin()?, as_of: None })
    }

    /// As `options` say, with the phrase lists of `models_dir` when it has them.
    pub fn load(models_dir: &Path, options: &ChurnOptions) -> Result<ChurnScorer> {
        let mut model = match &options.model {
            Some(dir) => model::load_conversation_model(dir)?,
            None => default_conversation_model(),
        };
        if let Some(b) = options.bands {
            b.check()?;
            model.bands = b;
        }
        let config = match &options.signals {
            Some(p) => SignalConfig::from_path(p)?,
            None => SignalConfig::for_models_dir(models_dir)?,
        };
        Ok(ChurnScorer { model, config, as_of: options.as_of })
    }

    pub fn model(&self) -> &ChurnModel {
        &self.model
    }

    pub fn config(&self) -> &SignalConfig {
        &self.config
    }

    /// The date scoring uses for the contract end when none is passed.
    pub fn as_of(&self) -> Option<Date> {
        self.as_of
    }

    /// The signals of one analysed conversation (`as_of`: see [`ChurnOptions::as_of`]).
    pub fn signals(
        &self,
        conversation: &Conversation,
        intents: Option<&ConversationIntents>,
        sentiment: Option<&SentimentAnalysis>,
        resolution: Option<Resolution>,
        as_of: Option<Date>,
    ) -> ChurnSignals {
        ChurnSignals::extract(
            &self.config,
            conversation,
            intents,
            sentiment,
            resolution,
            as_of.or(self.as_of),
        )
    }

    /// Risk of one analysed conversation, with reasons in its language.
    pub fn score_conversation(
        &self,
        conversation: &Conversation,
        intents: Option<&ConversationIntents>,
        sentiment: Option<&SentimentAnalysis>,
        resolution: Option<Resolution>,
        as_of: Option<Date>,
    ) -> Result<ChurnRisk> {
        let signals = self.signals(conversation, intents, sentiment, resolution, as_of);
        self.score_signals(&signals, conversation.language.as_deref())
    }

    /// Risk of one customer from the signals of their conversations, oldest first (the rule:
    /// [`ChurnSignals::combine`]).
    pub fn score_chain(&self, chain: &[(String, ChurnSignals)], language: Option<&str>) -> Result<ChurnRisk> {
        self.score_signals(&ChurnSignals::combine(chain), language)
    }

    /// Risk from signals computed earlier (or by the caller).
    pub fn score_signals(&self, signals: &ChurnSignals, language: Option<&str>) -> Result<ChurnRisk> {
        let table = ChurnSignals::table(std::slice::from_ref(signals), &[])?;
        let (cols, mut warnings) = self.model.bind(&table);
        let explained = self.model.explain_row(&table, 0, &cols)?;
        let lang = Lang::of(language);
        let mut reasons: Vec<Reason> = explained
            .contributions
            .iter()
            .filter(|c| c.logit.abs() > 1e-9)
            .map(|c| {
                let text = text::conversation_reason(&c.column, signals, c.logit > 0.0, lang)
                    .unwrap_or_else(|| text::table_reason(&c.column, c.value.as_deref(), None, lang));
                Reason {
                    feature: c.column.clone(),
                    contribution: c.logit,
                    value: json_value(c.value.as_deref()),
                    text,
                    evidence: match c.column.as_str() {
                        "competitor_mention" => signals.competitor.clone(),
                        "price_complaint" => signals.price_complaint.clone(),
                        "repeat_contact" => signals.repeat_contact.clone(),
                        _ => Vec::new(),
                    },
                }
            })
            .collect();
        sort_reasons(&mut reasons);
        warnings.retain(|w| !w.contains("`plan`"));
        warnings.extend(signals.warnings.iter().cloned());
        warnings.extend(explained.warnings.iter().cloned());
        Ok(self.risk(&explained, reasons, Some(signals.clone()), warnings))
    }

    fn risk(
        &self,
        e: &Explained,
        reasons: Vec<Reason>,
        signals: Option<ChurnSignals>,
        warnings: Vec<String>,
    ) -> ChurnRisk {
        ChurnRisk {
            score: e.probability,
            band: self.model.bands.band(e.probability),
            reasons,
            model: self.model.name.clone(),
            baseline: self.model.baseline(),
            signals,
            warnings,
        }
    }
}

fn json_value(v: Option<&str>) -> serde_json::Value {
    match v {
        None => serde_json::Value::Null,
        Some(s) => {
            match crate::training::table::parse_number(s).ok().and_then(serde_json::Number::from_f64) {
                Some(n) => serde_json::Value::Number(n),
                None => serde_json::Value::String(s.to_string()),
            }
        }
    }
}

fn sort_reasons(reasons: &mut [Reason]) {
    reasons.sort_by(|a, b| {
        b.contribution.abs().total_cmp(&a.contribution.abs()).then_with(|| a.feature.cmp(&b.feature))
    });
}

/// Risks with reasons for every row of a customer table (`language` of the sentences: `nl` or English).
/// Never panics: bad numbers are errors naming the cell, unknown categories and missing columns count as
/// average and are listed in `warnings`.
pub fn score_table(model: &ChurnModel, table: &Table, language: Option<&str>) -> Result<Vec<ChurnRisk>> {
    let (cols, bind_warnings) = model.bind(table);
    let lang = Lang::of(language);
    let mut out = Vec::with_capacity(table.len());
    for row in 0..table.len() {
        let e = model.explain_row(table, row, &cols)?;
        let mut reasons: Vec<Reason> = e
            .contributions
            .iter()
            .zip(&model.features)
            .filter(|(c, _)| c.logit.abs() > 1e-9)
            .map(|(c, f)| {
                let above = match f {
                    Feature::Numeric { transform, center, .. } => c
                        .value
                        .as_deref()
                        .and_then(|v| crate::training::table::parse_number(v).ok())
                        .map(|v| transform.apply(v) > *center),
                    Feature::Categorical { .. } => None,
                };
                Reason {
                    feature: c.column.clone(),
                    contribution: c.logit,
                    value: json_value(c.value.as_deref()),
                    text: text::table_reason(&c.column, c.value.as_deref(), above, lang),
                    evidence: Vec::new(),
                }
            })
            .collect();
        sort_reasons(&mut reasons);
        let mut warnings = bind_warnings.clone();
        warnings.extend(e.warnings.iter().cloned());
        out.push(ChurnRisk {
            score: e.probability,
            band: model.bands.band(e.probability),
            reasons,
            model: model.name.clone(),
            baseline: model.baseline(),
            signals: None,
            warnings,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
