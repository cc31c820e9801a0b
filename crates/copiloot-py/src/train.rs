//! Training from Python: fit an intent head on `(texts, labels)`, save and load it, predict, and score it
//! with the metrics of `copiloot eval` (`tasks::metrics::evaluate`).

use crate::copilot_class::PyCopilot;
use crate::errors::{guarded, Failure};
use copiloot::eval::metrics::evaluate as evaluate_labels;
use copiloot::tasks::check_text;
use copiloot::tasks::intent::{IntentModel, IntentOptions};
use copiloot::tasks::TextEmbedder;
use copiloot::training::head::{check_labels, select_l2, ClassWeight, LinearHead, TrainConfig, L2_GRID};
use copiloot::{Error, Location};
use pyo3::prelude::*;
use std::path::PathBuf;

/// A multinomial logistic-regression head on frozen embeddings (what `copiloot train intent` fits).
#[pyclass(name = "IntentHead", module = "copiloot._native", frozen)]
pub struct PyIntentHead {
    model: IntentModel,
}

impl PyIntentHead {
    fn head(&self) -> Option<&LinearHead> {
        match &self.model {
            IntentModel::Head(h) => Some(h),
            _ => None,
        }
    }
}

/// Embeds `texts` with the copilot's encoder after the CLI's checks (no empty texts, supported script).
fn embed_checked(copilot: &PyCopilot, texts: &[String]) -> Result<Vec<Vec<f32>>, Failure> {
    for (i, t) in texts.iter().enumerate() {
        check_text(t, || Location::field(format!("texts[{i}]")))?;
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    Ok(copilot.inner.encoder().embed_for_classification(&refs)?)
}

fn same_length(texts: &[String], labels: &[String], names: (&str, &str)) -> Result<(), Failure> {
    if texts.len() != labels.len() {
        let (a, b) = names;
        return Err(Failure::Core(Error::invalid(
            Location::field(b),
            format!("{} {a} but {} {b}; pass lists of the same length", texts.len(), labels.len()),
        )));
    }
    Ok(())
}

#[pymethods]
impl PyIntentHead {
    /// Embed `texts` with `copilot`'s encoder and fit the head (GIL released). `cv=k` picks the L2
    /// strength by k-fold cross-validation, as `copiloot train --cv k`.
    #[staticmethod]
    #[pyo3(signature = (copilot, texts, labels, *, l2=None, cv=None, class_weight="balanced", max_iter=500))]
    #[allow(clippy::too_many_arguments)]
    fn train(
        py: Python<'_>,
        copilot: PyRef<'_, PyCopilot>,
        texts: Vec<String>,
        labels: Vec<String>,
        l2: Option<f64>,
        cv: Option<usize>,
        class_weight: &str,
        max_iter: usize,
    ) -> PyResult<Self> {
        let class_weight = match class_weight {
            "balanced" => ClassWeight::Balanced,
            "none" => ClassWeight::None,
            other => {
                return Err(Failure::Core(Error::Config(format!(
                    "unknown class_weight `{other}`; use \"balanced\" (the default) or \"none\""
                )))
                .into_py(py))
            }
        };
        let copilot: &PyCopilot = &copilot;
        py.detach(|| {
            guarded(|| {
                same_length(&texts, &labels, ("texts", "labels"))?;
                check_labels(&labels)?;
                let embeddings = embed_checked(copilot, &texts)?;
                let mut config = TrainConfig { l2, class_weight, max_iter, ..TrainConfig::default() };
                if let Some(folds) = cv {
                    config.l2 = Some(select_l2(&embeddings, &labels, &config, L2_GRID, folds)?.0);
                }
                let encoder = copilot.inner.encoder().model_id();
                let mut head = LinearHead::train("intent", encoder, &embeddings, &labels, &config)?;
                head.set_source(format!("copiloot (Python) IntentHead.train on {} texts", texts.len()));
                Ok(PyIntentHead { model: IntentModel::Head(head) })
            })
        })
        .map_err(|f| f.into_py(py))
    }

    /// Load a head saved by `save` or by `copiloot train intent --out DIR`.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        py.detach(|| {
            guarded(|| {
                let head = LinearHead::load(&path)?;
                head.check_reads_embedding(&path)?;
                Ok(PyIntentHead { model: IntentModel::Head(head) })
            })
        })
        .map_err(|f| f.into_py(py))
    }

    /// Write `head.safetensors` + `head.json` into the folder `path` (created if needed).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let head = self.head();
        py.detach(|| {
            guarded(|| match head {
                Some(h) => Ok(h.save(&path)?),
                None => Err(Failure::Core(Error::Config("only trained heads can be saved".into()))),
            })
        })
        .map_err(|f| f.into_py(py))
    }

    /// The labels, sorted.
    #[getter]
    fn labels(&self) -> Vec<String> {
        self.model.labels()
    }

    /// Model id of the encoder the head reads.
    #[getter]
    fn encoder(&self) -> String {
        self.head().map(|h| h.encoder().to_string()).unwrap_or_default()
    }

    /// `head.json`'s training summary (examples per class, L2, iterations, train accuracy) as JSON.
    fn training_json(&self) -> String {
        self.head().map(|h| serde_json::to_string(&h.meta().training).unwrap_or_default()).unwrap_or_default()
    }

    /// `(label, probability)` per text; the head must fit `copilot`'s encoder.
    fn predict(
        &self,
        py: Python<'_>,
        copilot: PyRef<'_, PyCopilot>,
        texts: Vec<String>,
    ) -> PyResult<Vec<(String, f32)>> {
        let copilot: &PyCopilot = &copilot;
        let model = &self.model;
        py.detach(|| {
            guarded(|| {
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                let p = model.predict_texts(&refs, copilot.inner.encoder(), &IntentOptions::default())?;
                Ok(p.into_iter().map(|p| (p.intent, p.score)).collect())
            })
        })
        .map_err(|f| f.into_py(py))
    }

    /// Accuracy, macro-F1, per-class precision/recall/F1 and the most confused pairs on `(texts, labels)`,
    /// as JSON — the numbers `copiloot eval intent --model DIR` prints.
    #[pyo3(signature = (copilot, texts, labels, top_confused=10))]
    fn evaluate_json(
        &self,
        py: Python<'_>,
        copilot: PyRef<'_, PyCopilot>,
        texts: Vec<String>,
        labels: Vec<String>,
        top_confused: usize,
    ) -> PyResult<String> {
        let copilot: &PyCopilot = &copilot;
        let model = &self.model;
        py.detach(|| {
            guarded(|| {
                same_length(&texts, &labels, ("texts", "labels"))?;
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                let p = model.predict_texts(&refs, copilot.inner.encoder(), &IntentOptions::default())?;
                let predicted: Vec<String> = p.into_iter().map(|p| p.intent).collect();
                let report = evaluate_labels(&labels, &predicted, top_confused);
                serde_json::to_string(&report).map_err(|e| Failure::Core(Error::Inference(e.to_string())))
            })
        })
        .map_err(|f| f.into_py(py))
    }

    fn __repr__(&self) -> String {
        format!("IntentHead(labels={}, encoder={:?})", self.model.labels().len(), self.encoder())
    }
}

/// The CLI's metrics for any gold/predicted label lists, as JSON.
#[pyfunction]
#[pyo3(signature = (gold, predicted, top_confused=10))]
pub fn evaluate_json(
    py: Python<'_>,
    gold: Vec<String>,
    predicted: Vec<String>,
    top_confused: usize,
) -> PyResult<String> {
    guarded(|| {
        same_length(&gold, &predicted, ("gold", "predicted"))?;
        serde_json::to_string(&evaluate_labels(&gold, &predicted, top_confused))
            .map_err(|e| Failure::Core(Error::Inference(e.to_string())))
    })
    .map_err(|f| f.into_py(py))
}
