//! ROUGE-1/2/L F1 as the `rouge-score` package computes it (tokenise: lower-case, every run of characters
//! outside `[a-z0-9]` is a separator; tokens longer than 3 characters are Porter-stemmed like NLTK), so our
//! numbers can be put next to published ones. Checked against the package in `benches/rouge_check.sh`.

use super::porter;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Precision, recall and F1 of one ROUGE variant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RougeScore {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// ROUGE-1, ROUGE-2 and ROUGE-L of one prediction against one reference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Rouge {
    pub rouge1: RougeScore,
    pub rouge2: RougeScore,
    #[serde(rename = "rougeL")]
    pub rouge_l: RougeScore,
}

/// `rouge-score`'s default tokeniser with stemming on.
pub fn tokenize(text: &str) -> Vec<String> {
    let lowered = text.to_lowercase();
    let cleaned: String =
        lowered.chars().map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { ' ' }).collect();
    cleaned
        .split_whitespace()
        .map(|t| if t.len() > 3 { porter::stem(t) } else { t.to_string() })
        .filter(|t| !t.is_empty())
        .collect()
}

fn score(overlap: usize, predicted: usize, reference: usize) -> RougeScore {
    let precision = overlap as f64 / predicted.max(1) as f64;
    let recall = overlap as f64 / reference.max(1) as f64;
    let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
    RougeScore { precision, recall, f1 }
}

fn ngrams(tokens: &[String], n: usize) -> HashMap<&[String], usize> {
    let mut counts = HashMap::new();
    if n > 0 {
        for w in tokens.windows(n) {
            *counts.entry(w).or_insert(0) += 1;
        }
    }
    counts
}

fn rouge_n(reference: &[String], predicted: &[String], n: usize) -> RougeScore {
    let r = ngrams(reference, n);
    let p = ngrams(predicted, n);
    let overlap = r.iter().map(|(g, c)| (*c).min(p.get(g).copied().unwrap_or(0))).sum();
    score(overlap, p.values().sum(), r.values().sum())
}

/// Length of the longest common subsequence (two rows of the table, O(n·m) time).
fn lcs(a: &[String], b: &[String]) -> usize {
    let mut prev = vec![0usize; b.len() + 1];
    let mut cur = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y { prev[j] + 1 } else { prev[j + 1].max(cur[j]) };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// ROUGE of `predicted` against one `reference`.
pub fn rouge(reference: &str, predicted: &str) -> Rouge {
    let r = tokenize(reference);
    let p = tokenize(predicted);
    let rouge_l = if r.is_empty() || p.is_empty() {
        RougeScore::default()
    } else {
        score(lcs(&r, &p), p.len(), r.len())
    };
    Rouge { rouge1: rouge_n(&r, &p, 1), rouge2: rouge_n(&r, &p, 2), rouge_l }
}

/// Several references: the mean of the per-reference scores (how the DialogSum and TweetSumm numbers in
/// the literature are usually reported; `rouge-score`'s `score_multi` would take the maximum instead).
pub fn rouge_multi(references: &[String], predicted: &str) -> Rouge {
    let all: Vec<Rouge> = references.iter().map(|r| rouge(r, predicted)).collect();
    mean(&all)
}

/// Mean of several scores (zero for none).
pub fn mean(scores: &[Rouge]) -> Rouge {
    let n = scores.len().max(1) as f64;
    let avg = |f: &dyn Fn(&Rouge) -> RougeScore| RougeScore {
        precision: scores.iter().map(|s| f(s).precision).sum::<f64>() / n,
        recall: scores.iter().map(|s| f(s).recall).sum::<f64>() / n,
        f1: scores.iter().map(|s| f(s).f1).sum::<f64>() / n,
    };
    Rouge { rouge1: avg(&|s| s.rouge1), rouge2: avg(&|s| s.rouge2), rouge_l: avg(&|s| s.rouge_l) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    /// Values printed by `rouge_score.rouge_scorer.RougeScorer(['rouge1','rouge2','rougeL'],
    /// use_stemmer=True).score(reference, prediction)` (rouge-score 0.1.2, NLTK 3.10).
    #[test]
    fn agrees_with_rouge_score_on_hand_checked_pairs() {
        let r = rouge("The quick brown dog jumps on the log.", "The quick brown fox jumps over the lazy dog");
        assert!(close(r.rouge1.f1, 0.7058823529411765), "{r:?}");
        assert!(close(r.rouge2.f1, 0.26666666666666666), "{r:?}");
        assert!(close(r.rouge_l.f1, 0.5882352941176471), "{r:?}");
        let r = rouge(
            "Customer is complaining about the delayed refund. Agent asked to DM the order number.",
            "@Customer my refund was delayed!! Agents asked me for the order-number via DM",
        );
        assert!(close(r.rouge1.f1, PAIR2[0]), "{r:?}");
        assert!(close(r.rouge2.f1, PAIR2[1]), "{r:?}");
        assert!(close(r.rouge_l.f1, PAIR2[2]), "{r:?}");
        assert_eq!(rouge("", "anything").rouge_l.f1, 0.0);
    }

    const PAIR2: [f64; 3] = [0.6428571428571429, 0.23076923076923078, 0.5];

    #[test]
    fn tokenizer_stems_long_tokens_only() {
        assert_eq!(tokenize("Cats' running, was_it? 3.5%"), ["cat", "run", "was", "it", "3", "5"]);
    }
}
