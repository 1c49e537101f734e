//! One agent turn: the embedded brain's answer, or the model's reply streamed
//! sentence by sentence, the tools it calls (server_url tools through
//! `tool.call`, the built-ins `end_call`, `transfer_call`,
//! `knowledge_base_search`, `remember` and the appointment tools), and round
//! after round until it answers in words. A turn the caller interrupts is
//! cancelled, not awaited; tools already running are let finish, so the model
//! learns their results.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_domain::call::EndedReason;
use switchboard_domain::events::EventType;
use switchboard_domain::memory::learned::parse_remember;
use switchboard_domain::phone::E164;
use switchboard_domain::server_url::{ToolCallRequest, ToolCallResponse};
use switchboard_domain::time::iso;

use super::speech::{LineId, Tag};
use super::{APOLOGY, Job, JobId, LatencyProbe, Now, Session};
use crate::appointments::tools as appointment_tools;
use crate::call::conversation::{END_CALL, MAX_TOOL_ROUNDS, REMEMBER, SentenceSplitter, TRANSFER_CALL, arguments};
use crate::call::embedded::{Found, Reply};
use crate::call::server_url::ServerUrlError;
use crate::knowledge::retrieval::KNOWLEDGE_BASE_SEARCH;
use crate::llm::{ChatOutcome, ToolCall};

/// A turn in progress.
pub(super) struct Turn {
    number: i64,
    /// When the caller's last word came.
    heard: Now,
    /// When the caller's words were recognised (the transcript arrived).
    recognised: Duration,
    /// The transcript line of the answer, once it speaks.
    line: Option<LineId>,
    /// Real time of the model's first token and of the first speech.
    token_at: Option<Duration>,
    speech_at: Option<Duration>,
    /// Whether its first playback is being timed.
    timed: bool,
    work: Work,
}

enum Work {
    /// The embedded brain is searching the knowledge bases.
    Answer(JobId),
    /// The embedded brain's booking flow is looking at what the caller said.
    Booking {
        job: JobId,
        text: String,
    },
    Model(ModelTurn),
}

/// The model's side of a turn.
struct ModelTurn {
    round: usize,
    tag: Tag,
    /// The reply streaming now, if one is.
    stream: Option<JobId>,
    splitter: SentenceSplitter,
    tools: Vec<ToolRun>,
    effects: ToolEffects,
    /// What the caller said while tools were still running: sent to the model
    /// after their results.
    waiting: Vec<String>,
}

/// One tool call of a round and, once known, its result for the model.
struct ToolRun {
    call: ToolCall,
    job: Option<JobId>,
    result: Option<String>,
    started: Duration,
}

/// What tools decided beyond their results.
#[derive(Default)]
struct ToolEffects {
    end_call: bool,
    transfer_to: Option<String>,
}

impl Turn {
    pub(super) fn line(&self) -> Option<LineId> {
        self.line
    }
}

/// `base` with one more field.
fn with(base: &Value, key: &str, value: Value) -> Value {
    let mut out = base.clone();
    out[key] = value;
    out
}

