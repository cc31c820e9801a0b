//! The generator's tokenizer: a `tokenizer.json` beside the GGUF when present, else built from the
//! GGUF's `tokenizer.ggml.*` metadata.
//!
//! Two vocabulary kinds are built from metadata, as llama.cpp reads them:
//! - `gpt2`: byte-level BPE with `tokens` + `merges`; the pre-tokeniser follows `tokenizer.ggml.pre`
//!   (llama.cpp's names: `smollm`/`starcoder`-style digit splitting, `qwen2`, `llama3`/`llama-bpe`, plain GPT-2).
//! - `llama` (SentencePiece, used by Llama 2 and Gemma): `tokens` + `scores` with byte fallback. This is a
//!   Unigram (Viterbi over the scores) approximation of SentencePiece-BPE: it agrees on ordinary text but
//!   may segment rare words differently from llama.cpp; put the model's `tokenizer.json` beside the file
//!   when exact ids matter.

use super::gguf::GgufFile;
use crate::error::{Error, Result};
use candle_core::quantized::gguf_file::Value;
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::models::unigram::Unigram;
use tokenizers::normalizers::{Prepend, Replace, NFC};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{AddedToken, NormalizerWrapper, SplitDelimiterBehavior, Tokenizer};

const REGEX_QWEN2: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const REGEX_LLAMA3: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// GGUF token types (llama.cpp `llama_token_type`): 3 = control, 4 = user-defined, 6 = byte.
const TOKEN_CONTROL: u32 = 3;
const TOKEN_USER_DEFINED: u32 = 4;

/// Load `tokenizer.json` from the GGUF's folder if there is one, else build from the metadata.
pub fn load(file: &GgufFile) -> Result<(Tokenizer, &'static str)> {
    let beside = file.path.with_file_name("tokenizer.json");
    if beside.is_file() {
        let tok = Tokenizer::from_file(&beside).map_err(|e| Error::model_load(&beside, e))?;
        return Ok((tok, "tokenizer.json"));
    }
    Ok((from_metadata(file)?, "gguf metadata"))
}

