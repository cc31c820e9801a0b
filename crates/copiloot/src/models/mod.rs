//! Models: where they come from (folder / GGUF / hub) and how they are installed, the sentence encoder,
//! fine-tuned classifiers, the local LLM generator, and the CPU kernels they run on.
//!
//! Model code receives local paths; only [`ModelSource`] resolution may reach the network.

pub mod catalog;
pub(crate) mod classifier;
mod e5s1;
pub(crate) mod encoder;
pub mod generator;
pub mod install;
pub(crate) mod kernels;
mod source;

pub use catalog::{default_models_dir, Catalog};
pub use encoder::{
    cosine, Encoded, Encoder, EncoderBranch, EncoderOptions, FeatureSpec, Pooling, Precision, TextRole,
    DEFAULT_BATCH_SIZE,
};
pub use generator::{ChatMessage, Engine, Generation, GenerationOptions, Generator, LoadOptions};
pub use install::{InstallEvent, Installer, ModelStatus};
pub use source::{hub_offline, ModelSource};
