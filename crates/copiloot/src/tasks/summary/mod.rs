//! Grounded summary of a conversation: why the customer got in touch, what the agent did, whether it was
//! solved, who promised what by when, and the facts (dates, amounts, order and ticket numbers) — every item
//! citing its turns and quoting its span — plus a short CRM note built from those fields.
//!
//! Extractive on purpose: it needs only the encoder (any language it knows), cannot invent facts, and
//! handles conversations of any length, because every turn is read on its own. Per-turn work (sentence
//! cues, facts, prototype similarities) is kept in `TurnState`s, so [`Summarizer::update`] processes
//! only new turns during a live conversation.

pub mod claims;
pub mod compose;
mod cues;
pub mod extract;
mod fields;
pub mod gate;
pub mod llm;
pub mod mentions;
pub mod offers;
mod prototypes;
pub mod rewrite;
mod summarizer;
mod task;

pub use claims::{unsupported_claims, ClaimKind, UnsupportedClaim};
pub use compose::{NoteStyle, NoteStyles};
pub use extract::EntityKind;
pub use mentions::{Mention, MentionKind};
pub use offers::{Offer, OfferResponse};
pub use prototypes::Prototypes;
pub use rewrite::{GroundedField, PromptTurn, Rewrite};
pub use summarizer::Summarizer;
pub use task::SummaryTask;

use crate::conversation::{Conversation, Parties, Speaker, Turn};
use crate::error::{Error, Location, Result};
use crate::tasks::lexicon::SignalConfig;
use crate::tasks::{TaskMemo, TextEmbedder};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::path::Path;

/// How far the customer's problem was solved in the conversation. Decided by the summary task (with the
/// turns that decide it) and read by the churn task as a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Resolution {
    Resolved,
    Partial,
    Unresolved,
    #[default]
    Unknown,
}

/// A claim with its grounding: `text` is what the note says, `quote` the exact span of the (redacted)
/// turn it comes from, `turns` the indices of the turns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    pub text: String,
    pub turns: Vec<usize>,
    pub quote: String,
}

/// How far the customer's problem was solved, with the turns that decide it. A request carried out is not
/// a problem solved: a processed cancellation ([`RequestOutcome`]) is never `resolved` (the customer
/// leaves); it is `unresolved` with the confirming sentence, unless something is still pending (`partial`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResolutionField {
    pub status: Resolution,
    pub turns: Vec<usize>,
    /// The deciding sentence (empty when the status is `unknown`).
    pub quote: String,
}

/// What the customer asked to have done, apart from their problem: a cancellation can be carried out
/// (`handled`) while the problem that made the customer leave is not solved. Added to the summary next to
/// `resolution` without changing it for other conversations, so the schema stays backward compatible
/// (no `schema_version` bump): readers that do not know `request` see the same fields as before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RequestOutcome {
    pub kind: RequestKind,
    /// The agent confirmed it was carried out ("the cancellation confirmation by email").
    pub handled: bool,
    /// The customer turns that ask for it and, when handled, the turn that confirms it.
    pub turns: Vec<usize>,
    /// The confirming sentence (empty when not handled).
    pub quote: String,
}

/// The requests the summary tells apart from the problem (more kinds come with more cue lists in
/// `cues.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RequestKind {
    /// Ending a subscription, contract or account (not an order or an appointment).
    Cancellation,
}

/// A promise or next step: who promised what, by when, with the facts its sentence holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Commitment {
    #[schemars(with = "String")]
    pub who: Speaker,
    pub what: String,
    /// The date, deadline or time in the promise ("within 3 to 5 working days", "donderdag 14 november").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amounts: Vec<String>,
    /// Order, ticket or reference numbers in the promise or its turn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    pub turns: Vec<usize>,
    pub quote: String,
}

/// A fact found in the conversation and the turns that mention it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Entity {
    pub kind: EntityKind,
    pub value: String,
    pub turns: Vec<usize>,
}

