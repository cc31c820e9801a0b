//! `KnowledgeBase` for Python: index a folder of articles, load an index, search it with a question or
//! the conversation so far (`copiloot::knowledge`). Embedding and searching run with the GIL released;
//! the encoder a search needs comes from a `Copilot` or is loaded once and kept with the knowledge base.

use crate::copilot_class::PyCopilot;
use crate::errors::{guarded, invalid, Failure};
use copiloot::conversation::{speaker_from_name, ParseOptions, SPEAKER_ALIASES};
use copiloot::knowledge::{IndexReport, KnowledgeQuery, QueryTurn, Retriever, SearchOptions};
use copiloot::models::{Encoder, ModelSource};
use copiloot::tasks::intent::IntentModel;
use copiloot::tasks::knowledge::search_with_intents;
use copiloot::{Copilot, CopilotOptions, Error, KnowledgeBase, Speaker};
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// An encoder at hand: one loaded for the knowledge base, or a copilot's (cheap to clone either way).
#[derive(Clone)]
enum EncoderHandle {
    Own(Arc<Encoder>),
    Copilot(Copilot),
}

impl EncoderHandle {
    fn encoder(&self) -> &Encoder {
        match self {
            EncoderHandle::Own(encoder) => encoder,
            EncoderHandle::Copilot(copilot) => copilot.encoder(),
        }
    }

    /// The copilot's intent model: it labels the customer turns when the articles are tagged.
    fn intents(&self) -> Option<&IntentModel> {
        match self {
            EncoderHandle::Own(_) => None,
            EncoderHandle::Copilot(copilot) => copilot.intent().map(|t| &t.model),
        }
    }
}

/// A loaded knowledge base, the report of the `index` call that made it, and the encoder for searches
/// (loaded on the first search without a copilot, from the options given to `index`/`load`).
#[pyclass(name = "KnowledgeBase", module = "copiloot._native", frozen)]
pub struct PyKnowledgeBase {
    pub inner: Arc<KnowledgeBase>,
    report: Option<IndexReport>,
    options: CopilotOptions,
    /// Locked only with the GIL released (loading the encoder takes a while).
    encoder: Mutex<Option<EncoderHandle>>,
}

impl PyKnowledgeBase {
    /// The knowledge base a copilot searches, sharing the copilot's encoder.
    pub fn of_copilot(kb: Arc<KnowledgeBase>, copilot: &Copilot) -> Self {
        PyKnowledgeBase {
            inner: kb,
            report: None,
            options: CopilotOptions::default(),
            encoder: Mutex::new(Some(EncoderHandle::Copilot(copilot.clone()))),
        }
    }

    /// The cached encoder, loaded from `self.options` the first time.
    fn encoder(&self) -> Result<EncoderHandle, Failure> {
        let mut slot = self.encoder.lock().map_err(|_| {
            Failure::Panic("the knowledge base's encoder is unusable after an earlier internal error".into())
        })?;
        if let Some(handle) = slot.as_ref() {
            return Ok(handle.clone());
        }
        let handle = EncoderHandle::Own(Arc::new(Copilot::load_encoder(&self.options)?));
        *slot = Some(handle.clone());
        Ok(handle)
    }
}

/// Copilot options naming only the encoder (a folder or hub id) and the models folder.
fn encoder_options(encoder: Option<&str>, models: Option<PathBuf>) -> Result<CopilotOptions, Failure> {
    let encoder = encoder.map(ModelSource::parse).transpose()?;
    Ok(CopilotOptions { encoder, models_dir: models, ..CopilotOptions::default() })
}

/// The core's search options from the Python arguments (`min_score=None`: the core's default).
pub(crate) fn search_options(
    top_k: usize,
    min_score: Option<f32>,
    retriever: &str,
) -> Result<SearchOptions, Failure> {
    if top_k < 1 {
        return Err(Failure::Core(Error::Config(format!("top_k must be at least 1, got {top_k}"))));
    }
    let retriever = match retriever {
        "hybrid" => Retriever::Hybrid,
        "lexical" => Retriever::Lexical,
        "dense" => Retriever::Dense,
        other => {
            return Err(Failure::Core(Error::Config(format!(
                "unknown retriever `{other}`; use \"hybrid\" (the default), \"lexical\" or \"dense\""
            ))))
        }
    };
    let mut options = SearchOptions { top_k, retriever, ..SearchOptions::default() };
    if let Some(score) = min_score {
        options.min_score = score;
    }
    Ok(options)
}

/// `(speaker, text)` pairs as a query; speakers by the names transcripts use (customer/klant, agent, …).
fn query(turns: Vec<(String, String)>) -> Result<KnowledgeQuery, Failure> {
    let opts = ParseOptions::default();
    let mut out = Vec::with_capacity(turns.len());
    for (i, (speaker, text)) in turns.into_iter().enumerate() {
        let speaker = speaker_from_name(&speaker, &opts).ok_or_else(|| {
            let accepted: Vec<&str> = SPEAKER_ALIASES.iter().map(|(name, _)| *name).collect();
            invalid(
                &format!("turns[{i}].speaker"),
                format!("unknown speaker `{speaker}`; accepted (any case): {}", accepted.join(", ")),
            )
        })?;
        out.push(QueryTurn::new(speaker == Speaker::Customer, text));
    }
    Ok(KnowledgeQuery { turns: out })
}

/// A serialisation failure (not expected: the core's output types are plain data).
fn unserialisable(e: serde_json::Error) -> Failure {
    Failure::Core(Error::Inference(e.to_string()))
}

