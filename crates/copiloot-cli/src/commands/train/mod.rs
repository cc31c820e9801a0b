//! `copiloot train intent|sentiment|churn`: one module per kind of model, one argument struct per leaf.

pub mod churn;
pub mod head;

use std::process::ExitCode;

/// What `copiloot train` fits.
#[derive(clap::Subcommand, Debug)]
pub enum TrainCommand {
    /// An intent head on frozen embeddings (or, with --fine-tune, the encoder's layers and the head).
    Intent(head::TrainIntentArgs),
    /// A sentiment head (negative/neutral/positive) on frozen embeddings.
    Sentiment(head::TrainSentimentArgs),
    /// Churn risk: a customer table (tabular) or conversations with an outcome label.
    Churn(churn::TrainChurnArgs),
}

impl TrainCommand {
    pub fn run(&self) -> anyhow::Result<ExitCode> {
        match self {
            TrainCommand::Intent(args) => head::run_intent(args),
            TrainCommand::Sentiment(args) => head::run_sentiment(args),
            TrainCommand::Churn(args) => churn::run(args),
        }
    }
}
