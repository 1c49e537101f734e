//! The call session, sans-io: the rules of one call as a state machine. It is
//! fed transport events, commands, the results of its slow work and the
//! passing of time ([`Input`]), and answers with [`Effect`]s for its driver to
//! carry out (speak, emit an event, start or cancel a job, answer a command).
//!
//! Nothing here waits. The model's turn, `call.started`, server_url tools and
//! knowledge searches are jobs the driver runs beside the session; their
//! results come back as inputs, so a barge-in, a hang-up or an `end` command
//! acts at once even while a reply is still streaming.

mod credit;
mod ivr;
pub mod speech;
mod turn;

#[cfg(test)]
mod tests;

use std::time::Duration;

use serde_json::{Map, Value, json};
use switchboard_domain::agent::{AgentSettings, VoicemailAction};
use switchboard_domain::call::{
    Brain, CallRecord, CallStatus, ConfigSource, Disposition, EndedReason, GatherResult, GatherStatus, TranscriptLine,
    TurnLatency, price_call,
};
use switchboard_domain::events::EventType;
use switchboard_domain::ivr::{IvrInput, IvrMenu};
use switchboard_domain::memory::learned::Learned;
use switchboard_domain::money::Micros;
use switchboard_domain::server_url::{CallConfig, ToolCallRequest, ToolCallResponse, ToolDef};
use switchboard_domain::time::iso;
use switchboard_store::memory::MemoryContext;

use self::ivr::{IvrState, asks_for_menu};
use self::speech::{LineId, Speech, Tag};
use self::turn::Turn;
use super::UtteranceId;
use super::conversation::{Conversation, Offer};
use super::embedded::{EmbeddedBrain, Found};
use super::memory::{CallerMemory, welcome};
use super::{CallClock, CallCommand, ControlError, Dtmf, GatherRequest, NotConnected, TransportAction, TransportEvent};
use crate::call::server_url::ServerUrlError;
use crate::llm::{ChatOutcome, ChatRequest};

/// A moment of the call as the driver reads its clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Real time since the session started.
    pub elapsed: Duration,
    /// Epoch milliseconds, for what is stored and shown.
    pub epoch_ms: i64,
    /// The monotonic instant itself, to place transport timestamps.
    pub instant: tokio::time::Instant,
}

impl Now {
    /// The moment `at` (no later than now), as seen from this one.
    fn back_to(self, at: tokio::time::Instant) -> Now {
        let ago = self.instant.saturating_duration_since(at);
        Now {
            elapsed: self.elapsed.saturating_sub(ago),
            epoch_ms: self.epoch_ms - ago.as_millis() as i64,
            instant: self.instant - ago,
        }
    }
}

/// A job the session started, to match its results.
pub type JobId = u64;
/// A command waiting for its answer.
pub type CommandId = u64;

/// What the session is told.
#[derive(Debug)]
pub enum Input {
    Transport(TransportEvent),
    /// The transport went away without saying why.
    TransportGone,
    Command(CommandId, CallCommand),
    Job(JobId, JobOutput),
    /// Time passed: the session checks its deadlines.
    Timer,
}

/// Slow work the session hands to its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// Ask the server_url for the call's configuration (and, when the answer
    /// names the caller's external ids, recognise the caller again).
    CallStarted,
    /// Stream a reply of the model.
    Model(ChatRequest),
    /// Run a server_url tool through `tool.call`.
    ServerTool { request: ToolCallRequest, timeout: Duration },
    /// Run `knowledge_base_search` for the model with these arguments.
    KnowledgeSearch(Value),
    /// Find the knowledge-base answer to what the caller said (embedded brain).
    KnowledgeAnswer(String),
    /// Reserve this much more of the org's credit for the call.
    Reserve(Micros),
    /// Run an appointment tool (`check_availability`, `book_appointment`, …)
    /// with the model's arguments.
    Appointment { name: String, args: Value },
    /// Let the embedded brain's booking flow answer what the caller said.
    BookingTurn(String),
}

/// What a job reports; a model job reports tokens, then its end.
#[derive(Debug)]
pub enum JobOutput {
    Configured {
        answer: Box<Result<CallConfig, ServerUrlError>>,
        recognised: Option<Box<MemoryContext>>,
    },
    Token(String),
    ModelDone(Result<ChatOutcome, String>),
    ServerTool(Result<ToolCallResponse, ServerUrlError>),
    ToolResult(String),
    Answer(Found),
    /// What a reservation of credit granted (maybe less than asked, maybe nothing).
    Reserved(Micros),
    /// The booking flow's answer, or `None` when the words were not for it.
    Booking(Option<String>),
}

