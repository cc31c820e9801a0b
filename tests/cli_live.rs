//! `copiloot analyze --live` on the real default models: a fixture replayed turn by turn prints one update
//! line per turn with the alerts on the turns that raise them, ends with the Analysis `analyze` gives,
//! waits by the scaled timestamps while printing each line as it happens, and stops on bad input with
//! the lines already printed kept.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{copiloot, copiloot_command, ok, stderr};
use serde_json::Value;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A fixed date, so the churn of the replay and of `analyze` count months to the contract end alike.
const AS_OF: &str = "2026-12-01";

fn live_fixture(name: &str) -> String {
    common::fixtures().join("live").join(name).to_str().unwrap().to_string()
}

fn lines(stdout: &str) -> Vec<Value> {
    stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

#[test]
fn replay_prints_one_update_per_turn_then_the_analysis_of_analyze() {
    if !common::encoder_installed() {
        return;
    }
    let file = live_fixture("nl_chat_opzegging.json");
    let out = copiloot(&["analyze", "--live", &file, "--speed", "0", "--as-of", AS_OF]);
    let events = lines(&ok(&out));
    assert_eq!(events.len(), 12, "11 updates and the closed line");
    let (updates, closed) = events.split_at(11);
    for (i, u) in updates.iter().enumerate() {
        assert_eq!(u["event"], "update", "{u}");
        assert_eq!(u["turn"], i, "{u}");
        assert_eq!(u["conversation_id"], "nl_chat_opzegging");
    }
    let fired: Vec<(usize, Vec<&str>)> = updates
        .iter()
        .enumerate()
        .map(|(i, u)| {
            (i, u["alerts"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect())
        })
        .filter(|(_, ids): &(usize, Vec<&str>)| !ids.is_empty())
        .collect();
    assert_eq!(
        fired,
        [
            (3, vec!["sentiment_drop"]),
            (5, vec!["long_silence"]),
            (6, vec!["repeat_contact"]),
            (7, vec!["retention_offer"]),
            (9, vec!["pii_in_writing"])
        ]
    );
    let offer = &updates[7]["alerts"][0];
    assert!(offer["message"].as_str().unwrap().starts_with("Klant overweegt te vertrekken"), "{offer}");
    assert!(offer["turns"].as_array().unwrap().contains(&Value::from(7)), "{offer}");
    assert!(!updates[9]["text"].as_str().unwrap().contains("NL91ABNA"), "the IBAN is masked: {}", updates[9]);
    assert!(updates[1..].iter().all(|u| u["churn_change"].is_number()));

    assert_eq!(closed[0]["event"], "closed");
    let whole: Value = serde_json::from_str(&ok(&copiloot(&["analyze", &file, "--as-of", AS_OF]))).unwrap();
    assert_eq!(closed[0]["analysis"], whole, "the closed analysis equals `copiloot analyze` on the file");
}

#[test]
fn text_format_shows_each_turn_and_the_dutch_retention_alert() {
    if !common::encoder_installed() {
        return;
    }
    let file = live_fixture("nl_chat_opzegging.json");
    let text = ok(&copiloot(&["analyze", "--live", &file, "--speed", "0", "--format", "text"]));
    // Turn lines start with the right-aligned turn number; alert lines with `!!`.
    let turns: Vec<&str> =
        text.lines().filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit())).collect();
    assert_eq!(turns.len(), 11, "{text}");
    assert!(
        turns[7].trim_start().starts_with("7 [02:32] customer Ik wil mijn abonnement opzeggen."),
        "{text}"
    );
    assert!(turns[7].contains("intent cancel") && turns[7].contains("churn"), "{}", turns[7]);
    let alert = text.lines().find(|l| l.contains("retention_offer")).unwrap_or_else(|| panic!("{text}"));
    assert_eq!(
        alert,
        "    !! alert retention_offer: Klant overweegt te vertrekken: bespreek het retentie-aanbod. (turns [7])"
    );
    // The alert line follows the turn that raised it; no colour codes in a pipe.
    let at = text.lines().position(|l| l == alert).unwrap();
    assert!(text.lines().nth(at - 1).unwrap().trim_start().starts_with("7 "), "{text}");
    assert!(!text.contains('\x1b'));
    assert!(text.contains("closed nl_chat_opzegging after 11 turns") && text.contains("5 alerts"), "{text}");
    let note = text.lines().last().unwrap();
    assert!(note.starts_with("note: Klant ") && note.contains("Status: opzegging verwerkt."), "{text}");
}

