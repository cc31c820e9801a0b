//! `LiveSession` for Python: a conversation analysed turn by turn while it happens (`copiloot::live`).
//! Each push copies its arguments out of Python, then releases the GIL for the encoding and the tasks.
//! A session takes one call at a time (a Mutex); pushes to different sessions run in parallel.

use crate::copilot::dumps_field;
use crate::copilot_class::PyCopilot;
use crate::errors::{guarded, invalid, Failure};
use copiloot::conversation::{speaker_from_name, ParseOptions, SPEAKER_ALIASES};
use copiloot::{Channel, CustomerInfo, Error, LiveSession, LiveStart, Location, NewTurn, Parties};
use pyo3::prelude::*;
use std::sync::{Mutex, MutexGuard};

/// Where a session is in its life.
enum State {
    Open(Box<LiveSession>),
    /// After `close()`: the turns it had and the final Analysis as JSON (`None` when closing failed).
    Closed {
        turns: usize,
        analysis: Option<String>,
    },
}

/// One live conversation. The Mutex is only ever locked with the GIL released: a thread waiting for
/// another thread's push must not hold the GIL that push needs to return.
#[pyclass(name = "LiveSession", module = "copiloot._native", frozen)]
pub struct PyLiveSession {
    id: String,
    state: Mutex<State>,
}

impl PyLiveSession {
    /// Runs `f` on the state under the lock, with the GIL released and panics caught.
    fn with_state<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut State) -> Result<T, Failure> + Send,
    ) -> PyResult<T> {
        py.detach(|| guarded(|| f(&mut *self.lock()?))).map_err(|failure| failure.into_py(py))
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, Failure> {
        // Poisoned only by a panic during a push (a bug); the session's state may then be half-updated.
        self.state.lock().map_err(|_| {
            Failure::Panic(format!("live session `{}` is unusable after an earlier internal error", self.id))
        })
    }

    fn closed_error(&self) -> Failure {
        Failure::Core(Error::invalid(
            Location::field("session"),
            format!("live session `{}` is closed; start a new one to analyse more turns", self.id),
        ))
    }
}

#[pymethods]
impl PyLiveSession {
    /// A session on `copilot`'s models. `channel`: phone, chat, email, social or other (default), or an
    /// alias of the input format (telefoon, whatsapp, webcare, …);
    /// `language`: an ISO 639-1 code (detected from the turns when absent); `customer`: the customer
    /// record as a dict (`customer_id`, `tenure_months`, `contract_end`, `plan`, `contacts_last_30_days`);
    /// `parties`: what the note calls the two sides, a dict with `customer` and/or `agent`.
    #[new]
    #[pyo3(signature = (copilot, id, channel=None, language=None, customer=None, parties=None))]
    fn new(
        py: Python<'_>,
        copilot: PyRef<'_, PyCopilot>,
        id: String,
        channel: Option<String>,
        language: Option<String>,
        customer: Option<Bound<'_, PyAny>>,
        parties: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let start = live_start(id, channel, language, customer.as_ref(), parties.as_ref())
            .map_err(|f| f.into_py(py))?;
        let session = LiveSession::new(&copilot.inner, start).map_err(|e| Failure::Core(e).into_py(py))?;
        Ok(PyLiveSession { id: session.id().to_string(), state: Mutex::new(State::Open(Box::new(session))) })
    }

    /// Adds one turn (GIL released) and returns the LiveUpdate as JSON. `timestamp`: seconds since the
    /// start of the conversation, never before the previous turn's. A refused turn raises and leaves the
    /// session as it was.
    #[pyo3(signature = (speaker, text, timestamp=None))]
    fn push(&self, py: Python<'_>, speaker: &str, text: String, timestamp: Option<f64>) -> PyResult<String> {
        let speaker = speaker_from_name(speaker, &ParseOptions::default()).ok_or_else(|| {
            let accepted: Vec<&str> = SPEAKER_ALIASES.iter().map(|(name, _)| *name).collect();
            invalid(
                "speaker",
                format!("unknown speaker `{speaker}`; accepted (any case): {}", accepted.join(", ")),
            )
            .into_py(py)
        })?;
        let turn = NewTurn { speaker, text, timestamp };
        self.with_state(py, |state| match state {
            State::Open(session) => serde_json::to_string(&session.push(turn)?).map_err(unserialisable),
            State::Closed { .. } => Err(self.closed_error()),
        })
    }

