//! A head on disk: `head.safetensors` (f32 tensors) and `head.json` ([`HeadMeta`]), written by
//! [`LinearHead::save`] and checked field by field by [`LinearHead::load`].

use super::{HeadKind, HeadMeta, Hidden, LinearHead, FORMAT, FORMAT_VERSION, META_FILE, WEIGHTS_FILE};
use crate::error::{Error, Result};
use safetensors::tensor::TensorView;
use std::path::Path;

impl LinearHead {
    /// Writes `head.safetensors` and `head.json` into `dir` (created if needed).
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let c = self.bias.len();
        let bytes = |v: &[f32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
        let width = self.hidden.as_ref().map_or(self.meta.dim, |h| h.bias.len());
        let mut arrays =
            vec![("bias", vec![c], bytes(&self.bias)), ("weight", vec![c, width], bytes(&self.weight))];
        if let Some(h) = &self.hidden {
            arrays.push(("hidden.bias", vec![width], bytes(&h.bias)));
            arrays.push(("hidden.weight", vec![width, self.meta.dim], bytes(&h.weight)));
        }
        let tensors = arrays.iter().map(|(name, shape, data)| {
            (*name, TensorView::new(safetensors::Dtype::F32, shape.clone(), data))
        });
        let mut views = Vec::new();
        for (name, view) in tensors {
            views.push((name, view.map_err(|e| Error::Inference(format!("building head tensor: {e}")))?));
        }
        let path = dir.join(WEIGHTS_FILE);
        safetensors::tensor::serialize_to_file(views, None, &path)
            .map_err(|e| Error::io(&path, std::io::Error::other(e.to_string())))?;
        let meta_path = dir.join(META_FILE);
        let json = serde_json::to_string_pretty(&self.meta)
            .map_err(|e| Error::io(&meta_path, std::io::Error::other(e.to_string())))?;
        std::fs::write(&meta_path, json + "\n").map_err(|e| Error::io(&meta_path, e))
    }

    /// Reads a head saved by [`Self::save`]; checks the format, shapes and labels.
    pub fn load(dir: &Path) -> Result<LinearHead> {
        let meta_path = dir.join(META_FILE);
        let text = std::fs::read_to_string(&meta_path).map_err(|e| {
            Error::model_load(
                dir,
                format!("cannot read {META_FILE} ({e}); is this a folder written by `copiloot train`?"),
            )
        })?;
        let meta: HeadMeta = serde_json::from_str(&text).map_err(|e| Error::model_load(&meta_path, e))?;
        if meta.format != FORMAT || meta.format_version > FORMAT_VERSION {
            return Err(Error::model_load(
                &meta_path,
                format!(
                    "unsupported head format `{}` v{}; expected `{FORMAT}` v{FORMAT_VERSION}",
                    meta.format, meta.format_version
                ),
            ));
        }
        let vectors = meta.layers.as_ref().map_or(0, Vec::len) + usize::from(meta.branch.is_some());
        if let Some(branch) = &meta.branch {
            let plain = Path::new(&branch.file).file_name().is_some_and(|f| f == branch.file.as_str());
            if !plain || branch.layers == 0 || !meta.dim.is_multiple_of(vectors) {
                return Err(Error::model_load(
                    &meta_path,
                    format!(
                        "`branch` {branch:?} does not fit a head of width {}: the file must be a name in the \
                         head's folder and the branch at least one layer — train the head again",
                        meta.dim
                    ),
                ));
            }
        }
        if let Some(layers) = &meta.layers {
            if layers.is_empty() || !meta.dim.is_multiple_of(vectors) {
                return Err(Error::model_load(
                    &meta_path,
                    format!(
                        "`layers` {layers:?} does not divide the head width {}; the file is damaged — train \
                         the head again",
                        meta.dim
                    ),
                ));
            }
        }
        if meta.labels.len() < 2 {
            return Err(Error::model_load(&meta_path, "a head needs at least two labels in `labels`"));
        }
        if meta.temperature.is_some_and(|t| !(t.is_finite() && t > 0.0)) {
            return Err(Error::model_load(&meta_path, "`temperature` must be a positive number"));
        }
        match (meta.kind, meta.hidden) {
            (HeadKind::Linear, None) => {}
            (HeadKind::Mlp, Some(h)) if h > 0 && meta.format_version >= 3 => {}
            (kind, hidden) => {
                return Err(Error::model_load(
                    &meta_path,
                    format!(
                        "`kind` {kind:?} with `hidden` {hidden:?} (format v{}): a linear head has no hidden \
                         width and an MLP head (v3) needs one — the file is damaged, train the head again",
                        meta.format_version
                    ),
                ))
            }
        }
        let weights_path = dir.join(WEIGHTS_FILE);
        let bytes = std::fs::read(&weights_path).map_err(|e| Error::io(&weights_path, e))?;
        let st =
            safetensors::SafeTensors::deserialize(&bytes).map_err(|e| Error::model_load(&weights_path, e))?;
        let c = meta.labels.len();
        let width = meta.hidden.unwrap_or(meta.dim);
        let weight = read_f32(&st, "weight", &[c, width], &weights_path)?;
        let bias = read_f32(&st, "bias", &[c], &weights_path)?;
        let hidden = match meta.hidden {
            Some(h) => Some(Box::new(Hidden {
                weight: read_f32(&st, "hidden.weight", &[h, meta.dim], &weights_path)?,
                bias: read_f32(&st, "hidden.bias", &[h], &weights_path)?,
            })),
            None => None,
        };
        Ok(LinearHead { meta, weight, bias, hidden })
    }
}

fn read_f32(st: &safetensors::SafeTensors, name: &str, shape: &[usize], path: &Path) -> Result<Vec<f32>> {
    let t = st.tensor(name).map_err(|e| Error::model_load(path, format!("tensor `{name}`: {e}")))?;
    if t.dtype() != safetensors::Dtype::F32 || t.shape() != shape {
        return Err(Error::model_load(
            path,
            format!(
                "tensor `{name}` is {:?} {:?}, expected F32 {shape:?} (labels and weights disagree)",
                t.dtype(),
                t.shape()
            ),
        ));
    }
    Ok(t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}
