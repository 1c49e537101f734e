//! The call session: one task per call that owns its state, reacts to transport
//! events and API commands, and records the call truthfully when it ends.

mod extract;
mod ivr;
mod turn;

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_domain::agent::{AgentSettings, VoicemailAction};
use switchboard_domain::call::{CallStatus, Disposition, EndedReason, price_call};
use switchboard_domain::ivr::IvrInput;
use switchboard_domain::money::Micros;
use switchboard_domain::server_url::{CallConfig, CallStarted, ToolDef, TranscriptUpdated};

use self::ivr::IvrState;
use switchboard_store::Store;
use switchboard_store::calls::{CallEnd, CallRow};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until};

use super::embedded::{EmbeddedBrain, Reply};
use super::event_sink::{CallIds, EventSink};
use super::llm_brain::LlmBrain;
use super::memory::{CallerMemory, extracted_variables, welcome};
use super::{CallClock, CallCommand, ControlError, GatherRequest, NotConnected, TransportAction, TransportEvent};
use crate::registry::LiveCalls;
use crate::server_url::{ServerUrl, TranscriptFeed};
use switchboard_domain::events::EventType;
use switchboard_domain::memory::learned::Learned;

/// Everything a session needs to know before the call connects.
pub struct SessionSpec {
    /// The caller as caller memory knows them, when memory is on.
    pub memory: Option<CallerMemory>,
    pub org_id: String,
    pub call_id: String,
    pub project_id: String,
    pub agent_id: String,
    pub agent: AgentSettings,
    pub rate_per_minute: Micros,
    /// The org's balance when the call started: the call ends before it costs more.
    pub balance: Micros,
    pub metadata: Value,
    pub clock: CallClock,
    /// The agent's server_url and the `call.started` it is sent, if it has one.
    pub server: Option<(ServerUrl, CallStarted)>,
    /// The language model, when one is configured; otherwise the embedded brain runs.
    pub llm: Option<LlmBrain>,
    /// The agent's knowledge bases, for the embedded brain's answers.
    pub knowledge: Option<crate::knowledge::retrieval::KnowledgeSearch>,
}

/// The channels between a session, its transport and the API.
pub struct SessionIo {
    pub events: mpsc::Receiver<TransportEvent>,
    pub actions: mpsc::Sender<TransportAction>,
    pub commands: mpsc::Receiver<CallCommand>,
}

/// How a call ended, before it is priced and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ending {
    status: CallStatus,
    disposition: Disposition,
    reason: Option<EndedReason>,
}

impl Ending {
    const fn answered(reason: EndedReason) -> Self {
        Ending { status: CallStatus::Completed, disposition: Disposition::Answered, reason: Some(reason) }
    }

    const fn not_connected(outcome: NotConnected) -> Self {
        match outcome {
            NotConnected::Busy => Ending { status: CallStatus::Busy, disposition: Disposition::Busy, reason: None },
            NotConnected::NoAnswer => Ending {
                status: CallStatus::NoAnswer,
                disposition: Disposition::NoAnswer,
                reason: Some(EndedReason::Timeout),
            },
            NotConnected::Failed => Ending {
                status: CallStatus::Failed,
                disposition: Disposition::Failed,
                reason: Some(EndedReason::Error),
            },
            NotConnected::Rejected => {
                Ending { status: CallStatus::Rejected, disposition: Disposition::Rejected, reason: None }
            }
        }
    }
}

/// Latency of one turn, in wall milliseconds from the caller's final transcript.
#[derive(Debug, Clone)]
struct TurnTiming {
    number: i64,
    started: Instant,
    ts: i64,
    llm_ttfb_ms: u64,
    tts_start_ms: u64,
    /// What the platform itself added, in µs, on model turns: final transcript
    /// → model request sent, and last token → say action sent.
    platform_us: Option<(u64, u64)>,
}

/// A transfer asked for and not yet settled.
struct PendingTransfer {
    destination: String,
    reply: Option<oneshot::Sender<Result<(), ControlError>>>,
}

/// A DTMF collection in progress.
struct ActiveGather {
    request: GatherRequest,
    digits: String,
    deadline: Instant,
}

