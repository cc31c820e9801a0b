//! `copiloot train churn`: a churn model from a customer table (tabular) or from JSONL conversations with
//! an outcome label; prints the held-out metrics and the coefficients.

use crate::churn_data::{conversation_rows, label_of, one_file, print_metrics, signals_of, ChurnDataArgs};
use crate::common::ModelArgs;
use copiloot::tasks::churn::{ChurnModel, ModelKind};
use copiloot::training::churn::train_conversations;
use copiloot::training::{Table, TrainOptions, TrainReport};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct TrainChurnArgs {
    #[command(flatten)]
    pub data: ChurnDataArgs,
    /// Output folder for the head.
    #[arg(long)]
    pub out: PathBuf,
    /// L2 regularisation strength (default 1/number of examples, like sklearn's C=1).
    #[arg(long)]
    pub l2: Option<f64>,
    /// Maximum L-BFGS iterations.
    #[arg(long, default_value_t = 500)]
    pub max_iter: usize,
    /// Churn: share of rows held out for evaluation (stratified).
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Churn: treat this column as categorical (repeat); e.g. a numeric plan code.
    #[arg(long)]
    pub categorical: Vec<String>,
    /// Churn: leave this column out (repeat); e.g. an identifier or a leak of the label.
    #[arg(long)]
    pub ignore: Vec<String>,
    /// Seed of the random choices: the held-out split (churn) or the example order (fine-tuning).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// `copiloot train churn`.
pub fn run(args: &TrainChurnArgs) -> anyhow::Result<ExitCode> {
    let path = one_file(&args.data)?;
    let options = TrainOptions {
        test_fraction: args.test_fraction,
        seed: args.seed,
        l2: args.l2,
        max_iter: args.max_iter.max(1000),
        categorical: args.categorical.clone(),
        ignore: args.ignore.clone(),
        ..TrainOptions::default()
    };
    let (mut model, report) = match conversation_rows(path, args.data.label_col.as_deref())? {
        Some((conversations, labels, label)) => {
            let copilot = args.model.copilot()?;
            let signals = signals_of(&copilot, &conversations)?;
            let (mut m, r) = train_conversations(&signals, &labels, &options)?;
            m.label = Some(label);
            (m, r)
        }
        None => {
            let table = Table::read(path)?;
            let label = label_of(&args.data, table.columns())?;
            ChurnModel::train(&table, &label, &options)?
        }
    };
    if let Some(t) = &mut model.training {
        t.source = Some(format!(
            "copiloot train churn --data {} --test-fraction {} --seed {}",
            path.file_name().map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().to_string()),
            options.test_fraction,
            options.seed
        ));
    }
    model.save(&args.out)?;
    print_train(&model, &report);
    eprintln!("model written to {}", args.out.join(copiloot::tasks::churn::model::MODEL_FILE).display());
    Ok(ExitCode::SUCCESS)
}

fn print_train(model: &ChurnModel, r: &TrainReport) {
    let kind = if model.kind == ModelKind::Tabular { "tabular" } else { "conversation" };
    println!(
        "churn model ({kind}): {} rows, {:.1} % churn; trained on {}, held out {}",
        r.rows,
        100.0 * r.positive_rate,
        r.train_rows,
        r.test_rows
    );
    println!("numeric: {}", r.numeric.join(", "));
    println!("categorical (one-hot): {}", r.categorical.join(", "));
    for i in &r.ignored {
        println!("ignored: {} ({})", i.column, i.reason);
    }
    println!("L-BFGS: {} iterations, l2 {:.2e}, loss {:.4}", r.iterations, r.l2, r.final_loss);
    if let Some(h) = &r.held_out {
        println!();
        print_metrics(h, "held-out");
    }
    println!();
    println!(
        "coefficients (logit per standard deviation; intercept {:+.3} = {:.1} % for an average customer)",
        model.intercept,
        100.0 * model.baseline()
    );
    for c in &r.coefficients {
        let name = match &c.level {
            Some(l) => format!("{} = {l}", c.feature),
            None => c.feature.clone(),
        };
        println!("  {:+.3}  {name}", c.coefficient);
    }
}
