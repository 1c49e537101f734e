//! The simulated carrier's transport: a task that plays the far end of one call
//! from a script, on call time, turning the session's actions into the events a
//! real carrier and speech pipeline would produce.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use super::script::{CallerScript, CallerStep};
use super::{DialOutcome, dial_outcome, transfer_failure};
use crate::call::transports::{FarSide, TransportLink};
use crate::call::{CallClock, Dtmf, NotConnected, TransportAction, TransportEvent, UtteranceId};

/// How long things take on the simulated line, in call time.
mod timing {
    use std::time::Duration;

    pub const RING: Duration = Duration::from_secs(3);
    pub const RING_OUT: Duration = Duration::from_secs(30);
    pub const INBOUND_ANSWER: Duration = Duration::from_millis(200);
    pub const TURN_GAP: Duration = Duration::from_millis(500);
    /// How long a caller who has just spoken waits for the agent to start
    /// answering before going on with the script.
    pub const REPLY_PATIENCE: Duration = Duration::from_secs(5);
    /// The least real time that patience lasts. The agent's thinking (model,
    /// server_url, tools) runs in real time, which a sped-up call clock cannot
    /// shrink: on a loaded machine a 5 s patience at 100x would be 50 ms, and
    /// the caller would walk over answers that were on their way.
    pub const MIN_WALL_PATIENCE: Duration = Duration::from_secs(3);
    pub const DIGIT_GAP: Duration = Duration::from_millis(300);
    pub const TRANSFER_LEG: Duration = Duration::from_secs(20);

    /// Speaking time of a sentence: 0.35 s a word, at least 0.6 s.
    pub fn speech(text: &str) -> Duration {
        let words = text.split_whitespace().count().max(1) as u32;
        (Duration::from_millis(350) * words).max(Duration::from_millis(600))
    }
}

/// Until when a caller who finished speaking at `now` waits for the agent to
/// start answering: the patience in call time, but never less than
/// [`timing::MIN_WALL_PATIENCE`] of real time.
fn reply_deadline(clock: CallClock, now: Instant) -> Instant {
    now + clock.wall(timing::REPLY_PATIENCE).max(timing::MIN_WALL_PATIENCE)
}

/// Which call the simulated carrier plays.
#[derive(Debug, Clone)]
pub enum SimCall {
    /// The agent dials `to`; the callee follows the script.
    Outbound { to: String, script: CallerScript },
    /// A caller dials in and follows the script.
    Inbound { script: CallerScript },
}

/// Starts the far end of a call; returns the session's link to it.
pub fn spawn(call: SimCall, clock: CallClock) -> TransportLink {
    let (link, far) = TransportLink::pair();
    let FarSide { events, actions } = far;
    tokio::spawn(FarEnd::new(clock, events).run(call, actions));
    link
}

/// What the agent says as the far end hears it.
struct Playing {
    utterance: UtteranceId,
    text: String,
    started: Instant,
    ends: Instant,
}

/// How much of `text` a listener has heard `elapsed` into its `length`: the
/// whole words spoken by then, in characters.
fn heard_chars(text: &str, elapsed: Duration, length: Duration) -> usize {
    let words: Vec<&str> = text.split_whitespace().collect();
    let fraction = if length.is_zero() { 1.0 } else { (elapsed.as_secs_f64() / length.as_secs_f64()).min(1.0) };
    let heard = (words.len() as f64 * fraction).floor() as usize;
    words[..heard].join(" ").chars().count()
}

/// The far end's state while the call is up.
struct FarEnd {
    clock: CallClock,
    events: mpsc::Sender<TransportEvent>,
    steps: VecDeque<CallerStep>,
    /// What the agent is saying, and what it queued after it.
    playing: Option<Playing>,
    queued: VecDeque<(UtteranceId, String)>,
    caller_speech: Option<(Instant, String)>,
    digits: VecDeque<Dtmf>,
    next_digit: Option<Instant>,
    next_step: Option<Instant>,
    /// Until when the caller, having spoken, waits for the agent's answer.
    awaiting_reply: Option<Instant>,
    /// When the transferred leg ends: the caller talks to the person they
    /// were put through to, and the script waits.
    transfer_leg_ends: Option<Instant>,
}

/// Whether the far end goes on after handling something.
enum Flow {
    Continue,
    Stop,
}

