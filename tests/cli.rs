//! End-to-end tests of the `copiloot` binary on the real default models and the example conversations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{conversation as fixture, copiloot_command, stderr};
use std::process::{Command, Output, Stdio};

fn copiloot(args: &[&str], stdin: Option<&str>) -> Output {
    copiloot_bytes(args, stdin.map(str::as_bytes))
}

fn copiloot_bytes(args: &[&str], stdin: Option<&[u8]>) -> Output {
    common::output(&mut copiloot_command(args), stdin)
}

fn json(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn analyze_a_dutch_transcript() {
    let out = copiloot(&["analyze", fixture("nl_telecom_opzegging.txt").to_str().unwrap_or_default()], None);
    let a = json(&out);
    assert_eq!(a["schema_version"], "1.0");
    assert_eq!(a["conversation_id"], "nl_telecom_opzegging");
    assert_eq!(a["language"], "nl");
    let note = a["summary"]["text"].as_str().unwrap_or_default();
    assert!(note.starts_with("Klant wil mobiele abonnement opzeggen.") && note.contains("Odido"), "{note}");
    assert_eq!(a["churn"]["band"], "high", "{}", a["churn"]);
    assert_eq!(a["intents"]["primary"], "cancel", "{}", a["intents"]);
    assert_eq!(a["intents"]["intents"][0]["turns"][0], 1, "the customer's first turn says why they call");
    let name = a["intents"]["intents"][0]["name"].as_str().unwrap_or_default().to_lowercase();
    assert!(name.contains("opzeg"), "Dutch label for a Dutch conversation: {name}");
    let turns = a["sentiment"]["turns"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(turns, 15, "one sentiment per turn");
    assert!(a["sentiment"]["customer_trajectory"]["most_negative_score"].as_f64().unwrap_or(0.0) < 0.0);
    assert!(a["models"]["encoder"].as_str().unwrap_or_default().contains("multilingual-e5-small"));
    assert!(a["metrics"].is_object());
}

#[test]
fn pii_spans_are_reported_by_default_and_not_with_no_redact() {
    let file = fixture("nl_energie_jaarafrekening.json");
    let a = json(&copiloot(&["analyze", file.to_str().unwrap_or_default()], None));
    let spans = a["pii"].as_array().cloned().unwrap_or_default();
    assert!(spans.iter().any(|s| s["turn"] == 3 && s["span"]["kind"] == "postcode"), "{spans:?}");
    assert!(!a.to_string().contains("3512 AB"), "the output never carries the PII text");
    let a = json(&copiloot(&["analyze", "--no-redact", file.to_str().unwrap_or_default()], None));
    assert!(a.get("pii").is_none());
}

#[test]
fn analyze_an_english_json_conversation_as_text() {
    let out = copiloot(
        &["analyze", "--format", "text", fixture("en_energy_billing.json").to_str().unwrap_or_default()],
        None,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("language: en"), "{text}");
}

#[test]
fn batch_is_resumable_and_writes_whole_lines() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out_path = dir.path().join("analyses.jsonl");
    let input = fixture("all.jsonl");
    let ids: Vec<String> = std::fs::read_to_string(&input)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("id").or(v.get("conversation_id")).and_then(|i| i.as_str()).map(String::from))
        .collect();
    assert!(ids.len() >= 8, "all.jsonl should hold the 8 examples");
    let run = || {
        copiloot(
            &[
                "analyze",
                "--input",
                input.to_str().unwrap_or_default(),
                "--output",
                out_path.to_str().unwrap_or_default(),
            ],
            None,
        )
    };
    let first = run();
    assert!(first.status.success(), "{}", stderr(&first));

    // Simulate a crash: keep two whole lines and half of the third.
    let written = std::fs::read_to_string(&out_path).unwrap_or_default();
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(lines.len(), ids.len());
    let torn = format!("{}\n{}\n{}", lines[0], lines[1], &lines[2][..lines[2].len() / 2]);
    std::fs::write(&out_path, torn).unwrap_or_else(|e| panic!("{e}"));

    let second = run();
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(stderr(&second).contains("resuming: 2 conversations"), "{}", stderr(&second));
    let again = std::fs::read_to_string(&out_path).unwrap_or_default();
    let mut got: Vec<String> = again
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("torn line {l:?}: {e}"))
        })
        .filter_map(|v| v["conversation_id"].as_str().map(String::from))
        .collect();
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want, "every conversation exactly once");
}

