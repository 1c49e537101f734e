//! The sans-io core of a spoken line: the caller's 8 kHz μ-law audio in, speech events
//! and utterances for speech-to-text out; the agent's synthesized clauses in, 20 ms μ-law
//! frames and playback marks out. No sockets, no clock: the shell feeds it frames as they
//! arrive and pulls a frame every 20 ms, so every rule here has unit tests.
//!
//! Inbound: decode → 16 kHz → VAD → [`TurnDetector`] (utterances) and [`BargeInDetector`]
//! (interruptions). While the agent's audio is heard, the caller's speech counts only once
//! it is a barge-in, so echo and a short "ok" neither stop the agent nor make a turn.
//!
//! Outbound: each utterance is a run of clauses; a clause's audio is resampled to 8 kHz
//! and queued behind a start mark (its first frame reports the utterance started) and,
//! after its last clause, an end mark the carrier echoes once played.

use std::collections::VecDeque;

use switchboard_media::g711::{mulaw_decode_into, mulaw_encode_into};
use switchboard_media::playout::PlayoutQueue;
use switchboard_media::resample::{Resampler, SampleRate, resample_all};
use switchboard_media::turn::{BargeInConfig, BargeInDetector, TurnConfig, TurnDetector, TurnEvent};
use switchboard_media::vad::{VAD_SAMPLE_RATE, VoiceDetector};

use super::clauses::{Clause, clauses};
use crate::call::UtteranceId;

/// The carrier's audio: 8 kHz G.711 μ-law.
pub const LINE_RATE: SampleRate = SampleRate::Hz8000;
/// Length of one outbound frame.
pub const FRAME_MS: u32 = 20;

const END_MARK: &str = "u";
const START_MARK: &str = "s";

/// How the line hears the caller.
#[derive(Debug, Clone, Default)]
pub struct LineConfig {
    pub turn: TurnConfig,
    pub barge_in: BargeInConfig,
}

/// What the line heard.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// The caller started speaking (or, over the agent, interrupted it).
    SpeechStarted,
    /// The caller finished an utterance: its 16 kHz audio for speech-to-text, and when
    /// its last speech ended on the line's audio clock ([`SpokenLine::heard_ms`]).
    Utterance { audio: Vec<i16>, ended_at_ms: u64 },
}

/// One frame's worth of output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outgoing {
    /// 20 ms of μ-law, or empty when only marks go out.
    pub audio: Vec<u8>,
    /// Marks for the carrier to echo once the audio before them has played.
    pub marks: Vec<String>,
    /// Utterances whose first audio is in this frame.
    pub started: Vec<UtteranceId>,
}

/// The caller's utterance in progress.
#[derive(Debug, Clone, Copy)]
struct Open {
    /// It began while the agent's audio was heard.
    over_agent: bool,
    /// `SpeechStarted` was reported for it.
    announced: bool,
}

/// An utterance of the agent from its `Say` until the carrier echoes its end mark.
#[derive(Debug)]
struct Playing {
    id: UtteranceId,
    /// Characters of its text.
    chars: usize,
    clauses: Vec<Clause>,
    /// Cumulative 8 kHz samples at the end of each clause queued so far.
    clause_ends: Vec<u64>,
    pushed: u64,
    sent: u64,
    started: bool,
}

impl Playing {
    /// Characters of the text heard once `sent` samples went out: whole clauses, then
    /// the played fraction of the clause that was cut.
    fn heard_chars(&self) -> usize {
        let mut clause_start = 0u64;
        for (clause, &end) in self.clauses.iter().zip(&self.clause_ends) {
            if self.sent >= end {
                clause_start = end;
                continue;
            }
            let len = end.saturating_sub(clause_start).max(1);
            let played = self.sent.saturating_sub(clause_start);
            let span = clause.end - clause.start;
            return clause.start + (span as u64 * played / len) as usize;
        }
        match self.clause_ends.len() {
            n if n == self.clauses.len() => self.chars,
            0 => 0,
            n => self.clauses[n - 1].end,
        }
    }
}

