//! Generator speed for benches/compare_generator.py: load a GGUF, run one greedy generation on a prompt,
//! print prompt and generation tokens/s, load time and peak RSS as one JSON line.
//!
//! ```text
//! RAYON_NUM_THREADS=2 cargo run --release -p copiloot --example generate_speed -- \
//!     --gguf models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf \
//!     --ids benches/out/prompt_ids.json --max-tokens 64 [--no-requantize] [--engine copiloot|candle] [--runs 3]
//! ```
//! `--ids` is a JSON list of prompt token ids (so every engine sees the same tokens); `--prompt TEXT`
//! instead renders TEXT as a user message with the model's chat template. The generation is ignored
//! up to the first end-of-turn: exactly `--max-tokens` tokens are generated unless the model stops.

use copiloot::models::generator::{ChatMessage, Engine, GenerationOptions, Generator, LoadOptions};
use std::error::Error;
use std::path::PathBuf;

const USAGE: &str = "usage: generate_speed --gguf FILE (--ids FILE.json | --prompt TEXT) [--max-tokens 64] [--runs 1] [--no-requantize] [--engine copiloot|candle]";

fn main() -> Result<(), Box<dyn Error>> {
    let mut gguf = PathBuf::new();
    let mut ids_file: Option<PathBuf> = None;
    let mut prompt: Option<String> = None;
    let mut max_tokens = 64;
    let mut runs = 1usize;
    let mut requantize = true;
    let mut engine = Engine::Copiloot;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--gguf" => gguf = value()?.into(),
            "--ids" => ids_file = Some(value()?.into()),
            "--prompt" => prompt = Some(value()?),
            "--max-tokens" => max_tokens = value()?.parse()?,
            "--runs" => runs = value()?.parse()?,
            "--no-requantize" => requantize = false,
            "--engine" => {
                engine = match value()?.as_str() {
                    "copiloot" => Engine::Copiloot,
                    "candle" => Engine::Candle,
                    other => return Err(format!("unknown engine `{other}`\n{USAGE}").into()),
                }
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}").into()),
        }
    }
    let generator = Generator::from_file(&gguf, LoadOptions { requantize_q4_1: requantize, engine })?;
    let ids: Vec<u32> = match (ids_file, prompt) {
        (Some(f), _) => serde_json::from_str(&std::fs::read_to_string(f)?)?,
        (None, Some(p)) => generator.encode_prompt(&generator.render_prompt(&[ChatMessage::user(p)])?)?,
        (None, None) => return Err(USAGE.into()),
    };
    let options = GenerationOptions { max_tokens, ..GenerationOptions::default() };
    let mut best: Option<copiloot::models::Generation> = None;
    for _ in 0..runs.max(1) {
        let g = generator.generate_from_ids(&ids, &options, &mut |_| true)?;
        // Keep the fastest run of each phase: timing noise on a shared machine only slows runs down.
        best = Some(match best {
            None => g,
            Some(mut b) => {
                b.timings.prompt_tokens_per_s =
                    b.timings.prompt_tokens_per_s.max(g.timings.prompt_tokens_per_s);
                b.timings.generated_tokens_per_s =
                    b.timings.generated_tokens_per_s.max(g.timings.generated_tokens_per_s);
                b
            }
        });
    }
    let Some(g) = best else { return Err("no run".into()) };
    let peak_rss_mb = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0);
    let line = serde_json::json!({
        "engine": "copiloot",
        "forward": generator.info().engine,
        "engine_note": generator.info().engine_note,
        "requantize_q4_1": requantize,
        "requantized_tensors": generator.info().requantized_tensors,
        "load_ms": generator.info().load_ms,
        "prompt_tokens": g.prompt_tokens,
        "generated_tokens": g.generated_tokens,
        "prompt_tokens_per_s": g.timings.prompt_tokens_per_s,
        "generated_tokens_per_s": g.timings.generated_tokens_per_s,
        "stop_reason": g.stop_reason,
        "text": g.text,
        "ids": g.ids,
        "peak_rss_mb": peak_rss_mb,
    });
    println!("{line}");
    Ok(())
}
