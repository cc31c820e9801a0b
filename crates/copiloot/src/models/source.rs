//! Where a model comes from — a local folder, a `.gguf` file or a hub id — and resolving it to local files.
//!
//! This is the only place that may touch the network (through hf-hub). Model code receives paths.

use crate::error::{Error, Result};
use hf_hub::{Cache, Repo, RepoType};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A model as the user names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ModelSource {
    /// A folder in Hugging Face layout (`config.json`, `model.safetensors`, `tokenizer.json`).
    Folder { path: PathBuf },
    /// A single GGUF file (quantised decoder models).
    Gguf { path: PathBuf },
    /// A Hugging Face hub repository, `org/name` with an optional `@revision`.
    Hub { repo: String, revision: Option<String> },
    /// One file of a hub repository, `org/name[@revision]:file.gguf` (GGUF repos hold many quantisations).
    HubFile { repo: String, revision: Option<String>, file: String },
}

/// Files every encoder folder needs, and optional sentence-transformers files we read when present.
pub const ENCODER_REQUIRED_FILES: &[&str] = &["config.json", "tokenizer.json", "model.safetensors"];
pub const ENCODER_OPTIONAL_FILES: &[&str] = &[
    "modules.json",
    "1_Pooling/config.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "tokenizer_config.json",
];

impl ModelSource {
    /// Interpret a user string: an existing path wins; `*.gguf` is a GGUF file; `org/name[@rev]` a hub id;
    /// `org/name[@rev]:file.gguf` one GGUF file of a hub repository.
    pub fn parse(spec: &str) -> Result<Self> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(Error::Config("empty model name; pass a folder, a .gguf file or a hub id".into()));
        }
        let path = Path::new(spec);
        if let Some((repo_spec, file)) = spec.split_once(':') {
            let is_hub = repo_spec.matches('/').count() == 1 && !repo_spec.starts_with(['.', '/']);
            if !path.exists() && is_hub && !file.is_empty() {
                let (repo, revision) = match repo_spec.split_once('@') {
                    Some((r, rev)) => (r.to_string(), Some(rev.to_string())),
                    None => (repo_spec.to_string(), None),
                };
                return Ok(Self::HubFile { repo, revision, file: file.to_string() });
            }
        }
        let is_gguf = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf"));
        if path.exists() {
            return Ok(if is_gguf {
                Self::Gguf { path: path.to_path_buf() }
            } else {
                Self::Folder { path: path.to_path_buf() }
            });
        }
        if is_gguf || spec.starts_with('.') || spec.starts_with('/') || spec.matches('/').count() != 1 {
            return Err(Error::ModelNotFound {
                source_id: spec.to_string(),
                hint: "no such file or folder; a hub id looks like `org/name` or `org/name@revision`".into(),
            });
        }
        let (repo, revision) = match spec.split_once('@') {
            Some((r, rev)) => (r.to_string(), Some(rev.to_string())),
            None => (spec.to_string(), None),
        };
        Ok(Self::Hub { repo, revision })
    }

    /// A short stable name for reports (`models` field of the Analysis).
    pub fn id(&self) -> String {
        match self {
            Self::Folder { path } | Self::Gguf { path } => path.display().to_string(),
            Self::Hub { repo, revision: Some(rev) } => format!("{repo}@{rev}"),
            Self::Hub { repo, revision: None } => repo.clone(),
            Self::HubFile { repo, revision: Some(rev), file } => format!("{repo}@{rev}:{file}"),
            Self::HubFile { repo, revision: None, file } => format!("{repo}:{file}"),
        }
    }

    /// Make an encoder available as a local folder: the folder itself, or the hub snapshot holding its files.
    pub fn resolve_encoder_folder(&self) -> Result<PathBuf> {
        match self {
            Self::Folder { path } => {
                check_folder(path)?;
                Ok(path.clone())
            }
            Self::Gguf { path } => Err(Error::Config(format!(
                "{} is a GGUF file; encoders are loaded from a Hugging Face folder or hub id",
                path.display()
            ))),
            Self::HubFile { .. } => Err(Error::Config(format!(
                "{} names one file; encoders are loaded from a Hugging Face folder or hub id (`org/name`)",
                self.id()
            ))),
            Self::Hub { repo, revision } => {
                let mut folder = None;
                for file in ENCODER_REQUIRED_FILES {
                    let path = fetch_hub_file(repo, revision.as_deref(), file, true)?;
                    folder = path.parent().map(Path::to_path_buf);
                }
                for file in ENCODER_OPTIONAL_FILES {
                    // Optional files: absence is normal, and a failed fetch only loses a refinement.
                    let _ = fetch_hub_file(repo, revision.as_deref(), file, false);
                }
                folder.ok_or_else(|| Error::ModelNotFound {
                    source_id: self.id(),
                    hint: "empty hub snapshot".into(),
                })
            }
        }
    }

    /// Make a GGUF model available as a local file: the file itself, or the hub file
    /// (`org/name[@revision]:file.gguf`) from the cache, downloaded unless `HF_HUB_OFFLINE` is set.
    pub fn resolve_gguf_file(&self) -> Result<PathBuf> {
        match self {
            Self::Gguf { path } => Ok(path.clone()),
            Self::HubFile { repo, revision, file } => fetch_hub_file(repo, revision.as_deref(), file, true),
            Self::Hub { repo, .. } => Err(Error::Config(format!(
                "{repo} is a hub repository; name the GGUF file in it: `{repo}:FILE.gguf` (or `{repo}@REVISION:FILE.gguf`)"
            ))),
            Self::Folder { path } => single_gguf_in(path),
        }
    }
}

