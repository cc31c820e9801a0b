//! What every handler shares: the loaded models, the knowledge base's search defaults, the job gate, the
//! live sessions and the metrics.

use super::jobs::Jobs;
use super::metrics::Metrics;
use super::sessions::Sessions;
use std::sync::Arc;

pub struct AppState {
    pub copilot: copiloot::Copilot,
    /// The `--top-k`, `--min-score` and `--retriever` of `serve --kb`: what analyses and live sessions
    /// use, and the defaults of `POST /v1/knowledge/search` (the knowledge base is `copilot.knowledge()`).
    pub search: copiloot::knowledge::SearchOptions,
    pub jobs: Jobs,
    pub sessions: Sessions,
    pub metrics: Arc<Metrics>,
}

/// The state as the router and the handlers hold it.
pub type Shared = Arc<AppState>;
