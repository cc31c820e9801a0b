//! `Copilot` and `Conversation` for Python: inputs are turned into Rust values while holding the GIL,
//! then the GIL is released for parsing, encoding and the tasks (in parallel for `analyze_many`).

use crate::copilot_class::PyCopilot;
use crate::errors::{guarded, invalid, Failure};
use crate::knowledge::{search_options, PyKnowledgeBase};
use copiloot::conversation::{parse_json, parse_str, ParseOptions};
use copiloot::models::{ModelSource, TextRole};
use copiloot::{Conversation, Copilot, CopilotOptions, Redaction};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use rayon::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;

/// One conversation, parsed and validated by the core (the same rules as the CLI's JSON input).
#[pyclass(name = "Conversation", module = "copiloot._native", frozen)]
pub struct PyConversation {
    pub inner: Conversation,
}

#[pymethods]
impl PyConversation {
    /// `turns` is a list of `(speaker, text)` pairs; speakers as in transcripts (`Klant`, `Agent`, ...).
    #[new]
    #[pyo3(signature = (id, turns, channel=None, language=None))]
    fn new(
        py: Python<'_>,
        id: String,
        turns: Vec<(String, String)>,
        channel: Option<String>,
        language: Option<String>,
    ) -> PyResult<Self> {
        let turns: Vec<serde_json::Value> = turns
            .into_iter()
            .map(|(speaker, text)| serde_json::json!({"speaker": speaker, "text": text}))
            .collect();
        let mut value = serde_json::json!({"id": id, "turns": turns});
        if let Some(c) = channel {
            value["channel"] = c.into();
        }
        if let Some(l) = language {
            value["language"] = l.into();
        }
        let text = value.to_string();
        parse(py, &text, None)
    }

    /// A JSON object in the input format (`copiloot schema input`).
    #[staticmethod]
    fn from_json(py: Python<'_>, text: String) -> PyResult<Self> {
        parse(py, &text, None)
    }

    /// A plain transcript: one `Speaker: text` turn per line, optional `[hh:mm:ss]` first.
    #[staticmethod]
    #[pyo3(signature = (text, id="conversation"))]
    fn from_transcript(py: Python<'_>, text: String, id: &str) -> PyResult<Self> {
        parse(py, &text, Some(id))
    }

    /// A dict in the input format (converted with `json.dumps`).
    #[staticmethod]
    fn from_dict(value: &Bound<'_, PyAny>) -> PyResult<Self> {
        let py = value.py();
        let text = dumps(value).map_err(|f| f.into_py(py))?;
        parse(py, &text, None)
    }

    #[getter]
    fn id(&self) -> &str {
        &self.inner.id
    }

    #[getter]
    fn language(&self) -> Option<&str> {
        self.inner.language.as_deref()
    }

