//! G.711 μ-law and A-law (ITU-T G.711): the telephone codecs, 16-bit PCM ⇄ one byte a sample.
//!
//! Carriers (Twilio and Telnyx media streams, SIP/RTP payload types 0 and 8) send and
//! expect 8 kHz G.711. Decoding is a 256-entry table built at compile time; encoding is
//! the segment search of the standard, written out as arithmetic.
//!
//! Round trips, checked exhaustively in the tests:
//! - `decode(encode(x))` is within half a quantisation step of `x` (plus the clipped part
//!   beyond the largest code: ±32 635 for μ-law, ±32 767 fits A-law);
//! - every A-law byte survives `encode(decode(b)) == b`;
//! - every μ-law byte does too except `0x7F`, μ-law's "negative zero": it decodes to 0,
//!   and 0 encodes to `0xFF` (positive zero). Both mean silence.

/// μ-law's bias: added to the magnitude so every segment starts at a power of two.
const MULAW_BIAS: i32 = 0x84;
/// Largest magnitude μ-law represents before the bias would overflow 15 bits.
const MULAW_CLIP: i32 = 32_635;

/// Every μ-law byte decoded, built at compile time.
const MULAW_TABLE: [i16; 256] = build_mulaw_table();
/// Every A-law byte decoded, built at compile time.
const ALAW_TABLE: [i16; 256] = build_alaw_table();

const fn build_mulaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = mulaw_decode_arith(byte as u8);
        byte += 1;
    }
    table
}

const fn build_alaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = alaw_decode_arith(byte as u8);
        byte += 1;
    }
    table
}

/// μ-law decoding by the standard's formula: the code is stored inverted; the magnitude is
/// the middle of the mantissa's interval within its segment, minus the bias.
const fn mulaw_decode_arith(byte: u8) -> i16 {
    let code = !byte;
    let exponent = ((code >> 4) & 0x07) as i32;
    let mantissa = (code & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + MULAW_BIAS) << exponent) - MULAW_BIAS;
    if code & 0x80 != 0 { -magnitude as i16 } else { magnitude as i16 }
}

/// A-law decoding by the standard's formula: even bits are inverted (XOR 0x55), the sign
/// bit set means positive; segment 0 is linear, each further segment doubles the step.
const fn alaw_decode_arith(byte: u8) -> i16 {
    let code = byte ^ 0x55;
    let segment = ((code >> 4) & 0x07) as i32;
    let mantissa = (code & 0x0F) as i32;
    // On the 13-bit scale the interval of (segment, mantissa) starts at `low` and is
    // `step` wide; the decoded value is its middle, scaled by 8 to 16 bits.
    let (low, step) = if segment == 0 { (mantissa << 1, 2) } else { ((16 + mantissa) << segment, 1 << segment) };
    let magnitude = (low << 3) + (step << 2);
    if code & 0x80 != 0 { magnitude as i16 } else { -magnitude as i16 }
}

/// Decodes one μ-law byte to 16-bit linear PCM.
pub fn mulaw_decode(byte: u8) -> i16 {
    MULAW_TABLE[usize::from(byte)]
}

/// Encodes one 16-bit linear PCM sample to μ-law (magnitudes above 32 635 clip).
pub fn mulaw_encode(sample: i16) -> u8 {
    let value = i32::from(sample);
    let sign: u8 = if value < 0 { 0x80 } else { 0 };
    let biased = value.abs().min(MULAW_CLIP) + MULAW_BIAS;
    // `biased` is in [0x84, 0x7FFF]: its highest set bit is bit 7..=14, the segment 0..=7.
    let exponent = (31 - biased.leading_zeros()) as i32 - 7;
    let mantissa = ((biased >> (exponent + 3)) & 0x0F) as u8;
    !(sign | ((exponent as u8) << 4) | mantissa)
}

/// Decodes one A-law byte to 16-bit linear PCM.
pub fn alaw_decode(byte: u8) -> i16 {
    ALAW_TABLE[usize::from(byte)]
}

/// Encodes one 16-bit linear PCM sample to A-law.
pub fn alaw_encode(sample: i16) -> u8 {
    // A-law quantises 13 bits; negative values use the ones' complement magnitude so that
    // -1..=-8 land in the smallest negative interval, as positive 0..=7 do in the positive.
    let value = i32::from(sample) >> 3;
    let (sign, magnitude): (u8, i32) = if value >= 0 { (0x80, value) } else { (0, -value - 1) };
    let code = if magnitude < 32 {
        (magnitude >> 1) as u8
    } else {
        // Magnitude is in [2^(segment+4), 2^(segment+5)); 13 bits cap it at segment 7.
        let segment = (31 - magnitude.leading_zeros()) as i32 - 4;
        let mantissa = ((magnitude >> segment) & 0x0F) as u8;
        ((segment as u8) << 4) | mantissa
    };
    (sign | code) ^ 0x55
}

/// Decodes a μ-law payload, appending the PCM samples to `out`.
pub fn mulaw_decode_into(bytes: &[u8], out: &mut Vec<i16>) {
    out.extend(bytes.iter().map(|&b| mulaw_decode(b)));
}

/// Encodes PCM samples to μ-law, appending the bytes to `out`.
pub fn mulaw_encode_into(samples: &[i16], out: &mut Vec<u8>) {
    out.extend(samples.iter().map(|&s| mulaw_encode(s)));
}

