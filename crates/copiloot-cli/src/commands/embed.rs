//! `copiloot embed`: one text per line in, one JSON line `{"embedding": [...]}` per text out, in order.

use crate::common::{read_lines, ModelArgs};
use copiloot::models::TextRole;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct EmbedArgs {
    /// Text file, one text per line (default: stdin).
    #[arg(long, short)]
    pub input: Option<PathBuf>,
    /// Prompt role for models with query/passage prompts (e5).
    #[arg(long, value_enum, default_value = "query")]
    pub role: Role,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Role {
    Query,
    Passage,
    None,
}

pub fn run(args: &EmbedArgs) -> anyhow::Result<ExitCode> {
    let lines = read_lines(args.input.as_deref())?;
    let copilot = args.model.copilot()?;
    let role = match args.role {
        Role::Query => TextRole::Query,
        Role::Passage => TextRole::Passage,
        Role::None => TextRole::None,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    // Chunks keep memory flat for long inputs while every chunk still batches well.
    for chunk in lines.chunks(1024) {
        let texts: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let encoded = copilot.encoder().encode(&texts, role, args.model.batch_size.max(1))?;
        for (i, vector) in encoded.embeddings.iter().enumerate() {
            let truncated = encoded.truncated.contains(&i);
            let line = if truncated {
                serde_json::json!({"embedding": vector, "truncated": true})
            } else {
                serde_json::json!({"embedding": vector})
            };
            writeln!(out, "{line}")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
