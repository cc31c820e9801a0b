//! The GGUF families and quant types of issue 21 through the public `Generator`: the random-weight
//! fixtures of `tests/fixtures/gguf/` (llama.cpp's quantizer, `benches/reference/make_gguf_fixtures.py`)
//! run on copiloot's own engine and follow llama.cpp's greedy tokens; what the engine does not run falls
//! back to candle with a note; broken files are typed errors naming the tensor or key. (Logit-level
//! comparisons with llama.cpp are the engine's unit tests, `generator/engine/tests.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use candle_core::quantized::gguf_file::{self, Content};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::Device;
use copiloot::models::generator::{Architecture, Engine, GenerationOptions, Generator, LoadOptions};
use copiloot::Error;
use serde::Deserialize;
use std::io::Cursor;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/gguf")
}

#[derive(Deserialize)]
struct Case {
    file: String,
    family: String,
    prompt: Vec<u32>,
    greedy: Vec<u32>,
    margins: Vec<f32>,
}

#[derive(Deserialize)]
struct Reference {
    cases: Vec<Case>,
}

fn load(path: &Path) -> Result<Generator, Error> {
    Generator::from_file(path, LoadOptions::default())
}

#[test]
fn every_fixture_runs_on_our_engine_and_starts_with_llama_cpps_tokens() {
    let reference: Reference =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("reference.json")).unwrap()).unwrap();
    let mut agree = Vec::new();
    for case in &reference.cases {
        let g = load(&fixtures().join(&case.file)).unwrap();
        let info = g.info();
        assert_eq!(info.engine, Engine::Copiloot, "{}: {:?}", case.file, info.engine_note);
        let family = Architecture::from_gguf_name(&case.family).unwrap();
        assert_eq!(info.architecture, family, "{}", case.file);
        // Greedy from llama.cpp's prompt ids: the two engines may part only where llama.cpp's own top-2
        // margin is small (under 1 logit, 4 % of the logits' spread), where their different rounding can
        // pick the other token. The fixture's vocabulary is made up, so its end-of-text id can come up:
        // generation then stops there, and llama.cpp (which does not stop) must have that id next.
        let options = GenerationOptions { max_tokens: case.greedy.len(), ..GenerationOptions::default() };
        let ours = g.generate_from_ids(&case.prompt, &options, &mut |_| true).unwrap().ids;
        let same = ours.iter().zip(&case.greedy).take_while(|(a, b)| a == b).count();
        if same < case.greedy.len() {
            let eos = same == ours.len() && case.greedy[same] == 2;
            assert!(
                eos || case.margins[same] < 1.0,
                "{}: parts at step {same}, margin {}",
                case.file,
                case.margins[same]
            );
        }
        agree.push(format!("{} {same}/{}", case.file, case.greedy.len()));
    }
    eprintln!("same leading greedy tokens as llama.cpp: {}", agree.join(", "));
}

/// The fixture `name` read back, with `meta` applied to its header and `edit` to its tensors, written to
/// a temporary file.
fn rewritten(
    name: &str,
    meta: impl Fn(&mut Content),
    edit: impl Fn(&str, QTensor) -> QTensor,
) -> tempfile::NamedTempFile {
    let bytes = std::fs::read(fixtures().join(name)).unwrap();
    let mut content = Content::read(&mut Cursor::new(&bytes)).unwrap();
    meta(&mut content);
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let tensors: Vec<(&str, QTensor)> = names
        .iter()
        .map(|n| (n.as_str(), edit(n, content.tensor(&mut Cursor::new(&bytes), n, &Device::Cpu).unwrap())))
        .collect();
    let metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .filter(|(k, _)| k.as_str() != "general.alignment")
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    let file = tempfile::Builder::new().suffix(".gguf").tempfile().unwrap();
    gguf_file::write(&mut std::fs::File::create(file.path()).unwrap(), &metadata, &refs).unwrap();
    file
}

#[test]
fn a_quant_type_the_engine_does_not_run_falls_back_to_candle_with_a_note() {
    // Q3_K (as in a Q3_K_M file): our engine leaves it to candle, which keeps its 3-bit memory.
    let file = rewritten(
        "qwen2-Q8_0.gguf",
        |_| {},
        |name, t| {
            if name == "blk.1.ffn_up.weight" {
                QTensor::quantize(&t.dequantize(&Device::Cpu).unwrap(), GgmlDType::Q3K).unwrap()
            } else {
                t
            }
        },
    );
    let g = load(file.path()).unwrap();
    assert_eq!(g.info().engine, Engine::Candle);
    assert_eq!(g.info().engine_note.as_deref(), Some("tensor `blk.1.ffn_up.weight` is Q3K"));
    let out = g.generate_from_ids(
        &[5, 6, 7],
        &GenerationOptions { max_tokens: 3, ..Default::default() },
        &mut |_| true,
    );
    assert!(out.is_ok(), "{out:?}");
}

#[test]
fn a_truncated_k_quant_tensor_is_a_typed_error_naming_it() {
    let bytes = std::fs::read(fixtures().join("qwen3-Q4_K_M.gguf")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.gguf");
    std::fs::write(&path, &bytes[..bytes.len() - 5000]).unwrap();
    let err = load(&path).err().unwrap();
    assert!(matches!(err, Error::ModelLoad { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("truncated: tensor `") && text.contains("download it again"), "{text}");
}

#[test]
fn an_unknown_quant_type_is_a_typed_error() {
    let mut bytes = std::fs::read(fixtures().join("llama-Q8_0.gguf")).unwrap();
    // The tensor info after the name "output_norm.weight": u32 dims count, u64 dims, u32 type.
    let name = b"output_norm.weight";
    let at = bytes.windows(name.len()).position(|w| w == name).unwrap() + name.len();
    let dims = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let ty = at + 4 + 8 * dims;
    bytes[ty..ty + 4].copy_from_slice(&99u32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unknown-type.gguf");
    std::fs::write(&path, &bytes).unwrap();
    let err = load(&path).err().unwrap();
    assert!(matches!(err, Error::ModelLoad { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("unknown dtype for tensor 99") && text.contains("tensor type"), "{text}");
}

#[test]
fn a_family_without_a_required_key_is_a_typed_error_naming_it() {
    let file = rewritten(
        "gemma3-Q8_0.gguf",
        |c| drop(c.metadata.remove("gemma3.attention.sliding_window")),
        |_, t| t,
    );
    // Our engine names the key; candle's gemma3 needs it too, so the load fails with a typed error.
    let err = load(file.path()).err().unwrap();
    assert!(matches!(err, Error::ModelLoad { .. }), "{err}");
    assert!(err.to_string().contains("gemma3.attention.sliding_window"), "{err}");
}
