//! Routes, handlers and the JSON error contract of the HTTP API.

use super::{AppState, ServeArgs};
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use copiloot::conversation::{parse_json, parse_transcript, ParseOptions};
use copiloot::{Analysis, Conversation, ErrorKind};
use serde::Deserialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The agent panel: one self-contained page (HTML, CSS, JS; no external requests).
const PANEL: &str = include_str!("panel.html");

/// A JSON error with a stable `code`; messages describe the problem, never echo transcript text.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }
}

impl From<copiloot::Error> for ApiError {
    fn from(e: copiloot::Error) -> Self {
        let status = match e.kind() {
            ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
            ErrorKind::InputTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.code(), e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({"error": {"code": self.code, "message": self.message}}));
        let mut resp = (self.status, body).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS || self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

pub fn router(state: Arc<AppState>, args: &ServeArgs) -> anyhow::Result<Router> {
    let mut v1 = Router::new()
        .route("/v1/analyze", post(analyze))
        .route("/v1/analyze/batch", post(analyze_batch))
        .route("/v1/intent", post(super::tasks::intent))
        .route("/v1/sentiment", post(super::tasks::sentiment))
        .route("/v1/summarize", post(super::tasks::summarize))
        .route("/v1/summarize/stream", post(super::stream::summarize_stream))
        .route("/v1/churn", post(super::tasks::churn))
        .layer(axum::extract::DefaultBodyLimit::max(args.max_body_bytes));
    if let Some(key) = args.api_key.clone().filter(|k| !k.is_empty()) {
        let key = Arc::new(key);
        v1 = v1.layer(axum::middleware::from_fn(move |req: Request, next: Next| {
            let key = key.clone();
            async move { require_key(&key, req, next).await }
        }));
    }
    let mut app = Router::new()
        .merge(v1)
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/panel", get(|| async { Html(PANEL) }))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route; see /openapi.json")
        })
        .with_state(state);
    if let Some(origin) = &args.cors_origin {
        let origin: HeaderValue =
            origin.parse().map_err(|_| anyhow::anyhow!("--cors-origin `{origin}` is not a valid origin"))?;
        app = app.layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(origin)
                .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
                .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION]),
        );
    }
    Ok(app)
}

async fn require_key(key: &str, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), key.as_bytes()) {
        next.run(req).await
    } else {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong `Authorization: Bearer` key",
        )
        .into_response()
    }
}

/// Compare without an early exit, so the time taken does not reveal how much of the key matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, &x) in b.iter().enumerate() {
        diff |= x ^ a.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

#[derive(Deserialize)]
pub struct AnalyzeQuery {
    /// Conversation id for plain-text transcripts.
    pub id: Option<String>,
}

pub fn parse_body(headers: &HeaderMap, body: &[u8], id: Option<&str>) -> Result<Conversation, ApiError> {
    let opts = ParseOptions { source: Some("request body".into()), ..ParseOptions::default() };
    let text = copiloot::conversation::decode_utf8(body, &opts)?;
    let is_text = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/plain"));
    Ok(if is_text {
        parse_transcript(id.unwrap_or("conversation"), text, &opts)?
    } else {
        parse_json(text, &opts)?
    })
}

/// Set when the request's future is dropped before it finished — the client went away — so a batch
/// stops at the next conversation instead of doing work nobody will read.
#[derive(Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Cancels on drop unless disarmed: lives in the handler's future, which hyper drops on disconnect.
struct CancelOnDrop(Option<Cancel>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.0.store(true, Ordering::Relaxed);
        }
    }
}

