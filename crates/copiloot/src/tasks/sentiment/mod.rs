//! Sentiment per turn (negative / neutral / positive with a score in −1..1), per speaker, and the customer's
//! trajectory over the conversation, from a linear head on the turn embeddings.
//!
//! The default head (`models/heads/sentiment/`) reads several layers of the multilingual encoder (their
//! mean-pooled hidden states, from the same forward pass as the turn embeddings) and is trained on English
//! tweets and Dutch reviews and tweets; see `models/heads/README.md` for the data and the command.
//!
//! Trajectory thresholds (documented contract): with n customer turns, `start` is the mean score of the
//! first k = clamp(n / 3, 1, 3) turns and `end` that of the last k; `trend` is `improving` when
//! end − start ≥ +0.30, `worsening` when ≤ −0.30, otherwise `stable` (0.30 ≈ one turn moving from
//! neutral to clearly positive or negative; smaller moves are within the noise of the head).

mod task;

pub use task::SentimentTask;

use super::{check_text, FeatureSpec, TaskMemo, TextEmbedder};
use crate::conversation::{Conversation, Speaker};
use crate::error::{Error, Location, Result};
use crate::training::head::LinearHead;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

/// Change in mean score between the start and end of the customer's turns that counts as a trend.
pub const TREND_THRESHOLD: f32 = 0.30;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SentimentLabel {
    Negative,
    Neutral,
    Positive,
}

impl SentimentLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            SentimentLabel::Negative => "negative",
            SentimentLabel::Neutral => "neutral",
            SentimentLabel::Positive => "positive",
        }
    }

    /// Understands the usual spellings in English and Dutch (`neg`, `negatief`, `POSITIVE`, …).
    pub fn parse(label: &str) -> Option<SentimentLabel> {
        match label.trim().to_lowercase().as_str() {
            "negative" | "neg" | "negatief" | "negatieve" => Some(SentimentLabel::Negative),
            "neutral" | "neu" | "neutraal" | "neutrale" => Some(SentimentLabel::Neutral),
            "positive" | "pos" | "positief" | "positieve" => Some(SentimentLabel::Positive),
            _ => None,
        }
    }

    /// The label for a score in −1..1 with the neutral band used for speaker summaries (|score| < 0.25).
    pub fn from_score(score: f32) -> SentimentLabel {
        if score <= -0.25 {
            SentimentLabel::Negative
        } else if score >= 0.25 {
            SentimentLabel::Positive
        } else {
            SentimentLabel::Neutral
        }
    }
}