impl FarEnd {
    fn new(clock: CallClock, events: mpsc::Sender<TransportEvent>) -> Self {
        Self {
            clock,
            events,
            steps: VecDeque::new(),
            playing: None,
            queued: VecDeque::new(),
            caller_speech: None,
            digits: VecDeque::new(),
            next_digit: None,
            next_step: None,
            awaiting_reply: None,
            transfer_leg_ends: None,
        }
    }

    async fn emit(&self, event: TransportEvent) -> Flow {
        if self.events.send(event).await.is_ok() { Flow::Continue } else { Flow::Stop }
    }

    async fn run(mut self, call: SimCall, mut actions: mpsc::UnboundedReceiver<TransportAction>) {
        let script = match call {
            SimCall::Inbound { script } => {
                self.clock.sleep(timing::INBOUND_ANSWER).await;
                if let Flow::Stop = self.emit(TransportEvent::Answered).await {
                    return;
                }
                script
            }
            SimCall::Outbound { to, script } => match dial_outcome(&to) {
                DialOutcome::NotConnected(outcome) => {
                    let ring = if outcome == NotConnected::NoAnswer { timing::RING_OUT } else { timing::RING };
                    tokio::select! {
                        () = self.clock.sleep(ring) => { self.emit(TransportEvent::NotConnected(outcome)).await; }
                        // The call was cancelled while ringing.
                        _ = actions.recv() => {}
                    }
                    return;
                }
                DialOutcome::Voicemail => {
                    self.clock.sleep(timing::RING).await;
                    // A machine only listens: the script does not apply.
                    let _ = self.emit(TransportEvent::Voicemail).await;
                    Vec::new()
                }
                DialOutcome::Answer => {
                    self.clock.sleep(timing::RING).await;
                    if let Flow::Stop = self.emit(TransportEvent::Answered).await {
                        return;
                    }
                    script
                }
            },
        };
        self.steps = script.into();
        // Like a person on the phone, the far end lets the agent speak first:
        // it waits (with its usual patience) for the greeting to start.
        self.awaiting_reply = Some(reply_deadline(self.clock, Instant::now()));
        self.converse(actions).await;
    }

    fn agent_speaking(&self) -> bool {
        self.playing.is_some() || !self.queued.is_empty()
    }

    fn idle(&self) -> bool {
        !self.agent_speaking()
            && self.caller_speech.is_none()
            && self.digits.is_empty()
            && self.awaiting_reply.is_none()
            && self.transfer_leg_ends.is_none()
    }

    /// Plays the script against the agent until someone hangs up.
    async fn converse(mut self, mut actions: mpsc::UnboundedReceiver<TransportAction>) {
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        loop {
            if self.next_step.is_none() && self.idle() && !self.steps.is_empty() {
                self.next_step = Some(self.clock.deadline(timing::TURN_GAP));
            }
            let speech_ends = self.playing.as_ref().map(|p| p.ends);
            let flow = tokio::select! {
                action = actions.recv() => match action {
                    Some(action) => self.on_action(action).await,
                    None => Flow::Stop,
                },
                () = sleep_until(speech_ends.unwrap_or(far)), if speech_ends.is_some() => self.finish_utterance().await,
                () = sleep_until(self.caller_speech.as_ref().map_or(far, |(at, _)| *at)), if self.caller_speech.is_some() => {
                    let text = self.caller_speech.take().map(|(_, text)| text).unwrap_or_default();
                    self.awaiting_reply = Some(reply_deadline(self.clock, Instant::now()));
                    let ended = Some(Instant::now());
                    self.emit(TransportEvent::Transcript { text, is_final: true, ended }).await
                }
                () = sleep_until(self.awaiting_reply.unwrap_or(far)), if self.awaiting_reply.is_some() => {
                    // No answer came: the caller goes on.
                    self.awaiting_reply = None;
                    Flow::Continue
                }
                () = sleep_until(self.next_digit.unwrap_or(far)), if self.next_digit.is_some() => self.press_next_digit().await,
                () = sleep_until(self.transfer_leg_ends.unwrap_or(far)), if self.transfer_leg_ends.is_some() => {
                    let seconds = timing::TRANSFER_LEG.as_secs() as i64;
                    self.emit(TransportEvent::TransferCompleted { duration_seconds: seconds }).await;
                    Flow::Stop
                }
                () = sleep_until(self.next_step.unwrap_or(far)), if self.next_step.is_some() => self.take_step().await,
            };
            if let Flow::Stop = flow {
                return;
            }
        }
    }

