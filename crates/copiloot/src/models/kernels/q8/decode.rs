//! GGUF weight blocks decoded 32 values at a time (ggml's layouts), so a matrix in a 4-, 5- or 6-bit type
//! or in floats is re-rounded to int8 one block at a time on all cores, without de-quantising the whole tensor to f32
//! first (most of a model's load time and a peak of 4 bytes per weight).

use super::BLOCK;
use candle_core::quantized::GgmlDType;
use half::f16;

/// Bytes of one stored block and the values it holds, for the types [`values`] decodes.
pub(super) fn layout(dtype: GgmlDType) -> Option<(usize, usize)> {
    match dtype {
        GgmlDType::Q8_0 => Some((34, 32)),
        GgmlDType::Q4_0 => Some((18, 32)),
        GgmlDType::Q4_1 => Some((20, 32)),
        GgmlDType::Q4K => Some((144, 256)),
        GgmlDType::Q5_0 => Some((22, 32)),
        GgmlDType::Q5_1 => Some((24, 32)),
        GgmlDType::Q5K => Some((176, 256)),
        GgmlDType::Q6K => Some((210, 256)),
        GgmlDType::F16 => Some((64, 32)),
        GgmlDType::F32 => Some((128, 32)),
        _ => None,
    }
}

pub(super) fn f16_at(b: &[u8], i: usize) -> f32 {
    f16::from_le_bytes([b[i], b[i + 1]]).to_f32()
}

/// Values `32·sub .. 32·sub + 32` of one stored `block` of `dtype` (a type [`layout`] knows), with the
/// same arithmetic as candle's / ggml's de-quantisation.
pub(super) fn values(dtype: GgmlDType, block: &[u8], sub: usize, out: &mut [f32; BLOCK]) {
    match dtype {
        GgmlDType::Q8_0 => {
            let d = f16_at(block, 0);
            out.iter_mut().zip(&block[2..34]).for_each(|(o, &q)| *o = q as i8 as f32 * d);
        }
        GgmlDType::Q4_0 | GgmlDType::Q4_1 => {
            let (d, m, qs) = match dtype {
                GgmlDType::Q4_0 => (f16_at(block, 0), None, &block[2..18]),
                _ => (f16_at(block, 0), Some(f16_at(block, 2)), &block[4..20]),
            };
            for (j, &q) in qs.iter().enumerate() {
                let (lo, hi) = ((q & 0x0f) as i32, (q >> 4) as i32);
                (out[j], out[j + 16]) = match m {
                    None => ((lo - 8) as f32 * d, (hi - 8) as f32 * d),
                    Some(m) => (lo as f32 * d + m, hi as f32 * d + m),
                };
            }
        }
        GgmlDType::Q4K => {
            // `d·q + m` with m = −(dmin·mn): bit for bit ggml's `d1·q − m1`.
            let b = super::q4::q4_k_block(block, sub);
            out.iter_mut().zip(b.q).for_each(|(o, q)| *o = b.d * q as f32 + b.m);
        }
        GgmlDType::Q5_0 | GgmlDType::Q5_1 => {
            let (d, m, at) = match dtype {
                GgmlDType::Q5_0 => (f16_at(block, 0), None, 2),
                _ => (f16_at(block, 0), Some(f16_at(block, 2)), 4),
            };
            let qh = u32::from_le_bytes([block[at], block[at + 1], block[at + 2], block[at + 3]]);
            let qs = &block[at + 4..at + 20];
            for j in 0..16 {
                let lo = (qs[j] & 0x0f) as u32 | ((qh >> j) & 1) << 4;
                let hi = (qs[j] >> 4) as u32 | ((qh >> (j + 16)) & 1) << 4;
                (out[j], out[j + 16]) = match m {
                    None => ((lo as i32 - 16) as f32 * d, (hi as i32 - 16) as f32 * d),
                    Some(m) => (lo as f32 * d + m, hi as f32 * d + m),
                };
            }
        }
        GgmlDType::Q5K => {
            // d, dmin, 12 bytes of 6-bit scales/mins (as Q4_K), 32 bytes of high bits, 128 of nibbles;
            // sub-blocks 2c and 2c+1 are the low and high nibbles of bytes 32c.., high bits 2c and 2c+1.
            let (d, dmin) = (f16_at(block, 0), f16_at(block, 2));
            let (scales, qh, qs) = (&block[4..16], &block[16..48], &block[48..176]);
            let (sc, mn) = scale_min_k4(sub, scales);
            let (d1, m1) = (d * sc as f32, dmin * mn as f32);
            let (bytes, shift) = (&qs[(sub / 2) * 32..][..32], 4 * (sub % 2));
            for (l, o) in out.iter_mut().enumerate() {
                let high = if qh[l] & (1 << sub) != 0 { 16 } else { 0 };
                *o = d1 * (((bytes[l] >> shift) & 0x0f) + high) as f32 - m1;
            }
        }
        GgmlDType::Q6K => {
            // ql[128], qh[64], 16 int8 scales (one per 16 values), d; each half of 128 values is four
            // runs of 32: the low/high nibbles of ql[0..32] and ql[32..64] with two high bits from qh.
            let (ql, qh, scales, d) = (&block[..128], &block[128..192], &block[192..208], f16_at(block, 208));
            let (half, run) = (sub / 4, sub % 4);
            let (ql, qh, sc) = (&ql[64 * half..], &qh[32 * half..], &scales[8 * half..]);
            for (l, o) in out.iter_mut().enumerate() {
                let low = match run {
                    0 => ql[l] & 0x0f,
                    1 => ql[l + 32] & 0x0f,
                    2 => ql[l] >> 4,
                    _ => ql[l + 32] >> 4,
                };
                let q = (low | ((qh[l] >> (2 * run)) & 3) << 4) as i8 - 32;
                *o = d * (sc[l / 16 + 2 * run] as i8) as f32 * q as f32;
            }
        }
        GgmlDType::F16 => {
            out.iter_mut().enumerate().for_each(|(i, o)| *o = f16_at(block, 2 * i));
        }
        _ => {
            for (o, b) in out.iter_mut().zip(block.chunks_exact(4)) {
                *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
    }
}

/// Scale and minimum of sub-block `j` in the 12 packed bytes of a Q4_K / Q5_K super-block.
pub(super) fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}
