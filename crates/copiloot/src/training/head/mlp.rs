//! Heads with one hidden ReLU layer on frozen features (`kind: "mlp"`), trained with candle's autograd:
//! weighted cross-entropy (the same class and example weights as the linear heads), dropout on the hidden
//! layer, AdamW with weight decay and a linearly decaying learning rate, seeded batches. Several members
//! (seeds) can be trained and averaged — the mean of their logits is itself one wider MLP, so the saved
//! head has the same shape. The feature standardisation is folded into the first layer, so inference reads
//! the raw features.

use super::{feature_stats, prepare, standardised, Hidden, LinearHead, TrainConfig, TrainingSummary};
use crate::error::{Error, Result};
use crate::rng::SplitMix64;
use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use serde::{Deserialize, Serialize};

/// Settings of an MLP head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlpConfig {
    /// Width of the hidden layer.
    pub hidden: usize,
    /// Passes over the training data.
    pub epochs: usize,
    /// AdamW peak learning rate (decays linearly to 0).
    pub lr: f64,
    /// AdamW (decoupled) weight decay.
    pub weight_decay: f64,
    /// Dropout probability on the hidden layer while training.
    pub dropout: f32,
    pub batch_size: usize,
    /// Seed of the initial weights, the example order and the dropout masks (member i uses seed + i).
    pub seed: u64,
    /// How many MLPs (seeds) are trained and averaged; the head's hidden width is `members × hidden`.
    #[serde(default = "one")]
    pub members: usize,
}

fn one() -> usize {
    1
}

impl Default for MlpConfig {
    fn default() -> Self {
        Self {
            hidden: 256,
            epochs: 20,
            lr: 1e-3,
            weight_decay: 0.01,
            dropout: 0.3,
            batch_size: 64,
            seed: 19,
            members: 1,
        }
    }
}

