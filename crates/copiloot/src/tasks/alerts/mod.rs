//! Alerts for the agent: moments to act on, each citing the turns that raise it — a customer who wants to
//! leave (retention offer), personal data typed into a chat, a sudden drop in mood, a repeat contact, a long
//! silence. The rules are data (`models/alerts/rules.toml`, built-in copy in `assets/alert_rules.toml`):
//! thresholds and the agent's text per language, so a third language is a line per rule, not code.
//!
//! The checks read what the earlier tasks wrote (intents, sentiment, churn signals and score, PII spans);
//! nothing is encoded again.

mod task;

pub use task::AlertTask;

use crate::conversation::{Channel, Conversation, Speaker};
use crate::error::{Error, Result};
use crate::redact::{PiiKind, TurnSpan};
use crate::tasks::churn::ChurnRisk;
use crate::tasks::intent::ConversationIntents;
use crate::tasks::sentiment::SentimentAnalysis;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The rules shipped with this build; `models_dir/alerts/rules.toml` overrides them.
pub const DEFAULT_RULES_TOML: &str = include_str!("../../../assets/alert_rules.toml");

/// One alert raised for the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Alert {
    /// The rule's id (`retention_offer`, `pii_in_writing`, …), stable for integrations.
    pub id: String,
    /// What the agent should do, in the conversation's language.
    pub message: String,
    /// The turns that raised it, in order.
    pub turns: Vec<usize>,
}

/// When a rule fires; see the header of `alert_rules.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "when", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    ChurnRisk { min_churn: f64, min_intent: f64 },
    Pii { kinds: Vec<PiiKind>, channels: Vec<Channel> },
    SentimentDrop { min_drop: f32 },
    RepeatContact,
    Silence { min_seconds: f64 },
}

/// One rule: an id, its condition and the agent's text per language.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Rule {
    pub id: String,
    #[serde(flatten)]
    pub condition: Condition,
    /// Language code → text; `en` is the fallback and must be there.
    pub text: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    alert: Vec<Rule>,
}

/// What earlier tasks found, as the rules read it.
pub struct Findings<'a> {
    pub conversation: &'a Conversation,
    pub intents: Option<&'a ConversationIntents>,
    pub sentiment: Option<&'a SentimentAnalysis>,
    pub churn: Option<&'a ChurnRisk>,
    pub pii: Option<&'a [TurnSpan]>,
}

/// The alert rules, checked once when loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRules {
    pub rules: Vec<Rule>,
}

impl AlertRules {
    /// The built-in rules.
    pub fn builtin() -> Result<AlertRules> {
        Self::from_toml(DEFAULT_RULES_TOML, "the built-in alert rules")
    }

    /// `models_dir/alerts/rules.toml` when it exists, else the built-in rules.
    pub fn for_models_dir(models_dir: &Path) -> Result<AlertRules> {
        let path = default_rules_path(models_dir);
        if path.is_file() {
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            Self::from_toml(&text, &path.display().to_string())
        } else {
            Self::builtin()
        }
    }

    pub fn from_toml(text: &str, source: &str) -> Result<AlertRules> {
        let file: RulesFile = toml::from_str(text)
            .map_err(|e| Error::Config(format!("{source}: not a valid alert rules file: {e}")))?;
        for rule in &file.alert {
            if !rule.text.contains_key("en") {
                return Err(Error::Config(format!(
                    "{source}: alert `{}` has no English text (`text.en`), the fallback for other languages",
                    rule.id
                )));
            }
        }
        if let Some(dup) =
            file.alert.iter().enumerate().find(|(i, r)| file.alert[..*i].iter().any(|o| o.id == r.id))
        {
            return Err(Error::Config(format!("{source}: alert `{}` is defined twice", dup.1.id)));
        }
        Ok(AlertRules { rules: file.alert })
    }

    /// Every rule that fires, in the order of the rules file.
    pub fn check(&self, findings: &Findings<'_>) -> Vec<Alert> {
        let language = findings.conversation.language.as_deref().unwrap_or("en");
        self.rules
            .iter()
            .filter_map(|rule| {
                let turns = rule.condition.turns(findings);
                (!turns.is_empty()).then(|| Alert {
                    id: rule.id.clone(),
                    message: rule
                        .text
                        .get(language)
                        .or_else(|| rule.text.get("en"))
                        .cloned()
                        .unwrap_or_default(),
                    turns,
                })
            })
            .collect()
    }
}

/// `models_dir/alerts/rules.toml`.
pub fn default_rules_path(models_dir: &Path) -> PathBuf {
    models_dir.join("alerts").join("rules.toml")
}

impl Condition {
    /// The turns that make this condition true (sorted, no repeats); empty when it does not hold.
    fn turns(&self, f: &Findings<'_>) -> Vec<usize> {
        let turns = &f.conversation.turns;
        let mut out: Vec<usize> = match self {
            Condition::ChurnRisk { min_churn, min_intent } => match f.churn {
                Some(churn) if churn.score >= *min_churn => {
                    let competitor =
                        churn.signals.as_ref().map(|s| s.competitor.as_slice()).unwrap_or_default();
                    let mut cited: Vec<usize> = competitor.iter().map(|e| e.turn).collect();
                    let cancel = f.intents.and_then(|i| i.intents.iter().find(|d| d.intent == "cancel"));
                    if let Some(cancel) = cancel.filter(|d| f64::from(d.score) >= *min_intent) {
                        cited.extend(&cancel.turns);
                    }
                    cited
                }
                _ => Vec::new(),
            },
            Condition::Pii { kinds, channels } => {
                if !channels.contains(&f.conversation.channel) {
                    return Vec::new();
                }
                f.pii
                    .unwrap_or_default()
                    .iter()
                    .filter(|s| kinds.contains(&s.span.kind))
                    .filter(|s| turns.get(s.turn).is_some_and(|t| t.speaker == Speaker::Customer))
                    .map(|s| s.turn)
                    .collect()
            }
            Condition::SentimentDrop { min_drop } => {
                let customer: Vec<(usize, f32)> = f
                    .sentiment
                    .map(|s| {
                        s.turns
                            .iter()
                            .filter(|t| t.speaker == Speaker::Customer)
                            .map(|t| (t.turn, t.score))
                            .collect()
                    })
                    .unwrap_or_default();
                customer
                    .windows(2)
                    .filter(|w| w[0].1 - w[1].1 >= *min_drop)
                    .flat_map(|w| [w[0].0, w[1].0])
                    .collect()
            }
            Condition::RepeatContact => f
                .churn
                .and_then(|c| c.signals.as_ref())
                .map(|s| s.repeat_contact.iter().map(|e| e.turn).collect())
                .unwrap_or_default(),
            Condition::Silence { min_seconds } => turns
                .windows(2)
                .filter_map(|w| match (w[0].timestamp, w[1].timestamp) {
                    (Some(a), Some(b)) if b - a >= *min_seconds => Some(w[1].index),
                    _ => None,
                })
                .collect(),
        };
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests;
