//! The spoken line: a transport for any carrier that moves 8 kHz μ-law audio (Twilio
//! media streams now; Telnyx and SIP/RTP later). The carrier's adapter turns its protocol
//! into [`LineIn`] and [`LineOut`]; this module hears the caller through the media
//! pipeline and speech-to-text, and speaks the session's text through text-to-speech.
//!
//! - [`line`]: the sans-io core (audio in → speech events, clauses in → frames and marks);
//! - [`clauses`]: a reply cut into clauses so its first audio plays before the rest is
//!   synthesized;
//! - [`run`] here: the async shell around the core, one task per call.

pub mod clauses;
pub mod line;

use std::sync::Arc;
use std::time::Duration;

use switchboard_domain::phone::Dtmf;
use switchboard_media::resample::SampleRate;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use self::line::{FRAME_MS, Heard, LineConfig, SpokenLine};
use super::{Connection, FarSide, TransportLink};
use crate::call::{CallClock, TransportAction, TransportEvent, UtteranceId};
use crate::speech::{PcmAudio, SpeechToText, TextToSpeech};

/// What the carrier's adapter hands the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineIn {
    /// Caller audio, 8 kHz μ-law, as it arrived.
    Audio(Vec<u8>),
    /// A keypad key the carrier detected.
    Dtmf(Dtmf),
    /// The carrier played everything sent before this mark.
    Played(String),
    /// The caller hung up (or the carrier ended the stream).
    HungUp,
}

/// What the line asks the carrier's adapter to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineOut {
    /// 20 ms of agent audio, 8 kHz μ-law.
    Audio(Vec<u8>),
    /// Echo this name once the audio sent before it has played.
    Mark(String),
    /// Drop the agent audio buffered and not yet played.
    Clear,
    /// End the call's stream.
    End,
}

/// The speech providers of one call.
#[derive(Clone)]
pub struct LineSpeech {
    pub stt: Arc<dyn SpeechToText>,
    pub tts: Arc<dyn TextToSpeech>,
    /// The provider's voice name; its default when `None`.
    pub voice: Option<String>,
    /// BCP 47 language of the caller, for speech-to-text; the provider guesses when `None`.
    pub language: Option<String>,
}

/// The connection the call service opens for a spoken call: the line already runs.
pub struct SpokenConnection {
    link: TransportLink,
}

impl Connection for SpokenConnection {
    fn open(self: Box<Self>, _clock: CallClock) -> TransportLink {
        self.link
    }
}

/// Starts a spoken line on its own task: returns the connection for
/// [`crate::call::CallService::accept`]. The line reports the call answered at once,
/// reads the carrier from `carrier` and sends through `out`; it ends (sending
/// [`LineOut::End`]) when the session hangs up or goes away, and reports a hang-up when
/// the carrier's side ends.
pub fn start(
    carrier: mpsc::Receiver<LineIn>,
    out: mpsc::Sender<LineOut>,
    speech: LineSpeech,
    config: LineConfig,
) -> SpokenConnection {
    let (link, far) = TransportLink::pair();
    tokio::spawn(run(far, carrier, out, speech, config));
    SpokenConnection { link }
}

/// One clause to synthesize.
struct Job {
    utterance: UtteranceId,
    index: usize,
    text: String,
}

/// A synthesized clause, tagged with the synthesis round it belongs to.
struct Spoken {
    round: u64,
    utterance: UtteranceId,
    index: usize,
    audio: Option<PcmAudio>,
}

/// Synthesizes clauses one after another, in order; a stop throws the rest away.
struct Synthesis {
    tts: Arc<dyn TextToSpeech>,
    voice: Option<String>,
    results: mpsc::UnboundedSender<Spoken>,
    round: u64,
    jobs: mpsc::UnboundedSender<Job>,
    task: JoinHandle<()>,
}

impl Synthesis {
    fn new(tts: Arc<dyn TextToSpeech>, voice: Option<String>, results: mpsc::UnboundedSender<Spoken>) -> Self {
        let (jobs, task) = Self::worker(&tts, &voice, &results, 0);
        Synthesis { tts, voice, results, round: 0, jobs, task }
    }

    fn worker(
        tts: &Arc<dyn TextToSpeech>,
        voice: &Option<String>,
        results: &mpsc::UnboundedSender<Spoken>,
        round: u64,
    ) -> (mpsc::UnboundedSender<Job>, JoinHandle<()>) {
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        let (tts, voice, results) = (tts.clone(), voice.clone(), results.clone());
        let task = tokio::spawn(async move {
            while let Some(job) = queue.recv().await {
                let audio = match tts.synthesize(&job.text, voice.as_deref()).await {
                    Ok(audio) => Some(audio),
                    Err(err) => {
                        tracing::warn!(error = %err, "text-to-speech failed; the clause is skipped");
                        None
                    }
                };
                let spoken = Spoken { round, utterance: job.utterance, index: job.index, audio };
                if results.send(spoken).is_err() {
                    break;
                }
            }
        });
        (jobs, task)
    }

    fn push(&self, job: Job) {
        // The worker lives as long as this value; a send only fails after a stop.
        self.jobs.send(job).ok();
    }

