//! Task endpoints next to the whole-conversation `/v1/analyze`: intent and sentiment of single texts
//! (`/v1/intent`, `/v1/sentiment` — for tools that route one chat message at a time) and one field of the
//! analysis of a conversation (`/v1/summarize`, `/v1/churn`).

use super::api::{body_error, parse_body, respond, run_job, AnalyzeQuery, ApiError};
use super::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// Texts per request: enough for a chat history, small enough to answer within the time limit.
const MAX_TEXTS: usize = 256;

#[derive(Deserialize)]
#[serde(untagged)]
enum TextsBody {
    One { text: String },
    Many { texts: Vec<String> },
}

fn parse_texts(body: Result<Bytes, BytesRejection>) -> Result<Vec<String>, ApiError> {
    let body = body.map_err(body_error)?;
    let parsed: TextsBody = serde_json::from_slice(&body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "expected JSON {\"text\": \"…\"} or {\"texts\": [\"…\", …]}",
        )
    })?;
    let texts = match parsed {
        TextsBody::One { text } => vec![text],
        TextsBody::Many { texts } => texts,
    };
    if texts.is_empty() || texts.len() > MAX_TEXTS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            format!("send 1 to {MAX_TEXTS} texts per request (got {})", texts.len()),
        ));
    }
    Ok(texts)
}

/// `POST /v1/intent`: `{"results": [{"intent", "score", "top"}]}`, one per text, in order.
pub async fn intent(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    let result = async {
        let texts = parse_texts(body)?;
        let predictions = run_job(&state, move |s, _| {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            match s.copilot.intent() {
                Some(task) => task.model.predict_texts(&refs, s.copilot.encoder(), &task.options),
                None => Ok(Vec::new()),
            }
        })
        .await??;
        Ok::<_, ApiError>(Json(json!({ "results": predictions })))
    }
    .await;
    respond(&state, "/v1/intent", result)
}

/// `POST /v1/sentiment`: `{"results": [{"label", "score" (-1..1), "confidence"}]}`, one per text.
pub async fn sentiment(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    let result = async {
        let texts = parse_texts(body)?;
        let scored = run_job(&state, move |s, _| {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            match s.copilot.sentiment() {
                Some(model) => model.predict_texts(&refs, s.copilot.encoder()).map(Some),
                None => Ok(None),
            }
        })
        .await??
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "model_not_found",
                "no sentiment head fits this server's encoder; see the analysis warnings",
            )
        })?;
        let results: Vec<Value> = scored
            .into_iter()
            .map(|(label, score, confidence)| {
                json!({"label": label.as_str(), "score": score, "confidence": confidence})
            })
            .collect();
        Ok::<_, ApiError>(Json(json!({ "results": results })))
    }
    .await;
    respond(&state, "/v1/sentiment", result)
}

/// Analyse one conversation and answer with one of its fields.
async fn analysis_field(
    state: Arc<AppState>,
    route: &'static str,
    field: &'static str,
    query: AnalyzeQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let body = body.map_err(body_error)?;
        let conversation = parse_body(&headers, &body, query.id.as_deref())?;
        let analysis = run_job(&state, move |s, _| {
            let analysis = s.copilot.analyze(&conversation);
            s.metrics.count_analysis();
            analysis
        })
        .await??;
        let value = serde_json::to_value(&analysis).unwrap_or_default();
        Ok::<_, ApiError>(Json(json!({
            "conversation_id": analysis.conversation_id,
            "language": analysis.language,
            field: value.get(field).cloned().unwrap_or(Value::Null),
            "warnings": analysis.warnings,
        })))
    }
    .await;
    respond(&state, route, result)
}

/// `POST /v1/summarize`: the grounded summary of one conversation (JSON or text/plain with `?id=`).
pub async fn summarize(
    State(state): State<Arc<AppState>>,
    Query(q): Query<AnalyzeQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    analysis_field(state, "/v1/summarize", "summary", q, headers, body).await
}

/// `POST /v1/churn`: the churn risk of one conversation with its reasons.
pub async fn churn(
    State(state): State<Arc<AppState>>,
    Query(q): Query<AnalyzeQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    analysis_field(state, "/v1/churn", "churn", q, headers, body).await
}
