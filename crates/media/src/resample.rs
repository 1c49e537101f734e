//! Streaming sample-rate conversion between the telephone and speech rates (8, 16, 22.05, 24 kHz).
//!
//! Carriers deliver 8 kHz, the VAD and speech-to-text want 16 kHz, and text-to-speech
//! engines answer at 16, 22.05 or 24 kHz. [`Resampler`] is a polyphase windowed-sinc
//! (Kaiser window) converter for the exact rational ratio between two of those rates.
//!
//! It is written here rather than taken from `rubato` because transports hand over chunks
//! of any size (20 ms RTP packets, whatever a WebSocket frame held): this converter takes
//! any chunk, keeps the filter history across chunks, and its output depends only on the
//! samples, never on how they were split. `rubato` works on fixed-size chunks of its own,
//! which would need another buffering layer and add up to a chunk of latency.
//!
//! Output sample `n` is the input signal at time `n / output_rate`: the converter adds no
//! time shift, it only holds back the last few milliseconds of input (the filter's half
//! width, [`Resampler::lookahead`]) until the samples after them arrive or the stream ends.

/// A sample rate the pipeline converts between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleRate {
    /// G.711 telephony: Twilio, Telnyx, SIP.
    Hz8000,
    /// The VAD's and speech-to-text's rate; browser calls.
    Hz16000,
    /// espeak-ng and piper voices.
    Hz22050,
    /// OpenAI-compatible text-to-speech (`pcm` responses).
    Hz24000,
}

impl SampleRate {
    /// The rate in samples per second.
    pub const fn hz(self) -> u32 {
        match self {
            SampleRate::Hz8000 => 8_000,
            SampleRate::Hz16000 => 16_000,
            SampleRate::Hz22050 => 22_050,
            SampleRate::Hz24000 => 24_000,
        }
    }

    /// The rate for a number of samples per second, if the pipeline supports it.
    pub const fn from_hz(hz: u32) -> Option<Self> {
        match hz {
            8_000 => Some(SampleRate::Hz8000),
            16_000 => Some(SampleRate::Hz16000),
            22_050 => Some(SampleRate::Hz22050),
            24_000 => Some(SampleRate::Hz24000),
            _ => None,
        }
    }
}

/// Zero crossings of the sinc kept on each side of the centre, at the lower of the two rates.
const ZERO_CROSSINGS: f64 = 16.0;
/// Cut-off as a fraction of the lower rate's Nyquist frequency: the filter's transition band
/// sits just below it, so little folds back.
const ROLLOFF: f64 = 0.9;
/// Kaiser window shape: about 70 dB stop-band attenuation.
const KAISER_BETA: f64 = 7.0;

/// A streaming mono 16-bit resampler from one [`SampleRate`] to another.
///
/// Feed chunks with [`Resampler::process`]; end the stream with [`Resampler::finish`] to
/// get the last samples. One resampler per direction per call.
#[derive(Debug, Clone)]
pub struct Resampler {
    /// Output samples per `down` input samples (the reduced ratio).
    up: u64,
    down: u64,
    /// Filter taps on each side of the centre, in input samples.
    half: usize,
    /// `up` phases × `2 * half` coefficients; phase `p` is for the fractional position `p / up`.
    taps: Vec<f32>,
    /// Input samples from absolute index `history_start` on.
    history: Vec<f32>,
    history_start: u64,
    /// Input samples received so far.
    received: u64,
    /// Index of the next output sample.
    next_output: u64,
}

