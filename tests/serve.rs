//! `copiloot serve` end to end: the real binary on an ephemeral loopback port with the real default models.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::server::{request, EventStream, Server};
use common::{copiloot_command, root};
use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(common::conversation(name)).unwrap()
}

#[test]
fn analyze_health_errors_and_metrics() {
    let s = Server::start(&["--max-body-bytes", "65536"]);
    assert_eq!(s.request("GET", "/healthz", &[], b"").0, 200);
    let (status, _, body) = s.request("GET", "/readyz", &[], b"");
    assert_eq!(status, 200);
    assert!(body.contains("\"ready\":true"), "{body}");

    let (status, _, a) = s.post_json("/v1/analyze", &fixture("nl_energie_jaarafrekening.json"));
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["conversation_id"], "nl_energie_jaarafrekening");
    assert_eq!(a["language"], "nl");
    assert_eq!(a["schema_version"], "1.0");

    let (status, _, body) = s.request(
        "POST",
        "/v1/analyze?id=call-9",
        &[("Content-Type", "text/plain")],
        fixture("en_internet_outage.txt").as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    let a: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((a["conversation_id"].as_str(), a["language"].as_str()), (Some("call-9"), Some("en")));

    let (status, _, e) = s.post_json("/v1/analyze", "{\"id\": \"x\", \"turns\": [");
    assert_eq!(status, 400);
    assert_eq!(e["error"]["code"], "invalid_input");
    assert!(e["error"]["message"].as_str().unwrap().contains("malformed JSON"), "{e}");

    let secret = "Mijn IBAN is NL91ABNA0417164300";
    let (status, _, e) = s.post_json(
        "/v1/analyze",
        &format!(r#"{{"id": "x", "turns": [{{"speaker": "alien", "text": "{secret}"}}]}}"#),
    );
    assert_eq!(status, 400);
    assert!(!e.to_string().contains("NL91ABNA"), "errors never echo transcript text: {e}");

    let big =
        format!(r#"{{"id": "x", "turns": [{{"speaker": "klant", "text": "{}"}}]}}"#, "a".repeat(70_000));
    let (status, _, e) = s.post_json("/v1/analyze", &big);
    assert_eq!(status, 413);
    assert_eq!(e["error"]["code"], "body_too_large");

    let (status, _, body) = s.request("GET", "/nope", &[], b"");
    assert_eq!(status, 404);
    assert!(body.contains("not_found"));

    let batch = format!("[{}, {{\"id\": \"bad\", \"turns\": []}}]", fixture("nl_webshop_bezorging.json"));
    let (status, _, r) = s.post_json("/v1/analyze/batch", &batch);
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["results"][0]["conversation_id"], "nl_webshop_bezorging");
    assert_eq!(r["results"][1]["error"]["code"], "invalid_input");

    let (status, _, spec) = s.request("GET", "/openapi.json", &[], b"");
    assert_eq!(status, 200);
    assert!(spec.contains("/v1/analyze/batch") && spec.contains("\"Analysis\""));

    let (_, _, metrics) = s.request("GET", "/metrics", &[], b"");
    assert!(metrics.contains("copiloot_requests_total{route=\"/v1/analyze\",status=\"200\"} 2"), "{metrics}");
    assert!(metrics.contains("copiloot_requests_total{route=\"/v1/analyze\",status=\"400\"} 2"), "{metrics}");
}

#[test]
fn overload_gets_429_with_retry_after() {
    let s = Server::start(&["--max-concurrency", "1", "--queue", "0"]);
    let long: Vec<serde_json::Value> = (0..6)
        .map(|i| serde_json::json!({"id": format!("c{i}"), "turns": [{"speaker": "klant", "text": "Mijn internet valt steeds weg en ik wil een monteur. ".repeat(40)}]}))
        .collect();
    let body = serde_json::Value::Array(long).to_string();
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let addr = s.addr.clone();
            let body = body.clone();
            std::thread::spawn(move || {
                let r = request(
                    &addr,
                    "POST",
                    "/v1/analyze/batch",
                    &[("Content-Type", "application/json")],
                    body.as_bytes(),
                );
                (r.0, r.1)
            })
        })
        .collect();
    let results: Vec<(u16, String)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = results.iter().filter(|r| r.0 == 200).count();
    let limited: Vec<&(u16, String)> = results.iter().filter(|r| r.0 == 429).collect();
    assert!(ok >= 1, "{results:?}");
    assert!(!limited.is_empty(), "{results:?}");
    assert!(limited.iter().all(|r| r.1.to_lowercase().contains("retry-after: 1")));
    assert_eq!(ok + limited.len(), 6, "only deliberate 429s: {results:?}");
}

