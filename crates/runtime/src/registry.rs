//! The registry of live calls on this node: answers status and count queries
//! from memory, admits new calls under the org's concurrent-call limit, and
//! routes API commands to the session that owns a call.

use std::sync::{Arc, Mutex, PoisonError};

use dashmap::DashMap;
use tokio::sync::mpsc;

use crate::call::CallCommand;

/// What the registry knows of one call in progress.
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

struct Entry {
    call: LiveCall,
    control: Option<mpsc::Sender<CallCommand>>,
}

/// Calls in progress on this node, keyed by call id. Cheap to clone.
#[derive(Clone, Default)]
pub struct LiveCalls {
    calls: Arc<DashMap<String, Entry>>,
    /// Serialises admission so two calls cannot both take an org's last slot.
    admission: Arc<Mutex<()>>,
}

impl LiveCalls {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a call as live without a limit or a control channel.
    pub fn insert(&self, call: LiveCall) {
        self.calls.insert(call.call_id.clone(), Entry { call, control: None });
    }

    /// Records a call as live if its org has fewer than `limit` live calls
    /// (`None`: unlimited). Returns whether it was admitted.
    pub fn admit(&self, call: LiveCall, control: mpsc::Sender<CallCommand>, limit: Option<u32>) -> bool {
        let _guard = self.admission.lock().unwrap_or_else(PoisonError::into_inner);
        if limit.is_some_and(|limit| self.count_for_org(&call.org_id) >= limit as usize) {
            return false;
        }
        self.calls.insert(call.call_id.clone(), Entry { call, control: Some(control) });
        true
    }

    pub fn mark_answered(&self, call_id: &str, at: i64) {
        if let Some(mut entry) = self.calls.get_mut(call_id) {
            entry.call.answered_at = Some(at);
        }
    }

    pub fn remove(&self, call_id: &str) -> Option<LiveCall> {
        self.calls.remove(call_id).map(|(_, entry)| entry.call)
    }

    pub fn get(&self, call_id: &str) -> Option<LiveCall> {
        self.calls.get(call_id).map(|e| e.call.clone())
    }

    /// The channel to a live call's session.
    pub fn control(&self, call_id: &str) -> Option<mpsc::Sender<CallCommand>> {
        self.calls.get(call_id).and_then(|e| e.control.clone())
    }

    /// How many live calls an agent has.
    pub fn count_for_agent(&self, project_id: &str, agent_id: &str) -> usize {
        self.calls.iter().filter(|e| e.call.project_id == project_id && e.call.agent_id == agent_id).count()
    }

    /// How many live calls an org has, for the concurrent-call limit.
    pub fn count_for_org(&self, org_id: &str) -> usize {
        self.calls.iter().filter(|e| e.call.org_id == org_id).count()
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
    fn counts_follow_inserts_and_removals() {
        let live = LiveCalls::new();
        live.insert(call("call_1", "agent_x"));
        live.insert(call("call_2", "agent_x"));
        live.insert(call("call_3", "agent_y"));
        assert_eq!(live.count_for_agent("proj_a", "agent_x"), 2);
        assert_eq!(live.count_for_agent("proj_b", "agent_x"), 0);
        assert_eq!(live.count_for_org("org_a"), 3);
        assert_eq!(live.remove("call_1").map(|c| c.agent_id), Some("agent_x".into()));
        assert_eq!(live.count_for_agent("proj_a", "agent_x"), 1);
        assert!(live.get("call_1").is_none());
    }

    #[test]
    fn admission_stops_at_the_limit() {
        let live = LiveCalls::new();
        let (tx, _rx) = mpsc::channel(1);
        assert!(live.admit(call("call_1", "a"), tx.clone(), Some(2)));
        assert!(live.admit(call("call_2", "a"), tx.clone(), Some(2)));
        assert!(!live.admit(call("call_3", "a"), tx.clone(), Some(2)));
        assert!(live.admit(call("call_4", "a"), tx.clone(), None));
        assert!(live.control("call_1").is_some());
        live.mark_answered("call_1", 42);
        assert_eq!(live.get("call_1").and_then(|c| c.answered_at), Some(42));
    }
}
