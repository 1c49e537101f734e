//! End of turn, barge-in and silence timeout: state machines over the VAD's frames.
//!
//! [`TurnDetector`] turns scored frames into the caller's utterances: speech started, and
//! speech ended with the utterance's audio for speech-to-text. [`BargeInDetector`] decides
//! when the caller is talking over the agent long enough to stop it. Both are fed
//! [`VadFrame`]s in order and keep no clock of their own: every time is the frame's.

use std::collections::VecDeque;

use crate::vad::{DEFAULT_SPEECH_THRESHOLD, VAD_SAMPLE_RATE, VadFrame};

/// Samples per millisecond at the VAD's rate.
const SAMPLES_PER_MS: u64 = VAD_SAMPLE_RATE as u64 / 1_000;

/// How utterances are cut; per agent (Centerfy's `silence_timeout` maps onto
/// `silence_hangover_ms`, `voice_activity_timeout` onto `no_speech_timeout_ms`).
#[derive(Debug, Clone, PartialEq)]
pub struct TurnConfig {
    /// Frames at or above this probability are speech.
    pub speech_threshold: f32,
    /// Speech frames an utterance needs in total before it counts: shorter blips (a cough,
    /// a click) are dropped without any event.
    pub min_speech_ms: u64,
    /// Silence after the last speech frame that ends the utterance.
    pub silence_hangover_ms: u64,
    /// Audio kept from before the first speech frame, so the first syllable's onset that
    /// scored low is not cut off for speech-to-text.
    pub pre_roll_ms: u64,
    /// Audio kept after the last speech frame (at most the hang-over).
    pub post_roll_ms: u64,
    /// Report [`TurnEvent::NoSpeech`] once the caller has said nothing for this long.
    pub no_speech_timeout_ms: Option<u64>,
}

impl Default for TurnConfig {
    fn default() -> Self {
        TurnConfig {
            speech_threshold: DEFAULT_SPEECH_THRESHOLD,
            min_speech_ms: 128,
            silence_hangover_ms: 600,
            pre_roll_ms: 240,
            post_roll_ms: 160,
            no_speech_timeout_ms: None,
        }
    }
}

/// What the caller's audio meant, as the session needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnEvent {
    /// The caller started an utterance (reported once it has lasted `min_speech_ms`).
    SpeechStarted {
        /// Start of the utterance's first speech frame.
        at_ms: u64,
    },
    /// The caller finished an utterance: `silence_hangover_ms` of silence followed it.
    SpeechEnded {
        /// Start of the utterance's first speech frame (as in `SpeechStarted`).
        started_at_ms: u64,
        /// End of the utterance's last speech frame.
        at_ms: u64,
        /// The utterance at 16 kHz, from `pre_roll_ms` before it to `post_roll_ms` after it.
        audio: Vec<i16>,
    },
    /// The caller has said nothing for `no_speech_timeout_ms` (once until speech or a restart).
    NoSpeech {
        /// When the timeout was reached.
        at_ms: u64,
        /// How long the silence has lasted.
        silent_for_ms: u64,
    },
}

/// An utterance in progress.
#[derive(Debug)]
struct Segment {
    started_at_ms: u64,
    last_speech_end_ms: u64,
    speech_ms: u64,
    announced: bool,
    /// Audio from `audio_start_ms` on.
    audio: Vec<i16>,
    audio_start_ms: u64,
}

/// End-of-turn detection for one caller stream.
#[derive(Debug)]
pub struct TurnDetector {
    config: TurnConfig,
    segment: Option<Segment>,
    /// The last `pre_roll_ms` of audio while no utterance is open.
    pre_roll: VecDeque<i16>,
    /// Start of the current silence, for the no-speech timeout.
    silent_since_ms: u64,
    no_speech_reported: bool,
}

impl TurnDetector {
    /// A detector at the start of a call, whose silence clock starts at 0 ms.
    pub fn new(config: TurnConfig) -> Self {
        TurnDetector {
            pre_roll: VecDeque::with_capacity((config.pre_roll_ms * SAMPLES_PER_MS) as usize),
            config,
            segment: None,
            silent_since_ms: 0,
            no_speech_reported: false,
        }
    }

