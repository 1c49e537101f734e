//! The agent's outgoing audio: a queue of speech chunks and marks, pulled in fixed-size frames.
//!
//! Text-to-speech hands over audio in chunks of any length; carriers want steady frames
//! (20 ms for RTP and Twilio). [`PlayoutQueue`] holds the chunks, each tagged with the
//! utterance it belongs to, and named marks between them. The transport pulls one frame
//! per tick; a mark comes back with the frame that carried the last audio queued before
//! it, so the session learns when a sentence has gone out (Twilio and Telnyx echo such
//! marks once played). On barge-in [`PlayoutQueue::clear`] drops what is left and says how
//! much of each utterance was sent, so the transcript keeps only what the caller heard.

use std::collections::VecDeque;

/// Identifies one piece of agent speech (a reply, a clause of it) chosen by the caller.
pub type UtteranceId = u64;

#[derive(Debug)]
enum Item {
    Audio {
        utterance: UtteranceId,
        samples: Vec<i16>,
        /// Samples of `samples` already pulled.
        sent: usize,
    },
    Mark(String),
}

/// One frame for the transport to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayoutFrame {
    /// Exactly one frame of samples, the end padded with silence if the queue ran short;
    /// empty when only marks were left (there is nothing to send but the marks).
    pub samples: Vec<i16>,
    /// How many of `samples` are agent audio (the rest is padding).
    pub audio_samples: usize,
    /// Marks whose preceding audio has now all been pulled, in queue order.
    pub marks: Vec<String>,
    /// The queue is empty after this frame: the agent has finished speaking, for now.
    pub drained: bool,
}

/// How much of an utterance went out before the queue was cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtteranceProgress {
    /// The utterance.
    pub utterance: UtteranceId,
    /// Samples pushed for it.
    pub pushed_samples: u64,
    /// Samples of it pulled (sent) before the clear.
    pub played_samples: u64,
    /// `played_samples` in milliseconds.
    pub played_ms: u64,
}

/// What [`PlayoutQueue::clear`] dropped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cleared {
    /// Every utterance that had audio dropped, in queue order, with how much was played.
    pub utterances: Vec<UtteranceProgress>,
    /// Marks that will never fire now, in queue order.
    pub dropped_marks: Vec<String>,
}

/// Agent audio waiting to be sent, for one call.
#[derive(Debug)]
pub struct PlayoutQueue {
    sample_rate: u32,
    frame_samples: usize,
    items: VecDeque<Item>,
    /// (utterance, pushed, played) for utterances with queued audio and the one playing last.
    progress: Vec<(UtteranceId, u64, u64)>,
}

impl PlayoutQueue {
    /// A queue for audio at `sample_rate` pulled in frames of `frame_ms` (20 for carriers).
    pub fn new(sample_rate: u32, frame_ms: u32) -> Self {
        PlayoutQueue {
            sample_rate: sample_rate.max(1),
            frame_samples: (sample_rate as usize * frame_ms as usize / 1_000).max(1),
            items: VecDeque::new(),
            progress: Vec::new(),
        }
    }

    /// Samples in one pulled frame.
    pub fn frame_samples(&self) -> usize {
        self.frame_samples
    }

    /// Whether nothing (audio or mark) is queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Audio samples queued and not yet pulled.
    pub fn queued_samples(&self) -> usize {
        self.items
            .iter()
            .map(|item| match item {
                Item::Audio { samples, sent, .. } => samples.len() - sent,
                Item::Mark(_) => 0,
            })
            .sum()
    }

    /// Queues a chunk of an utterance's audio behind everything already queued.
    pub fn push_audio(&mut self, utterance: UtteranceId, samples: &[i16]) {
        if samples.is_empty() {
            return;
        }
        match self.progress.iter_mut().find(|(id, _, _)| *id == utterance) {
            Some((_, pushed, _)) => *pushed += samples.len() as u64,
            None => self.progress.push((utterance, samples.len() as u64, 0)),
        }
        self.items.push_back(Item::Audio { utterance, samples: samples.to_vec(), sent: 0 });
    }

