//! What every handler shares: the loaded models, the job gate, the live sessions and the metrics.

use super::jobs::Jobs;
use super::metrics::Metrics;
use super::sessions::Sessions;
use std::sync::Arc;

pub struct AppState {
    pub copilot: copiloot::Copilot,
    pub jobs: Jobs,
    pub sessions: Sessions,
    pub metrics: Arc<Metrics>,
}

/// The state as the router and the handlers hold it.
pub type Shared = Arc<AppState>;
