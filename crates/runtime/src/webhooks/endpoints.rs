//! The endpoints with jobs out (claimed and not yet sent): how many each has,
//! so a claim gives no endpoint more than its share, and the turns each one's
//! sends take, so no more than `per_endpoint` go to it at once. An endpoint
//! may have a second share claimed and waiting for a turn: its next sends are
//! ready while the worker claims more.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Semaphore;

/// Jobs of one endpoint claimed at once at most, in shares of its sends.
pub(super) const SHARES_CLAIMED: usize = 2;

/// The endpoints that have jobs out. Cheap to clone.
#[derive(Clone)]
pub(super) struct Endpoints {
    per_endpoint: usize,
    out: Arc<Mutex<HashMap<String, Out>>>,
}

/// One endpoint's jobs out and its send turns.
struct Out {
    jobs: usize,
    turns: Arc<Semaphore>,
}

impl Endpoints {
    /// No endpoint is sent more than `per_endpoint` jobs at once.
    pub fn new(per_endpoint: usize) -> Self {
        Endpoints { per_endpoint: per_endpoint.max(1), out: Arc::default() }
    }

    /// A copy of the counts, for a claim.
    pub fn out(&self) -> HashMap<String, usize> {
        self.lock().iter().map(|(id, out)| (id.clone(), out.jobs)).collect()
    }

    /// Counts a claimed job of `endpoint`; returns the turns its send waits for.
    pub fn claimed(&self, endpoint: &str) -> Arc<Semaphore> {
        let mut map = self.lock();
        let out = map
            .entry(endpoint.to_owned())
            .or_insert_with(|| Out { jobs: 0, turns: Arc::new(Semaphore::new(self.per_endpoint)) });
        out.jobs += 1;
        out.turns.clone()
    }

    /// Counts a job of `endpoint` as sent; forgets endpoints with none out.
    pub fn done(&self, endpoint: &str) {
        let mut map = self.lock();
        if let Some(out) = map.get_mut(endpoint) {
            out.jobs = out.jobs.saturating_sub(1);
            if out.jobs == 0 {
                map.remove(endpoint);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Out>> {
        self.out.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_jobs_out_and_forgets_endpoints_with_none() {
        let endpoints = Endpoints::new(4);
        endpoints.claimed("wh_a");
        endpoints.claimed("wh_a");
        endpoints.claimed("wh_b");
        assert_eq!(endpoints.out(), HashMap::from([("wh_a".to_owned(), 2), ("wh_b".to_owned(), 1)]));
        endpoints.done("wh_a");
        endpoints.done("wh_b");
        assert_eq!(endpoints.out(), HashMap::from([("wh_a".to_owned(), 1)]));
        endpoints.done("wh_a");
        endpoints.done("wh_a");
        assert!(endpoints.out().is_empty());
    }

    #[test]
    fn the_jobs_of_one_endpoint_share_its_turns() {
        let endpoints = Endpoints::new(2);
        let first = endpoints.claimed("wh_a");
        let second = endpoints.claimed("wh_a");
        assert!(Arc::ptr_eq(&first, &second), "one endpoint, one set of turns");
        let _one = first.clone().try_acquire_owned().expect("first turn");
        let _two = second.clone().try_acquire_owned().expect("second turn");
        assert!(first.clone().try_acquire_owned().is_err(), "a third send waits for a turn");
        let other = endpoints.claimed("wh_b");
        assert!(other.try_acquire_owned().is_ok(), "another endpoint has turns of its own");
    }
}