/// What the session asks of its driver.
#[derive(Debug, PartialEq)]
pub enum Effect {
    Act(TransportAction),
    /// A webhook event of the call (`call_id` and `agent_id` are added).
    Emit(EventType, Value),
    /// A transcript line became final: for the server_url's `transcript.updated`.
    Transcript(TranscriptLine),
    Run(JobId, Job),
    Cancel(JobId),
    Reply(CommandId, Result<(), ControlError>),
    /// The call was answered at this epoch ms.
    Answered(i64),
}

/// Everything a session needs before the call connects.
pub struct SessionSpec {
    /// The call as stored when it started ringing.
    pub record: CallRecord,
    pub agent: AgentSettings,
    pub clock: CallClock,
    /// The org's credit the call holds when it starts (its first minute);
    /// `None` when the org's credit does not limit calls.
    pub credit: Option<Micros>,
    /// The caller as caller memory knows them, when memory is on.
    pub memory: Option<CallerMemory>,
    /// Whether the agent's server_url is asked for the configuration.
    pub server_url: bool,
    /// The model's temperature when a model answers; `None` runs the embedded brain.
    pub model: Option<Option<f64>>,
    /// Whether the agent has knowledge bases.
    pub knowledge: bool,
    /// Whether the agent books appointments: the model is offered the
    /// appointment tools, or the embedded brain runs its booking flow.
    pub appointments: bool,
    /// Whether silence, the duration limit and the balance may end the call
    /// (test sessions have none of them).
    pub limits: bool,
}

/// A finished session: the call record to store and what the driver still
/// does with it (extraction, caller memory).
pub struct Finished {
    pub record: CallRecord,
    pub learned: Learned,
    pub memory: Option<CallerMemory>,
    /// The extraction schema from `call.started`, if any.
    pub extraction: Option<Value>,
    /// What the call collected, for extraction without a model.
    pub collected: Map<String, Value>,
    /// Whether the call was answered.
    pub answered: bool,
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

    const fn transferred() -> Self {
        Ending {
            status: CallStatus::Completed,
            disposition: Disposition::Transferred,
            reason: Some(EndedReason::Transfer),
        }
    }

    const fn canceled(reason: Option<EndedReason>) -> Self {
        Ending { status: CallStatus::Canceled, disposition: Disposition::NoAnswer, reason }
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

/// Where the call is before its conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Ringing,
    /// Answered; waiting for `call.started` before the greeting.
    Configuring(JobId),
    Live,
}

/// Caller input held while the call is being configured.
#[derive(Debug)]
enum Deferred {
    Utterance(String),
    Digit(Dtmf),
}

/// A transfer asked for and not yet settled.
struct PendingTransfer {
    destination: String,
    reply: Option<CommandId>,
}

/// A DTMF collection in progress.
struct ActiveGather {
    request: GatherRequest,
    digits: String,
    deadline: Duration,
}

/// The first playback of a turn's answer, awaited to time the turn.
struct LatencyProbe {
    utterance: UtteranceId,
    turn: i64,
    heard: Now,
    stt_ms: u64,
    llm_ttfb_ms: u64,
    tts_start_ms: u64,
}

/// Said when the model cannot be reached or fails mid-turn.
pub const APOLOGY: &str = "I'm sorry, I'm having trouble answering right now. Could you say that again?";

/// The state of one call.
pub struct Session {
    record: CallRecord,
    agent: AgentSettings,
    clock: CallClock,
    credit: Option<credit::Credit>,
    memory: Option<CallerMemory>,
    server_url: bool,
    knowledge: bool,
    appointments: bool,
    limits: bool,
    now: Now,
    out: Vec<Effect>,
    next_job: JobId,
    jobs: Vec<JobId>,
    phase: Phase,
    /// Real time of the answer, since the session started.
    answered: Option<Duration>,
    speech: Speech,
    brain: EmbeddedBrain,
    conversation: Option<Conversation>,
    turn: Option<Turn>,
    next_tag: Tag,
    /// The model message each tag's speech went into, to correct it after an interruption.
    said_messages: Vec<(Tag, usize)>,
    probes: Vec<LatencyProbe>,
    /// Caller input that arrived before the greeting, handled after it.
    deferred: Vec<Deferred>,
    silence_deadline: Option<Duration>,
    /// When the agent's duration limit falls, and the limit in call time.
    limit: Option<(Duration, Duration)>,
    /// Set when the limit ended the call: it lasted exactly the limit, however
    /// late the timer ran.
    cut_at_limit: Option<Duration>,
    hang_up_when_done: bool,
    gather: Option<ActiveGather>,
    gather_results: Vec<GatherResult>,
    transfer: Option<PendingTransfer>,
    /// Where the call was transferred to, after how much call time, and when
    /// (real time since the session started) the transferred leg began.
    transferred: Option<(String, Duration, Duration)>,
    /// How long the transferred leg lasted, as the carrier reported it.
    transfer_seconds: Option<i64>,
    voicemail: bool,
    ending: Option<Ending>,
    /// Whether the server_url's `call.started` answer set the first message.
    server_greeting: bool,
    server_tools: Vec<ToolDef>,
    ivr: Option<IvrState>,
    /// The call's top menu, which the caller can ask for again ("menu").
    menu: Option<IvrMenu>,
    ivr_path: Vec<Value>,
    extraction: Option<Value>,
    learned: Learned,
    /// The agent is waiting for the caller (told to the transport once).
    idle: bool,
    /// When the caller's last utterance ended, for the turn it starts.
    last_word: Option<Now>,
}

fn round_tenth(seconds: f64) -> f64 {
    (seconds * 10.0).round() / 10.0
}

impl Session {
    pub fn new(spec: SessionSpec) -> Self {
        let agent = spec.agent;
        let brain = EmbeddedBrain::new(&agent.name, agent.first_message.as_deref(), agent.end_call_enabled);
        let mut record = spec.record;
        record.brain = if spec.model.is_some() { Brain::Llm } else { Brain::Embedded };
        record.config_source = ConfigSource::Agent;
        Session {
            record,
            clock: spec.clock,
            credit: spec.credit.map(credit::Credit::new),
            memory: spec.memory,
            server_url: spec.server_url,
            knowledge: spec.knowledge,
            appointments: spec.appointments,
            limits: spec.limits,
            now: Now { elapsed: Duration::ZERO, epoch_ms: 0, instant: tokio::time::Instant::now() },
            out: Vec::new(),
            next_job: 0,
            jobs: Vec::new(),
            phase: Phase::Ringing,
            answered: None,
            speech: Speech::default(),
            brain,
            conversation: spec.model.map(Conversation::new),
            turn: None,
            next_tag: 0,
            said_messages: Vec::new(),
            probes: Vec::new(),
            deferred: Vec::new(),
            silence_deadline: None,
            limit: None,
            cut_at_limit: None,
            hang_up_when_done: false,
            gather: None,
            gather_results: Vec::new(),
            transfer: None,
            transferred: None,
            transfer_seconds: None,
            voicemail: false,
            ending: None,
            server_greeting: false,
            server_tools: Vec::new(),
            ivr: None,
            menu: None,
            ivr_path: Vec::new(),
            extraction: None,
            learned: Learned::default(),
            idle: false,
            last_word: None,
            agent,
        }
    }

