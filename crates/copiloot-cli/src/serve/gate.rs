//! Bounded concurrency with a bounded queue: admission is decided up front, so memory never grows with load.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct Gate {
    running: Arc<Semaphore>,
    /// Requests admitted (running or waiting).
    admitted: Arc<AtomicUsize>,
    capacity: usize,
}

/// Held for the life of one analysis — moved into the blocking task, so a timed-out or abandoned request
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

impl Gate {
    pub fn new(max_running: usize, max_waiting: usize) -> Self {
        Self {
            running: Arc::new(Semaphore::new(max_running)),
            admitted: Arc::new(AtomicUsize::new(0)),
            capacity: max_running + max_waiting,
        }
    }

    /// `None` when running + waiting is at capacity: the caller answers 429.
    pub async fn enter(&self) -> Option<Ticket> {
        let admitted = self.admitted.fetch_add(1, Ordering::SeqCst);
        if admitted >= self.capacity {
            self.admitted.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        match self.running.clone().acquire_owned().await {
            Ok(permit) => Some(Ticket { admitted: self.admitted.clone(), _permit: permit }),
            Err(_) => {
                self.admitted.fetch_sub(1, Ordering::SeqCst);
                None
            }
        }
    }

    pub fn in_flight(&self) -> usize {
        self.admitted.load(Ordering::SeqCst)
    }
}
