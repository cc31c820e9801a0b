//! Human-readable rendering of an Analysis (`--format text`).

use copiloot::Analysis;
use std::fmt::Write;

pub fn render(a: &Analysis) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "conversation {}  (language: {})",
        a.conversation_id,
        a.language.as_deref().unwrap_or("unknown")
    );
    if let Ok(metrics) = serde_json::to_value(&a.metrics) {
        if let Some(obj) = metrics.as_object() {
            for (k, v) in obj {
                let _ = writeln!(s, "  {k}: {v}");
            }
        }
    }
    for (name, field) in
        [("intents", &a.intents), ("sentiment", &a.sentiment), ("summary", &a.summary), ("churn", &a.churn)]
    {
        match field {
            Some(v) => {
                let _ = writeln!(s, "  {name}: {v}");
            }
            None => {
                let _ = writeln!(s, "  {name}: (not available yet)");
            }
        }
    }
    for w in &a.warnings {
        let _ = writeln!(s, "  warning: {w}");
    }
    let _ = writeln!(s, "  encoder: {}", a.models.encoder);
    s
}
