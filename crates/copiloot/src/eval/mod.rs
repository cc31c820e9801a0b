//! Evaluation, apart from inference: classification metrics, ROUGE (with the Porter stemmer of the
//! `rouge-score` package), churn calibration and its reliability plot, the redaction benchmark and the
//! knowledge assistant's retrieval scores.

pub mod churn;
pub mod knowledge;
pub mod metrics;
pub mod plot;
mod porter;
pub mod redact;
pub mod rouge;

pub use churn::{CalibrationBin, EvalReport};
