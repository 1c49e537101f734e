//! Voice activity detection: a speech probability for every 16 ms of 16 kHz audio, by `earshot`.
//!
//! `earshot` is a small neural VAD in pure Rust with its weights compiled in, so nothing is
//! downloaded and no native library is linked. It scores frames of exactly 256 samples
//! (16 ms at 16 kHz); [`VoiceDetector`] cuts whatever chunks a transport delivers into such
//! frames and numbers them, so the [`turn`](crate::turn) logic above it sees a steady clock.

/// The only rate the VAD works at; resample to it first.
pub const VAD_SAMPLE_RATE: u32 = 16_000;
/// Samples in one VAD frame.
pub const VAD_FRAME_SAMPLES: usize = 256;
/// Length of one VAD frame in milliseconds.
pub const VAD_FRAME_MS: u64 = 16;
/// Probability above which a frame counts as speech when nothing stricter applies
/// (earshot's own recommendation).
pub const DEFAULT_SPEECH_THRESHOLD: f32 = 0.5;

/// One scored frame of caller audio.
#[derive(Debug, Clone, PartialEq)]
pub struct VadFrame {
    /// Start of the frame, in milliseconds since the detector's stream began.
    pub at_ms: u64,
    /// Probability (0..=1) that the frame holds speech.
    pub probability: f32,
    /// The frame's 256 samples at 16 kHz, kept so the turn detector can hand the utterance on.
    pub samples: Vec<i16>,
}

impl VadFrame {
    /// Whether the frame counts as speech at `threshold`.
    pub fn is_speech(&self, threshold: f32) -> bool {
        self.probability >= threshold
    }
}

/// A voice activity detector for one audio stream (one per call and direction).
pub struct VoiceDetector {
    /// earshot keeps about 8 KiB of state; boxed so the detector is cheap to move.
    detector: Box<earshot::Detector>,
    /// Samples waiting for a full frame.
    pending: Vec<i16>,
    /// Frames scored so far: the clock of the stream.
    frames: u64,
}

impl std::fmt::Debug for VoiceDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceDetector")
            .field("pending", &self.pending.len())
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl Default for VoiceDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl VoiceDetector {
    /// A detector at the start of a stream.
    pub fn new() -> Self {
        VoiceDetector {
            detector: earshot::Detector::default_boxed(),
            pending: Vec::with_capacity(VAD_FRAME_SAMPLES),
            frames: 0,
        }
    }

    /// Scores exactly one 16 ms frame; the detector remembers context across calls.
    pub fn score(&mut self, frame: &[i16; VAD_FRAME_SAMPLES]) -> f32 {
        self.frames += 1;
        self.detector.predict_i16(frame).clamp(0.0, 1.0)
    }

    /// Takes 16 kHz samples of any length and appends a [`VadFrame`] for every full frame.
    ///
    /// Samples short of a frame wait for the next call.
    pub fn push(&mut self, samples: &[i16], out: &mut Vec<VadFrame>) {
        let mut rest = samples;
        while !rest.is_empty() {
            let wanted = VAD_FRAME_SAMPLES - self.pending.len();
            let (head, tail) = rest.split_at(wanted.min(rest.len()));
            self.pending.extend_from_slice(head);
            rest = tail;
            if let Ok(frame) = <[i16; VAD_FRAME_SAMPLES]>::try_from(self.pending.as_slice()) {
                let at_ms = self.frames * VAD_FRAME_MS;
                let probability = self.score(&frame);
                out.push(VadFrame { at_ms, probability, samples: std::mem::take(&mut self.pending) });
                self.pending.reserve(VAD_FRAME_SAMPLES);
            }
        }
    }

    /// Forgets the stream: the clock restarts at 0 and earshot's context is cleared.
    pub fn reset(&mut self) {
        self.detector.reset();
        self.pending.clear();
        self.frames = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_of_any_size_become_numbered_frames() {
        let mut detector = VoiceDetector::new();
        let mut frames = Vec::new();
        detector.push(&[0; 100], &mut frames);
        assert!(frames.is_empty());
        detector.push(&[0; 500], &mut frames);
        assert_eq!(frames.len(), 2);
        detector.push(&[0; 168], &mut frames);
        assert_eq!(frames.len(), 3);
        let times: Vec<u64> = frames.iter().map(|f| f.at_ms).collect();
        assert_eq!(times, vec![0, 16, 32]);
        assert!(frames.iter().all(|f| f.samples.len() == VAD_FRAME_SAMPLES));
    }

    #[test]
    fn silence_is_not_speech() {
        let mut detector = VoiceDetector::new();
        let mut frames = Vec::new();
        detector.push(&[0; 16_000], &mut frames);
        assert!(frames.iter().all(|f| !f.is_speech(DEFAULT_SPEECH_THRESHOLD)));
    }

    #[test]
    fn a_steady_tone_is_not_speech() {
        let tone: Vec<i16> = (0..32_000)
            .map(|i| (8_000.0 * (2.0 * std::f64::consts::PI * 1_000.0 * f64::from(i) / 16_000.0).sin()) as i16)
            .collect();
        let mut detector = VoiceDetector::new();
        let mut frames = Vec::new();
        detector.push(&tone, &mut frames);
        let speech = frames.iter().filter(|f| f.is_speech(DEFAULT_SPEECH_THRESHOLD)).count();
        assert!(speech * 10 < frames.len(), "{speech} of {} frames", frames.len());
    }

    #[test]
    fn reset_restarts_the_clock() {
        let mut detector = VoiceDetector::new();
        let mut frames = Vec::new();
        detector.push(&[0; 600], &mut frames);
        detector.reset();
        frames.clear();
        detector.push(&[0; 256], &mut frames);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].at_ms, 0);
    }
}