/// One call's spoken line.
pub struct SpokenLine {
    upsample: Resampler,
    vad: VoiceDetector,
    turn: TurnDetector,
    barge_in: BargeInDetector,
    /// 16 kHz samples heard so far: the inbound clock.
    heard_samples: u64,
    open: Option<Open>,
    playout: PlayoutQueue,
    playing: VecDeque<Playing>,
}

impl std::fmt::Debug for SpokenLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpokenLine")
            .field("heard_samples", &self.heard_samples)
            .field("playing", &self.playing)
            .finish_non_exhaustive()
    }
}

impl SpokenLine {
    pub fn new(config: LineConfig) -> Self {
        SpokenLine {
            upsample: Resampler::new(LINE_RATE, SampleRate::Hz16000),
            vad: VoiceDetector::new(),
            turn: TurnDetector::new(config.turn),
            barge_in: BargeInDetector::new(config.barge_in),
            heard_samples: 0,
            open: None,
            playout: PlayoutQueue::new(LINE_RATE.hz(), FRAME_MS),
            playing: VecDeque::new(),
        }
    }

    /// Milliseconds of caller audio heard so far.
    pub fn heard_ms(&self) -> u64 {
        self.heard_samples * 1_000 / u64::from(VAD_SAMPLE_RATE)
    }

    /// Whether the caller hears the agent now: an utterance has started and its end mark
    /// has not come back.
    pub fn agent_audible(&self) -> bool {
        self.playing.iter().any(|p| p.started)
    }

    /// Whether anything the agent was asked to say has not finished playing.
    pub fn speaking(&self) -> bool {
        !self.playing.is_empty()
    }

    /// Takes the caller's μ-law audio as it arrived.
    pub fn hear(&mut self, mulaw: &[u8]) -> Vec<Heard> {
        let mut narrow = Vec::with_capacity(mulaw.len());
        mulaw_decode_into(mulaw, &mut narrow);
        let mut wide = Vec::with_capacity(narrow.len() * 2);
        self.upsample.process(&narrow, &mut wide);
        self.heard_samples += wide.len() as u64;
        let mut frames = Vec::new();
        self.vad.push(&wide, &mut frames);
        let mut heard = Vec::new();
        let mut events = Vec::new();
        for frame in &frames {
            let audible = self.agent_audible();
            let barged = self.barge_in.push(frame, audible).is_some() && audible;
            self.turn.push(frame, &mut events);
            for event in events.drain(..) {
                match event {
                    TurnEvent::SpeechStarted { .. } => {
                        self.open = Some(Open { over_agent: audible, announced: !audible });
                        if !audible {
                            heard.push(Heard::SpeechStarted);
                        }
                    }
                    TurnEvent::SpeechEnded { at_ms, audio, .. } => {
                        let open = self.open.take();
                        // Speech that began over the agent and ended while it still
                        // talks, without interrupting it, was echo or an acknowledgement.
                        let ignored = open.is_some_and(|o| o.over_agent && !o.announced) && self.agent_audible();
                        if !ignored {
                            if !open.is_some_and(|o| o.announced) {
                                heard.push(Heard::SpeechStarted);
                            }
                            heard.push(Heard::Utterance { audio, ended_at_ms: at_ms });
                        }
                    }
                    TurnEvent::NoSpeech { .. } => {}
                }
            }
            if barged {
                match &mut self.open {
                    Some(open) if open.announced => {}
                    Some(open) => {
                        open.announced = true;
                        heard.push(Heard::SpeechStarted);
                    }
                    None => heard.push(Heard::SpeechStarted),
                }
            }
        }
        heard
    }

