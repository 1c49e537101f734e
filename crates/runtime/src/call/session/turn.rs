//! One turn of the language-model brain: stream the reply and speak it sentence
//! by sentence, run the tools it calls (server_url tools through `tool.call`,
//! the built-ins `end_call`, `transfer_call`, `knowledge_base_search` and
//! `remember`), and go on until it answers in words.

use serde_json::{Value, json};
use switchboard_domain::call::EndedReason;
use switchboard_domain::server_url::ToolCallRequest;
use switchboard_domain::validation::is_e164;
use tokio::time::Instant;

use super::{Session, TurnTiming};
use crate::call::llm_brain::{
    END_CALL, LLM_TIMEOUT, LlmBrain, MAX_TOOL_ROUNDS, REMEMBER, SentenceSplitter, TRANSFER_CALL, arguments,
};
use crate::knowledge::retrieval::KNOWLEDGE_BASE_SEARCH;
use crate::llm::{StreamEvent, ToolCall};
use crate::server_url::ServerUrlError;
use switchboard_domain::events::EventType;
use switchboard_domain::memory::learned::parse_remember;

/// `base` with one more field.
fn with(base: &Value, key: &str, value: Value) -> Value {
    let mut out = base.clone();
    out[key] = value;
    out
}

/// Said when the model cannot be reached or fails mid-turn.
const APOLOGY: &str = "I'm sorry, I'm having trouble answering right now. Could you say that again?";

/// What running one tool decided beyond its result.
#[derive(Default)]
struct ToolEffects {
    say: Option<String>,
    end_call: bool,
    transfer_to: Option<String>,
}

/// Timing of a turn's first events, in wall ms from the final transcript, and
/// what the platform added (µs).
struct Firsts {
    started: Instant,
    token_ms: Option<u64>,
    speech_ms: Option<u64>,
    request_us: Option<u64>,
    last_token_to_say_us: Option<u64>,
}

impl Firsts {
    fn mark(at: &mut Option<u64>, started: Instant) {
        at.get_or_insert(started.elapsed().as_millis() as u64);
    }
}

impl Session {
    /// Runs one caller turn through the model.
    pub(super) async fn llm_turn(&mut self, utterance: &str, started: Instant) {
        // The brain is taken out for the turn and put back at its end.
        let Some(mut llm) = self.llm.take() else { return };
        llm.push_user(utterance);
        let mut firsts =
            Firsts { started, token_ms: None, speech_ms: None, request_us: None, last_token_to_say_us: None };
        let mut spoken: Vec<String> = Vec::new();
        let mut effects = ToolEffects::default();
        for round in 0..=MAX_TOOL_ROUNDS {
            let Some(calls) = self.stream_reply(&mut llm, round < MAX_TOOL_ROUNDS, &mut firsts, &mut spoken).await
            else {
                break;
            };
            if calls.is_empty() {
                break;
            }
            for call in calls {
                let (result, more) = self.run_tool(&llm, &call).await;
                llm.push_tool_result(&call.id, result);
                if let Some(say) = more.say {
                    Firsts::mark(&mut firsts.speech_ms, firsts.started);
                    spoken.push(say.clone());
                    self.speak(say).await;
                }
                effects.end_call |= more.end_call;
                effects.transfer_to = effects.transfer_to.or(more.transfer_to);
            }
            if effects.end_call || effects.transfer_to.is_some() {
                break;
            }
        }
        self.llm = Some(llm);
        if !spoken.is_empty() {
            self.record_utterance("assistant", &spoken.join(" "));
            self.pending_turn = Some(TurnTiming {
                number: self.turn_count,
                started,
                ts: self.store.clock().now_ms(),
                llm_ttfb_ms: firsts.token_ms.unwrap_or(0),
                tts_start_ms: firsts.speech_ms.unwrap_or(0),
                platform_us: firsts.request_us.zip(firsts.last_token_to_say_us),
            });
        }
        if let Some(destination) = effects.transfer_to {
            self.begin_transfer(destination, None).await;
        } else if effects.end_call {
            if self.speaking {
                self.hang_up_when_done = true;
            } else {
                self.end_by_agent(EndedReason::AgentHangup).await;
            }
        }
    }

