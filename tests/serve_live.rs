//! Live sessions over HTTP (`/v1/live`) end to end: the real `copiloot serve` on loopback with the real
//! default models. A chat fixture is replayed turn by turn while a reader follows the event stream; the
//! updates, the alerts and the final analysis are checked against `/v1/analyze`; then the refusals (404,
//! another key, 400, 413, 429), a reader that leaves, the idle timeout and shutdown with open streams.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::server::{EventStream, Server};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn fixture() -> Value {
    let path = common::fixtures().join("live/nl_chat_opzegging.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Reads events until `closed` (included) or the end of the stream, on a thread of its own.
fn collect(mut stream: EventStream) -> std::thread::JoinHandle<Vec<(String, Value)>> {
    std::thread::spawn(move || stream.until_closed())
}

#[test]
fn a_chat_replayed_over_http_streams_its_updates_and_alerts_and_closes_with_the_analysis() {
    if !common::encoder_installed() {
        return;
    }
    let s = Server::start(&[]);
    let conv = fixture();
    let start = json!({"id": conv["id"], "channel": conv["channel"], "customer": conv["customer"]});
    let (status, _, created) = s.post_json("/v1/live", &start.to_string());
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["session_id"], "nl_chat_opzegging");
    let base = "/v1/live/nl_chat_opzegging";
    // The stream is subscribed once its head has arrived: every turn from here on is in it.
    let reader = collect(s.events("GET", &format!("{base}/events"), &[], ""));

    let turns = conv["turns"].as_array().unwrap();
    for (i, turn) in turns.iter().enumerate() {
        let (status, _, update) = s.post_json(&format!("{base}/turns"), &turn.to_string());
        assert_eq!(status, 200, "turn {i}: {update}");
        assert_eq!(update["turn"], i);
    }
    let (status, _, so_far) = s.json("GET", base, &[], "");
    assert_eq!(status, 200, "{so_far}");
    assert_eq!(so_far["turns"], turns.len());
    assert_eq!(so_far["transcript"][3]["speaker"], "customer");
    let masked = so_far["transcript"][9]["text"].as_str().unwrap();
    assert!(masked.contains("[IBAN]") && !masked.contains("NL91"), "the transcript is masked: {masked}");

    let (status, _, closed) = s.json("DELETE", base, &[], "");
    assert_eq!(status, 200, "{closed}");
    let events = reader.join().unwrap();

    // One update per turn, in order, each followed by the alerts it raised.
    let updates: Vec<&Value> = events.iter().filter(|(e, _)| e == "update").map(|(_, d)| d).collect();
    let numbers: Vec<u64> = updates.iter().map(|u| u["turn"].as_u64().unwrap()).collect();
    assert_eq!(numbers, (0..turns.len() as u64).collect::<Vec<_>>());
    let mut current = None;
    let mut alerts = BTreeMap::new();
    for (name, data) in &events {
        match name.as_str() {
            "update" => current = data["turn"].as_u64(),
            "alert" => {
                assert_eq!(data["turn"].as_u64(), current, "an alert follows the update of its turn: {data}");
                alerts.insert(data["alert"]["id"].as_str().unwrap().to_string(), data.clone());
            }
            "closed" => {}
            other => panic!("unexpected event {other}: {data}"),
        }
    }
    let at: BTreeMap<&str, u64> =
        alerts.iter().map(|(id, a)| (id.as_str(), a["turn"].as_u64().unwrap())).collect();
    let want = BTreeMap::from([
        ("sentiment_drop", 3),
        ("long_silence", 5),
        ("repeat_contact", 6),
        ("retention_offer", 7),
        ("pii_in_writing", 9),
    ]);
    assert_eq!(at, want, "the turn each alert fired at");
    let retention = &alerts["retention_offer"]["alert"];
    assert!(
        retention["message"].as_str().unwrap().starts_with("Klant overweegt te vertrekken"),
        "{retention}"
    );
    assert!(
        retention["turns"].as_array().unwrap().contains(&json!(7)),
        "the alert cites turn 7: {retention}"
    );
    assert!(alerts["pii_in_writing"]["alert"]["turns"].as_array().unwrap().contains(&json!(9)));
    // The last update carries the running state of the whole conversation: the final analysis's.
    let last = updates.last().unwrap();
    assert_eq!(last["churn"]["band"], "high", "{last}");
    assert!(last["summary"]["text"].as_str().unwrap().starts_with("Klant "), "{last}");
    assert_eq!(last["primary_intent"], closed["intents"]["primary"]);
    for field in ["summary", "churn"] {
        assert_eq!(last[field], closed[field], "{field}");
    }

    // The last event is `closed` with the final analysis: the DELETE's answer, the analysis so far, and
    // `/v1/analyze` on the whole conversation, field for field.
    let (name, final_event) = events.last().unwrap();
    assert_eq!(name, "closed");
    assert_eq!(final_event, &closed);
    assert_eq!(so_far["analysis"], closed, "no generator: the close adds nothing to the analysis so far");
    let (status, _, analyzed) = s.post_json("/v1/analyze", &conv.to_string());
    assert_eq!(status, 200, "{analyzed}");
    assert_eq!(closed, analyzed, "the live session's final analysis equals /v1/analyze");

    // Closed means gone.
    for (method, path) in
        [("GET", base.to_string()), ("DELETE", base.to_string()), ("GET", format!("{base}/events"))]
    {
        let (status, _, e) = s.json(method, &path, &[], "");
        assert_eq!((status, e["error"]["code"].as_str()), (404, Some("unknown_session")), "{method} {path}");
    }
    let (status, _, _) = s.post_json(&format!("{base}/turns"), &turns[0].to_string());
    assert_eq!(status, 404);
}

