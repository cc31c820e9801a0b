//! The CRM note: a few short lines in the conversation's language (Dutch or English labels around the
//! quoted sentences), built only from the summary's fields and kept under a character budget by dropping
//! whole items, least important first.

use super::{Commitment, Evidence, RequestKind, RequestOutcome, Resolution, ResolutionField};

struct Labels {
    customer: &'static str,
    agent: &'static str,
    status: &'static str,
    next: &'static str,
    resolved: &'static str,
    partial: &'static str,
    unresolved: &'static str,
    /// The status of a request carried out, which is not a solved problem.
    cancelled: &'static str,
    /// The whole note when the customer only greeted or thanked.
    nothing_asked: &'static str,
}

const EN: Labels = Labels {
    customer: "Customer:",
    agent: "Agent:",
    status: "Status:",
    next: "Next:",
    resolved: "resolved.",
    partial: "partly resolved.",
    unresolved: "not resolved.",
    cancelled: "cancellation processed.",
    nothing_asked: "Customer: no question or problem (greetings or thanks only).",
};

const NL: Labels = Labels {
    customer: "Klant:",
    agent: "Medewerker:",
    status: "Status:",
    next: "Vervolg:",
    resolved: "opgelost.",
    partial: "deels opgelost.",
    unresolved: "niet opgelost.",
    cancelled: "opzegging verwerkt.",
    nothing_asked: "Klant: geen vraag of probleem (alleen begroeting of bedankje).",
};

/// A sentence as it should end in a note: with a full stop unless it has its own punctuation.
fn sentence(text: &str) -> String {
    let t = text.trim();
    if t.ends_with(['.', '!', '?', '…']) {
        t.to_string()
    } else {
        format!("{t}.")
    }
}

/// The first sentence of a text (the fallback when a whole quote does not fit the budget).
fn first_sentence(text: &str) -> String {
    let cut = text
        .char_indices()
        .find(|&(i, c)| matches!(c, '.' | '!' | '?') && text[i + c.len_utf8()..].starts_with(' '));
    match cut {
        Some((i, c)) => text[..i + c.len_utf8()].to_string(),
        None => text.to_string(),
    }
}

/// Cuts at a word boundary to at most `max` characters, marking the cut with `…`.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    let at = cut.rfind(' ').filter(|&i| i > 0).unwrap_or(cut.len());
    format!("{}…", cut[..at].trim_end_matches([',', ';', ':', ' ']))
}

/// The note and how many items did not fit in `max_chars`. A cancellation carried out is the status
/// ("Status: opzegging verwerkt."), in place of how far the problem was solved.
pub fn render(
    language: &str,
    reason: &Option<Evidence>,
    actions: &[Evidence],
    action_scores: &[f32],
    (resolution, request): (&ResolutionField, Option<&RequestOutcome>),
    next_steps: &[Commitment],
    max_chars: usize,
) -> (String, usize) {
    let l = if language == "nl" { &NL } else { &EN };
    if reason.is_none() && actions.is_empty() && next_steps.is_empty() && request.is_none() {
        return (l.nothing_asked.to_string(), 0);
    }
    // (slot in the note, priority, text): slots fix the order, priorities what survives the budget.
    let mut items: Vec<(usize, usize, String)> = Vec::new();
    if let Some(r) = reason.as_ref().filter(|r| !r.text.is_empty()) {
        // The reason always stays; when long, its first sentence leaves room for what the agent did.
        let full = sentence(&r.text);
        let text =
            if full.chars().count() * 5 > max_chars * 3 { sentence(&first_sentence(&r.text)) } else { full };
        items.push((0, 0, text));
    }
    let reason_quote = reason.as_ref().map(|r| r.quote.as_str()).unwrap_or_default();
    let shown: Vec<(&Evidence, f32)> = actions
        .iter()
        .zip(action_scores.iter().copied().chain(std::iter::repeat(0.0)))
        .filter(|(a, _)| !a.text.is_empty() && !reason_quote.contains(a.quote.as_str()))
        .collect();
    // The best-scored action comes right after the reason in importance, the others after the status.
    let mut rank: Vec<usize> = (0..shown.len()).collect();
    rank.sort_by(|&a, &b| shown[b].1.total_cmp(&shown[a].1));
    for (k, (a, _)) in shown.iter().enumerate() {
        let r = rank.iter().position(|&i| i == k).unwrap_or(k);
        items.push((1 + k, if r == 0 { 1 } else { 3 + 2 * r }, sentence(&a.text)));
    }
    let shown: Vec<&Evidence> = shown.into_iter().map(|(a, _)| a).collect();
    let handled = request.filter(|r| r.handled).map(|r| match r.kind {
        RequestKind::Cancellation => l.cancelled,
    });
    let status = match resolution.status {
        _ if handled.is_some() => handled,
        Resolution::Resolved => Some(l.resolved),
        Resolution::Partial => Some(l.partial),
        Resolution::Unresolved => Some(l.unresolved),
        Resolution::Unknown => None,
    };
    let status_slot = 1 + shown.len();
    if let Some(s) = status {
        items.push((status_slot, 2, format!("{} {s}", l.status)));
    }
    let fresh = next_steps
        .iter()
        .filter(|c| !shown.iter().any(|a| a.quote.contains(&c.quote) || c.quote.contains(&a.quote)));
    for (k, c) in fresh.enumerate() {
        items.push((status_slot + 1 + k, 4 + 2 * k, sentence(&c.what)));
    }
    let total = items.len();
    let mut by_priority: Vec<usize> = (0..items.len()).collect();
    by_priority.sort_by_key(|&i| items[i].1);
    let mut kept: Vec<usize> = Vec::new();
    let mut used = 0;
    for i in by_priority {
        // Labels cost up to ~14 characters per item; an item that does not fit may still fit with its
        // first sentence only.
        let cost = items[i].2.chars().count() + 14;
        if kept.is_empty() || used + cost <= max_chars {
            kept.push(i);
            used += cost;
            continue;
        }
        let short = sentence(&first_sentence(&items[i].2));
        let cost = short.chars().count() + 14;
        if used + cost <= max_chars {
            items[i].2 = short;
            kept.push(i);
            used += cost;
        }
    }
    kept.sort_by_key(|&i| items[i].0);
    let mut out = String::new();
    let mut last_label = "";
    for i in &kept {
        let (slot, _, text) = &items[*i];
        let label = if *slot == 0 {
            l.customer
        } else if *slot < status_slot {
            l.agent
        } else if *slot == status_slot && status.is_some() {
            ""
        } else {
            l.next
        };
        if !out.is_empty() {
            out.push(' ');
        }
        if !label.is_empty() && label != last_label {
            out.push_str(label);
            out.push(' ');
        }
        last_label = label;
        out.push_str(text);
    }
    (shorten(&out, max_chars.max(1)), total - kept.len())
}
