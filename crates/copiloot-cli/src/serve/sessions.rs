//! The live sessions behind `/v1/live`: a registry of [`LiveSession`]s, each private to the API key that
//! created it, with a bounded event channel per session, turns applied one at a time in arrival order,
//! and an idle timeout. Sessions live in memory only: a restart loses them (a client replays its turns
//! into a new session).
//!
//! Events are serialised once and broadcast on a `tokio::sync::broadcast` channel of [`EVENT_BUFFER`]
//! events: a reader that stops reading holds at most that many (it is told it lagged when it resumes),
//! so no reader can make the server's memory grow, and a reader that leaves affects nobody else.

use super::bodies::{AlertEvent, KnowledgeEvent, StreamToken, TranscriptTurn};
use super::error::{ApiError, ErrorBody};
use super::jobs::{Jobs, Ticket};
use copiloot::{Analysis, LiveSession, LiveUpdate, NewTurn};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// Events kept per session for readers that are behind; a reader further behind misses the oldest.
pub const EVENT_BUFFER: usize = 64;

/// Who is calling: the position of the API key the request carried among the server's keys (`None`
/// when the server has no key). Sessions are keyed by it, so one key cannot see another's sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Caller(pub Option<usize>);

/// What `serve` allows per live session and in total.
#[derive(Clone, Debug)]
pub struct SessionLimits {
    pub max_sessions: usize,
    pub max_turns: usize,
    pub max_turn_chars: usize,
    /// A session without a new turn for this long is closed.
    pub idle: Duration,
}

/// One server-sent event, serialised once for every reader.
#[derive(Clone, Debug)]
pub struct LiveEvent {
    /// `update`, `alert`, `knowledge`, `token`, `closed` or `error`.
    pub name: &'static str,
    pub data: Arc<str>,
}

impl LiveEvent {
    fn new<T: Serialize>(name: &'static str, data: &T) -> Self {
        let json = serde_json::to_string(data).unwrap_or_else(|_| "null".into());
        Self { name, data: json.into() }
    }

    fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self::new("error", &ErrorBody::new(code, message))
    }

    /// The event that ends a reader's stream.
    pub fn is_final(&self) -> bool {
        self.name == "closed"
    }
}

/// An open session: the core's session and what the transcript endpoint shows of each turn.
struct Open {
    live: LiveSession,
    transcript: Vec<TranscriptTurn>,
}

/// One live session of the registry.
pub struct Session {
    pub id: String,
    /// `None` once closed. Async, so a turn waits for the one before it without holding a thread.
    state: Arc<tokio::sync::Mutex<Option<Open>>>,
    events: broadcast::Sender<LiveEvent>,
    last_turn: Mutex<Instant>,
}

/// What `GET /v1/live/{id}` shows.
pub struct Snapshot {
    pub transcript: Vec<TranscriptTurn>,
    pub analysis: Option<Analysis>,
}

impl Session {
    /// Adds one turn on a blocking thread behind the job gate (so `--max-concurrency` holds for live
    /// turns too) and publishes its `update` event, one `alert` event per alert it raised and one
    /// `knowledge` event per article it made the copilot suggest. Turns of one session run one at a time,
    /// in the order they arrived.
    pub async fn push(self: &Arc<Self>, jobs: &Jobs, turn: NewTurn) -> Result<LiveUpdate, ApiError> {
        let mut state = self.state.clone().lock_owned().await;
        if state.is_none() {
            return Err(gone());
        }
        let session = self.clone();
        let result = jobs
            .run(move |_cancel| {
                let open = state.as_mut().ok_or_else(gone)?;
                let update = open.live.push(turn)?;
                open.transcript.push(TranscriptTurn {
                    speaker: update.speaker,
                    text: update.text.clone(),
                    timestamp: update.timestamp,
                });
                *session.last_turn.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
                // Published here, not by the handler: the events keep the turns' order even when the
                // client that posted the turn has gone. No reader is not an error.
                let _ = session.events.send(LiveEvent::new("update", &update));
                for alert in &update.alerts {
                    let event = AlertEvent { turn: update.turn, alert: alert.clone() };
                    let _ = session.events.send(LiveEvent::new("alert", &event));
                }
                for suggestion in &update.knowledge {
                    let event = KnowledgeEvent { turn: update.turn, suggestion: suggestion.clone() };
                    let _ = session.events.send(LiveEvent::new("knowledge", &event));
                }
                Ok::<_, ApiError>(update)
            })
            .await?;
        result
    }

    /// The transcript and the analysis so far.
    pub async fn snapshot(&self) -> Result<Snapshot, ApiError> {
        let state = self.state.lock().await;
        let open = state.as_ref().ok_or_else(gone)?;
        Ok(Snapshot { transcript: open.transcript.clone(), analysis: open.live.analysis().cloned() })
    }

    /// Takes the session out of `state` (locked by the caller, which has also taken a slot of the job
    /// gate: always in that order, as `push` does, so the two cannot wait for each other) and computes the
    /// final analysis on a blocking thread that holds `ticket`. With a generator the LLM rewrite runs here
    /// and its pieces go to the readers as `token` events. Readers then get `closed` (the Analysis) or, for
    /// a session without turns, an `error` event.
    async fn finish(
        &self,
        mut state: tokio::sync::OwnedMutexGuard<Option<Open>>,
        ticket: Ticket,
        timeout: Duration,
    ) -> Result<Analysis, ApiError> {
        let open = state.take().ok_or_else(gone)?;
        // Turns that were waiting now find the session closed.
        drop(state);
        let events = self.events.clone();
        let task = tokio::task::spawn_blocking(move || {
            let _ticket = ticket;
            let started = Instant::now();
            let mut on_token = |piece: &str| {
                let _ = events.send(LiveEvent::new("token", &StreamToken { text: piece.to_string() }));
                // Past the time limit the note stops where it is; the grounded analysis is complete.
                started.elapsed() < timeout
            };
            open.live.close(&mut on_token)
        });
        let result = task.await.map_err(|_| ApiError::internal("closing the live session failed"))?;
        let _ = self.events.send(match &result {
            Ok(analysis) => LiveEvent::new("closed", analysis),
            Err(e) => LiveEvent::new("error", &ErrorBody::from(e)),
        });
        Ok(result?)
    }

