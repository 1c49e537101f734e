//! The session's rules, driven input by input on a clock the test sets: no
//! sockets, no tasks, no sped-up time.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_domain::agent::AgentSettings;
use switchboard_domain::call::{CallRecord, CallStatus, ConfigSource, Direction, EndedReason, Ringing, Role};
use switchboard_domain::events::EventType;
use switchboard_domain::server_url::{CallConfig, ToolCallResponse, ToolDef};

use super::*;
use crate::llm::{ChatMessage, ChatOutcome, ToolCall};

const START_EPOCH: i64 = 1_780_000_000_000;

fn record() -> CallRecord {
    CallRecord::ringing(Ringing {
        id: "call_1".into(),
        org_id: "org_1".into(),
        project_id: "proj_1".into(),
        agent_id: Some("agent_1".into()),
        direction: Direction::Inbound,
        from_number: "+31612345678".into(),
        to_number: "+31201234567".into(),
        rate_per_minute: 150_000,
        recording_enabled: false,
        metadata: json!({}),
        node_id: None,
        at: START_EPOCH,
    })
}

/// A session under test and the time it is at.
struct Call {
    session: Session,
    at: Duration,
    /// The instant the test's clock started at.
    origin: tokio::time::Instant,
}

struct Options {
    model: bool,
    server_url: bool,
    /// The credit the call holds when it starts; `None`: not limited.
    credit: Option<Micros>,
}

impl Default for Options {
    fn default() -> Self {
        Options { model: true, server_url: false, credit: None }
    }
}

impl Call {
    fn new(options: Options) -> Self {
        let agent = AgentSettings {
            first_message: Some("Acme insurance, how can I help?".into()),
            end_call_enabled: true,
            silence_timeout_seconds: 30,
            max_duration: 600,
            ..AgentSettings::named("Policy bot")
        };
        let spec = SessionSpec {
            record: record(),
            agent,
            clock: CallClock::new(1.0),
            credit: options.credit,
            memory: None,
            server_url: options.server_url,
            model: options.model.then_some(None),
            knowledge: false,
            appointments: false,
            limits: true,
        };
        Call { session: Session::new(spec), at: Duration::ZERO, origin: tokio::time::Instant::now() }
    }

    fn now(&self) -> Now {
        Now { elapsed: self.at, epoch_ms: START_EPOCH + self.at.as_millis() as i64, instant: self.origin + self.at }
    }

    /// Moves the clock on by `ms` and handles `input`.
    fn feed(&mut self, ms: u64, input: Input) -> Vec<Effect> {
        self.at += Duration::from_millis(ms);
        let now = self.now();
        self.session.handle(now, input);
        self.session.effects()
    }

    fn event(&mut self, ms: u64, event: TransportEvent) -> Vec<Effect> {
        self.feed(ms, Input::Transport(event))
    }

    fn job(&mut self, ms: u64, job: JobId, output: JobOutput) -> Vec<Effect> {
        self.feed(ms, Input::Job(job, output))
    }

    /// Answers the call and plays the greeting to its end.
    fn answered(&mut self) {
        let effects = self.event(0, TransportEvent::Answered);
        let greeting = said(&effects);
        assert_eq!(greeting.len(), 1, "{effects:?}");
        self.played(greeting[0].0);
    }

    fn played(&mut self, utterance: UtteranceId) -> Vec<Effect> {
        let mut effects = self.event(10, TransportEvent::PlaybackStarted(utterance));
        effects.extend(self.event(500, TransportEvent::PlaybackFinished(utterance)));
        effects
    }

    /// The caller says `text`; returns the model job it starts.
    fn caller_says(&mut self, text: &str) -> JobId {
        self.event(100, TransportEvent::SpeechStarted);
        let effects = self.event(900, TransportEvent::Transcript { text: text.into(), is_final: true, ended: None });
        model_job(&effects).unwrap_or_else(|| panic!("no model request: {effects:?}")).0
    }

    fn finish(self) -> (Vec<Effect>, Finished) {
        let now = self.now();
        self.session.finish(now)
    }
}

/// What the effects asked the transport to say.
fn said(effects: &[Effect]) -> Vec<(UtteranceId, String)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Act(TransportAction::Say { utterance, text }) => Some((*utterance, text.clone())),
            _ => None,
        })
        .collect()
}

