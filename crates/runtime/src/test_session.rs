//! Test sessions: text conversations with an agent, without a phone call, for
//! integration tests and prompt iteration. The agent's brain runs as in a call
//! (its language model, or the embedded brain, both with the agent's knowledge
//! bases), but no server_url is called, nothing is recorded or billed, and a
//! session idle for three minutes is gone.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use serde::Serialize;
use switchboard_domain::agent::AgentSettings;
use switchboard_domain::ids::IdKind;
use switchboard_store::Clock;
use tokio::sync::Mutex;
use utoipa::ToSchema;

use crate::call::embedded::{EmbeddedBrain, Reply};
use crate::call::llm_brain::{END_CALL, LLM_TIMEOUT, LlmBrain, MAX_TOOL_ROUNDS, TRANSFER_CALL, arguments};
use crate::knowledge::retrieval::{KNOWLEDGE_BASE_SEARCH, KnowledgeSearch};
use crate::llm::StreamEvent;

/// How long a session lives without a message.
pub const IDLE_EXPIRY: Duration = Duration::from_secs(180);

/// A tool the agent called while answering, as reported to the tester.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestToolCall {
    pub name: String,
    #[schema(value_type = Object)]
    pub arguments: serde_json::Value,
}

/// The agent's answer to one message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestReply {
    pub response: String,
    /// True when the agent ended the conversation (end_call or a transfer).
    pub ended: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<TestToolCall>,
}

enum Brain {
    Embedded(EmbeddedBrain, Option<KnowledgeSearch>),
    Llm(Box<LlmBrain>),
}

struct Session {
    brain: Brain,
    ended: bool,
}

/// A session with what is checked without waiting for it: whose it is and
/// when it was last used.
struct Entry {
    project_id: String,
    last_active: AtomicI64,
    session: Arc<Mutex<Session>>,
}

/// The live test sessions of this node. Cheap to clone.
#[derive(Clone)]
pub struct TestSessions {
    sessions: Arc<DashMap<String, Arc<Entry>>>,
    clock: Clock,
}

/// What a session starts from: the agent, with the request's overrides.
pub struct TestStart {
    pub project_id: String,
    pub agent: AgentSettings,
    /// Only this prompt is used: the agent's stored prompt is not loaded.
    pub system_prompt: Option<String>,
    pub first_message: Option<String>,
    pub llm: Option<LlmBrain>,
    /// The agent's knowledge bases, for the embedded brain's answers.
    pub knowledge: Option<KnowledgeSearch>,
}

impl TestSessions {
    pub fn new(clock: Clock) -> Self {
        Self { sessions: Arc::new(DashMap::new()), clock }
    }

    /// Starts a session; returns its id and the agent's greeting.
    pub fn start(&self, start: TestStart) -> (String, String) {
        let first_message = start.first_message.or(start.agent.first_message);
        let embedded = EmbeddedBrain::new(&start.agent.name, first_message.as_deref(), start.agent.end_call_enabled);
        let greeting = embedded.greeting();
        let brain = match start.llm {
            Some(mut llm) => {
                llm.configure(start.system_prompt.as_deref(), Vec::new(), start.agent.end_call_enabled, &greeting);
                Brain::Llm(Box::new(llm))
            }
            None => Brain::Embedded(embedded, start.knowledge),
        };
        let id = IdKind::TestSession.new_id();
        let entry = Entry {
            project_id: start.project_id,
            last_active: AtomicI64::new(self.clock.now_ms()),
            session: Arc::new(Mutex::new(Session { brain, ended: false })),
        };
        self.sessions.insert(id.clone(), Arc::new(entry));
        (id, greeting)
    }

    fn idle(&self, entry: &Entry, now: i64) -> bool {
        now - entry.last_active.load(Ordering::Relaxed) > IDLE_EXPIRY.as_millis() as i64
    }

    /// Answers one message; `None` when this project has no such live session.
    pub async fn message(&self, project_id: &str, id: &str, text: &str) -> Option<TestReply> {
        let entry = self.sessions.get(id).map(|e| e.clone()).filter(|e| e.project_id == project_id)?;
        let now = self.clock.now_ms();
        if self.idle(&entry, now) {
            self.sessions.remove(id);
            return None;
        }
        entry.last_active.store(now, Ordering::Relaxed);
        let mut session = entry.session.lock().await;
        if session.ended {
            return Some(TestReply { response: String::new(), ended: true, tool_calls: Vec::new() });
        }
        let reply = match &mut session.brain {
            Brain::Embedded(brain, knowledge) => match brain.reply(text, knowledge.as_ref()).await {
                Reply::Say(response) => TestReply { response, ended: false, tool_calls: Vec::new() },
                Reply::SayAndHangUp(response) => TestReply { response, ended: true, tool_calls: Vec::new() },
            },
            Brain::Llm(llm) => llm_reply(llm, text).await,
        };
        session.ended = reply.ended;
        Some(reply)
    }

    /// Ends a session; false when there was none.
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

/// One message through the language model: tool rounds until it answers in
/// words. Only the built-ins act (a knowledge search really searches);
/// server_url tools are not offered in tests.
async fn llm_reply(llm: &mut LlmBrain, text: &str) -> TestReply {
    llm.push_user(text);
    let mut reply = TestReply { response: String::new(), ended: false, tool_calls: Vec::new() };
    for round in 0..=MAX_TOOL_ROUNDS {
        let request = llm.request(round < MAX_TOOL_ROUNDS);
        let outcome = match llm.client.stream(&llm.endpoint, request, LLM_TIMEOUT).await {
            Ok(mut events) => loop {
                match events.recv().await {
                    Some(Ok(StreamEvent::Finished(outcome))) => break Some(outcome),
                    Some(Ok(StreamEvent::Token(_))) => {}
                    Some(Err(_)) | None => break None,
                }
            },
            Err(_) => None,
        };
        let Some(outcome) = outcome else {
            reply.response = "The language model did not answer.".into();
            return reply;
        };
        if !outcome.content.is_empty() {
            reply.response = [reply.response.as_str(), outcome.content.as_str()].join(" ").trim().to_owned();
        }
        llm.push_assistant(Some(outcome.content), outcome.tool_calls.clone());
        if outcome.tool_calls.is_empty() {
            break;
        }
        for call in outcome.tool_calls {
            reply.ended |= call.name == END_CALL || call.name == TRANSFER_CALL;
            let args = arguments(&call);
            let result = if call.name == KNOWLEDGE_BASE_SEARCH && llm.knowledge().is_some() {
                llm.search_knowledge(&args).await
            } else {
                serde_json::json!({"ok": true, "note": "test session"}).to_string()
            };
            reply.tool_calls.push(TestToolCall { name: call.name.clone(), arguments: args });
            llm.push_tool_result(&call.id, result);
        }
        if reply.ended {
            break;
        }
    }
    reply
}
