//! What every handler shares: the loaded models, the job gate and the metrics.

use super::jobs::Jobs;
use super::metrics::Metrics;
use std::sync::Arc;

pub struct AppState {
    pub copilot: copiloot::Copilot,
    pub jobs: Jobs,
    pub metrics: Arc<Metrics>,
}

/// The state as the router and the handlers hold it.
pub type Shared = Arc<AppState>;
