//! Sans-io assembly of a streamed chat completion: chunk payloads in, tokens and one outcome out.
//!
//! [`ReplyAssembler`] reads the JSON payloads of `chat.completion.chunk` events: text
//! deltas become tokens at once, tool-call fragments are joined by their `index`, and the
//! last `finish_reason` is kept. [`ChatStreamParser`] puts the [`SseDecoder`] in front of
//! it, so the HTTP layer only moves bytes.

use std::collections::BTreeMap;

use super::error::excerpt;
use super::sse::SseDecoder;
use super::wire::{self, Chunk, ToolCallDelta};
use super::{ChatOutcome, LlmError, StreamEvent, ToolCall};

/// The payload that ends an OpenAI-style stream.
const DONE: &str = "[DONE]";

/// A tool call whose fragments are still arriving.
#[derive(Debug, Default)]
struct PartialToolCall {
    id: String,
    name: String,
    arguments: String,
}

/// Collects a reply from chunk payloads.
#[derive(Debug, Default)]
pub struct ReplyAssembler {
    content: String,
    tool_calls: BTreeMap<usize, PartialToolCall>,
    finish_reason: Option<String>,
    chunks: usize,
    done: bool,
}

impl ReplyAssembler {
    /// An assembler that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the `[DONE]` sentinel has arrived; later payloads are ignored.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Reads one event payload and returns the text tokens it carried, in order.
    pub fn push(&mut self, payload: &str) -> Result<Vec<String>, LlmError> {
        let mut tokens = Vec::new();
        self.push_into(payload, &mut tokens)?;
        Ok(tokens)
    }

    fn push_into(&mut self, payload: &str, tokens: &mut Vec<String>) -> Result<(), LlmError> {
        if self.done {
            return Ok(());
        }
        if payload.trim() == DONE {
            self.done = true;
            return Ok(());
        }
        match serde_json::from_str::<Chunk>(payload) {
            Ok(chunk) => self.apply(chunk, tokens),
            // Some servers forget the blank line between events, which glues several
            // `data:` lines into one payload; read them one by one in that case (a
            // single line has no newline left, so this recurses once at most).
            Err(_) if payload.contains('\n') => {
                payload.lines().filter(|line| !line.trim().is_empty()).try_for_each(|line| self.push_into(line, tokens))
            }
            Err(error) => Err(LlmError::Protocol(format!("malformed chunk: {error}"))),
        }
    }

    fn apply(&mut self, chunk: Chunk, tokens: &mut Vec<String>) -> Result<(), LlmError> {
        if let Some(error) = chunk.error {
            let message = excerpt(&wire::error_object_message(&error));
            return Err(LlmError::Protocol(format!("provider error in stream: {message}")));
        }
        self.chunks += 1;
        let Some(choice) = chunk.choices.into_iter().next() else {
            return Ok(()); // a usage-only chunk
        };
        if let Some(reason) = choice.finish_reason {
            self.finish_reason = Some(reason);
        }
        let Some(delta) = choice.delta else { return Ok(()) };
        if let Some(text) = delta.content.filter(|text| !text.is_empty()) {
            self.content.push_str(&text);
            tokens.push(text);
        }
        for (position, fragment) in delta.tool_calls.unwrap_or_default().into_iter().enumerate() {
            self.apply_tool_fragment(position, fragment);
        }
        Ok(())
    }

    /// Joins a fragment onto its call. The id is taken once (some servers repeat it);
    /// name and argument pieces are appended, as the OpenAI SDKs do.
    fn apply_tool_fragment(&mut self, position: usize, fragment: ToolCallDelta) {
        let call = self.tool_calls.entry(fragment.index.unwrap_or(position)).or_default();
        if let Some(id) = fragment.id.filter(|id| !id.is_empty())
            && call.id.is_empty()
        {
            call.id = id;
        }
        if let Some(function) = fragment.function {
            call.name.push_str(function.name.as_deref().unwrap_or_default());
            call.arguments.push_str(function.arguments.as_deref().unwrap_or_default());
        }
    }

    /// The reply so far, taken out of the assembler. Fails when not a single chunk arrived,
    /// or when a tool call never got a name.
    pub fn take_outcome(&mut self) -> Result<ChatOutcome, LlmError> {
        if self.chunks == 0 {
            return Err(LlmError::Protocol("the stream carried no completion chunk".into()));
        }
        let tool_calls = std::mem::take(&mut self.tool_calls)
            .into_iter()
            .map(|(index, call)| finish_tool_call(index, call))
            .collect::<Result<_, _>>()?;
        Ok(ChatOutcome {
            content: std::mem::take(&mut self.content),
            tool_calls,
            finish_reason: self.finish_reason.take(),
        })
    }
}