/// The `summary` field of the Analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// Language of the note (`nl` or `en`; other languages get English labels around their own quotes).
    pub language: String,
    /// Why the customer got in touch; `None` without customer turns.
    pub reason: Option<Evidence>,
    /// The problem behind the reason when the customer states it in another sentence ("het internet
    /// valt al drie weken uit" behind "ik wil opzeggen").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Evidence>,
    /// Competitor, price, earlier-contact and how-long facts of the customer's turns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<Mention>,
    /// What the agent did, in order.
    pub actions: Vec<Evidence>,
    pub resolution: ResolutionField,
    /// A cancellation the customer asked for and whether it was carried out; absent when the customer
    /// asked for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestOutcome>,
    /// Promises and next steps, in order.
    pub next_steps: Vec<Commitment>,
    /// What the agent offered or proposed and how the customer answered (absent when nothing was offered).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offers: Vec<Offer>,
    pub entities: Vec<Entity>,
    /// The CRM note: the fields above composed in the third person and the conversation's language
    /// (its note style; English for languages without one), within `max_chars`.
    pub text: String,
    /// Turns read (all of them: long conversations are read turn by turn, never cut).
    pub turns_read: usize,
    /// E.g. turns longer than the encoder reads (their selection scores saw only the start; the quotes and
    /// facts come from the whole text), or a note shortened to `max_chars`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The note rewritten by a local LLM when a generator is configured ([`llm::rewrite`]), with the
    /// fields' evidence and the claims the conversation does not support. When the quality gate held it
    /// back, `rewrite.withheld` says why (and so does a warning): `text` above is then the note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<Rewrite>,
}

/// The shortest note budget accepted: below it not even the reason for contact fits.
pub const MIN_NOTE_CHARS: usize = 40;

/// A turn's sentiment at or below this reads clearly negative: a reason for contact said so is a
/// complaint, and a conversation whose customer ends so is not resolved.
const CLEARLY_NEGATIVE: f32 = -0.4;

/// Knobs of the summary. Defaults are documented per field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryOptions {
    /// Longest CRM note in characters (default 500, at least [`MIN_NOTE_CHARS`]); items are dropped
    /// whole, least important first; a reason longer than the whole budget is cut at a word with `…`.
    /// 500 holds the facts of a typical call (measured: see `eval summary`'s facts kept).
    pub max_chars: usize,
    /// Agent actions per segment of `segment_turns` turns (default 2 for the first segment, 1 for each
    /// further one, at most `max_actions` in all).
    pub max_actions: usize,
    /// Next steps listed (default 4).
    pub max_next_steps: usize,
    /// Long conversations are read in segments of this many turns so the cited turns cover all of it
    /// (default 40).
    pub segment_turns: usize,
}

impl Default for SummaryOptions {
    fn default() -> Self {
        Self { max_chars: 500, max_actions: 8, max_next_steps: 4, segment_turns: 40 }
    }
}

/// What other tasks found that the summary uses when present.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    /// Turns cited by the primary intent (the reason for contact is looked for there first).
    pub primary_intent_turns: Vec<usize>,
    /// The primary intent's id (a cancel intent makes the request a cancellation).
    pub primary_intent: Option<String>,
    /// Sentiment score (−1..1) per turn, in turn order.
    pub sentiment: Option<Vec<f32>>,
}

impl Signals {
    /// From the intent and sentiment analyses of the same conversation (either may be missing when the
    /// task list lacks it).
    pub fn from_tasks(
        intents: Option<&crate::tasks::intent::ConversationIntents>,
        sentiment: Option<&crate::tasks::sentiment::SentimentAnalysis>,
    ) -> Signals {
        let primary = intents.and_then(|i| i.intents.iter().find(|d| Some(&d.intent) == i.primary.as_ref()));
        Signals {
            primary_intent_turns: primary.map(|d| d.turns.clone()).unwrap_or_default(),
            primary_intent: intents.and_then(|i| i.primary.clone()),
            sentiment: sentiment.map(|s| s.turns.iter().map(|t| t.score).collect()),
        }
    }
}

/// Everything the summary keeps about one turn, so an update never redoes it.
#[derive(Debug, Clone)]
pub(crate) struct TurnState {
    pub index: usize,
    pub speaker: Speaker,
    /// The text quotes come from: redacted unless redaction is off.
    pub text: String,
    pub sentences: Vec<cues::Sentence>,
    pub facts: Vec<extract::Found>,
    pub embedding: Vec<f32>,
    /// Similarity to each prototype class.
    pub proto: [f32; prototypes::CLASSES],
    pub sentiment: Option<f32>,
    pub truncated: bool,
}

/// The summary model: prototypes for one encoder, the phrase lists, the note styles and the options.
/// Cheap to share.
#[derive(Debug, Clone)]
pub struct SummaryModel {
    prototypes: Prototypes,
    lexicon: std::sync::Arc<SignalConfig>,
    styles: std::sync::Arc<NoteStyles>,
    pub options: SummaryOptions,
}