    /// Whether an utterance has been reported started and not yet ended.
    pub fn in_speech(&self) -> bool {
        self.segment.as_ref().is_some_and(|s| s.announced)
    }

    /// Restarts the no-speech clock at `at_ms`, e.g. when the agent stops talking, since
    /// the caller cannot be expected to answer before that.
    pub fn restart_silence_clock(&mut self, at_ms: u64) {
        self.silent_since_ms = at_ms;
        self.no_speech_reported = false;
    }

    /// Takes the next frame of the stream, appending any events it causes to `events`.
    ///
    /// Frames come in time order, as one [`VoiceDetector`](crate::vad::VoiceDetector) numbers them.
    pub fn push(&mut self, frame: &VadFrame, events: &mut Vec<TurnEvent>) {
        let end_ms = frame.at_ms + frame.samples.len() as u64 / SAMPLES_PER_MS;
        let speech = frame.is_speech(self.config.speech_threshold);
        match &mut self.segment {
            None if speech => {
                let pre_roll_ms = self.pre_roll.len() as u64 / SAMPLES_PER_MS;
                let mut audio: Vec<i16> = self.pre_roll.drain(..).collect();
                audio.extend_from_slice(&frame.samples);
                self.segment = Some(Segment {
                    started_at_ms: frame.at_ms,
                    last_speech_end_ms: end_ms,
                    speech_ms: end_ms.saturating_sub(frame.at_ms),
                    announced: false,
                    audio,
                    audio_start_ms: frame.at_ms.saturating_sub(pre_roll_ms),
                });
                self.announce_if_long_enough(events);
            }
            None => self.keep_pre_roll(&frame.samples),
            Some(segment) => {
                segment.audio.extend_from_slice(&frame.samples);
                if speech {
                    segment.last_speech_end_ms = end_ms;
                    segment.speech_ms += end_ms.saturating_sub(frame.at_ms);
                    self.announce_if_long_enough(events);
                } else if end_ms.saturating_sub(segment.last_speech_end_ms) >= self.config.silence_hangover_ms {
                    self.close_segment(events);
                }
            }
        }
        if !self.in_speech() {
            self.check_no_speech(end_ms, events);
        }
    }

    fn announce_if_long_enough(&mut self, events: &mut Vec<TurnEvent>) {
        if let Some(segment) = &mut self.segment
            && !segment.announced
            && segment.speech_ms >= self.config.min_speech_ms
        {
            segment.announced = true;
            events.push(TurnEvent::SpeechStarted { at_ms: segment.started_at_ms });
        }
    }

    fn close_segment(&mut self, events: &mut Vec<TurnEvent>) {
        let Some(mut segment) = self.segment.take() else {
            return;
        };
        // The silence heard after the utterance is the next one's pre-roll.
        let keep = (self.config.pre_roll_ms * SAMPLES_PER_MS) as usize;
        let tail_start = segment.audio.len().saturating_sub(keep);
        self.pre_roll.extend(&segment.audio[tail_start..]);
        if segment.announced {
            let post_roll = self.config.post_roll_ms.min(self.config.silence_hangover_ms);
            let end_ms = segment.last_speech_end_ms + post_roll;
            let end_sample = (end_ms.saturating_sub(segment.audio_start_ms) * SAMPLES_PER_MS) as usize;
            segment.audio.truncate(end_sample);
            events.push(TurnEvent::SpeechEnded {
                started_at_ms: segment.started_at_ms,
                at_ms: segment.last_speech_end_ms,
                audio: segment.audio,
            });
            self.restart_silence_clock(segment.last_speech_end_ms);
        }
    }

    fn keep_pre_roll(&mut self, samples: &[i16]) {
        let keep = (self.config.pre_roll_ms * SAMPLES_PER_MS) as usize;
        self.pre_roll.extend(samples);
        let excess = self.pre_roll.len().saturating_sub(keep);
        self.pre_roll.drain(..excess);
    }

    fn check_no_speech(&mut self, now_ms: u64, events: &mut Vec<TurnEvent>) {
        if let Some(timeout) = self.config.no_speech_timeout_ms {
            let silent_for_ms = now_ms.saturating_sub(self.silent_since_ms);
            if !self.no_speech_reported && silent_for_ms >= timeout {
                self.no_speech_reported = true;
                events.push(TurnEvent::NoSpeech { at_ms: now_ms, silent_for_ms });
            }
        }
    }
}

