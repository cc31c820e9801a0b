//! The intent taxonomy: a readable TOML file of intents with names, descriptions and example utterances per
//! language (`models/taxonomy/intents.toml` ships a contact-center one). Loading validates it so a broken
//! file fails with a message naming the intent to fix, instead of silently classifying badly.

use crate::error::{Error, Location, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Intent id returned when nothing in the taxonomy fits (out of scope). Reserved: a taxonomy may not use it.
pub const OTHER: &str = "other";

/// Where the default taxonomy lives under the models folder.
pub fn default_path(models_dir: &Path) -> PathBuf {
    models_dir.join("taxonomy").join("intents.toml")
}

/// One intent of a taxonomy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IntentDef {
    /// Stable identifier (`cancel`, `billing_question`), what classifiers return.
    pub id: String,
    /// Display name per language code (`en`, `nl`, …).
    #[serde(default)]
    pub name: BTreeMap<String, String>,
    /// One or two sentences per language saying when this intent applies.
    #[serde(default)]
    pub description: BTreeMap<String, String>,
    /// Example utterances per language, as customers say them.
    #[serde(default)]
    pub examples: BTreeMap<String, Vec<String>>,
}

impl IntentDef {
    /// The display name in `lang`, else English, else any, else the id.
    pub fn display_name(&self, lang: Option<&str>) -> &str {
        lang.and_then(|l| self.name.get(l))
            .or_else(|| self.name.get("en"))
            .or_else(|| self.name.values().next())
            .map(String::as_str)
            .unwrap_or(&self.id)
    }

    /// Every text that describes this intent: `name: description` per language, then all examples.
    pub fn texts(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (lang, name) in &self.name {
            match self.description.get(lang) {
                Some(d) => out.push(format!("{name}: {d}")),
                None => out.push(name.clone()),
            }
        }
        for (lang, d) in &self.description {
            if !self.name.contains_key(lang) {
                out.push(d.clone());
            }
        }
        out.extend(self.examples.values().flatten().cloned());
        out
    }

    pub fn example_count(&self) -> usize {
        self.examples.values().map(Vec::len).sum()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Taxonomy {
    #[serde(default = "one")]
    pub version: u32,
    #[serde(default)]
    pub name: String,
    pub intents: Vec<IntentDef>,
}

fn one() -> u32 {
    1
}

impl Taxonomy {
    /// Reads and validates a TOML (or `.json`) taxonomy file.
    pub fn from_path(path: &Path) -> Result<Taxonomy> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let source = path.display().to_string();
        if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
            let t: Taxonomy = serde_json::from_str(&text).map_err(|e| {
                Error::invalid(
                    Location::line(e.line()).with_source(&source),
                    format!("not a valid taxonomy: {e}"),
                )
            })?;
            t.validate(&source)?;
            return Ok(t);
        }
        Self::from_toml_str(&text, &source)
    }

    /// Parses and validates TOML text; `source` names it in errors.
    pub fn from_toml_str(text: &str, source: &str) -> Result<Taxonomy> {
        let t: Taxonomy = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            let mut loc = Location::default().with_source(source);
            loc.line = line;
            Error::invalid(loc, format!("not a valid taxonomy file: {}", e.message()))
        })?;
        t.validate(source)?;
        Ok(t)
    }

    /// A names-only taxonomy from bare labels (`alarm/set_alarm` → name "alarm set alarm"): zero-shot in
    /// its purest form, used by `copiloot eval intent --zero-shot-labels`.
    pub fn from_labels(labels: &[String]) -> Taxonomy {
        let intents = labels
            .iter()
            .map(|l| {
                let words = split_label(l);
                IntentDef {
                    id: l.clone(),
                    name: BTreeMap::from([("en".to_string(), words.clone())]),
                    description: BTreeMap::new(),
                    examples: BTreeMap::from([("en".to_string(), vec![words])]),
                }
            })
            .collect();
        Taxonomy { version: 1, name: "labels".into(), intents }
    }

    /// Extends this taxonomy with a user's: intents with a new id are added; for an existing id, the user's
    /// names and descriptions replace ours per language and their examples are added to ours.
    pub fn extend(&mut self, other: Taxonomy) {
        for theirs in other.intents {
            match self.intents.iter_mut().find(|i| i.id == theirs.id) {
                Some(ours) => {
                    ours.name.extend(theirs.name);
                    ours.description.extend(theirs.description);
                    for (lang, examples) in theirs.examples {
                        ours.examples.entry(lang).or_default().extend(examples);
                    }
                }
                None => self.intents.push(theirs),
            }
        }
    }

    pub fn get(&self, id: &str) -> Option<&IntentDef> {
        self.intents.iter().find(|i| i.id == id)
    }

    pub fn ids(&self) -> Vec<String> {
        self.intents.iter().map(|i| i.id.clone()).collect()
    }

    /// Checks what the classifiers rely on: at least two intents, unique non-empty ids, `other` not used,
    /// and every intent has a name or description and at least one non-empty example.
    pub fn validate(&self, source: &str) -> Result<()> {
        let loc = |i: usize, field: &str| {
            Location::default().with_source(source).with_field(format!("intents[{i}].{field}"))
        };
        if self.intents.len() < 2 {
            return Err(Error::invalid(
                Location::default().with_source(source),
                "a taxonomy needs at least two [[intents]]",
            ));
        }
        let mut seen = HashSet::new();
        for (i, intent) in self.intents.iter().enumerate() {
            let id = intent.id.trim();
            if id.is_empty() {
                return Err(Error::invalid(loc(i, "id"), "the intent has an empty id"));
            }
            if id == OTHER {
                return Err(Error::invalid(
                    loc(i, "id"),
                    format!("`{OTHER}` is reserved for out-of-scope; rename the intent"),
                ));
            }
            if !seen.insert(id) {
                return Err(Error::invalid(
                    loc(i, "id"),
                    format!("duplicate intent id `{id}`; ids must be unique"),
                ));
            }
            if intent.name.is_empty() && intent.description.is_empty() {
                return Err(Error::invalid(
                    loc(i, "name"),
                    format!("intent `{id}` has no name or description"),
                ));
            }
            if intent.examples.values().flatten().all(|e| e.trim().is_empty()) {
                return Err(Error::invalid(
                    loc(i, "examples"),
                    format!("intent `{id}` has no examples; add [intents.examples] with `en = [\"…\"]` (5 or more per language work best)"),
                ));
            }
        }
        Ok(())
    }
}

