//! The routes of the HTTP API, one module per group. Each module defines its handlers together with
//! their documentation (aide's `ApiRouter::api_route`): a route and its entry in `/openapi.json` are one
//! call (`tests/serve.rs` checks that nothing is served undocumented). Route modules use `state`,
//! `sessions`, `bodies`, `error` and `openapi` (the served document); nothing imports from them.

mod analyze;
mod fields;
mod knowledge;
mod live;
mod ops;
mod stream;
mod texts;

use super::state::Shared;
use aide::axum::ApiRouter;

/// The `/v1` routes: the ones behind the API key, the body limit and the request metrics.
pub fn v1() -> ApiRouter<Shared> {
    ApiRouter::new()
        .merge(analyze::routes())
        .merge(texts::routes())
        .merge(fields::routes())
        .merge(stream::routes())
        .merge(live::routes())
        .merge(knowledge::routes())
}

/// Health, readiness, metrics, the OpenAPI document and the agent panel: open to every caller.
pub fn ops() -> ApiRouter<Shared> {
    ops::routes()
}
