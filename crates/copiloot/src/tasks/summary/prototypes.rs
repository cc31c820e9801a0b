//! Prototype sentences in English and Dutch for what a summary looks for ("the agent does something",
//! "the problem is solved / not solved", "a promise about the next step"), embedded once and compared with
//! each turn's embedding. They complement the regex cues with paraphrases the regexes miss.

use crate::error::Result;
use crate::tasks::TextEmbedder;
use crate::training::cache::CachedEmbedder;
use std::path::Path;

/// The prototype classes, in the order of [`Prototypes::similarities`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Action = 0,
    Solved = 1,
    Unsolved = 2,
    Promise = 3,
}

pub const CLASSES: usize = 4;

const TEXTS: [(Class, &str); 24] = [
    (Class::Action, "I have processed your refund."),
    (Class::Action, "I've updated your account and sent you a corrected bill."),
    (Class::Action, "I have booked an engineer visit for you."),
    (Class::Action, "I've cancelled the order and waived the fee."),
    (Class::Action, "Ik heb uw terugbetaling verwerkt."),
    (Class::Action, "Ik heb de afspraak voor u ingepland."),
    (Class::Action, "Ik stuur u vandaag een nieuw exemplaar."),
    (Class::Solved, "Thank you, that solves my problem."),
    (Class::Solved, "It works again now, thanks for your help."),
    (Class::Solved, "Great, that's sorted, thank you!"),
    (Class::Solved, "Dank u, mijn probleem is opgelost."),
    (Class::Solved, "Het werkt weer, top geregeld!"),
    (Class::Unsolved, "It still doesn't work."),
    (Class::Unsolved, "My problem has not been solved at all."),
    (Class::Unsolved, "This is useless, I'm going to complain."),
    (Class::Unsolved, "Het werkt nog steeds niet."),
    (Class::Unsolved, "Mijn probleem is niet opgelost, ik ga een klacht indienen."),
    (Class::Promise, "You will receive a confirmation email tomorrow."),
    (Class::Promise, "I will call you back on Monday."),
    (Class::Promise, "The engineer will come on Wednesday between 1pm and 6pm."),
    (Class::Promise, "U ontvangt morgen een bevestiging per e-mail."),
    (Class::Promise, "Ik bel u maandag terug."),
    (Class::Promise, "De monteur komt donderdag tussen 8 en 12 uur."),
    (Class::Promise, "Het bedrag staat binnen vijf werkdagen op uw rekening."),
];

/// The embedded prototypes of one encoder.
#[derive(Debug, Clone)]
pub struct Prototypes {
    vectors: Vec<(Class, Vec<f32>)>,
}

impl Prototypes {
    /// Embeds the prototypes with `embedder` (24 short sentences).
    pub fn build(embedder: &dyn TextEmbedder) -> Result<Prototypes> {
        let texts: Vec<&str> = TEXTS.iter().map(|(_, t)| *t).collect();
        let vectors = embedder.embed_for_classification(&texts)?;
        Ok(Prototypes { vectors: TEXTS.iter().map(|(c, _)| *c).zip(vectors).collect() })
    }

    /// Like [`Self::build`], cached in `models_dir/.cache/embeddings` like the taxonomy, so only the first
    /// start pays; a read-only models folder just skips the cache.
    pub fn load(models_dir: &Path, embedder: &dyn TextEmbedder) -> Result<Prototypes> {
        let dir = models_dir.join(".cache").join("embeddings");
        match CachedEmbedder::open(embedder, &dir) {
            Ok(cached) => {
                let p = Self::build(&cached)?;
                if let Err(e) = cached.save() {
                    tracing::debug!("summary prototypes not cached: {e}");
                }
                Ok(p)
            }
            Err(_) => Self::build(embedder),
        }
    }

    /// For one turn embedding, the highest cosine to a prototype of each class.
    pub fn similarities(&self, embedding: &[f32]) -> [f32; CLASSES] {
        let mut best = [f32::NEG_INFINITY; CLASSES];
        for (class, v) in &self.vectors {
            let s = crate::tasks::dot(v, embedding);
            let slot = &mut best[*class as usize];
            *slot = slot.max(s);
        }
        best.map(|b| if b.is_finite() { b } else { 0.0 })
    }
}
