//! Latency of one live update (`LiveSession::push`) by turn index, in-process, on the default models:
//! turns 1…200 of a long conversation made by chaining the example conversations. Prints p50/p95 per
//! block of 20 turns (the curve must be flat: an update costs one turn's work, not the conversation's),
//! the encoder alone on one turn, and `analyze` of the whole conversation so far at the same points for
//! comparison. Needs `copiloot models install`.
//!
//!     cargo bench -p copiloot --bench live [-- SESSIONS]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use copiloot::conversation::{read_conversations, ParseOptions};
use copiloot::{Conversation, Copilot, CopilotOptions, LiveSession, LiveStart, NewTurn};
use std::path::PathBuf;
use std::time::Instant;

const TURNS: usize = 200;
const BLOCK: usize = 20;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let models = root.join("models");
    if !models.join("multilingual-e5-small/config.json").is_file() {
        eprintln!("live bench skipped: the default encoder is not installed (run `copiloot models install`)");
        return;
    }
    let sessions: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(5);
    let copilot = Copilot::new(CopilotOptions { models_dir: Some(models), ..Default::default() }).unwrap();
    let long = long_conversation(&root);

    // Per turn index, the push latency of every session (ms).
    let mut push_ms = vec![Vec::new(); TURNS];
    for s in 0..sessions {
        let start = LiveStart { id: format!("bench-{s}"), channel: long.channel, ..Default::default() };
        let mut session = LiveSession::new(&copilot, start).unwrap();
        for (i, t) in long.turns.iter().enumerate() {
            let turn = NewTurn { speaker: t.speaker, text: t.text.clone(), timestamp: t.timestamp };
            let clock = Instant::now();
            session.push(turn).unwrap();
            push_ms[i].push(clock.elapsed().as_secs_f64() * 1e3);
        }
    }
    // The encoder alone on each turn, to see what part of an update is the new turn's encoding.
    let mut encode_ms = Vec::new();
    for t in &long.turns {
        let one = Conversation { turns: vec![t.clone()], ..long.clone() };
        let clock = Instant::now();
        copilot.embed_turns(&one).unwrap();
        encode_ms.push(clock.elapsed().as_secs_f64() * 1e3);
    }

    println!("live update latency, {sessions} sessions × {TURNS} turns, in-process (ms)");
    println!("{:>9} {:>8} {:>8} {:>8} {:>14}", "turns", "p50", "p95", "max", "encode p50");
    for block in 0..TURNS / BLOCK {
        let range = block * BLOCK..(block + 1) * BLOCK;
        let all: Vec<f64> = push_ms[range.clone()].iter().flatten().copied().collect();
        let enc: Vec<f64> = encode_ms[range.clone()].to_vec();
        println!(
            "{:>4}–{:<4} {:>8.2} {:>8.2} {:>8.2} {:>14.2}",
            range.start + 1,
            range.end,
            percentile(&all, 50.0),
            percentile(&all, 95.0),
            percentile(&all, 100.0),
            percentile(&enc, 50.0)
        );
    }
    let all: Vec<f64> = push_ms.iter().flatten().copied().collect();
    println!(
        "all turns: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        percentile(&all, 50.0),
        percentile(&all, 95.0),
        percentile(&all, 100.0)
    );

    // For comparison: analysing everything again at each point (what a client without sessions does).
    println!("\nanalyze of the whole conversation so far (ms), for comparison");
    for n in [20, 50, 100, 200] {
        let prefix = Conversation { turns: long.turns[..n].to_vec(), ..long.clone() };
        let clock = Instant::now();
        copilot.analyze(&prefix).unwrap();
        println!("{n:>4} turns: {:8.1}", clock.elapsed().as_secs_f64() * 1e3);
    }
}

/// 200 turns: the example conversations one after another (timestamps continue), repeated as needed.
fn long_conversation(root: &std::path::Path) -> Conversation {
    let dir = root.join("tests/fixtures/conversations");
    let mut sources: Vec<Conversation> = Vec::new();
    for name in [
        "nl_telecom_opzegging.txt",
        "en_telecom_cancellation.json",
        "nl_internet_storing.txt",
        "en_internet_outage.txt",
        "nl_energie_jaarafrekening.json",
        "en_webshop_delivery.txt",
    ] {
        sources.extend(read_conversations(&dir.join(name), &ParseOptions::default()).unwrap());
    }
    let mut long = Conversation { id: "long".into(), language: None, ..sources[0].clone() };
    long.turns.clear();
    let mut clock = 0.0;
    for (index, turn) in sources.iter().flat_map(|c| &c.turns).cycle().take(TURNS).enumerate() {
        clock += 7.0;
        long.turns.push(copiloot::Turn { index, timestamp: Some(clock), ..turn.clone() });
    }
    long
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[rank.min(v.len() - 1)]
}