/// Maps training/evaluation labels to the canonical three, failing on anything else with the list of
/// unknown labels (usually a wrong `--label-col` or numeric codes that need mapping first).
pub fn normalize_labels(labels: &[String]) -> Result<Vec<String>> {
    let mut unknown: Vec<&str> =
        labels.iter().filter(|l| SentimentLabel::parse(l).is_none()).map(String::as_str).collect();
    unknown.sort_unstable();
    unknown.dedup();
    if !unknown.is_empty() {
        // Numbers are another labelling scheme (class ids such as TweetEval's 0/1/2, or star ratings):
        // which number means what is not ours to guess.
        let numeric = unknown.iter().all(|l| l.trim().parse::<f64>().is_ok());
        let hint = if numeric {
            "these are numbers, i.e. another label scheme: map them to names first — class ids by the \
             dataset's own mapping (TweetEval: 0 negative, 1 neutral, 2 positive), star ratings as 1–2 \
             negative, 3 neutral, 4–5 positive"
        } else {
            "use negative / neutral / positive (or neg/neu/pos, negatief/neutraal/positief), or pick \
             another column with --label-col"
        };
        return Err(Error::invalid(
            Location::field("label"),
            format!("unknown sentiment labels {:?}; {hint}", &unknown[..unknown.len().min(10)]),
        ));
    }
    Ok(labels.iter().filter_map(|l| SentimentLabel::parse(l)).map(|l| l.as_str().to_string()).collect())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TurnSentiment {
    pub turn: usize,
    // `with` keeps this independent of whether `Speaker` itself derives JsonSchema.
    #[schemars(with = "String")]
    pub speaker: Speaker,
    pub label: SentimentLabel,
    /// P(positive) − P(negative), in −1..1.
    pub score: f32,
    /// Probability of `label`.
    pub confidence: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SpeakerSentiment {
    #[schemars(with = "String")]
    pub speaker: Speaker,
    pub turns: usize,
    /// Mean turn score.
    pub score: f32,
    /// `from_score(score)`: negative ≤ −0.25 < neutral < 0.25 ≤ positive.
    pub label: SentimentLabel,
    pub negative_turns: usize,
    pub neutral_turns: usize,
    pub positive_turns: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Trend {
    Improving,
    Stable,
    Worsening,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Trajectory {
    /// Mean score of the first customer turns (see the module docs for the window).
    pub start: f32,
    /// Mean score of the last customer turns.
    pub end: f32,
    pub trend: Trend,
    /// The customer's most negative turn and its score.
    pub most_negative_turn: usize,
    pub most_negative_score: f32,
}

/// The `sentiment` field of the Analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SentimentAnalysis {
    pub turns: Vec<TurnSentiment>,
    pub speakers: Vec<SpeakerSentiment>,
    /// Present when the customer has at least one turn.
    pub customer_trajectory: Option<Trajectory>,
    pub model: String,
}

/// A sentiment head: any [`LinearHead`] whose labels are a subset of negative / neutral / positive, with
/// the fine-tuned encoder branch it reads, if any.
#[derive(Debug, Clone)]
pub struct SentimentModel {
    head: LinearHead,
    /// For each head output, its sentiment.
    labels: Vec<SentimentLabel>,
    /// What the head reads besides the sentence embedding (layers, a branch); `None`: the embedding.
    features: Option<FeatureSpec>,
}

impl SentimentModel {
    /// Default head location under the models folder.
    pub fn default_dir(models_dir: &Path) -> std::path::PathBuf {
        models_dir.join("heads").join("sentiment")
    }

    /// Loads a head folder and checks it fits `encoder`: trained on its embeddings, and when the head
    /// reads several layers, an encoder that has them; a head on a fine-tuned branch loads the branch
    /// (the file named in `head.json`) for `encoder`.
    pub fn load(dir: &Path, encoder: &dyn TextEmbedder) -> Result<SentimentModel> {
        let head = LinearHead::load(dir)?;
        head.check_encoder(encoder.model_id(), dir)?;
        let branch = match head.branch() {
            Some(meta) => {
                // A missing or unreadable branch is a broken head folder, like a broken head.json.
                let branch = encoder.load_branch(&dir.join(&meta.file)).map_err(|e| match e {
                    Error::ModelLoad { .. } => e,
                    other => Error::model_load(dir, other),
                })?;
                if (branch.start_layer(), branch.layers()) != (meta.start_layer, meta.layers) {
                    return Err(Error::model_load(
                        dir,
                        format!(
                            "`{}` holds layers {}..{} but head.json says {}..{}; the folder is mixed up — \
                             train the head again",
                            meta.file,
                            branch.start_layer(),
                            branch.start_layer() + branch.layers(),
                            meta.start_layer,
                            meta.start_layer + meta.layers
                        ),
                    ));
                }
                Some(Arc::new(branch))
            }
            None => None,
        };
        let mut model = Self::from_head_unchecked(head).map_err(|e| Error::model_load(dir, e))?;
        if let Some(branch) = branch {
            let layers = model.head.layers().unwrap_or_default().to_vec();
            model.features = Some(FeatureSpec { layers, branch: Some(branch) });
        }
        model.check_embedder(encoder).map_err(|e| Error::model_load(dir, e))?;
        Ok(model)
    }

    /// Fails unless `embedder` gives the features this head reads (its layers, of the right width).
    pub fn check_embedder(&self, embedder: &dyn TextEmbedder) -> Result<()> {
        let width = match &self.features {
            Some(spec) => {
                super::check_spec(spec, embedder)?;
                spec.vectors() * embedder.dim()
            }
            None => embedder.dim(),
        };
        if width != self.head.dim() {
            return Err(Error::Config(format!(
                "the sentiment head reads {} values per text but `{}` gives {width}{}; retrain the head \
                 for this encoder with `copiloot train sentiment`",
                self.head.dim(),
                embedder.model_id(),
                self.features.as_ref().map(|f| format!(" for {}", f.describe())).unwrap_or_default()
            )));
        }
        Ok(())
    }

    /// The encoder layers the head reads (`None`: the sentence embedding, or only a branch).
    pub fn layers(&self) -> Option<&[usize]> {
        self.head.layers()
    }

    /// What the head reads besides the sentence embedding: encoder layers and a fine-tuned branch, from
    /// the same encoder pass as the turn embeddings (`None`: the sentence embedding).
    pub fn feature_spec(&self) -> Option<&FeatureSpec> {
        self.features.as_ref()
    }

    /// What the head reads for each text: the sentence embedding, or the features of its spec.
    pub fn features(&self, texts: &[&str], embedder: &dyn TextEmbedder) -> Result<Vec<Vec<f32>>> {
        match &self.features {
            Some(spec) => Ok(embedder.embed_with_features(texts, spec)?.1),
            None => embedder.embed_for_classification(texts),
        }
    }

    /// A model from a head that reads the sentence embedding or encoder layers; a head on a fine-tuned
    /// branch needs its encoder and folder: [`Self::load`].
    pub fn from_head(head: LinearHead) -> Result<SentimentModel> {
        if let Some(branch) = head.branch() {
            return Err(Error::Config(format!(
                "this sentiment head reads a fine-tuned encoder branch (`{}`); load its folder with the \
                 encoder (SentimentModel::load)",
                branch.file
            )));
        }
        Self::from_head_unchecked(head)
    }

    fn from_head_unchecked(head: LinearHead) -> Result<SentimentModel> {
        let labels = head
            .labels()
            .iter()
            .map(|l| {
                SentimentLabel::parse(l).ok_or_else(|| {
                    Error::Config(format!(
                        "head label `{l}` is not a sentiment (negative / neutral / positive)"
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let features = head.layers().map(FeatureSpec::layers);
        Ok(SentimentModel { head, labels, features })
    }

    pub fn head(&self) -> &LinearHead {
        &self.head
    }

    /// (label, score in −1..1, confidence) for each text's features: its embedding, or for a head on
    /// several layers the layer features ([`Self::features`]).
    pub fn predict_embeddings(&self, embeddings: &[Vec<f32>]) -> Result<Vec<(SentimentLabel, f32, f32)>> {
        Ok(self
            .head
            .predict_proba(embeddings)?
            .into_iter()
            .map(|p| {
                let mut score = 0.0;
                for (l, pi) in self.labels.iter().zip(&p) {
                    match l {
                        SentimentLabel::Positive => score += pi,
                        SentimentLabel::Negative => score -= pi,
                        SentimentLabel::Neutral => {}
                    }
                }
                let (best, confidence) = super::argmax(&p);
                (self.labels[best], score.clamp(-1.0, 1.0), confidence)
            })
            .collect())
    }

    /// Embeds and scores texts; empty texts or unsupported scripts are typed errors.
    pub fn predict_texts(
        &self,
        texts: &[&str],
        embedder: &dyn TextEmbedder,
    ) -> Result<Vec<(SentimentLabel, f32, f32)>> {
        self.head.check_encoder(embedder.model_id(), Path::new("<sentiment head>"))?;
        for (i, t) in texts.iter().enumerate() {
            check_text(t, || Location::field(format!("texts[{i}]")))?;
        }
        self.predict_embeddings(&self.features(texts, embedder)?)
    }

    /// Sentiment of a conversation from the per-turn features the head reads ([`Self::features`]; one
    /// per turn, same order as `turns`).
    pub fn analyze_conversation(
        &self,
        conversation: &Conversation,
        turn_features: &[Vec<f32>],
    ) -> Result<SentimentAnalysis> {
        self.analyze_memo(conversation, turn_features, &mut TaskMemo::default())
    }

    /// [`Self::analyze_conversation`], reusing the per-turn scores kept in `memo` (a live session).
    pub(crate) fn analyze_memo(
        &self,
        conversation: &Conversation,
        turn_embeddings: &[Vec<f32>],
        memo: &mut TaskMemo,
    ) -> Result<SentimentAnalysis> {
        if turn_embeddings.len() != conversation.turns.len() {
            return Err(Error::invalid(
                Location::field("turn_embeddings"),
                format!(
                    "{} feature vectors for {} turns; pass one per turn (for a head on several layers, the \
                     turns' layer features)",
                    turn_embeddings.len(),
                    conversation.turns.len()
                ),
            ));
        }
        let predictions = memo.per_turn("sentiment", conversation.turns.len(), |new| {
            self.predict_embeddings(&turn_embeddings[new])
        })?;
        let turns: Vec<TurnSentiment> = conversation
            .turns
            .iter()
            .zip(predictions.iter().copied())
            .map(|(t, (label, score, confidence))| TurnSentiment {
                turn: t.index,
                speaker: t.speaker,
                label,
                score,
                confidence,
            })
            .collect();
        Ok(summarize(turns, format!("head:{}", self.head.meta().task)))
    }
}

/// Per-speaker summaries and the customer trajectory from per-turn sentiment.
pub fn summarize(turns: Vec<TurnSentiment>, model: String) -> SentimentAnalysis {
    let mut speakers: Vec<Speaker> = turns.iter().map(|t| t.speaker).collect();
    speakers.sort();
    speakers.dedup();
    let per_speaker = speakers
        .into_iter()
        .map(|s| {
            let mine: Vec<&TurnSentiment> = turns.iter().filter(|t| t.speaker == s).collect();
            let score = mine.iter().map(|t| t.score).sum::<f32>() / mine.len() as f32;
            let count = |l| mine.iter().filter(|t| t.label == l).count();
            SpeakerSentiment {
                speaker: s,
                turns: mine.len(),
                score,
                label: SentimentLabel::from_score(score),
                negative_turns: count(SentimentLabel::Negative),
                neutral_turns: count(SentimentLabel::Neutral),
                positive_turns: count(SentimentLabel::Positive),
            }
        })
        .collect();
    let customer: Vec<&TurnSentiment> = turns.iter().filter(|t| t.speaker == Speaker::Customer).collect();
    let customer_trajectory = trajectory(&customer);
    SentimentAnalysis { turns, speakers: per_speaker, customer_trajectory, model }
}

fn trajectory(turns: &[&TurnSentiment]) -> Option<Trajectory> {
    let n = turns.len();
    let most_negative = turns.iter().min_by(|a, b| a.score.total_cmp(&b.score))?;
    let k = (n / 3).clamp(1, 3);
    let mean = |ts: &[&TurnSentiment]| ts.iter().map(|t| t.score).sum::<f32>() / ts.len() as f32;
    let start = mean(&turns[..k]);
    let end = mean(&turns[n - k..]);
    let delta = end - start;
    let trend = if delta >= TREND_THRESHOLD {
        Trend::Improving
    } else if delta <= -TREND_THRESHOLD {
        Trend::Worsening
    } else {
        Trend::Stable
    };
    Some(Trajectory {
        start,
        end,
        trend,
        most_negative_turn: most_negative.turn,
        most_negative_score: most_negative.score,
    })
}

#[cfg(test)]
mod tests;