#[test]
fn api_key_is_enforced_and_required_off_loopback() {
    let out = copiloot_command(&["serve", "--host", "0.0.0.0", "--port", "0"])
        .env_remove("COPILOOT_API_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--api-key"));

    let s = Server::start(&["--api-key", "s3cret"]);
    let conv = fixture("en_energy_billing.json");
    let (status, _, _) =
        s.request("POST", "/v1/analyze", &[("Content-Type", "application/json")], conv.as_bytes());
    assert_eq!(status, 401);
    let (status, _, _) = s.request(
        "POST",
        "/v1/analyze",
        &[("Content-Type", "application/json"), ("Authorization", "Bearer s3cret")],
        conv.as_bytes(),
    );
    assert_eq!(status, 200);
    assert_eq!(s.request("GET", "/healthz", &[], b"").0, 200, "health checks need no key");

    // Several keys: comma-separated in COPILOOT_API_KEY (or `--api-key` repeated); each one works.
    let mut cmd = copiloot_command(&["serve", "--port", "0"]);
    cmd.env("COPILOOT_API_KEY", "first-key, second-key");
    let s = Server::spawn(cmd);
    for (key, want) in [("first-key", 200), ("second-key", 200), ("first-key, second-key", 401), ("", 401)] {
        let auth = format!("Bearer {key}");
        let headers = [("Content-Type", "application/json"), ("Authorization", auth.as_str())];
        let (status, _, _) =
            s.request("POST", "/v1/intent", &headers, br#"{"text": "Mijn internet is stuk"}"#);
        assert_eq!(status, want, "key {key:?}");
    }
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let mut s = Server::start(&[]);
    assert_eq!(s.request("GET", "/healthz", &[], b"").0, 200);
    let pid = s.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = s.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn task_endpoints_classify_single_texts() {
    let s = Server::start(&[]);
    let (status, _, r) = s.post_json(
        "/v1/intent",
        r#"{"texts": ["Ik wil mijn abonnement opzeggen", "My internet has been down since this morning"]}"#,
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["results"][0]["intent"], "cancel", "{r}");
    assert_eq!(r["results"][1]["intent"], "technical_fault", "{r}");
    assert!(r["results"][0]["top"].as_array().unwrap().len() > 1);

    let (status, _, r) = s.post_json("/v1/sentiment", r#"{"texts": ["Super geholpen, dank je wel!", "This is the third time you people messed up. Terrible."]}"#);
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["results"][0]["label"], "positive", "{r}");
    assert_eq!(r["results"][1]["label"], "negative", "{r}");
    assert!(r["results"][1]["score"].as_f64().unwrap() < 0.0);

    let (status, _, r) = s.post_json("/v1/intent", r#"{"text": "   "}"#);
    assert_eq!(status, 400, "{r}");
    assert_eq!(r["error"]["code"], "invalid_input");
    let (status, _, r) = s.post_json("/v1/sentiment", r#"{"texts": []}"#);
    assert_eq!(status, 400, "{r}");

    let (status, _, r) = s.post_json("/v1/summarize", &fixture("nl_webshop_bezorging.json"));
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["conversation_id"], "nl_webshop_bezorging");
    assert!(r.get("summary").is_some(), "{r}");
    let (status, _, r) = s.post_json("/v1/churn", &fixture("nl_webshop_bezorging.json"));
    assert_eq!(status, 200, "{r}");
    assert!(r.get("churn").is_some(), "{r}");

    // Without --kb there is no knowledge base to search (tests/serve_knowledge.rs has one): a typed 404
    // that says how to get one, whatever the body; analyses carry no `knowledge` field.
    for body in [r#"{"text": "ik wil mijn abonnement stopzetten"}"#, "not json"] {
        let (status, head, e) = s.post_json("/v1/knowledge/search", body);
        assert_eq!((status, e["error"]["code"].as_str()), (404, Some("no_knowledge_base")), "{e}");
        assert!(e["error"]["message"].as_str().unwrap().contains("--kb"), "{e}");
        assert!(!head.to_lowercase().contains("retry-after"), "retrying does not help: {head}");
    }
    let (_, _, r) = s.post_json("/v1/analyze", &fixture("nl_webshop_bezorging.json"));
    assert!(r.get("knowledge").is_none(), "{r}");
}

/// The number after `name ` in Prometheus text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or(f64::NAN)
}

#[test]
fn a_client_that_disconnects_mid_batch_stops_the_work() {
    let s = Server::start(&["--max-concurrency", "1"]);
    let n = 40;
    let batch: Vec<serde_json::Value> = (0..n)
        .map(|i| serde_json::json!({"id": format!("c{i}"), "turns": [{"speaker": "klant", "text": "Mijn internet valt steeds weg en ik wil een monteur. ".repeat(30)}]}))
        .collect();
    let body = serde_json::Value::Array(batch).to_string();
    let mut stream = TcpStream::connect(&s.addr).unwrap();
    let head = format!(
        "POST /v1/analyze/batch HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    drop(stream); // the client goes away while the batch runs

    // The job notices at its next conversation: the slot is freed and most of the batch never runs.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let text = loop {
        let (_, _, text) = s.request("GET", "/metrics", &[], b"");
        if metric(&text, "copiloot_in_flight") == 0.0 || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(metric(&text, "copiloot_in_flight"), 0.0, "{text}");
    assert_eq!(metric(&text, "copiloot_cancelled_total"), 1.0, "{text}");
    let done = metric(&text, "copiloot_analyses_total");
    assert!(done < n as f64, "only the conversations before the disconnect ran: {done} of {n}");
}

/// `POST /v1/summarize/stream` with `body`, at the start of the event stream.
fn open_event_stream(s: &Server, body: &str) -> EventStream {
    s.events("POST", "/v1/summarize/stream", &[], body)
}

#[test]
fn summarize_stream_sends_the_rewrite_token_by_token_then_the_summary() {
    let s = Server::start(&["--generator", "default", "--max-tokens", "32"]);
    let body = fixture("en_energy_billing.json");
    let mut reader = open_event_stream(&s, &body);
    let mut streamed = String::new();
    let mut tokens = 0;
    let summary = loop {
        match reader.next_event() {
            Some((e, data)) if e == "token" => {
                streamed.push_str(data["text"].as_str().unwrap());
                tokens += 1;
            }
            Some((e, data)) if e == "summary" => break data,
            other => panic!("unexpected event {other:?}"),
        }
    };
    assert!(tokens > 1, "the rewrite came in pieces ({tokens})");
    assert_eq!(summary["rewrite"]["text"].as_str().unwrap(), streamed.trim());
    assert!(summary["reason"]["turns"].is_array(), "{summary}");
    assert!(reader.next_event().is_none(), "the summary is the last event");

    // Refusals come before the stream starts, as the usual JSON errors.
    let (status, _, err) = s.post_json("/v1/summarize/stream", "{not json");
    assert_eq!(status, 400);
    assert_eq!(err["error"]["code"], "invalid_input");
}

#[test]
fn a_client_that_leaves_a_stream_stops_the_generation() {
    let s = Server::start(&["--generator", "default", "--max-tokens", "400", "--temperature", "1.0"]);
    let mut reader = open_event_stream(&s, &fixture("en_energy_billing.json"));
    let (event, _) = reader.next_event().unwrap();
    assert_eq!(event, "token");
    drop(reader); // the agent closes the panel while the note is being written

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let text = loop {
        let (_, _, text) = s.request("GET", "/metrics", &[], b"");
        if metric(&text, "copiloot_in_flight") == 0.0 || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(metric(&text, "copiloot_in_flight"), 0.0, "{text}");
    assert_eq!(metric(&text, "copiloot_cancelled_total"), 1.0, "{text}");
}

/// Every `"/…"` string literal in the server's source (`crates/copiloot-cli/src/serve/`): a route has
/// its path written there, so these are the candidates for "a path the router serves".
fn path_literals_in_serve_source() -> std::collections::BTreeSet<String> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("crates/copiloot-cli/src/serve"), &mut files);
    let mut paths = std::collections::BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for piece in text.split("\"/").skip(1) {
            let literal: String = piece.chars().take_while(|&c| c != '"').collect();
            if !literal.is_empty()
                && literal.chars().all(|c| c.is_ascii_alphanumeric() || "/_.-{}".contains(c))
            {
                paths.insert(format!("/{literal}"));
            }
        }
    }
    paths
}

