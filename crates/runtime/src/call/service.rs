//! The call service: the one front door for calls. It places outbound calls
//! through a dialer, accepts inbound calls a transport hands over (routing
//! them by the dialled number), sends commands to live calls and reads their
//! status, each scoped to a tenant and answering a typed error. The API, the
//! simulator, and later the campaign dialer and the SIP stack all start calls
//! here.

use std::sync::Arc;

use serde_json::Value;
use switchboard_domain::agent::AgentSettings;
use switchboard_domain::call::analysis::{self, CallAnalysis};
use switchboard_domain::call::{CallRecord, CallStatus, Direction, Disposition, EndedReason, Ringing};
use switchboard_domain::ids::IdKind;
use switchboard_domain::memory::MemoryRules;
use switchboard_domain::money::Micros;
use switchboard_domain::phone::{E164, E164_PROBLEM};
use switchboard_domain::server_url::{AgentConfig, CallStarted};
use switchboard_store::Store;
use switchboard_store::agents::AgentRow;
use switchboard_store::journal::CallJournal;
use switchboard_store::orgs::OrgRow;
use switchboard_store::phone_numbers::Dialled;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::analysis::Analyst;
use super::directory::{CallDirectory, Control, LiveCall};
use super::driver::{Call, drive};
use super::jobs::{JobContext, Model};
use super::memory::CallerMemory;
use super::recorder::{Recorder, StoredCall};
use super::session::{Session, SessionSpec};
use super::test_sessions::TestSessions;
use super::transports::{Connection, Dial, Dialer};
use super::{CallClock, CallCommand, ControlError};
use crate::appointments::Appointments;
use crate::appointments::tools::CallDesk;
use crate::call::server_url::ServerUrl;
use crate::knowledge::retrieval::KnowledgeSearch;
use crate::llm::LlmClient;
use crate::llm::config::LlmSettings;
use crate::outbound::OutboundClient;

/// Whose call it is.
#[derive(Debug, Clone, Copy)]
pub struct Tenant<'a> {
    pub org_id: &'a str,
    pub project_id: &'a str,
}

/// An outbound call to place.
#[derive(Debug, Clone)]
pub struct OutboundCall {
    pub agent_id: String,
    /// E.164 number to call.
    pub to: String,
    /// E.164 caller id: a live number of the project; default [`DEFAULT_CALLER_ID`].
    pub from_number: Option<String>,
    /// A live number of the project to call from.
    pub phone_number_id: Option<String>,
    pub metadata: Option<Value>,
    /// Carrier-specific options, checked by the dialer.
    pub options: Option<Value>,
}

/// An inbound call a transport accepted.
pub struct InboundCall {
    /// The caller's E.164 number.
    pub from: String,
    /// The dialled E.164 number.
    pub to: String,
    /// The agent that answers; without it the dialled number routes the call.
    pub agent_id: Option<String>,
    pub connection: Box<dyn Connection>,
}

/// The caller id of an outbound call that names none.
pub const DEFAULT_CALLER_ID: &str = "+15550000000";

/// Why the service refused.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{0}")]
    NotFound(String),
    /// Fields of the request that are wrong: (field, why).
    #[error("invalid request")]
    Invalid(Vec<(String, String)>),
    #[error("Account paused due to insufficient credits.")]
    Paused,
    #[error("{0}")]
    AgentUnavailable(&'static str),
    #[error("Concurrent call limit reached for this account.")]
    ConcurrentLimit,
    #[error("Insufficient credits for the first minute of a call.")]
    InsufficientCredits,
    #[error("Call has not ended")]
    NotEnded,
    #[error("Call was not answered; there is nothing to analyse")]
    NotAnswered,
    #[error("This node does not run calls; send call requests to a node with the runtime or all role.")]
    NoRuntime,
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error(transparent)]
    Store(#[from] switchboard_store::Error),
}

impl CallError {
    fn not_found(what: &str) -> impl FnOnce(switchboard_store::Error) -> CallError + '_ {
        move |err| match err {
            switchboard_store::Error::NotFound => CallError::NotFound(format!("{what} not found")),
            other => CallError::Store(other),
        }
    }
}

