//! End-to-end tests of `copiloot summarize` and `copiloot eval summary` on the real default models.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{copiloot, ok};

/// An example conversation's path, as an argument.
fn fixture(name: &str) -> String {
    common::conversation(name).display().to_string()
}

#[test]
fn summarize_json_cites_turns_and_writes_a_dutch_note() {
    let s: serde_json::Value =
        serde_json::from_str(&ok(&copiloot(&["summarize", &fixture("nl_webshop_bezorging.json")]))).unwrap();
    assert_eq!(s["language"], "nl");
    assert_eq!(s["reason"]["turns"][0], 1, "{s}");
    assert!(s["reason"]["quote"].as_str().unwrap().contains("nog steeds niet bezorgd"), "{s}");
    assert_eq!(s["resolution"]["status"], "resolved", "{s}");
    let text = s["text"].as_str().unwrap();
    assert!(
        text.contains("Medewerker stuurt vandaag kosteloos een nieuw exemplaar")
            && text.contains("1024-7781-3390")
            && text.contains("Status: opgelost."),
        "{text}"
    );
    let refs = s["entities"].as_array().unwrap();
    assert!(refs.iter().any(|e| e["kind"] == "order_number" && e["value"] == "1024-7781-3390"), "{s}");
}

#[test]
fn summarize_text_format_and_note_length() {
    let out = ok(&copiloot(&[
        "summarize",
        "--format",
        "text",
        "--max-chars",
        "120",
        &fixture("en_internet_outage.txt"),
    ]));
    let note = out.lines().find_map(|l| l.strip_prefix("note: ")).unwrap();
    assert!(note.chars().count() <= 120, "{note}");
    assert!(note.starts_with("Customer's broadband has been dropping out"), "{note}");
    assert!(out.contains("resolution: partial"), "{out}");
    assert!(out.contains("entity reference: VM-77310"), "{out}");
}

#[test]
fn a_looping_rewrite_is_withheld_in_summarize_and_analyze_text() {
    // The default generator loops on this Dutch call: the grounded note stands and the reason is shown.
    let file = fixture("nl_verzekering_afgewezen.txt");
    let args = ["--generator", "default", "--max-tokens", "256", "--format", "text", file.as_str()];
    let out = ok(&copiloot(&[&["summarize"][..], &args[..]].concat()));
    assert!(out.lines().any(|l| l.starts_with("note: Klant geeft aan: declaratie van 245 euro")), "{out}");
    assert!(out.contains("): it loops (generation stopped on a repeated phrase)"), "{out}");
    assert!(out.contains("warning: LLM rewrite withheld: it loops"), "{out}");
    assert!(!out.lines().any(|l| l.starts_with("rewrite (")), "{out}");
    let out = ok(&copiloot(&[&["analyze"][..], &args[..]].concat()));
    assert!(out.contains("  summary: Klant geeft aan: declaratie van 245 euro"), "{out}");
    assert!(
        out.contains("  LLM rewrite withheld: it loops (generation stopped on a repeated phrase)"),
        "{out}"
    );
}