/// The state of one call.
struct Session {
    spec: SessionSpec,
    store: Store,
    live: LiveCalls,
    actions: mpsc::Sender<TransportAction>,
    brain: EmbeddedBrain,
    answered: Option<Instant>,
    transcript: Vec<Value>,
    turns: Vec<Value>,
    turn_count: i64,
    speaking: bool,
    pending_turn: Option<TurnTiming>,
    silence_deadline: Option<Instant>,
    /// When the duration limit falls, and the limit in call time.
    limit_deadline: Option<(Instant, Duration)>,
    /// Set when the limit ended the call: it lasted exactly the limit, however
    /// late a busy machine ran the timer.
    cut_at_limit: Option<Duration>,
    hang_up_when_done: bool,
    gather: Option<ActiveGather>,
    gather_results: Vec<Value>,
    transfer: Option<PendingTransfer>,
    /// Where the call was transferred to, and after how much call time.
    transferred: Option<(String, Duration)>,
    transfer_seconds: i64,
    voicemail: bool,
    ending: Option<Ending>,
    /// `agent`, `server_url`, or `agent_fallback` when the server_url failed.
    config_source: &'static str,
    server_url_error: Option<String>,
    transcripts: Option<TranscriptFeed>,
    server: Option<ServerUrl>,
    /// Webhook events of the call as it runs.
    events: EventSink,
    /// Whether the server_url's `call.started` answer set the first message.
    server_greeting: bool,
    /// Tools the server_url offered in `call.started`.
    server_tools: Vec<ToolDef>,
    llm: Option<LlmBrain>,
    tool_call_count: i64,
    tools_called: Vec<String>,
    /// The IVR menu the caller is in, if any.
    ivr: Option<IvrState>,
    /// Every IVR choice, in order.
    ivr_path: Vec<Value>,
    /// The schema of data to extract after the call, from `call.started`.
    extraction: Option<Value>,
    /// What the call learned about its caller, saved to memory at the end.
    learned: Learned,
}

/// Runs a call from ringing to its stored end. Returns the stored call.
pub async fn run(
    spec: SessionSpec,
    io: SessionIo,
    store: Store,
    live: LiveCalls,
) -> switchboard_store::Result<CallRow> {
    let SessionIo { mut events, actions, mut commands } = io;
    let mut spec = spec;
    let llm = spec.llm.take();
    let brain = EmbeddedBrain::new(&spec.agent.name, spec.agent.first_message.as_deref(), spec.agent.end_call_enabled);
    let ids = CallIds {
        org_id: spec.org_id.clone(),
        project_id: spec.project_id.clone(),
        agent_id: spec.agent_id.clone(),
        call_id: spec.call_id.clone(),
    };
    let events_out = EventSink::start(store.clone(), ids);
    let mut session = Session {
        events: events_out,
        server_greeting: false,
        spec,
        store,
        live,
        actions,
        brain,
        answered: None,
        transcript: Vec::new(),
        turns: Vec::new(),
        turn_count: 0,
        speaking: false,
        pending_turn: None,
        silence_deadline: None,
        limit_deadline: None,
        cut_at_limit: None,
        hang_up_when_done: false,
        gather: None,
        gather_results: Vec::new(),
        transfer: None,
        transferred: None,
        transfer_seconds: 0,
        voicemail: false,
        ending: None,
        config_source: "agent",
        server_url_error: None,
        transcripts: None,
        server: None,
        server_tools: Vec::new(),
        llm,
        tool_call_count: 0,
        tools_called: Vec::new(),
        ivr: None,
        ivr_path: Vec::new(),
        extraction: None,
        learned: Learned::default(),
    };
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    while session.ending.is_none() {
        let silence = session.silence_deadline.unwrap_or(far);
        let limit = session.limit_deadline.map_or(far, |(at, _)| at);
        let gather = session.gather.as_ref().map_or(far, |g| g.deadline);
        let menu = session.ivr.as_ref().and_then(|m| m.deadline).unwrap_or(far);
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => session.on_event(event).await?,
                None => session.on_transport_gone(),
            },
            Some(command) = commands.recv() => session.on_command(command).await,
            () = sleep_until(silence), if session.silence_deadline.is_some() => {
                session.end_by_agent(EndedReason::SilenceTimeout).await;
            }
            () = sleep_until(limit), if session.limit_deadline.is_some() => {
                session.cut_at_limit = session.limit_deadline.map(|(_, limit)| limit);
                session.end_by_agent(EndedReason::MaxDuration).await;
            }
            () = sleep_until(gather), if session.gather.is_some() => session.finish_gather("timeout"),
            () = sleep_until(menu), if session.ivr.as_ref().is_some_and(|m| m.deadline.is_some()) => {
                session.missed(None).await;
            }
        }
    }
    // Refuse commands that raced the end.
    commands.close();
    while let Ok(command) = commands.try_recv() {
        refuse(command);
    }
    session.finish().await
}

