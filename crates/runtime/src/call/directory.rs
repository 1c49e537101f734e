//! The directory of live calls: which calls are in progress, their live status,
//! per-org and per-agent counts, admission under the org's concurrent-call
//! limit, and the channel that reaches each call's session. The in-process
//! directory is the one implementation today; a shared one (Redis) lets
//! several nodes see each other's calls.

use dashmap::DashMap;
use tokio::sync::{mpsc, oneshot};

use super::{CallCommand, ControlError};

/// What the directory knows of one call in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCall {
    pub call_id: String,
    pub org_id: String,
    pub project_id: String,
    pub agent_id: String,
    /// Epoch ms the call started ringing.
    pub started_at: i64,
    /// Epoch ms the call was answered.
    pub answered_at: Option<i64>,
}

/// A command on its way to a session, with where its answer goes.
pub struct Control {
    pub command: CallCommand,
    pub reply: oneshot::Sender<Result<(), ControlError>>,
}

/// The channel into one call's session.
pub type ControlSender = mpsc::Sender<Control>;

/// Live calls, wherever they run.
pub trait CallDirectory: Send + Sync {
    /// Records `call` as live if its org has fewer than `limit` live calls
    /// (`None`: unlimited). Returns whether it was admitted.
    fn admit(&self, call: LiveCall, control: ControlSender, limit: Option<u32>) -> bool;
    /// The call was answered at `at` (epoch ms).
    fn answered(&self, call_id: &str, at: i64);
    /// The call is over.
    fn remove(&self, call_id: &str);
    fn get(&self, call_id: &str) -> Option<LiveCall>;
    /// The channel to a live call's session.
    fn control(&self, call_id: &str) -> Option<ControlSender>;
    /// How many live calls an org has.
    fn count_for_org(&self, org_id: &str) -> usize;
    /// How many live calls an agent of a project has.
    fn count_for_agent(&self, project_id: &str, agent_id: &str) -> usize;
}

struct Entry {
    call: LiveCall,
    control: ControlSender,
}

/// The live calls of this process. Admission and removal touch only the
/// call's own entries (sharded maps), never a global lock or a scan.
#[derive(Default)]
pub struct LocalDirectory {
    calls: DashMap<String, Entry>,
    orgs: DashMap<String, usize>,
    agents: DashMap<(String, String), usize>,
}

impl LocalDirectory {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Takes one from a counter, forgetting it at zero.
fn decrement<K: std::hash::Hash + Eq + Clone>(counts: &DashMap<K, usize>, key: &K) {
    counts.remove_if_mut(key, |_, count| {
        *count = count.saturating_sub(1);
        *count == 0
    });
}

impl CallDirectory for LocalDirectory {
    fn admit(&self, call: LiveCall, control: ControlSender, limit: Option<u32>) -> bool {
        {
            let mut count = self.orgs.entry(call.org_id.clone()).or_insert(0);
            if limit.is_some_and(|limit| *count >= limit as usize) {
                return false;
            }
            *count += 1;
        }
        *self.agents.entry((call.project_id.clone(), call.agent_id.clone())).or_insert(0) += 1;
        self.calls.insert(call.call_id.clone(), Entry { call, control });
        metrics::gauge!("switchboard_live_calls").increment(1.0);
        true
    }

    fn answered(&self, call_id: &str, at: i64) {
        if let Some(mut entry) = self.calls.get_mut(call_id) {
            entry.call.answered_at = Some(at);
        }
    }

    fn remove(&self, call_id: &str) {
        if let Some((_, entry)) = self.calls.remove(call_id) {
            decrement(&self.orgs, &entry.call.org_id);
            decrement(&self.agents, &(entry.call.project_id, entry.call.agent_id));
            metrics::gauge!("switchboard_live_calls").decrement(1.0);
        }
    }

    fn get(&self, call_id: &str) -> Option<LiveCall> {
        self.calls.get(call_id).map(|e| e.call.clone())
    }

    fn control(&self, call_id: &str) -> Option<ControlSender> {
        self.calls.get(call_id).map(|e| e.control.clone())
    }

    fn count_for_org(&self, org_id: &str) -> usize {
        self.orgs.get(org_id).map_or(0, |c| *c)
    }

    fn count_for_agent(&self, project_id: &str, agent_id: &str) -> usize {
        self.agents.get(&(project_id.to_owned(), agent_id.to_owned())).map_or(0, |c| *c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: &str, agent: &str) -> LiveCall {
        LiveCall {
            call_id: id.into(),
            org_id: "org_a".into(),
            project_id: "proj_a".into(),
            agent_id: agent.into(),
            started_at: 0,
            answered_at: None,
        }
    }

    #[test]
    fn counts_follow_admissions_and_removals() {
        let live = LocalDirectory::new();
        let (tx, _rx) = mpsc::channel(1);
        assert!(live.admit(call("call_1", "agent_x"), tx.clone(), None));
        assert!(live.admit(call("call_2", "agent_x"), tx.clone(), None));
        assert!(live.admit(call("call_3", "agent_y"), tx.clone(), None));
        assert_eq!(live.count_for_agent("proj_a", "agent_x"), 2);
        assert_eq!(live.count_for_agent("proj_b", "agent_x"), 0);
        assert_eq!(live.count_for_org("org_a"), 3);
        live.remove("call_1");
        live.remove("call_1");
        assert_eq!(live.count_for_agent("proj_a", "agent_x"), 1);
        assert_eq!(live.count_for_org("org_a"), 2);
        assert!(live.get("call_1").is_none());
        live.remove("call_2");
        live.remove("call_3");
        assert_eq!(live.count_for_org("org_a"), 0);
        assert!(live.orgs.is_empty() && live.agents.is_empty(), "counters of gone orgs are forgotten");
    }

    #[test]
    fn admission_stops_at_the_limit() {
        let live = LocalDirectory::new();
        let (tx, _rx) = mpsc::channel(1);
        assert!(live.admit(call("call_1", "a"), tx.clone(), Some(2)));
        assert!(live.admit(call("call_2", "a"), tx.clone(), Some(2)));
        assert!(!live.admit(call("call_3", "a"), tx.clone(), Some(2)));
        assert!(live.admit(call("call_4", "a"), tx.clone(), None));
        assert!(live.control("call_1").is_some());
        live.answered("call_1", 42);
        assert_eq!(live.get("call_1").and_then(|c| c.answered_at), Some(42));
    }

    #[test]
    fn concurrent_admissions_never_pass_the_limit() {
        let live = std::sync::Arc::new(LocalDirectory::new());
        let (tx, _rx) = mpsc::channel(1);
        let admitted: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|t| {
                    let (live, tx) = (live.clone(), tx.clone());
                    scope.spawn(move || {
                        (0..50)
                            .filter(|i| live.admit(call(&format!("call_{t}_{i}"), "a"), tx.clone(), Some(25)))
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        });
        assert_eq!(admitted, 25);
        assert_eq!(live.count_for_org("org_a"), 25);
    }
}
