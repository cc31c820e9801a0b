//! Live sessions over HTTP: `POST /v1/live` opens one, `POST /v1/live/{id}/turns` adds a turn and answers
//! what changed (a `LiveUpdate`), `GET /v1/live/{id}/events` follows it as server-sent events (`update`,
//! `alert`, `knowledge`, `token`, `closed`), `GET /v1/live/{id}` gives the transcript and analysis so far, and
//! `DELETE /v1/live/{id}` closes it with the final analysis. The registry is `serve/sessions.rs`.

use crate::serve::bodies::{
    documented, event_stream_response, AlertEvent, Created, JsonBody, KnowledgeEvent, LiveCreated,
    LiveStartBody, LiveState, SessionPath, StreamToken,
};
use crate::serve::error::{errors, ApiError, ErrorBody};
use crate::serve::sessions::{Caller, LiveEvent, Sessions};
use crate::serve::state::Shared;
use aide::axum::routing::{get_with, post_with};
use aide::axum::ApiRouter;
use aide::generate::GenContext;
use aide::openapi::{Operation, Response, StatusCode};
use aide::transform::TransformOperation;
use aide::OperationOutput;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use copiloot::conversation::Limits;
use copiloot::{Analysis, LiveSession, LiveUpdate, NewTurn};
use futures_util::{Stream, StreamExt};
use std::convert::Infallible;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;

pub fn routes() -> ApiRouter<Shared> {
    ApiRouter::new()
        .api_route("/v1/live", post_with(open, open_docs))
        .api_route("/v1/live/{id}", get_with(state, state_docs).delete_with(close, close_docs))
        .api_route("/v1/live/{id}/turns", post_with(turn, turn_docs))
        .api_route("/v1/live/{id}/events", get_with(events, events_docs))
}

