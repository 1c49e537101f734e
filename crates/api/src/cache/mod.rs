//! In-process read caches of the authenticated hot path: API keys by hash, org
//! rows, and agents. A copy is dropped the moment this process changes what it
//! copied (the store's change notices; any write request of the org, for its
//! agents), when another node says so over Redis pub/sub, and in any case once
//! it is older than the TTL. Failed lookups are never cached.

mod entries;
mod freshness;
mod notice;
mod remote;
#[cfg(test)]
mod tests;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use switchboard_domain::keys::{KeyKind, KeyScope};
use switchboard_store::agents::AgentRow;
use switchboard_store::changes::Change;
use switchboard_store::keys::KeyRow;
use switchboard_store::orgs::OrgRow;
use switchboard_store::{Result, Store};

use entries::Entries;
use freshness::{Freshness, Scope};
use remote::Remote;

/// Most copies of each kind kept at once.
const CAPACITY: usize = 100_000;

/// What authentication needs of a live key (neither the raw key nor its hash).
#[derive(Debug)]
pub struct CachedKey {
    pub id: String,
    pub org_id: String,
    pub project_id: Option<String>,
    pub kind: KeyKind,
    pub scope: KeyScope,
}

impl From<KeyRow> for CachedKey {
    fn from(k: KeyRow) -> Self {
        CachedKey { id: k.id, org_id: k.org_id, project_id: k.project_id, kind: k.kind, scope: k.scope }
    }
}

/// An agent as cached: its row, and its JSON view once a reader has rendered
/// it (the row never changes under a copy, so neither does the view).
pub struct CachedAgent {
    pub row: AgentRow,
    pub body: OnceLock<Bytes>,
}

/// The caches of one server process, shared by every request.
pub struct ReadCache {
    ttl: Duration,
    fresh: Freshness,
    keys: Entries<Arc<CachedKey>>,
    orgs: Entries<Arc<OrgRow>>,
    agents: Entries<Arc<CachedAgent>>,
    remote: OnceLock<Remote>,
}

impl ReadCache {
    /// A cache whose copies live at most `ttl` (zero: nothing is cached), told
    /// by `store` about every change committed through it.
    pub fn new(ttl: Duration, store: &Store) -> Arc<Self> {
        let cache = Arc::new(ReadCache {
            ttl,
            fresh: Freshness::default(),
            keys: Entries::new(ttl, CAPACITY),
            orgs: Entries::new(ttl, CAPACITY),
            agents: Entries::new(ttl, CAPACITY),
            remote: OnceLock::new(),
        });
        let weak = Arc::downgrade(&cache);
        store.changes().listen(move |change| {
            if let Some(cache) = weak.upgrade() {
                cache.changed(match change {
                    Change::Org(id) => Scope::Org(id.clone()),
                    Change::KeysRevoked(_) => Scope::Keys,
                });
            }
        });
        cache
    }

    /// Shares invalidations with every other node on this Redis.
    pub async fn connect_redis(self: &Arc<Self>, url: &str) -> redis::RedisResult<()> {
        let remote = Remote::connect(url, Arc::downgrade(self)).await?;
        if self.remote.set(remote).is_err() {
            tracing::warn!("cache invalidations are already shared through Redis");
        }
        Ok(())
    }

    /// The live key with this hash and its org.
    pub async fn key(&self, store: &Store, hash: &str) -> Result<(Arc<CachedKey>, Arc<OrgRow>)> {
        let ticket = self.fresh.ticket();
        let Some(key) = self.keys.get(hash, |_, t| self.fresh.key_ok(t)) else {
            let owner = store.key_by_hash(hash).await?;
            let (key, org) = (Arc::new(CachedKey::from(owner.key)), Arc::new(owner.org));
            self.keys.insert(hash, Arc::clone(&key), ticket);
            self.orgs.insert(&org.id, Arc::clone(&org), ticket);
            return Ok((key, org));
        };
        if let Some(org) = self.orgs.get(&key.org_id, |_, t| self.fresh.org_ok(&key.org_id, t)) {
            return Ok((key, org));
        }
        let org = Arc::new(store.org(&key.org_id).await?);
        self.orgs.insert(&org.id, Arc::clone(&org), ticket);
        Ok((key, org))
    }

    /// An agent of the project. A copy cached for another project is never
    /// served: that lookup goes to the store, which scopes it.
    pub async fn agent(&self, store: &Store, project_id: &str, id: &str) -> Result<Arc<CachedAgent>> {
        let ticket = self.fresh.ticket();
        let cached =
            self.agents.get(id, |a, t| a.row.project_id == project_id && self.fresh.agent_ok(&a.row.org_id, t));
        if let Some(agent) = cached {
            return Ok(agent);
        }
        let agent = Arc::new(CachedAgent { row: store.agent(project_id, id).await?, body: OnceLock::new() });
        self.agents.insert(id, Arc::clone(&agent), ticket);
        Ok(agent)
    }

    /// The org as just read from the store: when the cached copy differs (its
    /// balance was changed by another process, say), it is dropped here and,
    /// with Redis, on every node, so a paused org is refused at once wherever
    /// the pause was seen.
    pub fn saw_org(&self, fresh: &OrgRow) {
        let stale = self.orgs.get(&fresh.id, |_, _| true).is_some_and(|cached| *cached != *fresh);
        if stale {
            self.changed(Scope::Org(fresh.id.clone()));
        }
    }

    /// A write request of the org ran: its agents may have changed, directly or
    /// not (deleting a knowledge base edits the agents that used it).
    pub fn org_wrote(&self, org_id: &str) {
        self.changed(Scope::Agents(org_id.to_owned()));
    }

    /// Returns once this node's invalidations so far have reached the other
    /// nodes' channel (at once without Redis), so a client told its write
    /// succeeded finds every node already told.
    pub async fn told_others(&self) {
        if let Some(remote) = self.remote.get() {
            remote.flushed().await;
        }
    }

    /// Drops expired copies and the floors no copy can be under any more.
    pub fn sweep(&self) {
        self.keys.sweep();
        self.orgs.sweep();
        self.agents.sweep();
        self.fresh.forget_older_than(self.ttl);
    }

    /// A change in this process: invalidate here, then tell the others.
    fn changed(&self, scope: Scope) {
        self.fresh.invalidate(&scope);
        if let Some(remote) = self.remote.get() {
            remote.publish(scope);
        }
    }

    /// Another node's notice.
    fn heard(&self, scope: &Scope) {
        self.fresh.invalidate(scope);
    }
}
