//! The optional local LLM: quantised GGUF decoders (llama, qwen2, qwen3, gemma3 families) run with our
//! own forward (`engine/`) or, for files it does not cover, candle's models (`candle.rs`), prompted
//! through the model's own chat template, decoding greedily by default.
//!
//! `Generator` is `Send + Sync`. Both engines keep the KV cache inside the model, so the model sits
//! behind a `Mutex`: generations on one `Generator` run one at a time (each clears the cache first); load
//! a second `Generator` for parallel generations.

mod candle;
mod chat;
mod decoder;
mod engine;
mod gguf;
mod tokenizer;

pub use chat::{ChatMessage, ChatTemplate, TemplateSource};
pub use decoder::Decoder;
pub use gguf::{Architecture, GgufFile};

use super::source::ModelSource;
use crate::error::{Error, Location, Result};
use candle_core::quantized::GgmlDType;
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::quantized_llama;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;
use tokenizers::Tokenizer;

/// How to load a GGUF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadOptions {
    /// On candle's path, re-quantise Q4_1 tensors to Q8_0 at load time (candle has no vectorised Q4_1
    /// kernel; Q8_0's is several times faster, and its rounding is far below Q4_1's own). `false` runs
    /// candle on the file as it is (and so never our own forward). Default: true.
    pub requantize_q4_1: bool,
    /// Which forward pass runs the model. Default: [`Engine::Copiloot`] where it applies.
    pub engine: Engine,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { requantize_q4_1: true, engine: Engine::Copiloot }
    }
}

/// The forward pass behind a [`Generator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// copiloot's own forward (`generator/engine/`: 4-bit blocks kept, other matrices in int8) for dense
    /// llama, qwen2, qwen3 and gemma3 files with Q4_0/Q4_1/Q4_K/Q5_0/Q5_1/Q5_K/Q6_K/Q8_0 or float weights;
    /// anything else falls back to candle (`GeneratorInfo::engine_note` says why).
    Copiloot,
    /// candle-transformers' quantized model for the family, as it is.
    Candle,
}

impl std::str::FromStr for Engine {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "copiloot" => Ok(Engine::Copiloot),
            "candle" => Ok(Engine::Candle),
            other => Err(Error::Config(format!("unknown engine `{other}`: use `copiloot` or `candle`"))),
        }
    }
}

/// How to decode. The default is greedy (deterministic) with at most 256 new tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct GenerationOptions {
    pub max_tokens: usize,
    /// `None` or `<= 0`: greedy. Otherwise sample at this temperature (reproducible with `seed`).
    pub temperature: Option<f64>,
    /// Nucleus sampling cut-off, used only when sampling.
    pub top_p: Option<f64>,
    pub seed: u64,
    /// Whether to stop when the output loops (see [`Repetition`]); the default is off for plain
    /// generation and on for summary notes.
    pub repetition: Repetition,
}

impl Default for GenerationOptions {
    fn default() -> Self {
        Self { max_tokens: 256, temperature: None, top_p: None, seed: 42, repetition: Repetition::Default }
    }
}

/// Stopping on a loop. Small models caught in a loop ("what the agent did: De reden is;" nine times) run
/// to `max_tokens`; stopping early saves the time and tells the caller why (`StopReason::Repetition`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Repetition {
    /// Off for [`Generator::generate`], on with [`RepetitionGuard::default`] for the summary's note
    /// rewrite (`tasks::summary::llm::rewrite`), where a loop is never a good note.
    #[default]
    Default,
    /// Never stop on a loop.
    Off,
    /// Stop with this guard.
    Stop(RepetitionGuard),
}

impl Repetition {
    /// The guard in force when `Default` means `default_on`.
    pub fn guard(self, default_on: bool) -> Option<RepetitionGuard> {
        match self {
            Repetition::Default => default_on.then(RepetitionGuard::default),
            Repetition::Off => None,
            Repetition::Stop(g) => Some(g),
        }
    }
}

/// A loop is the last `ngram` tokens occurring `times` times or more among the last `window` tokens
/// (overlaps count, so a token repeated `ngram + times - 1` times in a row is a loop too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RepetitionGuard {
    pub ngram: usize,
    pub times: usize,
    pub window: usize,
}

impl Default for RepetitionGuard {
    /// The same 6 tokens 3 times within 256. Six, not four: SmolLM2's English vocabulary cuts Dutch words
    /// into several tokens, so ordinary Dutch repeats short token runs ("de klant heeft"); and a window of
    /// 256, because a looping Dutch sentence ("van 245 euro voor de fysiotherapeut is afgewezen en ik
    /// begrijp niet waarom.") runs to 30–40 tokens, and three of them did not fit in 64.
    fn default() -> Self {
        Self { ngram: 6, times: 3, window: 256 }
    }
}

