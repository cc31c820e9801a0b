//! `copiloot`: the command-line face of copiloot (analyze, summarize, embed, models, schema).

mod churn_data;
mod commands;
mod common;
mod labelled;
mod serve;
mod text;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "copiloot", version, about = "Local-first AI copilot for contact-center agents")]
struct Cli {
    /// More log output on stderr (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse conversations: one file to stdout, or a JSONL batch to a JSONL file (resumable).
    Analyze(commands::analyze::AnalyzeArgs),
    /// The grounded summary of a conversation (reason, actions, resolution, next steps, CRM note).
    Summarize(commands::summarize::SummarizeArgs),
    /// Churn risk with reasons: per conversation, per customer (--by-customer) or per table row (--table).
    Churn(commands::churn::ChurnArgs),
    /// Embed text lines (stdin or --input) as JSON lines `{"embedding": [...]}`.
    Embed(commands::embed::EmbedArgs),
    /// List, install and verify the default models.
    #[command(subcommand)]
    Models(commands::models::ModelsCommand),
    /// Mask personal data (e-mail, phone, IBAN, BSN, postcode, card, date of birth, address) line by line.
    Redact(commands::redact::RedactArgs),
    /// Serve the HTTP API (and the agent panel) on loopback.
    Serve(serve::ServeArgs),
    /// Print the JSON Schema of the input conversation or of the output Analysis.
    Schema(commands::schema::SchemaArgs),
    /// Train an intent or sentiment head on labelled CSV/JSONL data (frozen encoder), or a churn model.
    #[command(subcommand)]
    Train(commands::train::TrainCommand),
    /// Knowledge base: index a company's articles (`kb index`) and search them (`kb search`).
    #[command(subcommand)]
    Kb(commands::kb::KbCommand),
    /// Run the local LLM (a GGUF file) on one prompt, streaming the reply.
    Generate(commands::generate::GenerateArgs),
    /// Evaluate intent/sentiment (accuracy, macro-F1, confusions), summaries (ROUGE) or churn (AUC, Brier).
    #[command(subcommand)]
    Eval(commands::eval::EvalCommand),
}

/// Exit status of a program whose reader went away (128 + SIGPIPE), as `cat` or `grep` report it.
const CLOSED_PIPE: u8 = 141;

/// `copiloot … | head` must stop quietly when `head` has read enough. Rust ignores SIGPIPE (and the
/// workspace denies the unsafe code that would restore it), so `println!` panics on the closed pipe
/// instead: this hook turns exactly that panic into a silent exit; every other panic is reported as usual.
fn exit_quietly_on_closed_stdout() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(CLOSED_PIPE.into());
        }
        report(info);
    }));
}

/// Whether a command failed only because its reader closed stdout (written with `write!`, not `println!`).
fn is_closed_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

fn main() -> ExitCode {
    exit_quietly_on_closed_stdout();
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("COPILOOT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();

    let result = match &cli.command {
        Command::Analyze(args) => commands::analyze::run(args),
        Command::Summarize(args) => commands::summarize::run(args),
        Command::Churn(args) => commands::churn::run(args),
        Command::Embed(args) => commands::embed::run(args),
        Command::Models(cmd) => commands::models::run(cmd),
        Command::Schema(args) => commands::schema::run(args),
        Command::Redact(args) => commands::redact::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Train(cmd) => cmd.run(),
        Command::Eval(cmd) => cmd.run(),
        Command::Kb(command) => command.run(),
        Command::Generate(args) => commands::generate::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) if is_closed_pipe(&err) => ExitCode::from(CLOSED_PIPE),
        Err(err) => {
            eprintln!("error: {err:#}");
            common::exit_code(&err)
        }
    }
}

#[cfg(test)]
mod tests {
    /// clap checks its argument definitions (unique names, valid `requires`) only when a command is
    /// built; this makes a clash a failing test instead of a panic on the user's first run.
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