/// `path` with each `{parameter}` filled in (`/v1/live/{id}` → `/v1/live/x`).
fn concrete(path: &str) -> String {
    path.split('/').map(|seg| if seg.starts_with('{') { "x" } else { seg }).collect::<Vec<_>>().join("/")
}

/// Whether the router has no route for the request: a 405, or a 404 with the router's own `not_found`
/// (a route may answer 404 itself, e.g. `unknown_session` for a live session that does not exist).
fn no_route(status: u16, body: &str) -> bool {
    status == 405 || (status == 404 && body.contains("\"not_found\""))
}

#[test]
fn openapi_documents_every_route_and_every_documented_route_answers() {
    let s = Server::start(&[]);
    let (status, _, body) = s.request("GET", "/openapi.json", &[], b"");
    assert_eq!(status, 200);
    let spec: serde_json::Value = serde_json::from_str(&body).unwrap();
    let paths = spec["paths"].as_object().unwrap();
    let methods = ["get", "post", "put", "patch", "delete", "head", "options", "trace"];
    let json = [("Content-Type", "application/json")];

    // Spec → router: every documented path and method is served (an empty body may be refused, but the
    // route exists).
    let mut documented = 0;
    for (path, item) in paths {
        for method in methods.iter().filter(|m| item.get(**m).is_some()) {
            let (status, _, body) = s.request(&method.to_uppercase(), &concrete(path), &json, b"");
            assert!(!no_route(status, &body), "{method} {path} is documented but answers {status}: {body}");
            assert!(status != 0, "{method} {path}: no answer");
            documented += 1;
        }
    }
    assert!(documented >= 12, "only {documented} operations documented");

    // Router → spec: every path written in the server's source that answers a GET, POST or DELETE
    // (anything but the router's JSON 404 or a 405) is documented with that method.
    let candidates = path_literals_in_serve_source();
    assert!(candidates.contains("/v1/analyze") && candidates.contains("/panel"), "{candidates:?}");
    let mut served = 0;
    for path in &candidates {
        for method in ["GET", "POST", "DELETE"] {
            let (status, _, body) = s.request(method, &concrete(path), &json, b"");
            if no_route(status, &body) {
                continue;
            }
            served += 1;
            let documented = spec["paths"][path.as_str()].get(method.to_lowercase()).is_some();
            assert!(documented, "{method} {path} is served ({status}) but missing from /openapi.json");
        }
    }
    assert_eq!(served, documented, "the served and the documented operations differ");
}