fn refuse(command: CallCommand) {
    let reply = match command {
        CallCommand::End { reply } | CallCommand::Transfer { reply, .. } | CallCommand::Gather { reply, .. } => reply,
    };
    reply.send(Err(ControlError::NotInProgress)).ok();
}

fn round_tenth(seconds: f64) -> f64 {
    (seconds * 10.0).round() / 10.0
}

impl Session {
    fn since_answer(&self) -> Duration {
        self.answered.map_or(Duration::ZERO, |at| self.spec.clock.elapsed(at))
    }

    async fn act(&self, action: TransportAction) {
        // A transport that is gone has ended the call; its end event decides.
        self.actions.send(action).await.ok();
    }

    /// Adds an utterance to the transcript and tells the server_url.
    fn record_utterance(&mut self, role: &str, content: &str) {
        let timestamp = round_tenth(self.since_answer().as_secs_f64());
        self.transcript.push(json!({"role": role, "content": content, "timestamp": timestamp}));
        let data = json!({"role": role, "content": content, "timestamp": timestamp});
        self.events.emit(EventType::TranscriptUpdated, data);
        if let Some(feed) = &self.transcripts {
            feed.send(TranscriptUpdated {
                event: "transcript.updated".into(),
                call_id: self.spec.call_id.clone(),
                agent_id: self.spec.agent_id.clone(),
                role: role.into(),
                content: content.into(),
                timestamp,
            });
        }
    }

    /// Says something and writes it in the transcript.
    async fn say(&mut self, text: String) {
        self.record_utterance("assistant", &text);
        self.speak(text).await;
    }

    /// Has the transport speak; the caller records the transcript.
    async fn speak(&mut self, text: String) {
        self.speaking = true;
        self.silence_deadline = None;
        self.act(TransportAction::Say(text)).await;
    }

    fn arm_silence(&mut self) {
        let timeout = Duration::from_secs(self.spec.agent.silence_timeout_seconds.max(1) as u64);
        self.silence_deadline = Some(self.spec.clock.deadline(timeout));
    }

    /// Seconds of call this org can still pay for, if it is limited at all.
    fn affordable_seconds(&self) -> Option<u64> {
        (self.spec.rate_per_minute > 0)
            .then(|| (self.spec.balance.max(0) as u128 * 60 / self.spec.rate_per_minute as u128) as u64)
    }

    /// The call is connected: its clock starts now.
    fn start_clock(&mut self) {
        self.answered = Some(Instant::now());
        self.live.mark_answered(&self.spec.call_id, self.store.clock().now_ms());
    }

    /// Asks the server_url for this call's configuration; on any failure the
    /// agent's stored configuration stays, and the call records why.
    async fn configure(&mut self) {
        let Some((server, body)) = self.spec.server.take() else { return };
        self.transcripts = Some(server.transcript_feed());
        let answer = server.call_started(&body).await;
        self.server = Some(server);
        match answer {
            Ok(config) => {
                self.config_source = "server_url";
                self.apply(config);
                if let Some(memory) = self.spec.memory.as_mut().filter(|_| !self.learned.external_ids.is_empty()) {
                    memory.recognise_again(&self.store, &self.learned.external_ids).await;
                }
            }
            Err(err) => {
                tracing::info!(call_id = self.spec.call_id, error = %err, "call.started failed; using the agent");
                self.config_source = "agent_fallback";
                self.server_url_error = Some(err.to_string());
            }
        }
    }

