//! Integration tests of the local LLM on the real embedded SmolLM2-135M-Instruct GGUF (Q4_1, tokenizer
//! and chat template only in its metadata), installed by scripts/setup.sh.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use copiloot::models::generator::{
    ChatMessage, Engine, GenerationOptions, Generator, LoadOptions, StopReason, TemplateSource,
};
use copiloot::Error;
use std::path::PathBuf;
use std::sync::OnceLock;

fn gguf_path() -> PathBuf {
    let path = common::models_dir().join("smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(path.is_file(), "{} missing: run `bash scripts/setup.sh` first", path.display());
    path
}

fn generator() -> &'static Generator {
    static GEN: OnceLock<Generator> = OnceLock::new();
    GEN.get_or_init(|| match Generator::from_file(&gguf_path(), LoadOptions::default()) {
        Ok(g) => g,
        Err(e) => panic!("loading the generator: {e}"),
    })
}

fn greedy(max_tokens: usize) -> GenerationOptions {
    GenerationOptions { max_tokens, ..GenerationOptions::default() }
}

const CAPITAL: &str = "What is the capital of France? Answer in one short sentence.";

#[test]
fn loads_smollm2_with_metadata_tokenizer_and_template() {
    let info = generator().info();
    assert_eq!(info.tokenizer, "gguf metadata");
    assert_eq!(info.chat_template, TemplateSource::Gguf);
    assert_eq!(info.context_length, 8192, "the file's context (our own llama forward has no table limit)");
    assert_eq!(info.engine, Engine::Copiloot);
    // Our forward keeps the 210 Q4_1 matrices and the Q8_0 embedding as they are.
    assert_eq!(info.requantized_tensors, 0);
}

#[test]
fn tokenizer_matches_llama_cpp_reference_ids() {
    let raw =
        std::fs::read_to_string(common::root().join("benches/reference/generator_tokens.json")).unwrap();
    let cases: Vec<serde_json::Value> = serde_json::from_str(&raw).unwrap();
    assert!(cases.len() >= 6);
    let tok = generator().tokenizer();
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let want: Vec<u32> =
            case["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        let got = tok.encode_fast(text, false).unwrap().get_ids().to_vec();
        assert_eq!(got, want, "ids of {text:?}");
        if !text.contains("<|im_") {
            assert_eq!(tok.decode(&got, true).unwrap(), text, "round trip of {text:?}");
        }
    }
}

#[test]
fn chat_template_renders_chatml_with_the_default_system_prompt() {
    let g = generator();
    let prompt = g.render_prompt(&[ChatMessage::user("Hallo!")]).unwrap();
    assert_eq!(
        prompt,
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n\
         <|im_start|>user\nHallo!<|im_end|>\n<|im_start|>assistant\n"
    );
    let own = g.render_prompt(&[ChatMessage::system("Be brief."), ChatMessage::user("Hi")]).unwrap();
    assert_eq!(
        own,
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    );
    let ids = g.encode_prompt(&own).unwrap();
    assert_eq!(ids.first(), Some(&1), "<|im_start|> is one special token");
    assert_eq!(ids.iter().filter(|&&i| i == 2).count(), 2, "two <|im_end|>");
}

#[test]
fn greedy_generation_is_deterministic_streams_and_stops_at_end_of_turn() {
    let g = generator();
    let messages = [ChatMessage::user(CAPITAL)];
    let mut pieces = Vec::new();
    let first = g
        .generate(&messages, &greedy(64), &mut |p| {
            pieces.push(p.to_string());
            true
        })
        .unwrap();
    assert!(first.text.contains("Paris"), "{:?}", first.text);
    assert_eq!(first.stop_reason, StopReason::EndOfTurn, "{:?}", first.text);
    assert!(first.generated_tokens < 64);
    assert!(pieces.len() > 3, "streamed in pieces: {pieces:?}");
    assert_eq!(pieces.concat(), first.text);
    let second = g.generate(&messages, &greedy(64), &mut |_| true).unwrap();
    assert_eq!(second.text, first.text);
    assert_eq!(second.generated_tokens, first.generated_tokens);
}

