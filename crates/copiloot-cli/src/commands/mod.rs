//! One module per subcommand: its clap arguments and its `run`; `train` and `eval` are folders with one
//! module per kind of model, `analyze` a folder with its `--live` replay. Command modules do not import
//! each other: what several share lives in `common.rs`, `labelled.rs`, `churn_data.rs` and `text.rs` at
//! the crate root.

pub mod analyze;
pub mod churn;
pub mod embed;
pub mod eval;
pub mod generate;
pub mod kb;
pub mod models;
pub mod redact;
pub mod schema;
pub mod summarize;
pub mod train;