    #[getter]
    fn channel(&self) -> String {
        serde_json::to_value(self.inner.channel)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// `(speaker, text)` per turn, speakers normalised (`customer`, `agent`, `bot`, `system`).
    #[getter]
    fn turns(&self) -> Vec<(String, String)> {
        self.inner
            .turns
            .iter()
            .map(|t| {
                let speaker = serde_json::to_value(t.speaker)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                (speaker, t.text.clone())
            })
            .collect()
    }

    fn __len__(&self) -> usize {
        self.inner.turns.len()
    }

    /// The normalised conversation as JSON (what the models read).
    fn to_json(&self) -> String {
        serde_json::to_string(&self.inner).unwrap_or_default()
    }

    fn __repr__(&self) -> String {
        format!("Conversation(id={:?}, turns={})", self.inner.id, self.inner.turns.len())
    }
}

fn parse(py: Python<'_>, text: &str, transcript_id: Option<&str>) -> PyResult<PyConversation> {
    let opts = ParseOptions::default();
    py.detach(|| {
        guarded(|| {
            Ok(match transcript_id {
                Some(id) => copiloot::conversation::parse_transcript(id, text, &opts)?,
                None => parse_json(text, &opts)?,
            })
        })
    })
    .map(|inner| PyConversation { inner })
    .map_err(|f| f.into_py(py))
}

/// `json.dumps(value)`, as an input error when the value is not JSON (e.g. a pandas Timestamp).
fn dumps(value: &Bound<'_, PyAny>) -> Result<String, Failure> {
    dumps_field(value, "conversation")
}

/// `json.dumps(value)` of the argument `field`, as an input error naming it when the value is not JSON.
pub(crate) fn dumps_field(value: &Bound<'_, PyAny>, field: &str) -> Result<String, Failure> {
    let result = value.py().import("json").and_then(|json| json.call_method1("dumps", (value,)));
    match result.and_then(|s| s.extract::<String>()) {
        Ok(s) => Ok(s),
        Err(e) => Err(invalid(
            field,
            format!("the {field} is not JSON-serialisable ({e}); use str, int, float, list and dict values"),
        )),
    }
}

/// A conversation as it arrives from Python, copied out of Python objects so the GIL can be released.
enum Input {
    Parsed(Conversation),
    /// A JSON object or a transcript (`parse_str` decides), with the id for transcripts.
    Text(String, String),
    Json(String),
    Bad(Failure),
}

fn input(value: &Bound<'_, PyAny>, id: Option<&str>) -> Input {
    if let Ok(c) = value.cast::<PyConversation>() {
        return Input::Parsed(c.get().inner.clone());
    }
    if let Ok(s) = value.cast::<PyString>() {
        return match s.extract::<String>() {
            Ok(text) => Input::Text(text, id.unwrap_or("conversation").to_string()),
            Err(e) => Input::Bad(invalid("conversation", format!("the text is not valid UTF-8: {e}"))),
        };
    }
    match dumps(value) {
        Ok(json) => Input::Json(json),
        Err(f) => Input::Bad(f),
    }
}

fn to_conversation(input: Input) -> Result<Conversation, Failure> {
    let opts = ParseOptions::default();
    match input {
        Input::Parsed(c) => Ok(c),
        Input::Text(text, id) => Ok(parse_str(&id, &text, &opts)?),
        Input::Json(json) => Ok(parse_json(&json, &opts)?),
        Input::Bad(f) => Err(f),
    }
}

/// Loads the models once; `analyze`, `analyze_many` and `embed` release the GIL while they work.
#[pymethods]
impl PyCopilot {
    #[new]
    // Options are set field by field so fields added to the core later keep their defaults here.
    #[allow(clippy::field_reassign_with_default)]
    #[pyo3(signature = (models=None, encoder=None, taxonomy=None, batch_size=None, redaction="outputs", generator=None, max_tokens=160, kb=None, kb_top_k=3, kb_min_score=None, kb_retriever="hybrid"))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        models: Option<PathBuf>,
        encoder: Option<String>,
        taxonomy: Option<PathBuf>,
        batch_size: Option<usize>,
        redaction: &str,
        generator: Option<String>,
        max_tokens: usize,
        kb: Option<Bound<'_, PyAny>>,
        kb_top_k: usize,
        kb_min_score: Option<f32>,
        kb_retriever: &str,
    ) -> PyResult<Self> {
        let redaction = match redaction {
            "outputs" => Redaction::Outputs,
            "everything" => Redaction::Everything,
            "off" => Redaction::Off,
            other => {
                return Err(Failure::Core(copiloot::Error::Config(format!(
                    "unknown redaction `{other}`; use \"outputs\" (the default), \"everything\" or \"off\""
                )))
                .into_py(py))
            }
        };
        let kb = match kb_input(kb.as_ref()).map_err(|f| f.into_py(py))? {
            Some(kb) => {
                Some((kb, search_options(kb_top_k, kb_min_score, kb_retriever).map_err(|f| f.into_py(py))?))
            }
            None => None,
        };
        let models_dir = models.unwrap_or_else(copiloot::models::default_models_dir);
        let dir = models_dir.clone();
        py.detach(move || {
            guarded(|| {
                // The knowledge base first: a bad index file fails before the models load.
                let kb = kb.map(|(kb, options)| kb.load().map(|kb| (kb, options))).transpose()?;
                let encoder = encoder.as_deref().map(ModelSource::parse).transpose()?;
                let mut options = CopilotOptions::default();
                options.encoder = encoder;
                options.models_dir = Some(dir.clone());
                options.batch_size = batch_size.map(|b| b.max(1));
                options.redaction = redaction;
                options.generator = generator
                    .as_deref()
                    .map(|g| copiloot::models::generator::source_for(g, &dir))
                    .transpose()?;
                options.generation.max_tokens = max_tokens.max(1);
                let copilot = Copilot::new(options)?;
                let copilot = match taxonomy {
                    Some(path) => copilot.with_taxonomy(&dir, &path)?,
                    None => copilot,
                };
                Ok(match kb {
                    Some((kb, options)) => copilot.with_knowledge(kb, options)?,
                    None => copilot,
                })
            })
        })
        .map(|inner| PyCopilot { inner, models_dir })
        .map_err(|f| f.into_py(py))
    }

    /// Model id of the encoder.
    #[getter]
    fn encoder_id(&self) -> &str {
        self.inner.encoder().model_id()
    }

    /// Embedding width.
    #[getter]
    fn dim(&self) -> usize {
        self.inner.encoder().dim()
    }