impl MlpConfig {
    fn check(&self) -> Result<()> {
        let bad = |what: String| Err(Error::Config(format!("MLP head: {what}")));
        if self.hidden == 0 || self.epochs == 0 || self.batch_size == 0 || self.members == 0 {
            return bad(format!(
                "--hidden, --epochs, --train-batch-size and --members must be at least 1 (got {}, {}, {}, {})",
                self.hidden, self.epochs, self.batch_size, self.members
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(format!("--dropout must be in 0..1 (got {})", self.dropout));
        }
        let rates = self.lr > 0.0 && self.lr.is_finite() && self.weight_decay >= 0.0;
        if !rates || !self.weight_decay.is_finite() {
            return bad(format!(
                "--lr must be > 0 and --weight-decay ≥ 0 (got {}, {})",
                self.lr, self.weight_decay
            ));
        }
        Ok(())
    }
}

/// Uniform(−a, a) weights from the seeded generator (PyTorch's default range for `nn.Linear`: a = 1/√fan_in).
fn init(rng: &mut SplitMix64, rows: usize, cols: usize) -> Result<Var> {
    let a = 1.0 / (cols as f64).sqrt();
    let w: Vec<f32> = (0..rows * cols)
        .map(|_| ((rng.next() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * a)
        .map(|v| v as f32)
        .collect();
    Ok(Var::from_tensor(&Tensor::from_vec(w, (rows, cols), &Device::Cpu)?)?)
}

fn values(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.flatten_all()?.to_vec1::<f32>()?)
}

impl LinearHead {
    /// Fits a head with one hidden layer; the same checks and weights as [`LinearHead::train`] (whose
    /// `l2`, `max_iter` and `tol` are not used here). Deterministic for a seed.
    pub fn train_mlp(
        task: &str,
        encoder: &str,
        embeddings: &[Vec<f32>],
        labels: &[String],
        config: &TrainConfig,
        mlp: &MlpConfig,
    ) -> Result<LinearHead> {
        mlp.check()?;
        let p = prepare(embeddings, labels, config)?;
        let (n, dim, c, h) = (embeddings.len(), p.dim, p.classes.len(), mlp.hidden);
        let (mean, std) = feature_stats(embeddings, dim);
        let x = Tensor::from_vec(standardised(embeddings, &mean, &std), (n, dim), &Device::Cpu)?;
        let y = Tensor::from_vec(p.y.iter().map(|&k| k as u32).collect::<Vec<_>>(), n, &Device::Cpu)?;
        // Mean weight 1, so the learning rate does not depend on the weighting.
        let total: f64 = p.sample_weight.iter().map(|&w| w as f64).sum();
        let scale = n as f64 / total.max(f64::MIN_POSITIVE);
        let sw: Vec<f32> = p.sample_weight.iter().map(|&w| (w as f64 * scale) as f32).collect();
        let sw = Tensor::from_vec(sw, n, &Device::Cpu)?;

        let (mut hw, mut hb, mut ow, mut ob) = (Vec::new(), Vec::new(), vec![Vec::new(); c], vec![0.0f32; c]);
        let (mut steps, mut last_loss) = (0, 0.0);
        let k = mlp.members as f32;
        for m in 0..mlp.members {
            let fit = fit_one(&x, &y, &sw, c, mlp, mlp.seed.wrapping_add(m as u64))?;
            hw.extend(fit.hidden_weight);
            hb.extend(fit.hidden_bias);
            // The mean of the members' logits: each member's output weights and bias divided by k.
            for (row, member) in ow.iter_mut().zip(fit.out_weight.chunks_exact(h)) {
                row.extend(member.iter().map(|v| v / k));
            }
            ob.iter_mut().zip(&fit.out_bias).for_each(|(o, b)| *o += b / k);
            steps += fit.steps;
            last_loss += fit.loss / mlp.members as f64;
        }
        let h = h * mlp.members;
        // Fold the standardisation into the first layer: H' = H / std, c' = c − H'·mean.
        for j in 0..h {
            let row = &mut hw[j * dim..(j + 1) * dim];
            let mut shift = 0.0f64;
            for ((w, s), m) in row.iter_mut().zip(&std).zip(&mean) {
                *w /= s;
                shift += *w as f64 * *m as f64;
            }
            hb[j] -= shift as f32;
        }
        let summary = TrainingSummary {
            examples: n,
            per_class: p.per_class,
            l2: mlp.weight_decay,
            class_weight: config.class_weight,
            iterations: steps,
            final_loss: last_loss,
            train_accuracy: 0.0,
            source: None,
            mlp: Some(Box::new(mlp.clone())),
        };
        let out = (ow.concat(), ob);
        let hidden = Some(Box::new(Hidden { weight: hw, bias: hb }));
        Ok(LinearHead::assemble(task, encoder, p.classes, dim, summary, out, hidden, &p.y, embeddings))
    }
}

/// One trained member: its weights (`[hidden, dim]` on standardised features, `[classes, hidden]`), the
/// optimiser steps and the mean loss of the last epoch.
struct Member {
    hidden_weight: Vec<f32>,
    hidden_bias: Vec<f32>,
    out_weight: Vec<f32>,
    out_bias: Vec<f32>,
    steps: usize,
    loss: f64,
}

/// Trains one MLP on standardised features `x` [n, dim], classes `y` and example weights `sw`.
fn fit_one(x: &Tensor, y: &Tensor, sw: &Tensor, c: usize, mlp: &MlpConfig, seed: u64) -> Result<Member> {
    let (n, dim, h) = (x.dim(0)?, x.dim(1)?, mlp.hidden);
    let mut rng = SplitMix64(seed);
    let w1 = init(&mut rng, h, dim)?;
    let b1 = Var::zeros(h, DType::F32, &Device::Cpu)?;
    let w2 = init(&mut rng, c, h)?;
    let b2 = Var::zeros(c, DType::F32, &Device::Cpu)?;
    let params = ParamsAdamW { lr: mlp.lr, weight_decay: mlp.weight_decay, ..Default::default() };
    let mut opt = AdamW::new(vec![w1.clone(), b1.clone(), w2.clone(), b2.clone()], params)?;
    let steps = mlp.epochs * n.div_ceil(mlp.batch_size);
    let (mut step, mut last_loss) = (0usize, f64::NAN);
    let keep = 1.0 / (1.0 - mlp.dropout);
    let threshold = (mlp.dropout as f64 * (1u64 << 24) as f64) as u64;
    for _ in 0..mlp.epochs {
        let mut order: Vec<u32> = (0..n as u32).collect();
        rng.shuffle(&mut order);
        let (mut sum, mut weight) = (0.0f64, 0.0f64);
        for batch in order.chunks(mlp.batch_size) {
            opt.set_learning_rate(mlp.lr * (1.0 - step as f64 / steps as f64));
            step += 1;
            let idx = Tensor::from_slice(batch, batch.len(), &Device::Cpu)?;
            let xb = x.index_select(&idx, 0)?;
            let mut hid = xb.matmul(&w1.as_tensor().t()?)?.broadcast_add(b1.as_tensor())?.relu()?;
            if mlp.dropout > 0.0 {
                let mask: Vec<f32> = (0..batch.len() * h)
                    .map(|_| if (rng.next() >> 40) < threshold { 0.0 } else { keep })
                    .collect();
                hid = hid.mul(&Tensor::from_vec(mask, (batch.len(), h), &Device::Cpu)?)?;
            }
            let logits = hid.matmul(&w2.as_tensor().t()?)?.broadcast_add(b2.as_tensor())?;
            let logp = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
            let nll = logp.gather(&y.index_select(&idx, 0)?.unsqueeze(1)?, 1)?.squeeze(1)?.neg()?;
            let wb = sw.index_select(&idx, 0)?;
            let loss = (nll.mul(&wb)?.sum_all()? / batch.len() as f64)?;
            opt.backward_step(&loss)?;
            sum += loss.to_scalar::<f32>()? as f64 * batch.len() as f64;
            weight += batch.len() as f64;
        }
        last_loss = sum / weight;
    }

    Ok(Member {
        hidden_weight: values(w1.as_tensor())?,
        hidden_bias: values(b1.as_tensor())?,
        out_weight: values(w2.as_tensor())?,
        out_bias: values(b2.as_tensor())?,
        steps,
        loss: last_loss,
    })
}
