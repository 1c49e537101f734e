//! DTMF key presses: RFC 4733 telephone-event packets and in-band tones found by Goertzel filters.
//!
//! SIP peers usually send key presses as RTP telephone-event packets (RFC 4733, formerly
//! RFC 2833): a 4-byte payload repeated while the key is held, its last packet sent three
//! times with the end bit. [`TelephoneEventReceiver`] turns that stream into one digit per
//! press. Some peers leave the tones in the audio instead; [`DtmfDetector`] finds them in
//! 8 kHz PCM with the standard row/column frequencies, a level floor, twist limits and a
//! check that the two tones carry most of the energy (so speech and noise do not count).

use crate::{Error, Result};

/// The sixteen DTMF keys in RFC 4733 event order (events 0–15).
const DIGITS: [char; 16] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D'];

/// The digit of an RFC 4733 event code (0–15), if it is a DTMF key.
pub fn event_to_digit(event: u8) -> Option<char> {
    DIGITS.get(usize::from(event)).copied()
}

/// The RFC 4733 event code of a DTMF key (`0`–`9`, `*`, `#`, `A`–`D`, case-insensitive).
pub fn digit_to_event(digit: char) -> Option<u8> {
    let digit = digit.to_ascii_uppercase();
    DIGITS.iter().position(|&d| d == digit).map(|i| i as u8)
}

/// One RFC 4733 telephone-event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code: 0–15 are the DTMF keys.
    pub event: u8,
    /// Set on the last packets of the event.
    pub end: bool,
    /// Power level in -dBm0 (0–63; larger is quieter).
    pub volume: u8,
    /// Duration so far, in RTP timestamp units (samples at the payload's clock rate).
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first 4 bytes of an RTP payload (longer payloads carry padding or
    /// redundancy that one event does not need).
    pub fn parse(payload: &[u8]) -> Result<Self> {
        let [event, flags, high, low, ..] = *payload else {
            return Err(Error::ShortTelephoneEvent(payload.len()));
        };
        Ok(TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([high, low]),
        })
    }

    /// The 4-byte payload (the reserved bit is zero; volume is cut to its 6 bits).
    pub fn to_bytes(&self) -> [u8; 4] {
        let flags = if self.end { 0x80 } else { 0 } | (self.volume & 0x3F);
        let [high, low] = self.duration.to_be_bytes();
        [self.event, flags, high, low]
    }

    /// The DTMF key this event stands for, if any.
    pub fn digit(&self) -> Option<char> {
        event_to_digit(self.event)
    }
}

/// A key press, reported once however many packets carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPress {
    /// The key.
    pub digit: char,
    /// How long it was held, in RTP timestamp units (as far as seen if its end packets were lost).
    pub duration: u16,
}

/// Turns the repeated telephone-event packets of one RTP stream into one [`KeyPress`] each.
///
/// All packets of one press share the RTP timestamp of its start (RFC 4733 §2.5.1), so
/// the timestamp tells presses apart; a press whose end packets were all lost is reported
/// when the next press begins.
#[derive(Debug, Default)]
pub struct TelephoneEventReceiver {
    /// The press being received: its timestamp, event, last duration, and whether reported.
    current: Option<(u32, TelephoneEvent, bool)>,
}

impl TelephoneEventReceiver {
    /// A receiver that has seen no packet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one packet (its RTP timestamp and payload), appending finished presses to `out`.
    pub fn push(&mut self, rtp_timestamp: u32, event: TelephoneEvent, out: &mut Vec<KeyPress>) {
        match &mut self.current {
            Some((timestamp, current, reported)) if *timestamp == rtp_timestamp => {
                if !*reported {
                    current.duration = current.duration.max(event.duration);
                    if event.end {
                        *reported = true;
                        out.extend(press(current, current.duration));
                    }
                }
                return;
            }
            Some((_, previous, false)) => out.extend(press(previous, previous.duration)),
            _ => {}
        }
        self.current = Some((rtp_timestamp, event, event.end));
        if event.end {
            out.extend(press(&event, event.duration));
        }
    }
}

fn press(event: &TelephoneEvent, duration: u16) -> Option<KeyPress> {
    event.digit().map(|digit| KeyPress { digit, duration })
}

