//! The int8 product against f32 and against candle's Q8_0 matmul, VNNI, AVX2 and portable paths alike.

use super::*;
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};

/// Deterministic values in [-1, 1) with a few large outliers, as real activations have.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|i| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let v = ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0;
            if i % 97 == 0 {
                v * 8.0
            } else {
                v
            }
        })
        .collect()
}

fn reference(x: &[f32], w: &[f32], m: usize, n: usize, k: usize) -> Vec<f32> {
    let mut y = vec![0f32; m * n];
    for r in 0..m {
        for c in 0..n {
            y[r * n + c] = (0..k).map(|i| x[r * k + i] * w[c * k + i]).sum();
        }
    }
    y
}

/// Largest |a - b| relative to the largest |b|.
fn rel_error(a: &[f32], b: &[f32]) -> f32 {
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
    a.iter().zip(b).fold(0f32, |m, (a, b)| m.max((a - b).abs())) / scale
}

#[test]
fn matches_f32_within_int8_rounding_for_every_tile_shape() {
    // m covers full tiles, every row tail and several strips; n covers a partial last group.
    for &(m, n, k) in &[(1, 16, 32), (3, 40, 50), (2, 17, 312), (7, 576, 576), (37, 100, 384), (70, 33, 1536)]
    {
        let (x, w) = (values(m * k, 1), values(n * k, 2));
        let q = Q8Matrix::from_f32(&w, n, k).unwrap();
        let mut y = vec![f32::NAN; m * n];
        q.matmul(&x, m, &mut y).unwrap();
        let err = rel_error(&y, &reference(&x, &w, m, n, k));
        assert!(err < 0.02, "{m}x{n}x{k}: relative error {err}");
    }
}

#[test]
fn the_avx2_kernel_and_the_portable_path_agree() {
    if !avx2::available() {
        eprintln!("no AVX2 on this CPU: only the portable path runs here");
        return;
    }
    // Every tile shape and column tail; -128 weights (possible in a GGUF's Q8_0) must not saturate.
    for &(m, n, k) in &[(1, 576, 576), (5, 49, 96), (33, 1536, 384), (7, 17, 40)] {
        let (x, w) = (values(m * k, 13), values(n * k, 14));
        let mut q = Q8Matrix::from_f32(&w, n, k).unwrap();
        q.packed.iter_mut().step_by(37).for_each(|u| *u = 0);
        let a = Q8Rows::quantize(&x, m, k);
        let (mut fast, mut slow) = (vec![0f32; m * n], vec![0f32; m * n]);
        avx2::matmul(&q, &a, m, &mut fast);
        q.matmul_portable(&a, m, &mut slow);
        assert!(rel_error(&fast, &slow) < 1e-5, "{m}x{n}x{k}");
    }
}

#[test]
fn the_vnni_kernel_and_the_portable_path_agree() {
    if !vnni::available() {
        eprintln!("no AVX-512 VNNI on this CPU: only the portable path runs here");
        return;
    }
    for &(m, n, k) in &[(1, 576, 576), (5, 49, 96), (33, 1536, 384)] {
        let (x, w) = (values(m * k, 3), values(n * k, 4));
        let q = Q8Matrix::from_f32(&w, n, k).unwrap();
        let a = Q8Rows::quantize(&x, m, k);
        // The vector quantiser gives the portable one's integers and scales.
        let (mut qs, mut d, mut c) = (vec![0i8; k], vec![0f32; k / BLOCK], vec![0f32; k / BLOCK]);
        super::quantize_row(&x[..k], &mut qs, &mut d, &mut c);
        assert_eq!((&qs[..], &d[..], &c[..]), (&a.q[..k], &a.d[..k / BLOCK], &a.correction[..k / BLOCK]));
        let (mut fast, mut slow) = (vec![0f32; m * n], vec![0f32; m * n]);
        vnni::matmul(&q, &a, m, &mut fast);
        q.matmul_portable(&a, m, &mut slow);
        // Same integers; only the order of the f32 additions may differ.
        assert!(rel_error(&fast, &slow) < 1e-5, "{m}x{n}x{k}");
    }
}

