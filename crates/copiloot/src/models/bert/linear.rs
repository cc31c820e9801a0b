//! Linear layers in the chosen precision: f32 (candle's gemm) or int8 (candle's Q8_0 `QMatMul`).
//!
//! The bias is kept apart so the step after the matmul adds it in the same pass as its own work.
//! Q8_0 weights take rows whose width is a multiple of 256 — candle's AVX-512-VNNI kernels need that —
//! so the quantized path stores activations zero-padded to that width ([`Precision::row_width`]).

use super::Precision;
use crate::error::{Error, Result};
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Storage, Tensor};

enum Weight {
    /// `[out, in]`; multiplied as `x · wᵀ` (gemm reads the transpose through strides, no copy).
    F32(Tensor),
    /// `[out, in padded]` in Q8_0 blocks; activations are quantized per row on the fly.
    Q8(QMatMul),
}

pub struct Linear {
    weight: Weight,
    pub bias: Vec<f32>,
}

impl Linear {
    /// `w` is `[n, k]` row-major (PyTorch layout); inputs arrive in rows of `precision.row_width(k)`.
    pub fn new(w: Vec<f32>, n: usize, k: usize, bias: Vec<f32>, precision: Precision) -> Result<Self> {
        let err = |e: candle_core::Error| Error::Inference(format!("preparing a {n}x{k} linear layer: {e}"));
        let weight = match precision {
            Precision::F32 => Weight::F32(Tensor::from_vec(w, (n, k), &Device::Cpu).map_err(err)?),
            Precision::Q8 => {
                let width = precision.row_width(k);
                let mut padded = vec![0f32; n * width];
                for (dst, src) in padded.chunks_exact_mut(width).zip(w.chunks_exact(k)) {
                    dst[..k].copy_from_slice(src);
                }
                let t = Tensor::from_vec(padded, (n, width), &Device::Cpu).map_err(err)?;
                let q = QTensor::quantize(&t, GgmlDType::Q8_0).map_err(err)?;
                Weight::Q8(QMatMul::from_qtensor(q).map_err(err)?)
            }
        };
        Ok(Self { weight, bias })
    }

    /// `x · wᵀ` without the bias; `x` is `[rows, row width]`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match &self.weight {
            Weight::F32(w) => x.matmul(&w.t()?),
            Weight::Q8(q) => q.forward(x),
        }
    }
}

/// Run `f` on a contiguous f32 tensor's data without copying it out.
pub fn with_data<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    let (start, end) = layout
        .contiguous_offsets()
        .ok_or_else(|| Error::Inference("internal: a non-contiguous activation".into()))?;
    match &*storage {
        Storage::Cpu(cpu) => {
            let data = cpu.as_slice::<f32>().map_err(|e| Error::Inference(e.to_string()))?;
            data.get(start..end)
                .map(f)
                .ok_or_else(|| Error::Inference("internal: activation out of range".into()))
        }
        _ => Err(Error::Inference("the encoder runs on the CPU only".into())),
    }
}