/// A call's state as its status endpoint shows it: live from the directory
/// while it runs, from the store once it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallState {
    pub call_id: String,
    pub status: CallStatus,
    pub duration_seconds: i64,
    pub started_at: i64,
    pub ended_at: Option<i64>,
}

/// How calls of this node run.
#[derive(Clone)]
pub struct CallSettings {
    pub clock: CallClock,
    pub llm: LlmSettings,
    /// Caller memory in calls (recall at the start, save at the end); `None` turns it off.
    pub memory: Option<MemoryRules>,
    /// This node, recorded on the calls it holds.
    pub node_id: String,
    /// Whether calls start and run on this node; without, placing, accepting
    /// and test sessions are refused with [`CallError::NoRuntime`].
    pub runs_calls: bool,
}

/// The calls of this node. Cheap to clone.
#[derive(Clone)]
pub struct CallService(Arc<Inner>);

struct Inner {
    store: Store,
    journal: CallJournal,
    directory: Arc<dyn CallDirectory>,
    outbound: OutboundClient,
    dialer: Arc<dyn Dialer>,
    settings: CallSettings,
    tests: TestSessions,
}

/// Who calls whom, and what the caller put on the call.
struct Ends {
    direction: Direction,
    from: String,
    to: String,
    metadata: Value,
}

/// How the call reaches the far end.
enum Reach {
    Dial(Option<Value>),
    Accept(Box<dyn Connection>),
}

/// What a session is built from, for calls and test sessions alike.
pub(super) struct Parts<'a> {
    pub record: CallRecord,
    pub agent: &'a AgentRow,
    /// The agent's settings as this session uses them.
    pub settings: AgentSettings,
    pub memory: Option<CallerMemory>,
    pub use_server_url: bool,
    /// The org's credit the call holds from the start; `None`: not limited.
    pub credit: Option<Micros>,
    pub limits: bool,
}

impl CallService {
    pub fn new(
        store: Store,
        journal: CallJournal,
        directory: Arc<dyn CallDirectory>,
        outbound: OutboundClient,
        dialer: Arc<dyn Dialer>,
        settings: CallSettings,
    ) -> Self {
        let tests = TestSessions::new(store.clock().clone());
        CallService(Arc::new(Inner { store, journal, directory, outbound, dialer, settings, tests }))
    }

    pub(super) fn store(&self) -> &Store {
        &self.0.store
    }

    /// The directory of live calls.
    pub fn directory(&self) -> &Arc<dyn CallDirectory> {
        &self.0.directory
    }

    /// The test sessions of this node.
    pub fn tests(&self) -> &TestSessions {
        &self.0.tests
    }

    /// Caller-memory rules of calls, when memory is on.
    pub(super) fn memory_rules(&self) -> Option<&MemoryRules> {
        self.0.settings.memory.as_ref()
    }

    /// Refuses work that needs a call runtime on a node without one.
    pub(super) fn runtime(&self) -> Result<(), CallError> {
        if self.0.settings.runs_calls { Ok(()) } else { Err(CallError::NoRuntime) }
    }

    /// Waits until everything live calls wrote so far is committed.
    pub async fn flush(&self) {
        self.0.journal.flush().await;
    }