    /// The call's id.
    pub fn call_id(&self) -> &str {
        &self.record.id
    }

    /// The project the call belongs to.
    pub fn project_id(&self) -> &str {
        &self.record.project_id
    }

    /// Whether the call has ended; the driver then calls [`Session::finish`].
    pub fn is_over(&self) -> bool {
        self.ending.is_some()
    }

    /// The effects produced since the last call.
    pub fn effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.out)
    }

    /// The next moment (real time since the start) the session must be woken
    /// with [`Input::Timer`].
    pub fn next_deadline(&self) -> Option<Duration> {
        [
            self.silence_deadline,
            self.limit.map(|(at, _)| at),
            self.credit_deadline(),
            self.extension_due(),
            self.gather.as_ref().map(|g| g.deadline),
            self.ivr.as_ref().and_then(|m| m.deadline),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Handles one input at `now`.
    pub fn handle(&mut self, now: Now, input: Input) {
        self.now = now;
        if self.ending.is_some() {
            // Only commands still get an answer once the call is over.
            if let Input::Command(id, _) = input {
                self.reply(id, Err(ControlError::NotInProgress));
            }
            return;
        }
        match input {
            Input::Transport(event) => self.on_event(event),
            Input::TransportGone => self.on_transport_gone(),
            Input::Command(id, command) => self.on_command(id, command),
            Input::Job(id, output) => self.on_job(id, output),
            Input::Timer => self.on_timer(),
        }
        self.settle();
    }

    // --- small helpers -------------------------------------------------------

    fn emit(&mut self, event: EventType, data: Value) {
        self.out.push(Effect::Emit(event, data));
    }

    fn act(&mut self, action: TransportAction) {
        self.out.push(Effect::Act(action));
    }

    fn reply(&mut self, id: CommandId, result: Result<(), ControlError>) {
        self.out.push(Effect::Reply(id, result));
    }

    fn run(&mut self, job: Job) -> JobId {
        self.next_job += 1;
        let id = self.next_job;
        self.jobs.push(id);
        self.out.push(Effect::Run(id, job));
        id
    }

    /// A job reported its end (or was cancelled): it is no longer running.
    fn done(&mut self, id: JobId) {
        self.jobs.retain(|j| *j != id);
    }

    fn cancel(&mut self, id: JobId) {
        if self.jobs.contains(&id) {
            self.done(id);
            self.out.push(Effect::Cancel(id));
        }
    }

    /// Call time since the answer.
    fn since_answer(&self) -> Duration {
        self.answered.map_or(Duration::ZERO, |at| self.clock.call_time(self.now.elapsed.saturating_sub(at)))
    }

    /// The real-time moment `call_time` from now.
    fn deadline(&self, call_time: Duration) -> Duration {
        self.now.elapsed + self.clock.wall(call_time)
    }

    fn timestamp(&self) -> f64 {
        round_tenth(self.since_answer().as_secs_f64())
    }

    /// Reports transcript lines that became final.
    fn report(&mut self, lines: Vec<TranscriptLine>) {
        for line in lines {
            let data = json!({"role": line.role, "content": line.content, "timestamp": line.timestamp});
            self.emit(EventType::TranscriptUpdated, data);
            self.out.push(Effect::Transcript(line));
        }
    }

    /// Speaks `text` as part of `line`.
    fn speak_in(&mut self, line: LineId, text: &str, tag: Option<Tag>) -> UtteranceId {
        self.silence_deadline = None;
        let utterance = self.speech.say(line, text, tag);
        self.act(TransportAction::Say { utterance, text: text.to_owned() });
        utterance
    }

    /// Says `text` as a line of its own.
    fn say(&mut self, text: &str) {
        let line = self.speech.open_line(self.timestamp());
        self.speak_in(line, text, None);
        let reported = self.speech.close(line);
        self.report(reported.into_iter().collect());
    }

    fn arm_silence(&mut self) {
        if self.limits && self.answered.is_some() && self.transferred.is_none() {
            let timeout = Duration::from_secs(self.agent.silence_timeout_seconds.max(1) as u64);
            self.silence_deadline = Some(self.deadline(timeout));
        }
    }

    /// Whether the agent is doing anything the caller waits for.
    fn busy(&self) -> bool {
        self.answered.is_none()
            || self.phase != Phase::Live
            || self.speech.speaking()
            || self.turn.is_some()
            || self.transferred.is_some()
            || self.transfer.is_some()
            || self.hang_up_when_done
    }

    /// After every input: when the agent has just become idle, it listens,
    /// and the caller's silence (or the menu's wait) starts counting.
    fn settle(&mut self) {
        if self.ending.is_some() {
            return;
        }
        if self.busy() {
            self.idle = false;
        } else if !self.idle {
            self.idle = true;
            self.act(TransportAction::Listen);
            if self.ivr.is_some() {
                self.arm_menu();
            } else {
                self.arm_silence();
            }
        }
    }

    // --- the call's life ----------------------------------------------------

    fn on_event(&mut self, event: TransportEvent) {
        match event {
            TransportEvent::Answered => self.on_answered(),
            TransportEvent::Voicemail => self.on_voicemail(),
            TransportEvent::NotConnected(outcome) => {
                if self.answered.is_none() {
                    self.end(Ending::not_connected(outcome));
                }
            }
            TransportEvent::SpeechStarted => self.on_speech_started(),
            TransportEvent::Transcript { text, is_final, ended } => {
                if is_final && !text.trim().is_empty() {
                    self.last_word = Some(ended.map_or(self.now, |at| self.now.back_to(at)));
                    self.emit(EventType::SpeechEnded, json!({}));
                    self.silence_deadline = None;
                    let line = self.speech.caller_line(&text, self.timestamp());
                    self.report(vec![line]);
                    self.on_caller_input(Deferred::Utterance(text));
                } else if is_final && !self.speech.speaking() {
                    // Nothing was said after all: the menu's wait goes on.
                    self.arm_menu();
                }
            }
            TransportEvent::Dtmf(digit) => {
                self.emit(EventType::CallDtmfReceived, json!({"digits": digit.to_string()}));
                self.on_caller_input(Deferred::Digit(digit));
            }
            TransportEvent::PlaybackStarted(utterance) => self.on_playback_started(utterance),
            TransportEvent::PlaybackFinished(utterance) => {
                let lines = self.speech.finished(utterance);
                self.report(lines);
                if !self.speech.speaking() {
                    self.emit(EventType::AiSpeechEnded, json!({}));
                    if self.hang_up_when_done && self.turn.is_none() {
                        self.end_by_agent(EndedReason::AgentHangup);
                    }
                }
            }
            TransportEvent::PlaybackStopped { utterance, heard_chars } => {
                let was_playing = self.speech.playing();
                let (lines, heard) = self.speech.stopped(utterance, heard_chars);
                self.report(lines);
                self.probes.retain(|p| utterance.is_some_and(|u| p.utterance <= u));
                for heard in heard {
                    if let Some((_, index)) = self.said_messages.iter().find(|(tag, _)| *tag == heard.tag)
                        && let Some(conversation) = &mut self.conversation
                    {
                        conversation.correct_assistant(*index, &heard.text);
                    }
                }
                if was_playing {
                    self.emit(EventType::AiSpeechEnded, json!({}));
                }
                // The caller talked over the agent's last words: the call
                // still ends as the agent decided.
                if self.hang_up_when_done && self.turn.is_none() {
                    self.end_by_agent(EndedReason::AgentHangup);
                }
            }
            TransportEvent::TransferConnected => self.transfer_connected(),
            TransportEvent::TransferCompleted { duration_seconds } => {
                self.transfer_seconds = Some(duration_seconds);
                self.end(Ending::transferred());
            }
            TransportEvent::TransferFailed { reason } => {
                if let Some(transfer) = self.transfer.take() {
                    let data = json!({"to": transfer.destination, "reason": reason});
                    self.emit(EventType::TransferFailed, data);
                    if let Some(reply) = transfer.reply {
                        self.reply(reply, Err(ControlError::TransferFailed(reason)));
                    }
                }
                self.arm_silence();
            }
            TransportEvent::HungUp => self.on_caller_hung_up(),
        }
    }

    /// The call is connected: its clock starts now.
    fn start_clock(&mut self) {
        self.answered = Some(self.now.elapsed);
        self.record.answered_at = Some(self.now.epoch_ms);
        self.out.push(Effect::Answered(self.now.epoch_ms));
    }

    fn on_answered(&mut self) {
        if self.answered.is_some() {
            return;
        }
        self.start_clock();
        if self.server_url {
            let job = self.run(Job::CallStarted);
            self.phase = Phase::Configuring(job);
        } else {
            self.go_live();
        }
    }

    /// The configuration is settled: arm the duration limit, greet (or play
    /// the menu), then handle what the caller said meanwhile.
    fn go_live(&mut self) {
        self.phase = Phase::Live;
        self.arm_limit();
        if self.ivr.is_some() {
            self.play_menu();
        } else {
            let greeting = self.brain.greeting();
            // A recognised caller is greeted by name, unless the server_url
            // chose the first message itself.
            let named = self.memory.as_ref().and_then(CallerMemory::name);
            let greeting = match named {
                Some(name) if !self.server_greeting => welcome(name, &greeting),
                _ => greeting,
            };
            self.engage_brain(&greeting);
            self.say(&greeting);
        }
        for input in std::mem::take(&mut self.deferred) {
            self.on_caller_input(input);
        }
    }

    /// Arms the agent's duration limit (the org's credit is watched apart).
    fn arm_limit(&mut self) {
        let Some(answered) = self.answered.filter(|_| self.limits) else { return };
        let limit = Duration::from_secs(self.agent.max_duration.max(1) as u64);
        self.limit = Some((answered + self.clock.wall(limit), limit));
    }

    fn on_configured(&mut self, answer: Result<CallConfig, ServerUrlError>, recognised: Option<MemoryContext>) {
        match answer {
            Ok(config) => {
                self.record.config_source = ConfigSource::ServerUrl;
                self.apply(config);
                if let (Some(memory), Some(context)) = (&mut self.memory, recognised) {
                    memory.external_ids.extend(self.learned.external_ids.clone());
                    memory.context = context;
                }
            }
            Err(err) => {
                tracing::info!(call_id = self.record.id, error = %err, "call.started failed; using the agent");
                self.record.config_source = ConfigSource::AgentFallback;
                self.record.server_url_error = Some(err.to_string());
            }
        }
        self.go_live();
    }

    /// Applies a `call.started` answer over the agent's stored values.
    fn apply(&mut self, config: CallConfig) {
        let agent = &mut self.agent;
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
            self.menu = Some(menu.clone());
            self.ivr = Some(IvrState::new(menu));
        }
        self.extraction = config.extraction;
        if let Some(memory) = &config.memory {
            self.learned.absorb(memory);
        }
        self.brain = EmbeddedBrain::new(&agent.name, agent.first_message.as_deref(), agent.end_call_enabled);
        self.merge_metadata(config.metadata);
    }

    fn merge_metadata(&mut self, extra: Option<Value>) {
        if let (Some(Value::Object(extra)), Value::Object(metadata)) = (extra, &mut self.record.metadata) {
            metadata.extend(extra);
        }
    }

    /// Gives the model the conversation so far: the configured prompt and
    /// tools, and the greeting it is about to say.
    fn engage_brain(&mut self, greeting: &str) {
        let Some(conversation) = &mut self.conversation else { return };
        let remembered = self.memory.as_ref().and_then(CallerMemory::prompt);
        let prompt = match (self.agent.system_prompt.as_deref(), remembered) {
            (Some(prompt), Some(memory)) => Some(format!("{prompt}\n\n{memory}")),
            (prompt, memory) => memory.or(prompt.map(str::to_owned)),
        };
        let offer = Offer {
            end_call: self.agent.end_call_enabled,
            knowledge: self.knowledge,
            remember: self.memory.is_some(),
            appointments: self.appointments,
        };
        conversation.configure(prompt.as_deref(), std::mem::take(&mut self.server_tools), offer, greeting);
    }

    fn on_voicemail(&mut self) {
        if !self.agent.voicemail.detection {
            // Without detection the agent talks to the machine as to a person.
            self.on_answered();
            return;
        }
        self.voicemail = true;
        self.start_clock();
        self.phase = Phase::Live;
        self.arm_limit();
        match (&self.agent.voicemail.action, self.agent.voicemail.message.clone()) {
            (VoicemailAction::LeaveMessage, Some(message)) if !message.trim().is_empty() => {
                self.say(&message);
                self.hang_up_when_done = true;
            }
            _ => self.end_by_agent(EndedReason::AgentHangup),
        }
    }

    fn on_speech_started(&mut self) {
        self.silence_deadline = None;
        // A menu does not time out while the caller is answering it.
        self.hold_menu();
        self.emit(EventType::SpeechStarted, json!({}));
        if self.speech.speaking() && self.speech.stop() {
            self.emit(EventType::BargeIn, json!({}));
            self.act(TransportAction::StopSpeaking);
            // What the model was still saying will not be heard.
            self.interrupt_turn();
        }
    }

    fn on_caller_hung_up(&mut self) {
        self.end(match (self.answered, &self.transferred) {
            (None, _) => Ending::canceled(None),
            (Some(_), Some(_)) => Ending::transferred(),
            (Some(_), None) => Ending::answered(EndedReason::CallerHangup),
        });
    }

    fn on_transport_gone(&mut self) {
        self.end(if self.answered.is_some() {
            Ending::answered(EndedReason::Error)
        } else {
            Ending::not_connected(NotConnected::Failed)
        });
    }

    /// What the caller said or keyed: handled now, or after the greeting when
    /// the call is still being configured.
    fn on_caller_input(&mut self, input: Deferred) {
        if matches!(self.phase, Phase::Configuring(_)) {
            self.deferred.push(input);
            return;
        }
        match input {
            Deferred::Utterance(text) => self.on_utterance(text),
            Deferred::Digit(digit) => self.on_digit(digit),
        }
    }

    fn on_utterance(&mut self, text: String) {
        if self.transferred.is_some() || self.voicemail {
            return;
        }
        if self.ivr.is_some() {
            self.ivr_input(IvrInput::Speech(&text));
            return;
        }
        if self.conversation.is_none() && self.menu.is_some() && asks_for_menu(&text) {
            self.reopen_menu();
            return;
        }
        self.record.turn_count += 1;
        self.begin_turn(text);
    }

    fn on_digit(&mut self, digit: Dtmf) {
        self.silence_deadline = None;
        let Some(gather) = self.gather.as_mut() else {
            if self.ivr.is_some() {
                self.ivr_input(IvrInput::Digit(digit.as_char()));
            } else if !self.busy() {
                self.arm_silence();
            }
            return;
        };
        if gather.request.terminator == Some(digit) {
            self.finish_gather(GatherStatus::Completed);
            return;
        }
        gather.digits.push(digit.as_char());
        if gather.digits.len() >= gather.request.max_digits {
            self.finish_gather(GatherStatus::Completed);
        }
    }

    fn on_playback_started(&mut self, utterance: UtteranceId) {
        if self.speech.started(utterance) {
            self.emit(EventType::AiSpeechStarted, json!({}));
        }
        if let Some(at) = self.probes.iter().position(|p| p.utterance == utterance) {
            let probe = self.probes.remove(at);
            let tts_ttfb_ms = self.now.elapsed.saturating_sub(probe.heard.elapsed).as_millis() as u64;
            self.record.latency.turns.push(TurnLatency {
                turn: probe.turn,
                ts: iso(probe.heard.epoch_ms),
                stt_ms: probe.stt_ms,
                llm_ttfb_ms: probe.llm_ttfb_ms,
                tts_start_ms: probe.tts_start_ms,
                tts_ttfb_ms,
            });
        }
    }

    fn finish_gather(&mut self, status: GatherStatus) {
        self.close_gather(status, None);
        if !self.speech.speaking() {
            self.arm_silence();
        }
    }

    /// Ends the running gather, if any, and reports it: `reason` says what
    /// cancelled one (`transfer`, `call_ended`).
    fn close_gather(&mut self, status: GatherStatus, reason: Option<&str>) {
        if let Some(gather) = self.gather.take() {
            let input = (status == GatherStatus::Completed).then_some(gather.digits);
            let mut data = json!({"status": status, "input": input});
            if let Some(reason) = reason {
                data["reason"] = json!(reason);
            }
            self.emit(EventType::CallGatherCompleted, data);
            self.gather_results.push(GatherResult {
                prompt: gather.request.prompt,
                status,
                input,
                at: iso(self.now.epoch_ms),
            });
        }
    }

    fn on_timer(&mut self) {
        let now = self.now.elapsed;
        let due = |at: Option<Duration>| at.is_some_and(|at| at <= now);
        if due(self.credit_deadline()) {
            self.out_of_credit();
            return;
        }
        if due(self.extension_due()) {
            self.extend_credit();
        }
        if due(self.limit.map(|(at, _)| at)) {
            self.cut_at_limit = self.limit.map(|(_, limit)| limit);
            self.end_by_agent(EndedReason::MaxDuration);
            return;
        }
        if due(self.silence_deadline) {
            self.end_by_agent(EndedReason::SilenceTimeout);
            return;
        }
        if due(self.gather.as_ref().map(|g| g.deadline)) {
            self.finish_gather(GatherStatus::Timeout);
        }
        if due(self.ivr.as_ref().and_then(|m| m.deadline)) {
            self.missed(None);
        }
    }

    fn on_command(&mut self, id: CommandId, command: CallCommand) {
        let in_progress = self.answered.is_some() && self.transferred.is_none();
        match command {
            CallCommand::End => {
                if self.answered.is_none() {
                    // Ending a call that is still ringing cancels it.
                    self.act(TransportAction::HangUp);
                    self.end(Ending::canceled(Some(EndedReason::Api)));
                    self.reply(id, Ok(()));
                } else if in_progress {
                    self.end_by_agent(EndedReason::Api);
                    self.reply(id, Ok(()));
                } else {
                    self.reply(id, Err(ControlError::NotInProgress));
                }
            }
            CallCommand::Transfer { destination } => {
                if !in_progress || self.transfer.is_some() {
                    self.reply(id, Err(ControlError::NotInProgress));
                } else {
                    self.begin_transfer(destination, Some(id));
                }
            }
            CallCommand::Gather(request) => {
                if !in_progress {
                    self.reply(id, Err(ControlError::NotInProgress));
                } else if self.gather.is_some() {
                    self.reply(id, Err(ControlError::GatherInProgress));
                } else {
                    let window = Duration::from_secs(request.timeout_seconds);
                    let prompt = request.prompt.clone();
                    // The input window opens with the prompt and closes after it.
                    let words = prompt.split_whitespace().count() as u64;
                    let deadline = self.deadline(window + Duration::from_millis(400 * words));
                    self.gather = Some(ActiveGather { request, digits: String::new(), deadline });
                    self.say(&prompt);
                    self.reply(id, Ok(()));
                }
            }
        }
    }

    fn on_job(&mut self, id: JobId, output: JobOutput) {
        if !self.jobs.contains(&id) {
            // A cancelled job's last words.
            return;
        }
        if !matches!(output, JobOutput::Token(_)) {
            self.done(id);
        }
        match output {
            JobOutput::Configured { answer, recognised } => {
                if self.phase == Phase::Configuring(id) {
                    self.on_configured(*answer, recognised.map(|r| *r));
                }
            }
            JobOutput::Token(piece) => self.on_token(id, &piece),
            JobOutput::ModelDone(outcome) => self.on_model_done(id, outcome),
            JobOutput::ServerTool(answer) => self.on_server_tool(id, answer),
            JobOutput::ToolResult(result) => self.on_tool_result(id, result),
            JobOutput::Answer(found) => self.on_answer(id, found),
            JobOutput::Reserved(granted) => self.on_reserved(id, granted),
            JobOutput::Booking(reply) => self.on_booking(id, reply),
        }
    }

    /// Asks the transport to transfer the call.
    fn begin_transfer(&mut self, destination: String, reply: Option<CommandId>) {
        self.emit(EventType::TransferInitiated, json!({"to": destination}));
        self.transfer = Some(PendingTransfer { destination: destination.clone(), reply });
        self.act(TransportAction::Transfer(destination));
    }

    /// A requested transfer went through: the command succeeds and the agent
    /// stops listening (a gather waiting for digits is cancelled); the call
    /// ends when the transferred leg does, which `transfer.completed` reports.
    fn transfer_connected(&mut self) {
        if let Some(pending) = self.transfer.take() {
            self.close_gather(GatherStatus::Cancelled, Some("transfer"));
            if let Some(reply) = pending.reply {
                self.reply(reply, Ok(()));
            }
            self.silence_deadline = None;
            self.limit = None;
            self.transferred = Some((pending.destination, self.since_answer(), self.now.elapsed));
        }
    }

    /// The agent side ends the call.
    fn end_by_agent(&mut self, reason: EndedReason) {
        if self.ending.is_some() {
            return;
        }
        self.act(TransportAction::HangUp);
        self.end(if self.voicemail {
            Ending { status: CallStatus::Completed, disposition: Disposition::Voicemail, reason: Some(reason) }
        } else {
            Ending::answered(reason)
        });
    }

    /// The call is over: nothing it started is waited for.
    fn end(&mut self, ending: Ending) {
        if self.ending.is_some() {
            return;
        }
        self.ending = Some(ending);
        if matches!(self.phase, Phase::Configuring(_)) {
            self.record.config_source = ConfigSource::AgentFallback;
            self.record.server_url_error = Some("the call ended before the server_url answered".into());
        }
        for id in std::mem::take(&mut self.jobs) {
            self.out.push(Effect::Cancel(id));
        }
        if let Some(PendingTransfer { reply: Some(reply), .. }) = self.transfer.take() {
            self.reply(reply, Err(ControlError::NotInProgress));
        }
    }

    /// Closes the session at `now`: the last effects (what was still being
    /// said, a gather cut short) and the priced record.
    pub fn finish(mut self, now: Now) -> (Vec<Effect>, Finished) {
        self.now = now;
        // A transferred call's own duration stops at the transfer (the
        // transferred leg is billed on its own); any other call's at its end.
        let duration = match &self.transferred {
            Some((_, at, _)) => *at,
            None => self.cut_at_limit.unwrap_or_else(|| self.since_answer()),
        };
        let ending = self.ending.unwrap_or(Ending::answered(EndedReason::Error));
        self.close_gather(GatherStatus::Cancelled, Some("call_ended"));
        if let Some(turn) = self.turn.take()
            && let Some(line) = turn.line()
        {
            self.speech.close(line);
        }
        let rest = self.speech.end();
        self.report(rest);
        let collected = self.collected();
        let mut record = self.record;
        let duration_seconds = duration.as_secs_f64().round() as i64;
        // A leg the carrier did not report (the caller hung up during it, or
        // the credit ran out) lasted until now.
        let transfer_seconds = match &self.transferred {
            Some((_, _, leg)) => self
                .transfer_seconds
                .unwrap_or_else(|| self.clock.call_time(now.elapsed.saturating_sub(*leg)).as_secs_f64().round() as i64),
            None => 0,
        };
        record.status = ending.status;
        record.disposition = Some(ending.disposition);
        record.ended_reason = ending.reason;
        record.ended_at = Some(now.epoch_ms);
        record.duration_seconds = duration_seconds;
        record.cost = price_call(duration_seconds, transfer_seconds, record.rate_per_minute, None, 0);
        record.transfer_duration_seconds = transfer_seconds;
        record.transferred_to = self.transferred.map(|(to, _, _)| to);
        if let Some(to) = &record.transferred_to {
            let data = json!({"to": to, "duration_seconds": transfer_seconds});
            self.out.push(Effect::Emit(EventType::TransferCompleted, data));
        }
        record.transcript = self.speech.transcript();
        record.language = Some(self.agent.language.clone());
        if let Value::Object(map) = &mut record.metadata {
            if !self.gather_results.is_empty() {
                map.insert("gather_results".into(), json!(self.gather_results));
            }
            if !self.ivr_path.is_empty() {
                map.insert("ivr_path".into(), Value::Array(self.ivr_path));
            }
        }
        let finished = Finished {
            record,
            learned: self.learned,
            memory: self.memory,
            extraction: self.extraction,
            collected,
            answered: self.answered.is_some(),
        };
        (self.out, finished)
    }

    /// What the call collected without a model: metadata from the server_url,
    /// the last IVR choice (`ivr_choice`) and the last keyed input (`digits`).
    fn collected(&self) -> Map<String, Value> {
        let mut collected = self.record.metadata.as_object().cloned().unwrap_or_default();
        if let Some(choice) = self.ivr_path.last().and_then(|c| c.get("option")).cloned() {
            collected.insert("ivr_choice".into(), choice);
        }
        if let Some(digits) = self.gather_results.iter().rev().find_map(|g| g.input.clone()) {
            collected.insert("digits".into(), Value::String(digits));
        }
        collected
    }
}