#[test]
fn bad_jsonl_lines_are_reported_with_their_line_and_the_rest_still_runs() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = dir.path().join("mixed.jsonl");
    let good =
        r#"{"id": "ok-1", "turns": [{"speaker": "klant", "text": "Mijn pakket is niet aangekomen."}]}"#;
    std::fs::write(&input, format!("{good}\n{{\"id\": \"broken\", \"turns\": [\n"))
        .unwrap_or_else(|e| panic!("{e}"));
    let out_path = dir.path().join("out.jsonl");
    let out = copiloot(
        &[
            "analyze",
            "--input",
            input.to_str().unwrap_or_default(),
            "--output",
            out_path.to_str().unwrap_or_default(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&out_path).unwrap_or_default().contains("\"ok-1\""));
}

#[test]
fn unknown_speaker_is_a_clear_input_error() {
    let out = copiloot(&["analyze", "-"], Some("Klant: hallo\nMarsmannetje: bliep\n"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("line 2") && err.to_lowercase().contains("speaker"), "{err}");
}

#[test]
fn embed_keeps_line_order_and_count() {
    let out = copiloot(&["embed"], Some("Ik wil opzeggen.\nI want to cancel.\nWaar is mijn pakket?\n"));
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Vec<Vec<f32>> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_default())
        .map(|v| serde_json::from_value(v["embedding"].clone()).unwrap_or_default())
        .collect();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.len() == 384));
    let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    assert!(cos(&rows[0], &rows[1]) > cos(&rows[1], &rows[2]), "translation closer than another topic");
}

#[test]
fn models_verify_reports_installed_defaults() {
    let out = copiloot(&["models", "verify", "--json"], None);
    let v = json(&out);
    let names: Vec<&str> = v.as_array().into_iter().flatten().filter_map(|m| m["name"].as_str()).collect();
    assert_eq!(names, ["multilingual-e5-small", "all-minilm-l6-v2", "smollm2-135m-instruct"]);
    assert!(v
        .as_array()
        .into_iter()
        .flatten()
        .all(|m| m["installed"] == true && m["problems"].as_array().is_some_and(|p| p.is_empty())));
}

#[test]
fn offline_hub_model_says_what_to_do() {
    let cache = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = Command::new(common::copiloot_bin());
    let out = cmd
        .args(["embed", "--encoder", "intfloat/multilingual-e5-base"])
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_HOME", cache.path())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HF_HUB_OFFLINE") && err.contains("copiloot models install"), "{err}");
}

#[test]
fn schemas_are_published() {
    for which in ["input", "output"] {
        let v = json(&copiloot(&["schema", which], None));
        assert!(v["properties"].is_object(), "{which}: {v}");
    }
    let out = json(&copiloot(&["schema", "output"], None));
    for field in [
        "schema_version",
        "conversation_id",
        "language",
        "metrics",
        "intents",
        "sentiment",
        "summary",
        "churn",
        "models",
    ] {
        assert!(out["properties"].get(field).is_some(), "output schema lacks {field}");
    }
}

#[test]
fn redact_masks_line_for_line() {
    let input = "Mijn IBAN is NL91 ABNA 0417 1643 00, bel 06-12345678\nBestelnummer 1024-7781-3390 kost € 89,95\n\nmail jan@ziggo.nl\n";
    let out = copiloot(&["redact"], Some(input));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        ["Mijn IBAN is [IBAN], bel [PHONE]", "Bestelnummer 1024-7781-3390 kost € 89,95", "", "mail [EMAIL]"]
    );
}