/// Sample rate the in-band detector works at.
pub const DTMF_SAMPLE_RATE: u32 = 8_000;
/// Samples per analysis block: 205 at 8 kHz puts every DTMF frequency near a filter bin.
const BLOCK: usize = 205;
const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLUMNS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
/// Keys by row and column.
const KEYPAD: [[char; 4]; 4] = [['1', '2', '3', 'A'], ['4', '5', '6', 'B'], ['7', '8', '9', 'C'], ['*', '0', '#', 'D']];

/// Thresholds of the in-band detector.
#[derive(Debug, Clone, PartialEq)]
pub struct DtmfDetectorConfig {
    /// Each tone's amplitude must reach this (in 16-bit sample units; 700 ≈ -30 dBm0).
    pub min_amplitude: f32,
    /// How much weaker (dB) the column tone may be than the row tone ("normal twist").
    pub max_normal_twist_db: f32,
    /// How much weaker (dB) the row tone may be than the column tone ("reverse twist").
    pub max_reverse_twist_db: f32,
    /// The strongest tone of each group must beat the group's others by this much (dB).
    pub min_group_margin_db: f32,
    /// Share of the block's energy the two tones must carry.
    pub min_tone_energy_share: f32,
}

impl Default for DtmfDetectorConfig {
    fn default() -> Self {
        DtmfDetectorConfig {
            min_amplitude: 700.0,
            max_normal_twist_db: 8.0,
            max_reverse_twist_db: 4.0,
            min_group_margin_db: 6.0,
            min_tone_energy_share: 0.7,
        }
    }
}

/// A key found in the audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectedDigit {
    /// The key.
    pub digit: char,
    /// Sample (since the detector began) where the first block holding it starts.
    pub at_sample: u64,
}

/// Finds DTMF tones in an 8 kHz PCM stream.
///
/// A key is reported when two consecutive 25.6 ms blocks hold it (so tones of about
/// 50 ms and longer, as keypads send, are found), and again only after a block without it.
#[derive(Debug)]
pub struct DtmfDetector {
    config: DtmfDetectorConfig,
    block: Vec<f32>,
    /// Start sample of the block being filled.
    block_start: u64,
    /// The previous block's key and its start.
    previous: Option<(char, u64)>,
    /// The key already reported for the tone still sounding.
    active: Option<char>,
}

impl DtmfDetector {
    /// A detector at the start of a stream.
    pub fn new(config: DtmfDetectorConfig) -> Self {
        DtmfDetector { config, block: Vec::with_capacity(BLOCK), block_start: 0, previous: None, active: None }
    }

    /// Takes 8 kHz samples of any length, appending the keys found to `out`.
    pub fn push(&mut self, samples: &[i16], out: &mut Vec<DetectedDigit>) {
        for &sample in samples {
            self.block.push(f32::from(sample));
            if self.block.len() == BLOCK {
                let found = self.classify_block();
                let start = self.block_start;
                self.block.clear();
                self.block_start += BLOCK as u64;
                match (found, self.previous) {
                    (Some(digit), Some((previous, previous_start)))
                        if digit == previous && self.active != Some(digit) =>
                    {
                        self.active = Some(digit);
                        out.push(DetectedDigit { digit, at_sample: previous_start });
                    }
                    (None, _) => self.active = None,
                    _ => {}
                }
                self.previous = found.map(|digit| (digit, start));
            }
        }
    }

    /// The key held by the current block, if it passes every check.
    fn classify_block(&self) -> Option<char> {
        let rows = ROWS.map(|f| goertzel_power(&self.block, f, DTMF_SAMPLE_RATE));
        let columns = COLUMNS.map(|f| goertzel_power(&self.block, f, DTMF_SAMPLE_RATE));
        let (row, row_power) = strongest(&rows)?;
        let (column, column_power) = strongest(&columns)?;

        // Goertzel power of a sine of amplitude A is A²/4.
        let floor = self.config.min_amplitude * self.config.min_amplitude / 4.0;
        if row_power < floor || column_power < floor {
            return None;
        }
        let twist_db = 10.0 * (row_power / column_power).log10();
        if twist_db > self.config.max_normal_twist_db || -twist_db > self.config.max_reverse_twist_db {
            return None;
        }
        let margin = 10f32.powf(self.config.min_group_margin_db / 10.0);
        let clear_winner = |powers: &[f32; 4], best: usize| {
            powers.iter().enumerate().all(|(i, &p)| i == best || p * margin <= powers[best])
        };
        if !clear_winner(&rows, row) || !clear_winner(&columns, column) {
            return None;
        }
        // A sine of amplitude A has mean energy A²/2 = 2 × its Goertzel power.
        let energy = self.block.iter().map(|s| s * s).sum::<f32>() / BLOCK as f32;
        if 2.0 * (row_power + column_power) < self.config.min_tone_energy_share * energy {
            return None;
        }
        Some(KEYPAD[row][column])
    }
}

