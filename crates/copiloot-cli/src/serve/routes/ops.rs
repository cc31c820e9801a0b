//! The routes around the API: `GET /healthz`, `/readyz`, `/metrics` (Prometheus), `/openapi.json` and
//! `/panel` (the agent panel: one self-contained page, no external requests).

use crate::serve::bodies::{documented, text_response, Readiness, Sorted};
use crate::serve::openapi::Spec;
use crate::serve::state::Shared;
use aide::axum::routing::get_with;
use aide::axum::ApiRouter;
use aide::generate::GenContext;
use aide::openapi::{Operation, Response, StatusCode};
use aide::OperationOutput;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::{Extension, Json};

/// The agent panel: one self-contained page (HTML, CSS, JS; no external requests).
const PANEL: &str = include_str!("../panel.html");

pub fn routes() -> ApiRouter<Shared> {
    ApiRouter::new()
        .api_route("/healthz", get_with(|| async { "ok" }, |op| op.summary("Liveness")))
        .api_route("/readyz", get_with(readyz, |op| op.summary("Models loaded")))
        .api_route("/metrics", get_with(metrics, |op| op.summary("Prometheus metrics")))
        .api_route("/openapi.json", get_with(openapi, |op| op.summary("This OpenAPI 3.1 document")))
        .api_route(
            "/panel",
            get_with(panel, |op| {
                op.summary("The agent panel").description(
                    "A self-contained page defining `<copiloot-panel>`; embed it by iframe and \
                     `postMessage({type: \"copiloot:analyze\", conversation})`. `?lang=nl|en` picks the language. \
                     Live mode follows a session of `/v1/live` (`?live=ID`, or `postMessage({type: \
                     \"copiloot:follow\", session_id, api_key})`): turns, running state and alerts as they come.",
                )
            }),
        )
}

async fn readyz(State(state): State<Shared>) -> Sorted<Readiness> {
    Sorted(Readiness { encoder: state.copilot.encoder().model_id().to_string(), ready: true })
}

/// Prometheus text format 0.0.4.
struct PrometheusText(String);

impl IntoResponse for PrometheusText {
    fn into_response(self) -> axum::response::Response {
        ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], self.0).into_response()
    }
}

impl OperationOutput for PrometheusText {
    type Inner = String;

    fn operation_response(_ctx: &mut GenContext, _operation: &mut Operation) -> Option<Response> {
        Some(text_response("text/plain", "Prometheus text format 0.0.4"))
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<StatusCode>, Response)> {
        documented(200, Self::operation_response(ctx, operation))
    }
}

async fn metrics(State(state): State<Shared>) -> PrometheusText {
    PrometheusText(state.metrics.render(state.jobs.in_flight(), state.sessions.len(), true))
}

async fn openapi(Extension(spec): Extension<Spec>) -> Json<serde_json::Value> {
    Json(spec.0.as_ref().clone())
}

async fn panel() -> Html<&'static str> {
    Html(PANEL)
}
