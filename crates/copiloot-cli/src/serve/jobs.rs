//! Where inference runs: on blocking threads, behind a bounded gate, with a time limit.
//!
//! Admission is decided up front (`--max-concurrency` running + `--queue` waiting; anything more gets
//! 429), so memory never grows with load. A job learns through [`Cancel`] that its client went away.

use super::error::ApiError;
use super::metrics::Metrics;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The gate and the time limit that every inference goes through. A clone is the same gate.
#[derive(Clone)]
pub struct Jobs {
    running: Arc<Semaphore>,
    /// Requests admitted (running or waiting).
    admitted: Arc<AtomicUsize>,
    capacity: usize,
    timeout: Duration,
    metrics: Arc<Metrics>,
}

/// Held for the life of one job — moved into the blocking task, so a timed-out or abandoned request
/// keeps its slot until the work really ends.
pub struct Ticket {
    admitted: Arc<AtomicUsize>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admitted.fetch_sub(1, Ordering::SeqCst);
    }
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

impl Jobs {
    pub fn new(max_running: usize, max_waiting: usize, timeout: Duration, metrics: Arc<Metrics>) -> Self {
        Self {
            running: Arc::new(Semaphore::new(max_running)),
            admitted: Arc::new(AtomicUsize::new(0)),
            capacity: max_running + max_waiting,
            timeout,
            metrics,
        }
    }

    /// A slot, after waiting for one if the queue has room; 429 when running + waiting is at capacity.
    pub async fn admit(&self) -> Result<Ticket, ApiError> {
        let admitted = self.admitted.fetch_add(1, Ordering::SeqCst);
        if admitted >= self.capacity {
            self.admitted.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::overloaded());
        }
        match self.running.clone().acquire_owned().await {
            Ok(permit) => Ok(Ticket { admitted: self.admitted.clone(), _permit: permit }),
            Err(_) => {
                self.admitted.fetch_sub(1, Ordering::SeqCst);
                Err(ApiError::overloaded())
            }
        }
    }

    /// Requests running or waiting for a slot.
    pub fn in_flight(&self) -> usize {
        self.admitted.load(Ordering::SeqCst)
    }

    /// The per-request time limit.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Run `job` on a blocking thread behind the gate, with the per-request time limit. The job gets a
    /// [`Cancel`] that turns true when the client disconnects.
    pub async fn run<T, F>(&self, job: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Cancel) -> T + Send + 'static,
    {
        let ticket = self.admit().await?;
        let metrics = self.metrics.clone();
        let cancel = Cancel::default();
        let mut guard = CancelOnDrop(Some(cancel.clone()));
        let started = Instant::now();
        let task = tokio::task::spawn_blocking(move || {
            let _ticket = ticket;
            let out = job(&cancel);
            if cancel.is_cancelled() {
                metrics.count_cancelled();
            }
            out
        });
        let result = match tokio::time::timeout(self.timeout, task).await {
            Ok(Ok(out)) => out,
            Ok(Err(_)) => return Err(ApiError::internal("the analysis task failed")),
            Err(_) => return Err(ApiError::timeout("the analysis took longer than the time limit")),
        };
        guard.0 = None;
        self.metrics.observe_inference(started.elapsed().as_secs_f64());
        Ok(result)
    }
}
