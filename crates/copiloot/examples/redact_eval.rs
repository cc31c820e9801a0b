//! Precision and recall of the redactor per kind on the generated Dutch/English set.
//!
//! `cargo run -p copiloot --example redact_eval -- [PER_KIND=2000] [SEED=42] [--show-errors]`

use copiloot::eval::redact as eval;
use copiloot::redact::Redactor;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let per_kind = numbers.first().copied().unwrap_or(2000) as usize;
    let seed = numbers.get(1).copied().unwrap_or(42);
    let show = args.iter().any(|a| a == "--show-errors");
    let samples = eval::generate(per_kind, seed);
    let redactor = Redactor::default();
    let scores = eval::evaluate(&redactor, &samples);
    println!("{} sentences ({per_kind} per kind + decoys), seed {seed}", samples.len());
    println!("{:<14} {:>6} {:>5} {:>5} {:>9} {:>7}", "kind", "tp", "fp", "fn", "precision", "recall");
    for (kind, s) in &scores {
        println!(
            "{:<14} {:>6} {:>5} {:>5} {:>8.2}% {:>6.2}%",
            format!("{kind:?}"),
            s.true_positives,
            s.false_positives,
            s.false_negatives,
            100.0 * s.precision,
            100.0 * s.recall
        );
    }
    if show {
        for s in &samples {
            let found = redactor.find(&s.text);
            let wrong = found.iter().any(|f| !s.gold.iter().any(|g| g.0 == f.0 && f.1 < g.2 && g.1 < f.2));
            let missed = s.gold.iter().any(|g| !found.iter().any(|f| g.0 == f.0 && f.1 < g.2 && g.1 < f.2));
            if wrong || missed {
                println!("error: {:?} found {found:?} gold {:?}", s.text, s.gold);
            }
        }
    }
}
