//! copiloot: a local-first AI copilot for contact-center agents.
//!
//! The flow is one pass: parse a [`Conversation`], encode each turn once with a local transformer
//! encoder, let the tasks read those embeddings, and return an [`Analysis`].
//!
//! ```no_run
//! let copilot = copiloot::Copilot::load_default()?; // models from `copiloot models install`
//! let text = "Klant: Ik wil mijn abonnement opzeggen.\nMedewerker: Dat regel ik voor u.";
//! let conversation = copiloot::conversation::parse_transcript("demo", text, &Default::default())?;
//! let analysis = copilot.analyze(&conversation)?;
//! println!("{}", serde_json::to_string_pretty(&analysis).unwrap_or_default());
//! # Ok::<(), copiloot::Error>(())
//! ```

pub mod analysis;
pub mod conversation;
mod copilot;
mod error;
pub mod eval;
pub mod knowledge;
pub mod live;
pub mod models;
pub mod redact;
mod rng;
pub mod tasks;
pub mod training;

pub use analysis::{Analysis, ModelsUsed, SCHEMA_VERSION};
pub use conversation::{Channel, Conversation, CustomerInfo, Parties, Speaker, Turn};
pub use copilot::{Copilot, CopilotOptions, Redaction, TurnEmbeddings};
pub use error::{Error, ErrorKind, Location, Result};
pub use knowledge::KnowledgeBase;
pub use live::{LiveSession, LiveStart, LiveUpdate, NewTurn};
pub use tasks::summary::Resolution;