    /// Places an outbound call with one of the tenant's agents.
    pub async fn place(&self, tenant: Tenant<'_>, call: OutboundCall) -> Result<CallRecord, CallError> {
        self.runtime()?;
        let store = &self.0.store;
        let mut problems = Vec::new();
        if E164::parse(&call.to).is_none() {
            problems.push(("to".to_owned(), E164_PROBLEM.to_owned()));
        }
        let from = match &call.phone_number_id {
            Some(id) => {
                let number =
                    store.phone_number(tenant.project_id, id).await.map_err(CallError::not_found("Phone number"))?;
                if call.from_number.as_ref().is_some_and(|f| *f != number.phone_number) {
                    let why =
                        format!("Conflicts with phone_number_id ({}): send one or the other.", number.phone_number);
                    problems.push(("from_number".to_owned(), why));
                }
                number.phone_number
            }
            None => call.from_number.clone().unwrap_or_else(|| DEFAULT_CALLER_ID.to_owned()),
        };
        if E164::parse(&from).is_none() {
            problems.push(("from_number".to_owned(), E164_PROBLEM.to_owned()));
        } else if call.phone_number_id.is_none()
            && call.from_number.is_some()
            && store.live_number(tenant.project_id, &from).await?.is_none()
        {
            // A caller id is one of the project's own numbers, never another's.
            let why = "Must be a live number of this project (see GET /v1/phone-numbers), or left out.";
            problems.push(("from_number".to_owned(), why.to_owned()));
        }
        if call.metadata.as_ref().is_some_and(|m| !m.is_object()) {
            problems.push(("metadata".to_owned(), "Must be an object.".to_owned()));
        }
        if let Some(options) = &call.options
            && let Err(err) = self.0.dialer.check_options(options)
        {
            problems.push((err.field, err.message));
        }
        if !problems.is_empty() {
            return Err(CallError::Invalid(problems));
        }
        let agent = store.agent(tenant.project_id, &call.agent_id).await.map_err(CallError::not_found("Agent"))?;
        let org = store.org(tenant.org_id).await?;
        let metadata = call.metadata.unwrap_or_else(|| Value::Object(Default::default()));
        let ends = Ends { direction: Direction::Outbound, from, to: call.to, metadata };
        self.start(org, agent, ends, Reach::Dial(call.options)).await
    }

    /// Takes an inbound call from a transport: to the named agent, or routed as
    /// a carrier routes it by the dialled number. A number of the project with
    /// no agent, or one it released, gets the call `rejected`; a call over the
    /// org's limit, for a paused org, or to an archived or inactive agent is
    /// recorded as `rejected` too.
    pub async fn accept(&self, tenant: Tenant<'_>, call: InboundCall) -> Result<CallRecord, CallError> {
        self.runtime()?;
        let store = &self.0.store;
        let mut problems = Vec::new();
        for (field, number) in [("from", &call.from), ("to", &call.to)] {
            if E164::parse(number).is_none() {
                problems.push((field.to_owned(), E164_PROBLEM.to_owned()));
            }
        }
        if !problems.is_empty() {
            return Err(CallError::Invalid(problems));
        }
        let agent_id = match call.agent_id {
            Some(agent_id) => agent_id,
            None => {
                let unrouted = match store.dialled(tenant.project_id, &call.to).await? {
                    Dialled::Live(number) => number.agent_id.ok_or(EndedReason::NumberUnassigned),
                    Dialled::Released => Err(EndedReason::NumberReleased),
                    Dialled::Unknown => {
                        return Err(CallError::NotFound(format!(
                            "{} is not a phone number of this project; pass agent_id or dial one of its numbers.",
                            call.to
                        )));
                    }
                };
                match unrouted {
                    Ok(agent_id) => agent_id,
                    Err(reason) => return self.unrouted(tenant, &call.from, &call.to, reason).await,
                }
            }
        };
        let agent = store.agent(tenant.project_id, &agent_id).await.map_err(CallError::not_found("Agent"))?;
        let org = store.org(tenant.org_id).await?;
        let ends = Ends {
            direction: Direction::Inbound,
            from: call.from,
            to: call.to,
            metadata: Value::Object(Default::default()),
        };
        self.start(org, agent, ends, Reach::Accept(call.connection)).await
    }

    /// Records an inbound call no agent can take: rejected, nothing billed.
    async fn unrouted(
        &self,
        tenant: Tenant<'_>,
        from: &str,
        to: &str,
        reason: EndedReason,
    ) -> Result<CallRecord, CallError> {
        let record = CallRecord::ringing(Ringing {
            id: IdKind::Call.new_id(),
            org_id: tenant.org_id.to_owned(),
            project_id: tenant.project_id.to_owned(),
            agent_id: None,
            direction: Direction::Inbound,
            from_number: from.to_owned(),
            to_number: to.to_owned(),
            rate_per_minute: 0,
            recording_enabled: false,
            metadata: Value::Null,
            node_id: None,
            at: self.0.store.clock().now_ms(),
        })
        .refused(CallStatus::Rejected, Disposition::Rejected, Some(reason));
        self.0.store.insert_call(&record).await?;
        Ok(record)
    }

