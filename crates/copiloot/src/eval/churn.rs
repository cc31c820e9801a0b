//! Churn-model evaluation: ROC AUC, PR AUC (average precision), Brier score, log-loss, a calibration
//! table per decile of the predicted risk and its expected calibration error — what a data team checks
//! before a save team acts on the scores.

use crate::error::{Error, Location, Result};
use crate::tasks::churn::model::{Band, ChurnModel};
use crate::training::table::{labels, Table};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Number of calibration bins (deciles of the predicted risk).
pub const CALIBRATION_BINS: usize = 10;

/// One bin of the calibration table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CalibrationBin {
    /// 1-based decile.
    pub bin: usize,
    pub rows: usize,
    pub min_predicted: f64,
    pub max_predicted: f64,
    pub mean_predicted: f64,
    /// Share of churners among the rows of the bin.
    pub observed: f64,
}

/// Rows, churners and observed churn rate per risk band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BandStats {
    pub band: Band,
    pub rows: usize,
    pub churners: usize,
    pub observed: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EvalReport {
    pub model: String,
    pub rows: usize,
    pub churners: usize,
    pub churn_rate: f64,
    pub roc_auc: f64,
    /// Average precision (the area under the precision-recall curve, as sklearn computes it).
    pub pr_auc: f64,
    /// Mean squared error of the probabilities (0 is perfect; predicting the churn rate r gives r(1−r)).
    pub brier: f64,
    pub log_loss: f64,
    /// Expected calibration error over the deciles: Σ (rows in bin / rows) · |mean predicted − observed|.
    pub ece: f64,
    pub calibration: Vec<CalibrationBin>,
    /// Filled by [`ChurnModel::evaluate`] (the bands are the model's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bands: Vec<BandStats>,
}

impl ChurnModel {
    /// Scores `table` and compares with the yes/no labels in `label`.
    pub fn evaluate(&self, table: &Table, label: &str) -> Result<EvalReport> {
        let y = labels(table, label)?;
        let p = self.predict_proba(table)?;
        let mut report = evaluate_scores(&p, &y, &self.name)?;
        report.bands = [Band::Low, Band::Medium, Band::High]
            .into_iter()
            .map(|band| {
                let rows: Vec<bool> =
                    p.iter().zip(&y).filter(|(s, _)| self.bands.band(**s) == band).map(|(_, &l)| l).collect();
                let churners = rows.iter().filter(|&&l| l).count();
                BandStats { band, rows: rows.len(), churners, observed: ratio(churners, rows.len()) }
            })
            .collect();
        Ok(report)
    }
}

/// All metrics for probabilities `scores` against labels `y` (both classes needed).
pub fn evaluate_scores(scores: &[f64], y: &[bool], model: &str) -> Result<EvalReport> {
    if scores.len() != y.len() || scores.is_empty() {
        return Err(Error::invalid(
            Location::field("scores"),
            format!("{} scores for {} labels; give one score per label", scores.len(), y.len()),
        ));
    }
    if let Some(i) = scores.iter().position(|s| !(s.is_finite() && (0.0..=1.0).contains(s))) {
        return Err(Error::invalid(
            Location::field(format!("scores[{i}]")),
            "a score is not a probability in 0..1",
        ));
    }
    let churners = y.iter().filter(|&&v| v).count();
    if churners == 0 || churners == y.len() {
        return Err(Error::invalid(
            Location::field("labels"),
            "the evaluation data has a single class; ROC AUC needs churners and non-churners",
        ));
    }
    let n = y.len() as f64;
    let brier = scores.iter().zip(y).map(|(p, &l)| (p - f64::from(u8::from(l))).powi(2)).sum::<f64>() / n;
    let log_loss = scores
        .iter()
        .zip(y)
        .map(|(p, &l)| {
            let p = p.clamp(1e-15, 1.0 - 1e-15);
            if l {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum::<f64>()
        / n;
    let calibration = calibration_table(scores, y, CALIBRATION_BINS);
    Ok(EvalReport {
        model: model.to_string(),
        rows: y.len(),
        churners,
        churn_rate: ratio(churners, y.len()),
        roc_auc: roc_auc(scores, y),
        pr_auc: average_precision(scores, y),
        brier,
        log_loss,
        ece: ece(&calibration, y.len()),
        calibration,
        bands: Vec::new(),
    })
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// ROC AUC as the Mann–Whitney statistic: the chance that a random churner scores above a random
/// non-churner, ties counting half (average ranks).
pub fn roc_auc(scores: &[f64], y: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len().min(y.len())).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_pos += order[i..=j].iter().filter(|&&k| y[k]).count() as f64 * avg_rank;
        i = j + 1;
    }
    let pos = y.iter().filter(|&&v| v).count() as f64;
    let neg = y.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return f64::NAN;
    }
    (rank_sum_pos - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// Average precision: Σ over score thresholds (high to low) of (recall gain) × precision.
pub fn average_precision(scores: &[f64], y: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len().min(y.len())).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let pos = y.iter().filter(|&&v| v).count() as f64;
    if pos == 0.0 {
        return f64::NAN;
    }
    let (mut tp, mut seen, mut ap, mut last_recall) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        // All rows with the same score enter together (one threshold).
        let mut j = i;
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            tp += f64::from(u8::from(y[order[j]]));
            seen += 1.0;
            j += 1;
        }
        let recall = tp / pos;
        ap += (recall - last_recall) * (tp / seen);
        last_recall = recall;
        i = j;
    }
    ap
}

