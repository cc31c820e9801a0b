//! What differs between the decoder families our engine runs — llama (with Llama 3's RoPE frequency
//! factors), qwen2, qwen3 and gemma3 — read from a GGUF's metadata into one [`Arch`] that the single
//! forward pass in `engine/mod.rs` follows. A new family is one more [`Family`] here, not a new forward.
//!
//! The conventions are llama.cpp's (`src/llama-model.cpp`), the reference GGUF users trust: llama's Q/K
//! rows are permuted by its converter so RoPE turns adjacent pairs; qwen2/qwen3/gemma3 keep Hugging Face's
//! order and turn halves ("NeoX"); gemma3's norm weights already hold Gemma's `1 + w`.

use super::super::gguf::GgufFile;

/// Which head dimensions RoPE turns together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RopeStyle {
    /// `(x[2i], x[2i+1])`: GGUF's llama layout.
    Adjacent,
    /// `(x[i], x[i + d/2])`: Hugging Face's `rotate_half`.
    Halves,
}

/// The gate's non-linearity in the gated FFN (`act(gate) · up`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Activation {
    Silu,
    /// GELU, tanh approximation (Gemma's `gelu_pytorch_tanh`).
    GeluTanh,
}

/// Sliding-window attention on some layers (gemma3: five local layers, then one global).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Sliding {
    /// A local layer's query sees the keys less than `window` positions back.
    pub window: usize,
    /// Every `every`-th layer (1-based) is global; the others are local.
    pub every: usize,
    /// RoPE base of the local layers (they are never frequency-scaled).
    pub local_base: f32,
}

/// Everything the forward pass needs to know about a file's model.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Arch {
    pub hidden: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub ffn: usize,
    pub layers: usize,
    pub eps: f32,
    pub rope: RopeStyle,
    pub rope_base: f32,
    /// Linear RoPE scaling of the global layers: positions are divided by this (1: none).
    pub rope_scale: f32,
    pub activation: Activation,
    /// The token embedding is multiplied by this (gemma: √hidden).
    pub embed_scale: f32,
    /// Attention scores are `q · k · attn_scale`.
    pub attn_scale: f32,
    pub sliding: Option<Sliding>,
    /// `attn_q/k/v.bias` (qwen2).
    pub qkv_bias: bool,
    /// RMS norms of each query and key head before RoPE (qwen3, gemma3).
    pub qk_norm: bool,
    /// RMS norms of the attention and FFN outputs before the residual add (gemma3).
    pub post_norms: bool,
}

impl Arch {
    pub fn q_dim(&self) -> usize {
        self.heads * self.head_dim
    }

    pub fn kv_dim(&self) -> usize {
        self.kv_heads * self.head_dim
    }

    /// Whether `layer` attends through a sliding window.
    pub fn local(&self, layer: usize) -> bool {
        self.sliding.is_some_and(|s| !(layer + 1).is_multiple_of(s.every))
    }
}

/// A decoder family: how its metadata becomes an [`Arch`]. `Err` says which key is missing or what the
/// engine does not run (the caller falls back to candle with that note).
pub(super) trait Family: Sync {
    fn arch(&self, meta: &Meta) -> Result<Arch, String>;
}

/// The family for `general.architecture`, if our engine runs it (gemma2 and gemma differ from gemma3 in
/// soft-capping and norms: they stay on candle).
pub(super) fn family(architecture: &str) -> Option<&'static dyn Family> {
    match architecture {
        "llama" => Some(&Llama),
        "qwen2" => Some(&Qwen2),
        "qwen3" => Some(&Qwen3),
        "gemma3" => Some(&Gemma3),
        _ => None,
    }
}

struct Llama;
struct Qwen2;
struct Qwen3;
struct Gemma3;

impl Family for Llama {
    fn arch(&self, meta: &Meta) -> Result<Arch, String> {
        meta.common(RopeStyle::Adjacent, 10_000.0)
    }
}

impl Family for Qwen2 {
    fn arch(&self, meta: &Meta) -> Result<Arch, String> {
        Ok(Arch { qkv_bias: true, ..meta.common(RopeStyle::Halves, 1_000_000.0)? })
    }
}

impl Family for Qwen3 {
    fn arch(&self, meta: &Meta) -> Result<Arch, String> {
        Ok(Arch { qk_norm: true, ..meta.common(RopeStyle::Halves, 1_000_000.0)? })
    }
}

