//! Live sessions on the real default models: after every pushed turn the session's analysis equals
//! `analyze` on the turns so far, alerts fire at the first turn that justifies them and not before, and
//! rejected turns leave the session as it was.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use copiloot::conversation::{read_conversations, Limits, ParseOptions};
use copiloot::{Conversation, Copilot, ErrorKind, LiveSession, LiveStart, LiveUpdate, NewTurn};
use std::collections::BTreeMap;
use std::sync::OnceLock;

fn copilot() -> Option<&'static Copilot> {
    static COPILOT: OnceLock<Option<Copilot>> = OnceLock::new();
    COPILOT
        .get_or_init(|| {
            common::encoder_installed().then(|| {
                let options =
                    copiloot::CopilotOptions { models_dir: Some(common::models_dir()), ..Default::default() };
                Copilot::new(options).expect("the default models load")
            })
        })
        .as_ref()
}

fn read(path: std::path::PathBuf) -> Conversation {
    read_conversations(&path, &ParseOptions::default()).unwrap().remove(0)
}

fn start(c: &Conversation) -> LiveStart {
    LiveStart {
        id: c.id.clone(),
        channel: c.channel,
        language: c.language.clone(),
        customer: c.customer.clone(),
        parties: c.parties.clone(),
    }
}

fn new_turn(t: &copiloot::Turn) -> NewTurn {
    NewTurn { speaker: t.speaker, text: t.text.clone(), timestamp: t.timestamp }
}

/// Replays `c` turn by turn; after each turn compares the session with `analyze` on the turns so far.
/// Returns the updates and, per alert id, the turn whose update raised it first.
fn replay_checked(copilot: &Copilot, c: &Conversation) -> (Vec<LiveUpdate>, BTreeMap<String, usize>) {
    let mut session = LiveSession::new(copilot, start(c)).unwrap();
    let mut updates = Vec::new();
    let mut first = BTreeMap::new();
    for (i, turn) in c.turns.iter().enumerate() {
        let update = session.push(new_turn(turn)).unwrap();
        assert_eq!(update.turn, i);
        let mut so_far = c.clone();
        so_far.turns.truncate(i + 1);
        let batch = copilot.analyze(&so_far).unwrap();
        assert_eq!(
            serde_json::to_value(session.analysis().unwrap()).unwrap(),
            serde_json::to_value(&batch).unwrap(),
            "{}: the session differs from analyze after turn {i}",
            c.id
        );
        for alert in &update.alerts {
            first.entry(alert.id.clone()).or_insert(i);
        }
        updates.push(update);
    }
    let last = session.analysis().unwrap().clone();
    assert_eq!(session.close(&mut |_| true).unwrap(), last, "close returns the analysis without a generator");
    (updates, first)
}

#[test]
fn every_fixture_replayed_live_equals_analyze_after_every_turn() {
    let Some(copilot) = copilot() else { return };
    let dir = common::fixtures().join("conversations");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".jsonl"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 10);
    for name in &names {
        let c = read(dir.join(name));
        let (updates, first) = replay_checked(copilot, &c);
        eprintln!("{name}: first turn per alert {first:?}");
        // The update carries the turn's own results and the running state.
        let last = updates.last().unwrap();
        assert!(last.summary.is_some() && last.churn.is_some(), "{name}: {last:?}");
        assert!(updates.iter().any(|u| u.intent.is_some() && u.sentiment.is_some()), "{name}");
        assert!(updates[1..].iter().all(|u| u.churn_change.is_some()), "{name}: churn change after turn 0");
    }
}

#[test]
fn alerts_fire_at_the_first_turn_that_justifies_them_in_dutch_and_english() {
    let Some(copilot) = copilot() else { return };
    for (name, expected, message) in [
        ("nl_chat_opzegging.json", [3, 5, 6, 7, 9], "Klant overweegt te vertrekken"),
        ("en_chat_cancellation.json", [3, 5, 6, 7, 9], "The customer is considering leaving"),
    ] {
        let c = read(common::fixtures().join("live").join(name));
        let (updates, first) = replay_checked(copilot, &c);
        let ids = ["sentiment_drop", "long_silence", "repeat_contact", "retention_offer", "pii_in_writing"];
        let want: BTreeMap<String, usize> = ids.iter().map(|s| s.to_string()).zip(expected).collect();
        assert_eq!(first, want, "{name}: first turn per alert");
        // Each fired once: none of these conditions clears in this conversation.
        let fired: usize = updates.iter().map(|u| u.alerts.len()).sum();
        assert_eq!(fired, ids.len(), "{name}: {first:?}");
        let retention = updates[7].alerts.iter().find(|a| a.id == "retention_offer").unwrap();
        assert!(retention.message.starts_with(message), "{name}: {retention:?}");
        assert!(retention.turns.contains(&7), "{name}: the alert cites the turn: {retention:?}");
        // The card number / IBAN is masked in what the agent sees.
        assert!(
            !updates[9].pii.is_empty()
                && !updates[9].text.contains("4111")
                && !updates[9].text.contains("NL91")
        );
    }
}

#[test]
fn rejected_turns_are_typed_errors_and_leave_the_session_as_it_was() {
    let Some(copilot) = copilot() else { return };
    let limits = Limits { max_turns: 3, max_turn_chars: 200, ..Limits::default() };
    let start = LiveStart { id: "bad".into(), ..Default::default() };
    let mut session = LiveSession::with_limits(copilot, start, limits).unwrap();
    let turn = |speaker, text: &str, timestamp| NewTurn { speaker, text: text.into(), timestamp };
    use copiloot::Speaker::{Agent, Customer};
    session.push(turn(Customer, "My internet has been down since Monday.", Some(10.0))).unwrap();
    let before = session.analysis().unwrap().clone();
    let cases = [
        (turn(Agent, "Earlier reply", Some(5.0)), ErrorKind::InvalidInput, "out of order"),
        (turn(Agent, "   ", None), ErrorKind::InvalidInput, "no text"),
        (turn(Agent, &"x".repeat(201), None), ErrorKind::InputTooLarge, "turn length"),
        (turn(Agent, "Not a number", Some(f64::NAN)), ErrorKind::InvalidInput, "timestamp"),
    ];
    for (bad, kind, says) in cases {
        let e = session.push(bad).unwrap_err();
        assert_eq!(e.kind(), kind, "{e}");
        assert!(e.to_string().contains(says), "{e}");
        assert_eq!(session.len(), 1);
        assert_eq!(session.analysis().unwrap(), &before);
    }
    session.push(turn(Agent, "I am sorry, let me check the line.", Some(20.0))).unwrap();
    session.push(turn(Customer, "Thanks.", Some(30.0))).unwrap();
    let e = session.push(turn(Agent, "One more", None)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InputTooLarge, "{e}");
    assert!(e.to_string().contains("number of turns"), "{e}");
    assert!(LiveSession::new(copilot, LiveStart::default()).is_err(), "an empty id is refused");
    let empty = LiveSession::new(copilot, LiveStart { id: "empty".into(), ..Default::default() }).unwrap();
    assert_eq!(empty.close(&mut |_| true).unwrap_err().kind(), ErrorKind::InvalidInput);
}