fn strongest(powers: &[f32; 4]) -> Option<(usize, f32)> {
    powers.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1))
}

/// Power of one frequency in a block (Goertzel's algorithm), scaled so that a sine of
/// amplitude `A` at that frequency gives about `A² / 4`.
pub fn goertzel_power(samples: &[f32], frequency: f32, sample_rate: u32) -> f32 {
    let coefficient = 2.0 * (std::f32::consts::TAU * frequency / sample_rate as f32).cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in samples {
        let s = x + coefficient * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let n = samples.len().max(1) as f32;
    (s1 * s1 + s2 * s2 - coefficient * s1 * s2) / (n * n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A key's two tones at `row_amp` and `column_amp`, `ms` long, at 8 kHz.
    fn tones(digit: char, ms: usize, row_amp: f32, column_amp: f32) -> Vec<i16> {
        let (row, column) = KEYPAD
            .iter()
            .enumerate()
            .find_map(|(r, keys)| keys.iter().position(|&k| k == digit).map(|c| (r, c)))
            .unwrap();
        (0..ms * 8)
            .map(|i| {
                let t = i as f32 / 8_000.0;
                let v = row_amp * (std::f32::consts::TAU * ROWS[row] * t).sin()
                    + column_amp * (std::f32::consts::TAU * COLUMNS[column] * t).sin();
                v as i16
            })
            .collect()
    }

    /// Deterministic white noise of roughly the given amplitude.
    fn noise(len: usize, amplitude: f32, seed: u64) -> Vec<i16> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let unit = (state >> 33) as f32 / (1u64 << 31) as f32 * 2.0 - 1.0;
                (unit * amplitude) as i16
            })
            .collect()
    }

    fn detect(samples: &[i16]) -> String {
        let mut detector = DtmfDetector::new(DtmfDetectorConfig::default());
        let mut out = Vec::new();
        // Odd-sized chunks, as packets would arrive.
        for chunk in samples.chunks(173) {
            detector.push(chunk, &mut out);
        }
        out.iter().map(|d| d.digit).collect()
    }

    #[test]
    fn every_key_is_found_in_a_dialled_sequence() {
        let sequence = "123A456B789C*0#D";
        let mut audio = vec![0i16; 400];
        for digit in sequence.chars() {
            audio.extend(tones(digit, 80, 6_000.0, 5_000.0));
            audio.extend(vec![0i16; 480]);
        }
        assert_eq!(detect(&audio), sequence);
    }

    #[test]
    fn keys_are_found_under_noise_and_at_a_low_level() {
        let mut audio = tones('5', 100, 2_000.0, 2_000.0);
        audio.extend(vec![0i16; 400]);
        audio.extend(tones('5', 100, 2_000.0, 2_000.0));
        let noisy: Vec<i16> =
            audio.iter().zip(noise(audio.len(), 300.0, 7)).map(|(a, n)| a.saturating_add(n)).collect();
        assert_eq!(detect(&noisy), "55");
    }

    #[test]
    fn a_long_press_is_one_key_and_its_start_is_reported() {
        let mut audio = vec![0i16; 1_000];
        audio.extend(tones('#', 600, 6_000.0, 6_000.0));
        let mut detector = DtmfDetector::new(DtmfDetectorConfig::default());
        let mut out = Vec::new();
        detector.push(&audio, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].digit, '#');
        // The first full block of tone starts within a block of where the tone does.
        assert!(out[0].at_sample >= 1_000 && out[0].at_sample < 1_000 + 2 * BLOCK as u64);
    }

    #[test]
    fn noise_single_tones_and_bad_twist_are_not_keys() {
        assert_eq!(detect(&noise(16_000, 8_000.0, 1)), "");
        // One tone alone (a dial tone's 697 Hz half).
        assert_eq!(detect(&tones('1', 300, 6_000.0, 0.0)), "");
        // The row 10 dB under the column: beyond the reverse twist limit.
        assert_eq!(detect(&tones('1', 300, 6_000.0 / 3.16, 6_000.0)), "");
        // Too quiet.
        assert_eq!(detect(&tones('1', 300, 200.0, 200.0)), "");
        // Tones over loud noise: the tones carry too little of the energy.
        let buried: Vec<i16> = tones('9', 300, 1_000.0, 1_000.0)
            .iter()
            .zip(noise(2_400, 12_000.0, 3))
            .map(|(a, n)| a.saturating_add(n))
            .collect();
        assert_eq!(detect(&buried), "");
    }

    #[test]
    fn a_tone_shorter_than_two_blocks_is_not_a_key() {
        assert_eq!(detect(&tones('7', 30, 6_000.0, 6_000.0)), "");
    }

    #[test]
    fn payloads_parse_and_encode() {
        // Event 5, end bit, volume 10, duration 800.
        let bytes = [5, 0x8A, 0x03, 0x20];
        let event = TelephoneEvent::parse(&bytes).unwrap();
        assert_eq!(event, TelephoneEvent { event: 5, end: true, volume: 10, duration: 800 });
        assert_eq!(event.to_bytes(), bytes);
        assert_eq!(event.digit(), Some('5'));
        // The reserved bit is ignored; trailing bytes too.
        assert_eq!(TelephoneEvent::parse(&[11, 0x4A, 0, 1, 9]).unwrap().volume, 10);
        assert!(matches!(TelephoneEvent::parse(&[1, 2, 3]), Err(Error::ShortTelephoneEvent(3))));
        assert_eq!(event_to_digit(16), None);
        assert_eq!(digit_to_event('#'), Some(11));
        assert_eq!(digit_to_event('d'), Some(15));
        assert_eq!(digit_to_event('x'), None);
    }

    /// The packets a sender emits for one press: updates, then the end three times.
    fn press_packets(event: u8, updates: u16) -> Vec<TelephoneEvent> {
        let mut packets: Vec<TelephoneEvent> =
            (1..=updates).map(|i| TelephoneEvent { event, end: false, volume: 10, duration: i * 160 }).collect();
        for _ in 0..3 {
            packets.push(TelephoneEvent { event, end: true, volume: 10, duration: (updates + 1) * 160 });
        }
        packets
    }

    #[test]
    fn repeated_end_packets_make_one_press() {
        let mut receiver = TelephoneEventReceiver::new();
        let mut out = Vec::new();
        for packet in press_packets(1, 5) {
            receiver.push(16_000, packet, &mut out);
        }
        for packet in press_packets(1, 3) {
            receiver.push(24_000, packet, &mut out);
        }
        assert_eq!(out, vec![KeyPress { digit: '1', duration: 960 }, KeyPress { digit: '1', duration: 640 }]);
    }

    #[test]
    fn a_press_whose_end_was_lost_is_reported_when_the_next_begins() {
        let mut receiver = TelephoneEventReceiver::new();
        let mut out = Vec::new();
        for packet in press_packets(9, 4).into_iter().take(4) {
            receiver.push(100, packet, &mut out);
        }
        assert!(out.is_empty());
        receiver.push(900, press_packets(0, 1)[0], &mut out);
        assert_eq!(out, vec![KeyPress { digit: '9', duration: 640 }]);
    }

    proptest! {
        #[test]
        fn any_payload_round_trips(event in any::<u8>(), end in any::<bool>(), volume in 0u8..64, duration in any::<u16>()) {
            let original = TelephoneEvent { event, end, volume, duration };
            prop_assert_eq!(TelephoneEvent::parse(&original.to_bytes()).unwrap(), original);
        }

        #[test]
        fn every_press_is_reported_once_whatever_is_repeated(
            digits in proptest::collection::vec(0u8..16, 1..12),
            repeats in proptest::collection::vec(1usize..4, 12),
        ) {
            let mut receiver = TelephoneEventReceiver::new();
            let mut out = Vec::new();
            for (i, &digit) in digits.iter().enumerate() {
                for packet in press_packets(digit, 3) {
                    // Duplicated packets (network retransmission) change nothing.
                    for _ in 0..repeats[i] {
                        receiver.push(i as u32 * 4_000, packet, &mut out);
                    }
                }
            }
            let got: Vec<char> = out.iter().map(|p| p.digit).collect();
            let want: Vec<char> = digits.iter().filter_map(|&d| event_to_digit(d)).collect();
            prop_assert_eq!(got, want);
        }
    }
}
