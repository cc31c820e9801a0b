//! The JSON error contract of the HTTP API: `{"error": {"code", "message"}}` with a stable `code`.
//!
//! Errors of the core library keep their [`ErrorKind`] code and get their status from one `match` on the
//! kind ([`status_of`]); the server's own refusals (auth, capacity, time limit, body) have constructors
//! here. Messages describe the problem and never echo transcript text.

use aide::generate::GenContext;
use aide::openapi::{Operation, Response};
use aide::transform::TransformOperation;
use aide::OperationOutput;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use copiloot::ErrorKind;
use schemars::JsonSchema;
use serde::Serialize;

/// The body of every error response (and of an `error` item of a batch or an event stream).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorDetail {
    /// Stable name of the error family: an `ErrorKind` code of the library (`invalid_input`,
    /// `input_too_large`, `model_not_found`, …) or one of the server's (`unauthorized`, `not_found`,
    /// `body_too_large`, `bad_body`, `overloaded`, `timeout`, `internal`, `no_knowledge_base`; for live
    /// sessions `unknown_session`, `session_exists`, `too_many_sessions`, and in their event streams
    /// `lagged` and `shutdown`).
    pub code: &'static str,
    /// What went wrong; never contains transcript text.
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { error: ErrorDetail { code, message: message.into() } }
    }
}

impl From<&copiloot::Error> for ErrorBody {
    fn from(e: &copiloot::Error) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

/// The HTTP status of an error of the core library.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorKind::InputTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::ModelNotFound
        | ErrorKind::ModelLoad
        | ErrorKind::Checksum
        | ErrorKind::Install
        | ErrorKind::Inference
        | ErrorKind::Config
        | ErrorKind::Io => StatusCode::INTERNAL_SERVER_ERROR,
        // `ErrorKind` is non-exhaustive: a future family is the server's problem until mapped here.
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error response: a status and an [`ErrorBody`].
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, body: ErrorBody::new(code, message) }
    }

    /// An error of a library family, with the family's status (see [`status_of`]).
    pub fn kind(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self::new(status_of(kind), kind.code(), message)
    }

    /// The same error with another status (e.g. 503 for a model this server does not have).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// 401: the `/v1` routes need `Authorization: Bearer KEY` and it is missing or wrong.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "missing or wrong `Authorization: Bearer` key")
    }

    /// 404 for any path the router does not serve.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such route; see /openapi.json")
    }

    /// 404 for a live session that does not exist for this API key: never created, created with another
    /// key, closed, or closed after `--session-idle-secs` without a turn.
    pub fn unknown_session() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "unknown_session",
            "no such live session for this API key: it was never created (with this key), was closed, or \
             timed out without turns; sessions are also lost when the server restarts",
        )
    }

    /// 404 for the knowledge routes of a server started without `--kb`: there is no knowledge base to
    /// search, and retrying will not make one appear (unlike a 503).
    pub fn no_knowledge_base() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "no_knowledge_base",
            "this server has no knowledge base: build one with `copiloot kb index` and start the server \
             with `--kb`",
        )
    }

    /// 409: the caller already has an open live session with this id.
    pub fn session_exists() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "session_exists",
            "a live session with this id is already open for this API key; close it or pick another id",
        )
    }

    /// 429 (with `Retry-After`): `--max-sessions` live sessions are open.
    pub fn too_many_sessions(max: usize) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_sessions",
            format!(
                "the server already holds its maximum of {max} live sessions (--max-sessions); close one \
                 (DELETE /v1/live/{{id}}) or wait for idle ones to time out"
            ),
        )
    }

    /// 429 (with `Retry-After`): running and waiting slots are all taken.
    pub fn overloaded() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "overloaded",
            "the server is at capacity; retry after a second",
        )
    }

    /// 504: the work took longer than `--timeout-secs`.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GATEWAY_TIMEOUT, "timeout", message)
    }

    /// 500: something failed on the server's side that is not an error of the library.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// The request body could not be read (413 above `--max-body-bytes`).
    pub fn body(e: &BytesRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the request body is larger than the server's limit",
            )
        } else {
            Self::new(e.status(), "bad_body", "the request body could not be read")
        }
    }

    pub fn into_body(self) -> ErrorBody {
        self.body
    }
}

impl From<copiloot::Error> for ApiError {
    fn from(e: copiloot::Error) -> Self {
        Self::kind(e.kind(), e.to_string())
    }
}

impl From<BytesRejection> for ApiError {
    fn from(e: BytesRejection) -> Self {
        Self::body(&e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let mut resp = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS || self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

/// Documents the error body; which statuses a route answers is listed per route with [`errors`].
impl OperationOutput for ApiError {
    type Inner = ErrorBody;

    fn operation_response(ctx: &mut GenContext, operation: &mut Operation) -> Option<Response> {
        Json::<ErrorBody>::operation_response(ctx, operation)
    }
}

/// The documented meaning of each error status the API answers.
fn describe(status: u16) -> &'static str {
    match status {
        400 => "invalid input (malformed JSON, unknown speaker, empty conversation …)",
        401 => "missing or wrong API key (when the server has one)",
        404 => {
            "no such live session for this API key (never created, closed or timed out), or no knowledge \
             base on this server (`no_knowledge_base`: start it with --kb)"
        }
        409 => "a live session with this id is already open for this API key",
        413 => "request body, conversation or live turn too large, or too many turns in the session",
        429 => "at capacity (or at --max-sessions live sessions); retry after the Retry-After seconds",
        503 => "the model for this task is not available on this server",
        504 => "the work exceeded the time limit",
        _ => "error",
    }
}

/// Add the error responses with these statuses (each an [`ErrorBody`]) to a route's documentation.
pub fn errors<'t>(mut op: TransformOperation<'t>, statuses: &[u16]) -> TransformOperation<'t> {
    let operation = op.inner_mut();
    let Some(mut response) = aide::generate::in_context(|ctx| ApiError::operation_response(ctx, operation))
    else {
        return op;
    };
    let responses = operation.responses.get_or_insert_with(Default::default);
    for &status in statuses {
        response.description = describe(status).to_string();
        responses.responses.insert(
            aide::openapi::StatusCode::Code(status),
            aide::openapi::ReferenceOr::Item(response.clone()),
        );
    }
    op
}
