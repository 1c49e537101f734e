//! One live call: the events a transport reports, the actions a session asks of
//! it, the commands the API sends, and the clock calls run on.
//!
//! The session never touches audio. A transport (the simulated carrier today,
//! SIP and media streams later) turns audio into these events and these actions
//! into audio, so the same session runs every kind of call.

pub mod clock;
pub mod embedded;
pub mod event_sink;
pub mod llm_brain;
pub mod memory;
pub mod session;

use tokio::sync::oneshot;

pub use clock::CallClock;

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
    Transcript { text: String, is_final: bool },
    /// A keypad digit.
    Dtmf(char),
    /// Text the session asked to say started playing.
    PlaybackStarted,
    /// Text the session asked to say finished playing.
    PlaybackFinished,
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
    /// Speak this text.
    Say(String),
    /// Stop speaking at once (the caller barged in).
    StopSpeaking,
    /// Connect the caller to this number.
    Transfer(String),
    /// End the call.
    HangUp,
}

/// Commands from the API to a live call.
#[derive(Debug)]
pub enum CallCommand {
    /// End the call (`ended_reason: api`).
    End { reply: oneshot::Sender<Result<(), ControlError>> },
    /// Transfer the call to an E.164 number.
    Transfer { destination: String, reply: oneshot::Sender<Result<(), ControlError>> },
    /// Say a prompt and collect keypad digits.
    Gather { request: GatherRequest, reply: oneshot::Sender<Result<(), ControlError>> },
}

/// A DTMF collection asked for through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatherRequest {
    pub prompt: String,
    pub max_digits: usize,
    pub terminator: Option<char>,
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