#[test]
fn redact_conversations_and_bad_utf8() {
    let out = copiloot(
        &["redact", "--conversations", "--input", fixture("all.jsonl").to_str().unwrap_or_default()],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 8);
    assert!(text.contains("[POSTCODE]"), "the energy conversation's postcode 3512 AB is masked");
    assert!(!text.contains("3512 AB"));

    let out = copiloot_bytes(&["redact"], Some(b"a@b.nl\n\xff\xfe\n"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[EMAIL]\n", "whole lines before the bad one are kept");
}

fn smollm2() -> String {
    common::models_dir().join("smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf").display().to_string()
}

#[test]
fn generate_streams_from_stdin_and_reports_speed() {
    let g = smollm2();
    let out = copiloot(
        &["generate", "--generator", &g, "--max-tokens", "30"],
        Some("What is the capital of France? Answer in one short sentence."),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Paris"));
    assert!(stderr(&out).contains("tok/s"), "{}", stderr(&out));
    let out = copiloot(
        &["generate", "--generator", &g, "--prompt", "Say hello.", "--max-tokens", "4", "--json"],
        None,
    );
    let v = json(&out);
    assert_eq!(v["generation"]["generated_tokens"], 4);
    assert_eq!(v["generation"]["stop_reason"], "length");
    assert_eq!(v["model"]["architecture"], "llama");
    assert_eq!(v["model"]["engine"], "copiloot");
    // The fallback engine gives the same greedy tokens on this prompt, and says it ran.
    let candle = |engine: &str| {
        let args = ["generate", "--generator", &g, "--prompt", "Say hello.", "--max-tokens", "4", "--json"];
        json(&copiloot(&[&args[..], &["--engine", engine]].concat(), None))
    };
    let c = candle("candle");
    assert_eq!(c["model"]["engine"], "candle");
    assert_eq!(c["generation"]["text"], v["generation"]["text"]);
    let bad = copiloot(&["generate", "--generator", &g, "--prompt", "hi", "--engine", "gpu"], None);
    assert!(!bad.status.success() && stderr(&bad).contains("unknown engine"), "{}", stderr(&bad));
}

#[test]
fn generate_with_a_broken_gguf_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.gguf");
    std::fs::write(&path, b"GGUF\x03\x00\x00\x00").unwrap();
    let out = copiloot(&["generate", "--generator", path.to_str().unwrap(), "--prompt", "hi"], None);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("truncated"), "{}", stderr(&out));
}

/// Runs copiloot with its stdout a pipe whose reading end is already closed (as `copiloot … | head` once
/// `head` has read enough).
fn copiloot_into_closed_pipe(args: &[&str], stdin: &str) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = copiloot_command(args);
    cmd.stdin(Stdio::piped()).stdout(writer).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_stdout_ends_quietly_with_the_pipe_status() {
    // `schema` prints with `println!`, `redact` writes through a buffered lock: both paths.
    for (args, input) in [(&["schema", "output"][..], ""), (&["redact"][..], "Bel me op 06-12345678\n")] {
        let out = copiloot_into_closed_pipe(args, input);
        let err = stderr(&out);
        assert!(!err.contains("panicked") && !err.contains("error:"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(141), "{args:?}: {err}");
    }
}

#[test]
fn eval_sentiment_on_a_binary_set_scores_the_labels_present_per_language() {
    let rows = [
        ("Thank you so much, the new router works perfectly!", "positive"),
        ("Great service, the engineer fixed it within an hour.", "positive"),
        ("I am really happy with how quickly you helped me.", "positive"),
        ("This is the worst service I have ever had, I am furious.", "negative"),
        ("My bill is wrong again and nobody helps me, ridiculous.", "negative"),
        ("The internet keeps dropping and I am fed up with it.", "negative"),
        ("Super bedankt, de monteur heeft alles keurig opgelost!", "positive"),
        ("Wat een fijne en snelle service, echt top geregeld.", "positive"),
        ("Ik ben heel blij met de hulp van de medewerker.", "positive"),
        ("Ik ben het echt zat, mijn internet valt steeds weg.", "negative"),
        ("Belachelijk dat mijn rekening weer veel te hoog is.", "negative"),
        ("Niemand helpt mij en ik word er woedend van.", "negative"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("binary.csv");
    let csv: String = rows.iter().map(|(t, l)| format!("\"{t}\",{l}\n")).collect();
    std::fs::write(&data, format!("text,label\n{csv}")).unwrap();
    let report = dir.path().join("report.json");
    let out = copiloot(
        &["eval", "sentiment", "--data", data.to_str().unwrap(), "--report", report.to_str().unwrap()],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("no neutral gold label") && stdout.contains("per language"), "{stdout}");
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let labels: Vec<&str> =
        r["per_class"].as_array().unwrap().iter().map(|c| c["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["negative", "positive"], "scored over the labels present: {r}");
    assert!(r["neutral_rate"].as_f64().unwrap() <= 0.25, "{r}");
    for code in ["en", "nl"] {
        let l = &r["by_language"][code];
        assert_eq!(l["examples"], 6, "{code}: {r}");
        assert!(l["accuracy"].as_f64().unwrap() >= 0.8 && l["macro_f1"].as_f64().is_some(), "{code}: {r}");
    }
}
