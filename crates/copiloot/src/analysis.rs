//! The output contract: one `Analysis` per conversation.