    /// Starts the next queued utterance, if nothing is playing.
    async fn play_next(&mut self) -> Flow {
        if self.playing.is_some() {
            return Flow::Continue;
        }
        let Some((utterance, text)) = self.queued.pop_front() else { return Flow::Continue };
        let started = Instant::now();
        let ends = started + self.clock.wall(timing::speech(&text));
        self.playing = Some(Playing { utterance, text, started, ends });
        self.emit(TransportEvent::PlaybackStarted(utterance)).await
    }

    async fn finish_utterance(&mut self) -> Flow {
        let Some(done) = self.playing.take() else { return Flow::Continue };
        if let Flow::Stop = self.emit(TransportEvent::PlaybackFinished(done.utterance)).await {
            return Flow::Stop;
        }
        self.play_next().await
    }

    async fn on_action(&mut self, action: TransportAction) -> Flow {
        match action {
            TransportAction::Say { utterance, text } => {
                self.awaiting_reply = None;
                self.queued.push_back((utterance, text));
                self.play_next().await
            }
            TransportAction::StopSpeaking => {
                self.queued.clear();
                let stopped = self.playing.take().map(|p| {
                    let heard = heard_chars(&p.text, p.started.elapsed(), p.ends - p.started);
                    (p.utterance, heard)
                });
                let (utterance, heard_chars) = stopped.map_or((None, 0), |(u, h)| (Some(u), h));
                self.emit(TransportEvent::PlaybackStopped { utterance, heard_chars }).await
            }
            TransportAction::Listen => Flow::Continue,
            TransportAction::Transfer(destination) => match transfer_failure(&destination) {
                Some(reason) => self.emit(TransportEvent::TransferFailed { reason: reason.into() }).await,
                None => {
                    self.transfer_leg_ends = Some(self.clock.deadline(timing::TRANSFER_LEG));
                    self.next_step = None;
                    self.emit(TransportEvent::TransferConnected).await
                }
            },
            TransportAction::HangUp => Flow::Stop,
        }
    }

    async fn press_next_digit(&mut self) -> Flow {
        let Some(digit) = self.digits.pop_front() else {
            self.next_digit = None;
            return Flow::Continue;
        };
        self.next_digit = (!self.digits.is_empty()).then(|| self.clock.deadline(timing::DIGIT_GAP));
        self.emit(TransportEvent::Dtmf(digit)).await
    }

    async fn take_step(&mut self) -> Flow {
        self.next_step = None;
        let speaks = matches!(self.steps.front(), Some(CallerStep::Say { .. } | CallerStep::Dtmf { .. }));
        if speaks && self.agent_speaking() {
            // Wait for the agent to finish; the step is re-armed when idle.
            return Flow::Continue;
        }
        let Some(step) = self.steps.pop_front() else { return Flow::Continue };
        match step {
            CallerStep::Say { say } => {
                self.caller_speech = Some((self.clock.deadline(timing::speech(&say)), say));
                self.emit(TransportEvent::SpeechStarted).await
            }
            CallerStep::Dtmf { dtmf } => {
                self.digits = dtmf.chars().filter_map(Dtmf::parse).collect();
                self.next_digit = Some(Instant::now());
                Flow::Continue
            }
            CallerStep::Wait { wait } => {
                self.next_step = Some(self.clock.deadline(Duration::from_secs_f64(wait)));
                Flow::Continue
            }
            CallerStep::HangUp { hangup } => {
                if hangup {
                    self.emit(TransportEvent::HungUp).await;
                    Flow::Stop
                } else {
                    Flow::Continue
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patience_is_call_time_with_a_real_time_floor() {
        let now = Instant::now();
        assert_eq!(reply_deadline(CallClock::new(1.0), now) - now, Duration::from_secs(5));
        assert_eq!(reply_deadline(CallClock::new(100.0), now) - now, timing::MIN_WALL_PATIENCE);
    }

    #[test]
    fn a_listener_hears_the_words_spoken_so_far() {
        let text = "Your policy covers water damage.";
        let length = Duration::from_secs(5);
        assert_eq!(heard_chars(text, Duration::ZERO, length), 0);
        assert_eq!(heard_chars(text, Duration::from_secs(2), length), "Your policy".len());
        assert_eq!(heard_chars(text, Duration::from_secs(9), length), text.len());
    }
}
