//! `copiloot eval intent|sentiment|summary|churn|knowledge`: one module per kind of score, one argument struct per leaf.

pub mod churn;
pub mod classifier;
pub mod knowledge;
pub mod summary;

use std::process::ExitCode;

/// What `copiloot eval` scores.
#[derive(clap::Subcommand, Debug)]
pub enum EvalCommand {
    /// Intent: accuracy, macro-F1, per-class precision/recall and confusions (zero-shot without --model).
    Intent(classifier::EvalIntentArgs),
    /// Sentiment: the same table for the shipped head or a trained one (--model).
    Sentiment(classifier::EvalSentimentArgs),
    /// Summaries: ROUGE-1/2/L of the grounded note (or a rewrite, or Lead-N) against reference summaries.
    Summary(summary::EvalSummaryArgs),
    /// Churn: ROC AUC, PR AUC, Brier, log-loss, calibration per decile and a reliability plot.
    Churn(churn::EvalChurnArgs),
    /// Knowledge assistant: recall@1/5/10 and MRR@10 of the retriever and its BM25 and dense halves.
    Knowledge(knowledge::EvalKnowledgeArgs),
}

impl EvalCommand {
    pub fn run(&self) -> anyhow::Result<ExitCode> {
        match self {
            EvalCommand::Intent(args) => classifier::run_intent(args),
            EvalCommand::Sentiment(args) => classifier::run_sentiment(args),
            EvalCommand::Summary(args) => summary::run(args),
            EvalCommand::Churn(args) => churn::run(args),
            EvalCommand::Knowledge(args) => knowledge::run(args),
        }
    }
}
