//! How many jobs each endpoint has out (claimed and not yet recorded): a
//! claim gives no endpoint more than its share, so a slow endpoint holds at
//! most `per_endpoint` of the worker's slots and its sends never queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The endpoints that have jobs out. Cheap to clone.
#[derive(Clone, Default)]
pub(super) struct Endpoints {
    out: Arc<Mutex<HashMap<String, usize>>>,
}

impl Endpoints {
    /// A copy of the counts, for a claim.
    pub fn out(&self) -> HashMap<String, usize> {
        self.lock().clone()
    }

    /// Counts a claimed job of `endpoint`.
    pub fn claimed(&self, endpoint: &str) {
        *self.lock().entry(endpoint.to_owned()).or_default() += 1;
    }

    /// Counts a job of `endpoint` as done; forgets endpoints with none out.
    pub fn done(&self, endpoint: &str) {
        let mut map = self.lock();
        if let Some(out) = map.get_mut(endpoint) {
            *out = out.saturating_sub(1);
            if *out == 0 {
                map.remove(endpoint);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.out.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_jobs_out_and_forgets_endpoints_with_none() {
        let endpoints = Endpoints::default();
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
}