impl RepetitionGuard {
    /// Whether `tokens` (the output so far) ends in a loop.
    pub fn repeats(&self, tokens: &[u32]) -> bool {
        let n = self.ngram.max(1);
        if self.times < 2 || tokens.len() < n {
            return false;
        }
        let recent = &tokens[tokens.len().saturating_sub(self.window.max(n))..];
        let last = &recent[recent.len() - n..];
        recent.windows(n).filter(|w| *w == last).count() >= self.times
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model produced an end-of-turn / end-of-text token.
    EndOfTurn,
    /// `max_tokens` reached, or the context window is full.
    Length,
    /// The streaming callback asked to stop.
    Cancelled,
    /// The output started to loop (`GenerationOptions::repetition`).
    Repetition,
}

/// Wall-clock timings of one generation, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Timings {
    pub prompt_ms: f64,
    pub generation_ms: f64,
    pub prompt_tokens_per_s: f64,
    pub generated_tokens_per_s: f64,
}

/// The result of [`Generator::generate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Generation {
    pub text: String,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub stop_reason: StopReason,
    pub timings: Timings,
    /// The generated token ids (for comparisons with other engines; not serialised).
    #[serde(skip)]
    pub ids: Vec<u32>,
}

/// What was loaded, for reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GeneratorInfo {
    pub id: String,
    pub architecture: Architecture,
    pub context_length: usize,
    pub tokenizer: String,
    pub chat_template: TemplateSource,
    /// Number of tensors re-quantised at load: on candle's path the Q4_1 ones (to Q8_0); on ours the
    /// matrices not already Q4_0 / Q4_1 / Q4_K / Q8_0 (to int8) — 0 for the embedded SmolLM2.
    pub requantized_tensors: usize,
    /// The forward pass that runs the model.
    pub engine: Engine,
    /// Why the copiloot engine was not used, when it was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_note: Option<String>,
    pub load_ms: f64,
}

/// The generator a user names: `default` (the catalog's generator, installed in `models_dir`), a `.gguf`
/// file, a folder holding one, or a hub file `org/name[@rev]:file.gguf`.
pub fn source_for(spec: &str, models_dir: &Path) -> Result<ModelSource> {
    if spec != "default" {
        return ModelSource::parse(spec);
    }
    let catalog = super::Catalog::load(models_dir)?;
    let name = catalog.roles.generator.ok_or_else(|| {
        Error::Config("the model catalog names no default generator; name a .gguf file instead".into())
    })?;
    Ok(ModelSource::Folder { path: models_dir.join(name) })
}

/// A loaded local LLM. See the module docs for the threading rule.
pub struct Generator {
    model: Mutex<Box<dyn Decoder>>,
    tokenizer: Tokenizer,
    template: ChatTemplate,
    stop_ids: Vec<u32>,
    bos: Option<(u32, String)>,
    add_bos: bool,
    info: GeneratorInfo,
}

/// candle's llama port precomputes rotary tables for this many positions only.
const LLAMA_MAX_POSITIONS: usize = quantized_llama::MAX_SEQ_LEN;

impl Generator {
    /// Load from a `.gguf` path (a hub source must name its file, see [`ModelSource::resolve_gguf_file`]).
    pub fn load(source: &ModelSource) -> Result<Self> {
        Self::load_with(source, LoadOptions::default())
    }

    pub fn load_with(source: &ModelSource, options: LoadOptions) -> Result<Self> {
        let path = source.resolve_gguf_file()?;
        let mut generator = Self::from_file(&path, options)?;
        generator.info.id = source.id();
        Ok(generator)
    }

