//! End-to-end tests of `copiloot churn`, `copiloot train churn` and `copiloot eval churn` on the real
//! binary, the real default models, the example conversations and the Telco table.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{conversation, encoder_installed, fixtures, ok, telco};
use std::process::Output;

/// `copiloot ARGS` on the installed models, with a fixed `--as-of` (contract months are counted from it).
fn copiloot(args: &[&str]) -> Output {
    common::output(common::copiloot_command(args).env("COPILOOT_AS_OF", "2026-12-01"), None)
}

#[test]
fn churn_scores_conversations_and_customers() {
    if !encoder_installed() {
        return;
    }
    let fixture = conversation("nl_telecom_opzegging.txt");
    let v: serde_json::Value =
        serde_json::from_str(&ok(&copiloot(&["churn", fixture.to_str().unwrap()]))).unwrap();
    assert_eq!(v["conversation_id"], "nl_telecom_opzegging");
    assert_eq!(v["churn"]["band"], "high", "{v}");
    let texts: Vec<&str> =
        v["churn"]["reasons"].as_array().unwrap().iter().filter_map(|r| r["text"].as_str()).collect();
    assert!(texts.iter().any(|t| t.contains("concurrent")), "{texts:?}");

    let all = conversation("all.jsonl");
    let out = ok(&copiloot(&["churn", "--input", all.to_str().unwrap(), "--by-customer"]));
    let rows: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let vodafone = rows.iter().find(|r| r["customer_id"] == "T-551902").unwrap();
    assert_eq!(vodafone["conversations"][0], "en_telecom_cancellation");
    assert_eq!(vodafone["churn"]["band"], "high");
    let score = |id: &str| {
        rows.iter().find(|r| r["conversations"][0] == id).unwrap()["churn"]["score"].as_f64().unwrap()
    };
    assert!(score("en_telecom_cancellation") > score("en_energy_billing"));
}

#[test]
fn train_and_eval_on_the_telco_table_with_a_plot() {
    let Some(data) = telco() else { return };
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    let out = ok(&copiloot(&[
        "train",
        "churn",
        "--data",
        data.to_str().unwrap(),
        "--label",
        "churn",
        "--out",
        model.to_str().unwrap(),
    ]));
    assert!(out.contains("ROC AUC") && out.contains("contract = Month-to-month"), "{out}");
    let auc: f64 = out
        .lines()
        .find(|l| l.starts_with("ROC AUC"))
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    assert!(auc >= 0.8, "{auc}");
    let plot = dir.path().join("reliability.png");
    let report = dir.path().join("report.json");
    let args = [
        "eval",
        "churn",
        "--data",
        data.to_str().unwrap(),
        "--label",
        "churn",
        "--model",
        model.to_str().unwrap(),
    ];
    let mut full: Vec<&str> = args.to_vec();
    full.extend(["--plot", plot.to_str().unwrap(), "--report", report.to_str().unwrap()]);
    ok(&copiloot(&full));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["calibration"].as_array().unwrap().len(), 10);
    assert!(r["ece"].as_f64().unwrap() < 0.05 && r["roc_auc"].as_f64().unwrap() > 0.8, "{r}");
    assert_eq!(&std::fs::read(&plot).unwrap()[1..4], b"PNG");
    // Rows of the table scored with reasons.
    let out =
        ok(&copiloot(&["churn", "--table", data.to_str().unwrap(), "--model", model.to_str().unwrap()]));
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["row"], 1);
    assert!(first["churn"]["reasons"][0]["text"].as_str().unwrap().contains(" is "), "{first}");
}

#[test]
fn bad_input_gives_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, "tenure,contract,churn\n1,A,Yes\n5,B,No\n").unwrap();
    let out = copiloot(&[
        "train",
        "churn",
        "--data",
        csv.to_str().unwrap(),
        "--label",
        "left",
        "--out",
        dir.path().join("m").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no column `left`"));
    std::fs::write(&csv, "tenure,contract,churn\n1,A,No\n5,B,No\n").unwrap();
    let out = copiloot(&[
        "train",
        "churn",
        "--data",
        csv.to_str().unwrap(),
        "--out",
        dir.path().join("m").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no churners"));
    let model = dir.path().join("old");
    std::fs::create_dir_all(&model).unwrap();
    std::fs::write(model.join("churn.json"), r#"{"format": "copiloot-churn-model", "format_version": 0}"#)
        .unwrap();
    let out =
        copiloot(&["eval", "churn", "--data", csv.to_str().unwrap(), "--model", model.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("retrain"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.path().join("m").exists(), "no model written on bad input");
}

#[test]
fn conversation_mode_trains_on_outcome_labels_and_scores_with_the_trained_model() {
    if !encoder_installed() {
        return;
    }
    // A small history of contacts with their outcome: cancellations that churned, happy contacts that stayed.
    let leaving = [
        "Ik wil mijn abonnement opzeggen, bij Odido ben ik goedkoper uit.",
        "I want to cancel my contract, it is far too expensive.",
        "Zeg mijn internet maar op, ik stap over naar een andere provider.",
        "Please end my subscription at the end of the month.",
        "Ik ben het zat, ik wil opzeggen.",
        "Cancel everything please, I'm switching to another company.",
    ];
    let staying = [
        "Dank je wel, het werkt weer perfect!",
        "Thanks a lot, you solved it quickly.",
        "Ik wilde alleen mijn nieuwe adres doorgeven.",
        "Could you tell me when my next bill arrives?",
        "Top geholpen, fijne dag nog.",
        "Great service, thank you so much.",
    ];
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("history.jsonl");
    let mut lines = Vec::new();
    for (i, (text, churned)) in
        leaving.iter().map(|t| (t, "Yes")).chain(staying.iter().map(|t| (t, "No"))).enumerate()
    {
        lines.push(
            serde_json::json!({"id": format!("c{i}"), "churned": churned,
                "turns": [{"speaker": "klant", "text": text}, {"speaker": "agent", "text": "Dat regel ik voor u."}]})
            .to_string(),
        );
    }
    std::fs::write(&data, lines.join("\n")).unwrap();
    let model = dir.path().join("conv-churn");
    let (d, m) = (data.to_str().unwrap(), model.to_str().unwrap());
    ok(&copiloot(&[
        "train",
        "churn",
        "--data",
        d,
        "--label",
        "churned",
        "--out",
        m,
        "--test-fraction",
        "0.34",
    ]));
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("churn.json")).unwrap()).unwrap();
    assert!(saved.to_string().contains("conversation"), "a conversation model: {saved}");

    let report = dir.path().join("eval.json");
    ok(&copiloot(&[
        "eval",
        "churn",
        "--data",
        d,
        "--label",
        "churned",
        "--model",
        m,
        "--report",
        report.to_str().unwrap(),
    ]));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["rows"], 12, "{r}");
    assert!(r["roc_auc"].as_f64().unwrap() >= 0.9, "cancellations rank above happy contacts: {r}");

    let cancel = conversation("nl_telecom_opzegging.txt");
    let happy = fixtures().join("churn/nl_compliment.txt");
    let score = |p: &std::path::Path| -> f64 {
        let out = ok(&copiloot(&["churn", p.to_str().unwrap(), "--model", m]));
        let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        v["score"].as_f64().or_else(|| v["churn"]["score"].as_f64()).unwrap()
    };
    assert!(score(&cancel) > score(&happy), "the trained model ranks the cancellation higher");
}
