//! The summary of a conversation while it happens: [`Summarizer::update`] embeds and analyses only the
//! new turns and rebuilds the fields from the kept per-turn state (for transfers and hand-offs).

use super::{Signals, Summary, SummaryModel, TurnState};
use crate::conversation::{Conversation, Parties, Turn};
use crate::error::{Error, Location, Result};
use crate::redact::Redactor;
use crate::tasks::sentiment::SentimentModel;
use crate::tasks::TextEmbedder;

/// Summarises a conversation while it happens: [`update`](Self::update) with the new turns embeds and
/// analyses only those, then rebuilds the (cheap) fields from the kept per-turn state — for transfers
/// and hand-offs. Gives the same result as summarising the whole conversation at once.
pub struct Summarizer<'a> {
    model: &'a SummaryModel,
    embedder: &'a dyn TextEmbedder,
    sentiment: Option<&'a SentimentModel>,
    redactor: Option<Redactor>,
    id: String,
    language: Option<String>,
    parties: Parties,
    states: Vec<TurnState>,
    texts: Vec<String>,
}

impl<'a> Summarizer<'a> {
    /// `redact`: quotes and note from redacted text (the default everywhere else; `false` only for
    /// trusted jobs). `language`: fixed, or detected from the turns seen so far when `None`.
    pub fn new(
        model: &'a SummaryModel,
        embedder: &'a dyn TextEmbedder,
        id: impl Into<String>,
        language: Option<String>,
        redact: bool,
    ) -> Self {
        Summarizer {
            model,
            embedder,
            sentiment: None,
            redactor: redact.then(Redactor::default),
            id: id.into(),
            language,
            parties: Parties::default(),
            states: Vec::new(),
            texts: Vec::new(),
        }
    }

    /// Also score sentiment per new turn (used by the resolution), from the same embeddings.
    pub fn with_sentiment(mut self, sentiment: &'a SentimentModel) -> Self {
        self.sentiment = Some(sentiment);
        self
    }

    /// Name the parties in the note as the transcript does (see [`Parties`]).
    pub fn with_parties(mut self, parties: Parties) -> Self {
        self.parties = parties;
        self
    }

    /// Turns processed so far.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// Adds the new turns (their `index` is renumbered to follow the turns seen so far) and returns the
    /// summary of everything seen. Only the new turns are embedded.
    pub fn update(&mut self, new_turns: &[Turn]) -> Result<Summary> {
        if !new_turns.is_empty() {
            for (i, t) in new_turns.iter().enumerate() {
                crate::tasks::check_text(&t.text, || Location::field(format!("new_turns[{i}].text")))?;
            }
            let texts: Vec<&str> = new_turns.iter().map(|t| t.text.as_str()).collect();
            // One encoder pass gives the embeddings and, for a sentiment head on layers, its features.
            let spec = self.sentiment.and_then(SentimentModel::feature_spec);
            let (embeddings, features) = match spec {
                Some(spec) => self.embedder.embed_with_features(&texts, spec)?,
                None => (self.embedder.embed_for_classification(&texts)?, Vec::new()),
            };
            if embeddings.len() != new_turns.len() {
                return Err(Error::Inference(format!(
                    "the encoder returned {} embeddings for {} turns",
                    embeddings.len(),
                    new_turns.len()
                )));
            }
            let sentiment: Vec<Option<f32>> = match self.sentiment {
                Some(model) => {
                    let read = if spec.is_some() { &features } else { &embeddings };
                    model.predict_embeddings(read)?.into_iter().map(|(_, s, _)| Some(s)).collect()
                }
                None => vec![None; new_turns.len()],
            };
            for ((turn, embedding), score) in new_turns.iter().zip(embeddings).zip(sentiment) {
                let mut turn = turn.clone();
                turn.index = self.states.len();
                let display = match &self.redactor {
                    Some(r) => r.redact(&turn.text).text,
                    None => turn.text.clone(),
                };
                self.states.push(self.model.turn_state(&turn, &display, embedding, score, false));
                self.texts.push(turn.text);
            }
        }
        self.summary()
    }

    /// The summary of the turns seen so far.
    pub fn summary(&self) -> Result<Summary> {
        let language = match &self.language {
            Some(l) => Some(l.clone()),
            None => self.detect_language(),
        };
        self.model.build(&self.id, &self.states, language.as_deref(), &self.parties, &Signals::default())
    }

    fn detect_language(&self) -> Option<String> {
        let conversation = Conversation {
            id: self.id.clone(),
            channel: Default::default(),
            language: None,
            turns: self
                .states
                .iter()
                .zip(&self.texts)
                .map(|(s, text)| Turn {
                    index: s.index,
                    speaker: s.speaker,
                    text: text.clone(),
                    timestamp: None,
                })
                .collect(),
            customer: Default::default(),
            parties: self.parties.clone(),
        };
        conversation.detect_language()
    }
}