/// Decodes an A-law payload, appending the PCM samples to `out`.
pub fn alaw_decode_into(bytes: &[u8], out: &mut Vec<i16>) {
    out.extend(bytes.iter().map(|&b| alaw_decode(b)));
}

/// Encodes PCM samples to A-law, appending the bytes to `out`.
pub fn alaw_encode_into(samples: &[i16], out: &mut Vec<u8>) {
    out.extend(samples.iter().map(|&s| alaw_encode(s)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Half of μ-law's quantisation step for a magnitude, plus whatever clipping removed.
    fn mulaw_bound(sample: i16) -> i32 {
        let magnitude = i32::from(sample).abs();
        let clipped = magnitude.min(MULAW_CLIP);
        let exponent = (31 - (clipped + MULAW_BIAS).leading_zeros()) as i32 - 7;
        (4 << exponent) + (magnitude - clipped)
    }

    /// Half of A-law's quantisation step (16-bit scale) for a magnitude, plus one for the
    /// ones' complement of negative values.
    fn alaw_bound(sample: i16) -> i32 {
        let value = i32::from(sample) >> 3;
        let magnitude = if value >= 0 { value } else { -value - 1 };
        let segment = if magnitude < 32 { 1 } else { (31 - magnitude.leading_zeros()) as i32 - 4 };
        (4 << segment) + 1
    }

    #[test]
    fn every_mulaw_byte_round_trips_except_negative_zero() {
        for byte in 0..=255u8 {
            let back = mulaw_encode(mulaw_decode(byte));
            if byte == 0x7F {
                assert_eq!(mulaw_decode(byte), 0);
                assert_eq!(back, 0xFF, "negative zero encodes as positive zero");
            } else {
                assert_eq!(back, byte, "byte {byte:#04x}");
            }
        }
    }

    #[test]
    fn every_alaw_byte_round_trips() {
        for byte in 0..=255u8 {
            assert_eq!(alaw_encode(alaw_decode(byte)), byte, "byte {byte:#04x}");
        }
    }

    #[test]
    fn every_sample_is_within_the_quantisation_bound() {
        for sample in i16::MIN..=i16::MAX {
            let mu = i32::from(mulaw_decode(mulaw_encode(sample)));
            assert!((mu - i32::from(sample)).abs() <= mulaw_bound(sample), "μ-law {sample} → {mu}");
            let a = i32::from(alaw_decode(alaw_encode(sample)));
            assert!((a - i32::from(sample)).abs() <= alaw_bound(sample), "A-law {sample} → {a}");
        }
    }

    #[test]
    fn known_values_match_the_standard() {
        // Silence, the extremes and one mid value of each law (ITU-T G.711 tables).
        assert_eq!(mulaw_encode(0), 0xFF);
        assert_eq!(mulaw_decode(0x00), -32_124);
        assert_eq!(mulaw_decode(0x80), 32_124);
        assert_eq!(mulaw_encode(i16::MAX), 0x80);
        assert_eq!(mulaw_encode(i16::MIN), 0x00);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32_256);
        assert_eq!(alaw_decode(0x2A), -32_256);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
    }

    #[test]
    fn encoding_is_monotonic() {
        let mut previous = i16::MIN;
        for sample in i16::MIN..=i16::MAX {
            let mu = mulaw_decode(mulaw_encode(sample));
            let a = alaw_decode(alaw_encode(sample));
            assert!(mu >= mulaw_decode(mulaw_encode(previous)));
            assert!(a >= alaw_decode(alaw_encode(previous)));
            previous = sample;
        }
    }

    proptest! {
        #[test]
        fn slices_round_trip_within_bound(samples in proptest::collection::vec(any::<i16>(), 0..400)) {
            let mut mu = Vec::new();
            mulaw_encode_into(&samples, &mut mu);
            let mut mu_back = Vec::new();
            mulaw_decode_into(&mu, &mut mu_back);
            let mut a = Vec::new();
            alaw_encode_into(&samples, &mut a);
            let mut a_back = Vec::new();
            alaw_decode_into(&a, &mut a_back);
            prop_assert_eq!(mu.len(), samples.len());
            prop_assert_eq!(a_back.len(), samples.len());
            for ((&x, &m), &l) in samples.iter().zip(&mu_back).zip(&a_back) {
                prop_assert!((i32::from(m) - i32::from(x)).abs() <= mulaw_bound(x));
                prop_assert!((i32::from(l) - i32::from(x)).abs() <= alaw_bound(x));
            }
        }

        #[test]
        fn bytes_round_trip_through_pcm(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut pcm = Vec::new();
            alaw_decode_into(&bytes, &mut pcm);
            let mut again = Vec::new();
            alaw_encode_into(&pcm, &mut again);
            prop_assert_eq!(&again, &bytes);

            let mut pcm = Vec::new();
            mulaw_decode_into(&bytes, &mut pcm);
            let mut again = Vec::new();
            mulaw_encode_into(&pcm, &mut again);
            let expected: Vec<u8> = bytes.iter().map(|&b| if b == 0x7F { 0xFF } else { b }).collect();
            prop_assert_eq!(again, expected);
        }
    }
}
