//! Twilio's bidirectional Media Streams protocol as JSON text messages, sans-io: what
//! Twilio sends (`connected`, `start`, `media`, `dtmf`, `mark`, `stop`) parsed into
//! [`StreamIn`], and what we send (`media`, `mark`, `clear`) written from [`StreamOut`].
//! Audio is base64 of 8 kHz μ-law.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::json;

/// A message from Twilio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamIn {
    /// The WebSocket is up; `start` follows.
    Connected,
    /// The stream's metadata, once.
    Start(StreamStart),
    /// Caller audio (the inbound track), μ-law bytes.
    Media(Vec<u8>),
    /// A keypad key.
    Dtmf(char),
    /// A mark we sent has played.
    Mark(String),
    /// The stream ended (the caller hung up or the call moved on).
    Stop,
}

/// The `start` message's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamStart {
    pub stream_sid: String,
    pub account_sid: String,
    pub call_sid: String,
    /// The `<Parameter>`s of the TwiML.
    pub custom_parameters: BTreeMap<String, String>,
    /// `audio/x-mulaw` for phone calls.
    pub encoding: String,
    pub sample_rate: u32,
}

/// A message to Twilio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamOut {
    /// Agent audio to play, μ-law bytes.
    Media(Vec<u8>),
    /// Echo this name back once everything sent before it has played.
    Mark(String),
    /// Drop the audio buffered and not yet played.
    Clear,
}

