//! Where fine-tuning writes its result: a hidden `.NAME.partial` folder renamed into place at the end
//! (so a failed run leaves nothing half-written), and the files of a tuned encoder folder.

use super::bert_layers::BertWeights;
use crate::error::{Error, Result};
use crate::models::{Encoder, TextRole};
use std::path::Path;

/// Runs `write` on an empty hidden folder next to `out` and renames it to `out` when it succeeds (an
/// existing `out` is replaced); on failure the hidden folder is removed and `out` left as it was.
pub(super) fn write_atomically<T>(out: &Path, write: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let tmp = partial_folder(out)?;
    let result = write(&tmp).and_then(|value| {
        if out.exists() {
            std::fs::remove_dir_all(out).map_err(|e| Error::io(out, e))?;
        }
        std::fs::rename(&tmp, out).map_err(|e| Error::io(out, e))?;
        Ok(value)
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// Files of the base folder copied unchanged next to the tuned weights.
const COPIED: &[&str] = &[
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
];

/// An empty hidden folder `.NAME.partial` next to `out`, where the result is written before the rename.
fn partial_folder(out: &Path) -> Result<std::path::PathBuf> {
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let name = out.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "model".into());
    let tmp = parent.join(format!(".{name}.partial"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    Ok(tmp)
}

/// Writes the tuned encoder into `tmp`: the weights, the base folder's other files, and the prompts
/// (written explicitly: the e5 default is recognised by name, which the copy no longer has).
pub(super) fn write_encoder(
    weights: &BertWeights,
    base_dir: &Path,
    encoder: &Encoder,
    tmp: &Path,
) -> Result<()> {
    std::fs::create_dir_all(tmp.join("1_Pooling")).map_err(|e| Error::io(tmp, e))?;
    for f in COPIED {
        let src = base_dir.join(f);
        if src.is_file() {
            std::fs::copy(&src, tmp.join(f)).map_err(|e| Error::io(&src, e))?;
        }
    }
    if !tmp.join("1_Pooling/config.json").is_file() {
        let pooling =
            serde_json::json!({"word_embedding_dimension": encoder.dim(), "pooling_mode_mean_tokens": true});
        write(&tmp.join("1_Pooling/config.json"), &pooling.to_string())?;
        let modules = serde_json::json!([
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
        ]);
        write(&tmp.join("modules.json"), &modules.to_string())?;
    }
    let prompts = serde_json::json!({
        "prompts": {"query": encoder.prompt(TextRole::Query), "passage": encoder.prompt(TextRole::Passage)},
        "default_prompt_name": null
    });
    write(&tmp.join("config_sentence_transformers.json"), &prompts.to_string())?;
    let weights_path = tmp.join("model.safetensors");
    candle_core::safetensors::save(&weights.tensors, &weights_path)
        .map_err(|e| Error::io(&weights_path, std::io::Error::other(e.to_string())))
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}
