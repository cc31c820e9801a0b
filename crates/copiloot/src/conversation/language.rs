//! Language detection per turn and per conversation.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LanguageGuess {
    pub code: String,
    pub confidence: f64,
}

pub fn detect_language(_text: &str) -> Option<LanguageGuess> {
    None
}