/// Why a message was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("not a Media Streams message: {0}")]
    Malformed(String),
    /// A message this side does not act on (a new event type, the outbound track).
    #[error("ignored `{0}` message")]
    Ignored(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    event: String,
    start: Option<RawStart>,
    media: Option<RawMedia>,
    dtmf: Option<RawDtmf>,
    mark: Option<RawMark>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStart {
    stream_sid: String,
    #[serde(default)]
    account_sid: String,
    #[serde(default)]
    call_sid: String,
    #[serde(default)]
    custom_parameters: BTreeMap<String, String>,
    media_format: Option<RawFormat>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFormat {
    encoding: String,
    sample_rate: u32,
}

#[derive(Deserialize)]
struct RawMedia {
    track: Option<String>,
    payload: String,
}

#[derive(Deserialize)]
struct RawDtmf {
    digit: String,
}

#[derive(Deserialize)]
struct RawMark {
    name: String,
}

/// Parses one text message from Twilio.
pub fn parse(text: &str) -> Result<StreamIn, CodecError> {
    let raw: Raw = serde_json::from_str(text).map_err(|err| CodecError::Malformed(err.to_string()))?;
    let missing = |field: &str| CodecError::Malformed(format!("`{}` without `{field}`", raw.event));
    match raw.event.as_str() {
        "connected" => Ok(StreamIn::Connected),
        "start" => {
            let start = raw.start.ok_or_else(|| missing("start"))?;
            let (encoding, sample_rate) =
                start.media_format.map_or((String::from("audio/x-mulaw"), 8_000), |f| (f.encoding, f.sample_rate));
            Ok(StreamIn::Start(StreamStart {
                stream_sid: start.stream_sid,
                account_sid: start.account_sid,
                call_sid: start.call_sid,
                custom_parameters: start.custom_parameters,
                encoding,
                sample_rate,
            }))
        }
        "media" => {
            let media = raw.media.ok_or_else(|| missing("media"))?;
            if media.track.as_deref().is_some_and(|track| track != "inbound") {
                return Err(CodecError::Ignored("media of the outbound track".into()));
            }
            let audio = STANDARD.decode(media.payload).map_err(|err| CodecError::Malformed(err.to_string()))?;
            Ok(StreamIn::Media(audio))
        }
        "dtmf" => {
            let dtmf = raw.dtmf.ok_or_else(|| missing("dtmf"))?;
            let mut chars = dtmf.digit.chars();
            match (chars.next(), chars.next()) {
                (Some(digit), None) => Ok(StreamIn::Dtmf(digit)),
                _ => Err(CodecError::Malformed(format!("dtmf digit `{}`", dtmf.digit))),
            }
        }
        "mark" => Ok(StreamIn::Mark(raw.mark.ok_or_else(|| missing("mark"))?.name)),
        "stop" => Ok(StreamIn::Stop),
        other => Err(CodecError::Ignored(other.to_owned())),
    }
}

/// Writes one message for the stream `stream_sid`.
pub fn encode(stream_sid: &str, message: &StreamOut) -> String {
    let value = match message {
        StreamOut::Media(audio) => {
            json!({"event": "media", "streamSid": stream_sid, "media": {"payload": STANDARD.encode(audio)}})
        }
        StreamOut::Mark(name) => json!({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}}),
        StreamOut::Clear => json!({"event": "clear", "streamSid": stream_sid}),
    };
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_twilios_messages() {
        assert_eq!(parse(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#), Ok(StreamIn::Connected));
        let start = r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","streamSid":"MZ1",
            "callSid":"CA1","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1},
            "customParameters":{"token":"abc"}},"streamSid":"MZ1"}"#;
        let Ok(StreamIn::Start(start)) = parse(start) else { panic!("start") };
        assert_eq!(
            (start.stream_sid.as_str(), start.call_sid.as_str(), start.account_sid.as_str()),
            ("MZ1", "CA1", "AC1")
        );
        assert_eq!(start.custom_parameters.get("token").map(String::as_str), Some("abc"));
        assert_eq!((start.encoding.as_str(), start.sample_rate), ("audio/x-mulaw", 8000));
        let media = r#"{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"1",
            "timestamp":"5","payload":"/38A"},"streamSid":"MZ1"}"#;
        assert_eq!(parse(media), Ok(StreamIn::Media(vec![0xFF, 0x7F, 0x00])));
        let dtmf =
            r#"{"event":"dtmf","streamSid":"MZ1","sequenceNumber":"5","dtmf":{"track":"inbound_track","digit":"1"}}"#;
        assert_eq!(parse(dtmf), Ok(StreamIn::Dtmf('1')));
        let mark = r#"{"event":"mark","sequenceNumber":"4","streamSid":"MZ1","mark":{"name":"u1"}}"#;
        assert_eq!(parse(mark), Ok(StreamIn::Mark("u1".into())));
        let stop =
            r#"{"event":"stop","sequenceNumber":"5","streamSid":"MZ1","stop":{"accountSid":"AC1","callSid":"CA1"}}"#;
        assert_eq!(parse(stop), Ok(StreamIn::Stop));
    }

    #[test]
    fn refuses_or_ignores_what_it_cannot_use() {
        assert!(matches!(parse("not json"), Err(CodecError::Malformed(_))));
        assert!(matches!(parse(r#"{"event":"media"}"#), Err(CodecError::Malformed(_))));
        assert!(matches!(parse(r#"{"event":"media","media":{"payload":"%%%"}}"#), Err(CodecError::Malformed(_))));
        assert!(matches!(parse(r#"{"event":"dtmf","dtmf":{"digit":"12"}}"#), Err(CodecError::Malformed(_))));
        assert_eq!(parse(r#"{"event":"future"}"#), Err(CodecError::Ignored("future".into())));
        let outbound = r#"{"event":"media","media":{"track":"outbound","payload":"AA=="}}"#;
        assert!(matches!(parse(outbound), Err(CodecError::Ignored(_))));
    }

    #[test]
    fn writes_our_messages() {
        let media: serde_json::Value =
            serde_json::from_str(&encode("MZ1", &StreamOut::Media(vec![0xFF, 0x7F, 0x00]))).unwrap();
        assert_eq!(media, json!({"event": "media", "streamSid": "MZ1", "media": {"payload": "/38A"}}));
        let mark: serde_json::Value = serde_json::from_str(&encode("MZ1", &StreamOut::Mark("u2".into()))).unwrap();
        assert_eq!(mark, json!({"event": "mark", "streamSid": "MZ1", "mark": {"name": "u2"}}));
        let clear: serde_json::Value = serde_json::from_str(&encode("MZ1", &StreamOut::Clear)).unwrap();
        assert_eq!(clear, json!({"event": "clear", "streamSid": "MZ1"}));
    }
}
