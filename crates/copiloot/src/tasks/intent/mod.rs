//! Intent: what the customer wants. Zero-shot from a taxonomy file, or a trained linear head; per text and
//! per conversation (mainly from customer turns, several intents allowed, each citing its turns).

mod task;
mod taxonomy;
mod zero_shot;

pub use task::IntentTask;
pub use taxonomy::{default_path as default_taxonomy_path, IntentDef, Taxonomy, OTHER};
pub use zero_shot::{Calibration, ZeroShotIntents};

use super::{argmax, check_text, TaskMemo, TextEmbedder};
use crate::conversation::{Conversation, Speaker};
use crate::error::{Error, Location, Result};
use crate::models::classifier::TextClassifier;
use crate::training::head::{canonical_encoder_id, LinearHead};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

/// Knobs of intent classification. Defaults are documented per field.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IntentOptions {
    /// Below this probability the answer is `other` (default 0.30: with ~20 intents a wrong guess rarely
    /// gets there, a right one usually does).
    pub min_confidence: f32,
    /// At most this many intents per conversation (default 3).
    pub max_intents: usize,
    /// Alternatives listed per text (default 3).
    pub top_k: usize,
    /// Answer `other` for out-of-scope texts (default true). `false` always returns the best intent — the
    /// usual benchmark setting — ignoring both `min_confidence` and the zero-shot similarity floor.
    pub out_of_scope: bool,
}

impl Default for IntentOptions {
    fn default() -> Self {
        Self { min_confidence: 0.30, max_intents: 3, top_k: 3, out_of_scope: true }
    }
}

/// The intent of one text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IntentPrediction {
    /// Intent id, or `other` when nothing fits.
    pub intent: String,
    /// Probability of the best intent (also when the answer is `other`).
    pub score: f32,
    /// The best intents with their probabilities, best first (includes the winner).
    pub top: Vec<ScoredIntent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScoredIntent {
    pub intent: String,
    pub score: f32,
}

/// One intent of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DetectedIntent {
    pub intent: String,
    /// Display name in the conversation's language, when the taxonomy has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Highest probability over the turns that show it.
    pub score: f32,
    /// Indices of the turns that show it, in order.
    pub turns: Vec<usize>,
}

/// The `intents` field of the Analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConversationIntents {
    /// The reason for contact: the intent of the customer's first turn that has one (customers open with
    /// why they call; later intents are often follow-ups), if any.
    pub primary: Option<String>,
    /// Intents found: the primary one first, then the others by score (at most `max_intents`).
    pub intents: Vec<DetectedIntent>,
    /// The prediction for each classified turn (customer turns, or all turns when no customer spoke).
    pub turns: Vec<TurnIntent>,
    /// Which classifier produced this (`zero-shot:<taxonomy>` or `head:<task>`).
    pub model: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TurnIntent {
    pub turn: usize,
    pub intent: String,
    pub score: f32,
}

/// An intent classifier: zero-shot over a taxonomy, a trained head on the shared turn embeddings, or a
/// classifier with its own encoder (a Hugging Face sequence classifier or a `--fine-tune` folder), which
/// reads the turn texts.
#[derive(Debug, Clone)]
pub enum IntentModel {
    ZeroShot { taxonomy: Taxonomy, classifier: ZeroShotIntents },
    Head(LinearHead),
    Classifier(Arc<TextClassifier>),
}

impl IntentModel {
    /// Zero-shot over `taxonomy` (embeds it once with `embedder`).
    pub fn zero_shot(taxonomy: Taxonomy, embedder: &dyn TextEmbedder) -> Result<IntentModel> {
        let classifier = ZeroShotIntents::build(&taxonomy, embedder)?;
        Ok(IntentModel::ZeroShot { taxonomy, classifier })
    }

    /// A head saved by `copiloot train intent`; refuses one trained for another encoder.
    pub fn from_head_dir(dir: &Path, encoder_id: &str) -> Result<IntentModel> {
        let head = LinearHead::load(dir)?;
        head.check_encoder(encoder_id, dir)?;
        head.check_reads_embedding(dir)?;
        Ok(IntentModel::Head(head))
    }

