//! WAV files in memory: the canonical 44-byte header around mono 16-bit PCM going out, and
//! a tolerant reader for what providers send back (streamed headers with unknown sizes,
//! extra chunks, stereo, WAVE_FORMAT_EXTENSIBLE).

use super::PcmAudio;

const PCM_FORMAT: u16 = 1;
const EXTENSIBLE_FORMAT: u16 = 0xFFFE;

/// A mono 16-bit PCM WAV file holding `audio`.
pub fn encode(audio: &PcmAudio) -> Vec<u8> {
    let data_len = audio.samples.len() * 2;
    let mut out = Vec::with_capacity(44 + data_len);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&riff_size(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&PCM_FORMAT.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&audio.sample_rate.to_le_bytes());
    out.extend_from_slice(&audio.sample_rate.saturating_mul(2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&riff_size(data_len).to_le_bytes());
    for sample in &audio.samples {
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

/// A size field; audio over 4 GiB is not something a call produces, so saturate.
fn riff_size(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Why bytes are not a WAV file this reader understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a 16-bit PCM WAV file: {0}")]
pub struct WavError(&'static str);

/// Reads a 16-bit PCM WAV file, mixing several channels down to mono. A data chunk whose
/// declared size runs past the end (a header written before the length was known, as
/// `espeak-ng --stdout` and streaming providers do) is read to the end of the bytes.
pub fn decode(bytes: &[u8]) -> Result<PcmAudio, WavError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavError("missing RIFF/WAVE header"));
    }
    let mut format: Option<(u16, u32)> = None;
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let declared = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]) as usize;
        let body_start = at + 8;
        let body_end = body_start.saturating_add(declared).min(bytes.len());
        let body = &bytes[body_start..body_end];
        match id {
            b"fmt " => format = Some(read_format(body)?),
            b"data" => {
                let (channels, sample_rate) = format.ok_or(WavError("data chunk before fmt chunk"))?;
                return Ok(PcmAudio { samples: mix_down(body, channels), sample_rate });
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        at = body_start.saturating_add(declared).saturating_add(declared & 1);
    }
    Err(WavError("no data chunk"))
}

/// Channels and sample rate from a `fmt ` chunk, refusing anything but 16-bit integer PCM.
fn read_format(body: &[u8]) -> Result<(u16, u32), WavError> {
    if body.len() < 16 {
        return Err(WavError("short fmt chunk"));
    }
    let tag = u16::from_le_bytes([body[0], body[1]]);
    let channels = u16::from_le_bytes([body[2], body[3]]);
    let sample_rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
    let bits = u16::from_le_bytes([body[14], body[15]]);
    let is_pcm = match tag {
        PCM_FORMAT => true,
        // The sub-format GUID starts with the plain format tag.
        EXTENSIBLE_FORMAT => body.len() >= 26 && u16::from_le_bytes([body[24], body[25]]) == PCM_FORMAT,
        _ => false,
    };
    if !is_pcm || bits != 16 {
        return Err(WavError("only 16-bit integer PCM is supported"));
    }
    if channels == 0 || sample_rate == 0 {
        return Err(WavError("zero channels or sample rate"));
    }
    Ok((channels, sample_rate))
}

/// Little-endian frames of `channels` samples each, averaged to one sample per frame; a
/// trailing partial frame is dropped.
fn mix_down(data: &[u8], channels: u16) -> Vec<i16> {
    let frame_bytes = usize::from(channels) * 2;
    data.chunks_exact(frame_bytes)
        .map(|frame| {
            let sum: i32 = frame.chunks_exact(2).map(|s| i32::from(i16::from_le_bytes([s[0], s[1]]))).sum();
            let mean = sum / i32::from(channels);
            i16::try_from(mean).unwrap_or(if mean < 0 { i16::MIN } else { i16::MAX })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone() -> PcmAudio {
        PcmAudio { samples: (0..800).map(|i| ((i % 40) as i16 - 20) * 1000).collect(), sample_rate: 16000 }
    }

    #[test]
    fn encodes_the_canonical_header() {
        let audio = tone();
        let bytes = encode(&audio);
        assert_eq!(bytes.len(), 44 + 1600);
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(bytes[4..8].try_into().unwrap()), 36 + 1600);
        assert_eq!(&bytes[8..16], b"WAVEfmt ");
        assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 1, "mono");
        assert_eq!(u32::from_le_bytes(bytes[24..28].try_into().unwrap()), 16000);
        assert_eq!(u32::from_le_bytes(bytes[28..32].try_into().unwrap()), 32000, "byte rate");
        assert_eq!(&bytes[36..40], b"data");
        assert_eq!(u32::from_le_bytes(bytes[40..44].try_into().unwrap()), 1600);
    }

    #[test]
    fn round_trips() {
        let audio = tone();
        assert_eq!(decode(&encode(&audio)).unwrap(), audio);
        let empty = PcmAudio { samples: vec![], sample_rate: 8000 };
        assert_eq!(decode(&encode(&empty)).unwrap(), empty);
    }

    #[test]
    fn reads_streamed_headers_with_unknown_sizes() {
        let audio = tone();
        let mut bytes = encode(&audio);
        // What espeak-ng --stdout writes: sizes near 2^31 because the length was not known.
        bytes[4..8].copy_from_slice(&0x7fff_f024u32.to_le_bytes());
        bytes[40..44].copy_from_slice(&0x7fff_f000u32.to_le_bytes());
        assert_eq!(decode(&bytes).unwrap(), audio);
    }

    #[test]
    fn skips_other_chunks_and_mixes_stereo_down() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"RIFF\0\0\0\0WAVE");
        bytes.extend_from_slice(b"LIST");
        bytes.extend_from_slice(&3u32.to_le_bytes());
        bytes.extend_from_slice(b"abc\0"); // odd length plus its pad byte
        bytes.extend_from_slice(b"fmt ");
        bytes.extend_from_slice(&16u32.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&24000u32.to_le_bytes());
        bytes.extend_from_slice(&96000u32.to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.extend_from_slice(&16u16.to_le_bytes());
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&8u32.to_le_bytes());
        for sample in [100i16, 300, -32768, -32768] {
            bytes.extend_from_slice(&sample.to_le_bytes());
        }
        let audio = decode(&bytes).unwrap();
        assert_eq!(audio, PcmAudio { samples: vec![200, -32768], sample_rate: 24000 });
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert!(decode(b"").is_err());
        assert!(decode(b"{\"error\":\"nope\"}").is_err());
        let mut float = encode(&tone());
        float[20..22].copy_from_slice(&3u16.to_le_bytes());
        assert_eq!(decode(&float).unwrap_err(), WavError("only 16-bit integer PCM is supported"));
        let header_only = &encode(&tone())[..36];
        assert_eq!(decode(header_only).unwrap_err(), WavError("no data chunk"));
    }
}
