//! End-to-end tests of `copiloot train|eval|analyze` with trained heads and Hugging Face sequence
//! classifiers, and of the typed errors for bad training data and mismatched models.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{copiloot, encoder_installed as installed, fixtures, stderr};
use std::path::Path;

fn write(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

const TRAIN: &str = "text,label\n\
Ik wil mijn abonnement opzeggen,cancel\nI want to cancel my contract,cancel\nPlease end my subscription,cancel\n\
Mijn internet doet het niet,outage\nThe wifi is down again,outage\nEr is een storing in mijn wijk,outage\n\
Mijn factuur is te hoog,billing\nWhy was I charged twice?,billing\nIk snap mijn rekening niet,billing\n";

#[test]
fn train_then_eval_a_head_and_analyze_with_it() {
    if !installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = write(tmp.path(), "train.csv", TRAIN);
    let head = tmp.path().join("head").display().to_string();
    let out = copiloot(&["train", "intent", "--data", &data, "--out", &head]);
    assert!(out.status.success(), "{}", stderr(&out));
    let test = write(
        tmp.path(),
        "test.jsonl",
        "{\"text\": \"Ik wil opzeggen\", \"label\": \"cancel\"}\n{\"text\": \"Geen internet sinds vanochtend\", \"label\": \"outage\"}\n",
    );
    let report = tmp.path().join("report.json");
    let out = copiloot(&[
        "eval",
        "intent",
        "--data",
        &test,
        "--model",
        &head,
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["accuracy"], 1.0, "{r}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("macro-F1"));

    let conv = common::conversation("nl_telecom_opzegging.txt");
    let out = copiloot(&["analyze", conv.to_str().unwrap(), "--intent-model", &head]);
    assert!(out.status.success(), "{}", stderr(&out));
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a["intents"]["model"], "head:intent");
    assert_eq!(a["intents"]["primary"], "cancel", "{}", a["intents"]);
}

#[test]
fn a_hugging_face_classifier_evaluates_and_analyzes_with_its_own_labels() {
    if !installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let model = fixtures().join("classifiers/distilbert");
    let data = write(tmp.path(), "test.csv", "text,label\nMy internet is not working,outage\nwhy,billing\n");
    let report = tmp.path().join("r.json");
    let out = copiloot(&[
        "eval",
        "intent",
        "--data",
        &data,
        "--model",
        model.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["examples"], 2);
    // Random weights: only the label set is meaningful; it comes from id2label.
    let data = write(tmp.path(), "bad.csv", "text,label\nhello,refund\nhi,cancel\n");
    let out = copiloot(&["eval", "intent", "--data", &data, "--model", model.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("refund") && stderr(&out).contains("outage"), "{}", stderr(&out));

    let conv = common::conversation("en_internet_outage.txt");
    let out = copiloot(&["analyze", conv.to_str().unwrap(), "--intent-model", model.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a["intents"]["model"], "classifier:DistilBertForSequenceClassification");
    let label = a["intents"]["turns"][0]["intent"].as_str().unwrap().to_string();
    assert!(["billing", "cancel", "outage", "other"].contains(&label.as_str()), "{label}");
}

#[test]
fn bad_training_data_and_mismatched_models_are_typed_errors() {
    if !installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("h").display().to_string();

    let one = write(tmp.path(), "one.csv", "text,label\nik wil opzeggen,cancel\nstop mijn contract,cancel\n");
    let out = copiloot(&["train", "intent", "--data", &one, "--out", &out_dir]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("only one label"), "{}", stderr(&out));
    assert!(!Path::new(&out_dir).exists(), "nothing is written on bad input");

    let data = write(
        tmp.path(),
        "unknown.csv",
        "text,label\nik wil opzeggen,cancel\nwaar is mijn pakket,pakketje\n",
    );
    let taxonomy = common::models_dir().join("taxonomy/intents.toml");
    let out = copiloot(&[
        "train",
        "intent",
        "--data",
        &data,
        "--out",
        &out_dir,
        "--taxonomy",
        taxonomy.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("pakketje") && stderr(&out).contains("not known"), "{}", stderr(&out));

    let empty = write(tmp.path(), "empty.csv", "text,label\n   ,cancel\nstop,billing\n");
    let out = copiloot(&["train", "intent", "--data", &empty, "--out", &out_dir]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));

    let out = copiloot(&["train", "sentiment", "--data", &data, "--out", &out_dir, "--fine-tune"]);
    assert_ne!(out.status.code(), Some(0));

    // A head trained for another encoder: written by hand with another encoder id.
    let head = tmp.path().join("other");
    let out = copiloot(&[
        "train",
        "intent",
        "--data",
        &write(tmp.path(), "t.csv", TRAIN),
        "--out",
        head.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let meta = head.join("head.json");
    let text = std::fs::read_to_string(&meta).unwrap().replace("multilingual-e5-small", "all-MiniLM-L6-v2");
    std::fs::write(&meta, text).unwrap();
    let out = copiloot(&["eval", "intent", "--data", &data, "--model", head.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("all-MiniLM-L6-v2") && stderr(&out).contains("retrain"),
        "{}",
        stderr(&out)
    );

    // A Hugging Face classifier without labels.
    let src = fixtures().join("classifiers/bert");
    let nolabels = tmp.path().join("nolabels");
    std::fs::create_dir(&nolabels).unwrap();
    for f in ["model.safetensors", "tokenizer.json"] {
        std::fs::copy(src.join(f), nolabels.join(f)).unwrap();
    }
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    cfg.as_object_mut().unwrap().remove("id2label");
    std::fs::write(nolabels.join("config.json"), cfg.to_string()).unwrap();
    let out = copiloot(&["eval", "intent", "--data", &data, "--model", nolabels.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("id2label"), "{}", stderr(&out));
}

#[test]
fn bad_sentiment_training_data_and_heads_for_other_layers_are_typed_errors() {
    if !installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("h").display().to_string();
    let train = |name: &str, body: &str, extra: &[&str]| {
        let data = write(tmp.path(), name, body);
        let mut args = vec!["train", "sentiment", "--data", &data, "--out", &out_dir];
        args.extend_from_slice(extra);
        let out = copiloot(&args);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        assert!(!Path::new(&out_dir).exists(), "{name}: nothing is written on bad input");
        stderr(&out)
    };
    let one = "text,label\nIk ben het echt zat met jullie klantenservice,negative\n\
        Mijn internet valt al drie weken elke avond uit,negatief\n";
    let err = train("one.csv", one, &[]);
    assert!(err.contains("only one label"), "{err}");
    let err = train("ids.csv", "text,label\nI hate it,0\nIt is fine,1\nI love it,2\n", &[]);
    assert!(err.contains("another label scheme") && err.contains("TweetEval"), "{err}");
    let err = train("stars.csv", "text,label\nTerrible product,1\nGreat product,5\n", &[]);
    assert!(err.contains("star ratings") && err.contains("[\"1\", \"5\"]"), "{err}");
    let mixed = "text,label\nIk ben het echt zat met jullie service,negative\n\
        Mijn pakket is nog steeds niet bezorgd,negative\nDank je wel voor de snelle hulp,positive\n\
        I am really fed up with your service,negative\nThank you so much for the quick help,positive\n";
    let err = train("mixed.csv", mixed, &[]);
    assert!(err.contains("mixes languages") && err.contains("own file"), "{err}");
    let err = train("empty.csv", "text,label\nGeweldig,positive\n  ,negative\n", &[]);
    assert!(err.contains("line 3") && err.contains("empty"), "{err}");
    let err = train("ok.csv", "text,label\nGeweldig,positive\nVreselijk,negative\n", &["--epochs", "5"]);
    assert!(err.contains("--hidden"), "MLP settings need --hidden: {err}");

    // The shipped head, edited to read layers the encoder does not have or fewer than its width.
    let shipped = common::models_dir().join("heads/sentiment");
    for (layers, expected) in [("[6, 9, 13]", "do not fit"), ("[6, 9]", "values per text")] {
        let head = tmp.path().join(format!("head{}", layers.len()));
        std::fs::create_dir(&head).unwrap();
        for f in ["head.json", "head.safetensors"] {
            std::fs::copy(shipped.join(f), head.join(f)).unwrap();
        }
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(head.join("head.json")).unwrap()).unwrap();
        let mut meta = meta;
        meta["layers"] = serde_json::from_str(layers).unwrap();
        std::fs::write(head.join("head.json"), meta.to_string()).unwrap();
        let data = write(tmp.path(), "eval.csv", "text,label\nGeweldig,positive\nVreselijk,negative\n");
        let out = copiloot(&["eval", "sentiment", "--data", &data, "--model", head.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(3), "{layers}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{layers}: {}", stderr(&out));
    }
}

#[test]
fn train_sentiment_branch_then_eval_it() {
    if !installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let nl = write(
        tmp.path(),
        "nl.csv",
        "text,label\nIk ben het echt zat met jullie service,negative\nDit is belachelijk slecht geregeld,negative\n\
         Mijn klantnummer is 12345,neutral\nIk bel over mijn factuur van maart,neutral\n\
         Dank u wel super geholpen,positive\nFijn dat het zo snel is opgelost,positive\n",
    );
    let en = write(
        tmp.path(),
        "en.csv",
        "text,label\nThis is the worst support I have ever had,negative\nI am furious because nobody calls back,negative\n\
         My order number is 5521,neutral\nI am calling about my contract,neutral\n\
         Thanks a lot that was really helpful,positive\nGreat service and I am very happy,positive\n",
    );
    let head = tmp.path().join("branch").display().to_string();
    let args = ["train", "sentiment", "--data", &nl, "--data", &en, "--out", &head, "--branch", "1"];
    let out = copiloot(&[&args[..], &["--layers", "9", "--epochs", "1", "--train-batch-size", "4"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("fine-tuned a sentiment branch of the top 1 layers"), "{}", stderr(&out));
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(&head).join("head.json")).unwrap()).unwrap();
    assert_eq!(meta["branch"]["start_layer"], 11, "{meta}");
    assert_eq!(meta["layers"], serde_json::json!([9]), "{meta}");
    assert_eq!(meta["dim"], 2 * 384, "layer 9 and the branch's output: {meta}");
    assert!(meta["training"]["source"].as_str().unwrap().contains("--branch 1 --layers 9"), "{meta}");

    let test = write(tmp.path(), "test.csv", "text,label\nIk ben het zat,negative\nDank je wel!,positive\n");
    let report = tmp.path().join("report.json");
    let out = copiloot(&[
        "eval",
        "sentiment",
        "--data",
        &test,
        "--model",
        &head,
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["accuracy"], 1.0, "{r}");

    // The head refitted on that branch with other layers: the branch file travels with it.
    let refit = tmp.path().join("refit").display().to_string();
    let file = Path::new(&head).join("branch.safetensors").display().to_string();
    let refit_args =
        ["train", "sentiment", "--data", &nl, "--data", &en, "--out", &refit, "--branch-file", &file];
    let out = copiloot(&[&refit_args[..], &["--layers", "6,9"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(&refit).join("head.json")).unwrap()).unwrap();
    assert_eq!(meta["layers"], serde_json::json!([6, 9]), "{meta}");
    assert_eq!(meta["dim"], 3 * 384, "{meta}");
    assert_eq!(
        std::fs::read(Path::new(&refit).join("branch.safetensors")).unwrap(),
        std::fs::read(&file).unwrap()
    );
    let out = copiloot(&["eval", "sentiment", "--data", &test, "--model", &refit]);
    assert!(out.status.success(), "{}", stderr(&out));

    // A branch head is not an intent model: it needs the features only the sentiment task computes.
    let conv = common::conversation("nl_telecom_opzegging.txt");
    let out = copiloot(&["analyze", conv.to_str().unwrap(), "--intent-model", &head]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("load it as a sentiment head"), "{}", stderr(&out));

    // A branch as deep as the encoder, or with an MLP head, is refused before anything is trained.
    let out = copiloot(&[&args[..8], &["--branch", "12"]].concat());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("between 1 and 11"), "{}", stderr(&out));
    let out = copiloot(&[&args[..], &["--hidden", "8"]].concat());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--hidden"), "{}", stderr(&out));
}