    pub fn from_file(path: &Path, options: LoadOptions) -> Result<Self> {
        let start = Instant::now();
        let mut file = GgufFile::open(path)?;
        let (tokenizer, tokenizer_kind) = tokenizer::load(&file)?;
        let token = |key: &str| -> Option<(u32, String)> {
            let id = file.metadata_u32(key)?;
            Some((id, tokenizer.id_to_token(id)?))
        };
        let bos = token("tokenizer.ggml.bos_token_id");
        let eos = token("tokenizer.ggml.eos_token_id");
        let add_bos =
            file.metadata("tokenizer.ggml.add_bos_token").and_then(|v| v.to_bool().ok()).unwrap_or(false);
        let mut stop_ids: Vec<u32> =
            ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"]
                .iter()
                .filter_map(|k| file.metadata_u32(k))
                .collect();
        for name in ["<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|endoftext|>", "<|end|>", "<|eom_id|>"] {
            stop_ids.extend(tokenizer.token_to_id(name));
        }
        stop_ids.sort_unstable();
        stop_ids.dedup();
        if stop_ids.is_empty() {
            return Err(Error::model_load(
                path,
                "the GGUF names no end-of-text token (tokenizer.ggml.eos_token_id)",
            ));
        }
        let template = ChatTemplate::new(
            path,
            file.metadata_str("tokenizer.chat_template"),
            tokenizer.token_to_id("<|im_start|>").is_some(),
            bos.as_ref().map(|b| b.1.as_str()).unwrap_or(""),
            eos.as_ref().map(|e| e.1.as_str()).unwrap_or(""),
        )?;
        let mut context_length = file.context_length().unwrap_or(LLAMA_MAX_POSITIONS);
        // Our own forward where it applies; `--no-requantize` asks for candle on the file as it is.
        let own = match (options.engine, options.requantize_q4_1) {
            (Engine::Copiloot, true) => engine::supported(&file),
            (Engine::Copiloot, false) => Err("--no-requantize keeps the file's weights as they are".into()),
            (Engine::Candle, _) => Err("the candle engine was asked for".into()),
        };
        let (model, engine, engine_note, requantized_tensors) = match own {
            Ok(()) => (
                Box::new(engine::Transformer::load(&file)?) as Box<dyn Decoder>,
                Engine::Copiloot,
                None,
                engine::requantized_tensors(&file),
            ),
            Err(why) => {
                let q4_1 = file.count_dtype(GgmlDType::Q4_1);
                let requantized = if options.requantize_q4_1 && q4_1 > 0 {
                    file = gguf::requantize_q4_1(&file, GgmlDType::Q8_0)?;
                    q4_1 - file.count_dtype(GgmlDType::Q4_1)
                } else {
                    0
                };
                let note = (options.engine == Engine::Copiloot).then_some(why);
                if file.architecture == Architecture::Llama {
                    context_length = context_length.min(LLAMA_MAX_POSITIONS);
                }
                (
                    Box::new(candle::CandleModel::load(&file)?) as Box<dyn Decoder>,
                    Engine::Candle,
                    note,
                    requantized,
                )
            }
        };
        let info = GeneratorInfo {
            id: path.display().to_string(),
            architecture: file.architecture,
            context_length,
            tokenizer: tokenizer_kind.to_string(),
            chat_template: template.source,
            requantized_tensors,
            engine,
            engine_note,
            load_ms: start.elapsed().as_secs_f64() * 1e3,
        };
        Ok(Self { model: Mutex::new(model), tokenizer, template, stop_ids, bos, add_bos, info })
    }

