//! What the agent says and what the caller heard of it: utterances queued on
//! the transport, the transcript lines they belong to, and the cut an
//! interruption makes in both. A line is final (and reported) once nothing
//! more will be added to it and everything in it has been played or cut.

use std::collections::VecDeque;

use switchboard_domain::call::{Role, TranscriptLine};

use crate::call::UtteranceId;

/// A line of the transcript, by position.
pub type LineId = usize;

/// Groups utterances for the caller (a model round's assistant message):
/// an interruption reports what was heard of each group it cut.
pub type Tag = u32;

/// An utterance handed to the transport and not yet played out.
#[derive(Debug, Clone)]
struct Queued {
    id: UtteranceId,
    line: LineId,
    /// Where this utterance's text starts in its line.
    start: usize,
    text: String,
    tag: Option<Tag>,
}

#[derive(Debug, Clone)]
struct Line {
    role: Role,
    content: String,
    timestamp: f64,
    /// More text may still be added (a reply still streaming).
    open: bool,
    /// Reported as final.
    reported: bool,
}

/// What the caller heard of one tag's utterances when an interruption cut them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    pub tag: Tag,
    pub text: String,
}

/// The transcript and the agent's speech queue of one call.
#[derive(Debug, Default)]
pub struct Speech {
    next: u32,
    queue: VecDeque<Queued>,
    lines: Vec<Line>,
    /// The transport reported playback going on.
    playing: bool,
    /// A stop was asked for and not yet answered.
    stopping: bool,
    /// Text said per tag, in order, for the history of an interrupted reply.
    said: Vec<(Tag, String)>,
}

/// The first `chars` characters of `text`, cut back to the last whole word.
pub fn heard_part(text: &str, chars: usize) -> String {
    if chars >= text.chars().count() {
        return text.to_owned();
    }
    let prefix: String = text.chars().take(chars).collect();
    let next_is_break = text.chars().nth(chars).is_some_and(char::is_whitespace);
    let whole =
        if next_is_break { prefix.as_str() } else { prefix.rsplit_once(char::is_whitespace).map_or("", |(w, _)| w) };
    whole.trim_end().to_owned()
}