fn split_label(label: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in label.chars() {
        if matches!(c, '_' | '/' | '-' | '.' | ':') {
            out.push(' ');
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower {
            out.push(' ');
        }
        prev_lower = c.is_lowercase();
        out.extend(c.to_lowercase());
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn shipped() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/taxonomy/intents.toml")
    }

    #[test]
    fn shipped_taxonomy_is_valid_and_bilingual() {
        let t = Taxonomy::from_path(&shipped()).unwrap();
        assert!((15..=30).contains(&t.intents.len()));
        for i in &t.intents {
            for lang in ["en", "nl"] {
                assert!(i.examples.get(lang).map_or(0, Vec::len) >= 5, "{} {lang}", i.id);
                assert!(i.name.contains_key(lang) && i.description.contains_key(lang), "{} {lang}", i.id);
            }
        }
        assert_eq!(t.get("cancel").unwrap().display_name(Some("nl")), "Opzeggen van contract of abonnement");
    }

    #[test]
    fn rejects_duplicates_missing_examples_and_reserved_ids() {
        let two = |a: &str, b: &str| format!("[[intents]]\n{a}\n[[intents]]\n{b}\n");
        let ok = "id = \"x\"\nname = { en = \"X\" }\nexamples = { en = [\"x\"] }";
        let dup = two(ok, ok);
        let err = Taxonomy::from_toml_str(&dup, "t.toml").unwrap_err();
        assert!(
            err.to_string().contains("duplicate intent id `x`") && err.to_string().contains("intents[1].id"),
            "{err}"
        );
        let none = two(ok, "id = \"y\"\nname = { en = \"Y\" }");
        let err = Taxonomy::from_toml_str(&none, "t.toml").unwrap_err();
        assert!(err.to_string().contains("`y` has no examples"), "{err}");
        let other = two(ok, "id = \"other\"\nname = { en = \"O\" }\nexamples = { en = [\"o\"] }");
        assert!(Taxonomy::from_toml_str(&other, "t.toml").unwrap_err().to_string().contains("reserved"));
        let err = Taxonomy::from_toml_str("[[intents]\nid=", "t.toml").unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }) && err.to_string().contains("t.toml"), "{err}");
    }

    #[test]
    fn extend_adds_new_intents_and_examples() {
        let mut t = Taxonomy::from_path(&shipped()).unwrap();
        let n = t.intents.len();
        let before = t.get("cancel").unwrap().example_count();
        let user = Taxonomy::from_toml_str(
            "[[intents]]\nid = \"cancel\"\nname = { de = \"Kündigen\" }\nexamples = { de = [\"Ich will kündigen\"] }\n\
             [[intents]]\nid = \"sim_swap\"\nname = { en = \"SIM swap\" }\nexamples = { en = [\"I need a new SIM\"] }\n",
            "user.toml",
        )
        .unwrap();
        t.extend(user);
        assert_eq!(t.intents.len(), n + 1);
        let cancel = t.get("cancel").unwrap();
        assert_eq!((cancel.example_count(), cancel.display_name(Some("de"))), (before + 1, "Kündigen"));
        t.validate("merged").unwrap();
    }

    #[test]
    fn labels_become_readable_names() {
        let t = Taxonomy::from_labels(&["alarm/set_alarm".into(), "AddToPlaylist".into()]);
        assert_eq!(t.intents[0].texts(), ["alarm set alarm", "alarm set alarm"]);
        assert_eq!(t.intents[1].display_name(None), "add to playlist");
    }
}