/// `POST /v1/live/{id}/turns` with a turn at `timestamp` seconds.
fn turn(text: &str, timestamp: f64) -> String {
    json!({"speaker": "customer", "text": text, "timestamp": timestamp}).to_string()
}

#[test]
fn refusals_keys_limits_and_a_reader_that_leaves() {
    if !common::encoder_installed() {
        return;
    }
    let s = Server::start(&[
        "--api-key",
        "key-one",
        "--api-key",
        "key-two",
        "--max-sessions",
        "3",
        "--max-session-turns",
        "4",
        "--max-turn-chars",
        "200",
        "--max-body-bytes",
        "4096",
    ]);
    let one = [("Authorization", "Bearer key-one")];
    let two = [("Authorization", "Bearer key-two")];
    assert_eq!(s.json("POST", "/v1/live", &[], "{}").0, 401, "no key");
    let (status, _, created) = s.json("POST", "/v1/live", &one, r#"{"id": "call-1", "language": "en"}"#);
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["max_turns"], 4);
    assert_eq!(s.json("POST", "/v1/live", &one, r#"{"id": "call-1"}"#).0, 409, "the same id twice");

    // Another key does not see the session, and may use the same id for a session of its own.
    for (method, path) in
        [("GET", "/v1/live/call-1"), ("GET", "/v1/live/call-1/events"), ("DELETE", "/v1/live/call-1")]
    {
        let (status, _, e) = s.json(method, path, &two, "");
        assert_eq!((status, e["error"]["code"].as_str()), (404, Some("unknown_session")), "{method} {path}");
    }
    let (status, _, e) = s.json("POST", "/v1/live/call-1/turns", &two, &turn("Hello?", 0.0));
    assert_eq!((status, e["error"]["code"].as_str()), (404, Some("unknown_session")));
    let (status, _, mine) = s.json("POST", "/v1/live", &two, r#"{"id": "call-1"}"#);
    assert_eq!(status, 201, "{mine}");
    let (status, _, e) = s.json("GET", "/v1/live/no-such-session", &one, "");
    assert_eq!((status, e["error"]["code"].as_str()), (404, Some("unknown_session")));

    // A session without an id gets a random one; then the server is full.
    let (status, _, generated) = s.json("POST", "/v1/live", &one, "");
    assert_eq!(status, 201, "{generated}");
    let id = generated["session_id"].as_str().unwrap();
    assert!(id.starts_with("live-") && id.len() == 37, "{id}");
    let (status, head, e) = s.json("POST", "/v1/live", &one, "{}");
    assert_eq!((status, e["error"]["code"].as_str()), (429, Some("too_many_sessions")), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("--max-sessions"), "{e}");
    assert!(head.to_lowercase().contains("retry-after: 1"), "{head}");

    // Two readers; one leaves after the first event, the other keeps receiving.
    let mut leaving = s.events("GET", "/v1/live/call-1/events", &one, "");
    let staying = collect(s.events("GET", "/v1/live/call-1/events", &one, ""));
    let turns_path = "/v1/live/call-1/turns";
    let (status, _, update) =
        s.json("POST", turns_path, &one, &turn("My internet has been down since Monday.", 10.0));
    assert_eq!(status, 200, "{update}");
    assert_eq!(leaving.next_event().unwrap().0, "update");
    drop(leaving);

    // Out of order, too long (characters, then bytes): refused, and the session is as it was.
    let (status, _, e) = s.json("POST", turns_path, &one, &turn("An earlier message", 5.0));
    assert_eq!((status, e["error"]["code"].as_str()), (400, Some("invalid_input")), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("out of order"), "{e}");
    let (status, _, e) = s.json("POST", turns_path, &one, &turn(&"a".repeat(201), 20.0));
    assert_eq!((status, e["error"]["code"].as_str()), (413, Some("input_too_large")), "{e}");
    let (status, _, e) = s.json("POST", turns_path, &one, &turn(&"a".repeat(5000), 20.0));
    assert_eq!((status, e["error"]["code"].as_str()), (413, Some("body_too_large")), "{e}");
    let (status, _, e) = s.json("POST", turns_path, &one, r#"{"speaker": "alien", "text": "hi"}"#);
    assert_eq!((status, e["error"]["code"].as_str()), (400, Some("invalid_input")), "{e}");
    assert_eq!(s.json("GET", "/v1/live/call-1", &one, "").2["turns"], 1);

    for (i, text) in
        ["Let me check the line for you.", "Thanks.", "The line is fine again."].iter().enumerate()
    {
        let (status, _, update) = s.json("POST", turns_path, &one, &turn(text, 20.0 + i as f64));
        assert_eq!((status, update["turn"].as_u64()), (200, Some(i as u64 + 1)), "{update}");
    }
    let (status, _, e) = s.json("POST", turns_path, &one, &turn("One turn too many", 30.0));
    assert_eq!((status, e["error"]["code"].as_str()), (413, Some("input_too_large")), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("number of turns"), "{e}");

    // The reader that stayed saw every turn and the close.
    let (status, _, closed) = s.json("DELETE", "/v1/live/call-1", &one, "");
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["language"], "en");
    let events = staying.join().unwrap();
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).filter(|e| *e != "alert").collect();
    assert_eq!(names, ["update", "update", "update", "update", "closed"], "{events:?}");
    assert_eq!(events.last().unwrap().1, closed);

    // A session closed without turns has nothing to analyse (400) and is freed all the same.
    let (status, _, e) = s.json("DELETE", "/v1/live/call-1", &two, "");
    assert_eq!((status, e["error"]["code"].as_str()), (400, Some("invalid_input")), "{e}");
    assert_eq!(s.json("GET", "/v1/live/call-1", &two, "").0, 404);
    let (_, _, metrics) = s.request("GET", "/metrics", &[], b"");
    assert!(metrics.contains("copiloot_live_sessions 1\n"), "the generated one is left: {metrics}");
}

#[test]
fn idle_sessions_are_closed_and_shutdown_ends_open_streams() {
    if !common::encoder_installed() {
        return;
    }
    let mut s = Server::start(&["--session-idle-secs", "2"]);
    assert_eq!(s.post_json("/v1/live", r#"{"id": "quiet"}"#).0, 201);
    let (status, _, _) = s.post_json("/v1/live/quiet/turns", &turn("Mijn internet doet het niet.", 0.0));
    assert_eq!(status, 200);
    let started = Instant::now();
    let mut stream = s.events("GET", "/v1/live/quiet/events", &[], "");
    let (name, analysis) = stream.next_event().unwrap();
    assert_eq!(name, "closed", "{analysis}");
    assert_eq!(analysis["conversation_id"], "quiet");
    assert!(stream.next_event().is_none(), "the stream ends with `closed`");
    assert!(started.elapsed() < Duration::from_secs(6), "{:?}", started.elapsed());
    assert_eq!(s.json("GET", "/v1/live/quiet", &[], "").0, 404);

    // SIGTERM with a reader attached: it is told the session is lost, its stream ends, the server exits.
    assert_eq!(s.post_json("/v1/live", r#"{"id": "open"}"#).0, 201);
    let mut stream = s.events("GET", "/v1/live/open/events", &[], "");
    let pid = s.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let (name, e) = stream.next_event().unwrap();
    assert_eq!((name.as_str(), e["error"]["code"].as_str()), ("error", Some("shutdown")), "{e}");
    assert!(stream.next_event().is_none());
    let status = s.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