fn model_job(effects: &[Effect]) -> Option<(JobId, ChatRequest)> {
    effects.iter().find_map(|e| match e {
        Effect::Run(id, Job::Model(request)) => Some((*id, request.clone())),
        _ => None,
    })
}

fn emitted(effects: &[Effect], event: EventType) -> Vec<Value> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Emit(kind, data) if *kind == event => Some(data.clone()),
            _ => None,
        })
        .collect()
}

fn acted(effects: &[Effect], action: &TransportAction) -> bool {
    effects.iter().any(|e| matches!(e, Effect::Act(a) if a == action))
}

fn cancelled(effects: &[Effect], job: JobId) -> bool {
    effects.contains(&Effect::Cancel(job))
}

/// The model streams `content` and finishes with `tool_calls`.
fn reply(call: &mut Call, ms: u64, job: JobId, content: &str, tool_calls: Vec<ToolCall>) -> Vec<Effect> {
    let mut effects = if content.is_empty() { Vec::new() } else { call.job(ms, job, JobOutput::Token(content.into())) };
    effects.extend(call.job(0, job, done(content, tool_calls)));
    effects
}

fn done(content: &str, tool_calls: Vec<ToolCall>) -> JobOutput {
    JobOutput::ModelDone(Ok(ChatOutcome { content: content.into(), tool_calls, finish_reason: None }))
}

#[test]
fn end_acts_at_once_while_a_reply_is_still_streaming() {
    let mut call = Call::new(Options::default());
    call.answered();
    let job = call.caller_says("What does my policy cover?");
    let effects = call.job(5, job, JobOutput::Token("Your policy P1 covers water damage. It also".into()));
    assert_eq!(said(&effects).len(), 1, "the first sentence is spoken before the reply is complete");

    let effects = call.feed(5, Input::Command(7, CallCommand::End));
    assert!(acted(&effects, &TransportAction::HangUp));
    assert!(cancelled(&effects, job), "the streaming reply is cancelled, not awaited: {effects:?}");
    assert!(effects.contains(&Effect::Reply(7, Ok(()))));
    assert!(call.session.is_over());

    // What the stream says after the end changes nothing.
    assert!(call.job(5, job, JobOutput::Token(" covers fire.".into())).is_empty());
    let (_, finished) = call.finish();
    assert_eq!(finished.record.ended_reason, Some(EndedReason::Api));
    assert_eq!(finished.record.status, CallStatus::Completed);
    let last = finished.record.transcript.last().cloned().expect("lines");
    assert_eq!((last.role, last.content.as_str()), (Role::Assistant, "Your policy P1 covers water damage."));
}

#[test]
fn a_barge_in_cuts_the_reply_to_what_the_caller_heard() {
    let mut call = Call::new(Options::default());
    call.answered();
    let job = call.caller_says("What does my policy cover?");
    let effects = call.job(5, job, JobOutput::Token("Your policy P1 covers water damage. And".into()));
    let (first, _) = said(&effects)[0].clone();
    call.event(10, TransportEvent::PlaybackStarted(first));

    let effects = call.event(700, TransportEvent::SpeechStarted);
    assert_eq!(emitted(&effects, EventType::BargeIn).len(), 1);
    assert!(acted(&effects, &TransportAction::StopSpeaking));
    assert!(cancelled(&effects, job), "what the model still had to say is not waited for");

    let effects = call.event(20, TransportEvent::PlaybackStopped { utterance: Some(first), heard_chars: 13 });
    let lines = emitted(&effects, EventType::TranscriptUpdated);
    assert_eq!(lines, vec![json!({"role": "assistant", "content": "Your policy", "timestamp": 1.5})]);

    // The model is told what the caller heard, then what they said.
    let effects =
        call.event(900, TransportEvent::Transcript { text: "No, I mean fire.".into(), is_final: true, ended: None });
    let (_, request) = model_job(&effects).expect("a new turn");
    let tail = &request.messages[request.messages.len() - 2..];
    assert_eq!(
        tail,
        [
            ChatMessage::Assistant { content: Some("Your policy".into()), tool_calls: Vec::new() },
            ChatMessage::User("No, I mean fire.".into())
        ]
    );
    assert!(!call.session.is_over());
    let (_, finished) = call.finish();
    let contents: Vec<&str> = finished.record.transcript.iter().map(|l| l.content.as_str()).collect();
    assert_eq!(
        contents,
        ["Acme insurance, how can I help?", "What does my policy cover?", "Your policy", "No, I mean fire."]
    );
}