    /// The knowledge base the copilot searches (`None` without one); searches on it use this
    /// copilot's encoder.
    #[getter]
    fn knowledge_base(&self) -> Option<PyKnowledgeBase> {
        self.inner.knowledge().map(|kb| PyKnowledgeBase::of_copilot(Arc::clone(kb), &self.inner))
    }

    /// The models folder in use.
    #[getter]
    fn models_dir(&self) -> PathBuf {
        self.models_dir.clone()
    }

    /// One conversation (a `Conversation`, a dict, or a JSON/transcript string) → its Analysis as JSON.
    #[pyo3(signature = (conversation, id=None))]
    fn analyze(&self, py: Python<'_>, conversation: &Bound<'_, PyAny>, id: Option<&str>) -> PyResult<String> {
        let input = input(conversation, id);
        let copilot = &self.inner;
        py.detach(|| guarded(|| analyze_one(copilot, input))).map_err(|f| f.into_py(py))
    }

    /// Many conversations in parallel (rayon, GIL released): per input, the Analysis JSON or the
    /// exception (not raised), in input order.
    fn analyze_many(&self, py: Python<'_>, conversations: Vec<Bound<'_, PyAny>>) -> PyResult<Vec<Py<PyAny>>> {
        let inputs: Vec<Input> = conversations.iter().map(|c| input(c, None)).collect();
        let copilot = &self.inner;
        let results: Vec<Result<String, Failure>> =
            py.detach(|| inputs.into_par_iter().map(|i| guarded(|| analyze_one(copilot, i))).collect());
        results
            .into_iter()
            .map(|r| match r {
                Ok(json) => Ok(PyString::new(py, &json).into_any().unbind()),
                Err(f) => Ok(f.into_py(py).into_value(py).into_any()),
            })
            .collect()
    }

    /// Sentence vectors (L2-normalised, float32, row-major) as `(bytes, rows, dim)`; the Python wrapper
    /// turns them into a NumPy array without copying.
    #[pyo3(signature = (texts, role="query"))]
    fn embed<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
        role: &str,
    ) -> PyResult<(Bound<'py, PyBytes>, usize, usize)> {
        let role = match role {
            "query" => TextRole::Query,
            "passage" => TextRole::Passage,
            "none" => TextRole::None,
            other => {
                return Err(Failure::Core(copiloot::Error::Config(format!(
                    "unknown role `{other}`; use \"query\" (the default), \"passage\" or \"none\""
                )))
                .into_py(py))
            }
        };
        let encoder = self.inner.encoder();
        let dim = encoder.dim();
        let flat = py
            .detach(|| {
                guarded(|| {
                    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                    let vectors = encoder.embed_with(&refs, role, copiloot::models::DEFAULT_BATCH_SIZE)?;
                    Ok(vectors.iter().flatten().flat_map(|x| x.to_ne_bytes()).collect::<Vec<u8>>())
                })
            })
            .map_err(|f| f.into_py(py))?;
        Ok((PyBytes::new(py, &flat), texts.len(), dim))
    }

    fn __repr__(&self) -> String {
        format!(
            "Copilot(encoder={:?}, models={:?})",
            self.encoder_id(),
            self.models_dir.display().to_string()
        )
    }
}

/// The `kb` argument of `Copilot(...)`: a loaded `KnowledgeBase` or the path of an index file.
enum KbInput {
    Loaded(Arc<copiloot::KnowledgeBase>),
    Path(PathBuf),
}

impl KbInput {
    fn load(self) -> copiloot::Result<Arc<copiloot::KnowledgeBase>> {
        match self {
            KbInput::Loaded(kb) => Ok(kb),
            KbInput::Path(path) => Ok(Arc::new(copiloot::KnowledgeBase::load(&path)?)),
        }
    }
}

fn kb_input(value: Option<&Bound<'_, PyAny>>) -> Result<Option<KbInput>, Failure> {
    let Some(value) = value.filter(|v| !v.is_none()) else { return Ok(None) };
    if let Ok(kb) = value.cast::<PyKnowledgeBase>() {
        return Ok(Some(KbInput::Loaded(Arc::clone(&kb.get().inner))));
    }
    value.extract::<PathBuf>().map(|p| Some(KbInput::Path(p))).map_err(|_| {
        invalid("kb", "`kb` must be a KnowledgeBase or the path of an index file (`copiloot kb index`)")
    })
}

fn analyze_one(copilot: &Copilot, input: Input) -> Result<String, Failure> {
    let conversation = to_conversation(input)?;
    let analysis = copilot.analyze(&conversation)?;
    serde_json::to_string(&analysis).map_err(|e| Failure::Core(copiloot::Error::Inference(e.to_string())))
}
