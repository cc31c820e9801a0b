//! Training, apart from inference: linear heads on frozen embeddings ([`head`]) and the churn model
//! ([`churn`]), both fitted by one L-BFGS logistic regression (`logistic.rs`); fine-tuning the encoder's
//! layers ([`finetune`]); labelled texts and customer tables, both read by the one table reader
//! ([`table`]); and the embedding cache that keeps repeated runs over the same texts cheap.

pub mod cache;
pub mod churn;
pub mod finetune;
pub mod head;
pub mod labelled;
mod lbfgs;
mod logistic;
pub mod table;

pub use churn::{TrainOptions, TrainReport};
pub use table::Table;
