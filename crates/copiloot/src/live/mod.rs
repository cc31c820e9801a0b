//! Live assist: a conversation that grows turn by turn during a call or chat. Each pushed turn is
//! checked, redacted, language-guessed and encoded once; the tasks then run again over per-turn results
//! kept from earlier turns ([`TaskMemo`]), so an update costs about one turn's work, and the session's
//! analysis always equals `Copilot::analyze` on the turns so far.
//!
//! Alerts are the point of being live: an update carries the alerts whose condition became true with
//! this turn. An alert fires once and again only after its condition cleared.

use crate::analysis::Analysis;
use crate::conversation::{
    detect_language, Channel, Conversation, CustomerInfo, LanguageGuess, Limits, Parties, Speaker, Turn,
};
use crate::copilot::{Copilot, Redaction};
use crate::error::{Error, Location, Result};
use crate::knowledge::Suggestion;
use crate::redact::{PiiSpan, Redactor, TurnSpan};
use crate::tasks::alerts::Alert;
use crate::tasks::churn::ChurnRisk;
use crate::tasks::intent::{DetectedIntent, TurnIntent};
use crate::tasks::sentiment::{Trajectory, TurnSentiment};
use crate::tasks::summary::Summary;
use crate::tasks::TaskMemo;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// What a live session starts from: the conversation's id and what is known before the first turn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LiveStart {
    pub id: String,
    #[serde(default)]
    pub channel: Channel,
    /// ISO 639-1 code when known; detected from the turns so far otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The customer record, for churn (tenure, contract end, plan, …).
    #[serde(default)]
    pub customer: CustomerInfo,
    /// What the note calls the parties, when not "customer" / "agent" (see [`Parties`]).
    #[serde(default, skip_serializing_if = "Parties::is_empty")]
    pub parties: Parties,
}

/// One turn as it arrives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NewTurn {
    pub speaker: Speaker,
    pub text: String,
    /// Seconds since the start of the conversation; never before the previous turn's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
}

/// What changed with one turn: the turn's own results, the conversation's state so far, and the
/// alerts it raised. The whole [`Analysis`] so far is [`LiveSession::analysis`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LiveUpdate {
    pub conversation_id: String,
    /// Position of the turn just added (what alerts and summary fields cite).
    pub turn: usize,
    pub speaker: Speaker,
    /// The turn as it may be shown: masked unless redaction is off.
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
    /// Personal data found in this turn (masked in `text`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pii: Vec<PiiSpan>,
    /// The conversation's language so far (given or detected).
    pub language: Option<String>,
    /// This turn's intent, when the turn counts for the intents (customer turns).
    pub intent: Option<TurnIntent>,
    /// This turn's sentiment.
    pub sentiment: Option<TurnSentiment>,
    /// The reason for contact so far.
    pub primary_intent: Option<String>,
    /// Every intent so far, the reason for contact first.
    pub intents: Vec<DetectedIntent>,
    /// The customer's mood from their first turn to this one.
    pub trajectory: Option<Trajectory>,
    /// The running summary (its fields and note); `null` until the customer has spoken.
    pub summary: Option<Summary>,
    /// The churn risk now.
    pub churn: Option<ChurnRisk>,
    /// The churn score now minus before this turn (`null` on the first turn).
    pub churn_change: Option<f64>,
    /// Alerts whose condition became true with this turn.
    pub alerts: Vec<Alert>,
    /// Passages of the company's articles that answer this turn (not suggested earlier in the session);
    /// absent without a knowledge base.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub knowledge: Vec<Suggestion>,
    /// Ids of alerts whose condition no longer holds (they may fire again).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cleared: Vec<String>,
    /// Warnings this turn added (e.g. it was longer than the encoder reads).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A conversation analysed while it happens. `Send`, so a server or a Python thread can own it; one
/// push at a time (`&mut self`).
pub struct LiveSession {
    /// Runs per turn: the copilot without the LLM rewrite.
    copilot: Copilot,
    /// Runs once at [`Self::close`]: with the rewrite when the copilot has a generator.
    closing: Copilot,
    limits: Limits,
    /// The turns as the models read them (masked when redaction covers inference), language set.
    conversation: Conversation,
    given_language: Option<String>,
    /// One per turn: the text outputs may quote, its language guess, its embedding.
    display: Vec<String>,
    guesses: Vec<Option<LanguageGuess>>,
    embeddings: Vec<Vec<f32>>,
    /// One per turn: the layer features the sentiment head reads (empty when it reads embeddings).
    layer_features: Vec<Vec<f32>>,
    truncated: Vec<usize>,
    pii: Option<Vec<TurnSpan>>,
    memo: TaskMemo,
    analysis: Option<Analysis>,
    /// Ids of the alerts whose condition holds now (fired, not cleared).
    active: BTreeSet<String>,
}