    /// The agent is to say `text`; returns its clauses, to be synthesized in order and
    /// handed back with [`Self::speak`]. Text with nothing to say still starts and ends.
    pub fn say(&mut self, id: UtteranceId, text: &str) -> Vec<String> {
        let parts = clauses(text);
        let texts = parts.iter().map(|c| c.text.clone()).collect();
        let empty = parts.is_empty();
        self.playing.push_back(Playing {
            id,
            chars: text.chars().count(),
            clauses: parts,
            clause_ends: Vec::new(),
            pushed: 0,
            sent: 0,
            started: false,
        });
        if empty {
            self.playout.push_mark(mark(START_MARK, id));
            self.playout.push_mark(mark(END_MARK, id));
        }
        texts
    }

    /// The audio of clause `index` of utterance `id` (empty when synthesis failed);
    /// clauses come in order. Ignored for an utterance that was stopped.
    pub fn speak(&mut self, id: UtteranceId, index: usize, samples: &[i16], rate: SampleRate) {
        let Some(playing) = self.playing.iter_mut().find(|p| p.id == id) else { return };
        if index != playing.clause_ends.len() || index >= playing.clauses.len() {
            return;
        }
        let audio = resample_all(rate, LINE_RATE, samples);
        if index == 0 {
            self.playout.push_mark(mark(START_MARK, id));
        }
        self.playout.push_audio(u64::from(id.0), &audio);
        playing.pushed += audio.len() as u64;
        playing.clause_ends.push(playing.pushed);
        if playing.clause_ends.len() == playing.clauses.len() {
            self.playout.push_mark(mark(END_MARK, id));
        }
    }

    /// The next 20 ms to send, if anything is queued.
    pub fn pull(&mut self) -> Option<Outgoing> {
        let frame = self.playout.pull_frame()?;
        let mut out = Outgoing::default();
        for name in frame.marks {
            match parse_mark(&name) {
                Some((START_MARK, id)) => {
                    if let Some(playing) = self.playing.iter_mut().find(|p| p.id == id) {
                        playing.started = true;
                    }
                    out.started.push(id);
                }
                _ => out.marks.push(name),
            }
        }
        let mut rest = frame.audio_samples as u64;
        for playing in &mut self.playing {
            let take = rest.min(playing.pushed - playing.sent);
            playing.sent += take;
            rest -= take;
            if rest == 0 {
                break;
            }
        }
        if frame.audio_samples > 0 {
            mulaw_encode_into(&frame.samples, &mut out.audio);
        }
        Some(out)
    }

    /// The carrier echoed `name`: the utterance it ends has played (and every one before it).
    pub fn played(&mut self, name: &str) -> Option<UtteranceId> {
        let (END_MARK, id) = parse_mark(name)? else { return None };
        let at = self.playing.iter().position(|p| p.id == id)?;
        self.playing.drain(..=at);
        Some(id)
    }

    /// Stops the agent at once: everything queued is dropped. Returns the utterance that
    /// was playing (or next to play) and how many of its characters were heard.
    pub fn stop(&mut self) -> (Option<UtteranceId>, usize) {
        self.playout.clear();
        let cut = self.playing.front().map(|p| (p.id, if p.started { p.heard_chars() } else { 0 }));
        self.playing.clear();
        match cut {
            Some((id, heard)) => (Some(id), heard),
            None => (None, 0),
        }
    }
}

fn mark(kind: &str, id: UtteranceId) -> String {
    format!("{kind}{}", id.0)
}