    /// Applies a `call.started` answer over the agent's stored values.
    fn apply(&mut self, config: CallConfig) {
        let agent = &mut self.spec.agent;
        if let Some(message) = config.first_message {
            agent.first_message = Some(message);
            self.server_greeting = true;
        }
        if let Some(prompt) = config.system_prompt {
            agent.system_prompt = Some(prompt);
        }
        if let Some(language) = config.language {
            agent.language = language;
        }
        if let Some(voice) = config.voice {
            agent.voice = voice;
        }
        if let Some(enabled) = config.end_call_enabled {
            agent.end_call_enabled = enabled;
        }
        if let Some(seconds) = config.max_duration {
            agent.max_duration = seconds;
        }
        if let Some(tools) = config.tools {
            self.server_tools = tools;
        }
        if let Some(menu) = config.ivr {
            self.ivr = Some(IvrState::new(menu));
        }
        self.extraction = config.extraction;
        if let Some(memory) = &config.memory {
            self.learned.absorb(memory);
        }
        if let (Some(Value::Object(extra)), Value::Object(metadata)) = (config.metadata, &mut self.spec.metadata) {
            metadata.extend(extra);
        }
        self.brain = EmbeddedBrain::new(&agent.name, agent.first_message.as_deref(), agent.end_call_enabled);
    }

    /// Gives the AI the conversation so far: the configured prompt and tools,
    /// and the greeting it is about to say.
    fn engage_brain(&mut self, greeting: &str) {
        if let Some(llm) = &mut self.llm {
            let agent = &self.spec.agent;
            let tools = std::mem::take(&mut self.server_tools);
            let remembered = self.spec.memory.as_ref().and_then(CallerMemory::prompt);
            let prompt = match (agent.system_prompt.as_deref(), remembered) {
                (Some(prompt), Some(memory)) => Some(format!("{prompt}\n\n{memory}")),
                (prompt, memory) => memory.or(prompt.map(str::to_owned)),
            };
            llm.configure(prompt.as_deref(), tools, agent.end_call_enabled, greeting);
            llm.offer_remember(self.spec.memory.is_some());
        }
    }

    /// Writes the answer down and arms the duration limit. The limit is the
    /// agent's max_duration, or less where the org's credit runs out.
    async fn record_answer(&mut self) -> switchboard_store::Result<()> {
        let at = self
            .live
            .get(&self.spec.call_id)
            .and_then(|c| c.answered_at)
            .unwrap_or_else(|| self.store.clock().now_ms());
        let max = self.spec.agent.max_duration.max(1) as u64;
        let seconds = self.affordable_seconds().map_or(max, |affordable| affordable.clamp(1, max));
        let started = self.answered.unwrap_or_else(Instant::now);
        let limit = Duration::from_secs(seconds);
        self.limit_deadline = Some((started + self.spec.clock.wall(limit), limit));
        self.store.mark_call_answered(&self.spec.project_id, &self.spec.call_id, at).await
    }

