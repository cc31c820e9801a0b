//! `POST /v1/analyze` (one conversation) and `POST /v1/analyze/batch` (a list, one result or error per
//! item; a client that disconnects stops the batch at the next conversation).

use crate::serve::bodies::{BatchBody, BatchItem, BatchResults, ConversationBody, IdQuery, JsonBody, Sorted};
use crate::serve::error::{errors, ApiError, ErrorBody};
use crate::serve::state::Shared;
use aide::axum::routing::post_with;
use aide::axum::ApiRouter;
use aide::transform::TransformOperation;
use axum::extract::State;
use axum::Json;
use copiloot::conversation::{parse_json, ParseOptions};
use copiloot::{Analysis, Conversation};

pub fn routes() -> ApiRouter<Shared> {
    ApiRouter::new()
        .api_route("/v1/analyze", post_with(analyze, analyze_docs))
        .api_route("/v1/analyze/batch", post_with(analyze_batch, batch_docs))
}

fn analyze_docs(op: TransformOperation<'_>) -> TransformOperation<'_> {
    let op = op.summary("Analyse one conversation (JSON, or a plain transcript as text/plain with ?id=)");
    errors(op, &[400, 401, 413, 429, 504])
}

async fn analyze(
    State(state): State<Shared>,
    IdQuery(q): IdQuery,
    body: ConversationBody,
) -> Result<Json<Analysis>, ApiError> {
    let conversation = body.parse(q.id.as_deref())?;
    let mut results = run_analysis(&state, vec![conversation]).await?;
    let analysis = results.pop().ok_or_else(|| ApiError::internal("no result"))??;
    Ok(Json(analysis))
}

fn batch_docs(op: TransformOperation<'_>) -> TransformOperation<'_> {
    let op = op
        .summary("Analyse a list of conversations")
        .description("One result per input, in order: its analysis, or `{\"error\": {code, message}}`.");
    errors(op, &[400, 401, 413, 429, 504])
}

async fn analyze_batch(
    State(state): State<Shared>,
    body: JsonBody<BatchBody>,
) -> Result<Sorted<BatchResults>, ApiError> {
    let items = body.parse(|e| format!("expected a JSON list of conversations: {e}"))?.into_items();
    let opts = ParseOptions::default();
    let slots: Vec<Result<Conversation, copiloot::Error>> =
        items.iter().map(|v| parse_json(&v.to_string(), &opts)).collect();
    let good: Vec<Conversation> = slots.iter().filter_map(|s| s.as_ref().ok().cloned()).collect();
    let mut analysed = run_analysis(&state, good).await?.into_iter();
    let results = slots
        .iter()
        .map(|slot| match slot {
            Ok(_) => match analysed.next() {
                Some(Ok(a)) => BatchItem::Analysis(Box::new(a)),
                Some(Err(e)) => BatchItem::Error(ErrorBody::from(&e)),
                None => BatchItem::Error(ErrorBody::new("internal", "missing result")),
            },
            Err(e) => BatchItem::Error(ErrorBody::from(e)),
        })
        .collect();
    Ok(Sorted(BatchResults { results }))
}

/// Analyse conversations in order, stopping early when the client has gone.
async fn run_analysis(
    state: &Shared,
    conversations: Vec<Conversation>,
) -> Result<Vec<copiloot::Result<Analysis>>, ApiError> {
    let s = state.clone();
    state
        .jobs
        .run(move |cancel| {
            let mut out = Vec::with_capacity(conversations.len());
            for c in &conversations {
                if cancel.is_cancelled() {
                    break;
                }
                out.push(s.copilot.analyze(c));
                s.metrics.count_analysis();
            }
            out
        })
        .await
}
