//! Note styles: per language, the words a composed note uses and the tables that turn the turns' first-
//! and second-person words into third person. Dutch and English are compiled in
//! (`assets/note_styles/*.toml`); a further language is one more such file in
//! `models/summary/note_styles/`, no code.

use crate::conversation::Parties;
use crate::error::{Error, Result};
use regex::Regex;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// The shipped styles, compiled in so the library works without a models folder.
pub const BUILTIN_STYLES: &[(&str, &str)] = &[
    ("nl", include_str!("../../../../assets/note_styles/nl.toml")),
    ("en", include_str!("../../../../assets/note_styles/en.toml")),
];

/// Where further styles live in a models folder (`<code>.toml`, same keys as the shipped ones).
pub fn styles_dir(models_dir: &Path) -> std::path::PathBuf {
    models_dir.join("summary").join("note_styles")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleFile {
    language: String,
    nouns: Nouns,
    labels: Labels,
    person: PersonFile,
    verbs: VerbsFile,
    #[serde(default)]
    reports: Reports,
    #[serde(default)]
    requests: RequestsFile,
    #[serde(default)]
    offers: OffersFile,
    #[serde(default)]
    facts: FactsFile,
}

/// What the note calls the parties.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nouns {
    pub customer: String,
    pub agent: String,
    pub company: String,
}

