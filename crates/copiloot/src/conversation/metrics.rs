//! Cheap conversation metrics that need no model.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SpeakerMetrics {}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConversationMetrics {}
impl ConversationMetrics {
    pub fn compute(_c: &super::Conversation) -> Self {
        Self {}
    }
}
