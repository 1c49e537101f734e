//! Live calls: the call service (the one front door for placing, accepting and
//! controlling calls), the session that runs each call, the transports that
//! carry it, and the directory of calls in progress.
//!
//! The session never touches audio or sockets. A transport (the simulated
//! carrier, the text transport of test sessions; later SIP and media streams)
//! turns the far end into [`TransportEvent`]s and carries out
//! [`TransportAction`]s, so the same session runs every kind of call.

pub mod clock;
pub mod conversation;
pub mod directory;
pub mod embedded;
pub mod memory;
pub mod server_url;
pub mod service;
pub mod session;
pub mod test_sessions;
pub mod transports;

mod analysis;
mod driver;
mod jobs;
mod recorder;

pub use clock::CallClock;
pub use directory::{CallDirectory, LiveCall, LocalDirectory};
pub use service::{CallError, CallService, InboundCall, OutboundCall};
pub use switchboard_domain::phone::Dtmf;
use tokio::time::Instant;
pub use transports::{Connection, Dial, Dialer, TransportLink};

/// Identifies one piece of speech the session asked its transport to say, so
/// playback reports can say which one was heard, and how much of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UtteranceId(pub u32);

/// What a transport reports about the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportEvent {
    /// The called party picked up (outbound) or the call was accepted (inbound).
    Answered,
    /// An answering machine picked up an outbound call.
    Voicemail,
    /// The call did not connect.
    NotConnected(NotConnected),
    /// The caller started speaking (barge-in when the agent is talking).
    SpeechStarted,
    /// A transcript of the caller; only final transcripts make a turn.
    /// `ended` is when the caller's last word ended, as the transport heard
    /// it: the turn's latency is measured from there.
    Transcript { text: String, is_final: bool, ended: Option<Instant> },
    /// A keypad key.
    Dtmf(Dtmf),
    /// An utterance started playing.
    PlaybackStarted(UtteranceId),
    /// An utterance played to its end.
    PlaybackFinished(UtteranceId),
    /// The answer to [`TransportAction::StopSpeaking`]: the utterance that was
    /// playing (if any) stopped after its first `heard_chars` characters, and
    /// everything queued after it was dropped unplayed.
    PlaybackStopped { utterance: Option<UtteranceId>, heard_chars: usize },
    /// A transfer the session asked for was connected: the agent leaves the call.
    TransferConnected,
    /// The transferred leg ended after this many call-time seconds.
    TransferCompleted { duration_seconds: i64 },
    /// A transfer the session asked for failed.
    TransferFailed { reason: String },
    /// The caller hung up.
    HungUp,
}

/// Why an outbound call never connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotConnected {
    Busy,
    NoAnswer,
    Failed,
    Rejected,
}

/// What the session asks its transport to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportAction {
    /// Speak this text, after anything already queued.
    Say { utterance: UtteranceId, text: String },
    /// Stop speaking at once and drop what is queued (the caller barged in);
    /// answered with [`TransportEvent::PlaybackStopped`].
    StopSpeaking,
    /// The agent has finished its turn and waits for the caller.
    Listen,
    /// Connect the caller to this number.
    Transfer(String),
    /// End the call.
    HangUp,
}

/// Commands to a live call, from the API or any other client of the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallCommand {
    /// End the call (`ended_reason: api`); a ringing call is canceled.
    End,
    /// Transfer the call to an E.164 number; answered once it connects or fails.
    Transfer { destination: String },
    /// Say a prompt and collect keypad digits.
    Gather(GatherRequest),
}

/// A DTMF collection asked for through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatherRequest {
    pub prompt: String,
    pub max_digits: usize,
    pub terminator: Option<Dtmf>,
    pub timeout_seconds: u64,
}

/// Why a live call refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("Call is not in progress")]
    NotInProgress,
    #[error("A gather operation is already in progress for this call")]
    GatherInProgress,
    #[error("Transfer failed: {0}")]
    TransferFailed(String),
}
