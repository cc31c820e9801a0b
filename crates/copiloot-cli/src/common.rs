//! Pieces several commands share: model options, the `--as-of` date, input reading, exit codes.
//! Nothing here imports from `commands/`.

use anyhow::Context;
use copiloot::models::generator::{Engine, GenerationOptions, Generator, LoadOptions};
use copiloot::tasks::churn::Date;
use copiloot::{Copilot, CopilotOptions, Error, Location, Redaction};
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Which models to use; every command that runs a model takes these.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Encoder: a folder in Hugging Face layout or a hub id (`org/name[@revision]`).
    /// Default: the catalog's multilingual encoder in the models folder.
    #[arg(long, env = "COPILOOT_ENCODER")]
    pub encoder: Option<String>,
    /// Folder with installed models (default: `$COPILOOT_MODELS`, else ./models of the project).
    #[arg(long = "models", env = "COPILOOT_MODELS")]
    pub models_dir: Option<PathBuf>,
    /// Texts per forward pass of the encoder.
    #[arg(long, default_value_t = copiloot::models::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    /// Also mask personal data in the turns before the models see them.
    #[arg(long, conflicts_with = "no_redact")]
    pub redact_input: bool,
    /// Trusted batch jobs: no PII spans in the output, nothing masked.
    #[arg(long)]
    pub no_redact: bool,
    /// Churn: today's date (YYYY-MM-DD) for "contract ends in N months" (default: the system date, UTC).
    #[arg(long, env = "COPILOOT_AS_OF")]
    pub as_of: Option<String>,
    /// Encoder precision: `q8` (int8 linear layers, the default, faster) or `f32` (exact reference).
    #[arg(long, env = "COPILOOT_PRECISION")]
    pub precision: Option<copiloot::models::Precision>,
}

impl ModelArgs {
    /// Only the encoder (no task models): for indexing and searching a knowledge base.
    pub fn encoder(&self) -> anyhow::Result<copiloot::models::Encoder> {
        Ok(Copilot::load_encoder(&self.options(Default::default())?)?)
    }

    /// The zero-shot intent model over the models folder's taxonomy, on `encoder` (for knowledge
    /// searches outside an analysis, whose articles may be tagged with intents).
    pub fn intent_model(
        &self,
        encoder: &copiloot::models::Encoder,
    ) -> anyhow::Result<copiloot::tasks::intent::IntentModel> {
        let dir = self.models_dir.clone().unwrap_or_else(copiloot::models::catalog::default_models_dir);
        Ok(copiloot::tasks::IntentTask::load(&dir, encoder)?.model)
    }

    pub fn copilot(&self) -> anyhow::Result<Copilot> {
        self.copilot_with(copiloot::tasks::churn::ChurnOptions::default())
    }

    /// Like [`Self::copilot`] with churn options (the `as_of` date is always set from `--as-of` or today).
    pub fn copilot_with(&self, mut churn: copiloot::tasks::churn::ChurnOptions) -> anyhow::Result<Copilot> {
        churn.as_of = Some(as_of(self.as_of.as_deref())?);
        Ok(Copilot::new(self.options(churn)?)?)
    }

    fn options(&self, churn: copiloot::tasks::churn::ChurnOptions) -> anyhow::Result<CopilotOptions> {
        let encoder = self.encoder.as_deref().map(copiloot::models::ModelSource::parse).transpose()?;
        Ok(CopilotOptions {
            encoder,
            models_dir: self.models_dir.clone(),
            batch_size: Some(self.batch_size.max(1)),
            redaction: match (self.no_redact, self.redact_input) {
                (true, _) => Redaction::Off,
                (false, true) => Redaction::Everything,
                (false, false) => Redaction::Outputs,
            },
            churn,
            precision: self.precision,
            ..CopilotOptions::default()
        })
    }
}

/// The optional local LLM (`generate`, and the note rewrite of `summarize`, `analyze` and `serve`).
#[derive(clap::Args, Debug, Clone)]
pub struct GeneratorArgs {
    /// A local LLM: a `.gguf` file, a folder holding one, a hub file `org/name[@rev]:file.gguf`, or
    /// `default` (the catalog's generator in the models folder). Summaries then carry a `rewrite`.
    #[arg(long, env = "COPILOOT_GENERATOR")]
    pub generator: Option<String>,
    /// At most this many new tokens per generation.
    #[arg(long, default_value_t = 160)]
    pub max_tokens: usize,
    /// Sample at this temperature instead of greedy decoding (the default, deterministic).
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Nucleus sampling cut-off (with --temperature).
    #[arg(long)]
    pub top_p: Option<f64>,
    /// Seed for sampling (reproducible runs).
    #[arg(long, default_value_t = 42)]
    pub sample_seed: u64,
    /// Run candle on the file's weights as they are (slow: candle has no vector kernel for Q4_1).
    #[arg(long)]
    pub no_requantize: bool,
    /// Forward pass: `copiloot` (our own, for dense llama-architecture files; others fall back to candle)
    /// or `candle` (candle-transformers' model, Q4_1 re-quantised to Q8_0).
    #[arg(long, default_value = "copiloot")]
    pub engine: Engine,
}

impl GeneratorArgs {
    pub fn options(&self) -> GenerationOptions {
        GenerationOptions {
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            top_p: self.top_p,
            seed: self.sample_seed,
            repetition: Default::default(),
        }
    }

