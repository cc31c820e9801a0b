//! A `model.safetensors` reader that loads one tensor at a time straight into `Vec<f32>`.
//!
//! Memory-mapping needs `unsafe` (forbidden here) and reading the whole file first holds every weight
//! twice; reading each tensor's byte range in 1 MiB chunks keeps peak memory at the weights alone.
//! F32, F16 and BF16 files are read; everything becomes f32.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, Clone)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    start: u64,
    end: u64,
}

/// An open safetensors file: the header parsed, the data read on demand.
pub struct Weights {
    path: PathBuf,
    file: Mutex<File>,
    data_start: u64,
    entries: HashMap<String, Entry>,
}

impl Weights {
    pub fn open(path: &Path) -> Result<Self> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let bad = |msg: String| Error::model_load(path, format!("not a safetensors file: {msg}"));
        let mut len = [0u8; 8];
        file.read_exact(&mut len).map_err(|e| bad(e.to_string()))?;
        let header_len = u64::from_le_bytes(len);
        if header_len > 100 << 20 {
            return Err(bad(format!("header of {header_len} bytes")));
        }
        let mut header = vec![0u8; header_len as usize];
        file.read_exact(&mut header).map_err(|e| bad(e.to_string()))?;
        let json: HashMap<String, serde_json::Value> =
            serde_json::from_slice(&header).map_err(|e| bad(e.to_string()))?;
        let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let data_start = 8 + header_len;
        let mut entries = HashMap::new();
        for (name, v) in json {
            if name == "__metadata__" {
                continue;
            }
            let dtype = v.get("dtype").and_then(|d| d.as_str()).unwrap_or_default().to_string();
            let shape: Vec<usize> = v
                .get("shape")
                .and_then(|s| s.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_u64()).map(|x| x as usize).collect())
                .unwrap_or_default();
            let offsets: Vec<u64> = v
                .get("data_offsets")
                .and_then(|s| s.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_u64()).collect())
                .unwrap_or_default();
            let [start, end] = offsets[..] else {
                return Err(bad(format!("tensor `{name}` has no data_offsets")));
            };
            if start > end || data_start + end > file_len {
                return Err(bad(format!("tensor `{name}` lies outside the file (truncated download?)")));
            }
            entries.insert(name, Entry { dtype, shape, start, end });
        }
        Ok(Self { path: path.to_path_buf(), file: Mutex::new(file), data_start, entries })
    }

    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// Whether any tensor name starts with `prefix`.
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.entries.keys().any(|k| k.starts_with(prefix))
    }

    /// First dimension of tensor `name`, if present.
    pub fn dim0(&self, name: &str) -> Option<usize> {
        self.entries.get(name).and_then(|e| e.shape.first().copied())
    }

    /// The tensor `name` as f32, checked against the expected shape.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(shape.iter().product());
        self.stream(name, shape, &mut |piece| out.extend_from_slice(piece))?;
        Ok(out)
    }

    /// The tensor `name` as f32 in pieces of at most 1 MiB of the file, in order: a large table that is
    /// converted on the way in (the int8 word table) is never held whole in f32.
    pub fn stream(&self, name: &str, shape: &[usize], sink: &mut dyn FnMut(&[f32])) -> Result<()> {
        let e = self.entries.get(name).ok_or_else(|| {
            Error::model_load(
                &self.path,
                format!("tensor `{name}` is missing: not a model of this architecture?"),
            )
        })?;
        if e.shape != shape {
            return Err(Error::model_load(
                &self.path,
                format!("tensor `{name}` has shape {:?}, the config implies {shape:?}", e.shape),
            ));
        }
        let count: usize = shape.iter().product();
        let width = match e.dtype.as_str() {
            "F32" => 4,
            "F16" | "BF16" => 2,
            other => {
                return Err(Error::model_load(
                    &self.path,
                    format!("tensor `{name}` is {other}; only F32, F16 and BF16 weights are read"),
                ))
            }
        };
        if (e.end - e.start) as usize != count * width {
            return Err(Error::model_load(
                &self.path,
                format!("tensor `{name}`: byte length does not match its shape"),
            ));
        }
        let io = |err: std::io::Error| Error::io(&self.path, err);
        let mut file = self.file.lock().map_err(|_| Error::model_load(&self.path, "reader poisoned"))?;
        file.seek(SeekFrom::Start(self.data_start + e.start)).map_err(io)?;
        let mut buf = vec![0u8; 1 << 20];
        let mut out = Vec::with_capacity((1 << 20) / width);
        let mut left = count * width;
        while left > 0 {
            let chunk = buf.get_mut(..left.min(1 << 20)).unwrap_or_default();
            if chunk.is_empty() {
                break;
            }
            file.read_exact(chunk).map_err(io)?;
            out.clear();
            match width {
                4 => out.extend(chunk.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
                _ if e.dtype == "F16" => {
                    out.extend(chunk.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()))
                }
                _ => out
                    .extend(chunk.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())),
            }
            left -= chunk.len();
            sink(&out);
        }
        Ok(())
    }
}
