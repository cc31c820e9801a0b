//! Choosing the L2 strength of a linear head by stratified k-fold cross-validation on the training data.

use super::{LinearHead, TrainConfig};
use crate::error::{Error, Location, Result};
use std::collections::BTreeMap;

/// L2 strengths tried by [`select_l2`] (per-example loss scale, on standardised features).
pub const L2_GRID: &[f64] = &[1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0];

/// Picks the L2 strength by stratified k-fold cross-validation on the training data only (like sklearn's
/// `LogisticRegressionCV`): returns the best strength and the mean held-out accuracy of every candidate.
/// Folds are assigned deterministically (the j-th example of each class goes to fold j mod k).
pub fn select_l2(
    embeddings: &[Vec<f32>],
    labels: &[String],
    config: &TrainConfig,
    grid: &[f64],
    folds: usize,
) -> Result<(f64, Vec<(f64, f64)>)> {
    let folds = folds.max(2);
    if config.example_weights.as_ref().is_some_and(|w| w.len() != labels.len()) {
        return Err(Error::invalid(
            Location::field("example_weights"),
            format!("example weights for {} examples; give one weight per example", labels.len()),
        ));
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let fold_of: Vec<usize> = labels
        .iter()
        .map(|l| {
            let j = seen.entry(l.as_str()).or_default();
            *j += 1;
            (*j - 1) % folds
        })
        .collect();
    let mut scores = Vec::new();
    for &l2 in grid {
        let (mut correct, mut total) = (0usize, 0usize);
        for f in 0..folds {
            let fold_of = &fold_of;
            let pick = |test: bool| (0..labels.len()).filter(move |&i| (fold_of[i] == f) == test);
            let example_weights =
                config.example_weights.as_ref().map(|w| pick(false).map(|i| w[i]).collect());
            let cfg = TrainConfig { l2: Some(l2), example_weights, ..config.clone() };
            let train_x: Vec<Vec<f32>> = pick(false).map(|i| embeddings[i].clone()).collect();
            let train_y: Vec<String> = pick(false).map(|i| labels[i].clone()).collect();
            let test_x: Vec<Vec<f32>> = pick(true).map(|i| embeddings[i].clone()).collect();
            if test_x.is_empty() {
                continue;
            }
            let head = LinearHead::train("cv", "cv", &train_x, &train_y, &cfg)?;
            for (p, i) in head.predict(&test_x)?.into_iter().zip(pick(true)) {
                correct += usize::from(p.label == labels[i]);
                total += 1;
            }
        }
        scores.push((l2, correct as f64 / total.max(1) as f64));
    }
    // Ties go to the stronger penalty (later in the grid), the safer choice on new data.
    let best = scores
        .iter()
        .fold((grid[0], f64::NEG_INFINITY), |b, &(l2, acc)| if acc >= b.1 { (l2, acc) } else { b });
    Ok((best.0, scores))
}