impl Resampler {
    /// A resampler converting `from` to `to`; with equal rates it copies samples through.
    pub fn new(from: SampleRate, to: SampleRate) -> Self {
        let (from_hz, to_hz) = (u64::from(from.hz()), u64::from(to.hz()));
        let divisor = gcd(from_hz, to_hz);
        let (up, down) = (to_hz / divisor, from_hz / divisor);
        if up == down {
            return Resampler {
                up: 1,
                down: 1,
                half: 0,
                taps: Vec::new(),
                history: Vec::new(),
                history_start: 0,
                received: 0,
                next_output: 0,
            };
        }
        // Cut-off relative to the input's sample rate (1.0 = input Nyquist).
        let cutoff = ROLLOFF * (up as f64 / down as f64).min(1.0);
        let half = (ZERO_CROSSINGS / cutoff).ceil() as usize;
        let width = 2 * half;
        let mut taps = Vec::with_capacity(up as usize * width);
        for phase in 0..up {
            let fraction = phase as f64 / up as f64;
            let start = taps.len();
            for j in 0..width {
                // Distance from the output instant to input sample `i + j + 1 - half`.
                let distance = j as f64 + 1.0 - half as f64 - fraction;
                taps.push(cutoff * sinc(cutoff * distance) * kaiser(distance / half as f64));
            }
            // Each phase sums to one, so a constant signal passes unchanged.
            let sum: f64 = taps[start..].iter().sum();
            for tap in &mut taps[start..] {
                *tap /= sum;
            }
        }
        Resampler {
            up,
            down,
            half,
            taps: taps.into_iter().map(|t| t as f32).collect(),
            history: Vec::new(),
            history_start: 0,
            received: 0,
            next_output: 0,
        }
    }

    /// Input samples held back until later input arrives: the added latency, at the input rate.
    pub fn lookahead(&self) -> usize {
        self.half
    }

    /// Resamples a chunk of input, appending every output sample that is now complete to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        if self.up == self.down {
            out.extend_from_slice(input);
            return;
        }
        self.history.extend(input.iter().map(|&s| f32::from(s)));
        self.received += input.len() as u64;
        self.emit(self.received, out);
        self.forget_consumed();
    }

    /// Ends the stream: appends the output for the last input samples, as if silence followed.
    ///
    /// In total the stream yields `ceil(input_len × to / from)` samples.
    pub fn finish(mut self, out: &mut Vec<i16>) {
        if self.up == self.down {
            return;
        }
        let total = (self.received * self.up).div_ceil(self.down);
        // Pretend the silence after the end has arrived, and stop at the last real instant.
        let padded = self.received + self.half as u64;
        self.history.resize(self.history.len() + self.half, 0.0);
        while self.next_output < total {
            let before = self.next_output;
            self.emit_one_if_ready(padded, out);
            if self.next_output == before {
                break;
            }
        }
    }

    /// Emits outputs while their input window ends within `available` input samples.
    fn emit(&mut self, available: u64, out: &mut Vec<i16>) {
        loop {
            let before = self.next_output;
            self.emit_one_if_ready(available, out);
            if self.next_output == before {
                return;
            }
        }
    }

    fn emit_one_if_ready(&mut self, available: u64, out: &mut Vec<i16>) {
        let position = self.next_output * self.down;
        let index = position / self.up;
        let phase = (position % self.up) as usize;
        let half = self.half as u64;
        if index + half >= available {
            return;
        }
        let width = 2 * self.half;
        let coefficients = &self.taps[phase * width..(phase + 1) * width];
        // Window covers input indices index + 1 - half ..= index + half; before 0 is silence.
        let first = (index + 1).saturating_sub(half);
        let skipped = (first + half - 1 - index) as usize;
        let offset = (first - self.history_start) as usize;
        let samples = &self.history[offset..offset + width - skipped];
        let acc: f32 = coefficients[skipped..].iter().zip(samples).map(|(c, s)| c * s).sum();
        out.push(acc.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16);
        self.next_output += 1;
    }

    /// Drops input samples no future output needs.
    fn forget_consumed(&mut self) {
        let index = self.next_output * self.down / self.up;
        let keep_from = (index + 1).saturating_sub(self.half as u64);
        if keep_from > self.history_start {
            let drop = (keep_from - self.history_start) as usize;
            self.history.drain(..drop.min(self.history.len()));
            self.history_start = keep_from;
        }
    }
}

