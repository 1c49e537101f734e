//! The simulated provider of the text channels, like a carrier's test mode: it
//! accepts every message but one magic recipient ([`UNDELIVERABLE`], refused
//! so delivery failures can be exercised) and keeps a log of what it
//! delivered (the last 1,000).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use switchboard_domain::messaging::Channel;

use super::{ChannelError, ChannelProvider, OutboundMessage, SendFuture};

const KEPT: usize = 1_000;

/// The recipient the simulated provider refuses on every channel.
pub const UNDELIVERABLE: &str = "+31600000009";

/// A message the simulated provider delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulatedDelivery {
    pub channel: Channel,
    pub message: OutboundMessage,
}

/// The shared delivery log of the simulated channels.
#[derive(Debug, Default)]
pub struct SimulatedChannel {
    log: Arc<Mutex<VecDeque<SimulatedDelivery>>>,
}

impl SimulatedChannel {
    /// The provider of one channel, writing to this log.
    pub(super) fn for_channel(&self, channel: Channel) -> SimulatedSender {
        SimulatedSender { channel, log: Arc::clone(&self.log) }
    }

    /// What was delivered, oldest first.
    pub fn deliveries(&self) -> Vec<SimulatedDelivery> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).iter().cloned().collect()
    }
}

/// The simulated provider of one channel.
pub(super) struct SimulatedSender {
    channel: Channel,
    log: Arc<Mutex<VecDeque<SimulatedDelivery>>>,
}

impl ChannelProvider for SimulatedSender {
    fn send<'a>(&'a self, message: &'a OutboundMessage) -> SendFuture<'a> {
        if message.to == UNDELIVERABLE {
            let refused = ChannelError::Failed {
                channel: self.channel.as_str(),
                reason: format!("the simulated carrier refuses messages to {UNDELIVERABLE}"),
            };
            return Box::pin(async move { Err(refused) });
        }
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        if log.len() == KEPT {
            log.pop_front();
        }
        log.push_back(SimulatedDelivery { channel: self.channel, message: message.clone() });
        Box::pin(async { Ok(()) })
    }
}