    /// Drops every clause not yet synthesized and ignores those under way.
    fn restart(&mut self) {
        self.task.abort();
        self.round += 1;
        let (jobs, task) = Self::worker(&self.tts, &self.voice, &self.results, self.round);
        (self.jobs, self.task) = (jobs, task);
    }
}

impl Drop for Synthesis {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The line of one call until it ends.
async fn run(
    mut far: FarSide,
    mut carrier: mpsc::Receiver<LineIn>,
    out: mpsc::Sender<LineOut>,
    speech: LineSpeech,
    config: LineConfig,
) {
    let mut line = SpokenLine::new(config);
    let (spoken_tx, mut spoken) = mpsc::unbounded_channel();
    let mut synthesis = Synthesis::new(speech.tts.clone(), speech.voice.clone(), spoken_tx);
    let (transcripts_tx, mut transcripts) = mpsc::unbounded_channel::<(String, Instant)>();
    let mut tick = tokio::time::interval(Duration::from_millis(u64::from(FRAME_MS)));
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    if far.events.send(TransportEvent::Answered).await.is_err() {
        out.send(LineOut::End).await.ok();
        return;
    }
    loop {
        tokio::select! {
            input = carrier.recv() => match input {
                Some(LineIn::Audio(audio)) => {
                    for heard in line.hear(&audio) {
                        match heard {
                            Heard::SpeechStarted => tell(&far, TransportEvent::SpeechStarted).await,
                            Heard::Utterance { audio, ended_at_ms } => {
                                let ago = Duration::from_millis(line.heard_ms().saturating_sub(ended_at_ms));
                                let ended = Instant::now().checked_sub(ago).unwrap_or_else(Instant::now);
                                transcribe(&speech, audio, ended, transcripts_tx.clone());
                            }
                        }
                    }
                }
                Some(LineIn::Dtmf(key)) => tell(&far, TransportEvent::Dtmf(key)).await,
                Some(LineIn::Played(mark)) => {
                    if let Some(utterance) = line.played(&mark) {
                        tell(&far, TransportEvent::PlaybackFinished(utterance)).await;
                    }
                }
                Some(LineIn::HungUp) | None => {
                    tell(&far, TransportEvent::HungUp).await;
                    break;
                }
            },
            action = far.actions.recv() => match action {
                Some(TransportAction::Say { utterance, text }) => {
                    for (index, text) in line.say(utterance, &text).into_iter().enumerate() {
                        synthesis.push(Job { utterance, index, text });
                    }
                }
                Some(TransportAction::StopSpeaking) => {
                    let (utterance, heard_chars) = line.stop();
                    synthesis.restart();
                    out.send(LineOut::Clear).await.ok();
                    tell(&far, TransportEvent::PlaybackStopped { utterance, heard_chars }).await;
                }
                Some(TransportAction::Listen) => {}
                Some(TransportAction::Transfer(_)) => {
                    let reason = "transfer is not supported on media-stream calls yet".to_owned();
                    tell(&far, TransportEvent::TransferFailed { reason }).await;
                }
                Some(TransportAction::HangUp) | None => {
                    out.send(LineOut::End).await.ok();
                    break;
                }
            },
            Some(done) = spoken.recv() => {
                if done.round == synthesis.round {
                    let (samples, rate) = match done.audio {
                        Some(audio) => match SampleRate::from_hz(audio.sample_rate) {
                            Some(rate) => (audio.samples, rate),
                            None => {
                                tracing::warn!(rate = audio.sample_rate, "text-to-speech answered an unsupported sample rate");
                                (Vec::new(), SampleRate::Hz8000)
                            }
                        },
                        None => (Vec::new(), SampleRate::Hz8000),
                    };
                    line.speak(done.utterance, done.index, &samples, rate);
                }
            },
            Some((text, ended)) = transcripts.recv() => {
                tell(&far, TransportEvent::Transcript { text, is_final: true, ended: Some(ended) }).await;
            },
            _ = tick.tick() => {
                if let Some(frame) = line.pull() {
                    for utterance in frame.started {
                        tell(&far, TransportEvent::PlaybackStarted(utterance)).await;
                    }
                    if !frame.audio.is_empty() && out.send(LineOut::Audio(frame.audio)).await.is_err() {
                        tell(&far, TransportEvent::HungUp).await;
                        break;
                    }
                    for mark in frame.marks {
                        out.send(LineOut::Mark(mark)).await.ok();
                    }
                }
            },
        }
    }
}

/// Tells the session; a session that is gone hears nothing more, and the loop ends on
/// its closed action channel.
async fn tell(far: &FarSide, event: TransportEvent) {
    far.events.send(event).await.ok();
}

/// Transcribes one utterance on its own task; an empty or failed transcript is reported
/// as nothing said.
fn transcribe(speech: &LineSpeech, audio: Vec<i16>, ended: Instant, done: mpsc::UnboundedSender<(String, Instant)>) {
    let (stt, language) = (speech.stt.clone(), speech.language.clone());
    tokio::spawn(async move {
        let audio = PcmAudio { samples: audio, sample_rate: switchboard_media::vad::VAD_SAMPLE_RATE };
        let text = match stt.transcribe(&audio, language.as_deref()).await {
            Ok(text) => text.trim().to_owned(),
            Err(err) => {
                tracing::warn!(error = %err, "speech-to-text failed; the utterance is dropped");
                String::new()
            }
        };
        done.send((text, ended)).ok();
    });
}
