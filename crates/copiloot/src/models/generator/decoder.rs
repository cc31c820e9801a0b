//! The contract between the generation loop ([`super::Generator`]) and a decoder engine: feed token ids at
//! a position, get the next-token logits; clear the KV cache between generations. Our own forward
//! ([`super::engine`]) and candle's fallback models ([`super::candle`]) implement it; a new engine or
//! family is one more implementation, chosen in `Generator::from_file`.

use crate::error::Result;
use candle_core::Tensor;

/// A causal language model with its KV cache. `Send`, so a `Generator` can sit behind a `Mutex` and be
/// shared across threads.
pub trait Decoder: Send {
    /// Logits (f32, one per vocabulary entry, a 1-D tensor) after feeding `ids` at positions `pos..`.
    fn forward(&mut self, ids: &[u32], pos: usize) -> Result<Tensor>;

    /// Forgets everything fed so far (the next `forward` starts at position 0).
    fn clear(&mut self);
}