fn tool(name: &str) -> ToolCall {
    ToolCall { id: format!("tc_{name}"), name: name.into(), arguments: r#"{"policy_id":"P1"}"#.into() }
}

/// A call whose server_url offers `get_policy`, configured and greeted.
fn configured_call() -> Call {
    let mut call = Call::new(Options { server_url: true, ..Options::default() });
    let effects = call.event(0, TransportEvent::Answered);
    let job = effects
        .iter()
        .find_map(|e| match e {
            Effect::Run(id, Job::CallStarted) => Some(*id),
            _ => None,
        })
        .expect("call.started asked");
    let config = CallConfig {
        tools: Some(vec![ToolDef {
            name: "get_policy".into(),
            description: "Look up a policy".into(),
            parameters: json!({"type": "object"}),
            timeout_seconds: 5,
        }]),
        ..CallConfig::default()
    };
    let effects = call.job(40, job, JobOutput::Configured { answer: Box::new(Ok(config)), recognised: None });
    let greeting = said(&effects);
    call.played(greeting[0].0);
    call
}

/// The server tool job the effects started.
fn tool_job(effects: &[Effect]) -> Option<JobId> {
    effects.iter().find_map(|e| match e {
        Effect::Run(id, Job::ServerTool { .. }) => Some(*id),
        _ => None,
    })
}

#[test]
fn a_hang_up_during_a_tool_call_ends_the_call_at_once() {
    let mut call = configured_call();
    let job = call.caller_says("Check policy P1");
    let effects = call.job(5, job, done("", vec![tool("get_policy")]));
    let tool_job = tool_job(&effects).expect("tool.call sent");
    assert_eq!(emitted(&effects, EventType::ToolInvoked).len(), 1);

    let effects = call.event(50, TransportEvent::HungUp);
    assert!(cancelled(&effects, tool_job));
    assert!(call.session.is_over());
    let late = ToolCallResponse { result: Some(json!({"coverage": "fire"})), ..ToolCallResponse::default() };
    assert!(call.job(5, tool_job, JobOutput::ServerTool(Ok(late))).is_empty());
    let (_, finished) = call.finish();
    assert_eq!(finished.record.ended_reason, Some(EndedReason::CallerHangup));
    assert_eq!(finished.record.tool_call_count, 1);
    assert_eq!(finished.record.config_source, ConfigSource::ServerUrl);
}

#[test]
fn what_the_caller_says_during_a_tool_call_reaches_the_model_after_its_result() {
    let mut call = configured_call();
    let job = call.caller_says("Check policy P1");
    let effects = reply(&mut call, 5, job, "Let me check.", vec![tool("get_policy")]);
    let tool_job = tool_job(&effects).expect("tool.call sent");
    let effects =
        call.event(900, TransportEvent::Transcript { text: "It's for my house.".into(), is_final: true, ended: None });
    assert!(model_job(&effects).is_none(), "the model waits for the tool: {effects:?}");

    let answer = ToolCallResponse { result: Some(json!({"coverage": "fire"})), ..ToolCallResponse::default() };
    let effects = call.job(100, tool_job, JobOutput::ServerTool(Ok(answer)));
    assert_eq!(emitted(&effects, EventType::ToolCompleted).len(), 1);
    let (_, request) = model_job(&effects).expect("the next round");
    let tail = &request.messages[request.messages.len() - 3..];
    assert!(matches!(&tail[0], ChatMessage::Assistant { tool_calls, .. } if tool_calls.len() == 1));
    assert_eq!(
        tail[1],
        ChatMessage::Tool { tool_call_id: "tc_get_policy".into(), content: r#"{"coverage":"fire"}"#.into() }
    );
    assert_eq!(tail[2], ChatMessage::User("It's for my house.".into()));
}

#[test]
fn end_during_call_started_ends_the_call_without_waiting_for_the_server_url() {
    let mut call = Call::new(Options { server_url: true, ..Options::default() });
    let effects = call.event(0, TransportEvent::Answered);
    assert!(effects.contains(&Effect::Answered(START_EPOCH)));
    assert!(said(&effects).is_empty(), "no greeting before the configuration");
    let effects = call.feed(1_000, Input::Command(3, CallCommand::End));
    assert!(acted(&effects, &TransportAction::HangUp));
    assert!(cancelled(&effects, 1));
    assert!(effects.contains(&Effect::Reply(3, Ok(()))));
    let (_, finished) = call.finish();
    assert_eq!(finished.record.ended_reason, Some(EndedReason::Api));
    assert_eq!(finished.record.duration_seconds, 1);
    assert_eq!(finished.record.config_source, ConfigSource::AgentFallback);
    assert_eq!(finished.record.server_url_error.as_deref(), Some("the call ended before the server_url answered"));
}

#[test]
fn a_gather_nobody_answers_times_out_and_is_recorded() {
    let mut call = Call::new(Options::default());
    call.answered();
    let request =
        GatherRequest { prompt: "Enter your PIN.".into(), max_digits: 4, terminator: None, timeout_seconds: 5 };
    let effects = call.feed(10, Input::Command(1, CallCommand::Gather(request.clone())));
    assert!(effects.contains(&Effect::Reply(1, Ok(()))));
    let busy = call.feed(10, Input::Command(2, CallCommand::Gather(request)));
    assert!(busy.contains(&Effect::Reply(2, Err(ControlError::GatherInProgress))));
    let deadline = call.session.next_deadline().expect("the gather's deadline");
    // Five seconds plus 400 ms for each of the prompt's three words.
    assert_eq!(deadline, call.at - Duration::from_millis(10) + Duration::from_millis(6_200));

    let early = call.feed(6_000, Input::Timer);
    assert!(emitted(&early, EventType::CallGatherCompleted).is_empty());
    let effects = call.feed(200, Input::Timer);
    assert_eq!(emitted(&effects, EventType::CallGatherCompleted), vec![json!({"status": "timeout", "input": null})]);
    call.feed(10, Input::Command(3, CallCommand::End));
    let (_, finished) = call.finish();
    assert_eq!(finished.record.metadata["gather_results"][0]["status"], "timeout");
}

fn reserve_job(effects: &[Effect]) -> Option<(JobId, Micros)> {
    effects.iter().find_map(|e| match e {
        Effect::Run(id, Job::Reserve(amount)) => Some((*id, *amount)),
        _ => None,
    })
}

#[test]
fn a_call_asks_for_credit_ahead_and_is_cut_where_the_org_has_no_more() {
    // The first minute is held from the start (EUR 0.15 at 0.15 a minute).
    let mut call = Call::new(Options { model: false, credit: Some(150_000), ..Options::default() });
    call.session.agent.silence_timeout_seconds = 600;
    call.answered();
    let ask_at = call.session.next_deadline().expect("an ask for more credit");
    assert_eq!(ask_at, Duration::from_secs(40), "20 s of call time before the minute runs out");
    let effects = call.feed(40_000 - call.at.as_millis() as u64, Input::Timer);
    let (job, amount) = reserve_job(&effects).expect("one more minute asked for");
    assert_eq!(amount, 150_000);
    // The org had only half a minute to spare: the call runs to 90 s.
    call.job(10, job, JobOutput::Reserved(75_000));
    assert_eq!(call.session.next_deadline(), Some(Duration::from_secs(90)), "no more asks");
    // However late the timer runs, the call lasted what was paid for.
    call.feed(50_500, Input::Timer);
    assert!(call.session.is_over());
    let (_, finished) = call.finish();
    assert_eq!(finished.record.ended_reason, Some(EndedReason::MaxDuration));
    assert_eq!(finished.record.duration_seconds, 90);
    assert_eq!(finished.record.cost.total_cost, 225_000, "exactly what was reserved");
}

#[test]
fn a_transferred_leg_is_cut_when_the_credit_runs_out_and_billed_to_that_point() {
    let mut call = Call::new(Options { model: false, credit: Some(150_000), ..Options::default() });
    call.answered();
    call.feed(10_000, Input::Command(1, CallCommand::Transfer { destination: "+31850099999".into() }));
    let effects = call.event(0, TransportEvent::TransferConnected);
    assert!(effects.contains(&Effect::Reply(1, Ok(()))));
    let at = call.at;
    // 10.5 s of call and one minute of credit: the leg may last 49 s.
    let effects = call.feed(30_000, Input::Timer);
    let (job, _) = reserve_job(&effects).expect("asked for more during the leg");
    call.job(0, job, JobOutput::Reserved(0));
    assert_eq!(call.session.next_deadline(), Some(at + Duration::from_secs(49)));
    let effects = call.feed(19_000, Input::Timer);
    assert!(acted(&effects, &TransportAction::HangUp), "the leg is hung up");
    let (_, finished) = call.finish();
    assert_eq!(finished.record.transfer_duration_seconds, 49);
    assert!(finished.record.cost.total_cost <= 150_000, "{:?}", finished.record.cost);
    assert_eq!(finished.record.disposition, Some(switchboard_domain::call::Disposition::Transferred));
}

#[test]
fn a_transfer_completes_when_its_leg_ends_and_cancels_a_waiting_gather() {
    let mut call = Call::new(Options { model: false, ..Options::default() });
    call.answered();
    let request = GatherRequest { prompt: "Your PIN?".into(), max_digits: 4, terminator: None, timeout_seconds: 30 };
    call.feed(10, Input::Command(1, CallCommand::Gather(request)));
    let effects = call.feed(1_000, Input::Command(2, CallCommand::Transfer { destination: "+31850099999".into() }));
    assert_eq!(emitted(&effects, EventType::TransferInitiated), vec![json!({"to": "+31850099999"})]);
    let connected = call.event(0, TransportEvent::TransferConnected);
    assert!(connected.contains(&Effect::Reply(2, Ok(()))));
    assert!(emitted(&connected, EventType::TransferCompleted).is_empty(), "the leg has only begun");
    assert_eq!(
        emitted(&connected, EventType::CallGatherCompleted),
        vec![json!({"status": "cancelled", "input": null, "reason": "transfer"})]
    );
    // The gather's own deadline passing later reports nothing more.
    let later = call.feed(40_000, Input::Timer);
    assert!(emitted(&later, EventType::CallGatherCompleted).is_empty());
    call.event(2_000, TransportEvent::TransferCompleted { duration_seconds: 42 });
    let (effects, finished) = call.finish();
    assert_eq!(
        emitted(&effects, EventType::TransferCompleted),
        vec![json!({"to": "+31850099999", "duration_seconds": 42})]
    );
    assert!(emitted(&effects, EventType::CallGatherCompleted).is_empty(), "reported once");
    assert_eq!(finished.record.metadata["gather_results"][0]["status"], "cancelled");
}

#[test]
fn a_gather_cut_by_the_end_of_the_call_is_cancelled_not_timed_out() {
    let mut call = Call::new(Options { model: false, ..Options::default() });
    call.answered();
    let request = GatherRequest { prompt: "Your PIN?".into(), max_digits: 4, terminator: None, timeout_seconds: 30 };
    call.feed(10, Input::Command(1, CallCommand::Gather(request)));
    call.event(1_000, TransportEvent::HungUp);
    let (effects, finished) = call.finish();
    assert_eq!(
        emitted(&effects, EventType::CallGatherCompleted),
        vec![json!({"status": "cancelled", "input": null, "reason": "call_ended"})]
    );
    assert!(emitted(&effects, EventType::TransferCompleted).is_empty(), "no transfer, no transfer.completed");
    assert_eq!(finished.record.metadata["gather_results"][0]["status"], "cancelled");
}

#[test]
fn a_leg_the_caller_ends_is_billed_for_the_time_it_lasted() {
    let mut call = Call::new(Options { model: false, ..Options::default() });
    call.answered();
    call.feed(10_000, Input::Command(1, CallCommand::Transfer { destination: "+31850099999".into() }));
    call.event(0, TransportEvent::TransferConnected);
    call.event(42_000, TransportEvent::HungUp);
    let (_, finished) = call.finish();
    assert_eq!(finished.record.transfer_duration_seconds, 42);
    assert_eq!(finished.record.duration_seconds, 11);
}

#[test]
fn silence_counts_only_while_the_agent_listens() {
    let mut call = Call::new(Options::default());
    call.answered();
    let listening = call.session.next_deadline().expect("silence timer");
    let job = call.caller_says("Hello?");
    // While the model thinks, the caller's silence is not counted.
    let thinking = call.session.next_deadline().expect("the duration limit");
    assert!(thinking > listening + Duration::from_secs(60), "only the duration limit is armed");
    let effects = reply(&mut call, 50, job, "Hi there, how can I help?", Vec::new());
    let (utterance, _) = said(&effects)[0].clone();
    let effects = call.played(utterance);
    assert!(acted(&effects, &TransportAction::Listen));
    assert_eq!(call.session.next_deadline(), Some(call.at + Duration::from_secs(30)));
    call.feed(30_000, Input::Timer);
    let (_, finished) = call.finish();
    assert_eq!(finished.record.ended_reason, Some(EndedReason::SilenceTimeout));
}

#[test]
fn the_first_playback_of_an_answer_times_the_turn() {
    let mut call = Call::new(Options::default());
    call.answered();
    let job = call.caller_says("Hello?");
    let effects = reply(&mut call, 30, job, "Hi there, how can I help?", Vec::new());
    let (utterance, _) = said(&effects)[0].clone();
    call.event(20, TransportEvent::PlaybackStarted(utterance));
    let (_, finished) = call.finish();
    let turn = &finished.record.latency.turns[0];
    assert_eq!((turn.turn, turn.llm_ttfb_ms, turn.tts_start_ms, turn.tts_ttfb_ms), (1, 30, 30, 50));
}

#[test]
fn a_goodbye_the_caller_talks_over_still_ends_the_call() {
    let mut call = Call::new(Options::default());
    call.answered();
    let job = call.caller_says("That's all, thanks.");
    let effects = reply(&mut call, 20, job, "Goodbye then, have a nice day.", vec![tool("end_call")]);
    let (goodbye, _) = said(&effects)[0].clone();
    call.event(10, TransportEvent::PlaybackStarted(goodbye));
    assert!(!call.session.is_over(), "the goodbye is said first");
    call.event(300, TransportEvent::SpeechStarted);
    let effects = call.event(10, TransportEvent::PlaybackStopped { utterance: Some(goodbye), heard_chars: 7 });
    assert!(acted(&effects, &TransportAction::HangUp));
    let (_, finished) = call.finish();
    assert_eq!(finished.record.ended_reason, Some(EndedReason::AgentHangup));
    assert_eq!(finished.record.transcript.last().map(|l| l.content.as_str()), Some("Goodbye"));
}

#[test]
fn what_the_caller_says_before_the_greeting_is_recorded_and_answered_after_it() {
    let mut call = Call::new(Options { server_url: true, ..Options::default() });
    let effects = call.event(0, TransportEvent::Answered);
    let config = effects
        .iter()
        .find_map(|e| match e {
            Effect::Run(id, Job::CallStarted) => Some(*id),
            _ => None,
        })
        .expect("call.started asked");
    let effects = call.event(700, TransportEvent::Transcript { text: "Hello?".into(), is_final: true, ended: None });
    let lines = emitted(&effects, EventType::TranscriptUpdated);
    assert_eq!(lines, vec![json!({"role": "user", "content": "Hello?", "timestamp": 0.7})], "recorded at once");
    assert!(model_job(&effects).is_none(), "no turn before the greeting");
    let effects =
        call.job(100, config, JobOutput::Configured { answer: Box::new(Ok(CallConfig::default())), recognised: None });
    let spoken: Vec<String> = said(&effects).into_iter().map(|(_, text)| text).collect();
    assert_eq!(spoken, ["Acme insurance, how can I help?"]);
    let (_, request) = model_job(&effects).expect("the caller's words are answered after the greeting");
    assert_eq!(request.messages.last(), Some(&ChatMessage::User("Hello?".into())));
}

#[test]
fn a_turn_is_timed_from_when_the_transport_heard_the_last_word() {
    let mut call = Call::new(Options::default());
    call.answered();
    call.event(100, TransportEvent::SpeechStarted);
    // The words ended at 1_000 ms; the session is told at 1_040 ms.
    let ended = Some(call.origin + call.at + Duration::from_millis(900));
    let effects = call.event(940, TransportEvent::Transcript { text: "Hello?".into(), is_final: true, ended });
    let (job, _) = model_job(&effects).expect("a turn");
    let effects = reply(&mut call, 30, job, "Hi there, how can I help?", Vec::new());
    let (utterance, _) = said(&effects)[0].clone();
    call.event(20, TransportEvent::PlaybackStarted(utterance));
    let (_, finished) = call.finish();
    let turn = &finished.record.latency.turns[0];
    assert_eq!((turn.llm_ttfb_ms, turn.tts_ttfb_ms), (70, 90), "the 40 ms the event took count too");
    assert_eq!(turn.stt_ms, 40, "recognised 40 ms after the last word");
}