fn open_docs(op: TransformOperation<'_>) -> TransformOperation<'_> {
    let op = op.summary("Open a live session for a conversation that arrives turn by turn").description(
        "The body is a `LiveStart` whose `id` may be left out (or the whole body: an empty body opens a \
         session with a random id). Sessions are private to the API key that opened them and live in \
         memory: after a restart they are gone (404) and a client replays its turns into a new session.",
    );
    let mut op = errors(op, &[400, 401, 409, 413, 429]);
    if let Some(aide::openapi::ReferenceOr::Item(body)) = op.inner_mut().request_body.as_mut() {
        body.required = false;
    }
    op
}

async fn open(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    body: JsonBody<LiveStartBody>,
) -> Result<Created<LiveCreated>, ApiError> {
    let start = body
        .parse_or_default(|e| format!("expected a live start {{id?, channel?, language?, customer?}}: {e}"))?
        .into_start(session_id)?;
    let sessions = &state.sessions;
    let limits = sessions.limits();
    let core_limits =
        Limits { max_turns: limits.max_turns, max_turn_chars: limits.max_turn_chars, ..Limits::default() };
    let live = LiveSession::with_limits(&state.copilot, start, core_limits)?;
    let session = sessions.insert(caller, live)?;
    Ok(Created(LiveCreated {
        session_id: session.id.clone(),
        max_turns: limits.max_turns,
        max_turn_chars: limits.max_turn_chars,
        idle_timeout_secs: limits.idle.as_secs(),
    }))
}

/// A random session id: 128 bits from the operating system, so ids cannot be guessed.
fn session_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| ApiError::internal("no randomness for a session id"))?;
    Ok(format!("live-{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

fn state_docs(op: TransformOperation<'_>) -> TransformOperation<'_> {
    let op = op.summary("A live session so far: its turns (masked) and the analysis of them");
    errors(op, &[401, 404])
}

async fn state(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(path): Path<SessionPath>,
) -> Result<Json<LiveState>, ApiError> {
    let session = state.sessions.get(caller, &path.id)?;
    let snapshot = session.snapshot().await?;
    Ok(Json(LiveState {
        session_id: session.id.clone(),
        turns: snapshot.transcript.len(),
        transcript: snapshot.transcript,
        analysis: snapshot.analysis,
    }))
}

fn turn_docs(op: TransformOperation<'_>) -> TransformOperation<'_> {
    let op = op.summary("Add one turn to a live session; answers what changed with it").description(
        "The turn is analysed with the turns before it (the session's analysis equals `/v1/analyze` on \
         the turns so far) and its `update`, `alert` and `knowledge` events go to the session's readers. Turns of one \
         session are applied one at a time in arrival order. 400 for an empty turn or a timestamp before \
         the previous turn's, 413 for a turn over `--max-turn-chars` or a session at \
         `--max-session-turns`; after a 504 the turn may still be applied (its `update` event says so).",
    );
    errors(op, &[400, 401, 404, 413, 429, 504])
}

async fn turn(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(path): Path<SessionPath>,
    body: JsonBody<NewTurn>,
) -> Result<Json<LiveUpdate>, ApiError> {
    let turn = body.parse(|e| format!("expected a turn {{speaker, text, timestamp?}}: {e}"))?;
    let session = state.sessions.get(caller, &path.id)?;
    Ok(Json(session.push(&state.jobs, turn).await?))
}

fn close_docs(op: TransformOperation<'_>) -> TransformOperation<'_> {
    let op = op.summary("Close a live session: its final analysis").description(
        "The analysis of all turns, with the LLM rewrite when the server has a `--generator` (its pieces \
         go to the readers as `token` events); readers then get `closed` with this analysis and the \
         session is freed. A session without turns has nothing to analyse: 400, and it is freed too.",
    );
    errors(op, &[400, 401, 404, 429])
}

async fn close(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(path): Path<SessionPath>,
) -> Result<Json<Analysis>, ApiError> {
    Ok(Json(state.sessions.close(&state.jobs, caller, &path.id).await?))
}

fn events_docs(op: TransformOperation<'_>) -> TransformOperation<'_> {
    let op = op.summary("Follow a live session as server-sent events").description(
        "From the moment of subscribing: one `update` event (a LiveUpdate) per turn, one `alert` event \
         per alert it raised and, on a server with `--kb`, one `knowledge` event per article passage it \
         made the copilot suggest (each article once per session), `token` events while the LLM rewrite \
         is written at close, then `closed` (the final Analysis) and the end of the stream. `error` \
         events: `lagged` (the reader fell more than 64 events behind and missed some; GET the session to \
         catch up), `shutdown` (the server stops; the session is lost), or why the close had no analysis. Keep-alive comments every 15 s.",
    );
    errors(op, &[401, 404])
}

async fn events(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(path): Path<SessionPath>,
) -> Result<LiveEvents, ApiError> {
    let rx = state.sessions.subscribe(caller, &path.id)?;
    let stream =
        reader(rx).map(|event| Ok::<_, Infallible>(Event::default().event(event.name).data(&*event.data)));
    Ok(LiveEvents(Sse::new(stream).keep_alive(KeepAlive::default()).into_response()))
}

/// What one reader gets: the session's events in order, a `lagged` notice in place of the ones it
/// missed by falling behind, and the end after `closed` (or when the session is gone).
fn reader(rx: Receiver<LiveEvent>) -> impl Stream<Item = LiveEvent> {
    futures_util::stream::unfold((rx, false), |(mut rx, ended)| async move {
        if ended {
            return None;
        }
        let event = match rx.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(missed)) => Sessions::lagged(missed),
            Err(RecvError::Closed) => return None,
        };
        let last = event.is_final();
        Some((event, (rx, last)))
    })
}

/// The `text/event-stream` of a live session, documented with each event's data (`x-events`).
pub struct LiveEvents(axum::response::Response);

impl IntoResponse for LiveEvents {
    fn into_response(self) -> axum::response::Response {
        self.0
    }
}

impl OperationOutput for LiveEvents {
    type Inner = ();

    fn operation_response(ctx: &mut GenContext, _operation: &mut Operation) -> Option<Response> {
        let events = serde_json::json!({
            "update": ctx.schema.subschema_for::<LiveUpdate>(),
            "alert": ctx.schema.subschema_for::<AlertEvent>(),
            "knowledge": ctx.schema.subschema_for::<KnowledgeEvent>(),
            "token": ctx.schema.subschema_for::<StreamToken>(),
            "closed": ctx.schema.subschema_for::<Analysis>(),
            "error": ctx.schema.subschema_for::<ErrorBody>(),
        });
        Some(event_stream_response(
            "server-sent events: (update, alert*, knowledge*)*, token*, then closed",
            events,
        ))
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<StatusCode>, Response)> {
        documented(200, Self::operation_response(ctx, operation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::sessions::EVENT_BUFFER;

    fn event(name: &'static str, n: usize) -> LiveEvent {
        LiveEvent { name, data: format!("{{\"n\": {n}}}").into() }
    }

    /// A reader that did not read while more than the buffer was sent gets a `lagged` notice, then the
    /// newest events, and its stream ends at `closed`; memory held is the buffer, whatever was sent.
    #[test]
    fn a_reader_that_falls_behind_is_told_and_one_that_keeps_up_gets_everything() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (tx, slow) = tokio::sync::broadcast::channel(EVENT_BUFFER);
        let fast = tx.subscribe();
        let sent = EVENT_BUFFER * 3;
        let mut fast_got = Vec::new();
        let mut fast = Box::pin(reader(fast));
        for n in 0..sent {
            tx.send(event("update", n)).unwrap();
            fast_got.push(runtime.block_on(fast.next()).unwrap().data.to_string());
        }
        tx.send(event("closed", sent)).unwrap();
        tx.send(event("update", sent + 1)).unwrap();
        assert_eq!(fast_got.len(), sent);
        assert_eq!(runtime.block_on(fast.next()).unwrap().name, "closed");
        assert!(runtime.block_on(fast.next()).is_none(), "the stream ends at closed");

        // The slow reader read nothing of the `sent + 2` events: the channel kept the newest
        // EVENT_BUFFER of them, the rest are reported missed.
        let missed = sent + 2 - EVENT_BUFFER;
        let got: Vec<LiveEvent> = runtime.block_on(reader(slow).collect());
        assert_eq!(got[0].name, "error");
        let notice = format!("missed {missed} events");
        assert!(got[0].data.contains("\"lagged\"") && got[0].data.contains(&notice), "{:?}", got[0]);
        // Then the kept events in order, up to `closed` (the update after it is not read).
        assert_eq!(&*got[1].data, format!("{{\"n\": {missed}}}"));
        assert_eq!(got.len(), EVENT_BUFFER);
        assert_eq!(got.last().unwrap().name, "closed");
    }
}