    /// A call that may not start: an outbound one is refused with `why`; an
    /// inbound one is recorded as `rejected` (the caller was turned away).
    async fn turn_away(
        &self,
        record: CallRecord,
        direction: Direction,
        why: CallError,
    ) -> Result<CallRecord, CallError> {
        if direction == Direction::Outbound {
            return Err(why);
        }
        let record = record.refused(CallStatus::Rejected, Disposition::Rejected, None);
        self.0.store.insert_call(&record).await?;
        Ok(record)
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
    async fn start(&self, org: OrgRow, agent: AgentRow, ends: Ends, reach: Reach) -> Result<CallRecord, CallError> {
        let inner = &self.0;
        let refusal = if org.is_paused() {
            Some(CallError::Paused)
        } else {
            Self::unavailable(&agent).map(CallError::AgentUnavailable)
        };
        let record = CallRecord::ringing(Ringing {
            id: IdKind::Call.new_id(),
            org_id: org.id.clone(),
            project_id: agent.project_id.clone(),
            agent_id: Some(agent.id.clone()),
            direction: ends.direction,
            from_number: ends.from,
            to_number: ends.to,
            rate_per_minute: org.rate_per_minute(),
            recording_enabled: agent.settings.recording,
            metadata: ends.metadata,
            node_id: Some(inner.settings.node_id.clone()),
            at: inner.store.clock().now_ms(),
        });
        if let Some(why) = refusal {
            return self.turn_away(record, ends.direction, why).await;
        }
        let (control, commands) = mpsc::channel(16);
        let live = LiveCall {
            call_id: record.id.clone(),
            org_id: record.org_id.clone(),
            project_id: record.project_id.clone(),
            agent_id: agent.id.clone(),
            started_at: record.started_at,
            answered_at: None,
        };
        if !inner.directory.admit(live, control, org.tier.concurrent_calls()) {
            return self.turn_away(record, ends.direction, CallError::ConcurrentLimit).await;
        }
        // The org's credit limits the call (every tier that can pause): it
        // starts holding its first minute, or does not start.
        let credit = (org.tier.is_paused(0) && record.rate_per_minute > 0).then_some(record.rate_per_minute);
        let inserted = match credit {
            Some(first) => inner.store.insert_call_reserving(&record, first).await,
            None => inner.store.insert_call(&record).await.map(|()| true),
        };
        match inserted {
            Ok(true) => {}
            Ok(false) => {
                inner.directory.remove(&record.id);
                return self.turn_away(record, ends.direction, CallError::InsufficientCredits).await;
            }
            Err(err) => {
                inner.directory.remove(&record.id);
                return Err(err.into());
            }
        }
        let memory = match &inner.settings.memory {
            Some(rules) => {
                let ani = if record.direction == Direction::Inbound { &record.from_number } else { &record.to_number };
                CallerMemory::recall(&inner.store, &record.org_id, &record.project_id, ani, rules).await
            }
            None => None,
        };
        let parts = Parts {
            record: record.clone(),
            agent: &agent,
            settings: agent.settings.clone(),
            memory,
            use_server_url: true,
            credit,
            limits: true,
        };
        let (session, jobs) = self.session(parts);
        let link = match reach {
            Reach::Dial(options) => inner.dialer.dial(Dial {
                call_id: record.id.clone(),
                from: record.from_number.clone(),
                to: record.to_number.clone(),
                options,
                clock: inner.settings.clock,
            }),
            Reach::Accept(connection) => connection.open(inner.settings.clock),
        };
        let analyst = Analyst {
            store: inner.store.clone(),
            model: jobs.model.clone(),
            criteria: agent.settings.success_criteria.clone(),
        };
        let recorder = StoredCall {
            analyst,
            journal: inner.journal.clone(),
            directory: inner.directory.clone(),
            org_id: record.org_id.clone(),
            project_id: record.project_id.clone(),
            agent_id: agent.id.clone(),
            call_id: record.id.clone(),
            pending: Vec::new(),
        };
        self.run(session, link, commands, jobs, recorder);
        Ok(record)
    }

    /// Runs a session to its end on a task of its own, in a span naming the call.
    pub(super) fn run<R: Recorder>(
        &self,
        session: Session,
        link: super::TransportLink,
        commands: mpsc::Receiver<Control>,
        jobs: Arc<JobContext>,
        recorder: R,
    ) {
        let span = tracing::info_span!("call", call_id = %session.call_id(), project_id = %session.project_id());
        let call = Call { session, link, commands, jobs, recorder, clock: self.0.store.clock().clone() };
        tokio::spawn(drive(call).instrument(span));
    }

    /// A session and what its jobs reach, for a call or a test session.
    pub(super) fn session(&self, parts: Parts<'_>) -> (Session, Arc<JobContext>) {
        let inner = &self.0;
        let agent = parts.agent;
        let model = self.model_for(agent);
        let knowledge = KnowledgeSearch::for_agent(&inner.store, &agent.org_id, &parts.settings.knowledge_base_ids);
        let server = parts
            .use_server_url
            .then(|| self.server_url(&parts.record, agent, &parts.settings, parts.memory.as_ref()))
            .flatten();
        let (org_id, call_id) = (parts.record.org_id.clone(), parts.record.id.clone());
        let appointments = parts.settings.appointments_enabled.then(|| CallDesk {
            service: Appointments::new(inner.store.clone()),
            org_id: org_id.clone(),
            project_id: parts.record.project_id.clone(),
            agent_id: agent.id.clone(),
            call_id: IdKind::Call.matches(&call_id).then(|| call_id.clone()),
            caller: caller_number(&parts.record),
            waiting: Default::default(),
        });
        let spec = SessionSpec {
            record: parts.record,
            clock: inner.settings.clock,
            credit: parts.credit,
            memory: parts.memory.clone(),
            server_url: server.is_some(),
            model: model.as_ref().map(|_| agent.settings.llm.as_ref().and_then(|l| l.temperature)),
            knowledge: knowledge.is_some(),
            appointments: appointments.is_some(),
            limits: parts.limits,
            agent: parts.settings,
        };
        let jobs = JobContext {
            store: inner.store.clone(),
            org_id,
            call_id,
            server,
            model,
            knowledge,
            memory: parts.memory,
            appointments,
        };
        (Session::new(spec), Arc::new(jobs))
    }

    /// The language model of an agent's calls (agent → project → org →
    /// server); `None` runs the embedded brain.
    fn model_for(&self, agent: &AgentRow) -> Option<Model> {
        let own = agent.settings.llm.as_ref();
        let endpoint = self.0.settings.llm.resolve(&agent.org_id, &agent.project_id, own)?;
        // The streaming client sends through the guarded client's resolver,
        // but an IP-literal URL must be checked before it is used.
        if let Err(err) = self.0.outbound.check_url(&endpoint.base_url) {
            tracing::warn!(agent_id = agent.id, error = %err, "language model URL refused; using the embedded brain");
            return None;
        }
        Some(Model { client: LlmClient::new(self.0.outbound.http().clone()), endpoint })
    }

    /// The agent's server_url for this call and the `call.started` it gets.
    fn server_url(
        &self,
        record: &CallRecord,
        agent: &AgentRow,
        settings: &AgentSettings,
        caller: Option<&CallerMemory>,
    ) -> Option<(ServerUrl, CallStarted)> {
        let url = settings.server_url.clone()?;
        let body = CallStarted {
            event: "call.started".into(),
            call_id: record.id.clone(),
            agent_id: agent.id.clone(),
            from: record.from_number.clone(),
            to: record.to_number.clone(),
            direction: record.direction.as_str().into(),
            agent: AgentConfig {
                name: settings.name.clone(),
                system_prompt: settings.system_prompt.clone(),
                first_message: settings.first_message.clone(),
                language: settings.language.clone(),
                voice: settings.voice.clone(),
                max_duration: settings.max_duration,
                end_call_enabled: settings.end_call_enabled,
                knowledge_base_ids: settings.knowledge_base_ids.clone(),
            },
            metadata: record.metadata.clone(),
            caller: caller.map(CallerMemory::payload),
            timestamp: switchboard_domain::time::iso(self.0.store.clock().now_ms()),
        };
        let server = ServerUrl::new(self.0.outbound.clone(), url, agent.webhook_secret.clone(), record.id.clone());
        Some((server, body))
    }

    /// Sends a command to one of the tenant's live calls and waits for its answer.
    pub async fn command(&self, tenant: Tenant<'_>, call_id: &str, command: CallCommand) -> Result<(), CallError> {
        self.0.store.call(tenant.project_id, call_id).await.map_err(CallError::not_found("Call"))?;
        let control = self.0.directory.control(call_id).ok_or(ControlError::NotInProgress)?;
        let (reply, answer) = oneshot::channel();
        control.send(Control { command, reply }).await.map_err(|_| ControlError::NotInProgress)?;
        Ok(answer.await.unwrap_or(Err(ControlError::NotInProgress))?)
    }

    /// Analyses one of the tenant's ended, answered calls again (the agent's
    /// current model and criteria), stores it and emits `analysis.complete`.
    pub async fn analyse(&self, tenant: Tenant<'_>, call_id: &str) -> Result<CallAnalysis, CallError> {
        let store = &self.0.store;
        let call = store.call(tenant.project_id, call_id).await.map_err(CallError::not_found("Call"))?;
        if !call.is_over() {
            return Err(CallError::NotEnded);
        }
        if !analysis::analysable(&call) {
            return Err(CallError::NotAnswered);
        }
        let agent = match &call.agent_id {
            Some(id) => match store.agent(tenant.project_id, id).await {
                Ok(agent) => Some(agent),
                Err(switchboard_store::Error::NotFound) => None,
                Err(err) => return Err(err.into()),
            },
            None => None,
        };
        let analyst = Analyst {
            store: store.clone(),
            model: agent.as_ref().and_then(|agent| self.model_for(agent)),
            criteria: agent.and_then(|agent| agent.settings.success_criteria),
        };
        match analyst.analyse(&call).await {
            Err(switchboard_store::Error::Conflict(_)) => Err(CallError::NotEnded),
            other => Ok(other?),
        }
    }

    /// One of the tenant's calls as its status endpoint shows it.
    pub async fn status(&self, tenant: Tenant<'_>, call_id: &str) -> Result<CallState, CallError> {
        if let Some(live) = self.0.directory.get(call_id).filter(|c| c.project_id == tenant.project_id) {
            let now = self.0.store.clock().now_ms();
            return Ok(CallState {
                call_id: live.call_id,
                status: if live.answered_at.is_some() { CallStatus::InProgress } else { CallStatus::Ringing },
                duration_seconds: live.answered_at.map_or(0, |at| (now - at) / 1000),
                started_at: live.started_at,
                ended_at: None,
            });
        }
        let record = self.0.store.call(tenant.project_id, call_id).await.map_err(CallError::not_found("Call"))?;
        Ok(CallState {
            call_id: record.id,
            status: record.status,
            duration_seconds: record.duration_seconds,
            started_at: record.started_at,
            ended_at: record.ended_at,
        })
    }

    /// How many live calls an agent of the tenant has.
    pub fn live_calls_of_agent(&self, tenant: Tenant<'_>, agent_id: &str) -> usize {
        self.0.directory.count_for_agent(tenant.project_id, agent_id)
    }
}

/// The other party of a call (the caller of an inbound call, the callee of an
/// outbound one), when it is an E.164 number: whom the appointment tools book for.
fn caller_number(record: &CallRecord) -> Option<String> {
    let number = match record.direction {
        Direction::Inbound => &record.from_number,
        Direction::Outbound => &record.to_number,
    };
    E164::parse(number).map(E164::into_string)
}
