//! The OpenAPI 3.1 document of the HTTP API, assembled from the routes' own documentation (aide): the
//! paths, methods, parameters and bodies come from the handlers' types, the schemas from the data
//! contract's `JsonSchema` derives. Nothing here is written by hand except the document's `info`.
//!
//! Why aide rather than utoipa: the core types derive `schemars::JsonSchema` (schemars 1) and aide uses
//! exactly that, while utoipa would need its own `ToSchema` derives in the core crate; and aide's
//! `ApiRouter` makes a route and its documentation one call, so the spec cannot drift from the router.

use super::state::Shared;
use aide::axum::ApiRouter;
use aide::openapi::OpenApi;
use std::sync::Arc;

/// The generated document, served by `GET /openapi.json` (an axum `Extension`).
#[derive(Clone)]
pub struct Spec(pub Arc<serde_json::Value>);

/// Turn the documented routes into a plain axum router and their generated OpenAPI document.
pub fn finish(api: ApiRouter<Shared>) -> (axum::Router<Shared>, Spec) {
    let mut doc = OpenApi { openapi: "3.1.0".into(), ..OpenApi::default() };
    let router = api.finish_api_with(&mut doc, |t| {
        t.title("copiloot")
            .version(env!("CARGO_PKG_VERSION"))
            .description("Local-first AI copilot for contact-center agents")
    });
    let value = serde_json::to_value(&doc).unwrap_or_default();
    (router, Spec(Arc::new(value)))
}