    /// Streams one reply, speaking its sentences as they complete. Returns the
    /// tool calls it asked for, or `None` when the model failed (the caller
    /// has then heard an apology).
    async fn stream_reply(
        &mut self,
        llm: &mut LlmBrain,
        offer_tools: bool,
        firsts: &mut Firsts,
        spoken: &mut Vec<String>,
    ) -> Option<Vec<ToolCall>> {
        let request = llm.request(offer_tools);
        firsts.request_us.get_or_insert(firsts.started.elapsed().as_micros() as u64);
        let mut events = match llm.client.stream(&llm.endpoint, request, LLM_TIMEOUT).await {
            Ok(events) => events,
            Err(err) => {
                tracing::warn!(call_id = self.spec.call_id, error = %err, "language model unavailable");
                self.apologise(firsts, spoken).await;
                return None;
            }
        };
        let mut splitter = SentenceSplitter::default();
        while let Some(event) = events.recv().await {
            match event {
                Ok(StreamEvent::Token(piece)) => {
                    Firsts::mark(&mut firsts.token_ms, firsts.started);
                    for sentence in splitter.push(&piece) {
                        self.speak_part(sentence, firsts, spoken).await;
                    }
                }
                Ok(StreamEvent::Finished(outcome)) => {
                    let last_token = Instant::now();
                    Firsts::mark(&mut firsts.token_ms, firsts.started);
                    if let Some(rest) = splitter.finish() {
                        self.speak_part(rest, firsts, spoken).await;
                        firsts.last_token_to_say_us = Some(last_token.elapsed().as_micros() as u64);
                    }
                    llm.push_assistant(Some(outcome.content), outcome.tool_calls.clone());
                    return Some(outcome.tool_calls);
                }
                Err(err) => {
                    tracing::warn!(call_id = self.spec.call_id, error = %err, "language model failed mid-reply");
                    break;
                }
            }
        }
        self.apologise(firsts, spoken).await;
        None
    }

    async fn speak_part(&mut self, text: String, firsts: &mut Firsts, spoken: &mut Vec<String>) {
        Firsts::mark(&mut firsts.speech_ms, firsts.started);
        spoken.push(text.clone());
        self.speak(text).await;
    }

    async fn apologise(&mut self, firsts: &mut Firsts, spoken: &mut Vec<String>) {
        self.speak_part(APOLOGY.to_owned(), firsts, spoken).await;
    }

    /// Runs one tool call; returns the result given to the model and what the
    /// tool asks of the call.
    async fn run_tool(&mut self, llm: &LlmBrain, call: &ToolCall) -> (String, ToolEffects) {
        self.tool_call_count += 1;
        if !self.tools_called.contains(&call.name) {
            self.tools_called.push(call.name.clone());
        }
        let args = arguments(call);
        let tool = json!({"tool_name": call.name, "tool_call_id": call.id});
        self.events.emit(EventType::ToolInvoked, with(&tool, "arguments", args.clone()));
        let started = Instant::now();
        let (result, effects) = self.run_tool_inner(llm, call, args).await;
        let timed_out = result.as_ref().err().copied();
        let result = result.unwrap_or_else(|s| json!({"error": ServerUrlError::Timeout(s).to_string()}).to_string());
        match timed_out {
            Some(timeout_seconds) => {
                self.events.emit(EventType::ToolTimeout, with(&tool, "timeout_seconds", json!(timeout_seconds)));
            }
            None => {
                let shown = serde_json::from_str(&result).unwrap_or_else(|_| Value::String(result.clone()));
                let mut data = with(&tool, "result", shown);
                data["duration_ms"] = json!(started.elapsed().as_millis() as u64);
                self.events.emit(EventType::ToolCompleted, data);
            }
        }
        (result, effects)
    }

