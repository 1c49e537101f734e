//! Change notices: when a write that a cache may hold a copy of commits (an org's
//! tier or balance, a key's revocation), the store tells its listeners at once, in
//! the writing task, so their copies are dropped before the write returns.

use std::sync::{Arc, PoisonError, RwLock};

/// What a committed write changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An org's row: tier, balance or rate.
    Org(String),
    /// API keys (by id) were revoked, one by one or with their project.
    KeysRevoked(Vec<String>),
}

type Listener = Arc<dyn Fn(&Change) + Send + Sync>;

/// The listeners of a store, shared by all its clones.
#[derive(Clone, Default)]
pub struct Changes {
    listeners: Arc<RwLock<Vec<Listener>>>,
}

impl Changes {
    /// Calls `listener` after every change committed through this store or any
    /// clone of it. Listeners must be quick: they run inside the write.
    pub fn listen(&self, listener: impl Fn(&Change) + Send + Sync + 'static) {
        self.listeners.write().unwrap_or_else(PoisonError::into_inner).push(Arc::new(listener));
    }

    pub(crate) fn notify(&self, change: Change) {
        let listeners = self.listeners.read().unwrap_or_else(PoisonError::into_inner).clone();
        for listener in listeners {
            listener(&change);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn every_listener_of_every_clone_hears_each_change() {
        let changes = Changes::default();
        let heard = Arc::new(Mutex::new(Vec::new()));
        for n in 0..2 {
            let heard = Arc::clone(&heard);
            changes.clone().listen(move |c| heard.lock().unwrap_or_else(PoisonError::into_inner).push((n, c.clone())));
        }
        changes.notify(Change::Org("org_1".into()));
        let heard = heard.lock().unwrap_or_else(PoisonError::into_inner).clone();
        assert_eq!(heard, vec![(0, Change::Org("org_1".into())), (1, Change::Org("org_1".into()))]);
    }
}