/// When the caller's speech counts as interrupting the agent.
#[derive(Debug, Clone, PartialEq)]
pub struct BargeInConfig {
    /// Speech probability needed while the agent is silent.
    pub threshold: f32,
    /// Continuous speech needed while the agent is silent.
    pub min_speech_ms: u64,
    /// Speech probability needed while the agent's audio is playing: stricter, because
    /// the agent's own voice comes back through a speakerphone. Narrowband (8 kHz) speech
    /// scores lower than wideband, so much above 0.7 makes telephone callers hard to hear.
    pub playing_threshold: f32,
    /// Continuous speech needed while the agent's audio is playing: longer than a short
    /// acknowledgement ("ok", "yeah"), which should not stop the agent.
    pub playing_min_speech_ms: u64,
    /// Dips below the threshold up to this long do not break "continuous" speech.
    pub max_gap_ms: u64,
}

impl Default for BargeInConfig {
    fn default() -> Self {
        BargeInConfig {
            threshold: DEFAULT_SPEECH_THRESHOLD,
            min_speech_ms: 250,
            playing_threshold: 0.7,
            playing_min_speech_ms: 500,
            max_gap_ms: 48,
        }
    }
}

/// The caller interrupted: stop the agent's audio and cancel its turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BargeIn {
    /// Start of the interrupting speech.
    pub started_at_ms: u64,
    /// End of the frame that decided it.
    pub at_ms: u64,
}

/// Barge-in decisions for one caller stream: fires once per run of continuous speech.
#[derive(Debug)]
pub struct BargeInDetector {
    config: BargeInConfig,
    /// The current run of speech: its start and the end of its last speech frame.
    run: Option<(u64, u64)>,
    fired: bool,
}

impl BargeInDetector {
    /// A detector with no speech heard yet.
    pub fn new(config: BargeInConfig) -> Self {
        BargeInDetector { config, run: None, fired: false }
    }

    /// Takes the next frame; `agent_playing` says whether the agent's audio is being heard
    /// now. Returns the barge-in when this frame completes one.
    pub fn push(&mut self, frame: &VadFrame, agent_playing: bool) -> Option<BargeIn> {
        let (threshold, needed_ms) = if agent_playing {
            (self.config.playing_threshold, self.config.playing_min_speech_ms)
        } else {
            (self.config.threshold, self.config.min_speech_ms)
        };
        let end_ms = frame.at_ms + frame.samples.len() as u64 / SAMPLES_PER_MS;
        if !frame.is_speech(threshold) {
            if let Some((_, last_end)) = self.run
                && end_ms.saturating_sub(last_end) > self.config.max_gap_ms
            {
                self.run = None;
                self.fired = false;
            }
            return None;
        }
        let (start, _) = *self.run.get_or_insert((frame.at_ms, end_ms));
        self.run = Some((start, end_ms));
        if !self.fired && end_ms.saturating_sub(start) >= needed_ms {
            self.fired = true;
            return Some(BargeIn { started_at_ms: start, at_ms: end_ms });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vad::{VAD_FRAME_MS, VAD_FRAME_SAMPLES};

    /// A 16 ms frame numbered `index`, whose samples all carry the index so audio can be traced.
    fn frame(index: u64, probability: f32) -> VadFrame {
        VadFrame { at_ms: index * VAD_FRAME_MS, probability, samples: vec![index as i16; VAD_FRAME_SAMPLES] }
    }

    /// Feeds a pattern of frames: each `(count, probability)` run after the previous one.
    fn feed(detector: &mut TurnDetector, runs: &[(u64, f32)]) -> Vec<TurnEvent> {
        let mut events = Vec::new();
        let mut index = 0;
        for &(count, probability) in runs {
            for _ in 0..count {
                detector.push(&frame(index, probability), &mut events);
                index += 1;
            }
        }
        events
    }

    #[test]
    fn an_utterance_starts_and_ends_after_the_hangover() {
        let mut detector = TurnDetector::new(TurnConfig::default());
        // 1 s silence, 800 ms speech, 1 s silence.
        let events = feed(&mut detector, &[(62, 0.0), (50, 0.9), (63, 0.0)]);
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0], TurnEvent::SpeechStarted { at_ms: 62 * 16 });
        let TurnEvent::SpeechEnded { started_at_ms, at_ms, audio } = &events[1] else {
            panic!("{:?}", events[1]);
        };
        assert_eq!(*started_at_ms, 992);
        assert_eq!(*at_ms, 112 * 16);
        // 240 ms pre-roll (15 frames) + 50 speech frames + 160 ms post-roll (10 frames).
        assert_eq!(audio.len(), (15 + 50 + 10) * VAD_FRAME_SAMPLES);
        assert_eq!(audio[0], 62 - 15);
        assert_eq!(audio[audio.len() - 1], 112 + 9);
    }