fn parse_mark(name: &str) -> Option<(&'static str, UtteranceId)> {
    let kind = [START_MARK, END_MARK].into_iter().find(|k| name.starts_with(k))?;
    let id = name[kind.len()..].parse().ok()?;
    Some((kind, UtteranceId(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: usize = 160;

    fn tone(ms: usize, rate: u32) -> Vec<i16> {
        let n = ms * rate as usize / 1000;
        (0..n).map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16).collect()
    }

    fn drain(line: &mut SpokenLine) -> Vec<Outgoing> {
        std::iter::from_fn(|| line.pull()).collect()
    }

    #[test]
    fn an_utterance_starts_with_its_first_frame_and_ends_with_its_echoed_mark() {
        let mut line = SpokenLine::new(LineConfig::default());
        let clauses = line.say(UtteranceId(1), "Hello there. How can I help?");
        assert_eq!(clauses, ["Hello there.", "How can I help?"]);
        assert!(line.pull().is_none(), "nothing to send before audio");
        line.speak(UtteranceId(1), 0, &tone(100, 8_000), SampleRate::Hz8000);
        let first = line.pull().expect("a frame");
        assert_eq!(first.started, vec![UtteranceId(1)]);
        assert_eq!(first.audio.len(), FRAME);
        assert!(line.agent_audible());
        line.speak(UtteranceId(1), 1, &tone(200, 16_000), SampleRate::Hz16000);
        let rest = drain(&mut line);
        // 100 ms + 200 ms = 15 frames in all; the end mark goes out with the last one.
        assert_eq!(rest.len(), 14);
        assert_eq!(rest.last().map(|o| o.marks.clone()), Some(vec!["u1".to_owned()]));
        assert_eq!(line.played("u7"), None);
        assert_eq!(line.played("u1"), Some(UtteranceId(1)));
        assert!(!line.speaking());
    }

    #[test]
    fn out_of_order_or_stopped_clauses_are_ignored() {
        let mut line = SpokenLine::new(LineConfig::default());
        line.say(UtteranceId(1), "One. Two.");
        line.speak(UtteranceId(1), 1, &tone(100, 8_000), SampleRate::Hz8000);
        assert!(line.pull().is_none());
        line.speak(UtteranceId(9), 0, &tone(100, 8_000), SampleRate::Hz8000);
        assert!(line.pull().is_none());
    }

    #[test]
    fn nothing_to_say_still_starts_and_ends() {
        let mut line = SpokenLine::new(LineConfig::default());
        assert!(line.say(UtteranceId(3), " ").is_empty());
        let out = line.pull().expect("marks");
        assert!(out.audio.is_empty());
        assert_eq!((out.started, out.marks), (vec![UtteranceId(3)], vec!["u3".to_owned()]));
    }

    #[test]
    fn stop_reports_the_heard_part_of_the_playing_utterance() {
        let mut line = SpokenLine::new(LineConfig::default());
        // Two clauses of 10 characters' worth each: "Aaaa bbbb." (10) + " " + "Cccc dddd." (10).
        line.say(UtteranceId(4), "Aaaa bbbb. Cccc dddd.");
        line.say(UtteranceId(5), "Later.");
        line.speak(UtteranceId(4), 0, &vec![100; 1_600], SampleRate::Hz8000);
        line.speak(UtteranceId(4), 1, &vec![100; 1_600], SampleRate::Hz8000);
        // 15 frames = 2400 samples: all of clause one and half of clause two.
        for _ in 0..15 {
            line.pull();
        }
        assert_eq!(line.stop(), (Some(UtteranceId(4)), 16));
        assert!(!line.speaking());
        assert!(line.pull().is_none(), "the queue is empty");
        assert_eq!(line.played("u4"), None, "a late echo of a stopped utterance is ignored");
        assert_eq!(line.stop(), (None, 0));
    }

    #[test]
    fn a_stop_before_the_audio_starts_heard_nothing() {
        let mut line = SpokenLine::new(LineConfig::default());
        line.say(UtteranceId(2), "Not yet synthesized.");
        assert_eq!(line.stop(), (Some(UtteranceId(2)), 0));
    }

    #[test]
    fn heard_chars_stop_at_the_last_queued_clause() {
        let mut line = SpokenLine::new(LineConfig::default());
        line.say(UtteranceId(1), "First one. Second one.");
        line.speak(UtteranceId(1), 0, &vec![1; 320], SampleRate::Hz8000);
        drain(&mut line);
        assert_eq!(line.stop(), (Some(UtteranceId(1)), 10));
    }

    /// μ-law of 16 kHz samples, as a carrier would send them.
    fn mulaw_of(samples16: &[i16]) -> Vec<u8> {
        let narrow = resample_all(SampleRate::Hz16000, SampleRate::Hz8000, samples16);
        let mut out = Vec::new();
        mulaw_encode_into(&narrow, &mut out);
        out
    }

    /// 16 kHz mono speech from the media crate's fixtures (espeak-ng).
    fn fixture(bytes: &[u8]) -> Vec<i16> {
        let wav = switchboard_media::wav::read_wav(std::io::Cursor::new(bytes)).expect("fixture");
        assert_eq!((wav.sample_rate, wav.channels), (16_000, 1));
        wav.samples
    }

    fn question() -> Vec<i16> {
        fixture(include_bytes!("../../../../../media/tests/fixtures/opening_hours.wav"))
    }

    fn ok() -> Vec<i16> {
        fixture(include_bytes!("../../../../../media/tests/fixtures/ok.wav"))
    }

    /// Feeds 1 s of silence, `speech`, then 1 s of silence as 20 ms carrier frames.
    fn hear_all(line: &mut SpokenLine, speech: &[i16]) -> Vec<Heard> {
        let mut audio = vec![0; 16_000];
        audio.extend_from_slice(speech);
        audio.extend(vec![0; 16_000]);
        mulaw_of(&audio).chunks(FRAME).flat_map(|chunk| line.hear(chunk)).collect()
    }

    /// Starts a long utterance of the agent playing.
    fn agent_playing(line: &mut SpokenLine) {
        line.say(UtteranceId(1), "A long greeting.");
        line.speak(UtteranceId(1), 0, &vec![500; 8_000 * 30], SampleRate::Hz8000);
        line.pull();
        assert!(line.agent_audible());
    }

    #[test]
    fn speech_while_the_agent_is_silent_is_an_utterance() {
        let mut line = SpokenLine::new(LineConfig::default());
        let speech = question();
        let heard = hear_all(&mut line, &speech);
        assert_eq!(heard.len(), 2, "{:?}", heard.iter().map(std::mem::discriminant).collect::<Vec<_>>());
        assert_eq!(heard[0], Heard::SpeechStarted);
        let Heard::Utterance { audio, ended_at_ms } = &heard[1] else { panic!("no utterance") };
        let speech_ms = (speech.len() / 16) as u64;
        assert!(*ended_at_ms > 1_000 && *ended_at_ms <= 1_000 + speech_ms + 50, "{ended_at_ms}");
        assert!(audio.len() > speech.len() / 2, "the utterance keeps its audio");
    }

    #[test]
    fn speech_over_the_agent_interrupts_it_and_is_still_transcribed() {
        let mut line = SpokenLine::new(LineConfig::default());
        agent_playing(&mut line);
        let heard = hear_all(&mut line, &question());
        assert_eq!(heard.first(), Some(&Heard::SpeechStarted), "barge-in");
        assert!(matches!(heard.last(), Some(Heard::Utterance { .. })));
        assert_eq!(heard.len(), 2);
    }

    #[test]
    fn a_short_ok_over_the_agent_is_not_heard() {
        let mut line = SpokenLine::new(LineConfig::default());
        agent_playing(&mut line);
        assert_eq!(hear_all(&mut line, &ok()), Vec::new());
        // The same word while the agent is silent is a turn.
        let mut quiet = SpokenLine::new(LineConfig::default());
        assert_eq!(hear_all(&mut quiet, &ok()).len(), 2);
    }

    #[test]
    fn silence_is_not_heard_and_the_clock_runs() {
        let mut line = SpokenLine::new(LineConfig::default());
        for _ in 0..50 {
            assert!(line.hear(&[0xFF; FRAME]).is_empty());
        }
        assert!((990..=1_000).contains(&line.heard_ms()), "{}", line.heard_ms());
    }

    #[test]
    fn mark_names_round_trip() {
        assert_eq!(parse_mark(&mark(END_MARK, UtteranceId(12))), Some((END_MARK, UtteranceId(12))));
        assert_eq!(parse_mark("x1"), None);
        assert_eq!(parse_mark("u"), None);
    }
}
