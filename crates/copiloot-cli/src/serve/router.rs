//! The whole HTTP application: the documented routes (`routes`), the API keys (each request's
//! [`Caller`], which live sessions belong to), the body limit and the request metrics on `/v1`, CORS,
//! the JSON 404 and the generated `/openapi.json`.

use super::bodies::Uncounted;
use super::error::ApiError;
use super::openapi;
use super::routes;
use super::sessions::Caller;
use super::state::Shared;
use aide::axum::ApiRouter;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// What the router needs from the command line.
pub struct Options {
    /// One of them is required as `Authorization: Bearer KEY` on every /v1 route when there are any.
    pub api_keys: Vec<String>,
    /// The browser origin allowed by CORS; CORS is off without it.
    pub cors_origin: Option<String>,
    pub max_body_bytes: usize,
}

pub fn router(state: Shared, opts: &Options) -> anyhow::Result<Router> {
    let mut v1 = routes::v1()
        .route_layer(from_fn_with_state(state.clone(), count_requests))
        .layer(axum::extract::DefaultBodyLimit::max(opts.max_body_bytes));
    let keys: Arc<Vec<String>> = Arc::new(opts.api_keys.iter().filter(|k| !k.is_empty()).cloned().collect());
    v1 = v1.layer(from_fn(move |req: Request, next: Next| {
        let keys = keys.clone();
        async move { authenticate(&keys, req, next).await }
    }));
    let (app, spec) = openapi::finish(ApiRouter::new().merge(v1).merge(routes::ops()));
    let mut app = app.layer(Extension(spec)).fallback(|| async { ApiError::not_found() }).with_state(state);
    if let Some(origin) = &opts.cors_origin {
        let origin: HeaderValue =
            origin.parse().map_err(|_| anyhow::anyhow!("--cors-origin `{origin}` is not a valid origin"))?;
        app = app.layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(origin)
                .allow_methods([Method::GET, Method::POST, Method::DELETE])
                .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION]),
        );
    }
    Ok(app)
}

/// `copiloot_requests_total{route, status}` for every answer of a /v1 handler (inside the key check, so
/// a 401 is not counted). Not counted either, as before: the method router's own 405 and refusals
/// marked [`Uncounted`] — no handler ran for them.
async fn count_requests(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let resp = next.run(req).await;
    let handled =
        resp.status() != StatusCode::METHOD_NOT_ALLOWED && resp.extensions().get::<Uncounted>().is_none();
    if let (Some(route), true) = (route, handled) {
        state.metrics.count(&route, resp.status().as_u16());
    }
    resp
}

/// Lets the request in as the [`Caller`] of the key it carries (anyone when the server has no key);
/// 401 otherwise.
async fn authenticate(keys: &[String], mut req: Request, next: Next) -> Response {
    let caller = if keys.is_empty() {
        Caller(None)
    } else {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        // Every key is compared, so the time taken does not tell which one (or whether any) matched.
        let matched = keys.iter().enumerate().fold(None, |found, (i, key)| {
            if key_matches(given, key) && found.is_none() {
                Some(i)
            } else {
                found
            }
        });
        match matched {
            Some(i) => Caller(Some(i)),
            None => return ApiError::unauthorized().into_response(),
        }
    };
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// Compare in constant time (`subtle`), so the time taken does not reveal how much of the key matched.
/// A key of another length fails at once: the length is not the secret.
fn key_matches(given: &str, key: &str) -> bool {
    bool::from(given.as_bytes().ct_eq(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn constant_time_compare() {
        assert!(super::key_matches("secret", "secret"));
        assert!(!super::key_matches("secreT", "secret"));
        assert!(!super::key_matches("secret-longer", "secret"));
        assert!(!super::key_matches("", "secret"));
    }
}
