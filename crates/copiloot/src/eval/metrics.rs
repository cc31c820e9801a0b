//! Classification metrics for `copiloot eval`: accuracy, macro-F1, per-class precision/recall/F1 and the
//! most confused pairs — the numbers sklearn's `classification_report` users look for, as JSON.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClassMetrics {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Number of gold examples of this label.
    pub support: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConfusedPair {
    pub gold: String,
    pub predicted: String,
    pub count: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClassificationReport {
    pub examples: usize,
    pub accuracy: f64,
    /// Unweighted mean of the per-class F1 over the gold labels.
    pub macro_f1: f64,
    pub per_class: Vec<ClassMetrics>,
    /// Off-diagonal cells of the confusion matrix, largest first.
    pub most_confused: Vec<ConfusedPair>,
}

/// Scores `predicted` against `gold` (same length). Labels predicted but never gold (e.g. `other`) count
/// against precision of nothing and recall of the gold label, as in sklearn with `labels=gold labels`.
pub fn evaluate(gold: &[String], predicted: &[String], top_confused: usize) -> ClassificationReport {
    let n = gold.len().min(predicted.len());
    let mut confusion: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for i in 0..n {
        *confusion.entry((gold[i].as_str(), predicted[i].as_str())).or_default() += 1;
    }
    let labels: std::collections::BTreeSet<&str> = gold[..n].iter().map(String::as_str).collect();
    let mut per_class = Vec::new();
    for &label in &labels {
        let tp = confusion.get(&(label, label)).copied().unwrap_or(0) as f64;
        let gold_n = confusion.iter().filter(|((g, _), _)| *g == label).map(|(_, c)| *c).sum::<usize>();
        let pred_n =
            confusion.iter().filter(|((_, p), _)| *p == label).map(|(_, c)| *c).sum::<usize>() as f64;
        let precision = if pred_n > 0.0 { tp / pred_n } else { 0.0 };
        let recall = if gold_n > 0 { tp / gold_n as f64 } else { 0.0 };
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        per_class.push(ClassMetrics { label: label.to_string(), precision, recall, f1, support: gold_n });
    }
    let correct = (0..n).filter(|&i| gold[i] == predicted[i]).count();
    let mut most_confused: Vec<ConfusedPair> = confusion
        .iter()
        .filter(|((g, p), _)| g != p)
        .map(|((g, p), c)| ConfusedPair { gold: g.to_string(), predicted: p.to_string(), count: *c })
        .collect();
    most_confused.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.gold.cmp(&b.gold)));
    most_confused.truncate(top_confused);
    ClassificationReport {
        examples: n,
        accuracy: if n > 0 { correct as f64 / n as f64 } else { 0.0 },
        macro_f1: if per_class.is_empty() {
            0.0
        } else {
            per_class.iter().map(|c| c.f1).sum::<f64>() / per_class.len() as f64
        },
        per_class,
        most_confused,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn matches_hand_computed_values() {
        let gold = s(&["a", "a", "a", "b", "b", "c"]);
        let pred = s(&["a", "a", "b", "b", "b", "other"]);
        let r = evaluate(&gold, &pred, 5);
        assert!((r.accuracy - 4.0 / 6.0).abs() < 1e-12);
        let a = &r.per_class[0];
        assert_eq!((a.label.as_str(), a.precision, a.support), ("a", 1.0, 3));
        assert!((a.recall - 2.0 / 3.0).abs() < 1e-12);
        let b = &r.per_class[1];
        assert!((b.precision - 2.0 / 3.0).abs() < 1e-12 && b.recall == 1.0);
        assert_eq!(r.per_class[2].f1, 0.0);
        // macro-F1 = (0.8 + 0.8 + 0) / 3
        assert!((r.macro_f1 - 1.6 / 3.0).abs() < 1e-9, "{}", r.macro_f1);
        assert_eq!(r.most_confused.len(), 2);
        assert_eq!(r.most_confused[0], ConfusedPair { gold: "a".into(), predicted: "b".into(), count: 1 });
    }
}
