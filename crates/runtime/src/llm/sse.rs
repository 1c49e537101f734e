//! A sans-io server-sent-events decoder: raw response bytes in, event `data` payloads out.
//!
//! Follows the WHATWG event-stream rules that matter for chat completions: lines end in
//! LF, CRLF or a lone CR; lines starting with `:` are comments (keep-alives); `data:`
//! lines accumulate (joined by `\n`) until a blank line dispatches the event; other
//! fields (`event`, `id`, `retry`) are ignored. Bytes may be fed in any split, including
//! in the middle of a line ending or of a UTF-8 character: only whole lines are decoded.

use super::LlmError;

/// The longest line, and the largest event payload, the decoder buffers before giving up;
/// a bound so a misbehaving server cannot make a call task grow without limit.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// Turns an event stream, fed in arbitrary pieces, into the `data` payloads of its events.
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes of the line not yet terminated.
    line: Vec<u8>,
    /// The previous byte was a CR, so an LF right after it ends nothing more.
    after_cr: bool,
    /// The `data` lines of the event being built, already joined with `\n`.
    data: Option<String>,
}

impl SseDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Consumes the next piece of the stream and returns the payloads of the events it completed.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<Vec<String>, LlmError> {
        let mut events = Vec::new();
        while !bytes.is_empty() {
            if self.after_cr && bytes[0] == b'\n' {
                bytes = &bytes[1..];
            }
            self.after_cr = false;
            match bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(end) => {
                    self.append(&bytes[..end])?;
                    self.after_cr = bytes[end] == b'\r';
                    bytes = &bytes[end + 1..];
                    self.end_line(&mut events)?;
                }
                None => {
                    self.append(bytes)?;
                    bytes = &[];
                }
            }
        }
        Ok(events)
    }

    /// Ends the stream: an unterminated last line and an event without its closing blank
    /// line still count, because a provider that just closes the connection meant them.
    pub fn finish(&mut self) -> Result<Vec<String>, LlmError> {
        let mut events = Vec::new();
        if !self.line.is_empty() {
            self.end_line(&mut events)?;
        }
        events.extend(self.data.take());
        Ok(events)
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), LlmError> {
        if self.line.len() + bytes.len() > MAX_EVENT_BYTES {
            return Err(LlmError::Protocol("event-stream line too long".into()));
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn end_line(&mut self, events: &mut Vec<String>) -> Result<(), LlmError> {
        let line = std::mem::take(&mut self.line);
        let line = String::from_utf8_lossy(&line);
        if line.is_empty() {
            events.extend(self.data.take());
            return Ok(());
        }
        if let Some(value) = data_value(&line) {
            self.push_data(value)?;
        }
        Ok(())
    }

    fn push_data(&mut self, value: &str) -> Result<(), LlmError> {
        let data = match &mut self.data {
            Some(data) => {
                data.push('\n');
                data
            }
            None => self.data.insert(String::new()),
        };
        if data.len() + value.len() > MAX_EVENT_BYTES {
            return Err(LlmError::Protocol("event-stream event too large".into()));
        }
        data.push_str(value);
        Ok(())
    }
}

/// The value of a `data` field line, or `None` for comments and other fields.
fn data_value(line: &str) -> Option<&str> {
    if line.starts_with(':') {
        return None;
    }
    let (field, value) = line.split_once(':').unwrap_or((line, ""));
    if field != "data" {
        return None;
    }
    Some(value.strip_prefix(' ').unwrap_or(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(pieces: &[&[u8]]) -> Vec<String> {
        let mut decoder = SseDecoder::new();
        let mut events = Vec::new();
        for piece in pieces {
            events.extend(decoder.feed(piece).unwrap());
        }
        events.extend(decoder.finish().unwrap());
        events
    }

    #[test]
    fn splits_events_on_blank_lines() {
        let events = decode_all(&[b"data: one\n\ndata: two\n\n"]);
        assert_eq!(events, ["one", "two"]);
    }

    #[test]
    fn accepts_crlf_and_lone_cr_line_endings() {
        assert_eq!(decode_all(&[b"data: a\r\n\r\ndata: b\r\rdata: c\n\n"]), ["a", "b", "c"]);
    }

    #[test]
    fn crlf_split_between_cr_and_lf_is_one_line_ending() {
        assert_eq!(decode_all(&[b"data: a\r", b"\n", b"\r", b"\ndata: b\r\n\r\n"]), ["a", "b"]);
    }

    #[test]
    fn skips_comments_and_other_fields() {
        let events = decode_all(&[b": keep-alive\n\nevent: message\nid: 7\nretry: 10\ndata: x\n\n"]);
        assert_eq!(events, ["x"]);
    }

    #[test]
    fn joins_multiple_data_lines_with_newlines() {
        assert_eq!(decode_all(&[b"data: a\ndata:b\ndata\n\n"]), ["a\nb\n"]);
        assert_eq!(decode_all(&[b"data:\ndata: x\n\n"]), ["\nx"]);
    }

    #[test]
    fn only_one_space_after_the_colon_is_removed() {
        assert_eq!(decode_all(&[b"data:  two spaces\n\n"]), [" two spaces"]);
    }

    #[test]
    fn blank_lines_without_data_dispatch_nothing() {
        assert!(decode_all(&[b"\n\n: ping\n\n\r\n"]).is_empty());
    }

    #[test]
    fn an_unterminated_last_event_still_counts() {
        assert_eq!(decode_all(&[b"data: last"]), ["last"]);
    }

    #[test]
    fn a_character_split_across_pieces_is_decoded_whole() {
        let bytes = "data: caf\u{e9} \u{1f4de}\n\n".as_bytes();
        for split in 0..bytes.len() {
            let (head, tail) = bytes.split_at(split);
            assert_eq!(decode_all(&[head, tail]), ["caf\u{e9} \u{1f4de}"], "split at {split}");
        }
    }

    #[test]
    fn refuses_an_endless_line() {
        let mut decoder = SseDecoder::new();
        let big = vec![b'a'; MAX_EVENT_BYTES + 1];
        assert!(matches!(decoder.feed(&big), Err(LlmError::Protocol(_))));
    }
}