    #[test]
    fn the_end_is_reported_exactly_when_the_hangover_elapses() {
        let config = TurnConfig { silence_hangover_ms: 320, ..TurnConfig::default() };
        let mut detector = TurnDetector::new(config);
        let events = feed(&mut detector, &[(20, 0.9), (19, 0.0)]);
        assert_eq!(events.len(), 1, "19 silent frames are 304 ms: {events:?}");
        let mut events = Vec::new();
        detector.push(&frame(39, 0.0), &mut events);
        assert!(matches!(events[..], [TurnEvent::SpeechEnded { at_ms: 320, .. }]));
    }

    #[test]
    fn pauses_shorter_than_the_hangover_stay_in_one_utterance() {
        let mut detector = TurnDetector::new(TurnConfig::default());
        let events = feed(&mut detector, &[(10, 0.0), (30, 0.9), (30, 0.1), (30, 0.9), (60, 0.0)]);
        let ended: Vec<_> = events.iter().filter(|e| matches!(e, TurnEvent::SpeechEnded { .. })).collect();
        assert_eq!(ended.len(), 1);
        assert!(matches!(ended[0], TurnEvent::SpeechEnded { started_at_ms: 160, at_ms: 1_600, .. }));
    }

    #[test]
    fn a_blip_shorter_than_the_minimum_is_ignored() {
        let mut detector = TurnDetector::new(TurnConfig::default());
        // 112 ms of "speech" (a cough), then silence.
        let events = feed(&mut detector, &[(10, 0.0), (7, 0.9), (60, 0.0)]);
        assert!(events.is_empty(), "{events:?}");
        assert!(!detector.in_speech());
    }

    #[test]
    fn speech_started_waits_for_the_minimum_but_reports_the_onset() {
        let mut detector = TurnDetector::new(TurnConfig::default());
        let events = feed(&mut detector, &[(5, 0.0), (7, 0.9)]);
        assert!(events.is_empty());
        let mut events = Vec::new();
        detector.push(&frame(12, 0.9), &mut events);
        assert_eq!(events, vec![TurnEvent::SpeechStarted { at_ms: 80 }]);
        assert!(detector.in_speech());
    }

    #[test]
    fn the_threshold_decides_what_is_speech() {
        let config = TurnConfig { speech_threshold: 0.8, ..TurnConfig::default() };
        let mut detector = TurnDetector::new(config);
        assert!(feed(&mut detector, &[(100, 0.7)]).is_empty());
    }

    #[test]
    fn two_utterances_after_a_long_pause() {
        let mut detector = TurnDetector::new(TurnConfig::default());
        let events = feed(&mut detector, &[(20, 0.9), (50, 0.0), (20, 0.9), (50, 0.0)]);
        let kinds: Vec<&str> = events
            .iter()
            .map(|e| match e {
                TurnEvent::SpeechStarted { .. } => "start",
                TurnEvent::SpeechEnded { .. } => "end",
                TurnEvent::NoSpeech { .. } => "none",
            })
            .collect();
        assert_eq!(kinds, ["start", "end", "start", "end"]);
        // The second utterance's pre-roll is the silence after the first.
        let TurnEvent::SpeechEnded { audio, .. } = &events[3] else { panic!() };
        assert_eq!(audio[0], 70 - 15);
    }