/// An installed generator folder (`models/smollm2-135m-instruct`) holds one `.gguf`: that file.
fn single_gguf_in(dir: &Path) -> Result<PathBuf> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut ggufs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("gguf")))
        .collect();
    ggufs.sort();
    match ggufs.len() {
        1 => Ok(ggufs.remove(0)),
        n => Err(Error::Config(format!(
            "{} holds {n} .gguf files; the generator loads one (pass the file's path)",
            dir.display()
        ))),
    }
}

fn check_folder(path: &Path) -> Result<()> {
    let missing: Vec<&str> =
        ENCODER_REQUIRED_FILES.iter().copied().filter(|f| !path.join(f).is_file()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::ModelNotFound {
        source_id: path.display().to_string(),
        hint: format!(
            "the folder lacks {}; a model folder needs {} (Hugging Face layout). For the defaults run `copiloot models install`",
            missing.join(", "),
            ENCODER_REQUIRED_FILES.join(", ")
        ),
    })
}

/// `HF_HUB_OFFLINE=1` (or `true`/`yes`) means: use the local cache only, never the network.
pub fn hub_offline() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

fn fetch_hub_file(repo: &str, revision: Option<&str>, file: &str, required: bool) -> Result<PathBuf> {
    let hub_repo = match revision {
        Some(rev) => Repo::with_revision(repo.to_string(), RepoType::Model, rev.to_string()),
        None => Repo::new(repo.to_string(), RepoType::Model),
    };
    let not_found = |why: String| Error::ModelNotFound {
        source_id: repo.to_string(),
        hint: format!(
            "{why}. Download it once with internet access (unset HF_HUB_OFFLINE), pass a local folder in \
             Hugging Face layout, or use the embedded defaults (`copiloot models install`)"
        ),
    };
    if let Some(path) = Cache::from_env().repo(hub_repo.clone()).get(file) {
        return Ok(path);
    }
    if hub_offline() {
        return Err(not_found(format!("`{file}` is not in the hub cache and HF_HUB_OFFLINE is set")));
    }
    let api = hf_hub::api::sync::ApiBuilder::from_env()
        .with_progress(false)
        .build()
        .map_err(|e| not_found(format!("cannot start the hub client: {e}")))?;
    match api.repo(hub_repo).get(file) {
        Ok(path) => Ok(path),
        Err(e) if required => Err(not_found(format!("could not fetch `{file}`: {e}"))),
        Err(e) => Err(Error::Config(format!("optional file {file}: {e}"))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_hub_ids_with_revisions() {
        assert_eq!(
            ModelSource::parse("intfloat/multilingual-e5-small@main").unwrap(),
            ModelSource::Hub { repo: "intfloat/multilingual-e5-small".into(), revision: Some("main".into()) }
        );
        assert!(matches!(ModelSource::parse("a/b").unwrap(), ModelSource::Hub { revision: None, .. }));
    }

    #[test]
    fn parses_hub_gguf_files_and_resolves_offline_to_a_typed_error() {
        let src =
            ModelSource::parse("Qwen/Qwen2.5-1.5B-Instruct-GGUF@main:qwen2.5-1.5b-instruct-q4_k_m.gguf")
                .unwrap();
        assert_eq!(
            src,
            ModelSource::HubFile {
                repo: "Qwen/Qwen2.5-1.5B-Instruct-GGUF".into(),
                revision: Some("main".into()),
                file: "qwen2.5-1.5b-instruct-q4_k_m.gguf".into()
            }
        );
        assert_eq!(src.id(), "Qwen/Qwen2.5-1.5B-Instruct-GGUF@main:qwen2.5-1.5b-instruct-q4_k_m.gguf");
        assert!(matches!(src.resolve_encoder_folder(), Err(Error::Config(_))));
        let repo_only = ModelSource::parse("Qwen/Qwen2.5-1.5B-Instruct-GGUF").unwrap();
        assert!(repo_only.resolve_gguf_file().unwrap_err().to_string().contains(":FILE.gguf"));
    }

    #[test]
    fn missing_paths_are_not_hub_ids() {
        assert!(matches!(ModelSource::parse("./nope"), Err(Error::ModelNotFound { .. })));
        assert!(matches!(ModelSource::parse("missing.gguf"), Err(Error::ModelNotFound { .. })));
        assert!(matches!(ModelSource::parse("a/b/c"), Err(Error::ModelNotFound { .. })));
        assert!(matches!(ModelSource::parse(" "), Err(Error::Config(_))));
    }

    #[test]
    fn folder_without_weights_says_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        let src = ModelSource::parse(dir.path().to_str().unwrap()).unwrap();
        let err = src.resolve_encoder_folder().unwrap_err().to_string();
        assert!(err.contains("tokenizer.json") && err.contains("model.safetensors"), "{err}");
        assert!(err.contains("copiloot models install"), "{err}");
    }
}