    /// Queues a mark: it fires with the frame that carries the last audio queued before it.
    pub fn push_mark(&mut self, name: impl Into<String>) {
        self.items.push_back(Item::Mark(name.into()));
    }

    /// Takes the next frame to send, or `None` when nothing is queued.
    pub fn pull_frame(&mut self) -> Option<PlayoutFrame> {
        if self.items.is_empty() {
            return None;
        }
        let mut samples = Vec::with_capacity(self.frame_samples);
        let mut marks = Vec::new();
        while let Some(item) = self.items.front_mut() {
            match item {
                Item::Mark(_) => {
                    if let Some(Item::Mark(name)) = self.items.pop_front() {
                        marks.push(name);
                    }
                }
                Item::Audio { .. } if samples.len() == self.frame_samples => break,
                Item::Audio { utterance, samples: chunk, sent } => {
                    let take = (self.frame_samples - samples.len()).min(chunk.len() - *sent);
                    samples.extend_from_slice(&chunk[*sent..*sent + take]);
                    *sent += take;
                    let (utterance, finished) = (*utterance, *sent == chunk.len());
                    self.record_played(utterance, take as u64);
                    if finished {
                        self.items.pop_front();
                    }
                }
            }
        }
        let audio_samples = samples.len();
        if audio_samples > 0 {
            samples.resize(self.frame_samples, 0);
        }
        Some(PlayoutFrame { samples, audio_samples, marks, drained: self.items.is_empty() })
    }

    /// Drops everything queued (barge-in) and reports how much of each cut utterance was sent.
    pub fn clear(&mut self) -> Cleared {
        let mut cleared = Cleared::default();
        for item in self.items.drain(..) {
            match item {
                Item::Mark(name) => cleared.dropped_marks.push(name),
                Item::Audio { utterance, .. } => {
                    let seen = cleared.utterances.iter().any(|u| u.utterance == utterance);
                    if let Some(&(_, pushed, played)) = self.progress.iter().find(|(id, _, _)| *id == utterance)
                        && !seen
                    {
                        cleared.utterances.push(UtteranceProgress {
                            utterance,
                            pushed_samples: pushed,
                            played_samples: played,
                            played_ms: played * 1_000 / u64::from(self.sample_rate),
                        });
                    }
                }
            }
        }
        self.progress.clear();
        cleared
    }