impl Family for Gemma3 {
    fn arch(&self, meta: &Meta) -> Result<Arch, String> {
        let base = meta.common(RopeStyle::Halves, 1_000_000.0)?;
        // llama.cpp: 1/√head_dim, except the 27B model (62 layers), whose query_pre_attn_scalar is
        // hidden/heads.
        let attn_scale = match base.layers {
            62 => 1.0 / ((base.hidden / base.heads) as f32).sqrt(),
            _ => base.attn_scale,
        };
        // llama.cpp also takes a per-layer list of booleans here; that layout stays on candle.
        let pattern = meta.key("attention.sliding_window_pattern");
        if meta.file.metadata(&pattern).is_some()
            && meta.optional_usize("attention.sliding_window_pattern").is_none()
        {
            return Err(format!("`{pattern}` is not a number"));
        }
        Ok(Arch {
            activation: Activation::GeluTanh,
            embed_scale: (base.hidden as f32).sqrt(),
            attn_scale,
            sliding: Some(Sliding {
                window: meta.usize("attention.sliding_window")?,
                every: meta.optional_usize("attention.sliding_window_pattern").unwrap_or(6).max(1),
                local_base: 10_000.0,
            }),
            qk_norm: true,
            post_norms: true,
            ..base
        })
    }
}

/// A file's metadata under its `<architecture>.` prefix.
pub(super) struct Meta<'a> {
    file: &'a GgufFile,
}

impl<'a> Meta<'a> {
    pub fn new(file: &'a GgufFile) -> Self {
        Self { file }
    }

    fn key(&self, key: &str) -> String {
        format!("{}.{key}", self.file.architecture_name)
    }

    fn optional_usize(&self, key: &str) -> Option<usize> {
        self.file.metadata_u32(&self.key(key)).map(|v| v as usize)
    }

    fn usize(&self, key: &str) -> Result<usize, String> {
        self.optional_usize(key).ok_or_else(|| format!("the metadata has no `{}`", self.key(key)))
    }

    fn f32(&self, key: &str) -> Option<f32> {
        self.file.metadata(&self.key(key)).and_then(|v| v.to_f32().ok())
    }

    /// The keys every family has, and a plain llama block (no biases, no extra norms, SiLU).
    fn common(&self, rope: RopeStyle, default_base: f32) -> Result<Arch, String> {
        let hidden = self.usize("embedding_length")?;
        let heads = self.usize("attention.head_count")?;
        let kv_heads = self.optional_usize("attention.head_count_kv").unwrap_or(heads);
        if heads == 0 || kv_heads == 0 || !heads.is_multiple_of(kv_heads) {
            return Err(format!("{heads} heads and {kv_heads} KV heads do not fit together"));
        }
        let head_dim = match self.optional_usize("attention.key_length") {
            Some(d) => d,
            None if hidden.is_multiple_of(heads) => hidden / heads,
            None => return Err(format!("width {hidden} is not a multiple of {heads} heads")),
        };
        if head_dim == 0 || head_dim % 2 == 1 {
            return Err(format!("head dimension {head_dim}"));
        }
        if self.optional_usize("attention.value_length").is_some_and(|v| v != head_dim) {
            return Err("values and keys of different widths".into());
        }
        if self.optional_usize("rope.dimension_count").is_some_and(|d| d != head_dim) {
            return Err("RoPE on part of the head".into());
        }
        if self.optional_usize("expert_count").unwrap_or(0) > 1 {
            return Err("a mixture of experts".into());
        }
        let scaling = self.file.metadata_str(&self.key("rope.scaling.type")).unwrap_or("none");
        let rope_scale = match scaling {
            "none" => 1.0,
            "linear" => self.f32("rope.scaling.factor").filter(|f| *f > 0.0).unwrap_or(1.0),
            other => return Err(format!("RoPE scaling `{other}`")),
        };
        Ok(Arch {
            hidden,
            heads,
            kv_heads,
            head_dim,
            ffn: self.usize("feed_forward_length")?,
            layers: self.usize("block_count")?,
            eps: self.f32("attention.layer_norm_rms_epsilon").unwrap_or(1e-5),
            rope,
            rope_base: self.f32("rope.freq_base").unwrap_or(default_base),
            rope_scale,
            activation: Activation::Silu,
            embed_scale: 1.0,
            attn_scale: 1.0 / (head_dim as f32).sqrt(),
            sliding: None,
            qkv_bias: false,
            qk_norm: false,
            post_norms: false,
        })
    }
}