#[test]
fn a_q8_0_tensor_keeps_its_integers_and_is_as_close_to_f32_as_candles_product() {
    let (m, n, k) = (4, 64, 256);
    let (x, w) = (values(m * k, 5), values(n * k, 6));
    let wt = Tensor::from_vec(w.clone(), (n, k), &Device::Cpu).unwrap();
    let qt = QTensor::quantize(&wt, GgmlDType::Q8_0).unwrap();
    // Same integers: de-quantised Q8_0 values `q · d` re-quantise to `q`, so our rows equal candle's
    // de-quantised rows up to the f16 → f32 scale.
    let dequantised = qt.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let ours = Q8Matrix::from_f32(&dequantised, n, k).unwrap();
    // Read from the blocks directly, the same matrix (scales, integers and layout), also stacked.
    let direct = Q8Matrix::from_qtensors(std::slice::from_ref(&qt)).unwrap();
    assert_eq!((&direct.packed, &direct.scales), (&ours.packed, &ours.scales));
    let part = |rows: std::ops::Range<usize>| {
        let t = Tensor::from_vec(w[rows.start * k..rows.end * k].to_vec(), (rows.len(), k), &Device::Cpu)
            .unwrap();
        QTensor::quantize(&t, GgmlDType::Q8_0).unwrap()
    };
    let stacked = Q8Matrix::from_qtensors(&[part(0..16), part(16..64)]).unwrap();
    assert_eq!(stacked.packed, ours.packed, "two tensors stacked are the rows of one");
    let mut y = vec![0f32; m * n];
    ours.matmul(&x, m, &mut y).unwrap();
    let xt = Tensor::from_vec(x.clone(), (m, k), &Device::Cpu).unwrap();
    let theirs = QMatMul::from_qtensor(qt).unwrap().forward(&xt).unwrap();
    let theirs = theirs.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let exact = reference(&x, &w, m, n, k);
    // candle's fast path quantises activations in blocks of 256, ours in blocks of 32: ours is closer.
    let (e_ours, e_theirs) = (rel_error(&y, &exact), rel_error(&theirs, &exact));
    assert!(e_ours <= e_theirs * 1.1, "ours {e_ours} vs candle {e_theirs}");
    assert!(rel_error(&y, &theirs) < 0.02);
}

#[test]
fn a_row_dequantises_to_the_weights() {
    let (n, k) = (20, 64);
    let w = values(n * k, 7);
    let q = Q8Matrix::from_f32(&w, n, k).unwrap();
    let mut row = vec![0f32; k];
    q.row(17, &mut row);
    assert!(rel_error(&row, &w[17 * k..18 * k]) < 0.01);
}

#[test]
fn bad_shapes_are_errors_not_panics() {
    assert!(Q8Matrix::from_f32(&[0.0; 30], 1, 0).is_err());
    assert!(Q8Matrix::from_f32(&[0.0; 64], 3, 32).is_err());
    let q = Q8Matrix::from_f32(&[0.5; 64], 2, 32).unwrap();
    let mut y = vec![0f32; 2];
    assert!(q.matmul(&[1.0; 31], 1, &mut y).is_err());
    assert!(q.matmul(&[1.0; 32], 1, &mut y[..1]).is_err());
    assert_eq!((q.rows(), q.cols()), (2, 32));
}

/// A Q4_0 / Q4_1 tensor of `[n, k]` values and the f32 matrix it de-quantises to.
fn four_bit(n: usize, k: usize, dtype: GgmlDType, seed: u64) -> (QTensor, Vec<f32>) {
    let t = Tensor::from_vec(values(n * k, seed), (n, k), &Device::Cpu).unwrap();
    let q = QTensor::quantize(&t, dtype).unwrap();
    let w = q.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    (q, w)
}