/// Build a tokenizer from the `tokenizer.ggml.*` metadata.
pub fn from_metadata(file: &GgufFile) -> Result<Tokenizer> {
    let err = |m: String| Error::model_load(&file.path, format!("tokenizer metadata: {m}"));
    let kind = file.metadata_str("tokenizer.ggml.model").unwrap_or("gpt2").to_ascii_lowercase();
    let tokens = strings(file, "tokenizer.ggml.tokens")?;
    let mut tokenizer = match kind.as_str() {
        "gpt2" => {
            let vocab: Vocab = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
            let merges = strings(file, "tokenizer.ggml.merges")?
                .into_iter()
                .map(|m| m.split_once(' ').map(|(a, b)| (a.to_string(), b.to_string())))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| err("a merge is not two tokens separated by a space".into()))?;
            let bpe = BPE::builder()
                .vocab_and_merges(vocab, merges)
                .build()
                .map_err(|e| err(format!("BPE: {e}")))?;
            let mut tok = Tokenizer::new(bpe);
            let pre = file.metadata_str("tokenizer.ggml.pre").unwrap_or("gpt2");
            let (normalizer, pre_tokenizer) = gpt2_pipeline(pre).map_err(|e| err(e.to_string()))?;
            if let Some(n) = normalizer {
                tok.with_normalizer(Some(n));
            }
            tok.with_pre_tokenizer(Some(pre_tokenizer));
            tok.with_decoder(Some(ByteLevelDecoder::new(false, true, true)));
            tok
        }
        "llama" => {
            let scores = match file.metadata("tokenizer.ggml.scores").and_then(|v| v.to_vec().ok()) {
                Some(v) => v.iter().map(|s| s.to_f32().map(f64::from).unwrap_or(0.0)).collect(),
                None => vec![0.0; tokens.len()],
            };
            let unk = file.metadata_u32("tokenizer.ggml.unknown_token_id").map(|v| v as usize);
            let vocab: Vec<(String, f64)> = tokens.iter().cloned().zip(scores).collect();
            let model = Unigram::from(vocab, unk, true).map_err(|e| err(format!("unigram: {e}")))?;
            let mut tok = Tokenizer::new(model);
            let add_space = file
                .metadata("tokenizer.ggml.add_space_prefix")
                .and_then(|v| v.to_bool().ok())
                .unwrap_or(true);
            let replace = Replace::new(" ", "\u{2581}").map_err(|e| err(e.to_string()))?;
            let normalizer: NormalizerWrapper = if add_space {
                tokenizers::normalizers::Sequence::new(vec![Prepend::new("\u{2581}".into()).into(), replace.into()])
                    .into()
            } else {
                replace.into()
            };
            tok.with_normalizer(Some(normalizer));
            let undo = Replace::new("\u{2581}", " ").map_err(|e| err(e.to_string()))?;
            let mut steps: Vec<DecoderWrapper> = vec![undo.into(), ByteFallback::new().into(), Fuse::new().into()];
            if add_space {
                steps.push(Strip::new(' ', 1, 0).into());
            }
            tok.with_decoder(Some(DecoderSequence::new(steps)));
            tok
        }
        other => {
            return Err(err(format!("tokenizer model `{other}` is not supported (gpt2 BPE or llama SentencePiece); put a tokenizer.json beside the GGUF")))
        }
    };
    // Control and user-defined tokens are matched whole in the text (`<|im_start|>` is one id).
    if let Some(types) = file.metadata("tokenizer.ggml.token_type").and_then(|v| v.to_vec().ok()) {
        let mut special = Vec::new();
        let mut user = Vec::new();
        for (token, ty) in tokens.iter().zip(types) {
            match ty.to_i32().map(|t| t as u32).or_else(|_| ty.to_u32()) {
                Ok(TOKEN_CONTROL) => special.push(AddedToken::from(token.clone(), true)),
                Ok(TOKEN_USER_DEFINED) => user.push(AddedToken::from(token.clone(), false)),
                _ => {}
            }
        }
        tokenizer.add_special_tokens(&special);
        tokenizer.add_tokens(&user);
    }
    Ok(tokenizer)
}

/// Normaliser and pre-tokeniser for a byte-level BPE vocabulary, by llama.cpp's `tokenizer.ggml.pre` name.
fn gpt2_pipeline(pre: &str) -> tokenizers::Result<(Option<NormalizerWrapper>, PreTokenizerWrapper)> {
    let split = |regex: &str| -> tokenizers::Result<PreTokenizerWrapper> {
        let split =
            Split::new(SplitPattern::Regex(regex.to_string()), SplitDelimiterBehavior::Isolated, false)?;
        Ok(Sequence::new(vec![split.into(), ByteLevel::new(false, true, false).into()]).into())
    };
    Ok(match pre {
        // SmolLM, StarCoder & co: every digit on its own, then GPT-2's regex (their tokenizer.json).
        "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone" | "minerva" => (
            None,
            Sequence::new(vec![Digits::new(true).into(), ByteLevel::new(false, true, true).into()]).into(),
        ),
        "qwen2" | "deepseek-r1-qwen" => (Some(NFC.into()), split(REGEX_QWEN2)?),
        "llama3" | "llama-bpe" | "smaug-bpe" | "dbrx" | "lfm2" => (None, split(REGEX_LLAMA3)?),
        _ => (None, ByteLevel::new(false, true, true).into()),
    })
}

fn strings(file: &GgufFile, key: &str) -> Result<Vec<String>> {
    let missing = || {
        Error::model_load(
            &file.path,
            format!("tokenizer metadata: no `{key}` array; put a tokenizer.json beside the GGUF"),
        )
    };
    let values = file.metadata(key).and_then(|v| v.to_vec().ok()).ok_or_else(missing)?;
    values
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.clone()),
            _ => {
                Err(Error::model_load(&file.path, format!("tokenizer metadata: `{key}` holds a non-string")))
            }
        })
        .collect()
}