    /// Whatever `copiloot train` or transformers wrote into `dir`: a sequence classifier, a fine-tuned
    /// encoder with its head, or a head on `encoder_id`'s embeddings (refused for another encoder).
    pub fn from_dir(dir: &Path, encoder_id: &str) -> Result<IntentModel> {
        match TextClassifier::detect(dir)? {
            Some(c) => Ok(IntentModel::Classifier(Arc::new(c))),
            None => Self::from_head_dir(dir, encoder_id),
        }
    }

    /// True when the model reads texts itself ([`Self::predict_texts`]) rather than shared embeddings.
    pub fn reads_text(&self) -> bool {
        matches!(self, IntentModel::Classifier(_))
    }

    /// The intent ids this model can return (besides `other`).
    pub fn labels(&self) -> Vec<String> {
        match self {
            IntentModel::ZeroShot { classifier, .. } => classifier.ids().to_vec(),
            IntentModel::Head(h) => h.labels().to_vec(),
            IntentModel::Classifier(c) => c.labels().to_vec(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            IntentModel::ZeroShot { taxonomy, .. } => format!("zero-shot:{}", taxonomy.name),
            IntentModel::Head(h) => format!("head:{}", h.meta().task),
            IntentModel::Classifier(c) => c.describe(),
        }
    }

    /// Classifies precomputed embeddings (classification role, the model's encoder).
    pub fn predict_embeddings(
        &self,
        embeddings: &[Vec<f32>],
        opts: &IntentOptions,
    ) -> Result<Vec<IntentPrediction>> {
        let scored: Vec<(Vec<f32>, bool)> = match self {
            IntentModel::ZeroShot { classifier, .. } => {
                let min_sim = classifier.calibration().min_similarity;
                classifier
                    .probabilities(embeddings)?
                    .into_iter()
                    .map(|(p, best)| (p, best >= min_sim))
                    .collect()
            }
            IntentModel::Head(h) => h.predict_proba(embeddings)?.into_iter().map(|p| (p, true)).collect(),
            IntentModel::Classifier(c) => {
                return Err(Error::Config(format!(
                    "the intent model `{}` reads texts with its own encoder, not shared embeddings; classify \
                     texts (predict_texts) instead",
                    c.describe()
                )))
            }
        };
        Ok(self.finish(scored, opts))
    }

    /// Top intents and the `other` decision from class probabilities.
    fn finish(&self, scored: Vec<(Vec<f32>, bool)>, opts: &IntentOptions) -> Vec<IntentPrediction> {
        let labels = self.labels();
        scored
            .into_iter()
            .map(|(p, in_scope)| {
                let (best, score) = argmax(&p);
                let mut order: Vec<usize> = (0..p.len()).collect();
                order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
                let top = order
                    .iter()
                    .take(opts.top_k.max(1))
                    .map(|&i| ScoredIntent { intent: labels[i].clone(), score: p[i] })
                    .collect();
                let keep = !opts.out_of_scope || (in_scope && score >= opts.min_confidence);
                let intent = if keep { labels[best].clone() } else { OTHER.to_string() };
                IntentPrediction { intent, score, top }
            })
            .collect()
    }

    /// Embeds and classifies texts; empty texts or unsupported scripts are typed errors naming the text.
    pub fn predict_texts(
        &self,
        texts: &[&str],
        embedder: &dyn TextEmbedder,
        opts: &IntentOptions,
    ) -> Result<Vec<IntentPrediction>> {
        for (i, t) in texts.iter().enumerate() {
            check_text(t, || Location::field(format!("texts[{i}]")))?;
        }
        if let IntentModel::Classifier(c) = self {
            let scored = c.predict_proba(texts)?.into_iter().map(|p| (p, true)).collect();
            return Ok(self.finish(scored, opts));
        }
        self.check_encoder(embedder.model_id())?;
        let embeddings = embedder.embed_for_classification(texts)?;
        self.predict_embeddings(&embeddings, opts)
    }

    fn check_encoder(&self, model_id: &str) -> Result<()> {
        let expected = match self {
            IntentModel::ZeroShot { classifier, .. } => classifier.encoder(),
            IntentModel::Head(h) => h.encoder(),
            IntentModel::Classifier(_) => return Ok(()),
        };
        if canonical_encoder_id(expected) != canonical_encoder_id(model_id) {
            return Err(Error::Config(format!(
                "the intent model was built for encoder `{expected}` but texts are embedded with `{model_id}`; use the same encoder"
            )));
        }
        Ok(())
    }

    /// Intents of a conversation from its per-turn embeddings (one per turn, same order as `turns`).
    /// Customer turns decide; when no customer spoke (e.g. an agent note), all turns do.
    pub fn analyze_conversation(
        &self,
        conversation: &Conversation,
        turn_embeddings: &[Vec<f32>],
        opts: &IntentOptions,
    ) -> Result<ConversationIntents> {
        self.analyze_memo(conversation, turn_embeddings, opts, &mut TaskMemo::default())
    }

    /// [`Self::analyze_conversation`], reusing the per-turn predictions kept in `memo` (a live session).
    pub(crate) fn analyze_memo(
        &self,
        conversation: &Conversation,
        turn_embeddings: &[Vec<f32>],
        opts: &IntentOptions,
        memo: &mut TaskMemo,
    ) -> Result<ConversationIntents> {
        if turn_embeddings.len() != conversation.turns.len() {
            return Err(Error::invalid(
                Location::field("turn_embeddings"),
                format!(
                    "{} embeddings for {} turns; pass one embedding per turn",
                    turn_embeddings.len(),
                    conversation.turns.len()
                ),
            ));
        }
        let customer: Vec<usize> = (0..conversation.turns.len())
            .filter(|&i| {
                conversation.turns[i].speaker == Speaker::Customer
                    && !conversation.turns[i].text.trim().is_empty()
            })
            .collect();
        let chosen: Vec<usize> = if customer.is_empty() {
            (0..conversation.turns.len())
                .filter(|&i| conversation.turns[i].speaker != Speaker::System)
                .collect()
        } else {
            customer
        };
        // Which turns decide can change as the conversation grows (the first customer turn), so the
        // memo keeps a prediction per turn once it was needed, and only the missing ones are computed.
        let kept =
            memo.per_turn("intent", conversation.turns.len(), |new| Ok(new.map(|_| None).collect()))?;
        let missing: Vec<usize> = chosen.iter().copied().filter(|&i| kept[i].is_none()).collect();
        let predictions = if missing.is_empty() {
            Vec::new()
        } else if let IntentModel::Classifier(c) = self {
            let texts: Vec<&str> = missing.iter().map(|&i| conversation.turns[i].text.as_str()).collect();
            self.finish(c.predict_proba(&texts)?.into_iter().map(|p| (p, true)).collect(), opts)
        } else {
            let embeddings: Vec<Vec<f32>> = missing.iter().map(|&i| turn_embeddings[i].clone()).collect();
            self.predict_embeddings(&embeddings, opts)?
        };
        for (&i, p) in missing.iter().zip(predictions) {
            kept[i] = Some(p);
        }

        let mut found: Vec<DetectedIntent> = Vec::new();
        let mut turns = Vec::new();
        for (i, p) in chosen.iter().filter_map(|&i| kept[i].as_ref().map(|p| (i, p))) {
            let index = conversation.turns[i].index;
            turns.push(TurnIntent { turn: index, intent: p.intent.clone(), score: p.score });
            if p.intent == OTHER {
                continue;
            }
            match found.iter_mut().find(|d| d.intent == p.intent) {
                Some(d) => {
                    d.score = d.score.max(p.score);
                    d.turns.push(index);
                }
                None => found.push(DetectedIntent {
                    intent: p.intent.clone(),
                    name: None,
                    score: p.score,
                    turns: vec![index],
                }),
            }
        }
        // `found` is in order of first appearance here.
        let primary = found.first().map(|d| d.intent.clone());
        // The reason for contact first, then the rest by score (a closing "thanks!" scores high as a
        // compliment but is rarely why someone got in touch).
        let is_primary = |d: &DetectedIntent| Some(&d.intent) == primary.as_ref();
        found.sort_by(|a, b| {
            is_primary(b)
                .cmp(&is_primary(a))
                .then(b.score.total_cmp(&a.score))
                .then_with(|| a.turns[0].cmp(&b.turns[0]))
        });
        found.truncate(opts.max_intents.max(1));
        if let IntentModel::ZeroShot { taxonomy, .. } = self {
            for d in &mut found {
                d.name = taxonomy
                    .get(&d.intent)
                    .map(|def| def.display_name(conversation.language.as_deref()).to_string());
            }
        }
        Ok(ConversationIntents { primary, intents: found, turns, model: self.describe() })
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