    pub fn info(&self) -> &GeneratorInfo {
        &self.info
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The prompt text the model sees for these messages.
    pub fn render_prompt(&self, messages: &[ChatMessage]) -> Result<String> {
        self.template.render(messages)
    }

    /// Token ids of a rendered prompt: special tokens in the text (`<|im_start|>`) become their ids; a BOS
    /// is added when the file asks for one and the template did not write it.
    pub fn encode_prompt(&self, prompt: &str) -> Result<Vec<u32>> {
        let enc = self
            .tokenizer
            .encode_fast(prompt, false)
            .map_err(|e| Error::Inference(format!("tokenizer: {e}")))?;
        let mut ids = enc.get_ids().to_vec();
        if let Some((bos_id, bos_text)) = &self.bos {
            if self.add_bos && !prompt.starts_with(bos_text.as_str()) {
                ids.insert(0, *bos_id);
            }
        }
        Ok(ids)
    }

    /// Generate the assistant's reply. `on_token` receives each new piece of text as it is decoded (the
    /// pieces concatenate to `Generation::text`); returning `false` stops generation.
    pub fn generate(
        &self,
        messages: &[ChatMessage],
        options: &GenerationOptions,
        on_token: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Generation> {
        let prompt = self.render_prompt(messages)?;
        let ids = self.encode_prompt(&prompt)?;
        self.generate_from_ids(&ids, options, on_token)
    }

    /// [`Generator::generate`] from already tokenised prompt ids (benchmarks compare engines on the same ids).
    pub fn generate_from_ids(
        &self,
        ids: &[u32],
        options: &GenerationOptions,
        on_token: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Generation> {
        let context = self.info.context_length;
        if ids.is_empty() {
            return Err(Error::invalid(Location::field("messages"), "the prompt is empty"));
        }
        if ids.len() >= context {
            return Err(Error::InputTooLarge {
                location: Location::field("messages"),
                what: "prompt length in tokens".into(),
                actual: ids.len(),
                limit: context.saturating_sub(1),
            });
        }
        let budget = options.max_tokens.min(context - ids.len());
        let sampling = match options.temperature {
            Some(t) if t > 0.0 => match options.top_p {
                Some(p) if p > 0.0 && p < 1.0 => Sampling::TopP { p, temperature: t },
                _ => Sampling::All { temperature: t },
            },
            _ => Sampling::ArgMax,
        };
        let mut sampler = LogitsProcessor::from_sampling(options.seed, sampling);
        let guard = options.repetition.guard(false);
        let mut model = self.model.lock().map_err(|_| {
            Error::Inference("an earlier generation panicked; load the generator again".into())
        })?;
        model.clear();

        let t0 = Instant::now();
        let mut logits = model.forward(ids, 0)?;
        let prompt_ms = t0.elapsed().as_secs_f64() * 1e3;

        let t1 = Instant::now();
        let mut generated: Vec<u32> = Vec::new();
        let mut emitted = String::new();
        let mut stop_reason = StopReason::Length;
        while generated.len() < budget {
            let next = sampler.sample(&logits)?;
            if self.stop_ids.contains(&next) {
                stop_reason = StopReason::EndOfTurn;
                break;
            }
            generated.push(next);
            // Decode the whole reply and emit what is new, holding back a half-decoded UTF-8 character.
            let text = self.decode(&generated)?;
            if !text.ends_with('\u{FFFD}') {
                if let Some(new) = text.strip_prefix(emitted.as_str()) {
                    if !new.is_empty() {
                        let keep_going = on_token(new);
                        emitted = text;
                        if !keep_going {
                            stop_reason = StopReason::Cancelled;
                            break;
                        }
                    }
                }
            }
            if guard.is_some_and(|g| g.repeats(&generated)) {
                stop_reason = StopReason::Repetition;
                break;
            }
            if generated.len() >= budget {
                break;
            }
            logits = model.forward(&[next], ids.len() + generated.len() - 1)?;
        }
        let text = self.decode(&generated)?;
        if stop_reason != StopReason::Cancelled {
            if let Some(rest) = text.strip_prefix(emitted.as_str()) {
                if !rest.is_empty() {
                    on_token(rest);
                }
            }
        }
        let generation_ms = t1.elapsed().as_secs_f64() * 1e3;
        let per_s = |n: usize, ms: f64| if ms > 0.0 { n as f64 * 1e3 / ms } else { 0.0 };
        Ok(Generation {
            text,
            prompt_tokens: ids.len(),
            generated_tokens: generated.len(),
            stop_reason,
            timings: Timings {
                prompt_ms,
                generation_ms,
                prompt_tokens_per_s: per_s(ids.len(), prompt_ms),
                generated_tokens_per_s: per_s(generated.len(), generation_ms),
            },
            ids: generated,
        })
    }

    fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer.decode(ids, true).map_err(|e| Error::Inference(format!("tokenizer decode: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_stops_on_a_repeated_ngram_and_not_before() {
        let g = RepetitionGuard { ngram: 4, times: 3, window: 64 };
        // "a b c d" three times: the third time completes the loop, the second does not.
        let looped = [1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4];
        assert!(g.repeats(&looped));
        assert!(!g.repeats(&looped[..11]) && !g.repeats(&looped[..8]));
        // One token over and over is a loop of period 1: 4 + 3 - 1 tokens.
        assert!(g.repeats(&[7; 6]) && !g.repeats(&[7; 5]));
        // A 4-gram that recurs but is spread beyond the window is no loop.
        let mut spread: Vec<u32> = vec![1, 2, 3, 4];
        for k in 0..2 {
            spread.extend(100 + k * 100..100 + k * 100 + 70);
            spread.extend([1, 2, 3, 4]);
        }
        assert!(!g.repeats(&spread));
        // Text that never repeats four tokens, and a guard that is off.
        let plain: Vec<u32> = (0..200).collect();
        assert!(!g.repeats(&plain));
        assert!(!RepetitionGuard { times: 0, ..g }.repeats(&looped));
        // The default: a 36-token sentence said three times (the loop of issue 18) is caught at the end
        // of its third time, once it has been said twice it is not yet.
        let d = RepetitionGuard::default();
        let sentence: Vec<u32> = (500..536).collect();
        let thrice: Vec<u32> = sentence.iter().cycle().take(36 * 2 + d.ngram).copied().collect();
        assert!(d.repeats(&thrice) && !d.repeats(&thrice[..thrice.len() - 1]));
        assert_eq!(Repetition::Default.guard(false), None);
        assert_eq!(Repetition::Default.guard(true), Some(d));
        assert_eq!(Repetition::Off.guard(true), None);
        assert_eq!(Repetition::Stop(g).guard(false), Some(g));
    }

    #[test]
    fn generator_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Generator>();
    }
}
