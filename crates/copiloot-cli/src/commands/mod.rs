//! One module per subcommand: its clap arguments and its `run`.

pub mod analyze;
pub mod churn;
pub mod embed;
pub mod eval;
pub mod eval_summary;
pub mod generate;
pub mod models;
pub mod redact;
pub mod schema;
pub mod summarize;
pub mod text;
pub mod train;