impl SummaryModel {
    /// Embeds the prototypes with `embedder` (cached under `models_dir/.cache`); the phrase lists and
    /// note styles of `models_dir` when it has them, else the shipped ones.
    pub fn load(models_dir: &Path, embedder: &dyn TextEmbedder) -> Result<SummaryModel> {
        Self::load_with_lexicon(models_dir, embedder, SignalConfig::for_models_dir(models_dir)?)
    }

    /// [`Self::load`] with the phrase lists already loaded (the churn task's, so both read the same).
    pub fn load_with_lexicon(
        models_dir: &Path,
        embedder: &dyn TextEmbedder,
        lexicon: SignalConfig,
    ) -> Result<SummaryModel> {
        Ok(SummaryModel {
            prototypes: Prototypes::load(models_dir, embedder)?,
            lexicon: std::sync::Arc::new(lexicon),
            styles: std::sync::Arc::new(NoteStyles::for_models_dir(models_dir)?),
            options: SummaryOptions::default(),
        })
    }

    /// Without a cache, with the shipped phrase lists and note styles.
    pub fn new(embedder: &dyn TextEmbedder) -> Result<SummaryModel> {
        Ok(SummaryModel {
            prototypes: Prototypes::build(embedder)?,
            lexicon: std::sync::Arc::new(SignalConfig::builtin()?),
            styles: std::sync::Arc::new(NoteStyles::builtin()?),
            options: SummaryOptions::default(),
        })
    }

    /// The note styles this model writes in.
    pub fn styles(&self) -> &NoteStyles {
        &self.styles
    }