impl Session {
    /// The caller said `text`: a new turn, or more for a turn whose tools are
    /// still running.
    pub(super) fn begin_turn(&mut self, text: String) {
        let heard = self.last_word.take().unwrap_or(self.now);
        let mut turn = Turn {
            number: self.record.turn_count,
            heard,
            recognised: self.now.elapsed,
            line: None,
            token_at: None,
            speech_at: None,
            timed: false,
            work: Work::Answer(0),
        };
        if let Some(previous) = self.turn.take() {
            if let Some(line) = previous.line {
                let reported = self.speech.close(line);
                self.report(reported.into_iter().collect());
            }
            match previous.work {
                Work::Answer(job) | Work::Booking { job, .. } => self.cancel(job),
                Work::Model(mut model) if model.tools.iter().any(|t| t.result.is_none()) => {
                    // Tools are running: the model hears the caller after them.
                    model.waiting.push(text);
                    turn.work = Work::Model(model);
                    self.turn = Some(turn);
                    return;
                }
                Work::Model(model) => self.drop_round(&model),
            }
        }
        if let Some(conversation) = &mut self.conversation {
            conversation.push_user(&text);
            turn.work = Work::Model(ModelTurn {
                round: 0,
                tag: 0,
                stream: None,
                splitter: SentenceSplitter::default(),
                tools: Vec::new(),
                effects: ToolEffects::default(),
                waiting: Vec::new(),
            });
            self.turn = Some(turn);
            self.start_round();
            return;
        }
        if let Some(reply) = self.brain.goodbye(&text) {
            self.turn = Some(turn);
            self.embedded_reply(reply);
        } else if self.appointments {
            turn.work = Work::Booking { job: self.run(Job::BookingTurn(text.clone())), text };
            self.turn = Some(turn);
        } else {
            self.embedded_answer(turn, text);
        }
    }

    /// The embedded brain answers from the knowledge bases, or says what it
    /// can do instead.
    fn embedded_answer(&mut self, mut turn: Turn, text: String) {
        if self.knowledge {
            turn.work = Work::Answer(self.run(Job::KnowledgeAnswer(text)));
            self.turn = Some(turn);
        } else {
            self.turn = Some(turn);
            let reply = self.brain.answer(Found::Nothing { topics: Vec::new() }, self.menu_offer());
            self.embedded_reply(reply);
        }
    }

    /// The booking flow answered, or left the words to the rest of the brain.
    pub(super) fn on_booking(&mut self, job: JobId, reply: Option<String>) {
        if !matches!(self.turn.as_ref().map(|t| &t.work), Some(Work::Booking { job: j, .. }) if *j == job) {
            return;
        }
        match reply {
            Some(reply) => self.embedded_reply(Reply::Say(reply)),
            None => {
                let Some(mut turn) = self.turn.take() else { return };
                if let Work::Booking { text, .. } = std::mem::replace(&mut turn.work, Work::Answer(0)) {
                    self.embedded_answer(turn, text);
                }
            }
        }
    }

    /// The embedded brain found (or did not find) its answer.
    pub(super) fn on_answer(&mut self, job: JobId, found: Found) {
        if !matches!(self.turn.as_ref().map(|t| &t.work), Some(Work::Answer(j)) if *j == job) {
            return;
        }
        let reply = self.brain.answer(found, self.menu_offer());
        self.embedded_reply(reply);
    }

    fn embedded_reply(&mut self, reply: Reply) {
        self.mark_first_token();
        self.hang_up_when_done = matches!(reply, Reply::SayAndHangUp(_));
        let (Reply::Say(text) | Reply::SayAndHangUp(text)) = reply;
        self.speak_part(&text, None);
        self.end_turn();
    }

    /// Asks the model for the next reply of the turn.
    fn start_round(&mut self) {
        let tag = self.next_tag;
        self.next_tag += 1;
        let Some(Turn { work: Work::Model(model), .. }) = &self.turn else { return };
        let Some(conversation) = &self.conversation else { return };
        let request = conversation.request(model.round < MAX_TOOL_ROUNDS);
        let job = self.run(Job::Model(request));
        if let Some(Turn { work: Work::Model(model), .. }) = &mut self.turn {
            model.tag = tag;
            model.stream = Some(job);
            model.splitter = SentenceSplitter::default();
        }
    }

    /// The model's stream of the current round, if `job` is it.
    fn streaming(&mut self, job: JobId) -> Option<&mut ModelTurn> {
        match &mut self.turn {
            Some(Turn { work: Work::Model(model), .. }) if model.stream == Some(job) => Some(model),
            _ => None,
        }
    }

    pub(super) fn on_token(&mut self, job: JobId, piece: &str) {
        let Some(model) = self.streaming(job) else { return };
        let (sentences, tag) = (model.splitter.push(piece), model.tag);
        self.mark_first_token();
        for sentence in sentences {
            self.speak_part(&sentence, Some(tag));
        }
    }

