//! The transport seam, and one module per transport behind it (the
//! simulated carrier, the text line of test sessions, the spoken line of
//! media-stream carriers): how a carrier places an outbound call for the call
//! service ([`Dialer`]) or hands it an inbound call it accepted
//! ([`Connection`]). Either way the session gets a [`TransportLink`]: the
//! carrier's events in, the session's actions out. SIP and browser calls are
//! further implementations.

pub mod simulated;
pub mod spoken;
pub(crate) mod text;

use serde_json::Value;
use tokio::sync::mpsc;

use super::{CallClock, TransportAction, TransportEvent};

/// Room for events from a transport to its session.
const LINK_CAPACITY: usize = 64;

/// The session's ends of its transport. Actions never wait (the session does
/// not block on its transport); events wait when the session is behind.
pub struct TransportLink {
    pub events: mpsc::Receiver<TransportEvent>,
    pub actions: mpsc::UnboundedSender<TransportAction>,
}

/// The transport's ends of a link.
pub struct FarSide {
    pub events: mpsc::Sender<TransportEvent>,
    pub actions: mpsc::UnboundedReceiver<TransportAction>,
}

impl TransportLink {
    /// A link and the far side that feeds it.
    pub fn pair() -> (TransportLink, FarSide) {
        let (events_tx, events_rx) = mpsc::channel(LINK_CAPACITY);
        let (actions_tx, actions_rx) = mpsc::unbounded_channel();
        (TransportLink { events: events_rx, actions: actions_tx }, FarSide { events: events_tx, actions: actions_rx })
    }
}

/// An outbound call for a dialer to place.
#[derive(Debug, Clone)]
pub struct Dial {
    pub call_id: String,
    pub from: String,
    pub to: String,
    /// Carrier-specific options of the call, already checked by
    /// [`Dialer::check_options`].
    pub options: Option<Value>,
    pub clock: CallClock,
}

/// Why a dialer refused a call's options: the field (within the options) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionsError {
    pub field: String,
    pub message: String,
}

/// A carrier that places outbound calls.
pub trait Dialer: Send + Sync {
    /// Checks the carrier-specific options of an outbound call before anything
    /// is stored.
    fn check_options(&self, options: &Value) -> Result<(), OptionsError>;

    /// Places the call: the link reports how the ringing ended
    /// ([`TransportEvent::Answered`], voicemail or not connected), then the
    /// conversation.
    fn dial(&self, dial: Dial) -> TransportLink;
}

/// An inbound call a transport has accepted and holds until the call service
/// takes it. Dropping it unopened turns the caller away.
pub trait Connection: Send {
    /// Starts carrying the call; the link's first event is
    /// [`TransportEvent::Answered`] once the caller is connected.
    fn open(self: Box<Self>, clock: CallClock) -> TransportLink;
}