#[test]
fn max_tokens_and_cancel_stop_generation() {
    let g = generator();
    let messages = [ChatMessage::user("Write a long story about a cat.")];
    let short = g.generate(&messages, &greedy(5), &mut |_| true).unwrap();
    assert_eq!((short.generated_tokens, short.stop_reason), (5, StopReason::Length));
    let mut calls = 0;
    let cancelled = g
        .generate(&messages, &greedy(50), &mut |_| {
            calls += 1;
            false
        })
        .unwrap();
    assert_eq!((calls, cancelled.stop_reason), (1, StopReason::Cancelled));
    assert!(cancelled.generated_tokens <= 2);
}

#[test]
fn seeded_sampling_is_reproducible() {
    let g = generator();
    let messages = [ChatMessage::user("Name three colours.")];
    let opts = |seed| GenerationOptions {
        max_tokens: 24,
        temperature: Some(0.9),
        top_p: Some(0.95),
        seed,
        ..GenerationOptions::default()
    };
    let a = g.generate(&messages, &opts(7), &mut |_| true).unwrap();
    let b = g.generate(&messages, &opts(7), &mut |_| true).unwrap();
    assert_eq!(a.text, b.text);
    assert!(!a.text.is_empty());
    let others: Vec<String> =
        (1..=3).map(|s| g.generate(&messages, &opts(100 + s), &mut |_| true).unwrap().text).collect();
    assert!(others.iter().any(|t| t != &a.text), "different seeds should sample differently somewhere");
}

#[test]
fn every_engine_gives_the_same_greedy_tokens() {
    let load = |requantize_q4_1, engine| {
        Generator::from_file(&gguf_path(), LoadOptions { requantize_q4_1, engine }).unwrap()
    };
    // candle with the file's Q4_1 as it is, candle re-quantised to Q8_0, and our own int8 forward.
    let plain = load(false, Engine::Candle);
    let requantised = load(true, Engine::Candle);
    let own = generator();
    assert_eq!(plain.info().requantized_tensors, 0);
    assert!(requantised.info().requantized_tensors > 200);
    assert_eq!(
        (plain.info().engine, requantised.info().engine, own.info().engine),
        (Engine::Candle, Engine::Candle, Engine::Copiloot)
    );
    for prompt in
        [CAPITAL, "Summarize: the customer's internet drops every evening; a technician comes on Thursday."]
    {
        let messages = [ChatMessage::user(prompt)];
        let a = plain.generate(&messages, &greedy(24), &mut |_| true).unwrap();
        let b = requantised.generate(&messages, &greedy(24), &mut |_| true).unwrap();
        let c = own.generate(&messages, &greedy(24), &mut |_| true).unwrap();
        assert_eq!(a.text, b.text, "Q4_1 as is vs re-quantised to Q8_0 on {prompt:?}");
        assert_eq!(b.text, c.text, "candle vs copiloot's forward on {prompt:?}");
    }
}

#[test]
fn prompt_longer_than_the_context_is_a_typed_error() {
    // Our own forward runs the file's whole 8192-token context; candle's llama port stops at 4096.
    assert_eq!(generator().info().context_length, 8192);
    let long = "word ".repeat(9000);
    let err = generator().generate(&[ChatMessage::user(long)], &greedy(8), &mut |_| true).unwrap_err();
    assert!(matches!(err, Error::InputTooLarge { limit: 8191, .. }), "{err}");
}