    fn idle_for(&self, now: Instant) -> Duration {
        now.duration_since(*self.last_turn.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// 404 for a session that was closed while the request waited for it.
fn gone() -> ApiError {
    ApiError::unknown_session()
}

type Key = (Caller, String);

/// All open live sessions of the server.
pub struct Sessions {
    limits: SessionLimits,
    map: Mutex<HashMap<Key, Arc<Session>>>,
}

impl Sessions {
    pub fn new(limits: SessionLimits) -> Self {
        Self { limits, map: Mutex::new(HashMap::new()) }
    }

    pub fn limits(&self) -> &SessionLimits {
        &self.limits
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Arc<Session>>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sessions open now.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Registers `live` for `caller`: 429 when `--max-sessions` are open, 409 when the caller already
    /// has a session with this id.
    pub fn insert(&self, caller: Caller, live: LiveSession) -> Result<Arc<Session>, ApiError> {
        let mut map = self.map();
        if map.len() >= self.limits.max_sessions {
            return Err(ApiError::too_many_sessions(self.limits.max_sessions));
        }
        let key = (caller, live.id().to_string());
        if map.contains_key(&key) {
            return Err(ApiError::session_exists());
        }
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let session = Arc::new(Session {
            id: key.1.clone(),
            state: Arc::new(tokio::sync::Mutex::new(Some(Open { live, transcript: Vec::new() }))),
            events,
            last_turn: Mutex::new(Instant::now()),
        });
        map.insert(key, session.clone());
        Ok(session)
    }

    /// The caller's session `id`; 404 when it has none by that id (another key's session included).
    pub fn get(&self, caller: Caller, id: &str) -> Result<Arc<Session>, ApiError> {
        self.map().get(&(caller, id.to_string())).cloned().ok_or_else(ApiError::unknown_session)
    }

    /// A reader of the session's events from now on. Taken under the registry's lock, so a reader
    /// either subscribes before the session is removed (and gets `closed`) or gets 404.
    pub fn subscribe(&self, caller: Caller, id: &str) -> Result<broadcast::Receiver<LiveEvent>, ApiError> {
        let map = self.map();
        let session = map.get(&(caller, id.to_string())).ok_or_else(ApiError::unknown_session)?;
        Ok(session.events.subscribe())
    }

    /// `DELETE /v1/live/{id}`: the final analysis; the session is gone afterwards. A busy gate is a 429
    /// that leaves the session open.
    pub async fn close(&self, jobs: &Jobs, caller: Caller, id: &str) -> Result<Analysis, ApiError> {
        let session = self.get(caller, id)?;
        // After the turn in flight, if any; turns arriving now wait behind the close.
        let state = session.state.clone().lock_owned().await;
        if state.is_none() {
            return Err(gone());
        }
        let ticket = jobs.admit().await?;
        {
            let mut map = self.map();
            let key = (caller, id.to_string());
            // The idle reaper may have removed it and a new session taken the id since `get`.
            if map.get(&key).is_some_and(|s| Arc::ptr_eq(s, &session)) {
                map.remove(&key);
            }
        }
        session.finish(state, ticket, jobs.timeout()).await
    }

    /// Closes every session that has had no turn for the idle limit, forever; spawned by `serve`.
    pub async fn reap_idle(&self, jobs: &Jobs) {
        let tick = (self.limits.idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
        loop {
            tokio::time::sleep(tick).await;
            let now = Instant::now();
            let idle: Vec<Arc<Session>> = {
                let mut map = self.map();
                let keys: Vec<Key> = map
                    .iter()
                    .filter(|(_, s)| s.idle_for(now) >= self.limits.idle)
                    .map(|(k, _)| k.clone())
                    .collect();
                keys.iter().filter_map(|k| map.remove(k)).collect()
            };
            for session in idle {
                let jobs = jobs.clone();
                tokio::spawn(async move {
                    let state = session.state.clone().lock_owned().await;
                    // Out of the registry already: wait for a slot of the gate instead of giving up.
                    let ticket = loop {
                        match jobs.admit().await {
                            Ok(ticket) => break ticket,
                            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
                        }
                    };
                    if let Err(e) = session.finish(state, ticket, jobs.timeout()).await {
                        let id = &session.id;
                        tracing::debug!(
                            "idle live session {id} closed without an analysis: {:?}",
                            e.into_body()
                        );
                    }
                });
            }
        }
    }

    /// On shutdown: tells every reader the session is lost and ends the streams (a server-sent event
    /// stream would otherwise hold the graceful shutdown open forever).
    pub fn shutdown(&self) {
        let sessions: Vec<Arc<Session>> = self.map().drain().map(|(_, s)| s).collect();
        for session in sessions {
            let _ = session.events.send(LiveEvent::error(
                "shutdown",
                "the server is stopping and live sessions live in memory: replay the turns into a new session",
            ));
        }
        // Dropping the sessions drops their senders: each reader's stream ends after the notice.
    }

    /// The notice a reader gets after missing `missed` events.
    pub fn lagged(missed: u64) -> LiveEvent {
        LiveEvent::error(
            "lagged",
            format!(
                "this reader fell behind and missed {missed} events (the server keeps {EVENT_BUFFER}); \
                 GET the session for its state so far"
            ),
        )
    }
}