impl LiveSession {
    /// A session with the default [`Limits`] (turns per conversation, characters per turn).
    pub fn new(copilot: &Copilot, start: LiveStart) -> Result<LiveSession> {
        Self::with_limits(copilot, start, Limits::default())
    }

    pub fn with_limits(copilot: &Copilot, start: LiveStart, limits: Limits) -> Result<LiveSession> {
        let id = start.id.trim().to_string();
        if id.is_empty() {
            return Err(Error::invalid(Location::field("id"), "the conversation id is empty"));
        }
        if id.chars().count() > limits.max_id_chars {
            return Err(Error::InputTooLarge {
                location: Location::field("id"),
                what: "id length in characters".into(),
                actual: id.chars().count(),
                limit: limits.max_id_chars,
            });
        }
        let given_language = start.language.map(|l| l.trim().to_lowercase()).filter(|l| !l.is_empty());
        Ok(LiveSession {
            copilot: copilot.clone().without_generator(),
            closing: copilot.clone(),
            limits,
            conversation: Conversation {
                id,
                channel: start.channel,
                language: given_language.clone(),
                turns: Vec::new(),
                customer: start.customer,
                parties: start.parties,
            },
            given_language,
            display: Vec::new(),
            guesses: Vec::new(),
            embeddings: Vec::new(),
            layer_features: Vec::new(),
            truncated: Vec::new(),
            pii: (copilot.redaction() != Redaction::Off).then(Vec::new),
            memo: TaskMemo::default(),
            analysis: None,
            active: BTreeSet::new(),
        })
    }

    pub fn id(&self) -> &str {
        &self.conversation.id
    }

    /// Turns so far.
    pub fn len(&self) -> usize {
        self.conversation.turns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conversation.turns.is_empty()
    }

    /// The analysis of the turns so far (`None` before the first turn): equal to `Copilot::analyze` on
    /// them, without the LLM rewrite.
    pub fn analysis(&self) -> Option<&Analysis> {
        self.analysis.as_ref()
    }

    /// Adds one turn and returns what changed. A rejected turn (empty, too long, out of order, over the
    /// turn limit) is a typed error and leaves the session as it was.
    pub fn push(&mut self, turn: NewTurn) -> Result<LiveUpdate> {
        let index = self.conversation.turns.len();
        let text = self.check(&turn, index)?;
        let (model_text, display, spans) = match self.copilot.redaction() {
            Redaction::Off => (text.clone(), text, Vec::new()),
            Redaction::Outputs => {
                let r = Redactor::default().redact(&text);
                (text, r.text, r.spans)
            }
            Redaction::Everything => {
                let r = Redactor::default().redact(&text);
                (r.text.clone(), r.text, r.spans)
            }
        };
        let encoded = self.copilot.embed_texts(&[model_text.as_str()])?;
        let Some(embedding) = encoded.vectors.into_iter().next() else {
            return Err(Error::Inference("the encoder returned no embedding for the turn".into()));
        };
        let features = encoded.layer_features.into_iter().next();

        // Commit the turn, run the tasks, and take it back out if they fail.
        let guess = detect_language(&model_text);
        self.conversation.turns.push(Turn {
            index,
            speaker: turn.speaker,
            text: model_text,
            timestamp: turn.timestamp,
        });
        self.display.push(display);
        self.guesses.push(guess);
        self.embeddings.push(embedding);
        let has_features = features.is_some();
        self.layer_features.extend(features);
        let truncated = !encoded.truncated.is_empty();
        if truncated {
            self.truncated.push(index);
        }
        if let Some(pii) = &mut self.pii {
            pii.extend(spans.iter().map(|&span| TurnSpan { turn: index, span }));
        }
        match self.analyse() {
            Ok(analysis) => Ok(self.update(analysis, index, spans)),
            Err(e) => {
                self.conversation.turns.pop();
                self.display.pop();
                self.guesses.pop();
                self.embeddings.pop();
                if has_features {
                    self.layer_features.pop();
                }
                if truncated {
                    self.truncated.pop();
                }
                if let Some(pii) = &mut self.pii {
                    pii.retain(|s| s.turn < index);
                }
                // Some tasks may have kept values for the failed turn: start their memory over.
                self.memo = TaskMemo::default();
                self.conversation.language = self.language();
                Err(e)
            }
        }
    }

    /// The final analysis of the whole conversation, with the LLM rewrite of the note when the copilot
    /// has a generator (its text goes to `on_token` as it is written).
    pub fn close(mut self, on_token: &mut dyn FnMut(&str) -> bool) -> Result<Analysis> {
        if self.is_empty() {
            return Err(Error::invalid(
                Location::field("turns"),
                format!("live session `{}` ended without turns; there is nothing to analyse", self.id()),
            ));
        }
        if self.closing.generator().is_none() {
            if let Some(analysis) = self.analysis.take() {
                return Ok(analysis);
            }
        }
        self.run_tasks(true, on_token)
    }

