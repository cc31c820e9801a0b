//! The one logistic-regression fit of the crate: L2-penalised maximum likelihood minimised by our L-BFGS
//! ([`super::lbfgs`]), with one way of handling failure (an objective that errors or parameters that
//! stop being finite become [`Error::Inference`], never a silently broken model). Used by the linear heads
//! on embeddings ([`super::head`]) and by the churn models ([`super::churn`]).
//!
//! Two objectives live here rather than one, on purpose: folding the binary churn fit into a two-class
//! softmax would change its numbers. Churn is a sigmoid over one weight vector in an unweighted f64 loop
//! (exact, and its coefficients are what a save team reads); the heads are a weighted multinomial softmax
//! whose loss and gradient are two f32 candle matrix products per evaluation (Banking77-sized data —
//! 10k × 384 × 77 — trains in seconds). A 2-class softmax has twice the parameters, a different penalty
//! (on both classes' weights) and f32 rounding, so it would reach other coefficients. What they share —
//! the driver, the penalty, the failure handling — is written once below.

use super::lbfgs;
use crate::error::{Error, Result};
use candle_core::Tensor;

/// A fitted parameter vector: weights first, then the intercept(s), as laid out by each objective.
pub(crate) struct Fit {
    pub x: Vec<f64>,
    /// The penalised mean loss at `x`.
    pub value: f64,
    pub iterations: usize,
}

/// Minimises a fallible objective from zero: the first error stops the optimiser (zero gradient, infinite
/// loss) and is returned as `training {what} failed: …`; non-finite parameters are a divergence error.
fn minimize<E: std::fmt::Display>(
    what: &str,
    mut objective: impl FnMut(&[f64], &mut [f64]) -> std::result::Result<f64, E>,
    params: usize,
    max_iter: usize,
    tol: f64,
) -> Result<Fit> {
    let mut failure: Option<E> = None;
    let f = |x: &[f64], grad: &mut [f64]| -> f64 {
        match objective(x, grad) {
            Ok(v) => v,
            Err(e) => {
                // A zero gradient with an infinite loss stops the optimiser at once; reported below.
                grad.iter_mut().for_each(|g| *g = 0.0);
                failure.get_or_insert(e);
                f64::INFINITY
            }
        }
    };
    let min = lbfgs::minimize(f, vec![0.0; params], max_iter, tol);
    if let Some(e) = failure {
        return Err(Error::Inference(format!("training {what} failed: {e}")));
    }
    if min.x.iter().any(|v| !v.is_finite()) {
        return Err(Error::Inference("training diverged; check the data for extreme values".into()));
    }
    Ok(Fit { x: min.x, value: min.value, iterations: min.iterations })
}

/// Adds the gradient of `l2/2 · |w|²` over the first `penalised` parameters (the weights, not the
/// intercepts) to `grad` and returns the penalty.
fn add_l2(params: &[f64], grad: &mut [f64], penalised: usize, l2: f64) -> f64 {
    let mut penalty = 0.0;
    for (g, w) in grad.iter_mut().zip(params).take(penalised) {
        *g += l2 * w;
        penalty += w * w;
    }
    0.5 * l2 * penalty
}

/// Binary logistic regression, unweighted, in f64: `p(y) = σ(w·x + b)`. Parameters: the `p` weights, then
/// the intercept. Minimises the mean log-loss plus `l2/2 · |w|²` (the intercept is not penalised).
pub(crate) fn fit_binary(x: &[Vec<f64>], y: &[bool], l2: f64, max_iter: usize, tol: f64) -> Result<Fit> {
    let p = x.first().map_or(0, Vec::len);
    let n = y.len();
    let objective = |w: &[f64], g: &mut [f64]| -> std::result::Result<f64, std::convert::Infallible> {
        g.iter_mut().for_each(|v| *v = 0.0);
        let mut loss = 0.0;
        for (xi, &yi) in x.iter().zip(y) {
            let z = w[p] + xi.iter().zip(w).map(|(a, b)| a * b).sum::<f64>();
            // log(1 + e^z) − y·z, computed without overflow.
            loss += z.max(0.0) + (-z.abs()).exp().ln_1p() - if yi { z } else { 0.0 };
            let d = crate::tasks::churn::model::sigmoid(z) - if yi { 1.0 } else { 0.0 };
            for (gj, xj) in g.iter_mut().zip(xi) {
                *gj += d * xj;
            }
            g[p] += d;
        }
        let nf = n as f64;
        g.iter_mut().for_each(|v| *v /= nf);
        Ok(loss / nf + add_l2(w, g, p, l2))
    };
    minimize("the model", objective, p + 1, max_iter, tol)
}

