//! Starting calls and controlling them: admission under the org's concurrent
//! call limit, the rules that refuse a call (paused org, archived or inactive
//! agent), the transport and session tasks of each call, and API commands.

use serde_json::Value;
use switchboard_domain::call::{CallCost, CallStatus, Direction, Disposition};
use switchboard_domain::ids::IdKind;
use switchboard_domain::server_url::{AgentConfig, CallStarted};
use switchboard_store::Store;
use switchboard_store::agents::AgentRow;
use switchboard_store::calls::{CallEnd, CallRow, NewCall};
use switchboard_store::orgs::OrgRow;
use tokio::sync::{mpsc, oneshot};

use crate::call::llm_brain::LlmBrain;
use crate::call::memory::CallerMemory;
use crate::call::session::{self, SessionIo, SessionSpec};
use crate::call::{CallClock, CallCommand, ControlError};
use crate::knowledge::retrieval::KnowledgeSearch;
use crate::llm::LlmClient;
use crate::llm_config::LlmSettings;
use crate::outbound::OutboundClient;
use crate::registry::{LiveCall, LiveCalls};
use crate::server_url::ServerUrl;
use crate::sim::script::{CallerScript, default_callee};
use crate::sim::transport::{self, SimCall};
use crate::test_session::{TestSessions, TestStart};
use switchboard_domain::memory::MemoryRules;

/// A call to start.
#[derive(Debug, Clone)]
pub struct CallRequest {
    pub org: OrgRow,
    pub project_id: String,
    pub agent: AgentRow,
    pub direction: Direction,
    pub from: String,
    pub to: String,
    pub metadata: Value,
    /// The far end's behaviour on the simulated carrier.
    pub script: Option<CallerScript>,
}