#[test]
fn summarize_without_customer_turns_is_a_bad_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agents.txt");
    std::fs::write(&path, "Agent: Hello?\nAgent: Is anyone there?\n").unwrap();
    let out = copiloot(&["summarize", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no customer turns"));
    assert!(out.stdout.is_empty());
}

#[test]
fn eval_summary_scores_grounded_and_lead_on_tiny_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("tiny.jsonl");
    let lines = [
        serde_json::json!({"fname": "a", "dialogue": "#Person1#: My internet has been down since Monday and I work from home.\n#Person2#: I have booked an engineer for Wednesday.\n#Person1#: Thanks.", "summary1": "#Person1#'s internet is down since Monday. #Person2# books an engineer for Wednesday.", "summary2": "The internet is down; an engineer comes on Wednesday."}),
        serde_json::json!({"conversation_id": "b", "dialogue": "Customer: @Shop my parcel never arrived, order 5521-0098.\nAgent: @123 Sorry! I have sent a replacement, it arrives tomorrow.", "abstractive_summaries": ["Customer's parcel did not arrive. Agent sent a replacement that arrives tomorrow."]}),
    ];
    std::fs::write(&data, lines.iter().map(|l| l.to_string() + "\n").collect::<String>()).unwrap();
    let report = dir.path().join("report.json");
    let preds = dir.path().join("preds.jsonl");
    let d = data.to_str().unwrap();
    ok(&copiloot(&[
        "eval",
        "summary",
        "--data",
        d,
        "--report",
        report.to_str().unwrap(),
        "--predictions",
        preds.to_str().unwrap(),
    ]));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!((r["dialogues"].as_u64(), r["failed"].as_u64()), (Some(2), Some(0)), "{r}");
    let grounded = r["rougeL"].as_f64().unwrap();
    assert!(grounded > 30.0 && grounded <= 100.0, "{r}");
    let p = std::fs::read_to_string(&preds).unwrap();
    assert!(p.lines().nth(1).unwrap().contains("replacement"), "{p}");
    // DialogSum's speakers keep their names in the note, and each row carries its note-style check.
    let first: serde_json::Value = serde_json::from_str(p.lines().next().unwrap()).unwrap();
    let note = first["prediction"].as_str().unwrap();
    assert!(note.starts_with("#Person1#") && note.contains("#Person2# has booked"), "{note}");
    assert_eq!(first["style"]["person_words"], serde_json::json!([]), "{first}");
    let style = &first["style"];
    let (facts, kept) = (style["facts"].as_u64().unwrap(), style["facts_kept"].as_u64().unwrap());
    assert!(facts >= 1 && facts - kept == style["facts_missing"].as_array().unwrap().len() as u64, "{first}");

    let out = ok(&copiloot(&[
        "eval",
        "summary",
        "--data",
        d,
        "--system",
        "lead",
        "--lead-n",
        "1",
        "--report",
        report.to_str().unwrap(),
    ]));
    assert!(out.contains("lead-1"), "{out}");
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert!(r["rouge1"].as_f64().unwrap() > 0.0, "{r}");

    // The LLM rewrite is scored on its own text; without a generator the system is refused.
    let rewrite = ["eval", "summary", "--data", d, "--system", "rewrite", "--max-tokens", "24"];
    let refused = copiloot(&rewrite);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--generator"));
    let args = [&rewrite[..], &["--generator", "default", "--predictions", preds.to_str().unwrap()]].concat();
    let out = ok(&copiloot(&args));
    assert!(out.contains("rewrite by") && out.contains("smollm2"), "{out}");
    let p = std::fs::read_to_string(&preds).unwrap();
    let first: serde_json::Value = serde_json::from_str(p.lines().next().unwrap()).unwrap();
    assert!(!first["prediction"].as_str().unwrap().is_empty(), "{first}");
}

#[test]
fn eval_summary_names_the_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bad.jsonl");
    std::fs::write(&data, "{\"dialogue\": \"A: hi\", \"summary\": \"x\"}\n{\"dialogue\": \"A: hi\"}\n")
        .unwrap();
    let out = copiloot(&["eval", "summary", "--data", data.to_str().unwrap(), "--system", "lead"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2") && err.contains("reference"), "{err}");
}

#[test]
fn summarize_with_the_default_generator_adds_a_checked_rewrite_and_streams_it() {
    let file = fixture("en_internet_outage.txt");
    let out = copiloot(&["summarize", &file, "--generator", "default", "--max-tokens", "24", "--stream"]);
    let s: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    let rewrite = &s["rewrite"];
    let text = rewrite["text"].as_str().unwrap();
    assert!(!text.is_empty(), "{s}");
    assert!(rewrite["generator"].as_str().unwrap().contains("smollm2"), "{rewrite}");
    assert!(rewrite["unsupported_claims"].is_array() && rewrite["evidence_turns"].is_array(), "{rewrite}");
    // --stream printed the same text to stderr while it was generated.
    assert!(String::from_utf8_lossy(&out.stderr).contains(text), "{}", String::from_utf8_lossy(&out.stderr));
    // The grounded fields are unchanged by the rewrite.
    let plain: serde_json::Value = serde_json::from_str(&ok(&copiloot(&["summarize", &file]))).unwrap();
    assert_eq!(plain["text"], s["text"]);
    assert!(plain.get("rewrite").is_none());
}

#[test]
fn a_generator_that_does_not_exist_is_a_clear_error() {
    let out = copiloot(&["summarize", &fixture("en_internet_outage.txt"), "--generator", "no/such.gguf"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no/such.gguf"), "{err}");
}
