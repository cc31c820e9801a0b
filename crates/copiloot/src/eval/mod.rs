//! Evaluation, apart from inference: classification metrics, ROUGE (with the Porter stemmer of the
//! `rouge-score` package), churn calibration and its reliability plot, the redaction benchmark and the
//! knowledge assistant's retrieval scores, and the style checks of a composed note.

pub mod churn;
pub mod knowledge;
pub mod metrics;
pub mod note_style;
pub mod plot;
mod porter;
pub mod redact;
pub mod rouge;

pub use churn::{CalibrationBin, EvalReport};
