//! `copiloot eval churn`: ROC AUC, PR AUC, Brier, log-loss, a calibration table and a reliability plot of a
//! churn model on a labelled customer table, or of the conversation model on JSONL conversations with an
//! outcome label.

use crate::churn_data::{conversation_rows, label_of, one_file, print_metrics, signals_of, ChurnDataArgs};
use crate::common::ModelArgs;
use anyhow::Context;
use copiloot::eval::plot;
use copiloot::tasks::churn::{ChurnModel, ChurnOptions, ChurnSignals};
use copiloot::training::Table;
use copiloot::Error;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct EvalChurnArgs {
    #[command(flatten)]
    pub data: ChurnDataArgs,
    /// A folder from `copiloot train` (a head, or with --fine-tune an encoder and head) or, for intent, a
    /// Hugging Face `*ForSequenceClassification` folder (default: zero-shot taxonomy for intent, the
    /// shipped head for sentiment).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Write every prediction as JSON lines (`text`, `gold`, `predicted`, `score`) here, for error analysis.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    /// Write the full report as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Churn: write the reliability plot (predicted vs observed per decile) as PNG here.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    #[command(flatten)]
    pub model_args: ModelArgs,
}

/// `copiloot eval churn`.
pub fn run(args: &EvalChurnArgs) -> anyhow::Result<ExitCode> {
    let path = one_file(&args.data)?;
    let (model, report, rows) = match conversation_rows(path, args.data.label_col.as_deref())? {
        Some((conversations, labels, _)) => {
            let options = ChurnOptions { model: args.model.clone(), ..ChurnOptions::default() };
            let copilot = args.model_args.copilot_with(options)?;
            let signals = signals_of(&copilot, &conversations)?;
            let table = ChurnSignals::table(&signals, &[("outcome".to_string(), labels)])?;
            let model = copilot.churn().context("the copilot has no churn task")?.model().clone();
            let report = model.evaluate(&table, "outcome")?;
            (model, report, table)
        }
        None => {
            let dir = args
                .model
                .as_deref()
                .context("a customer table needs --model DIR (from `copiloot train churn`)")?;
            let model = ChurnModel::load(dir)?;
            let table = Table::read(path)?;
            let label = label_of(&args.data, table.columns())?;
            let report = model.evaluate(&table, &label)?;
            (model, report, table)
        }
    };
    print_metrics(&report, "evaluation");
    if let Some(p) = &args.predictions {
        let probs = model.predict_proba(&rows)?;
        let mut out = String::new();
        for (i, s) in probs.iter().enumerate() {
            out.push_str(
                &serde_json::json!({"row": i + 1, "score": s, "band": model.bands.band(*s)}).to_string(),
            );
            out.push('\n');
        }
        std::fs::write(p, out).map_err(|e| Error::io(p, e))?;
    }
    if let Some(p) = &args.plot {
        plot::reliability_png(&report, p)?;
        eprintln!("reliability plot written to {}", p.display());
    }
    if let Some(p) = &args.report {
        std::fs::write(p, serde_json::to_string_pretty(&report)? + "\n").map_err(|e| Error::io(p, e))?;
        eprintln!("report written to {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}