/// Run `job` on a blocking thread behind the gate, with the per-request time limit. The job gets the
/// shared state and a [`Cancel`] that turns true when the client disconnects.
pub async fn run_job<T, F>(state: &Arc<AppState>, job: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&AppState, &Cancel) -> T + Send + 'static,
{
    let ticket = state.gate.enter().await.ok_or_else(|| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "overloaded",
            "the server is at capacity; retry after a second",
        )
    })?;
    let worker = state.clone();
    let cancel = Cancel::default();
    let mut guard = CancelOnDrop(Some(cancel.clone()));
    let started = Instant::now();
    let task = tokio::task::spawn_blocking(move || {
        let _ticket = ticket;
        let out = job(&worker, &cancel);
        if cancel.is_cancelled() {
            worker.metrics.count_cancelled();
        }
        out
    });
    let result = match tokio::time::timeout(state.timeout, task).await {
        Ok(Ok(out)) => out,
        Ok(Err(_)) => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the analysis task failed",
            ))
        }
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                "the analysis took longer than the time limit",
            ))
        }
    };
    guard.0 = None;
    state.metrics.observe_inference(started.elapsed().as_secs_f64());
    Ok(result)
}

/// Analyse conversations in order, stopping early when the client has gone.
async fn run_analysis(
    state: &Arc<AppState>,
    conversations: Vec<Conversation>,
) -> Result<Vec<copiloot::Result<Analysis>>, ApiError> {
    run_job(state, move |s, cancel| {
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

async fn analyze(
    State(state): State<Arc<AppState>>,
    Query(q): Query<AnalyzeQuery>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let result = async {
        let body = body.map_err(body_error)?;
        let conversation = parse_body(&headers, &body, q.id.as_deref())?;
        let mut results = run_analysis(&state, vec![conversation]).await?;
        let analysis = results
            .pop()
            .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "no result"))??;
        Ok::<_, ApiError>(Json(analysis))
    }
    .await;
    respond(&state, "/v1/analyze", result)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum BatchBody {
    List(Vec<serde_json::Value>),
    Wrapped { conversations: Vec<serde_json::Value> },
}

async fn analyze_batch(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let result = async {
        let body = body.map_err(body_error)?;
        let parsed: BatchBody = serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_input",
                format!("expected a JSON list of conversations: {e}"),
            )
        })?;
        let items = match parsed {
            BatchBody::List(v) | BatchBody::Wrapped { conversations: v } => v,
        };
        let opts = ParseOptions::default();
        let mut slots: Vec<Result<Conversation, copiloot::Error>> =
            items.iter().map(|v| parse_json(&v.to_string(), &opts)).collect();
        let good: Vec<Conversation> = slots.iter().filter_map(|s| s.as_ref().ok().cloned()).collect();
        let mut analysed = run_analysis(&state, good).await?.into_iter();
        let results: Vec<serde_json::Value> = slots
            .iter_mut()
            .map(|slot| match slot {
                Ok(_) => match analysed.next() {
                    Some(Ok(a)) => serde_json::to_value(a).unwrap_or_default(),
                    Some(Err(e)) => {
                        serde_json::json!({"error": {"code": e.code(), "message": e.to_string()}})
                    }
                    None => serde_json::json!({"error": {"code": "internal", "message": "missing result"}}),
                },
                Err(e) => serde_json::json!({"error": {"code": e.code(), "message": e.to_string()}}),
            })
            .collect();
        Ok::<_, ApiError>(Json(serde_json::json!({ "results": results })))
    }
    .await;
    respond(&state, "/v1/analyze/batch", result)
}

pub fn body_error(e: axum::extract::rejection::BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the request body is larger than the server's limit",
        )
    } else {
        ApiError::new(e.status(), "bad_body", "the request body could not be read")
    }
}

pub fn respond(state: &AppState, route: &str, result: Result<impl IntoResponse, ApiError>) -> Response {
    let resp = match result {
        Ok(ok) => ok.into_response(),
        Err(e) => e.into_response(),
    };
    state.metrics.count(route, resp.status().as_u16());
    resp
}

async fn readyz(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({"ready": true, "encoder": state.copilot.encoder().model_id()}))
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let text = state.metrics.render(state.gate.in_flight(), true);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

async fn openapi() -> Json<serde_json::Value> {
    Json(super::openapi::spec())
}

#[cfg(test)]
mod tests {
    #[test]
    fn constant_time_compare() {
        assert!(super::constant_time_eq(b"secret", b"secret"));
        assert!(!super::constant_time_eq(b"secreT", b"secret"));
        assert!(!super::constant_time_eq(b"secret-longer", b"secret"));
        assert!(!super::constant_time_eq(b"", b"secret"));
    }
}