#[test]
fn four_bit_blocks_multiply_like_their_dequantised_weights() {
    for dtype in [GgmlDType::Q4_0, GgmlDType::Q4_1, GgmlDType::Q4K] {
        // Q4_K rows are whole super-blocks of 256.
        let shapes: &[(usize, usize, usize)] = match dtype {
            GgmlDType::Q4K => &[(1, 40, 256), (5, 33, 512)],
            _ => &[(1, 576, 576), (6, 40, 64), (33, 17, 96)],
        };
        for &(m, n, k) in shapes {
            let (q, w) = four_bit(n, k, dtype, 8);
            let x = values(m * k, 9);
            let ours = Q4Matrix::from_qtensors(&[q]).unwrap();
            assert_eq!((ours.rows(), ours.cols()), (n, k));
            let mut y = vec![f32::NAN; m * n];
            ours.matmul(&x, m, &mut y).unwrap();
            // Only the activations are rounded (to int8): the weights are the file's own 4-bit values.
            let err = rel_error(&y, &reference(&x, &w, m, n, k));
            assert!(err < 0.02, "{dtype:?} {m}x{n}x{k}: relative error {err}");
            let a = Q8Rows::quantize(&x, m, k);
            let mut slow = vec![0f32; m * n];
            ours.matmul_portable(&a, m, &mut slow);
            assert!(rel_error(&y, &slow) < 1e-5, "{dtype:?} {m}x{n}x{k}: kernel vs portable");
            if avx2::available() {
                let mut wide = vec![0f32; m * n];
                avx2::matmul4(&ours, &a, m, &mut wide);
                assert!(rel_error(&wide, &slow) < 1e-5, "{dtype:?} {m}x{n}x{k}: AVX2 vs portable");
            }
        }
    }
}

#[test]
fn stacked_four_bit_tensors_are_their_rows_one_after_the_other() {
    let (a, wa) = four_bit(24, 64, GgmlDType::Q4_1, 10);
    let (b, wb) = four_bit(8, 64, GgmlDType::Q4_1, 11);
    let both = Q4Matrix::from_qtensors(&[a, b]).unwrap();
    let x = values(64, 12);
    let mut y = vec![0f32; 32];
    both.matmul(&x, 1, &mut y).unwrap();
    let w: Vec<f32> = wa.into_iter().chain(wb).collect();
    assert!(rel_error(&y, &reference(&x, &w, 1, 32, 64)) < 0.02);
    let (c, _) = four_bit(4, 96, GgmlDType::Q4_1, 13);
    let (d, _) = four_bit(4, 64, GgmlDType::Q4_1, 14);
    assert!(Q4Matrix::from_qtensors(&[c, d]).is_err(), "different widths cannot be stacked");
    let (e, _) = four_bit(4, 64, GgmlDType::Q8_0, 15);
    assert!(!Q4Matrix::takes(&e) && Q4Matrix::from_qtensors(&[e]).is_err());
}

#[test]
fn every_block_type_decodes_like_candle_and_rounds_like_the_f32_path() {
    let (n, k) = (40, 512);
    let w = values(n * k, 21);
    let wt = Tensor::from_vec(w, (n, k), &Device::Cpu).unwrap();
    let types = [
        GgmlDType::Q8_0,
        GgmlDType::Q4_0,
        GgmlDType::Q4_1,
        GgmlDType::Q4K,
        GgmlDType::Q5_0,
        GgmlDType::Q5_1,
        GgmlDType::Q5K,
        GgmlDType::Q6K,
        GgmlDType::F16,
        GgmlDType::F32,
    ];
    for dtype in types {
        assert!(Q8Matrix::reads(dtype), "{dtype:?}");
        let qt = QTensor::quantize(&wt, dtype).unwrap();
        let f = qt.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let (slow, fast) = (Q8Matrix::from_f32(&f, n, k).unwrap(), Q8Matrix::from_qtensors(&[qt]).unwrap());
        // Bit for bit: the decoded values are candle's, so their int8 blocks are too.
        assert!(fast.scales == slow.scales && fast.packed == slow.packed, "{dtype:?}");
    }
    // Mixed types stack (a Q4_K_M file's Q4_K q/k and Q6_K v).
    let (a, b) =
        (QTensor::quantize(&wt, GgmlDType::Q4K).unwrap(), QTensor::quantize(&wt, GgmlDType::Q6K).unwrap());
    assert_eq!(Q8Matrix::from_qtensors(&[a, b]).unwrap().rows(), 2 * n);
    assert!(!Q8Matrix::reads(GgmlDType::Q3K));
    assert!(Q8Matrix::from_qtensors(&[QTensor::quantize(&wt, GgmlDType::Q3K).unwrap()]).is_err());
}
