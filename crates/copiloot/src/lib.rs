//! copiloot: a local-first AI copilot for contact-center agents.
//!
//! The flow is one pass: parse a [`Conversation`], encode each turn once with a local transformer
//! encoder, let the tasks read those embeddings, and return an [`Analysis`].

pub mod analysis;
pub mod conversation;
pub mod copilot;
pub mod error;
pub mod models;
pub mod tasks;

pub use conversation::{Channel, Conversation, CustomerInfo, Speaker, Turn};

pub use error::{Error, Location, Result};