    /// The Analysis of the turns so far as JSON (`None` before the first turn); after `close()`, the
    /// final one.
    fn analysis_json(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.with_state(py, |state| match state {
            State::Open(session) => {
                session.analysis().map(serde_json::to_string).transpose().map_err(unserialisable)
            }
            State::Closed { analysis, .. } => Ok(analysis.clone()),
        })
    }

    /// Ends the session and returns the final Analysis as JSON (with the LLM rewrite when the copilot
    /// has a generator). The session is closed afterwards even when this raises.
    fn close(&self, py: Python<'_>) -> PyResult<String> {
        self.with_state(py, |state| {
            let session = match std::mem::replace(state, State::Closed { turns: 0, analysis: None }) {
                State::Open(session) => session,
                closed => {
                    *state = closed;
                    return Err(self.closed_error());
                }
            };
            let turns = session.len();
            *state = State::Closed { turns, analysis: None };
            let final_json = serde_json::to_string(&session.close(&mut |_| true)?).map_err(unserialisable)?;
            *state = State::Closed { turns, analysis: Some(final_json.clone()) };
            Ok(final_json)
        })
    }

    #[getter]
    fn id(&self) -> &str {
        &self.id
    }

    #[getter]
    fn closed(&self, py: Python<'_>) -> PyResult<bool> {
        self.with_state(py, |state| Ok(matches!(state, State::Closed { .. })))
    }

    /// Turns so far (after `close()`: the turns the session had).
    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        self.with_state(py, |state| {
            Ok(match state {
                State::Open(session) => session.len(),
                State::Closed { turns, .. } => *turns,
            })
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let (turns, closed) = self.with_state(py, |state| {
            Ok(match state {
                State::Open(session) => (session.len(), false),
                State::Closed { turns, .. } => (*turns, true),
            })
        })?;
        Ok(format!(
            "LiveSession(id={:?}, turns={turns}, closed={})",
            self.id,
            if closed { "True" } else { "False" }
        ))
    }
}

/// The core's `LiveStart` from the Python arguments (channel names as in the input format, aliases included).
fn live_start(
    id: String,
    channel: Option<String>,
    language: Option<String>,
    customer: Option<&Bound<'_, PyAny>>,
    parties: Option<&Bound<'_, PyAny>>,
) -> Result<LiveStart, Failure> {
    let channel = match channel {
        None => Channel::default(),
        Some(name) => {
            Channel::from_name(&name).ok_or_else(|| {
                invalid(
                    "channel",
                    format!("unknown channel `{name}`; use phone, chat, email, social or other (or an alias such as telefoon, whatsapp, webcare)"),
                )
            })?
        }
    };
    let customer: CustomerInfo = match customer.filter(|c| !c.is_none()) {
        None => CustomerInfo::default(),
        Some(value) => serde_json::from_str(&dumps_field(value, "customer")?)
            .map_err(|e| invalid("customer", format!("the customer record does not fit: {e}")))?,
    };
    let parties: Parties = match parties.filter(|p| !p.is_none()) {
        None => Parties::default(),
        Some(value) => serde_json::from_str(&dumps_field(value, "parties")?).map_err(|e| {
            invalid("parties", format!("expected a dict with `customer` and/or `agent` names: {e}"))
        })?,
    };
    Ok(LiveStart { id, channel, language, customer, parties })
}

/// A serialisation failure (not expected: the core's output types are plain data).
fn unserialisable(e: serde_json::Error) -> Failure {
    Failure::Core(Error::Inference(e.to_string()))
}