    /// The tool itself: its result for the model (or, `Err`, the seconds after
    /// which a server_url tool timed out) and what it asks of the call.
    async fn run_tool_inner(
        &mut self,
        llm: &LlmBrain,
        call: &ToolCall,
        args: Value,
    ) -> (Result<String, u64>, ToolEffects) {
        let (result, effects) = match call.name.as_str() {
            KNOWLEDGE_BASE_SEARCH if llm.knowledge().is_some() => {
                (llm.search_knowledge(&args).await, ToolEffects::default())
            }
            REMEMBER if self.spec.memory.is_some() => {
                let saved = parse_remember(&args).and_then(|remember| self.learned.remember(remember));
                let result = match saved {
                    Ok(()) => json!({"ok": true, "note": "saved for this caller's next calls when this call ends"}),
                    Err(error) => json!({"error": error}),
                };
                (result.to_string(), ToolEffects::default())
            }
            END_CALL => (
                json!({"ok": true, "note": "the call ends after your reply"}).to_string(),
                ToolEffects { end_call: true, ..ToolEffects::default() },
            ),
            TRANSFER_CALL => match args["destination"].as_str().filter(|d| is_e164(d)) {
                Some(destination) => (
                    json!({"ok": true}).to_string(),
                    ToolEffects { transfer_to: Some(destination.to_owned()), ..ToolEffects::default() },
                ),
                None => (
                    json!({"error": "destination must be a valid E.164 phone number"}).to_string(),
                    ToolEffects::default(),
                ),
            },
            name => {
                let timeout = llm.server_tool(name).map(|t| t.timeout_seconds);
                return self.server_tool(call, timeout, args).await;
            }
        };
        (Ok(result), effects)
    }

    /// Runs a tool of the server_url through `tool.call`; errors reach the
    /// model as the tool's error, a timeout as `Err(seconds)`.
    async fn server_tool(
        &mut self,
        call: &ToolCall,
        timeout: Option<u64>,
        args: Value,
    ) -> (Result<String, u64>, ToolEffects) {
        let name = call.name.as_str();
        let (Some(server), Some(timeout)) = (self.server.clone(), timeout) else {
            return (Ok(json!({"error": format!("unknown tool {name}")}).to_string()), ToolEffects::default());
        };
        let request = ToolCallRequest {
            event: "tool.call".into(),
            call_id: self.spec.call_id.clone(),
            agent_id: self.spec.agent_id.clone(),
            tool_call_id: call.id.clone(),
            name: name.to_owned(),
            arguments: args,
            timestamp: switchboard_domain::time::iso(self.store.clock().now_ms()),
        };
        match server.tool_call(&request, std::time::Duration::from_secs(timeout)).await {
            Ok(answer) => {
                if let Some(memory) = &answer.memory {
                    match memory.problems() {
                        problems if problems.is_empty() => self.learned.absorb(memory),
                        problems => tracing::info!(
                            call_id = self.spec.call_id,
                            problems = problems.join("; "),
                            "tool.call memory ignored"
                        ),
                    }
                }
                if let (Some(Value::Object(extra)), Value::Object(metadata)) =
                    (answer.metadata, &mut self.spec.metadata)
                {
                    metadata.extend(extra);
                }
                let bad_transfer = answer.transfer_to.as_deref().is_some_and(|d| !is_e164(d));
                let result = match (answer.error, bad_transfer) {
                    (Some(error), _) => json!({"error": error}),
                    // The model must not believe a transfer is happening.
                    (None, true) => {
                        json!({"error": "transfer_to must be a valid E.164 phone number", "result": answer.result})
                    }
                    (None, false) => answer.result.unwrap_or(Value::Null),
                };
                let transfer_to = answer.transfer_to.filter(|d| is_e164(d));
                (Ok(result.to_string()), ToolEffects { say: answer.say, end_call: answer.end_call, transfer_to })
            }
            Err(ServerUrlError::Timeout(seconds)) => (Err(seconds), ToolEffects::default()),
            Err(err) => (Ok(json!({"error": err.to_string()}).to_string()), ToolEffects::default()),
        }
    }
}