/// Whether `schema` leads to `#/components/schemas/{target}` through its `$ref`s.
fn reaches(spec: &serde_json::Value, schema: &serde_json::Value, target: &str) -> bool {
    fn walk(
        spec: &serde_json::Value,
        v: &serde_json::Value,
        target: &str,
        seen: &mut std::collections::BTreeSet<String>,
    ) -> bool {
        match v {
            serde_json::Value::Object(map) => map.iter().any(|(k, v)| {
                if k == "$ref" {
                    let name = v.as_str().unwrap().trim_start_matches("#/components/schemas/").to_string();
                    name == target
                        || (seen.insert(name.clone())
                            && walk(spec, &spec["components"]["schemas"][name.as_str()], target, seen))
                } else {
                    walk(spec, v, target, seen)
                }
            }),
            serde_json::Value::Array(items) => items.iter().any(|v| walk(spec, v, target, seen)),
            _ => false,
        }
    }
    walk(spec, schema, target, &mut std::collections::BTreeSet::new())
}

#[test]
fn openapi_bodies_are_the_data_contract_types() {
    let s = Server::start(&[]);
    let (status, _, body) = s.request("GET", "/openapi.json", &[], b"");
    assert_eq!(status, 200);
    let spec: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(spec["openapi"], "3.1.0");

    // /v1/analyze: a Conversation (or a text/plain transcript with ?id=) in, the Analysis out, errors as
    // the error body.
    let analyze = &spec["paths"]["/v1/analyze"]["post"];
    let request = &analyze["requestBody"]["content"];
    assert_eq!(
        request["application/json"]["schema"]["$ref"], "#/components/schemas/Conversation",
        "{analyze}"
    );
    assert_eq!(request["text/plain"]["schema"]["type"], "string", "{analyze}");
    assert!(analyze["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "id" && p["in"] == "query"));
    let ok = &analyze["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(ok["$ref"], "#/components/schemas/Analysis", "{analyze}");
    for status in ["400", "401", "413", "429", "504"] {
        let error = &analyze["responses"][status]["content"]["application/json"]["schema"];
        assert_eq!(error["$ref"], "#/components/schemas/ErrorBody", "{status}: {analyze}");
    }
    let analysis = &spec["components"]["schemas"]["Analysis"];
    for field in ["schema_version", "conversation_id", "language", "intents", "sentiment", "summary", "churn"]
    {
        assert!(analysis["properties"].get(field).is_some(), "Analysis lacks {field}: {analysis}");
    }
    assert!(spec["components"]["schemas"]["Conversation"]["properties"].get("turns").is_some());

    // The other routes' bodies lead to the core types.
    let response =
        |path: &str, media: &str| spec["paths"][path]["post"]["responses"]["200"]["content"][media].clone();
    let cases = [
        ("/v1/analyze/batch", "application/json", "Analysis"),
        ("/v1/intent", "application/json", "IntentPrediction"),
        ("/v1/sentiment", "application/json", "SentimentLabel"),
        ("/v1/summarize", "application/json", "Summary"),
        ("/v1/churn", "application/json", "ChurnRisk"),
        ("/v1/summarize/stream", "text/event-stream", "Summary"),
    ];
    for (path, media, target) in cases {
        assert!(reaches(&spec, &response(path, media), target), "{path} does not lead to {target}");
    }
    // Live sessions: a turn in, its LiveUpdate out; the event stream documents each event's data.
    let live_turn = &spec["paths"]["/v1/live/{id}/turns"]["post"];
    assert_eq!(
        live_turn["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/NewTurn"
    );
    assert!(reaches(&spec, &live_turn["responses"]["200"], "LiveUpdate"), "{live_turn}");
    assert!(reaches(&spec, &spec["paths"]["/v1/live/{id}"]["delete"]["responses"]["200"], "Analysis"));
    assert!(spec["paths"]["/v1/live"]["post"]["responses"].get("201").is_some());
    let events =
        &spec["paths"]["/v1/live/{id}/events"]["get"]["responses"]["200"]["content"]["text/event-stream"];
    for (event, target) in
        [("update", "LiveUpdate"), ("alert", "Alert"), ("closed", "Analysis"), ("error", "ErrorBody")]
    {
        assert!(reaches(&spec, &events["x-events"][event], target), "{event}: {events}");
    }
    let batch_request =
        &spec["paths"]["/v1/analyze/batch"]["post"]["requestBody"]["content"]["application/json"];
    assert!(reaches(&spec, batch_request, "Conversation"), "{batch_request}");

    // Every reference resolves.
    let text = spec.to_string();
    for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap();
        assert!(spec["components"]["schemas"].get(name).is_some(), "dangling $ref to {name}");
    }
}