    /// Counts pulled samples; utterances that are fully sent are forgotten once a later
    /// one plays (all of an earlier utterance's audio is queued before a later one's).
    fn record_played(&mut self, utterance: UtteranceId, samples: u64) {
        self.progress.retain(|&(id, pushed, played)| id == utterance || played < pushed);
        if let Some((_, _, played)) = self.progress.iter_mut().find(|(id, _, _)| *id == utterance) {
            *played += samples;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 8 kHz, 20 ms frames of 160 samples.
    fn queue() -> PlayoutQueue {
        PlayoutQueue::new(8_000, 20)
    }

    fn ramp(start: i16, len: usize) -> Vec<i16> {
        (0..len).map(|i| start + i as i16).collect()
    }

    #[test]
    fn chunks_come_out_as_contiguous_fixed_frames() {
        let mut q = queue();
        assert_eq!(q.frame_samples(), 160);
        q.push_audio(1, &ramp(0, 100));
        q.push_audio(1, &ramp(100, 300));
        let a = q.pull_frame().unwrap();
        assert_eq!(a.samples, ramp(0, 160));
        assert!(!a.drained);
        let b = q.pull_frame().unwrap();
        assert_eq!(b.samples, ramp(160, 160));
        let c = q.pull_frame().unwrap();
        // 80 samples left, padded with silence.
        assert_eq!(c.audio_samples, 80);
        assert_eq!(&c.samples[..80], &ramp(320, 80)[..]);
        assert!(c.samples[80..].iter().all(|&s| s == 0));
        assert_eq!(c.samples.len(), 160);
        assert!(c.drained);
        assert_eq!(q.pull_frame(), None);
    }

    #[test]
    fn a_mark_fires_with_the_frame_carrying_the_audio_before_it() {
        let mut q = queue();
        q.push_audio(1, &ramp(0, 200));
        q.push_mark("sentence-1");
        q.push_audio(2, &ramp(0, 200));
        q.push_mark("sentence-2");
        let first = q.pull_frame().unwrap();
        assert!(first.marks.is_empty());
        // Samples 160..200 of the first sentence and 0..120 of the second.
        let second = q.pull_frame().unwrap();
        assert_eq!(second.marks, vec!["sentence-1".to_string()]);
        assert_eq!(second.audio_samples, 160);
        // The last 80 samples, then the final mark at once: no empty frame needed for it.
        let third = q.pull_frame().unwrap();
        assert_eq!(third.audio_samples, 80);
        assert_eq!(third.marks, vec!["sentence-2".to_string()]);
        assert!(third.drained);
    }

    #[test]
    fn a_mark_with_no_audio_before_it_comes_back_alone() {
        let mut q = queue();
        q.push_mark("start");
        let frame = q.pull_frame().unwrap();
        assert!(frame.samples.is_empty());
        assert_eq!(frame.marks, vec!["start".to_string()]);
        assert!(frame.drained);
    }

    #[test]
    fn a_frame_exactly_ending_a_chunk_carries_the_mark_after_it() {
        let mut q = queue();
        q.push_audio(1, &ramp(0, 160));
        q.push_mark("end");
        let frame = q.pull_frame().unwrap();
        assert_eq!(frame.marks, vec!["end".to_string()]);
        assert!(frame.drained);
    }

    #[test]
    fn clear_reports_what_each_utterance_played() {
        let mut q = queue();
        // Utterance 7: 1 s; utterance 8: 0.5 s; marks after each.
        q.push_audio(7, &vec![1; 8_000]);
        q.push_mark("7-done");
        q.push_audio(8, &vec![2; 4_000]);
        q.push_mark("8-done");
        // 30 frames = 600 ms sent.
        for _ in 0..30 {
            let frame = q.pull_frame().unwrap();
            assert!(frame.marks.is_empty());
        }
        let cleared = q.clear();
        assert_eq!(
            cleared.utterances,
            vec![
                UtteranceProgress { utterance: 7, pushed_samples: 8_000, played_samples: 4_800, played_ms: 600 },
                UtteranceProgress { utterance: 8, pushed_samples: 4_000, played_samples: 0, played_ms: 0 },
            ]
        );
        assert_eq!(cleared.dropped_marks, vec!["7-done", "8-done"]);
        assert!(q.is_empty());
        assert_eq!(q.pull_frame(), None);
    }

    #[test]
    fn clear_counts_an_utterance_across_a_gap_in_its_audio() {
        let mut q = queue();
        // Text-to-speech slower than the call: the queue runs dry mid-utterance.
        q.push_audio(3, &vec![1; 320]);
        assert!(!q.pull_frame().unwrap().drained);
        assert!(q.pull_frame().unwrap().drained);
        q.push_audio(3, &vec![1; 800]);
        q.pull_frame();
        let cleared = q.clear();
        assert_eq!(cleared.utterances.len(), 1);
        assert_eq!(cleared.utterances[0].played_samples, 480);
        assert_eq!(cleared.utterances[0].pushed_samples, 1_120);
    }

    #[test]
    fn a_fully_played_utterance_is_not_reported_by_clear() {
        let mut q = queue();
        q.push_audio(1, &vec![1; 160]);
        q.push_audio(2, &vec![2; 800]);
        q.pull_frame();
        q.pull_frame();
        let cleared = q.clear();
        assert_eq!(cleared.utterances.len(), 1);
        assert_eq!(cleared.utterances[0].utterance, 2);
        assert_eq!(cleared.utterances[0].played_ms, 20);
    }

    #[test]
    fn queued_samples_counts_what_is_left() {
        let mut q = queue();
        q.push_audio(1, &vec![0; 500]);
        q.push_mark("m");
        q.push_audio(1, &[]);
        assert_eq!(q.queued_samples(), 500);
        q.pull_frame();
        assert_eq!(q.queued_samples(), 340);
    }
}
