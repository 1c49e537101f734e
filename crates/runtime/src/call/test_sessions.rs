//! Test sessions: text conversations with an agent, without a phone call, for
//! integration tests and prompt iteration. They run the very session calls
//! run, over the text transport: the same brain, tools, IVR menus, knowledge
//! bases and caller memory. Nothing is recorded or billed, no limit of a call
//! applies, and a session idle for three minutes is gone. As Staffify
//! documents, the server_url is not called unless the session asks for it
//! (`use_server_url`); then `call.started` and server_url tools run exactly
//! as in a call.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use serde_json::Value;
use switchboard_domain::call::{CallRecord, Direction, Ringing};
use switchboard_domain::ids::IdKind;
use switchboard_store::Clock;
use tokio::sync::{Mutex, mpsc};

use super::directory::Control;
use super::memory::CallerMemory;
use super::recorder::TestLog;
pub use super::recorder::ToolUse;
use super::service::{CallError, CallService, Parts, Tenant};
use super::transports::Connection;
use super::transports::text::TextLine;
pub use super::transports::text::TextReply;

/// How long a session lives without a message.
pub const IDLE_EXPIRY: Duration = Duration::from_secs(180);

/// What a test session starts from: an agent, with the request's overrides.
#[derive(Debug, Clone, Default)]
pub struct TestStart {
    pub agent_id: String,
    /// Only this prompt is used: the agent's stored prompt is not loaded.
    pub system_prompt: Option<String>,
    pub first_message: Option<String>,
    pub language: Option<String>,
    /// Call the agent's server_url (`call.started`, tools) as a call would.
    pub use_server_url: bool,
    /// The caller's number, by which caller memory recognises them.
    pub from_number: Option<String>,
}

/// A session with what is checked without waiting for it: whose it is and
/// when it was last used.
struct Entry {
    project_id: String,
    last_active: AtomicI64,
    line: Arc<Mutex<TextLine>>,
    /// Keeps the session's command channel open while it lives.
    _commands: mpsc::Sender<Control>,
}

/// The live test sessions of this node. Cheap to clone.
#[derive(Clone)]
pub struct TestSessions {
    sessions: Arc<DashMap<String, Arc<Entry>>>,
    clock: Clock,
}

impl TestSessions {
    pub fn new(clock: Clock) -> Self {
        Self { sessions: Arc::new(DashMap::new()), clock }
    }

    fn idle(&self, entry: &Entry, now: i64) -> bool {
        now - entry.last_active.load(Ordering::Relaxed) > IDLE_EXPIRY.as_millis() as i64
    }

    /// Answers one message; `None` when this project has no such live session.
    pub async fn message(&self, project_id: &str, id: &str, text: &str) -> Option<TextReply> {
        let entry = self.sessions.get(id).map(|e| e.clone()).filter(|e| e.project_id == project_id)?;
        let now = self.clock.now_ms();
        if self.idle(&entry, now) {
            self.sessions.remove(id);
            return None;
        }
        entry.last_active.store(now, Ordering::Relaxed);
        let mut line = entry.line.lock().await;
        if line.ended() {
            return Some(TextReply { ended: true, ..TextReply::default() });
        }
        Some(line.message(text).await)
    }

    /// Ends a session; false when there was none. Its line closes, so the
    /// session ends too.
    pub fn delete(&self, project_id: &str, id: &str) -> bool {
        let now = self.clock.now_ms();
        self.sessions.remove_if(id, |_, e| e.project_id == project_id && !self.idle(e, now)).is_some()
    }

    /// Forgets sessions idle for longer than the expiry.
    pub fn expire_idle(&self) {
        let now = self.clock.now_ms();
        self.sessions.retain(|_, e| !self.idle(e, now));
    }
}

impl CallService {
    /// Starts a test session with one of the tenant's agents; returns its id
    /// and the agent's greeting.
    pub async fn start_test(&self, tenant: Tenant<'_>, start: TestStart) -> Result<(String, String), CallError> {
        self.runtime()?;
        let store = self.store();
        let agent = store.agent(tenant.project_id, &start.agent_id).await.map_err(|e| match e {
            switchboard_store::Error::NotFound => CallError::NotFound("Agent not found".into()),
            other => other.into(),
        })?;
        let mut settings = agent.settings.clone();
        settings.system_prompt = start.system_prompt;
        if let Some(message) = start.first_message {
            settings.first_message = Some(message);
        }
        if let Some(language) = start.language {
            settings.language = language;
        }
        let id = IdKind::TestSession.new_id();
        let from = start.from_number.unwrap_or_default();
        let memory = match (self.memory_rules(), from.is_empty()) {
            (Some(rules), false) => CallerMemory::recall(store, tenant.org_id, tenant.project_id, &from, rules).await,
            _ => None,
        };
        let record = CallRecord::ringing(Ringing {
            id: id.clone(),
            org_id: tenant.org_id.to_owned(),
            project_id: tenant.project_id.to_owned(),
            agent_id: Some(agent.id.clone()),
            direction: Direction::Inbound,
            from_number: from,
            to_number: String::new(),
            rate_per_minute: 0,
            recording_enabled: false,
            metadata: Value::Object(Default::default()),
            node_id: None,
            at: store.clock().now_ms(),
        });
        let parts = Parts {
            record,
            agent: &agent,
            settings,
            memory,
            use_server_url: start.use_server_url,
            credit: None,
            limits: false,
        };
        let (session, jobs) = self.session(parts);
        let (mut line, connection, tools) = TextLine::new();
        let (commands_tx, commands) = mpsc::channel(1);
        let link = Box::new(connection).open(super::CallClock::new(1.0));
        self.run(session, link, commands, jobs, TestLog { tools });
        let greeting = line.answer().await.response;
        let entry = Entry {
            project_id: tenant.project_id.to_owned(),
            last_active: AtomicI64::new(store.clock().now_ms()),
            line: Arc::new(Mutex::new(line)),
            _commands: commands_tx,
        };
        self.tests().sessions.insert(id.clone(), Arc::new(entry));
        Ok((id, greeting))
    }
}
