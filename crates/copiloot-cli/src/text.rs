//! Human-readable rendering of an Analysis (`--format text`), and the pieces the live replay's text
//! lines share with it.

use copiloot::knowledge::Suggestion;
use copiloot::tasks::alerts::Alert;
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
    let m = &a.metrics;
    let _ = write!(s, "  turns: {}", m.turns);
    for (speaker, sm) in &m.speakers {
        let _ = write!(s, "  {speaker:?}: {} turns, {:.0}% of words", sm.turns, 100.0 * sm.talk_share);
    }
    if let Some(d) = m.duration_seconds {
        let _ = write!(s, "  duration: {d:.0}s");
    }
    let _ = writeln!(s);
    match &a.intents {
        Some(i) => {
            let _ = writeln!(s, "  reason for contact: {}", i.primary.as_deref().unwrap_or("unknown"));
            for d in &i.intents {
                let name = d.name.as_deref().unwrap_or(&d.intent);
                let _ = writeln!(s, "    intent {name} ({:.0}%) in turns {:?}", 100.0 * d.score, d.turns);
            }
        }
        None => {
            let _ = writeln!(s, "  intents: (not available)");
        }
    }
    match a.sentiment.as_ref().and_then(|x| x.customer_trajectory.as_ref()) {
        Some(t) => {
            let _ = writeln!(
                s,
                "  customer sentiment: {:+.2} → {:+.2} ({:?}); most negative at turn {} ({:+.2})",
                t.start, t.end, t.trend, t.most_negative_turn, t.most_negative_score
            );
        }
        None => {
            let _ = writeln!(s, "  customer sentiment: (not available)");
        }
    }
    match &a.summary {
        Some(summary) => {
            let _ = writeln!(s, "  summary: {}", summary.text);
            // With --generator: the LLM's note, or why the gate held it back (the summary above stands).
            match summary.rewrite.as_ref().map(|r| (r, r.withheld.as_deref())) {
                Some((_, Some(why))) => {
                    let _ = writeln!(s, "  LLM rewrite withheld: {why}");
                }
                Some((r, None)) => {
                    let _ = writeln!(s, "  LLM rewrite: {}", r.text);
                }
                None => {}
            }
        }
        None => {
            let _ = writeln!(s, "  summary: (not available)");
        }
    }
    match &a.churn {
        Some(c) => {
            let _ = writeln!(s, "  churn risk: {:.0} % ({})", 100.0 * c.score, c.band.as_str());
            for r in c.reasons.iter().take(5) {
                let _ = writeln!(s, "    {:+.2}  {}", r.contribution, r.text);
            }
        }
        None => {
            let _ = writeln!(s, "  churn: (not available)");
        }
    }
    for alert in a.alerts.iter().flatten() {
        let _ = writeln!(s, "  {}", alert_line(alert));
    }
    for k in a.knowledge.iter().flatten() {
        let _ = writeln!(s, "  {}", knowledge_line(k));
    }
    for w in &a.warnings {
        let _ = writeln!(s, "  warning: {w}");
    }
    let _ = writeln!(s, "  encoder: {}", a.models.encoder);
    s
}

/// One alert on one line (no indentation): its id, its message and the turns it cites.
pub fn alert_line(alert: &Alert) -> String {
    format!("alert {}: {} (turns {:?})", alert.id, alert.message, alert.turns)
}

/// One knowledge suggestion on one line: the turn that asked, the article › section, the sentence, the link.
pub fn knowledge_line(k: &Suggestion) -> String {
    let mut place = vec![k.title.as_str()];
    place.extend(k.heading.iter().map(String::as_str));
    place.retain(|p| !p.is_empty());
    let turn = k.turn.map(|t| format!("turn {t}, ")).unwrap_or_default();
    let url = k.url.as_deref().map(|u| format!("  <{u}>")).unwrap_or_default();
    format!("kb ({turn}{:.2}): {} — “{}”{url}", k.score, place.join(" › "), k.highlight.sentence)
}