fn finish_tool_call(index: usize, call: PartialToolCall) -> Result<ToolCall, LlmError> {
    if call.name.is_empty() {
        return Err(LlmError::Protocol(format!("tool call {index} has no function name")));
    }
    let id = if call.id.is_empty() { format!("call_{index}") } else { call.id };
    Ok(ToolCall { id, name: call.name, arguments: call.arguments })
}

/// The whole sans-io pipeline from response bytes to [`StreamEvent`]s.
#[derive(Debug, Default)]
pub struct ChatStreamParser {
    sse: SseDecoder,
    reply: ReplyAssembler,
    finished: bool,
}

impl ChatStreamParser {
    /// A parser at the start of a response body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the `Finished` event has been produced; the caller can stop reading then.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Consumes the next piece of the body. Returns the tokens it completed and, once
    /// `[DONE]` is seen, the `Finished` event; everything after that is ignored.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<StreamEvent>, LlmError> {
        if self.finished {
            return Ok(Vec::new());
        }
        let payloads = self.sse.feed(bytes)?;
        self.read_payloads(payloads)
    }

    /// Ends the body. A stream cut off before `[DONE]` still finishes with what it
    /// carried; a body without any chunk is a protocol error.
    pub fn finish(&mut self) -> Result<Vec<StreamEvent>, LlmError> {
        if self.finished {
            return Ok(Vec::new());
        }
        let payloads = self.sse.finish()?;
        let mut events = self.read_payloads(payloads)?;
        if !self.finished {
            events.push(self.finish_event()?);
        }
        Ok(events)
    }

    fn read_payloads(&mut self, payloads: Vec<String>) -> Result<Vec<StreamEvent>, LlmError> {
        let mut events = Vec::new();
        for payload in payloads {
            events.extend(self.reply.push(&payload)?.into_iter().map(StreamEvent::Token));
            if self.reply.is_done() {
                events.push(self.finish_event()?);
                break;
            }
        }
        Ok(events)
    }

    fn finish_event(&mut self) -> Result<StreamEvent, LlmError> {
        self.finished = true;
        Ok(StreamEvent::Finished(self.reply.take_outcome()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recorded-style stream: role chunk, text with a multi-byte character, a keep-alive
    /// comment, two tool calls with arguments in fragments, a usage chunk, CRLF endings.
    const RECORDED: &str = concat!(
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,",
        "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\r\n\r\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Caf\u{e9} \"},\"finish_reason\":null}]}\r\n\r\n",
        ": keep-alive\r\n\r\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ouvert \u{1f4de}\"},\"finish_reason\":null}]}\r\n\r\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",",
        "\"type\":\"function\",\"function\":{\"name\":\"book\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\r\n\r\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,",
        "\"function\":{\"arguments\":\"{\\\"day\\\":\"}}]},\"finish_reason\":null}]}\r\n\r\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",",
        "\"type\":\"function\",\"function\":{\"name\":\"end_call\",\"arguments\":\"{}\"}}]},\"finish_reason\":null}]}\r\n\r\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,",
        "\"function\":{\"arguments\":\"\\\"mardi\\\"}\"}}]},\"finish_reason\":null}]}\r\n\r\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\r\n\r\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":12}}\r\n\r\n",
        "data: [DONE]\r\n\r\n",
    );

    fn expected_outcome() -> ChatOutcome {
        ChatOutcome {
            content: "Caf\u{e9} ouvert \u{1f4de}".into(),
            tool_calls: vec![
                ToolCall { id: "call_a".into(), name: "book".into(), arguments: "{\"day\":\"mardi\"}".into() },
                ToolCall { id: "call_b".into(), name: "end_call".into(), arguments: "{}".into() },
            ],
            finish_reason: Some("tool_calls".into()),
        }
    }

    fn parse_pieces(pieces: &[&[u8]]) -> Result<Vec<StreamEvent>, LlmError> {
        let mut parser = ChatStreamParser::new();
        let mut events = Vec::new();
        for piece in pieces {
            events.extend(parser.feed(piece)?);
        }
        events.extend(parser.finish()?);
        Ok(events)
    }

    fn text_of(events: &[StreamEvent]) -> String {
        events
            .iter()
            .filter_map(|event| match event {
                StreamEvent::Token(text) => Some(text.as_str()),
                StreamEvent::Finished(_) => None,
            })
            .collect()
    }

    fn assert_recorded_result(events: &[StreamEvent]) {
        let Some((StreamEvent::Finished(outcome), tokens)) = events.split_last() else {
            panic!("no Finished event last: {events:?}");
        };
        assert!(tokens.iter().all(|event| matches!(event, StreamEvent::Token(_))));
        assert_eq!(text_of(tokens), "Caf\u{e9} ouvert \u{1f4de}");
        assert_eq!(*outcome, expected_outcome());
    }

    #[test]
    fn parses_a_recorded_stream_fed_whole() {
        let events = parse_pieces(&[RECORDED.as_bytes()]).unwrap();
        assert_eq!(events[0], StreamEvent::Token("Caf\u{e9} ".into()));
        assert_eq!(events[1], StreamEvent::Token("ouvert \u{1f4de}".into()));
        assert_recorded_result(&events);
    }

    #[test]
    fn parses_a_recorded_stream_split_at_every_byte_position() {
        let bytes = RECORDED.as_bytes();
        for split in 0..=bytes.len() {
            let (head, tail) = bytes.split_at(split);
            let events = parse_pieces(&[head, tail]).unwrap();
            assert_recorded_result(&events);
        }
    }

    #[test]
    fn parses_a_recorded_stream_fed_one_byte_at_a_time() {
        let pieces: Vec<&[u8]> = RECORDED.as_bytes().chunks(1).collect();
        assert_recorded_result(&parse_pieces(&pieces).unwrap());
    }

    #[test]
    fn parses_a_recorded_stream_with_lf_endings_in_three_piece_splits() {
        let text = RECORDED.replace("\r\n", "\n");
        let bytes = text.as_bytes();
        for first in (0..bytes.len()).step_by(7) {
            for second in (first..bytes.len()).step_by(13) {
                let events = parse_pieces(&[&bytes[..first], &bytes[first..second], &bytes[second..]]).unwrap();
                assert_recorded_result(&events);
            }
        }
    }

    #[test]
    fn finished_is_produced_at_done_and_later_bytes_are_ignored() {
        let mut parser = ChatStreamParser::new();
        let events =
            parser.feed(b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n").unwrap();
        assert!(matches!(events.last(), Some(StreamEvent::Finished(_))));
        assert!(parser.is_finished());
        assert!(parser.feed(b"data: not json\n\n").unwrap().is_empty());
        assert!(parser.finish().unwrap().is_empty());
    }

    #[test]
    fn a_stream_cut_off_before_done_still_finishes() {
        let events = parse_pieces(&[b"data: {\"choices\":[{\"delta\":{\"content\":\"half\"}}]}\n\n"]).unwrap();
        assert_eq!(
            events,
            [
                StreamEvent::Token("half".into()),
                StreamEvent::Finished(ChatOutcome { content: "half".into(), ..ChatOutcome::default() }),
            ]
        );
    }

    #[test]
    fn an_empty_stream_is_a_protocol_error() {
        assert!(matches!(parse_pieces(&[b""]), Err(LlmError::Protocol(_))));
        assert!(matches!(parse_pieces(&[b": keep-alive\n\n"]), Err(LlmError::Protocol(_))));
        assert!(matches!(parse_pieces(&[b"data: [DONE]\n\n"]), Err(LlmError::Protocol(_))));
    }

    #[test]
    fn malformed_json_is_a_protocol_error() {
        assert!(matches!(parse_pieces(&[b"data: {\"choices\": [\n\n"]), Err(LlmError::Protocol(_))));
    }

    #[test]
    fn an_error_object_in_the_stream_is_a_protocol_error() {
        let result = parse_pieces(&[b"data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n"]);
        let Err(LlmError::Protocol(message)) = result else { panic!("{result:?}") };
        assert!(message.contains("overloaded"));
    }

    #[test]
    fn events_glued_without_blank_lines_are_read_one_by_one() {
        let glued = b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\ndata: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\ndata: [DONE]\n\n";
        let events = parse_pieces(&[glued]).unwrap();
        assert_eq!(text_of(&events), "ab");
        assert!(matches!(events.last(), Some(StreamEvent::Finished(outcome)) if outcome.content == "ab"));
    }

    #[test]
    fn tool_calls_without_index_or_id_get_positions_and_ids() {
        let stream = b"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"name\":\"a\",\"arguments\":\"{}\"}},{\"function\":{\"name\":\"b\",\"arguments\":\"{}\"}}]}}]}\n\n";
        let events = parse_pieces(&[stream]).unwrap();
        let Some(StreamEvent::Finished(outcome)) = events.last() else { panic!("{events:?}") };
        let ids: Vec<_> = outcome.tool_calls.iter().map(|call| (call.id.as_str(), call.name.as_str())).collect();
        assert_eq!(ids, [("call_0", "a"), ("call_1", "b")]);
    }

    #[test]
    fn a_tool_call_without_a_name_is_a_protocol_error() {
        let stream = b"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{}\"}}]}}]}\n\n";
        assert!(matches!(parse_pieces(&[stream]), Err(LlmError::Protocol(_))));
    }
}
