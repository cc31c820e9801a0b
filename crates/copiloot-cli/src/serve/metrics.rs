//! Prometheus text metrics: request counts per route and status, inference time, requests in flight,
//! live sessions open.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    inference: Mutex<(f64, u64)>,
    analyses: AtomicU64,
    cancelled: AtomicU64,
}

impl Metrics {
    pub fn count(&self, route: &str, status: u16) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((route.to_string(), status)).or_default() += 1;
        }
    }

    pub fn observe_inference(&self, seconds: f64) {
        if let Ok(mut m) = self.inference.lock() {
            m.0 += seconds;
            m.1 += 1;
        }
    }

    /// One conversation analysed (also inside a batch).
    pub fn count_analysis(&self) {
        self.analyses.fetch_add(1, Ordering::Relaxed);
    }

    /// A job that noticed its client had disconnected and stopped early.
    pub fn count_cancelled(&self) {
        self.cancelled.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self, in_flight: usize, live_sessions: usize, ready: bool) -> String {
        let mut out = String::new();
        out.push_str("# HELP copiloot_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE copiloot_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for ((route, status), n) in m.iter() {
                out.push_str(&format!(
                    "copiloot_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}\n"
                ));
            }
        }
        let (sum, count) = self.inference.lock().map(|m| *m).unwrap_or_default();
        out.push_str("# HELP copiloot_inference_seconds Time spent analysing conversations.\n");
        out.push_str("# TYPE copiloot_inference_seconds summary\n");
        out.push_str(&format!(
            "copiloot_inference_seconds_sum {sum}\ncopiloot_inference_seconds_count {count}\n"
        ));
        out.push_str("# HELP copiloot_analyses_total Conversations analysed.\n# TYPE copiloot_analyses_total counter\n");
        out.push_str(&format!("copiloot_analyses_total {}\n", self.analyses.load(Ordering::Relaxed)));
        out.push_str("# HELP copiloot_cancelled_total Jobs stopped early because the client disconnected.\n# TYPE copiloot_cancelled_total counter\n");
        out.push_str(&format!("copiloot_cancelled_total {}\n", self.cancelled.load(Ordering::Relaxed)));
        out.push_str("# HELP copiloot_in_flight Requests running or waiting for a slot.\n# TYPE copiloot_in_flight gauge\n");
        out.push_str(&format!("copiloot_in_flight {in_flight}\n"));
        out.push_str(
            "# HELP copiloot_live_sessions Live sessions open.\n# TYPE copiloot_live_sessions gauge\n",
        );
        out.push_str(&format!("copiloot_live_sessions {live_sessions}\n"));
        out.push_str("# HELP copiloot_ready Models loaded.\n# TYPE copiloot_ready gauge\n");
        out.push_str(&format!("copiloot_ready {}\n", u8::from(ready)));
        out
    }
}
