//! Intent and sentiment of single texts (`POST /v1/intent`, `POST /v1/sentiment`): for tools that route
//! one chat message at a time. `{"text": …}` or `{"texts": […]}`, up to 256 texts.

use crate::serve::bodies::{IntentResults, JsonBody, SentimentResults, SentimentScore, Sorted, TextsBody};
use crate::serve::error::{errors, ApiError};
use crate::serve::state::Shared;
use aide::axum::routing::post_with;
use aide::axum::ApiRouter;
use aide::transform::TransformOperation;
use axum::extract::State;
use axum::http::StatusCode;
use copiloot::ErrorKind;

pub fn routes() -> ApiRouter<Shared> {
    ApiRouter::new()
        .api_route("/v1/intent", post_with(intent, intent_docs))
        .api_route("/v1/sentiment", post_with(sentiment, sentiment_docs))
}

fn parse_texts(body: JsonBody<TextsBody>) -> Result<Vec<String>, ApiError> {
    body.parse(|_| "expected JSON {\"text\": \"…\"} or {\"texts\": [\"…\", …]}".to_string())?.into_texts()
}

fn intent_docs(op: TransformOperation<'_>) -> TransformOperation<'_> {
    let op = op.summary("Intent of single texts (e.g. one chat message): {\"text\": …} or {\"texts\": […]}");
    errors(op, &[400, 401, 413, 429, 504])
}

/// `{"results": [{"intent", "score", "top"}]}`, one per text, in order.
async fn intent(
    State(state): State<Shared>,
    body: JsonBody<TextsBody>,
) -> Result<Sorted<IntentResults>, ApiError> {
    let texts = parse_texts(body)?;
    let s = state.clone();
    let results = state
        .jobs
        .run(move |_| {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            match s.copilot.intent() {
                Some(task) => task.model.predict_texts(&refs, s.copilot.encoder(), &task.options),
                None => Ok(Vec::new()),
            }
        })
        .await??;
    Ok(Sorted(IntentResults { results }))
}

fn sentiment_docs(op: TransformOperation<'_>) -> TransformOperation<'_> {
    let op = op.summary("Sentiment (label, score -1..1, confidence) of single texts");
    errors(op, &[400, 401, 413, 429, 503, 504])
}

/// `{"results": [{"label", "score" (-1..1), "confidence"}]}`, one per text; 503 when the server has no
/// sentiment head for its encoder.
async fn sentiment(
    State(state): State<Shared>,
    body: JsonBody<TextsBody>,
) -> Result<Sorted<SentimentResults>, ApiError> {
    let texts = parse_texts(body)?;
    let s = state.clone();
    let scored = state
        .jobs
        .run(move |_| {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            match s.copilot.sentiment() {
                Some(model) => model.predict_texts(&refs, s.copilot.encoder()).map(Some),
                None => Ok(None),
            }
        })
        .await??
        .ok_or_else(|| {
            ApiError::kind(
                ErrorKind::ModelNotFound,
                "no sentiment head fits this server's encoder; see the analysis warnings",
            )
            .with_status(StatusCode::SERVICE_UNAVAILABLE)
        })?;
    let results = scored
        .into_iter()
        .map(|(label, score, confidence)| SentimentScore { label, score, confidence })
        .collect();
    Ok(Sorted(SentimentResults { results }))
}
