//! `POST /v1/summarize/stream`: the summary as server-sent events — each piece of the LLM rewrite as it
//! is generated (`event: token`), then the whole summary (`event: summary`) or an `event: error` — so the
//! agent sees the note grow instead of waiting for it. Without a generator only the summary event comes.

use super::api::{body_error, parse_body, respond, AnalyzeQuery, ApiError};
use super::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

const ROUTE: &str = "/v1/summarize/stream";

pub async fn summarize_stream(
    State(state): State<Arc<AppState>>,
    Query(q): Query<AnalyzeQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // Everything that can be refused is refused before the stream starts, with the usual JSON errors.
    let conversation = match body.map_err(body_error).and_then(|b| parse_body(&headers, &b, q.id.as_deref()))
    {
        Ok(c) => c,
        Err(e) => return respond(&state, ROUTE, Err::<(), _>(e)),
    };
    let Some(ticket) = state.gate.enter().await else {
        let e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "overloaded",
            "the server is at capacity; retry after a second",
        );
        return respond(&state, ROUTE, Err::<(), _>(e));
    };
    // A small buffer: a slow client holds the generator back instead of growing memory.
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(32);
    let worker = state.clone();
    tokio::task::spawn_blocking(move || {
        let _ticket = ticket;
        let started = Instant::now();
        let (mut timed_out, mut gone) = (false, false);
        let mut on_token = |piece: &str| {
            if started.elapsed() > worker.timeout {
                timed_out = true;
                return false;
            }
            // A failed send means the client disconnected: stop generating.
            let event = Event::default().event("token").data(json!({ "text": piece }).to_string());
            gone = tx.blocking_send(event).is_err();
            !gone
        };
        let result = worker.copilot.summarize_streaming(&conversation, &mut on_token);
        worker.metrics.count_analysis();
        worker.metrics.observe_inference(started.elapsed().as_secs_f64());
        if gone {
            worker.metrics.count_cancelled();
            return;
        }
        let last = match result {
            Ok(_) if timed_out => error_event("timeout", "the summary took longer than the time limit"),
            Ok(summary) => Event::default()
                .event("summary")
                .json_data(&summary)
                .unwrap_or_else(|_| error_event("internal", "the summary could not be encoded")),
            Err(e) => error_event(e.code(), &e.to_string()),
        };
        let _ = tx.blocking_send(last);
    });
    let events = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (Ok::<_, Infallible>(event), rx))
    });
    respond(
        &state,
        ROUTE,
        Ok::<_, ApiError>(Sse::new(events).keep_alive(KeepAlive::default()).into_response()),
    )
}

fn error_event(code: &str, message: &str) -> Event {
    Event::default().event("error").data(json!({ "error": { "code": code, "message": message } }).to_string())
}
