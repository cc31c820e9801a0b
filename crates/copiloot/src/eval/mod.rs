//! Evaluation, apart from inference: classification metrics, ROUGE (with the Porter stemmer of the
//! `rouge-score` package), churn calibration and its reliability plot, and the redaction benchmark.

pub mod churn;
pub mod metrics;
pub mod plot;
mod porter;
pub mod redact;
pub mod rouge;

pub use churn::{CalibrationBin, EvalReport};