    async fn on_event(&mut self, event: TransportEvent) -> switchboard_store::Result<()> {
        match event {
            TransportEvent::Answered => {
                if self.answered.is_none() {
                    self.start_clock();
                    self.configure().await;
                    if self.ivr.is_some() {
                        self.play_menu().await;
                    } else {
                        let greeting = self.brain.greeting();
                        // A recognised caller is greeted by name, unless the
                        // server_url chose the first message itself.
                        let named = self.spec.memory.as_ref().and_then(CallerMemory::name);
                        let greeting = match named {
                            Some(name) if !self.server_greeting => welcome(name, &greeting),
                            _ => greeting,
                        };
                        self.engage_brain(&greeting);
                        self.say(greeting).await;
                    }
                    self.record_answer().await?;
                }
            }
            TransportEvent::Voicemail => self.on_voicemail().await?,
            TransportEvent::NotConnected(outcome) => {
                if self.answered.is_none() {
                    self.ending = Some(Ending::not_connected(outcome));
                }
            }
            TransportEvent::SpeechStarted => {
                self.silence_deadline = None;
                // A menu does not time out while the caller is answering it.
                self.hold_menu();
                self.events.emit(EventType::SpeechStarted, json!({}));
                if self.speaking {
                    self.events.emit(EventType::BargeIn, json!({}));
                    self.speaking = false;
                    self.act(TransportAction::StopSpeaking).await;
                }
            }
            TransportEvent::Transcript { text, is_final } => {
                if is_final && !text.trim().is_empty() {
                    self.events.emit(EventType::SpeechEnded, json!({}));
                    self.on_utterance(text).await;
                } else if is_final && !self.speaking {
                    // Nothing was said after all: the menu's wait goes on.
                    self.arm_menu();
                }
            }
            TransportEvent::Dtmf(digit) => {
                self.events.emit(EventType::CallDtmfReceived, json!({"digits": digit.to_string()}));
                self.on_digit(digit).await;
            }
            TransportEvent::PlaybackStarted => {
                self.events.emit(EventType::AiSpeechStarted, json!({}));
                if let Some(turn) = self.pending_turn.take() {
                    let tts_ttfb_ms = turn.started.elapsed().as_millis() as u64;
                    let mut entry = json!({
                        "turn": turn.number,
                        "ts": switchboard_domain::time::iso(turn.ts),
                        "llm_ttfb_ms": turn.llm_ttfb_ms,
                        "tts_start_ms": turn.tts_start_ms,
                        "tts_ttfb_ms": tts_ttfb_ms,
                    });
                    if let Some((to_request, to_say)) = turn.platform_us {
                        entry["platform_us"] = json!({"to_llm_request": to_request, "last_token_to_say": to_say});
                    }
                    self.turns.push(entry);
                }
            }
            TransportEvent::PlaybackFinished => {
                self.events.emit(EventType::AiSpeechEnded, json!({}));
                self.speaking = false;
                if self.hang_up_when_done {
                    self.end_by_agent(EndedReason::AgentHangup).await;
                } else if self.ivr.is_some() {
                    self.arm_menu();
                } else if self.answered.is_some() && self.transferred.is_none() {
                    self.arm_silence();
                }
            }
            TransportEvent::TransferConnected => self.transfer_connected(),
            TransportEvent::TransferCompleted { duration_seconds } => {
                self.transfer_seconds = duration_seconds;
                self.ending = Some(Ending {
                    status: CallStatus::Completed,
                    disposition: Disposition::Transferred,
                    reason: Some(EndedReason::Transfer),
                });
            }
            TransportEvent::TransferFailed { reason } => {
                if let Some(transfer) = self.transfer.take() {
                    let data = json!({"to": transfer.destination, "reason": reason});
                    self.events.emit(EventType::TransferFailed, data);
                    if let Some(reply) = transfer.reply {
                        reply.send(Err(ControlError::TransferFailed(reason))).ok();
                    }
                }
                self.arm_silence();
            }
            TransportEvent::HungUp => self.on_caller_hung_up(),
        }
        Ok(())
    }

    async fn on_voicemail(&mut self) -> switchboard_store::Result<()> {
        if !self.spec.agent.voicemail.detection {
            // Without detection the agent talks to the machine as to a person.
            return Box::pin(self.on_event(TransportEvent::Answered)).await;
        }
        self.voicemail = true;
        match (&self.spec.agent.voicemail.action, self.spec.agent.voicemail.message.clone()) {
            (VoicemailAction::LeaveMessage, Some(message)) if !message.trim().is_empty() => {
                self.start_clock();
                self.say(message).await;
                self.record_answer().await?;
                self.hang_up_when_done = true;
            }
            _ => {
                self.start_clock();
                self.record_answer().await?;
                self.end_by_agent(EndedReason::AgentHangup).await;
            }
        }
        Ok(())
    }

    fn on_caller_hung_up(&mut self) {
        self.ending = Some(match (self.answered, &self.transferred) {
            (None, _) => Ending { status: CallStatus::Canceled, disposition: Disposition::NoAnswer, reason: None },
            (Some(_), Some(_)) => Ending {
                status: CallStatus::Completed,
                disposition: Disposition::Transferred,
                reason: Some(EndedReason::Transfer),
            },
            (Some(_), None) => Ending::answered(EndedReason::CallerHangup),
        });
    }

    fn on_transport_gone(&mut self) {
        if self.ending.is_none() {
            self.ending = Some(if self.answered.is_some() {
                Ending::answered(EndedReason::Error)
            } else {
                Ending::not_connected(NotConnected::Failed)
            });
        }
    }

