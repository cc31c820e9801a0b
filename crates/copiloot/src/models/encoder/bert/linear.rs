//! Linear layers in the chosen precision: f32 (candle's gemm) or int8 ([`Q8Matrix`], blocks of 32).
//!
//! The bias is kept apart so the step after the matmul adds it in the same pass as its own work.

use super::Precision;
use crate::error::{Error, Result};
use crate::models::kernels::q8::Q8Matrix;
use candle_core::{Device, Storage, Tensor};

enum Weight {
    /// `[out, in]`; multiplied as `x · wᵀ` (gemm reads the transpose through strides, no copy).
    F32(Tensor),
    /// `[out, in]` in int8 blocks; activations are quantised per row on the fly.
    Q8(Q8Matrix),
}

pub struct Linear {
    weight: Weight,
    pub bias: Vec<f32>,
}

impl Linear {
    /// `w` is `[n, k]` row-major (PyTorch layout).
    pub fn new(w: Vec<f32>, n: usize, k: usize, bias: Vec<f32>, precision: Precision) -> Result<Self> {
        let weight = match precision {
            Precision::F32 => Weight::F32(
                Tensor::from_vec(w, (n, k), &Device::Cpu)
                    .map_err(|e| Error::Inference(format!("preparing a {n}x{k} linear layer: {e}")))?,
            ),
            Precision::Q8 => Weight::Q8(Q8Matrix::from_f32(&w, n, k)?),
        };
        Ok(Self { weight, bias })
    }

    /// `x · wᵀ` without the bias; `x` is `[rows, k]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match &self.weight {
            Weight::F32(w) => Ok(x.matmul(&w.t()?)?),
            Weight::Q8(q) => {
                let rows = x.dim(0)?;
                let mut y = vec![0f32; rows * q.rows()];
                with_data(x, |x| q.matmul(x, rows, &mut y))??;
                Ok(Tensor::from_vec(y, (rows, q.rows()), &Device::Cpu)?)
            }
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