/// Why a call was not started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("Account paused due to insufficient credits.")]
    Paused,
    #[error("{0}")]
    AgentUnavailable(&'static str),
    #[error("Concurrent call limit reached for this account.")]
    ConcurrentLimit,
    #[error(transparent)]
    Store(#[from] switchboard_store::Error),
}

/// Starts and controls the calls of this node. Cheap to clone.
#[derive(Clone)]
pub struct CallEngine {
    store: Store,
    live: LiveCalls,
    clock: CallClock,
    outbound: OutboundClient,
    llm: LlmSettings,
    tests: TestSessions,
    /// Caller memory in calls: recall at the start, save at the end.
    memory: Option<MemoryRules>,
}

impl CallEngine {
    pub fn new(store: Store, live: LiveCalls, clock: CallClock, outbound: OutboundClient, llm: LlmSettings) -> Self {
        let tests = TestSessions::new(store.clock().clone());
        Self { store, live, clock, outbound, llm, tests, memory: None }
    }

    /// Turns on caller memory in calls, scored by `rules`.
    pub fn with_memory(mut self, rules: MemoryRules) -> Self {
        self.memory = Some(rules);
        self
    }

    pub fn test_sessions(&self) -> &TestSessions {
        &self.tests
    }

    /// Starts a text test session with an agent; returns its id and greeting.
    /// Only the given `system_prompt` is used, never the agent's stored one.
    pub fn start_test(
        &self,
        project_id: &str,
        agent: &AgentRow,
        system_prompt: Option<String>,
        first_message: Option<String>,
    ) -> (String, String) {
        self.tests.start(TestStart {
            project_id: project_id.to_owned(),
            agent: agent.settings.clone(),
            system_prompt,
            first_message,
            llm: self.llm_for(agent),
            knowledge: self.knowledge_for(agent),
        })
    }

    /// The guarded HTTP client every outbound request of this node uses.
    pub fn outbound(&self) -> &OutboundClient {
        &self.outbound
    }

    /// The agent's knowledge bases, searched by both brains.
    fn knowledge_for(&self, agent: &AgentRow) -> Option<KnowledgeSearch> {
        KnowledgeSearch::for_agent(&self.store, &agent.org_id, &agent.settings.knowledge_base_ids)
    }

    pub fn live(&self) -> &LiveCalls {
        &self.live
    }

    /// The language model of a call (agent → project → org → server). `None`
    /// runs the embedded brain.
    fn llm_for(&self, agent: &AgentRow) -> Option<LlmBrain> {
        let own = agent.settings.llm.as_ref();
        let endpoint = self.llm.resolve(&agent.org_id, &agent.project_id, own)?;
        // The streaming client sends through the guarded client's resolver,
        // but an IP-literal URL must be checked before it is used.
        if let Err(err) = self.outbound.check_url(&endpoint.base_url) {
            tracing::warn!(agent_id = agent.id, error = %err, "language model URL refused; using the embedded brain");
            return None;
        }
        let client = LlmClient::new(self.outbound.http().clone());
        Some(LlmBrain::new(client, endpoint, own.and_then(|l| l.temperature)).with_knowledge(self.knowledge_for(agent)))
    }

    /// Why this agent cannot take a call now, if it cannot.
    fn unavailable(agent: &AgentRow) -> Option<&'static str> {
        if agent.archived_at.is_some() {
            Some("Agent is archived")
        } else if !agent.settings.is_active {
            Some("Agent is not active")
        } else {
            None
        }
    }

    /// Starts a call. An outbound call that may not start is refused with an
    /// error; an inbound call that may not start is recorded as `rejected`.
    pub async fn start(&self, request: CallRequest) -> Result<CallRow, StartError> {
        let refusal = if request.org.is_paused() {
            Some(StartError::Paused)
        } else {
            Self::unavailable(&request.agent).map(StartError::AgentUnavailable)
        };
        let refused = refusal.is_some();
        if let (Some(err), Direction::Outbound) = (refusal, request.direction) {
            return Err(err);
        }
        let call = NewCall {
            id: IdKind::Call.new_id(),
            org_id: request.org.id.clone(),
            project_id: request.project_id.clone(),
            agent_id: request.agent.id.clone(),
            direction: request.direction,
            from_number: request.from.clone(),
            to_number: request.to.clone(),
            rate_per_minute: request.org.rate_per_minute(),
            recording_enabled: request.agent.settings.recording,
            metadata: if request.metadata.is_object() {
                request.metadata.clone()
            } else {
                Value::Object(Default::default())
            },
        };
        let (commands_tx, commands_rx) = mpsc::channel(16);
        let live = LiveCall {
            call_id: call.id.clone(),
            org_id: call.org_id.clone(),
            project_id: call.project_id.clone(),
            agent_id: call.agent_id.clone(),
            started_at: self.store.clock().now_ms(),
            answered_at: None,
        };
        let admitted = !refused && self.live.admit(live, commands_tx, request.org.tier.concurrent_calls());
        if !admitted {
            if request.direction == Direction::Outbound {
                return Err(StartError::ConcurrentLimit);
            }
            let row = self.store.insert_call(&call).await?;
            return Ok(self.reject(&row).await?);
        }
        let row = match self.store.insert_call(&call).await {
            Ok(row) => row,
            Err(err) => {
                self.live.remove(&call.id);
                return Err(err.into());
            }
        };
        let caller = match &self.memory {
            Some(rules) => {
                let ani = if request.direction == Direction::Inbound { &row.from_number } else { &row.to_number };
                CallerMemory::recall(&self.store, &row.org_id, &row.project_id, ani, rules).await
            }
            None => None,
        };
        let server = self.server_url(&request, &row, caller.as_ref());
        let llm = self.llm_for(&request.agent);
        let sim = match request.direction {
            Direction::Outbound => {
                SimCall::Outbound { to: request.to.clone(), script: request.script.unwrap_or_else(default_callee) }
            }
            Direction::Inbound => SimCall::Inbound { script: request.script.unwrap_or_default() },
        };
        let (events, actions) = transport::spawn(sim, self.clock);
        let spec = SessionSpec {
            memory: caller,
            org_id: row.org_id.clone(),
            call_id: row.id.clone(),
            project_id: row.project_id.clone(),
            agent_id: row.agent_id.clone(),
            server,
            llm,
            knowledge: self.knowledge_for(&request.agent),
            agent: request.agent.settings,
            rate_per_minute: row.rate_per_minute,
            balance: request.org.balance,
            metadata: row.metadata.clone(),
            clock: self.clock,
        };
        let io = SessionIo { events, actions, commands: commands_rx };
        let (store, live_calls, call_id) = (self.store.clone(), self.live.clone(), row.id.clone());
        tokio::spawn(async move {
            if let Err(err) = session::run(spec, io, store, live_calls.clone()).await {
                tracing::error!(call_id, error = %err, "call session could not record its end");
                live_calls.remove(&call_id);
            }
        });
        Ok(row)
    }

    /// The agent's server_url for this call and the `call.started` it gets.
    fn server_url(
        &self,
        request: &CallRequest,
        row: &CallRow,
        caller: Option<&CallerMemory>,
    ) -> Option<(ServerUrl, CallStarted)> {
        let url = request.agent.settings.server_url.clone()?;
        let agent = &request.agent.settings;
        let body = CallStarted {
            event: "call.started".into(),
            call_id: row.id.clone(),
            agent_id: row.agent_id.clone(),
            from: row.from_number.clone(),
            to: row.to_number.clone(),
            direction: row.direction.as_str().into(),
            agent: AgentConfig {
                name: agent.name.clone(),
                system_prompt: agent.system_prompt.clone(),
                first_message: agent.first_message.clone(),
                language: agent.language.clone(),
                voice: agent.voice.clone(),
                max_duration: agent.max_duration,
                end_call_enabled: agent.end_call_enabled,
                knowledge_base_ids: agent.knowledge_base_ids.clone(),
            },
            metadata: row.metadata.clone(),
            caller: caller.map(CallerMemory::payload),
            timestamp: switchboard_domain::time::iso(self.store.clock().now_ms()),
        };
        let server = ServerUrl::new(self.outbound.clone(), url, request.agent.webhook_secret.clone(), row.id.clone());
        Some((server, body))
    }

    /// Records an inbound call that was not let in.
    async fn reject(&self, row: &CallRow) -> switchboard_store::Result<CallRow> {
        let end = CallEnd {
            status: CallStatus::Rejected,
            disposition: Disposition::Rejected,
            ended_reason: None,
            ended_at: self.store.clock().now_ms(),
            duration_seconds: 0,
            cost: CallCost::default(),
            transfer_duration_seconds: 0,
            transferred_to: None,
            has_recording: false,
            turn_count: 0,
            tool_call_count: 0,
            tools_called: Vec::new(),
            metadata: row.metadata.clone(),
            extracted_data: None,
            transcript: Value::Array(Vec::new()),
            latency: serde_json::json!({"turns": []}),
            ws_unavailable: false,
            config_source: "agent".into(),
            brain: "embedded".into(),
            server_url_error: None,
            language: None,
        };
        self.store.finish_call(&row.project_id, &row.id, &end).await
    }

    /// Sends a command to a live call and waits for its answer.
    pub async fn command(
        &self,
        call_id: &str,
        make: impl FnOnce(oneshot::Sender<Result<(), ControlError>>) -> CallCommand,
    ) -> Result<(), ControlError> {
        let Some(control) = self.live.control(call_id) else { return Err(ControlError::NotInProgress) };
        let (reply, answer) = oneshot::channel();
        control.send(make(reply)).await.map_err(|_| ControlError::NotInProgress)?;
        answer.await.unwrap_or(Err(ControlError::NotInProgress))
    }
}