    async fn on_utterance(&mut self, text: String) {
        let started = Instant::now();
        self.silence_deadline = None;
        self.record_utterance("user", &text);
        if self.transferred.is_some() || self.voicemail {
            return;
        }
        if self.ivr.is_some() {
            self.ivr_input(IvrInput::Speech(&text)).await;
            return;
        }
        self.turn_count += 1;
        if self.llm.is_some() {
            self.llm_turn(&text, started).await;
            return;
        }
        let reply = self.brain.reply(&text, self.spec.knowledge.as_ref()).await;
        let llm_ttfb_ms = started.elapsed().as_millis() as u64;
        let (text, hang_up) = match reply {
            Reply::Say(text) => (text, false),
            Reply::SayAndHangUp(text) => (text, true),
        };
        let tts_start_ms = started.elapsed().as_millis() as u64;
        self.pending_turn = Some(TurnTiming {
            number: self.turn_count,
            started,
            ts: self.store.clock().now_ms(),
            llm_ttfb_ms,
            tts_start_ms,
            platform_us: None,
        });
        self.hang_up_when_done = hang_up;
        self.say(text).await;
    }

    async fn on_digit(&mut self, digit: char) {
        self.silence_deadline = None;
        let Some(gather) = self.gather.as_mut() else {
            if self.ivr.is_some() {
                self.ivr_input(IvrInput::Digit(digit)).await;
            } else {
                self.arm_silence();
            }
            return;
        };
        if gather.request.terminator == Some(digit) {
            self.finish_gather("completed");
            return;
        }
        gather.digits.push(digit);
        if gather.digits.len() >= gather.request.max_digits {
            self.finish_gather("completed");
        }
    }

    fn finish_gather(&mut self, status: &str) {
        if let Some(gather) = self.gather.take() {
            let input = (status == "completed").then_some(gather.digits);
            self.events.emit(EventType::CallGatherCompleted, json!({"status": status, "input": input}));
            self.gather_results.push(json!({
                "prompt": gather.request.prompt,
                "status": status,
                "input": input,
                "at": switchboard_domain::time::iso(self.store.clock().now_ms()),
            }));
        }
        if !self.speaking {
            self.arm_silence();
        }
    }

    async fn on_command(&mut self, command: CallCommand) {
        let in_progress = self.answered.is_some() && self.transferred.is_none() && self.ending.is_none();
        match command {
            CallCommand::End { reply } => {
                if self.answered.is_none() && self.ending.is_none() {
                    // Ending a call that is still ringing cancels it.
                    self.act(TransportAction::HangUp).await;
                    self.ending = Some(Ending {
                        status: CallStatus::Canceled,
                        disposition: Disposition::NoAnswer,
                        reason: Some(EndedReason::Api),
                    });
                    reply.send(Ok(())).ok();
                } else if in_progress {
                    self.end_by_agent(EndedReason::Api).await;
                    reply.send(Ok(())).ok();
                } else {
                    reply.send(Err(ControlError::NotInProgress)).ok();
                }
            }
            CallCommand::Transfer { destination, reply } => {
                if !in_progress || self.transfer.is_some() {
                    reply.send(Err(ControlError::NotInProgress)).ok();
                    return;
                }
                self.begin_transfer(destination, Some(reply)).await;
            }
            CallCommand::Gather { request, reply } => {
                if !in_progress {
                    reply.send(Err(ControlError::NotInProgress)).ok();
                } else if self.gather.is_some() {
                    reply.send(Err(ControlError::GatherInProgress)).ok();
                } else {
                    let window = Duration::from_secs(request.timeout_seconds);
                    let prompt = request.prompt.clone();
                    // The input window opens with the prompt and closes after it.
                    let words = prompt.split_whitespace().count() as u64;
                    let deadline = self.spec.clock.deadline(window + Duration::from_millis(400 * words));
                    self.gather = Some(ActiveGather { request, digits: String::new(), deadline });
                    self.say(prompt).await;
                    reply.send(Ok(())).ok();
                }
            }
        }
    }

    /// Asks the transport to transfer the call.
    async fn begin_transfer(&mut self, destination: String, reply: Option<oneshot::Sender<Result<(), ControlError>>>) {
        self.events.emit(EventType::TransferInitiated, json!({"to": destination}));
        self.transfer = Some(PendingTransfer { destination: destination.clone(), reply });
        self.act(TransportAction::Transfer(destination)).await;
    }