/// Multinomial logistic regression with per-example weights: `p(k | x) = softmax(W·x + b)_k`, loss and
/// gradient as f32 candle matmuls. `x` is row-major `[n, dim]`, `y` the class of each row (< `classes`).
/// Parameters: `W` row-major `[classes, dim]`, then the `classes` biases. Minimises the weighted mean
/// log-loss plus `l2/2 · |W|²` (biases not penalised).
pub(crate) struct Multinomial<'a> {
    pub x: Vec<f32>,
    pub dim: usize,
    pub y: &'a [usize],
    pub classes: usize,
    pub sample_weight: &'a [f32],
}

impl Multinomial<'_> {
    pub(crate) fn fit(self, l2: f64, max_iter: usize, tol: f64) -> Result<Fit> {
        let Multinomial { x, dim, y, classes: c, sample_weight } = self;
        let n = y.len();
        let weight_sum: f64 = sample_weight.iter().map(|&w| w as f64).sum();
        let dev = candle_core::Device::Cpu;
        let xt = Tensor::from_vec(x, (n, dim), &dev)?;
        let mut y_weighted = vec![0.0f32; n * c];
        for i in 0..n {
            y_weighted[i * c + y[i]] = sample_weight[i];
        }
        let yt = Tensor::from_vec(y_weighted, (n, c), &dev)?;
        let st = Tensor::from_vec(sample_weight.to_vec(), (n, 1), &dev)?;
        let objective = |params: &[f64], grad: &mut [f64]| -> candle_core::Result<f64> {
            let w: Vec<f32> = params[..c * dim].iter().map(|&p| p as f32).collect();
            let b: Vec<f32> = params[c * dim..].iter().map(|&p| p as f32).collect();
            let w = Tensor::from_vec(w, (c, dim), &dev)?;
            let b = Tensor::from_vec(b, (1, c), &dev)?;
            let logits = xt.matmul(&w.t()?)?.broadcast_add(&b)?;
            let logp = candle_nn::ops::log_softmax(&logits, candle_core::D::Minus1)?;
            let nll = -(logp.mul(&yt)?.sum_all()?.to_scalar::<f32>()? as f64) / weight_sum;
            let delta = ((logp.exp()?.broadcast_mul(&st)? - &yt)? / weight_sum)?;
            let gw = delta.t()?.matmul(&xt)?.flatten_all()?.to_vec1::<f32>()?;
            let gb = delta.sum(0)?.to_vec1::<f32>()?;
            for (j, g) in gw.iter().enumerate() {
                grad[j] = *g as f64;
            }
            for (k, g) in gb.iter().enumerate() {
                grad[c * dim + k] = *g as f64;
            }
            Ok(nll + add_l2(params, grad, c * dim, l2))
        };
        minimize("the head", objective, c * dim + c, max_iter, tol)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn binary_fit_separates_and_penalty_shrinks() {
        let x: Vec<Vec<f64>> = (0..40).map(|i| vec![i as f64 / 10.0 - 2.0]).collect();
        let y: Vec<bool> = (0..40).map(|i| (i * 7) % 40 > 15).collect();
        let weak = fit_binary(&x, &y, 1e-3, 200, 1e-9).unwrap();
        let strong = fit_binary(&x, &y, 10.0, 200, 1e-9).unwrap();
        assert!(weak.x[0].abs() > strong.x[0].abs(), "{:?} vs {:?}", weak.x, strong.x);
        assert!(weak.value.is_finite() && weak.iterations > 0);
    }

    #[test]
    fn multinomial_fit_learns_three_classes() {
        let y: Vec<usize> = (0..30).map(|i| i % 3).collect();
        let x: Vec<f32> = y.iter().flat_map(|&k| [(k == 0) as u8 as f32, (k == 1) as u8 as f32]).collect();
        let w = vec![1.0f32; 30];
        let fit =
            Multinomial { x, dim: 2, y: &y, classes: 3, sample_weight: &w }.fit(1e-3, 200, 1e-6).unwrap();
        assert_eq!(fit.x.len(), 3 * 2 + 3);
        assert!(fit.x[0] > fit.x[2] && fit.x[3] > fit.x[1], "{:?}", fit.x);
    }
}