/// Equal-count bins of the rows sorted by predicted risk (sklearn's `calibration_curve(strategy="quantile")`).
pub fn calibration_table(scores: &[f64], y: &[bool], bins: usize) -> Vec<CalibrationBin> {
    let n = scores.len().min(y.len());
    let bins = bins.clamp(1, n.max(1));
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    (0..bins)
        .filter_map(|b| {
            let (lo, hi) = (b * n / bins, (b + 1) * n / bins);
            let rows = order.get(lo..hi)?;
            if rows.is_empty() {
                return None;
            }
            let s: Vec<f64> = rows.iter().map(|&k| scores[k]).collect();
            let churners = rows.iter().filter(|&&k| y[k]).count();
            Some(CalibrationBin {
                bin: b + 1,
                rows: rows.len(),
                min_predicted: s.iter().copied().fold(f64::INFINITY, f64::min),
                max_predicted: s.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                mean_predicted: s.iter().sum::<f64>() / s.len() as f64,
                observed: ratio(churners, rows.len()),
            })
        })
        .collect()
}

/// Expected calibration error of a calibration table over `rows` rows.
pub fn ece(table: &[CalibrationBin], rows: usize) -> f64 {
    table.iter().map(|b| ratio(b.rows, rows) * (b.mean_predicted - b.observed).abs()).sum()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn auc_matches_a_hand_computation() {
        // Pairs (churner, non-churner): (0.8,0.1) (0.8,0.4) (0.8,0.35) (0.35,0.1) (0.35,0.4) (0.35,0.35)
        // win, win, win, win, loss, tie → 4.5 / 6 = 0.75.
        let s = [0.1, 0.4, 0.35, 0.8, 0.35];
        let y = [false, false, false, true, true];
        assert!((roc_auc(&s, &y) - 0.75).abs() < 1e-12);
        assert_eq!(roc_auc(&[0.1, 0.9], &[false, true]), 1.0);
        // AP: sorted 0.8(+) → P=1, R=.5; {0.4−} ; {0.35+,0.35−} at the same threshold: tp=2 of 4 → P=.5, R=1.
        // AP = 0.5·1 + 0.5·0.5 = 0.75.
        assert!((average_precision(&s, &y) - 0.75).abs() < 1e-12);
    }

    #[test]
    fn calibration_table_and_ece() {
        let s: Vec<f64> = (0..100).map(|i| i as f64 / 100.0).collect();
        // Observed churn equals the prediction in every bin when the i-th decile has i churners of 10.
        let y: Vec<bool> = (0..100).map(|i| (i % 10) < i / 10).collect();
        let t = calibration_table(&s, &y, 10);
        assert_eq!(t.len(), 10);
        assert_eq!(t[3].rows, 10);
        assert!((t[3].mean_predicted - 0.345).abs() < 1e-12 && (t[3].observed - 0.3).abs() < 1e-12);
        let e = ece(&t, 100);
        assert!((e - 0.045).abs() < 1e-9, "{e}");
        let r = evaluate_scores(&s, &y, "m").unwrap();
        assert!((r.roc_auc - 0.8).abs() < 1e-9 && r.brier < 0.19 && r.log_loss > 0.0);
        assert!(evaluate_scores(&[0.2, 0.3], &[true, true], "m")
            .unwrap_err()
            .to_string()
            .contains("single class"));
        assert!(evaluate_scores(&[f64::NAN, 0.3], &[true, false], "m").is_err());
    }
}
