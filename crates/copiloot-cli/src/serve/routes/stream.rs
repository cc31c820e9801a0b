//! `POST /v1/summarize/stream`: the summary as server-sent events — each piece of the LLM rewrite as it
//! is generated (`event: token`), then the whole summary (`event: summary`) or an `event: error` — so the
//! agent sees the note grow instead of waiting for it. Without a generator only the summary event comes.

use crate::serve::bodies::{documented, event_stream_response, ConversationBody, IdQuery, StreamToken};
use crate::serve::error::{errors, ApiError, ErrorBody};
use crate::serve::state::Shared;
use aide::axum::routing::post_with;
use aide::axum::ApiRouter;
use aide::generate::GenContext;
use aide::openapi::{Operation, Response, StatusCode};
use aide::transform::TransformOperation;
use aide::OperationOutput;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use copiloot::tasks::summary::Summary;
use serde::Serialize;
use std::convert::Infallible;
use std::time::Instant;

pub fn routes() -> ApiRouter<Shared> {
    ApiRouter::new().api_route("/v1/summarize/stream", post_with(summarize_stream, docs))
}

fn docs(op: TransformOperation<'_>) -> TransformOperation<'_> {
    let op = op.summary(
        "The summary as server-sent events: `token` events ({\"text\": piece}) while the configured generator \
         writes the rewrite, then one `summary` event (the summary JSON) or an `error` event \
         ({\"error\": {code, message}})",
    );
    errors(op, &[400, 401, 413, 429])
}

/// A `text/event-stream` response; documented with the schema of each event's data (`x-events`).
pub struct SummaryEvents(axum::response::Response);

impl IntoResponse for SummaryEvents {
    fn into_response(self) -> axum::response::Response {
        self.0
    }
}

impl OperationOutput for SummaryEvents {
    type Inner = ();

    fn operation_response(ctx: &mut GenContext, _operation: &mut Operation) -> Option<Response> {
        let events = serde_json::json!({
            "token": ctx.schema.subschema_for::<StreamToken>(),
            "summary": ctx.schema.subschema_for::<Summary>(),
            "error": ctx.schema.subschema_for::<ErrorBody>(),
        });
        Some(event_stream_response("server-sent events: token*, then summary or error", events))
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<StatusCode>, Response)> {
        documented(200, Self::operation_response(ctx, operation))
    }
}

async fn summarize_stream(
    State(state): State<Shared>,
    IdQuery(q): IdQuery,
    body: ConversationBody,
) -> Result<SummaryEvents, ApiError> {
    // Everything that can be refused is refused before the stream starts, with the usual JSON errors.
    let conversation = body.parse(q.id.as_deref())?;
    let ticket = state.jobs.admit().await?;
    // A small buffer: a slow client holds the generator back instead of growing memory.
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(32);
    let worker = state.clone();
    tokio::task::spawn_blocking(move || {
        let _ticket = ticket;
        let started = Instant::now();
        let timeout = worker.jobs.timeout();
        let (mut timed_out, mut gone) = (false, false);
        let mut on_token = |piece: &str| {
            if started.elapsed() > timeout {
                timed_out = true;
                return false;
            }
            // A failed send means the client disconnected: stop generating.
            let event =
                Event::default().event("token").data(json_text(&StreamToken { text: piece.to_string() }));
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
            Ok(_) if timed_out => {
                error_event(ApiError::timeout("the summary took longer than the time limit"))
            }
            Ok(summary) => Event::default()
                .event("summary")
                .json_data(&summary)
                .unwrap_or_else(|_| error_event(ApiError::internal("the summary could not be encoded"))),
            Err(e) => error_event(ApiError::from(e)),
        };
        let _ = tx.blocking_send(last);
    });
    let events = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (Ok::<_, Infallible>(event), rx))
    });
    Ok(SummaryEvents(Sse::new(events).keep_alive(KeepAlive::default()).into_response()))
}

fn json_text<T: Serialize>(data: &T) -> String {
    serde_json::to_string(data).unwrap_or_default()
}

fn error_event(e: ApiError) -> Event {
    Event::default().event("error").data(json_text(&e.into_body()))
}