/// The fixed words of a note.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    pub offer: String,
    pub accepted: String,
    pub declined: String,
    pub considering: String,
    pub open: String,
    pub status: String,
    pub resolved: String,
    pub partial: String,
    pub unresolved: String,
    /// The status of a request carried out, which is not a solved problem.
    pub cancelled: String,
    /// The whole note when the customer only greeted or thanked.
    pub nothing_asked: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonFile {
    verb_second: bool,
    self_subject: Vec<String>,
    self_subject_plural: Vec<String>,
    other_subject: Vec<String>,
    #[serde(default)]
    other_subject_plural: Vec<String>,
    self_words: BTreeMap<String, String>,
    other_words: BTreeMap<String, String>,
    subordinators: Vec<String>,
    not_verbs: Vec<String>,
    adverbs: Vec<String>,
    #[serde(default)]
    adverb_suffix: String,
    openers: Vec<String>,
    #[serde(default)]
    greetings: Vec<String>,
    #[serde(default)]
    addressees: Vec<String>,
    #[serde(default)]
    connectives: Vec<String>,
    #[serde(default)]
    start_words: BTreeMap<String, String>,
    #[serde(default)]
    capitalized: Vec<String>,
    #[serde(default)]
    proper: Vec<String>,
    #[serde(default)]
    auxiliaries: Vec<String>,
    #[serde(default)]
    object_after: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerbsFile {
    #[serde(rename = "self")]
    first: BTreeMap<String, String>,
    plural: BTreeMap<String, String>,
    other: BTreeMap<String, String>,
    unchanged: Vec<String>,
    self_rules: Vec<(String, String)>,
    plural_rules: Vec<(String, String)>,
    #[serde(default)]
    other_rules: Vec<(String, String)>,
}

/// Who said it, before a sentence that does not name its speaker ("{customer} says ").
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reports {
    #[serde(default)]
    pub customer: String,
    #[serde(default)]
    pub agent: String,
    /// Before a customer's reason said in a clearly negative turn ("{customer} is complaining that ");
    /// `customer` when empty.
    #[serde(default)]
    pub customer_complaint: String,
    #[serde(default)]
    pub customer_question: String,
    #[serde(default)]
    pub agent_question: String,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestsFile {
    #[serde(default)]
    lead: String,
    #[serde(default)]
    drop: Vec<String>,
    #[serde(default)]
    verbs: Vec<String>,
    #[serde(default)]
    question_leads: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OffersFile {
    #[serde(default)]
    leads: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FactsFile {
    #[serde(default)]
    duration: Vec<String>,
}

/// Whose word a pronoun is: the speaker's own, or the one spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Own,
    Other,
}

/// A verb agreement: a table of forms, then the first matching rule.
#[derive(Debug, Clone, Default)]
pub struct Agreement {
    pub table: HashMap<String, String>,
    pub rules: Vec<(Regex, String)>,
}

/// One compiled style.
#[derive(Debug, Clone)]
pub struct NoteStyle {
    pub language: String,
    pub nouns: Nouns,
    pub labels: Labels,
    pub reports: Reports,
    pub verb_second: bool,
    /// Subject pronoun → (whose, plural).
    pub subjects: HashMap<String, (Role, bool)>,
    /// Other pronouns and contractions → (whose, replacement with `{self}`/`{other}`/… placeholders).
    pub words: HashMap<String, (Role, String)>,
    pub subordinators: HashSet<String>,
    pub not_verbs: HashSet<String>,
    pub adverbs: HashSet<String>,
    /// Longer words with this ending are adverbs too ("accidentally", "finally"; "" = none).
    pub adverb_suffix: String,
    pub openers: HashSet<String>,
    /// Greetings left out together with the addressee up to a comma ("Hi there, …").
    pub greetings: HashSet<String>,
    /// Whom a greeting may address besides a name ("there", "team").
    pub addressees: HashSet<String>,
    /// Openers left out even without a comma after them ("En ik wil …").
    pub connectives: HashSet<String>,
    /// Replacements at the start of a sentence, before `words`.
    pub start_words: HashMap<String, String>,
    pub own: Agreement,
    pub plural: Agreement,
    /// The other party's forms: only these make an ambiguous pronoun ("u", "you") a subject inside a
    /// clause; at its start `other_rules` apply too.
    pub other: Agreement,
    /// Words written with a capital anywhere ("I"): not names.
    pub capitalized: HashSet<String>,
    /// Words that keep their capital when a report puts them mid-sentence ("Agent states that Saturday …"):
    /// English weekdays and months, as written in the style file.
    pub proper: Vec<String>,
    /// Auxiliaries before the subject of a question ("Where do I …"), in languages without verb-second.
    pub auxiliaries: HashSet<String>,
    /// Words after which the other's pronoun is an object ("let you know").
    pub object_after: HashSet<String>,
    /// "{agent} asks {customer} to ": how an agent's request to the customer starts in a note ("" = as said).
    pub request_lead: String,
    /// Politeness words left out of such a request ("please").
    pub request_drop: HashSet<String>,
    /// Imperative verbs that open a request ("DM us …", "Stuur …").
    pub request_verbs: HashSet<String>,
    /// How a question that asks for the same opens ("can you", "could you"), lower case.
    pub request_questions: Vec<String>,
    pub unchanged: HashSet<String>,
    pub offer_leads: Vec<Regex>,
    pub duration: Option<Regex>,
}

fn lower_set(words: &[String]) -> HashSet<String> {
    words.iter().map(|w| w.to_lowercase()).collect()
}

fn lower_map(map: &BTreeMap<String, String>) -> HashMap<String, String> {
    map.iter().map(|(k, v)| (k.to_lowercase(), v.clone())).collect()
}

fn compile(pattern: &str, source: &str) -> Result<Regex> {
    Regex::new(&format!("(?i){pattern}"))
        .map_err(|e| Error::Config(format!("{source}: pattern {pattern:?} is not a valid regex: {e}")))
}

fn rules(list: &[(String, String)], source: &str) -> Result<Vec<(Regex, String)>> {
    list.iter().map(|(p, r)| Ok((compile(p, source)?, r.clone()))).collect()
}

impl NoteStyle {
    pub fn from_toml(text: &str, source: &str) -> Result<NoteStyle> {
        let f: StyleFile = toml::from_str(text).map_err(|e| Error::Config(format!("{source}: {e}")))?;
        let p = &f.person;
        let mut subjects = HashMap::new();
        for w in &p.self_subject {
            subjects.insert(w.to_lowercase(), (Role::Own, false));
        }
        for w in &p.self_subject_plural {
            subjects.insert(w.to_lowercase(), (Role::Own, true));
        }
        for w in &p.other_subject {
            subjects.insert(w.to_lowercase(), (Role::Other, false));
        }
        for w in &p.other_subject_plural {
            subjects.insert(w.to_lowercase(), (Role::Other, true));
        }
        let mut words = HashMap::new();
        for (k, v) in &p.self_words {
            words.insert(k.to_lowercase(), (Role::Own, v.clone()));
        }
        for (k, v) in &p.other_words {
            words.insert(k.to_lowercase(), (Role::Other, v.clone()));
        }
        let duration = if f.facts.duration.is_empty() {
            None
        } else {
            let all = f.facts.duration.iter().map(|d| format!("(?:{d})")).collect::<Vec<_>>().join("|");
            Some(compile(&all, source)?)
        };
        Ok(NoteStyle {
            language: f.language,
            nouns: f.nouns,
            labels: f.labels,
            reports: f.reports,
            verb_second: p.verb_second,
            subjects,
            words,
            subordinators: lower_set(&p.subordinators),
            not_verbs: lower_set(&p.not_verbs),
            adverbs: lower_set(&p.adverbs),
            adverb_suffix: p.adverb_suffix.to_lowercase(),
            openers: lower_set(&p.openers),
            greetings: lower_set(&p.greetings),
            addressees: lower_set(&p.addressees),
            connectives: lower_set(&p.connectives),
            start_words: lower_map(&p.start_words),
            own: Agreement { table: lower_map(&f.verbs.first), rules: rules(&f.verbs.self_rules, source)? },
            plural: Agreement {
                table: lower_map(&f.verbs.plural),
                rules: rules(&f.verbs.plural_rules, source)?,
            },
            other: Agreement {
                table: lower_map(&f.verbs.other),
                rules: rules(&f.verbs.other_rules, source)?,
            },
            capitalized: lower_set(&p.capitalized),
            proper: p.proper.clone(),
            auxiliaries: lower_set(&p.auxiliaries),
            object_after: lower_set(&p.object_after),
            request_lead: f.requests.lead,
            request_drop: lower_set(&f.requests.drop),
            request_verbs: lower_set(&f.requests.verbs),
            request_questions: f.requests.question_leads.iter().map(|q| q.to_lowercase()).collect(),
            unchanged: lower_set(&f.verbs.unchanged),
            offer_leads: f.offers.leads.iter().map(|l| compile(l, source)).collect::<Result<_>>()?,
            duration,
        })
    }
}

impl NoteStyle {
    /// A word the verb agreement skips between a subject and its verb ("I really need", "I accidentally
    /// put"): one of the listed adverbs, or a word of seven letters or more with the adverb ending.
    pub fn is_adverb(&self, word: &str) -> bool {
        self.adverbs.contains(word)
            || !self.adverb_suffix.is_empty()
                && word.chars().count() >= 7
                && word.ends_with(&self.adverb_suffix)
    }

    /// This style calling the parties as the transcript does (blank names keep the style's nouns);
    /// `None` when no name is given.
    pub fn with_parties(&self, parties: &Parties) -> Option<NoteStyle> {
        let name =
            |n: &Option<String>| n.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(String::from);
        let (customer, agent) = (name(&parties.customer), name(&parties.agent));
        if customer.is_none() && agent.is_none() {
            return None;
        }
        let mut style = self.clone();
        style.nouns.customer = customer.unwrap_or(style.nouns.customer);
        style.nouns.agent = agent.unwrap_or(style.nouns.agent);
        Some(style)
    }
}

/// The styles a summary can write in, by language code; English is the fallback.
#[derive(Debug, Clone)]
pub struct NoteStyles {
    by_language: HashMap<String, NoteStyle>,
    /// The built-in English style, for languages without one.
    fallback: NoteStyle,
}

impl NoteStyles {
    /// The shipped Dutch and English styles.
    pub fn builtin() -> Result<NoteStyles> {
        let mut by_language = HashMap::new();
        for (code, text) in BUILTIN_STYLES {
            by_language.insert(
                code.to_string(),
                NoteStyle::from_toml(text, &format!("built-in {code} note style"))?,
            );
        }
        let fallback = by_language
            .get("en")
            .cloned()
            .ok_or_else(|| Error::Config("the built-in note styles have no English style".into()))?;
        Ok(NoteStyles { by_language, fallback })
    }

    /// The shipped styles plus (and overridden by) the `*.toml` files in [`styles_dir`].
    pub fn for_models_dir(models_dir: &Path) -> Result<NoteStyles> {
        let mut styles = Self::builtin()?;
        let dir = styles_dir(models_dir);
        let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(styles) };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
                let style = NoteStyle::from_toml(&text, &path.display().to_string())?;
                styles.by_language.insert(style.language.clone(), style);
            }
        }
        Ok(styles)
    }

    /// The style of `language`, or English.
    pub fn get(&self, language: &str) -> &NoteStyle {
        self.by_language.get(language).unwrap_or(&self.fallback)
    }

    pub fn has(&self, language: &str) -> bool {
        self.by_language.contains_key(language)
    }

    /// Every style (facts such as durations are looked for in all languages: customers mix them).
    pub fn all(&self) -> impl Iterator<Item = &NoteStyle> {
        self.by_language.values()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parties_rename_the_nouns_and_blank_names_keep_them() {
        let styles = NoteStyles::builtin().unwrap();
        let nl = styles.get("nl");
        assert!(nl.with_parties(&Parties::default()).is_none());
        let blank = Parties { customer: Some("  ".into()), agent: None };
        assert!(nl.with_parties(&blank).is_none());
        let named = nl.with_parties(&Parties { customer: Some(" Sanne ".into()), agent: None }).unwrap();
        assert_eq!((named.nouns.customer.as_str(), named.nouns.agent.as_str()), ("Sanne", "medewerker"));
    }
}
