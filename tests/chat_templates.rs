//! The published chat templates of Qwen2.5, Qwen3, Gemma 3 and Llama 3.2 render exactly as transformers
//! renders them (`tests/fixtures/chat_templates/expected.json`, written by
//! `benches/reference/render_chat_templates.py` with Python's jinja2).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use copiloot::models::generator::{ChatMessage, ChatTemplate};
use copiloot::Error;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/chat_templates")
}

#[derive(Deserialize)]
struct Expected {
    now: String,
    cases: BTreeMap<String, Vec<ChatMessage>>,
    templates: BTreeMap<String, Family>,
}

#[derive(Deserialize)]
struct Family {
    special_tokens: BTreeMap<String, String>,
    rendered: BTreeMap<String, Outcome>,
    #[serde(default)]
    rendered_thinking_on: BTreeMap<String, Outcome>,
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum Outcome {
    Text(String),
    Error { error: String },
}

fn expected() -> Expected {
    let text = std::fs::read_to_string(dir().join("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("expected.json parses")
}

fn template(family: &str, fx: &Expected) -> ChatTemplate {
    let tokens = &fx.templates[family].special_tokens;
    let source = std::fs::read_to_string(dir().join(format!("{family}.jinja"))).expect("template file");
    let token = |k: &str| tokens.get(k).map(String::as_str).unwrap_or("");
    let now: jiff::civil::DateTime = fx.now.parse().expect("now");
    ChatTemplate::new(Path::new("model.gguf"), Some(&source), false, token("bos_token"), token("eos_token"))
        .expect("the published template compiles")
        .with_now(now)
}

fn check(family: &str, cases: &BTreeMap<String, Outcome>, tpl: &ChatTemplate, fx: &Expected) {
    assert!(!cases.is_empty(), "{family}: no cases");
    for (case, want) in cases {
        let got = tpl.render(&fx.cases[case]);
        match (want, got) {
            (Outcome::Text(want), Ok(got)) => assert_eq!(&got, want, "{family} / {case}"),
            (Outcome::Error { error }, Err(err)) => {
                assert!(matches!(err, Error::InvalidInput { .. }), "{family} / {case}: {err}");
                assert!(err.to_string().contains(error.as_str()), "{family} / {case}: {err}");
            }
            (want, got) => panic!("{family} / {case}: want {want:?}, got {got:?}"),
        }
    }
}

fn family(name: &str) {
    let fx = expected();
    check(name, &fx.templates[name].rendered, &template(name, &fx), &fx);
}

#[test]
fn qwen2_5_instruct_renders_like_transformers() {
    family("qwen2.5-instruct");
}

#[test]
fn qwen3_renders_like_transformers_with_thinking_off() {
    family("qwen3");
    let fx = expected();
    let out = template("qwen3", &fx).render(&fx.cases["system_user"]).expect("renders");
    assert!(out.ends_with("<|im_start|>assistant\n<think>\n\n</think>\n\n"), "{out:?}");
}

#[test]
fn qwen3_with_thinking_on_leaves_the_think_block_to_the_model() {
    let fx = expected();
    let tpl = template("qwen3", &fx).with_thinking(true);
    check("qwen3 (thinking on)", &fx.templates["qwen3"].rendered_thinking_on, &tpl, &fx);
}

#[test]
fn gemma_3_renders_like_transformers() {
    family("gemma-3-it");
}

#[test]
fn llama_3_2_renders_like_transformers() {
    family("llama-3.2-instruct");
}

#[test]
fn every_family_in_the_fixture_is_tested() {
    let fx = expected();
    let names: Vec<&str> = fx.templates.keys().map(String::as_str).collect();
    assert_eq!(names, ["gemma-3-it", "llama-3.2-instruct", "qwen2.5-instruct", "qwen3"]);
}

#[test]
fn llama_3_2_prints_today_when_not_pinned() {
    let fx = expected();
    let source = std::fs::read_to_string(dir().join("llama-3.2-instruct.jinja")).expect("template file");
    let tpl = ChatTemplate::new(Path::new("m.gguf"), Some(&source), false, "<|begin_of_text|>", "<|eot_id|>")
        .expect("compiles");
    let before = jiff::ZonedDateTime::now().date().strftime("%d %b %Y").to_string();
    let out = tpl.render(&fx.cases["user"]).expect("renders");
    let after = jiff::ZonedDateTime::now().date().strftime("%d %b %Y").to_string();
    assert!(
        out.contains(&format!("Today Date: {before}\n")) || out.contains(&format!("Today Date: {after}\n")),
        "{out:?}"
    );
}
