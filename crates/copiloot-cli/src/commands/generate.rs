//! `copiloot generate`: run the local LLM on one prompt, printing tokens as they come.

use crate::common::{read_input, GeneratorArgs};
use copiloot::models::generator::ChatMessage;
use std::io::Write;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// The user message (default: read from stdin).
    #[arg(long)]
    pub prompt: Option<String>,
    /// An optional system message.
    #[arg(long)]
    pub system: Option<String>,
    /// Print one JSON object (text, token counts, stop reason, timings) instead of streaming text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub generator: GeneratorArgs,
    /// Folder with installed models, for `--generator default`.
    #[arg(long = "models", env = "COPILOOT_MODELS")]
    pub models_dir: Option<std::path::PathBuf>,
}

pub fn run(args: &GenerateArgs) -> anyhow::Result<ExitCode> {
    let prompt = match &args.prompt {
        Some(p) => p.clone(),
        None => read_input(None)?.1,
    };
    let generator = args.generator.load(args.models_dir.as_deref())?.ok_or_else(|| {
        anyhow::anyhow!("name the model: --generator FILE.gguf (or `default`, or COPILOOT_GENERATOR)")
    })?;
    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(ChatMessage::system(system.clone()));
    }
    messages.push(ChatMessage::user(prompt.trim_end().to_string()));
    let options = args.generator.options();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let streaming = !args.json;
    let mut on_token = |piece: &str| {
        if streaming {
            // A closed stdout (e.g. `| head`) stops generation instead of failing it.
            return out.write_all(piece.as_bytes()).and_then(|_| out.flush()).is_ok();
        }
        true
    };
    let generation = generator.generate(&messages, &options, &mut on_token)?;
    if args.json {
        let value = serde_json::json!({
            "model": generator.info(),
            "generation": generation,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        let _ = writeln!(out);
    }
    let t = &generation.timings;
    eprintln!(
        "{} prompt tokens at {:.1} tok/s, {} generated at {:.1} tok/s ({:?}); load {:.0} ms",
        generation.prompt_tokens,
        t.prompt_tokens_per_s,
        generation.generated_tokens,
        t.generated_tokens_per_s,
        generation.stop_reason,
        generator.info().load_ms
    );
    Ok(ExitCode::SUCCESS)
}
