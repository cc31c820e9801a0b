//! The fallback engine: candle-transformers' quantised llama, qwen2, qwen3 and gemma3 models, for the GGUF
//! files our own forward ([`super::engine`]) does not run.

use super::decoder::Decoder;
use super::gguf::{Architecture, GgufFile};
use crate::error::{Error, Result};
use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_gemma3, quantized_llama, quantized_qwen2, quantized_qwen3};
use std::io::Cursor;

/// One of candle's quantised decoders; each keeps its KV cache inside.
pub enum CandleModel {
    Llama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
    Qwen3(quantized_qwen3::ModelWeights),
    Gemma3(quantized_gemma3::ModelWeights),
}

impl CandleModel {
    /// The file's architecture on candle-transformers' quantised model.
    pub fn load(file: &GgufFile) -> Result<CandleModel> {
        let device = Device::Cpu;
        let mut reader = Cursor::new(&file.bytes);
        let content = gguf_file_clone(file)?;
        let err = |e: candle_core::Error| {
            Error::model_load(&file.path, format!("{} weights: {e}", file.architecture_name))
        };
        Ok(match file.architecture {
            Architecture::Llama => CandleModel::Llama(
                quantized_llama::ModelWeights::from_gguf(content, &mut reader, &device).map_err(err)?,
            ),
            Architecture::Qwen2 => CandleModel::Qwen2(
                quantized_qwen2::ModelWeights::from_gguf(content, &mut reader, &device).map_err(err)?,
            ),
            Architecture::Qwen3 => CandleModel::Qwen3(
                quantized_qwen3::ModelWeights::from_gguf(content, &mut reader, &device).map_err(err)?,
            ),
            Architecture::Gemma3 => CandleModel::Gemma3(
                quantized_gemma3::ModelWeights::from_gguf(content, &mut reader, &device).map_err(err)?,
            ),
        })
    }
}

impl Decoder for CandleModel {
    fn forward(&mut self, ids: &[u32], pos: usize) -> Result<Tensor> {
        let x = Tensor::new(ids, &Device::Cpu)?.unsqueeze(0)?;
        let logits = match self {
            Self::Llama(m) => m.forward(&x, pos)?,
            Self::Qwen2(m) => m.forward(&x, pos)?,
            Self::Qwen3(m) => m.forward(&x, pos)?,
            Self::Gemma3(m) => m.forward(&x, pos)?,
        };
        Ok(logits.flatten_all()?.to_dtype(candle_core::DType::F32)?)
    }

    fn clear(&mut self) {
        match self {
            Self::Llama(m) => m.clear_kv_cache(),
            Self::Qwen2(m) => m.clear_kv_cache(),
            Self::Qwen3(m) => m.clear_kv_cache(),
            // gemma3 has no clear: it restarts its cache whenever position 0 is fed.
            Self::Gemma3(_) => {}
        }
    }
}

/// The loaders take the header by value; reading it again from the bytes is cheap (metadata only).
fn gguf_file_clone(file: &GgufFile) -> Result<candle_core::quantized::gguf_file::Content> {
    candle_core::quantized::gguf_file::Content::read(&mut Cursor::new(&file.bytes))
        .map_err(|e| Error::model_load(&file.path, e))
}