#[pymethods]
impl PyKnowledgeBase {
    /// Reads the articles of `source` (a folder of .md/.html/.txt files or a JSONL file), embeds what
    /// changed since the index at `out` and writes the index there; returns it loaded. The encoder is
    /// `copilot`'s, else `encoder` (folder or hub id) or the default one from `models`. `progress(done,
    /// total)` is called (with the GIL) as passages are embedded; an exception it raises is re-raised
    /// after the index is written.
    #[staticmethod]
    #[pyo3(signature = (source, out, *, encoder=None, models=None, copilot=None, progress=None))]
    fn index(
        py: Python<'_>,
        source: PathBuf,
        out: PathBuf,
        encoder: Option<String>,
        models: Option<PathBuf>,
        copilot: Option<PyRef<'_, PyCopilot>>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        if copilot.is_some() && (encoder.is_some() || models.is_some()) {
            let message = "pass either `copilot` or `encoder`/`models`: the copilot brings its own encoder";
            return Err(Failure::Core(Error::Config(message.into())).into_py(py));
        }
        let given = copilot.map(|c| EncoderHandle::Copilot(c.inner.clone()));
        let mut raised: Option<PyErr> = None;
        let result = py.detach(|| {
            guarded(|| {
                let options = encoder_options(encoder.as_deref(), models)?;
                let handle = match given {
                    Some(handle) => handle,
                    None => EncoderHandle::Own(Arc::new(Copilot::load_encoder(&options)?)),
                };
                let mut report = |done: usize, total: usize| {
                    if let (Some(callback), None) = (&progress, &raised) {
                        raised = Python::attach(|py| callback.call1(py, (done, total)).err());
                    }
                };
                let (kb, index_report) = KnowledgeBase::index(&source, &out, handle.encoder(), &mut report)?;
                Ok(PyKnowledgeBase {
                    inner: Arc::new(kb),
                    report: Some(index_report),
                    options,
                    encoder: Mutex::new(Some(handle)),
                })
            })
        });
        let kb = result.map_err(|f| f.into_py(py))?;
        match raised {
            Some(err) => Err(err),
            None => Ok(kb),
        }
    }

    /// Loads an index written by `index` (or `copiloot kb index`). `encoder`/`models` say which encoder
    /// to load for searches without a copilot (the default one when absent); it is loaded on first use.
    #[staticmethod]
    #[pyo3(signature = (path, *, encoder=None, models=None))]
    fn load(
        py: Python<'_>,
        path: PathBuf,
        encoder: Option<String>,
        models: Option<PathBuf>,
    ) -> PyResult<Self> {
        py.detach(|| {
            guarded(|| {
                let options = encoder_options(encoder.as_deref(), models)?;
                let kb = KnowledgeBase::load(&path)?;
                Ok(PyKnowledgeBase { inner: Arc::new(kb), report: None, options, encoder: Mutex::new(None) })
            })
        })
        .map_err(|f| f.into_py(py))
    }

    /// Searches with `turns` (`(speaker, text)` pairs, oldest first; the last customer turn is the
    /// question) and returns the suggestions as a JSON list. The query is embedded with `copilot`'s
    /// encoder, else the knowledge base's own (loaded once); with a copilot, its intent model also labels
    /// the customer turns for articles tagged with intents.
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    #[pyo3(signature = (turns, *, top_k=3, min_score=None, retriever="hybrid", copilot=None, intent_weight=None))]
    fn search(
        &self,
        py: Python<'_>,
        turns: Vec<(String, String)>,
        top_k: usize,
        min_score: Option<f32>,
        retriever: &str,
        copilot: Option<PyRef<'_, PyCopilot>>,
        intent_weight: Option<f32>,
    ) -> PyResult<String> {
        let given = copilot.map(|c| EncoderHandle::Copilot(c.inner.clone()));
        let retriever = retriever.to_string();
        py.detach(|| {
            guarded(|| {
                let mut options = search_options(top_k, min_score, &retriever)?;
                if let Some(w) = intent_weight {
                    options.intent_weight = w;
                }
                let query = query(turns)?;
                query.question()?;
                let handle = match given {
                    Some(handle) => handle,
                    None => self.encoder()?,
                };
                let found =
                    search_with_intents(&self.inner, handle.encoder(), &query, handle.intents(), &options)?;
                serde_json::to_string(&found).map_err(unserialisable)
            })
        })
        .map_err(|f| f.into_py(py))
    }

    /// What `index` did as JSON (`None` for a knowledge base from `load`).
    fn report_json(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.report.as_ref().map(serde_json::to_string).transpose().map_err(|e| unserialisable(e).into_py(py))
    }

    #[getter]
    fn articles(&self) -> usize {
        self.inner.article_count()
    }

    #[getter]
    fn passages(&self) -> usize {
        self.inner.passage_count()
    }

    /// Model id of the encoder the passages were embedded with.
    #[getter]
    fn encoder_id(&self) -> &str {
        self.inner.encoder_id()
    }

    /// The index file (`None` for one that was never saved).
    #[getter]
    fn path(&self) -> Option<PathBuf> {
        self.inner.path().map(PathBuf::from)
    }

    /// The article ids, sorted.
    fn article_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.inner.article_ids().into_iter().map(str::to_string).collect();
        ids.sort();
        ids
    }

    fn __repr__(&self) -> String {
        format!(
            "KnowledgeBase(articles={}, passages={}, encoder={:?}, path={:?})",
            self.articles(),
            self.passages(),
            self.encoder_id(),
            self.inner.path().map(|p| p.display().to_string()).unwrap_or_default()
        )
    }
}
