//! `copiloot generate`: run the local LLM on one prompt, printing tokens as they come.

use crate::common::read_input;
use copiloot::models::generator::{ChatMessage, GenerationOptions, Generator, LoadOptions};
use copiloot::models::ModelSource;
use std::io::Write;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// The model: a `.gguf` file (llama, qwen2, qwen3 or gemma3 family).
    #[arg(long, env = "COPILOOT_GENERATOR")]
    pub generator: String,
    /// The user message (default: read from stdin).
    #[arg(long)]
    pub prompt: Option<String>,
    /// An optional system message.
    #[arg(long)]
    pub system: Option<String>,
    /// At most this many new tokens.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: usize,
    /// Sample at this temperature instead of greedy decoding.
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Nucleus sampling cut-off (with --temperature).
    #[arg(long)]
    pub top_p: Option<f64>,
    /// Seed for sampling (reproducible runs).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Keep Q4_1 weights as they are (slower; by default they are re-quantised to Q8_0 at load).
    #[arg(long)]
    pub no_requantize: bool,
    /// Print one JSON object (text, token counts, stop reason, timings) instead of streaming text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &GenerateArgs) -> anyhow::Result<ExitCode> {
    let prompt = match &args.prompt {
        Some(p) => p.clone(),
        None => read_input(None)?.1,
    };
    let source = ModelSource::parse(&args.generator)?;
    let generator = Generator::load_with(&source, LoadOptions { requantize_q4_1: !args.no_requantize })?;
    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(ChatMessage::system(system.clone()));
    }
    messages.push(ChatMessage::user(prompt.trim_end().to_string()));
    let options = GenerationOptions {
        max_tokens: args.max_tokens,
        temperature: args.temperature,
        top_p: args.top_p,
        seed: args.seed,
    };
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
