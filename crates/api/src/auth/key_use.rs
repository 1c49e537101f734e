//! `last_used_at` of API keys, kept in memory per request and written to the
//! database in batches, so authenticating never waits on a write.

use dashmap::DashMap;
use switchboard_store::Store;

#[derive(Default)]
pub struct KeyUse {
    pending: DashMap<String, i64>,
}

impl KeyUse {
    pub fn touch(&self, key_id: &str, at: i64) {
        match self.pending.get_mut(key_id) {
            Some(mut last) => *last = (*last).max(at),
            None => {
                self.pending.insert(key_id.to_owned(), at);
            }
        }
    }

    /// The newest use not yet written, to overlay on what the database says.
    pub fn pending(&self, key_id: &str) -> Option<i64> {
        self.pending.get(key_id).map(|t| *t)
    }

    /// Writes every pending use; on failure they stay pending for the next try.
    pub async fn flush(&self, store: &Store) -> switchboard_store::Result<()> {
        let uses: Vec<(String, i64)> = self.pending.iter().map(|e| (e.key().clone(), *e.value())).collect();
        store.record_key_use(&uses).await?;
        for (id, at) in uses {
            self.pending.remove_if(&id, |_, current| *current == at);
        }
        Ok(())
    }

    /// The later of a stored `last_used_at` and a pending one.
    pub fn merged(&self, key_id: &str, stored: Option<i64>) -> Option<i64> {
        match (stored, self.pending(key_id)) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}