impl Speech {
    /// Whether anything the agent said is still queued or playing.
    pub fn speaking(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Whether the transport reports audio going out.
    pub fn playing(&self) -> bool {
        self.playing
    }

    /// Everything said under `tag` so far, if anything was.
    pub fn said(&self, tag: Tag) -> Option<String> {
        self.said.iter().find(|(t, _)| *t == tag).map(|(_, said)| said.clone())
    }

    /// Starts a line of the agent's, open for more text.
    pub fn open_line(&mut self, timestamp: f64) -> LineId {
        self.lines.push(Line { role: Role::Assistant, content: String::new(), timestamp, open: true, reported: false });
        self.lines.len() - 1
    }

    /// Adds what the caller said as a line of its own; returns it to report.
    pub fn caller_line(&mut self, text: &str, timestamp: f64) -> TranscriptLine {
        self.lines.push(Line { role: Role::User, content: text.to_owned(), timestamp, open: false, reported: true });
        TranscriptLine { role: Role::User, content: text.to_owned(), timestamp }
    }

    /// Queues `text` as the next part of `line`; returns the utterance to send.
    pub fn say(&mut self, line: LineId, text: &str, tag: Option<Tag>) -> UtteranceId {
        let id = UtteranceId(self.next);
        self.next += 1;
        let content = &mut self.lines[line].content;
        if !content.is_empty() {
            content.push(' ');
        }
        let start = content.len();
        content.push_str(text);
        self.queue.push_back(Queued { id, line, start, text: text.to_owned(), tag });
        if let Some(tag) = tag {
            match self.said.last_mut() {
                Some((last, said)) if *last == tag => {
                    said.push(' ');
                    said.push_str(text);
                }
                _ => self.said.push((tag, text.to_owned())),
            }
        }
        id
    }

    /// No more text goes to `line`; returns it if that made it final.
    pub fn close(&mut self, line: LineId) -> Option<TranscriptLine> {
        if let Some(l) = self.lines.get_mut(line) {
            l.open = false;
        }
        self.report(line)
    }

    /// The transport started playing `id`.
    pub fn started(&mut self, _id: UtteranceId) -> bool {
        let was = self.playing;
        self.playing = true;
        !was
    }

    /// `id` played to its end; returns the lines that became final.
    pub fn finished(&mut self, id: UtteranceId) -> Vec<TranscriptLine> {
        let Some(pos) = self.queue.iter().position(|q| q.id == id) else { return Vec::new() };
        // Anything queued before it was played as well.
        let done: Vec<Queued> = self.queue.drain(..=pos).collect();
        if self.queue.is_empty() {
            self.playing = false;
        }
        let mut lines: Vec<LineId> = done.iter().map(|q| q.line).collect();
        lines.dedup();
        lines.into_iter().filter_map(|line| self.report(line)).collect()
    }

    /// Asks for a stop; false when there is nothing to stop.
    pub fn stop(&mut self) -> bool {
        if self.queue.is_empty() || self.stopping {
            return false;
        }
        self.stopping = true;
        true
    }

    /// The transport stopped: `utterance` was heard for `heard_chars`
    /// characters and everything after it not at all. Returns the lines that
    /// became final and what was heard of each tag the cut touched.
    pub fn stopped(&mut self, utterance: Option<UtteranceId>, heard_chars: usize) -> (Vec<TranscriptLine>, Vec<Heard>) {
        self.stopping = false;
        self.playing = false;
        let pos = utterance.and_then(|id| self.queue.iter().position(|q| q.id == id));
        // Utterances before the one cut were played in full.
        let played: Vec<LineId> = self.queue.drain(..pos.unwrap_or(0)).map(|q| q.line).collect();
        let cut: Vec<Queued> = self.queue.drain(..).collect();
        let partial = if pos.is_some() { heard_chars } else { 0 };
        let mut heard: Vec<Heard> = Vec::new();
        let mut touched: Vec<LineId> = Vec::new();
        for (i, queued) in cut.iter().enumerate() {
            let kept = if i == 0 { heard_part(&queued.text, partial) } else { String::new() };
            if !touched.contains(&queued.line) {
                touched.push(queued.line);
                let line = &mut self.lines[queued.line];
                line.content.truncate(queued.start);
                line.content = format!("{} {kept}", line.content.trim_end()).trim().to_owned();
                line.open = false;
            }
            if let Some(tag) = queued.tag {
                self.unsay(tag, &queued.text, &kept);
                if !heard.iter().any(|h| h.tag == tag) {
                    heard.push(Heard { tag, text: String::new() });
                }
            }
        }
        for h in &mut heard {
            h.text = self.said.iter().find(|(t, _)| *t == h.tag).map(|(_, s)| s.clone()).unwrap_or_default();
        }
        for line in played {
            if !touched.contains(&line) {
                touched.push(line);
            }
        }
        touched.sort_unstable();
        let lines = touched.into_iter().filter_map(|line| self.report(line)).collect();
        (lines, heard)
    }

    /// Takes `text` (said under `tag`) back out of what was said, keeping `kept`.
    fn unsay(&mut self, tag: Tag, text: &str, kept: &str) {
        if let Some((_, said)) = self.said.iter_mut().find(|(t, _)| *t == tag)
            && let Some(at) = said.rfind(text)
        {
            said.truncate(at);
            let rest = format!("{} {kept}", said.trim_end());
            *said = rest.trim().to_owned();
        }
    }

    /// Reports `line` if it is final now and was not reported before.
    fn report(&mut self, line: LineId) -> Option<TranscriptLine> {
        let pending = self.queue.iter().any(|q| q.line == line);
        let l = self.lines.get_mut(line)?;
        if l.reported || l.open || pending || l.content.is_empty() {
            return None;
        }
        l.reported = true;
        Some(TranscriptLine { role: l.role, content: l.content.clone(), timestamp: l.timestamp })
    }

    /// The call ended: every line stands as said (a hang-up leaves no report of
    /// how much was heard). Returns the lines not reported before.
    pub fn end(&mut self) -> Vec<TranscriptLine> {
        self.queue.clear();
        self.playing = false;
        (0..self.lines.len())
            .filter_map(|line| {
                self.lines[line].open = false;
                self.report(line)
            })
            .collect()
    }

    /// The transcript: every line with something in it, in order.
    pub fn transcript(&self) -> Vec<TranscriptLine> {
        self.lines
            .iter()
            .filter(|l| !l.content.is_empty())
            .map(|l| TranscriptLine { role: l.role, content: l.content.clone(), timestamp: l.timestamp })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heard_parts_end_on_whole_words() {
        assert_eq!(heard_part("Your policy covers water damage.", 13), "Your policy");
        assert_eq!(heard_part("Your policy covers water damage.", 11), "Your policy");
        assert_eq!(heard_part("Your policy covers water damage.", 10), "Your");
        assert_eq!(heard_part("Your policy", 99), "Your policy");
        assert_eq!(heard_part("Hello", 2), "");
    }

    #[test]
    fn a_line_is_reported_once_it_is_closed_and_played() {
        let mut speech = Speech::default();
        let line = speech.open_line(1.0);
        let a = speech.say(line, "First sentence here.", None);
        let b = speech.say(line, "Second one.", None);
        assert!(speech.speaking());
        assert!(speech.finished(a).is_empty(), "still open and still playing");
        assert!(speech.close(line).is_none(), "the second part still plays");
        let done = speech.finished(b);
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].content, "First sentence here. Second one.");
        assert!(!speech.speaking());
    }

    #[test]
    fn an_interruption_keeps_what_was_heard_and_drops_the_rest() {
        let mut speech = Speech::default();
        let reply = speech.open_line(2.0);
        let a = speech.say(reply, "Your policy covers water damage.", Some(7));
        speech.say(reply, "It also covers fire.", Some(7));
        let menu = speech.open_line(3.0);
        speech.say(menu, "Press one for sales.", None);
        speech.close(menu);
        assert!(speech.stop());
        assert!(!speech.stop(), "one stop at a time");
        let (lines, heard) = speech.stopped(Some(a), 13);
        assert_eq!(lines.len(), 1, "the menu line was never heard: {lines:?}");
        assert_eq!(lines[0].content, "Your policy");
        assert_eq!(heard, vec![Heard { tag: 7, text: "Your policy".into() }]);
        assert!(!speech.speaking());
        assert_eq!(speech.transcript().len(), 1);
    }

    #[test]
    fn a_stop_after_playback_ended_changes_nothing() {
        let mut speech = Speech::default();
        let line = speech.open_line(0.0);
        let a = speech.say(line, "Hello there.", None);
        speech.close(line);
        assert_eq!(speech.finished(a).len(), 1);
        let (lines, heard) = speech.stopped(None, 0);
        assert!(lines.is_empty() && heard.is_empty());
        assert_eq!(speech.transcript()[0].content, "Hello there.");
    }

    #[test]
    fn the_end_of_a_call_reports_what_was_still_playing() {
        let mut speech = Speech::default();
        speech.caller_line("Hi", 0.5);
        let line = speech.open_line(1.0);
        speech.say(line, "Goodbye then.", None);
        let rest = speech.end();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].content, "Goodbye then.");
        assert_eq!(speech.transcript().len(), 2);
    }
}
