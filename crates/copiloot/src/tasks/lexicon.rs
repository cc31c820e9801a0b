//! The phrase lists several tasks read (`models/churn/signals.toml`): competitor names and switching
//! talk, price complaints, repeat contacts, flexible plans. The churn task turns them into features; the
//! summary cites them as facts of the note. Kept here so neither task depends on the other.

use crate::error::{Error, Result};
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The shipped phrase lists, compiled in so the library works without a models folder.
pub const DEFAULT_SIGNALS_TOML: &str = include_str!("../../assets/churn_signals.toml");

/// Where the phrase lists live in a models folder.
pub fn default_signals_path(models_dir: &Path) -> std::path::PathBuf {
    models_dir.join("churn").join("signals.toml")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignalsFile {
    version: u32,
    intents: IntentIds,
    competitors: CompetitorsFile,
    #[serde(default)]
    price: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    repeat_contact: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    plans: PlansFile,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IntentIds {
    pub cancel: Vec<String>,
    pub complaint: Vec<String>,
    pub escalation: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompetitorsFile {
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    names_exact_case: Vec<String>,
    #[serde(default)]
    phrases: BTreeMap<String, Vec<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlansFile {
    #[serde(default)]
    flexible: Vec<String>,
}

/// The compiled phrase lists.
#[derive(Debug, Clone)]
pub struct SignalConfig {
    intents: IntentIds,
    /// Brand names first (so evidence names the competitor), then switching phrases.
    competitor: Vec<Regex>,
    price: Option<Regex>,
    repeat: Option<Regex>,
    flexible_plan: Option<Regex>,
}

impl SignalConfig {
    /// The shipped lists.
    pub fn builtin() -> Result<SignalConfig> {
        Self::from_toml(DEFAULT_SIGNALS_TOML, "built-in churn signals")
    }

    /// `models_dir/churn/signals.toml` when it exists, else the shipped lists.
    pub fn for_models_dir(models_dir: &Path) -> Result<SignalConfig> {
        let path = default_signals_path(models_dir);
        if path.is_file() {
            Self::from_path(&path)
        } else {
            Self::builtin()
        }
    }

    pub fn from_path(path: &Path) -> Result<SignalConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    pub fn from_toml(text: &str, source: &str) -> Result<SignalConfig> {
        let file: SignalsFile = toml::from_str(text).map_err(|e| Error::Config(format!("{source}: {e}")))?;
        if file.version != 1 {
            return Err(Error::Config(format!(
                "{source}: version {} is not supported; use version = 1",
                file.version
            )));
        }
        let words = |names: &[String], ignore_case: bool| -> Result<Option<Regex>> {
            let escaped: Vec<String> =
                names.iter().filter(|n| !n.trim().is_empty()).map(|n| regex::escape(n.trim())).collect();
            compile(&escaped, ignore_case, true, source)
        };
        let phrases = |m: &BTreeMap<String, Vec<String>>| -> Result<Option<Regex>> {
            let all: Vec<String> = m.values().flatten().cloned().collect();
            compile(&all, true, false, source)
        };
        let c = &file.competitors;
        let competitor = [words(&c.names, true)?, words(&c.names_exact_case, false)?, phrases(&c.phrases)?]
            .into_iter()
            .flatten()
            .collect();
        Ok(SignalConfig {
            intents: file.intents,
            competitor,
            price: phrases(&file.price)?,
            repeat: phrases(&file.repeat_contact)?,
            flexible_plan: compile(&file.plans.flexible, true, false, source)?,
        })
    }
    /// The intent ids behind the intent features.
    pub fn intents(&self) -> &IntentIds {
        &self.intents
    }

    /// The first competitor brand (or else switching phrase) in `text` that is not the company the
    /// conversation is with: `own` are its handles ([`own_handles`]), and "Delta" in a tweet to @Delta is
    /// the airline contacted, not a rival.
    pub fn competitor<'t>(&self, text: &'t str, own: &[String]) -> Option<regex::Match<'t>> {
        let is_own = |m: &regex::Match<'_>| {
            let name = squash(m.as_str());
            !name.is_empty() && own.iter().any(|handle| handle.starts_with(&name))
        };
        self.competitor.iter().find_map(|r| r.find_iter(text).find(|m| !is_own(m)))
    }

    /// The first price complaint in `text`.
    pub fn price<'t>(&self, text: &'t str) -> Option<regex::Match<'t>> {
        self.price.as_ref().and_then(|r| r.find(text))
    }

    /// The first sign of an earlier contact about the same thing in `text`.
    pub fn repeat_contact<'t>(&self, text: &'t str) -> Option<regex::Match<'t>> {
        self.repeat.as_ref().and_then(|r| r.find(text))
    }

    /// Whether a plan name is one the customer can leave at any moment.
    pub fn flexible_plan(&self, plan: &str) -> bool {
        self.flexible_plan.as_ref().is_some_and(|r| r.is_match(plan))
    }
}

/// The @handles of a conversation's turns, lower case without punctuation ("@British_Airways" →
/// "britishairways"): the company a social-media conversation is with goes by them.
pub fn own_handles<'t>(texts: impl IntoIterator<Item = &'t str>) -> Vec<String> {
    let mut handles: Vec<String> = Vec::new();
    for text in texts {
        for word in text.split_whitespace().filter_map(|w| w.strip_prefix('@')) {
            let handle = squash(word);
            // Anonymised user ids ("@135060") name no company.
            if handle.chars().any(char::is_alphabetic) && !handles.contains(&handle) {
                handles.push(handle);
            }
        }
    }
    handles
}

/// Lower case, letters and digits only ("Virgin Media" → "virginmedia").
fn squash(name: &str) -> String {
    name.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

fn compile(patterns: &[String], ignore_case: bool, whole_words: bool, source: &str) -> Result<Option<Regex>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    for p in patterns {
        Regex::new(p)
            .map_err(|e| Error::Config(format!("{source}: pattern {p:?} is not a valid regex: {e}")))?;
    }
    let body = patterns.iter().map(|p| format!("(?:{p})")).collect::<Vec<_>>().join("|");
    let flags = if ignore_case { "(?i)" } else { "" };
    let full = if whole_words { format!(r"{flags}\b(?:{body})\b") } else { format!("{flags}(?:{body})") };
    // Bounded size: user lists are small, but a huge file must fail with a message, not eat memory.
    regex::RegexBuilder::new(&full)
        .size_limit(8 << 20)
        .build()
        .map(Some)
        .map_err(|e| Error::Config(format!("{source}: the phrase list does not compile: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_company_contacted_is_no_competitor() {
        let lexicon = SignalConfig::builtin().unwrap();
        let own = own_handles(["@DeltaAssist @135060 my bag is lost", "@135060 Sorry to hear that."]);
        assert_eq!(own, ["deltaassist"]);
        let text = "I will never fly Delta again.";
        assert_eq!(lexicon.competitor(text, &[]).map(|m| m.as_str()), Some("Delta"));
        assert_eq!(lexicon.competitor(text, &own), None);
        // A rival named beside the company still counts.
        let both = "Delta lost my bag, Aviva would never.";
        assert_eq!(lexicon.competitor(both, &own).map(|m| m.as_str()), Some("Aviva"));
        let own = own_handles(["@VirginMedia fix my broadband or I go to BT"]);
        assert_eq!(
            lexicon.competitor("Virgin Media is down, BT is cheaper", &own).map(|m| m.as_str()),
            Some("BT")
        );
    }
}
