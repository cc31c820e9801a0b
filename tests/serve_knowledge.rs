//! The knowledge assistant over HTTP: `copiloot serve --kb` on loopback with the real default models and a
//! small knowledge base indexed by the built `copiloot kb index` from the Dutch Polderlink fixture. One
//! server answers `POST /v1/knowledge/search` (a question, a conversation, the refusals) and a live session
//! whose customer lost their SIM card gets a `knowledge` event; start-up with a bad `--kb` fails clearly.
//! The typed 404 of a server without a knowledge base is checked in `tests/serve.rs`, on its server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::server::Server;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Articles of `tests/fixtures/knowledge/nl_polderlink/`: enough for the questions below and to make
/// 50+ passages (the core's search needs that many today: see the note in `small_kb`), few enough to embed
/// quickly in the dev profile.
const ARTICLES: [&str; 8] = [
    "abonnement/opzeggen.md",
    "abonnement/wijzigen.md",
    "mobiel/nummer-meenemen.md",
    "mobiel/simkaart-blokkeren.md",
    "mobiel/esim-activeren.md",
    "internet/wifi-traag.md",
    "factuur/uitleg-factuur.md",
    "storingen/internet-storing-melden.md",
];

/// Copies [`ARTICLES`] into `dir/articles` and indexes them with `copiloot kb index` into `dir/kb.bin`.
fn small_kb(dir: &Path) -> PathBuf {
    let source = common::fixtures().join("knowledge/nl_polderlink");
    let articles = dir.join("articles");
    for name in ARTICLES {
        let to = articles.join(name);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(source.join(name), &to).unwrap();
    }
    let kb = dir.join("kb.bin");
    let out = common::copiloot(&["kb", "index", articles.to_str().unwrap(), "--out", kb.to_str().unwrap()]);
    common::ok(&out);
    // `KnowledgeBase::search` panics (`clamp(50, n)` with n < 50) on an index of fewer than 50 passages;
    // until the core fixes that, this set must stay above it.
    let report = common::stderr(&out);
    let passages: usize = report
        .split(", ")
        .nth(1)
        .and_then(|p| p.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no passage count in {report:?}"));
    assert!(passages >= 50, "{report}");
    kb
}

fn suggestion_ids(suggestions: &Value) -> Vec<&str> {
    suggestions.as_array().unwrap().iter().map(|s| s["article_id"].as_str().unwrap()).collect()
}

/// A suggestion's highlight is a sentence of its passage, at the byte offsets it gives.
fn assert_highlight_inside(s: &Value) {
    let passage = s["passage"].as_str().unwrap();
    let h = &s["highlight"];
    let (start, end) = (h["start"].as_u64().unwrap() as usize, h["end"].as_u64().unwrap() as usize);
    assert!(start < end && end <= passage.len(), "{s}");
    assert_eq!(&passage[start..end], h["sentence"].as_str().unwrap(), "{s}");
}

#[test]
fn a_server_with_a_kb_searches_and_suggests_articles_in_live_sessions() {
    if !common::encoder_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let kb = small_kb(dir.path());
    let s = Server::start(&["--kb", kb.to_str().unwrap()]);

    // One question: the cancellation article first, its url, a highlighted sentence inside the passage.
    let (status, _, r) =
        s.post_json("/v1/knowledge/search", r#"{"text": "ik wil mijn abonnement stopzetten"}"#);
    assert_eq!(status, 200, "{r}");
    let found = &r["suggestions"];
    assert_eq!(suggestion_ids(found)[0], "abonnement/opzeggen", "{r}");
    let first = &found[0];
    assert_eq!(first["url"], "https://www.polderlink.nl/help/abonnement/opzeggen");
    assert_eq!(first["title"], "Abonnement opzeggen", "{first}");
    assert!(first["passage"].as_str().unwrap().contains("opzeg"), "{first}");
    assert!(first["score"].as_f64().unwrap() >= 0.88, "the server's default --min-score: {first}");
    assert_highlight_inside(first);

    // The conversation so far: the last customer turn asks, an earlier one says what about. Settings of
    // the body replace the server's.
    let body = json!({
        "turns": [
            {"speaker": "agent", "text": "Goedemiddag, waarmee kan ik u helpen?"},
            {"speaker": "customer", "text": "Ik ben gisteren mijn telefoon kwijtgeraakt."},
            {"speaker": "agent", "text": "Vervelend! Wat wilt u nu doen?"},
            {"speaker": "customer", "text": "Kan iemand anders mijn simkaart nu gebruiken? Hoe zet ik die stop?"}
        ],
        "top_k": 1,
        "retriever": "hybrid"
    });
    let (status, _, r) = s.post_json("/v1/knowledge/search", &body.to_string());
    assert_eq!(status, 200, "{r}");
    assert_eq!(suggestion_ids(&r["suggestions"]), ["mobiel/simkaart-blokkeren"], "{r}");
    assert_highlight_inside(&r["suggestions"][0]);
    // Nothing scores above a threshold nobody reaches: an empty list, not an error.
    let (status, _, r) = s.post_json("/v1/knowledge/search", r#"{"text": "simkaart kwijt", "min_score": 5}"#);
    assert_eq!((status, r["suggestions"].as_array().map(Vec::len)), (200, Some(0)), "{r}");

    // Refusals: the usual JSON error, 400 (or 413), before any model work.
    for (body, code, says) in [
        ("{}", 400, "either"),
        (r#"{"text": "a", "turns": [{"speaker": "customer", "text": "b"}]}"#, 400, "either"),
        (r#"{"turns": [{"speaker": "agent", "text": "Kan ik u helpen?"}]}"#, 400, "no customer turn"),
        (r#"{"text": "   "}"#, 400, "no customer turn"),
        (r#"{"text": "simkaart kwijt", "top_k": 0}"#, 400, "top_k"),
        (r#"{"text": "simkaart kwijt", "retriever": "magic"}"#, 400, "unknown variant"),
        (r#"{"text": "simkaart kwijt", "question": "?"}"#, 400, "unknown field"),
        (r#"{"turns": [{"speaker": "alien", "text": "hoi"}]}"#, 400, "unknown variant"),
        ("not json", 400, "expected"),
    ] {
        let (status, _, e) = s.post_json("/v1/knowledge/search", body);
        assert_eq!((status, e["error"]["code"].as_str()), (code, Some("invalid_input")), "{body}: {e}");
        assert!(e["error"]["message"].as_str().unwrap().contains(says), "{body}: {e}");
    }
    let many: Vec<Value> =
        (0..257).map(|_| json!({"speaker": "customer", "text": "simkaart kwijt"})).collect();
    let (status, _, e) = s.post_json("/v1/knowledge/search", &json!({ "turns": many }).to_string());
    assert_eq!((status, e["error"]["code"].as_str()), (413, Some("input_too_large")), "{e}");

    // Live: the customer who lost their phone gets the article on blocking the SIM card, as a `knowledge`
    // event after the update of the turn that asked, and in the update itself.
    assert_eq!(s.post_json("/v1/live", r#"{"id": "sim-kwijt", "language": "nl"}"#).0, 201);
    let mut stream = s.events("GET", "/v1/live/sim-kwijt/events", &[], "");
    let turns = [
        json!({"speaker": "agent", "text": "Goedemiddag, u spreekt met Polderlink. Waarmee kan ik u helpen?"}),
        json!({"speaker": "customer", "text": "Mijn telefoon is gestolen en ik wil mijn simkaart laten blokkeren."}),
    ];
    let mut updates = Vec::new();
    for turn in &turns {
        let (status, _, update) = s.post_json("/v1/live/sim-kwijt/turns", &turn.to_string());
        assert_eq!(status, 200, "{update}");
        updates.push(update);
    }
    assert!(updates[0].get("knowledge").is_none(), "the agent's greeting asks nothing: {}", updates[0]);
    assert!(
        suggestion_ids(&updates[1]["knowledge"]).contains(&"mobiel/simkaart-blokkeren"),
        "{}",
        updates[1]
    );
    let (status, _, closed) = s.json("DELETE", "/v1/live/sim-kwijt", &[], "");
    assert_eq!(status, 200, "{closed}");
    let events = stream.until_closed();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).filter(|n| *n != "alert").collect();
    let knowledge = updates[1]["knowledge"].as_array().unwrap().len();
    let mut want = vec!["update", "update"];
    want.extend(std::iter::repeat_n("knowledge", knowledge));
    want.push("closed");
    assert_eq!(names, want, "{events:?}");
    let (_, event) = events.iter().find(|(n, _)| n == "knowledge").unwrap();
    assert_eq!(event["turn"], 1, "{event}");
    assert_eq!(event["suggestion"], updates[1]["knowledge"][0], "the event carries the update's suggestion");
    assert!(event["suggestion"]["url"].as_str().unwrap().ends_with("/mobiel/simkaart-blokkeren"), "{event}");
    // The final analysis (what /v1/analyze answers) lists the suggestion with the turn that asked.
    let listed = closed["knowledge"].as_array().unwrap();
    assert!(
        listed.iter().any(|s| s["article_id"] == "mobiel/simkaart-blokkeren" && s["turn"] == 1),
        "{closed}"
    );

    // Documented: the route with its errors, and the live stream's `knowledge` event.
    let (_, _, spec) = s.json("GET", "/openapi.json", &[], "");
    let op = &spec["paths"]["/v1/knowledge/search"]["post"];
    for status in ["200", "400", "404", "413"] {
        assert!(op["responses"].get(status).is_some(), "{status}: {op}");
    }
    let stream = &spec["paths"]["/v1/live/{id}/events"]["get"]["responses"]["200"]["content"];
    let knowledge = &stream["text/event-stream"]["x-events"]["knowledge"];
    assert!(knowledge.to_string().contains("KnowledgeEvent"), "{stream}");
}

#[test]
fn a_knowledge_base_that_cannot_be_loaded_stops_the_start_up_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.bin");
    let not_an_index = dir.path().join("notes.txt");
    std::fs::write(&not_an_index, "not an index").unwrap();
    for path in [&missing, &not_an_index] {
        let out = common::copiloot(&["serve", "--port", "0", "--kb", path.to_str().unwrap()]);
        assert!(!out.status.success(), "{out:?}");
        let err = common::stderr(&out);
        assert!(
            err.contains("cannot load the knowledge base --kb") && err.contains(path.to_str().unwrap()),
            "{err}"
        );
        assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"), "{out:?}");
    }
}