    #[test]
    fn no_speech_fires_once_after_the_timeout_and_rearms() {
        let config = TurnConfig { no_speech_timeout_ms: Some(1_600), ..TurnConfig::default() };
        let mut detector = TurnDetector::new(config);
        let events = feed(&mut detector, &[(300, 0.0)]);
        assert_eq!(events, vec![TurnEvent::NoSpeech { at_ms: 1_600, silent_for_ms: 1_600 }]);

        // The agent talks, then stops at 4 800 ms: the clock restarts there.
        detector.restart_silence_clock(4_800);
        let mut events = Vec::new();
        for index in 300..500 {
            detector.push(&frame(index, 0.0), &mut events);
        }
        assert_eq!(events, vec![TurnEvent::NoSpeech { at_ms: 6_400, silent_for_ms: 1_600 }]);
    }

    #[test]
    fn speech_restarts_the_no_speech_clock() {
        let config = TurnConfig { no_speech_timeout_ms: Some(1_000), ..TurnConfig::default() };
        let mut detector = TurnDetector::new(config);
        // Speech from 800 to 1 120 ms: no timeout at 1 000 ms (speech is open); the next
        // silence counts from the end of speech, so it fires with the frame ending at 2 128.
        let events = feed(&mut detector, &[(50, 0.0), (20, 0.9), (100, 0.0)]);
        let no_speech: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                TurnEvent::NoSpeech { at_ms, .. } => Some(*at_ms),
                _ => None,
            })
            .collect();
        assert_eq!(no_speech, vec![2_128]);
    }

    fn barge(detector: &mut BargeInDetector, runs: &[(u64, f32)], playing: bool) -> Vec<BargeIn> {
        let mut index = 0;
        let mut out = Vec::new();
        for &(count, probability) in runs {
            for _ in 0..count {
                out.extend(detector.push(&frame(index, probability), playing));
                index += 1;
            }
        }
        out
    }

    #[test]
    fn barge_in_needs_250_ms_of_continuous_speech() {
        let mut detector = BargeInDetector::new(BargeInConfig::default());
        // 15 frames = 240 ms: not yet; the 16th makes 256 ms.
        assert!(barge(&mut detector, &[(15, 0.9), (10, 0.0)], false).is_empty());
        let mut detector = BargeInDetector::new(BargeInConfig::default());
        let fired = barge(&mut detector, &[(5, 0.0), (20, 0.9)], false);
        assert_eq!(fired, vec![BargeIn { started_at_ms: 80, at_ms: 80 + 256 }]);
    }

    #[test]
    fn short_dips_do_not_break_the_run_but_pauses_do() {
        let mut detector = BargeInDetector::new(BargeInConfig::default());
        // Two 128 ms bursts with a 32 ms dip: one run.
        let fired = barge(&mut detector, &[(8, 0.9), (2, 0.2), (8, 0.9)], false);
        assert_eq!(fired.len(), 1);
        let mut detector = BargeInDetector::new(BargeInConfig::default());
        // The same with a 96 ms pause: two short runs, no barge-in.
        assert!(barge(&mut detector, &[(8, 0.9), (6, 0.2), (8, 0.9)], false).is_empty());
    }

    #[test]
    fn while_the_agent_plays_it_takes_longer_and_surer_speech() {
        // 400 ms of confident speech (an "ok") interrupts a silent agent, not a talking one.
        let mut detector = BargeInDetector::new(BargeInConfig::default());
        assert_eq!(barge(&mut detector, &[(25, 0.95)], false).len(), 1);
        let mut detector = BargeInDetector::new(BargeInConfig::default());
        assert!(barge(&mut detector, &[(25, 0.95), (10, 0.0)], true).is_empty());
        // Echo scoring 0.65 never interrupts a talking agent however long it lasts.
        let mut detector = BargeInDetector::new(BargeInConfig::default());
        assert!(barge(&mut detector, &[(200, 0.65)], true).is_empty());
        // Long confident speech does, once.
        let mut detector = BargeInDetector::new(BargeInConfig::default());
        let fired = barge(&mut detector, &[(100, 0.95)], true);
        assert_eq!(fired, vec![BargeIn { started_at_ms: 0, at_ms: 512 }]);
    }

    #[test]
    fn barge_in_rearms_after_the_run_ends() {
        let mut detector = BargeInDetector::new(BargeInConfig::default());
        let fired = barge(&mut detector, &[(20, 0.9), (10, 0.0), (20, 0.9)], false);
        assert_eq!(fired.len(), 2);
        assert_eq!(fired[1].started_at_ms, 30 * 16);
    }
}