    /// A requested transfer went through: the API call succeeds and the agent
    /// stops listening; the call ends when the transferred leg does.
    fn transfer_connected(&mut self) {
        if let Some(mut pending) = self.transfer.take() {
            self.events.emit(EventType::TransferCompleted, json!({"to": pending.destination}));
            if let Some(reply) = pending.reply.take() {
                reply.send(Ok(())).ok();
            }
            self.silence_deadline = None;
            self.limit_deadline = None;
            self.transferred = Some((pending.destination, self.since_answer()));
        }
    }

    /// The agent side ends the call.
    async fn end_by_agent(&mut self, reason: EndedReason) {
        if self.ending.is_some() {
            return;
        }
        self.act(TransportAction::HangUp).await;
        self.ending = Some(if self.voicemail {
            Ending { status: CallStatus::Completed, disposition: Disposition::Voicemail, reason: Some(reason) }
        } else {
            Ending::answered(reason)
        });
    }

    /// Prices the call, stores its end, debits the org, and leaves the registry.
    async fn finish(mut self) -> switchboard_store::Result<CallRow> {
        // A transferred call's own duration stops at the transfer (the
        // transferred leg is billed separately); any other call's at its end,
        // now, before the writes below take their time.
        let duration = match &self.transferred {
            Some((_, at)) => *at,
            None => self.cut_at_limit.unwrap_or_else(|| self.since_answer()),
        };
        // The call is over: its concurrent-call slot is free before extraction
        // (which may wait on the model) and the final write.
        self.live.remove(&self.spec.call_id);
        let ending = self.ending.unwrap_or(Ending::answered(EndedReason::Error));
        if let Some(gather) = self.gather.take() {
            self.events.emit(EventType::CallGatherCompleted, json!({"status": "timeout", "input": null}));
            self.gather_results.push(json!({"prompt": gather.request.prompt, "status": "timeout", "input": null}));
        }
        // Everything the call emitted is in the outbox before its end is.
        self.events.close().await;
        let duration_seconds = duration.as_secs_f64().round() as i64;
        let transfer_seconds = if self.transferred.is_some() { self.transfer_seconds } else { 0 };
        let cost = price_call(duration_seconds, transfer_seconds, self.spec.rate_per_minute, None, 0);
        let mut metadata = self.spec.metadata.clone();
        let extracted_data = self.extract(&metadata).await;
        if let (Some(memory), Some(_)) = (&self.spec.memory, self.answered) {
            if let Some(Ok(data)) = &extracted_data {
                self.learned.extracted(extracted_variables(data));
            }
            memory.save(&self.store, &self.spec.call_id, &self.learned).await;
        }
        if let Value::Object(map) = &mut metadata {
            if !self.gather_results.is_empty() {
                map.insert("gather_results".into(), Value::Array(std::mem::take(&mut self.gather_results)));
            }
            if let Some(path) = self.ivr_record() {
                map.insert("ivr_path".into(), path);
            }
            if let Some(Err(problem)) = &extracted_data {
                map.insert("extraction_error".into(), Value::String(problem.clone()));
            }
        }
        let end = CallEnd {
            status: ending.status,
            disposition: ending.disposition,
            ended_reason: ending.reason,
            ended_at: self.store.clock().now_ms(),
            duration_seconds,
            cost,
            transfer_duration_seconds: transfer_seconds,
            transferred_to: self.transferred.as_ref().map(|(to, _)| to.clone()),
            has_recording: false,
            turn_count: self.turn_count,
            tool_call_count: self.tool_call_count,
            tools_called: self.tools_called,
            metadata,
            extracted_data: extracted_data.map(|e| e.unwrap_or_else(|_| Value::Object(Default::default()))),
            transcript: Value::Array(self.transcript),
            latency: json!({ "turns": self.turns }),
            ws_unavailable: false,
            config_source: self.config_source.into(),
            brain: if self.llm.is_some() { "llm" } else { "embedded" }.into(),
            server_url_error: self.server_url_error,
            language: Some(self.spec.agent.language.clone()),
        };
        self.store.finish_call(&self.spec.project_id, &self.spec.call_id, &end).await
    }
}