/// Resamples a whole clip in one call (start and end of stream included).
pub fn resample_all(from: SampleRate, to: SampleRate, input: &[i16]) -> Vec<i16> {
    let mut resampler = Resampler::new(from, to);
    let mut out = Vec::with_capacity(input.len() * to.hz() as usize / from.hz() as usize + 1);
    resampler.process(input, &mut out);
    resampler.finish(&mut out);
    out
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}

/// Kaiser window at `x` in [-1, 1] (zero outside).
fn kaiser(x: f64) -> f64 {
    if x.abs() >= 1.0 {
        return 0.0;
    }
    bessel_i0(KAISER_BETA * (1.0 - x * x).sqrt()) / bessel_i0(KAISER_BETA)
}

/// Modified Bessel function of the first kind, order 0, by its power series.
fn bessel_i0(x: f64) -> f64 {
    let quarter_square = x * x / 4.0;
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..64 {
        term *= quarter_square / (k * k) as f64;
        sum += term;
        if term < sum * 1e-16 {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL: [SampleRate; 4] = [SampleRate::Hz8000, SampleRate::Hz16000, SampleRate::Hz22050, SampleRate::Hz24000];

    fn sine(freq: f64, rate: SampleRate, seconds: f64, amplitude: f64) -> Vec<i16> {
        let n = (f64::from(rate.hz()) * seconds) as usize;
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate.hz());
                (amplitude * (2.0 * std::f64::consts::PI * freq * t).sin()).round() as i16
            })
            .collect()
    }

    /// Power of one frequency in a block (Goertzel), normalised to the square of the amplitude / 4.
    fn goertzel(samples: &[i16], freq: f64, rate: SampleRate) -> f64 {
        let coefficient = 2.0 * (2.0 * std::f64::consts::PI * freq / f64::from(rate.hz())).cos();
        let (mut s1, mut s2) = (0.0, 0.0);
        for &x in samples {
            let s = f64::from(x) + coefficient * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let n = samples.len() as f64;
        (s1 * s1 + s2 * s2 - coefficient * s1 * s2) / (n * n)
    }

    fn rms(samples: &[i16]) -> f64 {
        (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
    }

    /// The middle of a clip, away from the edges where the signal starts and stops.
    fn middle(samples: &[i16]) -> &[i16] {
        let edge = samples.len() / 8;
        &samples[edge..samples.len() - edge]
    }

    fn zero_crossings(samples: &[i16]) -> usize {
        samples.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count()
    }

    /// The clip keeps a 440 Hz tone: same frequency (zero crossings and Goertzel) and amplitude.
    fn assert_is_440(samples: &[i16], rate: SampleRate, amplitude: f64) {
        let mid = middle(samples);
        let seconds = mid.len() as f64 / f64::from(rate.hz());
        let crossings = zero_crossings(mid) as f64;
        assert!((crossings / seconds - 880.0).abs() < 10.0, "{crossings} crossings in {seconds} s");
        let target = goertzel(mid, 440.0, rate);
        for other in [400.0, 480.0, 880.0, 1320.0] {
            assert!(target > 100.0 * goertzel(mid, other, rate), "{other} Hz too strong");
        }
        let expected_rms = amplitude / 2f64.sqrt();
        assert!((rms(mid) - expected_rms).abs() < expected_rms * 0.02, "rms {} vs {expected_rms}", rms(mid));
    }

    #[test]
    fn a_tone_survives_8k_to_16k_and_back() {
        let input = sine(440.0, SampleRate::Hz8000, 1.0, 10_000.0);
        let up = resample_all(SampleRate::Hz8000, SampleRate::Hz16000, &input);
        assert_eq!(up.len(), 2 * input.len());
        assert_is_440(&up, SampleRate::Hz16000, 10_000.0);
        let down = resample_all(SampleRate::Hz16000, SampleRate::Hz8000, &up);
        assert_eq!(down.len(), input.len());
        assert_is_440(&down, SampleRate::Hz8000, 10_000.0);
        // Back where it started, sample for sample within a small error.
        for (a, b) in middle(&input).iter().zip(middle(&down)) {
            assert!((i32::from(*a) - i32::from(*b)).abs() < 60, "{a} vs {b}");
        }
    }

    #[test]
    fn a_tone_survives_every_conversion() {
        for from in ALL {
            for to in ALL {
                let input = sine(440.0, from, 0.5, 8_000.0);
                let out = resample_all(from, to, &input);
                let expected = (input.len() as u64 * u64::from(to.hz())).div_ceil(u64::from(from.hz()));
                assert_eq!(out.len() as u64, expected, "{from:?} → {to:?}");
                assert_is_440(&out, to, 8_000.0);
            }
        }
    }

    #[test]
    fn downsampling_filters_out_what_the_lower_rate_cannot_hold() {
        // 6 kHz cannot exist at 8 kHz; unfiltered it would fold to 2 kHz.
        let input = sine(6_000.0, SampleRate::Hz24000, 0.5, 10_000.0);
        let out = resample_all(SampleRate::Hz24000, SampleRate::Hz8000, &input);
        assert!(rms(middle(&out)) < 10_000.0 / 2f64.sqrt() * 0.01, "rms {}", rms(middle(&out)));
    }

    #[test]
    fn the_output_is_not_shifted_in_time() {
        for (from, to) in [
            (SampleRate::Hz8000, SampleRate::Hz16000),
            (SampleRate::Hz24000, SampleRate::Hz8000),
            (SampleRate::Hz22050, SampleRate::Hz16000),
        ] {
            let mut input = vec![0i16; 4_410];
            input[2_205] = 20_000;
            let out = resample_all(from, to, &input);
            let peak = out.iter().enumerate().max_by_key(|(_, s)| s.unsigned_abs()).map(|(i, _)| i).unwrap_or_default();
            let expected = 2_205.0 * f64::from(to.hz()) / f64::from(from.hz());
            assert!((peak as f64 - expected).abs() <= 1.0, "{from:?}→{to:?}: {peak} vs {expected}");
        }
    }

    #[test]
    fn equal_rates_copy_through() {
        let input = sine(440.0, SampleRate::Hz16000, 0.1, 1_000.0);
        assert_eq!(resample_all(SampleRate::Hz16000, SampleRate::Hz16000, &input), input);
    }

    #[test]
    fn output_appears_after_the_lookahead() {
        let mut resampler = Resampler::new(SampleRate::Hz8000, SampleRate::Hz16000);
        let mut out = Vec::new();
        resampler.process(&[1_000; 160], &mut out);
        // 160 input samples (20 ms) cover 320 outputs, less those needing later input.
        let held = 2 * resampler.lookahead();
        assert_eq!(out.len(), 320 - held);
    }

    #[test]
    fn a_constant_passes_unchanged() {
        let out = resample_all(SampleRate::Hz22050, SampleRate::Hz8000, &[5_000; 22_050]);
        for &s in middle(&out) {
            assert_eq!(s, 5_000);
        }
    }

    proptest! {
        #[test]
        fn chunking_does_not_change_the_output(
            seed in proptest::collection::vec(any::<i16>(), 1..600),
            cuts in proptest::collection::vec(1usize..200, 1..20),
            from_index in 0usize..4,
            to_index in 0usize..4,
        ) {
            let (from, to) = (ALL[from_index], ALL[to_index]);
            // A tone plus the random samples, so both smooth and noisy input are covered.
            let tone = sine(440.0, from, 0.1, 5_000.0);
            let input: Vec<i16> = tone.iter().chain(&seed).copied().collect();
            let whole = resample_all(from, to, &input);

            let mut resampler = Resampler::new(from, to);
            let mut chunked = Vec::new();
            let mut rest = input.as_slice();
            for cut in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (chunk, tail) = rest.split_at((*cut).min(rest.len()));
                resampler.process(chunk, &mut chunked);
                rest = tail;
            }
            resampler.finish(&mut chunked);
            prop_assert_eq!(chunked, whole);
        }
    }
}