#[test]
fn speed_scales_the_waits_and_each_line_is_printed_when_its_turn_is_analysed() {
    if !common::encoder_installed() {
        return;
    }
    // Timestamps 0 … 190 s at 0.01: each turn is sent its scaled gap after the previous one was printed,
    // so the gaps the reader sees are at least those (10 % off for the pipe's own delays); a loaded
    // machine only adds to them. Lines held back until the end would arrive together and fail this.
    let file = live_fixture("en_chat_cancellation.json");
    let mut child = copiloot_command(&["analyze", "--live", &file, "--speed", "0.01"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut arrivals: Vec<(Instant, Value)> = Vec::new();
    for line in reader.lines() {
        arrivals.push((Instant::now(), serde_json::from_str(&line.unwrap()).unwrap()));
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(arrivals.len(), 12);
    let gap = |from: usize, to: usize| arrivals[to].0.duration_since(arrivals[from].0);
    let times: Vec<f64> = arrivals[..11].iter().map(|(_, u)| u["timestamp"].as_f64().unwrap()).collect();
    let scaled = |from: usize, to: usize| Duration::from_secs_f64((times[to] - times[from]) * 0.01);
    assert!(
        gap(0, 10) >= scaled(0, 10).mul_f64(0.9),
        "first to last turn {:?}, timestamps say {:?}",
        gap(0, 10),
        scaled(0, 10)
    );
    assert!(scaled(4, 5) >= Duration::from_millis(800), "the fixture's long silence is before turn 5");
    assert!(
        gap(4, 5) >= scaled(4, 5).mul_f64(0.9),
        "turn 4 to 5 {:?}, timestamps say {:?}",
        gap(4, 5),
        scaled(4, 5)
    );
}

#[test]
fn a_refused_turn_stops_the_replay_and_keeps_the_lines_already_printed() {
    if !common::encoder_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out_of_order.txt");
    let transcript = "[00:10] Klant: Mijn internet doet het niet.\n[00:20] Medewerker: Ik kijk even mee.\n\
                      [00:05] Klant: Hallo?\n[00:30] Medewerker: Ik zie een storing.\n";
    std::fs::write(&file, transcript).unwrap();
    let out = copiloot(&["analyze", "--live", file.to_str().unwrap(), "--speed", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let printed = lines(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(printed.iter().map(|u| u["turn"].as_u64().unwrap()).collect::<Vec<_>>(), [0, 1]);
    let err = stderr(&out);
    assert!(err.contains("stopped at turn 2") && err.contains("out of order"), "{err}");
}

#[test]
fn several_conversations_or_an_unreadable_file_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let all = std::fs::read_to_string(common::conversation("all.jsonl")).unwrap();
    let two: Vec<&str> = all.lines().filter(|l| !l.trim().is_empty()).take(2).collect();
    let file = dir.path().join("two.jsonl");
    std::fs::write(&file, two.join("\n") + "\n").unwrap();
    let out = copiloot(&["analyze", "--live", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(err.contains("--live replays one conversation") && err.contains("holds 2"), "{err}");

    let missing: PathBuf = dir.path().join("missing.json");
    let out = copiloot(&["analyze", "--live", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "an unreadable file is an I/O error, as for `analyze`");
    assert!(
        stderr(&out).contains("cannot read") && stderr(&out).contains("missing.json"),
        "{}",
        stderr(&out)
    );

    let fixture = live_fixture("nl_chat_opzegging.json");
    let out = copiloot(&["analyze", "--live", "--speed=-1", &fixture]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--speed must be a number ≥ 0"), "{}", stderr(&out));
    let out = copiloot(&["analyze", "--speed", "2", &fixture]);
    assert_eq!(out.status.code(), Some(2), "--speed without --live is refused by the parser");
}
