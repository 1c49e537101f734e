//! Sans-io audio pipeline: codecs, resampling, voice activity, end of turn, playout, DTMF.
//!
//! Nothing here opens a socket, reads a clock or spawns a task. Every type is a plain
//! function or state machine that the transports (Twilio/Telnyx media streams, browser
//! WebSocket, SIP/RTP) drive with the samples they received and the times they know, so
//! the same code serves every carrier and is tested with synthetic and recorded audio.
//!
//! The usual inbound path is: [`reorder`] (RTP order) → [`g711`] decode → [`resample`]
//! to 16 kHz → [`vad`] → [`turn`] (utterances, barge-in, silence timeout). The outbound
//! path is text-to-speech audio → [`resample`] → [`playout`] (frames and marks) →
//! [`g711`] encode. [`dtmf`] finds key presses either way they arrive, and [`wav`]
//! keeps the stereo call recording.

pub mod dtmf;
pub mod g711;
pub mod playout;
pub mod reorder;
pub mod resample;
pub mod turn;
pub mod vad;
pub mod wav;

/// What can go wrong in this crate: malformed input from the outside world.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An RFC 4733 telephone-event payload shorter than its 4 bytes.
    #[error("telephone-event payload is {0} bytes, expected at least 4")]
    ShortTelephoneEvent(usize),
    /// A WAV file in a format this pipeline does not handle (only 16-bit PCM, 1 or 2 channels).
    #[error("unsupported WAV format: {0}")]
    UnsupportedWav(String),
    /// The WAV reader or writer failed (I/O or malformed file).
    #[error("WAV: {0}")]
    Wav(#[from] hound::Error),
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
