//! One Twilio media stream, from its `start` to its end: the token in the stream's
//! parameters is taken (single use), the call is accepted through the call service on a
//! spoken line, and the line's audio, marks and clears go back to Twilio.

use std::time::Duration;

use switchboard_domain::phone::Dtmf;
use tokio::sync::mpsc;

use super::media::{StreamIn, StreamOut, StreamStart};
use super::{PROVIDER, TOKEN_PARAMETER};
use crate::call::InboundCall;
use crate::call::service::Tenant;
use crate::call::transports::spoken::line::LineConfig;
use crate::call::transports::spoken::{self, LineIn, LineOut};
use crate::telephony::Telephony;

/// How long a new stream may take to send `start`.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages buffered each way.
const BUFFER: usize = 256;

/// The WebSocket handler's ends of a stream: what Twilio sent in, what to send out. The
/// stream is over when `outbound` closes; dropping `inbound` tells the call Twilio left.
pub struct TwilioStream {
    pub inbound: mpsc::Sender<StreamIn>,
    pub outbound: mpsc::Receiver<StreamOut>,
}

impl Telephony {
    /// A new Twilio media stream, served on a task of its own.
    pub fn twilio_stream(&self) -> TwilioStream {
        let (inbound, from_twilio) = mpsc::channel(BUFFER);
        let (to_twilio, outbound) = mpsc::channel(BUFFER);
        tokio::spawn(serve(self.clone(), from_twilio, to_twilio));
        TwilioStream { inbound, outbound }
    }
}

/// The `start` message, if it comes in time.
async fn started(from_twilio: &mut mpsc::Receiver<StreamIn>) -> Option<StreamStart> {
    let wait = async {
        loop {
            match from_twilio.recv().await? {
                StreamIn::Connected => {}
                StreamIn::Start(start) => return Some(start),
                _ => return None,
            }
        }
    };
    tokio::time::timeout(START_TIMEOUT, wait).await.ok().flatten()
}

async fn serve(telephony: Telephony, mut from_twilio: mpsc::Receiver<StreamIn>, to_twilio: mpsc::Sender<StreamOut>) {
    let Some(start) = started(&mut from_twilio).await else {
        tracing::warn!(provider = PROVIDER, "media stream closed: no start message");
        return;
    };
    let token = start.custom_parameters.get(TOKEN_PARAMETER).map(String::as_str).unwrap_or_default();
    let Some(grant) = telephony.0.tokens.take(token) else {
        tracing::warn!(provider = PROVIDER, "media stream refused: unknown, used or expired token");
        return;
    };
    if grant.carrier_call_id != start.call_sid {
        tracing::warn!(provider = PROVIDER, "media stream refused: the token is another call's");
        return;
    }
    if start.encoding != "audio/x-mulaw" || start.sample_rate != 8_000 {
        tracing::warn!(encoding = start.encoding, rate = start.sample_rate, "media stream refused: not 8 kHz mu-law");
        return;
    }
    let Some(speech) = telephony.0.voices.speech() else {
        tracing::warn!(provider = PROVIDER, "media stream refused: the voice is not ready");
        return;
    };
    let (line_in, line_carrier) = mpsc::channel(BUFFER);
    let (line_out, mut from_line) = mpsc::channel(BUFFER);
    let connection = spoken::start(line_carrier, line_out, speech, LineConfig::default());
    let tenant = Tenant { org_id: &grant.org_id, project_id: &grant.project_id };
    let call = InboundCall {
        from: grant.from.clone(),
        to: grant.to.clone(),
        agent_id: None,
        connection: Box::new(connection),
    };
    match telephony.0.calls.accept(tenant, call).await {
        Ok(record) => tracing::info!(call_id = record.id, status = record.status.as_str(), "Twilio call accepted"),
        Err(err) => {
            tracing::warn!(error = %err, "Twilio call refused");
            return;
        }
    }
    loop {
        tokio::select! {
            message = from_twilio.recv() => {
                let input = match message {
                    Some(StreamIn::Media(audio)) => LineIn::Audio(audio),
                    Some(StreamIn::Dtmf(key)) => match Dtmf::parse(key) {
                        Some(key) => LineIn::Dtmf(key),
                        None => continue,
                    },
                    Some(StreamIn::Mark(name)) => LineIn::Played(name),
                    Some(StreamIn::Connected | StreamIn::Start(_)) => continue,
                    Some(StreamIn::Stop) | None => {
                        line_in.send(LineIn::HungUp).await.ok();
                        break;
                    }
                };
                if line_in.send(input).await.is_err() {
                    break;
                }
            }
            output = from_line.recv() => {
                let message = match output {
                    Some(LineOut::Audio(audio)) => StreamOut::Media(audio),
                    Some(LineOut::Mark(name)) => StreamOut::Mark(name),
                    Some(LineOut::Clear) => StreamOut::Clear,
                    Some(LineOut::End) | None => break,
                };
                if to_twilio.send(message).await.is_err() {
                    line_in.send(LineIn::HungUp).await.ok();
                    break;
                }
            }
        }
    }
}