    /// Load the generator when one is named; `models_dir` resolves `default`.
    pub fn load(&self, models_dir: Option<&Path>) -> anyhow::Result<Option<Arc<Generator>>> {
        let Some(spec) = self.generator.as_deref() else { return Ok(None) };
        let dir = models_dir.map(Path::to_path_buf).unwrap_or_else(copiloot::models::default_models_dir);
        let source = copiloot::models::generator::source_for(spec, &dir)?;
        let options = LoadOptions { requantize_q4_1: !self.no_requantize, engine: self.engine };
        Ok(Some(Arc::new(Generator::load_with(&source, options)?)))
    }

    /// `copilot` with the generator attached, when one is named.
    pub fn attach(&self, copilot: Copilot, models_dir: Option<&Path>) -> anyhow::Result<Copilot> {
        Ok(match self.load(models_dir)? {
            Some(generator) => copilot.with_generator(generator, self.options()),
            None => copilot,
        })
    }
}

/// `--as-of` of the commands that analyse: a date, or today's (UTC) when not given.
pub fn as_of(given: Option<&str>) -> anyhow::Result<Date> {
    match given {
        Some(s) => s.parse::<Date>().map_err(|m| Error::invalid(Location::field("as-of"), m).into()),
        None => Ok(Date::today_utc()),
    }
}

/// Read a whole input (file or `-` for stdin) as UTF-8, naming the source in errors.
pub fn read_input(path: Option<&Path>) -> anyhow::Result<(String, String)> {
    let (name, bytes) = match path {
        Some(p) if p != Path::new("-") => (
            p.display().to_string(),
            std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
        ),
        _ => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).context("cannot read stdin")?;
            ("<stdin>".to_string(), buf)
        }
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|&&b| b == b'\n').count();
        Error::invalid(
            Location::line(line).with_source(name.clone()),
            "the input is not valid UTF-8; convert it (e.g. `iconv -f latin1 -t utf-8`)",
        )
    })?;
    Ok((name, text))
}

/// Lines of a file or stdin, each checked for UTF-8 with its line number.
pub fn read_lines(path: Option<&Path>) -> anyhow::Result<Vec<String>> {
    let (name, reader): (String, Box<dyn BufRead>) = match path {
        Some(p) if p != Path::new("-") => (
            p.display().to_string(),
            Box::new(std::io::BufReader::new(
                std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
            )),
        ),
        _ => ("<stdin>".to_string(), Box::new(std::io::BufReader::new(std::io::stdin()))),
    };
    let mut lines = Vec::new();
    for (i, raw) in reader.split(b'\n').enumerate() {
        let mut raw = raw.with_context(|| format!("cannot read {name}"))?;
        if raw.last() == Some(&b'\r') {
            raw.pop();
        }
        let line = String::from_utf8(raw).map_err(|_| {
            Error::invalid(Location::line(i + 1).with_source(name.clone()), "line is not valid UTF-8")
        })?;
        lines.push(line);
    }
    Ok(lines)
}

/// 2 for bad input, 3 for missing or broken models, 1 for everything else.
pub fn exit_code(err: &anyhow::Error) -> ExitCode {
    match err.downcast_ref::<Error>().map(Error::kind) {
        Some(kind) if kind.is_input() => ExitCode::from(2),
        Some(kind) if kind.is_model() => ExitCode::from(3),
        _ => ExitCode::from(1),
    }
}

/// How many suggestions and how sure: shared with `analyze --kb` and `serve --kb`.
#[derive(clap::Args, Debug, Clone)]
pub struct SearchFlags {
    /// Articles to suggest at most.
    #[arg(long, default_value_t = 3)]
    pub top_k: usize,
    /// Leave out suggestions scoring below this (the fused score).
    #[arg(long, default_value_t = copiloot::knowledge::search::DEFAULT_MIN_SCORE)]
    pub min_score: f32,
    /// `hybrid` (default), or one half alone: `lexical` (BM25) or `dense` (cosine).
    #[arg(long, value_parser = parse_retriever, default_value = "hybrid")]
    pub retriever: copiloot::knowledge::Retriever,
    /// Bonus for articles tagged with an intent the customer turns show (0 turns intents off).
    #[arg(long, default_value_t = copiloot::knowledge::DEFAULT_INTENT_WEIGHT)]
    pub intent_weight: f32,
}

impl SearchFlags {
    pub fn options(&self) -> copiloot::knowledge::SearchOptions {
        copiloot::knowledge::SearchOptions {
            top_k: self.top_k.max(1),
            min_score: self.min_score,
            retriever: self.retriever,
            intent_weight: self.intent_weight,
        }
    }
}

/// `--max-chars`: a note budget of at least [`copiloot::tasks::summary::MIN_NOTE_CHARS`].
pub fn parse_max_chars(s: &str) -> Result<usize, String> {
    let min = copiloot::tasks::summary::MIN_NOTE_CHARS;
    match s.trim().parse::<usize>() {
        Ok(n) if n >= min => Ok(n),
        Ok(n) => Err(format!("{n} characters cannot hold one fact of a note; give at least {min}")),
        Err(e) => Err(e.to_string()),
    }
}

pub fn parse_retriever(s: &str) -> Result<copiloot::knowledge::Retriever, String> {
    match s.trim() {
        "hybrid" => Ok(copiloot::knowledge::Retriever::Hybrid),
        "lexical" | "bm25" => Ok(copiloot::knowledge::Retriever::Lexical),
        "dense" => Ok(copiloot::knowledge::Retriever::Dense),
        other => Err(format!("unknown retriever `{other}`: use hybrid, lexical (bm25) or dense")),
    }
}