    /// The turn's text, trimmed, if it may join the conversation.
    fn check(&self, turn: &NewTurn, index: usize) -> Result<String> {
        let field = |name: &str| Location::field(format!("turns[{index}].{name}"));
        if index >= self.limits.max_turns {
            return Err(Error::InputTooLarge {
                location: Location::field("turns"),
                what: "number of turns".into(),
                actual: index + 1,
                limit: self.limits.max_turns,
            });
        }
        let text = turn.text.trim();
        if text.is_empty() {
            return Err(Error::invalid(field("text"), "the turn has no text"));
        }
        let chars = text.chars().count();
        if chars > self.limits.max_turn_chars {
            return Err(Error::InputTooLarge {
                location: field("text"),
                what: "turn length in characters".into(),
                actual: chars,
                limit: self.limits.max_turn_chars,
            });
        }
        if let Some(t) = turn.timestamp {
            if !t.is_finite() || t < 0.0 {
                return Err(Error::invalid(field("timestamp"), "timestamp must be seconds ≥ 0"));
            }
            let previous = self.conversation.turns.iter().rev().find_map(|t| t.timestamp);
            if let Some(p) = previous.filter(|&p| t < p) {
                return Err(Error::invalid(
                    field("timestamp"),
                    format!("turn out of order: its timestamp {t} s is before the previous turn's {p} s"),
                ));
            }
        }
        Ok(text.to_string())
    }

    fn language(&self) -> Option<String> {
        self.given_language.clone().or_else(|| self.conversation.language_from_guesses(&self.guesses))
    }

    fn analyse(&mut self) -> Result<Analysis> {
        self.conversation.language = self.language();
        self.run_tasks(false, &mut |_| true)
    }

    /// The tasks over the turns so far: per turn (`closing` false) or the final run with the rewrite.
    fn run_tasks(&mut self, closing: bool, on_token: &mut dyn FnMut(&str) -> bool) -> Result<Analysis> {
        let copilot = if closing { &self.closing } else { &self.copilot };
        copilot.run_tasks(
            &self.conversation,
            &self.display,
            self.pii.clone(),
            crate::copilot::TurnInputs {
                vectors: &self.embeddings,
                layer_features: &self.layer_features,
                truncated: &self.truncated,
            },
            &mut self.memo,
            on_token,
        )
    }

    /// The update for turn `index` from the new analysis, which becomes the session's.
    fn update(&mut self, analysis: Analysis, index: usize, pii: Vec<PiiSpan>) -> LiveUpdate {
        let before = self.analysis.take();
        let churn_before = before.as_ref().and_then(|a| a.churn.as_ref()).map(|c| c.score);
        let warnings_before = before.map(|a| a.warnings).unwrap_or_default();
        let alerts_now = analysis.alerts.clone().unwrap_or_default();
        let fired: Vec<Alert> = alerts_now.iter().filter(|a| !self.active.contains(&a.id)).cloned().collect();
        let now: BTreeSet<String> = alerts_now.into_iter().map(|a| a.id).collect();
        let cleared: Vec<String> = self.active.difference(&now).cloned().collect();
        self.active = now;
        let turn = &self.conversation.turns[index];
        let intents = analysis.intents.as_ref();
        let update = LiveUpdate {
            conversation_id: self.conversation.id.clone(),
            turn: index,
            speaker: turn.speaker,
            text: self.display[index].clone(),
            timestamp: turn.timestamp,
            pii,
            language: analysis.language.clone(),
            intent: intents.and_then(|i| i.turns.iter().find(|t| t.turn == index).cloned()),
            sentiment: analysis.sentiment.as_ref().and_then(|s| s.turns.get(index).cloned()),
            primary_intent: intents.and_then(|i| i.primary.clone()),
            intents: intents.map(|i| i.intents.clone()).unwrap_or_default(),
            trajectory: analysis.sentiment.as_ref().and_then(|s| s.customer_trajectory.clone()),
            summary: analysis.summary.clone(),
            churn: analysis.churn.clone(),
            churn_change: match (churn_before, analysis.churn.as_ref()) {
                (Some(b), Some(c)) => Some(c.score - b),
                _ => None,
            },
            alerts: fired,
            knowledge: analysis
                .knowledge
                .iter()
                .flatten()
                .filter(|s| s.turn == Some(index))
                .cloned()
                .collect(),
            cleared,
            warnings: analysis.warnings.iter().filter(|w| !warnings_before.contains(w)).cloned().collect(),
        };
        self.analysis = Some(analysis);
        update
    }
}