    /// The note style of `language`, calling the parties as the conversation names them: the composed
    /// note and the facts an LLM rewrite is given use the same nouns.
    pub(crate) fn style_for(&self, language: &str, parties: &Parties) -> Cow<'_, NoteStyle> {
        let style = self.styles.get(language);
        style.with_parties(parties).map_or(Cow::Borrowed(style), Cow::Owned)
    }

    pub fn with_options(mut self, options: SummaryOptions) -> Self {
        self.options = options;
        self
    }

    pub(crate) fn turn_state(
        &self,
        turn: &Turn,
        display_text: &str,
        embedding: Vec<f32>,
        sentiment: Option<f32>,
        truncated: bool,
    ) -> TurnState {
        TurnState {
            index: turn.index,
            speaker: turn.speaker,
            text: display_text.to_string(),
            sentences: cues::sentences(display_text),
            facts: extract::find(display_text),
            proto: self.prototypes.similarities(&embedding),
            embedding,
            sentiment,
            truncated,
        }
    }

    /// Summary of a whole conversation from the facade's turn embeddings (one per turn, query role).
    /// `display` holds the texts quotes may show (redacted ones, or the originals with redaction off),
    /// one per turn; `truncated` the turns the encoder cut.
    pub fn summarize(
        &self,
        conversation: &Conversation,
        display: &[String],
        embeddings: &[Vec<f32>],
        truncated: &[usize],
        signals: &Signals,
    ) -> Result<Summary> {
        self.summarize_memo(conversation, display, embeddings, truncated, signals, &mut TaskMemo::default())
    }

    /// [`Self::summarize`], reusing the per-turn states kept in `memo` (a live session).
    pub(crate) fn summarize_memo(
        &self,
        conversation: &Conversation,
        display: &[String],
        embeddings: &[Vec<f32>],
        truncated: &[usize],
        signals: &Signals,
        memo: &mut TaskMemo,
    ) -> Result<Summary> {
        let n = conversation.turns.len();
        if embeddings.len() != n || display.len() != n {
            return Err(Error::invalid(
                Location::field("turn_embeddings"),
                format!(
                    "{} embeddings and {} texts for {n} turns; pass one of each per turn",
                    embeddings.len(),
                    display.len()
                ),
            ));
        }
        let states = memo.per_turn("summary", n, |new| {
            Ok(new
                .map(|i| {
                    let turn = &conversation.turns[i];
                    let sentiment = signals.sentiment.as_ref().and_then(|s| s.get(i).copied());
                    let truncated = truncated.contains(&turn.index);
                    self.turn_state(turn, &display[i], embeddings[i].clone(), sentiment, truncated)
                })
                .collect())
        })?;
        let language = conversation.language.clone().or_else(|| conversation.detect_language());
        self.build(&conversation.id, states, language.as_deref(), &conversation.parties, signals)
    }

    /// The summary of the turns in `states`.
    pub(crate) fn build(
        &self,
        id: &str,
        states: &[TurnState],
        language: Option<&str>,
        parties: &Parties,
        signals: &Signals,
    ) -> Result<Summary> {
        if states.is_empty() {
            return Err(Error::invalid(
                Location::field("turns"),
                format!("conversation `{id}` has no turns; a summary needs at least one customer turn"),
            ));
        }
        if !states.iter().any(|s| s.speaker == Speaker::Customer) {
            return Err(Error::invalid(
                Location::field("turns"),
                format!(
                    "conversation `{id}` has no customer turns, so there is no reason for contact to \
                     summarise; check the speaker names (customer/klant) or map them"
                ),
            ));
        }
        let o = &self.options;
        if o.max_chars < MIN_NOTE_CHARS {
            return Err(Error::invalid(
                Location::field("max_chars"),
                format!(
                    "a note of at most {} characters cannot hold one fact; give at least {MIN_NOTE_CHARS}",
                    o.max_chars
                ),
            ));
        }
        let language = if language == Some("nl") { "nl" } else { language.unwrap_or("en") };
        // Only greetings, thanks and sign-offs from the customer: there is no reason to report, and their
        // "thanks, bye" solves nothing. The note then says so (a documented minimal note).
        let nothing_asked = states
            .iter()
            .filter(|s| s.speaker == Speaker::Customer)
            .all(|s| s.sentences.iter().all(|x| x.cues.filler));
        let reason = if nothing_asked { None } else { fields::reason(states, &signals.primary_intent_turns) };
        let scored = fields::actions(states, o);
        let actions: Vec<Evidence> = scored.iter().map(|(e, _)| e.clone()).collect();
        let scores: Vec<f32> = scored.iter().map(|(_, s)| *s).collect();
        let request = fields::request(states, signals.primary_intent.as_deref());
        let mut resolution = if nothing_asked {
            ResolutionField { status: Resolution::Unknown, turns: Vec::new(), quote: String::new() }
        } else {
            fields::resolution(states)
        };
        if let Some(done) = request.as_ref().filter(|r| r.handled) {
            // The customer leaves: the confirmation is no solved problem (nor is their thanks for it).
            if matches!(resolution.status, Resolution::Resolved | Resolution::Unknown) {
                resolution = ResolutionField {
                    status: Resolution::Unresolved,
                    turns: done.turns.last().copied().into_iter().collect(),
                    quote: done.quote.clone(),
                };
            }
        }
        let next_steps = fields::next_steps(states, o.max_next_steps);
        let entities = fields::entities(states);
        let mut warnings: Vec<String> = states
            .iter()
            .filter(|s| s.truncated)
            .map(|s| {
                format!(
                    "turn {} is longer than the encoder reads: its selection score saw only the start \
                     (quotes and facts come from the whole turn)",
                    s.index
                )
            })
            .collect();
        // Quoted as written, but the encoder could not read them: the choices around them are guesses.
        warnings.extend(
            states
                .iter()
                .filter(|s| s.speaker == Speaker::Customer && crate::tasks::unknown_script(&s.text))
                .map(|s| {
                    format!(
                    "turn {} is in a script the encoder does not read: the note quotes it, but its intent, \
                     sentiment and the choice of sentences around it are unreliable",
                    s.index
                )
                }),
        );
        if nothing_asked {
            warnings.push("the customer only greeted or thanked: no reason for contact to summarise".into());
        }
        let cause = fields::cause(states, reason.as_ref());
        let mentions = mentions::mentions(states, &self.lexicon, &self.styles);
        let offers = offers::offers(states);
        // A reason said in a clearly negative turn is a complaint, and the note says so.
        let complaint = reason.as_ref().and_then(|r| r.turns.first()).is_some_and(|&t| {
            states.iter().any(|s| s.index == t && s.sentiment.is_some_and(|v| v <= CLEARLY_NEGATIVE))
        });
        let facts = compose::Facts {
            reason: reason.as_ref(),
            complaint,
            cause: cause.as_ref(),
            mentions: &mentions,
            offers: &offers,
            actions: &actions,
            action_scores: &scores,
            resolution: &resolution,
            request: request.as_ref(),
            next_steps: &next_steps,
            entities: &entities,
        };
        let (text, dropped) = compose::compose(&facts, &self.style_for(language, parties), o.max_chars);
        if dropped > 0 {
            warnings.push(format!(
                "the note was shortened to {} characters: {dropped} item(s) are only in the fields",
                o.max_chars
            ));
        }
        Ok(Summary {
            language: language.to_string(),
            reason,
            cause,
            mentions,
            actions,
            resolution,
            request,
            next_steps,
            offers,
            entities,
            text,
            turns_read: states.len(),
            warnings,
            rewrite: None,
        })
    }
}

#[cfg(test)]
mod tests;