#[test]
fn truncated_gguf_is_a_typed_error() {
    let bytes = std::fs::read(gguf_path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for cut in [3, 64, 2_000_000, bytes.len() - 1000] {
        let path = dir.path().join(format!("cut{cut}.gguf"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let err = Generator::from_file(&path, LoadOptions::default()).err().unwrap();
        assert!(matches!(err, Error::ModelLoad { .. }), "cut at {cut}: {err}");
        assert!(err.to_string().contains("truncated") || err.to_string().contains("not a GGUF"), "{err}");
    }
}

/// A tiny GGUF with a byte-level BPE vocabulary of 4 tokens and the given extra metadata.
fn tiny_gguf(arch: &str, template: &str) -> tempfile::NamedTempFile {
    let s = |v: &str| Value::String(v.to_string());
    let tokens = Value::Array(["a", "b", "ab", "<|im_end|>"].iter().map(|t| s(t)).collect());
    let merges = Value::Array(vec![s("a b")]);
    let meta: Vec<(&str, Value)> = vec![
        ("general.architecture", s(arch)),
        ("tokenizer.ggml.model", s("gpt2")),
        ("tokenizer.ggml.tokens", tokens),
        ("tokenizer.ggml.merges", merges),
        ("tokenizer.ggml.eos_token_id", Value::U32(3)),
        ("tokenizer.chat_template", s(template)),
    ];
    let t = QTensor::quantize(
        &Tensor::zeros((2, 32), candle_core::DType::F32, &Device::Cpu).unwrap(),
        GgmlDType::F32,
    )
    .unwrap();
    let refs: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (*k, v)).collect();
    let file = tempfile::Builder::new().suffix(".gguf").tempfile().unwrap();
    let mut f = std::fs::File::create(file.path()).unwrap();
    gguf_file::write(&mut f, &refs, &[("token_embd.weight", &t)]).unwrap();
    file
}

#[test]
fn unsupported_architecture_is_a_typed_error() {
    let file = tiny_gguf("mamba", "{{ messages }}");
    let err = Generator::from_file(file.path(), LoadOptions::default()).err().unwrap();
    assert!(matches!(err, Error::ModelLoad { .. }), "{err}");
    assert!(err.to_string().contains("`mamba` is not supported"), "{err}");
}

#[test]
fn broken_chat_template_is_a_typed_error() {
    let file = tiny_gguf("llama", "{% for m in messages %}{{ m.content }");
    let err = Generator::from_file(file.path(), LoadOptions::default()).err().unwrap();
    assert!(matches!(err, Error::ModelLoad { .. }), "{err}");
    assert!(err.to_string().contains("chat template"), "{err}");
}

#[test]
fn weights_missing_from_a_valid_header_are_a_typed_error() {
    let file = tiny_gguf("llama", "{{ messages[0].content }}");
    let err = Generator::from_file(file.path(), LoadOptions::default()).err().unwrap();
    assert!(matches!(err, Error::ModelLoad { .. }), "{err}");
}

#[test]
fn rewrite_keeps_evidence_and_flags_what_the_conversation_lacks() {
    use copiloot::tasks::summary::rewrite::{rewrite_summary, GroundedField, PromptTurn};
    let turn =
        |index, speaker: &str, text: &str| PromptTurn { index, speaker: speaker.into(), text: text.into() };
    let turns = [
        turn(0, "Customer", "My internet has been dropping every evening since Tuesday."),
        turn(
            1,
            "Agent",
            "The line test shows noise on the line; I will send a technician on Thursday morning.",
        ),
        turn(2, "Customer", "Thank you."),
    ];
    let fields = [
        GroundedField { name: "reason".into(), text: "internet drops every evening".into(), turns: vec![0] },
        GroundedField {
            name: "next step".into(),
            text: "technician on Thursday morning".into(),
            turns: vec![1],
        },
    ];
    let r = rewrite_summary(generator(), &fields, &turns, "English", &greedy(48), &mut |_| true).unwrap();
    assert!(!r.text.is_empty());
    assert_eq!(r.evidence_turns, vec![0, 1]);
    let sources: Vec<&str> = turns.iter().map(|t| t.text.as_str()).collect();
    for claim in &r.unsupported_claims {
        assert!(!sources.iter().any(|s| s.contains(&claim.text)), "{claim:?} does occur in the conversation");
        assert_eq!(r.text.get(claim.start..claim.end), Some(claim.text.as_str()));
    }
}

fn copilot_with_generator(max_tokens: usize) -> copiloot::Copilot {
    let options = copiloot::CopilotOptions {
        models_dir: Some(common::models_dir()),
        generator: Some(copiloot::models::ModelSource::Gguf { path: gguf_path() }),
        generation: greedy(max_tokens),
        ..Default::default()
    };
    copiloot::Copilot::new(options).unwrap()
}

fn fixture_conversation(name: &str) -> copiloot::Conversation {
    let path = common::conversation(name);
    let text = std::fs::read_to_string(&path).unwrap();
    copiloot::conversation::parse_str("fixture", &text, &Default::default()).unwrap()
}

#[test]
fn the_copilot_rewrites_the_summary_note_and_streams_it() {
    let copilot = copilot_with_generator(40);
    let conversation = fixture_conversation("en_internet_outage.txt");
    let mut streamed = String::new();
    let analysis = copilot
        .analyze_streaming(&conversation, &mut |piece| {
            streamed.push_str(piece);
            true
        })
        .unwrap();
    assert!(
        analysis.models.generator.as_deref().is_some_and(|g| g.contains("SmolLM2")),
        "{:?}",
        analysis.models
    );
    let summary = analysis.summary.unwrap();
    let rewrite = summary.rewrite.as_ref().expect("a generator is set, so the summary has a rewrite");
    assert!(!rewrite.text.is_empty());
    assert_eq!(rewrite.text, streamed.trim(), "the streamed pieces are the rewrite");
    // The rewrite keeps the evidence of the grounded fields it was written from.
    let mut cited: Vec<usize> = summary.reason.iter().flat_map(|r| r.turns.clone()).collect();
    cited.extend(summary.actions.iter().flat_map(|a| a.turns.clone()));
    cited.extend(summary.resolution.turns.iter().copied());
    cited.extend(summary.next_steps.iter().flat_map(|n| n.turns.clone()));
    cited.sort_unstable();
    cited.dedup();
    assert_eq!(rewrite.evidence_turns, cited);
    // A short conversation fits the context whole.
    let all: Vec<usize> = conversation.turns.iter().map(|t| t.index).collect();
    assert_eq!(rewrite.prompt_turns, all);
    // Flagged claims point into the note; the speaker labels the model saw are not invented names.
    for claim in &rewrite.unsupported_claims {
        assert_eq!(rewrite.text.get(claim.start..claim.end), Some(claim.text.as_str()));
        assert!(!["Customer", "Agent"].contains(&claim.text.as_str()), "{claim:?}");
    }
    // What the model dropped is listed (each one a fact the grounded summary found) and re-added in the
    // closing sentence, which was streamed too: the note keeps every grounded fact.
    let found: Vec<&str> = summary.entities.iter().map(|e| e.value.as_str()).collect();
    for fact in &rewrite.missing_facts {
        assert!(found.contains(&fact.as_str()), "{fact} is not a grounded fact");
    }
    match &rewrite.withheld {
        None => {
            assert_eq!(rewrite.restored_facts, rewrite.missing_facts);
            if !rewrite.restored_facts.is_empty() {
                let details = format!("Details: {}.", rewrite.restored_facts.join(", "));
                assert!(rewrite.text.ends_with(&details), "{}", rewrite.text);
            }
        }
        // A withheld rewrite is kept as the model wrote it: nothing is added to a text nobody is shown.
        Some(why) => {
            assert!(rewrite.restored_facts.is_empty(), "{rewrite:?}");
            assert!(
                summary.warnings.contains(&format!("LLM rewrite withheld: {why}")),
                "{:?}",
                summary.warnings
            );
        }
    }
    // Greedy decoding: the same rewrite again.
    let again = copilot.summarize(&conversation).unwrap();
    assert_eq!(again.rewrite.unwrap().text, rewrite.text);
}

#[test]
fn a_conversation_longer_than_the_context_gives_the_model_only_the_cited_turns() {
    let copilot = copilot_with_generator(8);
    let mut transcript =
        String::from("Customer: My internet has been dropping every evening since Tuesday.\n");
    for i in 0..220 {
        transcript.push_str(&format!(
            "Agent: I am checking the settings of your modem and the line, step {i} of the diagnosis.\n\
             Customer: Okay, the lights on the modem are still blinking orange, nothing has changed.\n"
        ));
    }
    transcript.push_str("Agent: I will send a technician on Thursday morning.\nCustomer: Thank you.\n");
    let conversation = copiloot::conversation::parse_str("long", &transcript, &Default::default()).unwrap();
    let summary = copilot.summarize(&conversation).unwrap();
    let rewrite = summary.rewrite.expect("a long conversation still gets a rewrite");
    assert!(
        rewrite.prompt_turns.len() < conversation.turns.len(),
        "{} turns in the prompt",
        rewrite.prompt_turns.len()
    );
    assert_eq!(rewrite.prompt_turns, rewrite.evidence_turns, "only the cited turns");
}

#[test]
fn the_gate_passes_or_withholds_the_rewrite_of_a_dutch_call_with_a_reason() {
    use copiloot::conversation::detect_language;
    use copiloot::tasks::summary::rewrite::prompt_labels;
    let copilot = copilot_with_generator(48);
    let conversation = fixture_conversation("nl_telecom_opzegging.txt");
    let summary = copilot.summarize(&conversation).unwrap();
    assert_eq!(summary.language, "nl");
    assert!(
        summary.text.starts_with("Klant wil mobiele abonnement opzeggen."),
        "the grounded note: {}",
        summary.text
    );
    let rewrite = summary.rewrite.as_ref().expect("a generator is set, so the summary has a rewrite");
    let model_text = match rewrite.text.rfind("Details: ") {
        Some(i) if rewrite.withheld.is_none() => rewrite.text[..i].trim(),
        _ => rewrite.text.as_str(),
    };
    eprintln!(
        "rewrite: {:?}\nwithheld: {:?}\nstop: {:?}",
        rewrite.text, rewrite.withheld, rewrite.stop_reason
    );
    match &rewrite.withheld {
        // Passed: Dutch, no loop, no prompt label, nothing the conversation lacks.
        None => {
            assert_eq!(detect_language(model_text).map(|g| g.code).as_deref(), Some("nl"), "{model_text}");
            assert_ne!(rewrite.stop_reason, copiloot::models::generator::StopReason::Repetition);
            assert!(rewrite.unsupported_claims.is_empty(), "{:?}", rewrite.unsupported_claims);
            let lower = model_text.to_lowercase();
            assert!(prompt_labels().iter().all(|l| !lower.contains(&format!("{}:", l.to_lowercase()))));
        }
        // Withheld: the reason names what is wrong, the warning repeats it, and the note is the grounded one.
        Some(why) => {
            let known = [
                "it loops",
                "prompt's labels",
                "the conversation in Dutch",
                "into a Dutch note",
                "does not contain",
                "too short",
            ];
            assert!(known.iter().any(|k| why.contains(k)), "{why}");
            assert!(
                summary.warnings.contains(&format!("LLM rewrite withheld: {why}")),
                "{:?}",
                summary.warnings
            );
            if rewrite.stop_reason == copiloot::models::generator::StopReason::Repetition {
                assert!(why.contains("it loops"), "{why}");
            }
        }
    }
}

#[test]
fn a_looping_dutch_rewrite_is_stopped_and_withheld_and_the_grounded_note_stands() {
    use copiloot::models::generator::StopReason;
    // SmolLM2-135M repeats "van 245 euro voor de fysiotherapeut is afgewezen en ik begrijp niet waarom."
    // on this call: the guard (on by default for notes) stops it and the gate withholds it.
    let copilot = copilot_with_generator(256);
    let summary = copilot.summarize(&fixture_conversation("nl_verzekering_afgewezen.txt")).unwrap();
    let rewrite = summary.rewrite.as_ref().unwrap();
    assert_eq!(rewrite.stop_reason, StopReason::Repetition, "{:?}", rewrite.text);
    assert_eq!(rewrite.withheld.as_deref(), Some("it loops (generation stopped on a repeated phrase)"));
    assert!(summary.warnings.iter().any(|w| w.starts_with("LLM rewrite withheld: it loops")));
    assert!(
        summary.text.starts_with("Klant geeft aan:") && !summary.text.contains("Details:"),
        "{}",
        summary.text
    );
    assert!(rewrite.restored_facts.is_empty() && !rewrite.text.contains("Details:"), "{}", rewrite.text);
}
