//! Models: where they come from (folder / GGUF / hub), the sentence encoder, the local LLM generator,
//! the catalog and installer.
//!
//! Model code receives local paths; only [`ModelSource`] resolution may reach the network.

pub mod bert;
pub mod catalog;
pub mod e5s1;
mod encoder;
pub mod generator;
pub mod install;
pub mod q8;
mod simd;
mod source;
mod st_config;

pub use bert::Precision;
pub use catalog::{default_models_dir, Catalog};
pub use encoder::{cosine, Encoded, Encoder, EncoderOptions, TextRole, DEFAULT_BATCH_SIZE};
pub use generator::{ChatMessage, Engine, Generation, GenerationOptions, Generator, LoadOptions};
pub use install::{InstallEvent, Installer, ModelStatus};
pub use source::{hub_offline, ModelSource};
pub use st_config::Pooling;
