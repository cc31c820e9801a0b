//! Open and validate a GGUF file: header, architecture, tensor bounds; optional Q4_1 re-quantisation.
//!
//! candle 0.11.1 has AVX2 dot products for Q4_0, Q8_0 and the K-quants but only a scalar one for Q4_1,
//! which makes Q4_1 files (like the embedded SmolLM2) about 4× slower than llama.cpp. [`requantize_q4_1`]
//! rewrites every Q4_1 tensor as Q8_0 at load time (dequantise → quantise; Q8_0 keeps 8 bits per weight,
//! so the error it adds is far below Q4_1's own) into an in-memory GGUF that the model then loads from.
//! Measured on SmolLM2-135M: prompt and generation ~3–4× faster, load +1–2 s, RSS +110 MB. Greedy output is
//! the same on short prompts (tests/generator.rs) but can drift after a few tokens on long ones, as
//! between any two engines (llama.cpp and candle's plain Q4_1 path also differ there).

use crate::error::{Error, Result};
use candle_core::quantized::gguf_file::{self, Content, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::Device;
use serde::{Deserialize, Serialize};
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// The decoder families copiloot can run, chosen from `general.architecture`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    Llama,
    Qwen2,
    Qwen3,
    Gemma3,
}

impl Architecture {
    pub const SUPPORTED: &'static str = "llama, qwen2, qwen3, gemma3 (also gemma2/gemma)";

    pub fn from_gguf_name(name: &str) -> Option<Self> {
        match name {
            "llama" => Some(Self::Llama),
            "qwen2" => Some(Self::Qwen2),
            "qwen3" => Some(Self::Qwen3),
            "gemma3" | "gemma2" | "gemma" => Some(Self::Gemma3),
            _ => None,
        }
    }
}

/// A GGUF file read into memory and checked: every tensor lies inside the file.
pub struct GgufFile {
    pub path: PathBuf,
    pub content: Content,
    pub bytes: Vec<u8>,
    pub architecture: Architecture,
    /// `general.architecture` as written in the file (e.g. `gemma2` for an [`Architecture::Gemma3`] load).
    pub architecture_name: String,
}

impl GgufFile {
    /// Read and validate; a truncated file or an unknown architecture is a [`Error::ModelLoad`].
    pub fn open(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(path, bytes)
    }

    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self> {
        let load_err = |m: String| Error::model_load(path, m);
        if bytes.get(..4) != Some(b"GGUF".as_slice()) {
            return Err(load_err("not a GGUF file (the first bytes are not `GGUF`)".into()));
        }
        let content = Content::read(&mut Cursor::new(&bytes)).map_err(|e| match e.to_string() {
            m if m.contains("unknown dtype") => load_err(format!(
                "the GGUF uses a tensor type this build cannot read ({m}); use a file in a common type \
                 (Q4_K_M, Q5_K_M, Q6_K, Q8_0, Q4_0)"
            )),
            m => load_err(format!(
                "the GGUF header is unreadable ({m}); the file may be truncated: download it again"
            )),
        })?;
        let len = bytes.len() as u64;
        for (name, info) in &content.tensor_infos {
            let block = info.ggml_dtype.block_size();
            let elems = info.shape.elem_count();
            if block == 0 || elems % block != 0 {
                return Err(load_err(format!(
                    "tensor `{name}` has {elems} elements, not a multiple of {block}"
                )));
            }
            let size = (elems / block).saturating_mul(info.ggml_dtype.type_size()) as u64;
            let end = content.tensor_data_offset.saturating_add(info.offset).saturating_add(size);
            if end > len {
                return Err(load_err(format!(
                    "the file is truncated: tensor `{name}` ends at byte {end} but the file has {len} bytes; download it again"
                )));
            }
        }
        let architecture_name = content
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .ok_or_else(|| load_err("the GGUF metadata has no `general.architecture`".into()))?;
        let architecture = Architecture::from_gguf_name(&architecture_name).ok_or_else(|| {
            load_err(format!(
                "architecture `{architecture_name}` is not supported; supported: {}",
                Architecture::SUPPORTED
            ))
        })?;
        Ok(Self { path: path.to_path_buf(), content, bytes, architecture, architecture_name })
    }

    pub fn metadata(&self, key: &str) -> Option<&Value> {
        self.content.metadata.get(key)
    }

    pub fn metadata_u32(&self, key: &str) -> Option<u32> {
        self.metadata(key).and_then(|v| v.to_u32().ok())
    }

    pub fn metadata_str(&self, key: &str) -> Option<&str> {
        self.metadata(key).and_then(|v| v.to_string().ok()).map(String::as_str)
    }

    /// The context length the model was trained for (`<arch>.context_length`), if the file says.
    pub fn context_length(&self) -> Option<usize> {
        self.metadata_u32(&format!("{}.context_length", self.architecture_name)).map(|v| v as usize)
    }

    /// How many tensors are stored as Q4_1.
    pub fn count_dtype(&self, dtype: GgmlDType) -> usize {
        self.content.tensor_infos.values().filter(|i| i.ggml_dtype == dtype).count()
    }
}

/// Re-quantise every Q4_1 tensor to `target` and return the new file (same metadata, same names).
pub fn requantize_q4_1(file: &GgufFile, target: GgmlDType) -> Result<GgufFile> {
    let device = Device::Cpu;
    let err = |e: candle_core::Error| Error::model_load(&file.path, format!("re-quantising Q4_1: {e}"));
    let mut reader = Cursor::new(&file.bytes);
    let mut names: Vec<&String> = file.content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors: Vec<(&str, QTensor)> = Vec::with_capacity(names.len());
    for name in names {
        let q = file.content.tensor(&mut reader, name, &device).map_err(err)?;
        let cols = q.shape().dims().last().copied().unwrap_or(0);
        let q = if q.dtype() == GgmlDType::Q4_1 && cols % target.block_size().max(1) == 0 {
            QTensor::quantize(&q.dequantize(&device).map_err(err)?, target).map_err(err)?
        } else {
            q
        };
        tensors.push((name.as_str(), q));
    }
    // The writer pads to 32 bytes: drop a different alignment from the copied metadata.
    let metadata: Vec<(&str, &Value)> = file
        .content
        .metadata
        .iter()
        .filter(|(k, _)| k.as_str() != "general.alignment")
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    let mut out = Cursor::new(Vec::with_capacity(file.bytes.len() * 2));
    gguf_file::write(&mut out, &metadata, &refs).map_err(err)?;
    GgufFile::from_bytes(&file.path, out.into_inner())
}