    pub(super) fn on_model_done(&mut self, job: JobId, outcome: Result<ChatOutcome, String>) {
        let Some(model) = self.streaming(job) else { return };
        model.stream = None;
        let (rest, tag) = (model.splitter.finish(), model.tag);
        self.mark_first_token();
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::warn!(call_id = self.record.id, error, "language model failed");
                self.speak_part(APOLOGY, None);
                self.end_turn();
                return;
            }
        };
        if let Some(rest) = rest {
            self.speak_part(&rest, Some(tag));
        }
        if let Some(conversation) = &mut self.conversation {
            let index = conversation.push_assistant(Some(outcome.content), outcome.tool_calls.clone());
            self.said_messages.push((tag, index));
        }
        if outcome.tool_calls.is_empty() {
            self.end_turn();
            return;
        }
        for call in outcome.tool_calls {
            self.start_tool(call);
        }
        self.after_tools();
    }

    /// The caller barged in: the reply still streaming is cut off where the
    /// caller stopped listening.
    pub(super) fn interrupt_turn(&mut self) {
        let streaming = matches!(&self.turn, Some(Turn { work: Work::Model(m), .. }) if m.stream.is_some());
        if !streaming {
            return;
        }
        if let Some(Turn { work: Work::Model(model), .. }) = self.turn.take() {
            self.drop_round(&model);
        }
    }

    /// Cancels a round's stream; what it said so far goes into the history
    /// (corrected to what was heard when the transport reports the cut).
    fn drop_round(&mut self, model: &ModelTurn) {
        let Some(job) = model.stream else { return };
        self.cancel(job);
        let said = self.speech.said(model.tag);
        if let (Some(conversation), Some(said)) = (&mut self.conversation, said) {
            let index = conversation.push_assistant(Some(said), Vec::new());
            self.said_messages.push((model.tag, index));
        }
    }

    fn start_tool(&mut self, call: ToolCall) {
        self.record.tool_call_count += 1;
        if !self.record.tools_called.contains(&call.name) {
            self.record.tools_called.push(call.name.clone());
        }
        let args = arguments(&call);
        let tool = json!({"tool_name": call.name, "tool_call_id": call.id});
        self.emit(EventType::ToolInvoked, with(&tool, "arguments", args.clone()));
        let mut run = ToolRun { call, job: None, result: None, started: self.now.elapsed };
        let offers_knowledge = self.conversation.as_ref().is_some_and(|c| c.offers_knowledge());
        let offers_appointments = self.conversation.as_ref().is_some_and(|c| c.offers_appointments());
        let mut effects = ToolEffects::default();
        let result = match run.call.name.as_str() {
            KNOWLEDGE_BASE_SEARCH if offers_knowledge => {
                run.job = Some(self.run(Job::KnowledgeSearch(args)));
                None
            }
            name if offers_appointments && appointment_tools::NAMES.contains(&name) => {
                run.job = Some(self.run(Job::Appointment { name: name.to_owned(), args }));
                None
            }
            REMEMBER if self.memory.is_some() => {
                let saved = parse_remember(&args).and_then(|remember| self.learned.remember(remember));
                Some(match saved {
                    Ok(()) => json!({"ok": true, "note": "saved for this caller's next calls when this call ends"}),
                    Err(error) => json!({"error": error}),
                })
            }
            END_CALL => {
                effects.end_call = true;
                Some(json!({"ok": true, "note": "the call ends after your reply"}))
            }
            TRANSFER_CALL => match args["destination"].as_str().and_then(E164::parse) {
                Some(destination) => {
                    effects.transfer_to = Some(destination.into_string());
                    Some(json!({"ok": true}))
                }
                None => Some(json!({"error": "destination must be a valid E.164 phone number"})),
            },
            name => {
                let timeout = self.conversation.as_ref().and_then(|c| c.server_tool(name)).map(|t| t.timeout_seconds);
                match timeout.filter(|_| self.server_url) {
                    Some(seconds) => {
                        let request = ToolCallRequest {
                            event: "tool.call".into(),
                            call_id: self.record.id.clone(),
                            agent_id: self.record.agent_id.clone().unwrap_or_default(),
                            tool_call_id: run.call.id.clone(),
                            name: name.to_owned(),
                            arguments: args,
                            timestamp: iso(self.now.epoch_ms),
                        };
                        let timeout = Duration::from_secs(seconds);
                        run.job = Some(self.run(Job::ServerTool { request, timeout }));
                        None
                    }
                    None => Some(json!({"error": format!("unknown tool {name}")})),
                }
            }
        };
        if let Some(Turn { work: Work::Model(model), .. }) = &mut self.turn {
            model.effects.end_call |= effects.end_call;
            model.effects.transfer_to = model.effects.transfer_to.take().or(effects.transfer_to);
            model.tools.push(run);
        }
        if let Some(result) = result {
            let at = self.tool_count() - 1;
            self.complete_tool(at, result.to_string());
        }
    }

    fn tool_count(&self) -> usize {
        match &self.turn {
            Some(Turn { work: Work::Model(model), .. }) => model.tools.len(),
            _ => 0,
        }
    }

    /// The tool run of the current turn that `job` belongs to.
    fn tool_of(&self, job: JobId) -> Option<usize> {
        match &self.turn {
            Some(Turn { work: Work::Model(model), .. }) => model.tools.iter().position(|t| t.job == Some(job)),
            _ => None,
        }
    }

    /// A tool has its result: reported, and kept for the model.
    fn complete_tool(&mut self, at: usize, result: String) {
        let Some(Turn { work: Work::Model(model), .. }) = &mut self.turn else { return };
        let Some(run) = model.tools.get_mut(at) else { return };
        let tool = json!({"tool_name": run.call.name, "tool_call_id": run.call.id});
        let duration_ms = self.now.elapsed.saturating_sub(run.started).as_millis() as u64;
        let shown = serde_json::from_str(&result).unwrap_or_else(|_| Value::String(result.clone()));
        run.result = Some(result);
        let mut data = with(&tool, "result", shown);
        data["duration_ms"] = json!(duration_ms);
        self.emit(EventType::ToolCompleted, data);
    }

    pub(super) fn on_tool_result(&mut self, job: JobId, result: String) {
        if let Some(at) = self.tool_of(job) {
            self.complete_tool(at, result);
            self.after_tools();
        }
    }

    pub(super) fn on_server_tool(&mut self, job: JobId, answer: Result<ToolCallResponse, ServerUrlError>) {
        let Some(at) = self.tool_of(job) else { return };
        let answer = match answer {
            Ok(answer) => answer,
            Err(ServerUrlError::Timeout(seconds)) => {
                if let Some(Turn { work: Work::Model(model), .. }) = &mut self.turn {
                    let run = &mut model.tools[at];
                    let tool = json!({"tool_name": run.call.name, "tool_call_id": run.call.id});
                    run.result = Some(json!({"error": ServerUrlError::Timeout(seconds).to_string()}).to_string());
                    self.emit(EventType::ToolTimeout, with(&tool, "timeout_seconds", json!(seconds)));
                }
                self.after_tools();
                return;
            }
            Err(err) => {
                self.complete_tool(at, json!({"error": err.to_string()}).to_string());
                self.after_tools();
                return;
            }
        };
        if let Some(memory) = &answer.memory {
            match memory.problems() {
                problems if problems.is_empty() => self.learned.absorb(memory),
                problems => {
                    tracing::info!(
                        call_id = self.record.id,
                        problems = problems.join("; "),
                        "tool.call memory ignored"
                    );
                }
            }
        }
        self.merge_metadata(answer.metadata);
        let transfer_to = answer.transfer_to.as_deref().map(E164::parse);
        let bad_transfer = matches!(transfer_to, Some(None));
        let result = match (answer.error, bad_transfer) {
            (Some(error), _) => json!({"error": error}),
            // The model must not believe a transfer is happening.
            (None, true) => json!({"error": "transfer_to must be a valid E.164 phone number", "result": answer.result}),
            (None, false) => answer.result.unwrap_or(Value::Null),
        };
        if let Some(Turn { work: Work::Model(model), .. }) = &mut self.turn {
            model.effects.end_call |= answer.end_call;
            if let Some(Some(to)) = transfer_to {
                model.effects.transfer_to.get_or_insert(to.into_string());
            }
        }
        if let Some(say) = answer.say {
            self.mark_first_token();
            self.speak_part(&say, None);
        }
        self.complete_tool(at, result.to_string());
        self.after_tools();
    }

    /// When every tool of the round has its result: the results go to the
    /// model, then the call ends, transfers, or the next round starts.
    fn after_tools(&mut self) {
        let ready = matches!(&self.turn, Some(Turn { work: Work::Model(m), .. })
            if m.stream.is_none() && m.tools.iter().all(|t| t.result.is_some()));
        if !ready {
            return;
        }
        let Some(Turn { work: Work::Model(model), .. }) = &mut self.turn else { return };
        let tools = std::mem::take(&mut model.tools);
        let effects = std::mem::take(&mut model.effects);
        let waiting = std::mem::take(&mut model.waiting);
        model.round += 1;
        let round = model.round;
        if let Some(conversation) = &mut self.conversation {
            for run in tools {
                conversation.push_tool_result(&run.call.id, run.result.unwrap_or_default());
            }
            for text in &waiting {
                conversation.push_user(text);
            }
        }
        if let Some(destination) = effects.transfer_to {
            self.end_turn();
            self.begin_transfer(destination, None);
        } else if effects.end_call {
            self.end_turn();
            if self.speech.speaking() {
                self.hang_up_when_done = true;
            } else {
                self.end_by_agent(EndedReason::AgentHangup);
            }
        } else if !waiting.is_empty() || round <= MAX_TOOL_ROUNDS {
            if !waiting.is_empty()
                && let Some(Turn { work: Work::Model(model), .. }) = &mut self.turn
            {
                model.round = 0;
            }
            self.start_round();
        } else {
            self.end_turn();
        }
    }

    /// Speaks part of the turn's answer.
    fn speak_part(&mut self, text: &str, tag: Option<Tag>) {
        let timestamp = self.timestamp();
        let Some(turn) = &mut self.turn else { return };
        turn.speech_at.get_or_insert(self.now.elapsed);
        let line = *turn.line.get_or_insert_with(|| self.speech.open_line(timestamp));
        let first = !turn.timed;
        turn.timed = true;
        let (number, heard) = (turn.number, turn.heard);
        let since = |at: Option<Duration>| at.map_or(0, |at| at.saturating_sub(heard.elapsed).as_millis() as u64);
        let (stt_ms, llm_ttfb_ms, tts_start_ms) =
            (since(Some(turn.recognised)), since(turn.token_at), since(turn.speech_at));
        let utterance = self.speak_in(line, text, tag);
        if first {
            self.probes.push(LatencyProbe { utterance, turn: number, heard, stt_ms, llm_ttfb_ms, tts_start_ms });
        }
    }

    fn mark_first_token(&mut self) {
        if let Some(turn) = &mut self.turn {
            turn.token_at.get_or_insert(self.now.elapsed);
        }
    }

    /// The turn is over: its line is complete.
    fn end_turn(&mut self) {
        if let Some(turn) = self.turn.take()
            && let Some(line) = turn.line
        {
            let reported = self.speech.close(line);
            self.report(reported.into_iter().collect());
        }
        if self.hang_up_when_done && !self.speech.speaking() {
            self.end_by_agent(EndedReason::AgentHangup);
        }
    }
}
