//! WAV files (16-bit PCM, mono or stereo) and the stereo call recorder (caller left, agent right).
//!
//! Speech-to-text providers take WAV uploads, some text-to-speech providers answer with
//! WAV, and call recordings are stored as stereo WAV so each side can be heard apart.
//! The container is read and written by `hound`; this module fixes the format the
//! pipeline uses and builds the recording from the two sides' frames.

use std::io::{Read, Seek, Write};

use crate::{Error, Result};

/// 16-bit PCM audio as found in or written to a WAV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavAudio {
    /// Samples per second (per channel).
    pub sample_rate: u32,
    /// 1 (mono) or 2 (stereo).
    pub channels: u16,
    /// The samples, interleaved left/right for stereo.
    pub samples: Vec<i16>,
}

impl WavAudio {
    /// Length in samples per channel.
    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels.max(1))
    }
}

/// Reads a 16-bit PCM WAV file with one or two channels.
pub fn read_wav(reader: impl Read) -> Result<WavAudio> {
    let reader = hound::WavReader::new(reader)?;
    let spec = reader.spec();
    if spec.sample_format != hound::SampleFormat::Int || spec.bits_per_sample != 16 {
        return Err(Error::UnsupportedWav(format!(
            "{} {:?} bits per sample, expected 16-bit integer PCM",
            spec.bits_per_sample, spec.sample_format
        )));
    }
    if !(1..=2).contains(&spec.channels) {
        return Err(Error::UnsupportedWav(format!("{} channels, expected 1 or 2", spec.channels)));
    }
    let samples = reader.into_samples::<i16>().collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(WavAudio { sample_rate: spec.sample_rate, channels: spec.channels, samples })
}

/// Writes 16-bit PCM audio as a WAV file.
pub fn write_wav(writer: impl Write + Seek, audio: &WavAudio) -> Result<()> {
    if !(1..=2).contains(&audio.channels) {
        return Err(Error::UnsupportedWav(format!("{} channels, expected 1 or 2", audio.channels)));
    }
    let spec = hound::WavSpec {
        channels: audio.channels,
        sample_rate: audio.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut wav = hound::WavWriter::new(writer, spec)?;
    let mut samples = wav.get_i16_writer(audio.samples.len() as u32);
    for &sample in &audio.samples {
        samples.write_sample(sample);
    }
    samples.flush()?;
    wav.finalize()?;
    Ok(())
}

/// Writes a WAV file to a byte vector (what an upload or an object store takes).
pub fn wav_bytes(audio: &WavAudio) -> Result<Vec<u8>> {
    let mut cursor = std::io::Cursor::new(Vec::new());
    write_wav(&mut cursor, audio)?;
    Ok(cursor.into_inner())
}

/// Builds a call's stereo recording from the two sides' audio: caller left, agent right.
///
/// Each side's frames arrive with their position (in samples at the recording's rate
/// since the call began), in whatever order the transport sees them; where a side sent
/// nothing the channel stays silent, and audio pushed twice at one position is mixed
/// (summed, clipped), which is how agent speech over background sound adds up.
#[derive(Debug, Clone)]
pub struct StereoRecorder {
    sample_rate: u32,
    caller: Vec<i16>,
    agent: Vec<i16>,
}

impl StereoRecorder {
    /// An empty recording at `sample_rate`.
    pub fn new(sample_rate: u32) -> Self {
        StereoRecorder { sample_rate, caller: Vec::new(), agent: Vec::new() }
    }

    /// Adds caller audio starting `at_sample` samples into the call.
    pub fn push_caller(&mut self, at_sample: u64, samples: &[i16]) {
        mix_into(&mut self.caller, at_sample, samples);
    }

    /// Adds agent audio starting `at_sample` samples into the call.
    pub fn push_agent(&mut self, at_sample: u64, samples: &[i16]) {
        mix_into(&mut self.agent, at_sample, samples);
    }

    /// Length of the recording so far, in samples per channel.
    pub fn frames(&self) -> usize {
        self.caller.len().max(self.agent.len())
    }

    /// The recording, interleaved (caller, agent), as long as the longer side.
    pub fn to_audio(&self) -> WavAudio {
        let frames = self.frames();
        let mut samples = Vec::with_capacity(frames * 2);
        for i in 0..frames {
            samples.push(self.caller.get(i).copied().unwrap_or(0));
            samples.push(self.agent.get(i).copied().unwrap_or(0));
        }
        WavAudio { sample_rate: self.sample_rate, channels: 2, samples }
    }
}

fn mix_into(channel: &mut Vec<i16>, at_sample: u64, samples: &[i16]) {
    let start = at_sample as usize;
    let end = start + samples.len();
    if channel.len() < end {
        channel.resize(end, 0);
    }
    for (out, &sample) in channel[start..end].iter_mut().zip(samples) {
        *out = out.saturating_add(sample);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_and_stereo_round_trip_through_a_file() {
        for channels in [1, 2] {
            let audio = WavAudio {
                sample_rate: 16_000,
                channels,
                samples: (0..1_000).map(|i| (i * 37 % 65_536 - 32_768) as i16).collect(),
            };
            let bytes = wav_bytes(&audio).unwrap();
            assert_eq!(&bytes[..4], b"RIFF");
            assert_eq!(bytes.len(), 44 + 2_000);
            let back = read_wav(bytes.as_slice()).unwrap();
            assert_eq!(back, audio);
        }
    }

    #[test]
    fn other_formats_are_refused() {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8_000,
            bits_per_sample: 8,
            sample_format: hound::SampleFormat::Int,
        };
        let mut cursor = std::io::Cursor::new(Vec::new());
        let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
        writer.write_sample(1i8).unwrap();
        writer.finalize().unwrap();
        let err = read_wav(cursor.into_inner().as_slice()).unwrap_err();
        assert!(matches!(err, Error::UnsupportedWav(_)), "{err}");
        assert!(matches!(read_wav(&b"not a wav"[..]), Err(Error::Wav(_))));
        let three = WavAudio { sample_rate: 8_000, channels: 3, samples: vec![0; 3] };
        assert!(wav_bytes(&three).is_err());
    }

    #[test]
    fn the_recorder_interleaves_and_pads_silence() {
        let mut recorder = StereoRecorder::new(8_000);
        // The caller speaks at 0..4, the agent answers at 6..9 (out of order: later first).
        recorder.push_agent(8, &[30]);
        recorder.push_caller(0, &[1, 2, 3, 4]);
        recorder.push_agent(6, &[10, 20]);
        let audio = recorder.to_audio();
        assert_eq!(audio.channels, 2);
        assert_eq!(audio.frames(), 9);
        assert_eq!(audio.samples, vec![1, 0, 2, 0, 3, 0, 4, 0, 0, 0, 0, 0, 0, 10, 0, 20, 0, 30]);
    }

    #[test]
    fn the_recorder_mixes_overlapping_audio_and_clips() {
        let mut recorder = StereoRecorder::new(8_000);
        recorder.push_agent(0, &[100, 30_000]);
        recorder.push_agent(0, &[5, 10_000]);
        let audio = recorder.to_audio();
        assert_eq!(audio.samples, vec![0, 105, 0, i16::MAX]);
        let back = read_wav(wav_bytes(&audio).unwrap().as_slice()).unwrap();
        assert_eq!(back, audio);
    }
}
