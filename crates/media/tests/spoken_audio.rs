//! The pipeline on real speech: espeak-ng recordings through codec, resampling, VAD, end of turn and barge-in.
//!
//! Fixtures (see `fixtures/README.md`): "What are your opening hours on Saturday?" with
//! speech from about 0 to 1 870 ms, and "ok" with speech from about 0 to 450 ms, both
//! 16 kHz mono. Each test pads one second of silence before and after, so the phrase's
//! speech lies at about 1 000–2 870 ms of the padded clip.

use switchboard_media::dtmf::{DtmfDetector, DtmfDetectorConfig};
use switchboard_media::g711;
use switchboard_media::reorder::ReorderBuffer;
use switchboard_media::resample::{Resampler, SampleRate, resample_all};
use switchboard_media::turn::{BargeIn, BargeInConfig, BargeInDetector, TurnConfig, TurnDetector, TurnEvent};
use switchboard_media::vad::{VadFrame, VoiceDetector};
use switchboard_media::wav::{StereoRecorder, read_wav, wav_bytes};

const PAD_MS: usize = 1_000;

fn fixture(name: &str) -> Vec<i16> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let file = std::fs::File::open(&path).expect("fixture file is there");
    let audio = read_wav(file).expect("fixture is a 16-bit WAV");
    assert_eq!((audio.sample_rate, audio.channels), (16_000, 1));
    audio.samples
}

/// A fixture with a second of silence on each side.
fn padded(name: &str) -> Vec<i16> {
    let silence = vec![0i16; PAD_MS * 16];
    let mut samples = silence.clone();
    samples.extend(fixture(name));
    samples.extend(silence);
    samples
}

fn vad_frames(samples: &[i16]) -> Vec<VadFrame> {
    let mut detector = VoiceDetector::new();
    let mut frames = Vec::new();
    detector.push(samples, &mut frames);
    frames
}

fn turn_events(frames: &[VadFrame]) -> Vec<TurnEvent> {
    let mut detector = TurnDetector::new(TurnConfig::default());
    let mut events = Vec::new();
    for frame in frames {
        detector.push(frame, &mut events);
    }
    events
}

/// The one utterance in `events`: (start, end, audio length in samples).
fn single_utterance(events: &[TurnEvent]) -> (u64, u64, usize) {
    match events {
        [TurnEvent::SpeechStarted { at_ms: started }, TurnEvent::SpeechEnded { started_at_ms, at_ms, audio }] => {
            assert_eq!(started, started_at_ms);
            (*started, *at_ms, audio.len())
        }
        other => panic!("expected exactly one utterance, got {other:?}"),
    }
}

/// The phrase's utterance lies where its speech is: starts at 1 000 ms (give or take the
/// quiet first consonant), ends around 2 870 ms, and carries the audio between.
fn assert_phrase_bounds((start, end, audio_len): (u64, u64, usize)) {
    assert!((900..=1_150).contains(&start), "start {start} ms");
    assert!((2_700..=3_050).contains(&end), "end {end} ms");
    let audio_ms = audio_len as u64 / 16;
    let expected_ms = end - start + 240 + 160;
    assert!(audio_ms.abs_diff(expected_ms) <= 16, "{audio_ms} ms of audio for {expected_ms}");
}

#[test]
fn the_phrase_is_one_utterance_where_the_speech_is() {
    let events = turn_events(&vad_frames(&padded("opening_hours.wav")));
    assert_phrase_bounds(single_utterance(&events));
}

#[test]
fn a_mulaw_round_trip_keeps_the_utterance() {
    let original = padded("opening_hours.wav");
    let reference = single_utterance(&turn_events(&vad_frames(&original)));

    let mut encoded = Vec::new();
    g711::mulaw_encode_into(&original, &mut encoded);
    let mut decoded = Vec::new();
    g711::mulaw_decode_into(&encoded, &mut decoded);
    let after = single_utterance(&turn_events(&vad_frames(&decoded)));
    assert_phrase_bounds(after);
    assert!(after.0.abs_diff(reference.0) <= 48, "{after:?} vs {reference:?}");
    assert!(after.1.abs_diff(reference.1) <= 48, "{after:?} vs {reference:?}");
}

#[test]
fn the_telephone_path_keeps_the_utterance() {
    let original = padded("opening_hours.wav");
    let wide = through_the_telephone(&original);
    assert_eq!(wide.len(), original.len());
    assert_phrase_bounds(single_utterance(&turn_events(&vad_frames(&wide))));
}

#[test]
fn packets_out_of_order_through_the_streaming_pipeline_keep_the_utterance() {
    // The carrier side: 20 ms μ-law packets with sequence numbers that wrap, arriving with
    // neighbours swapped; the receiver reorders, decodes and resamples them chunk by chunk.
    let original = padded("opening_hours.wav");
    let narrow = resample_all(SampleRate::Hz16000, SampleRate::Hz8000, &original);
    let mut packets: Vec<(u16, Vec<u8>)> = narrow
        .chunks(160)
        .enumerate()
        .map(|(i, chunk)| {
            let mut payload = Vec::new();
            g711::mulaw_encode_into(chunk, &mut payload);
            (65_500u16.wrapping_add(i as u16), payload)
        })
        .collect();
    for pair in packets.chunks_mut(2).step_by(3) {
        pair.reverse();
    }

    let mut reorder = ReorderBuffer::new(3);
    let mut resampler = Resampler::new(SampleRate::Hz8000, SampleRate::Hz16000);
    let mut vad = VoiceDetector::new();
    let mut turns = TurnDetector::new(TurnConfig::default());
    let (mut pcm, mut wide, mut frames, mut events) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut deliver = |payload: Vec<u8>, resampler: &mut Resampler| {
        pcm.clear();
        g711::mulaw_decode_into(&payload, &mut pcm);
        wide.clear();
        resampler.process(&pcm, &mut wide);
        frames.clear();
        vad.push(&wide, &mut frames);
        for frame in &frames {
            turns.push(frame, &mut events);
        }
    };
    for (seq, payload) in packets {
        reorder.push(seq, payload);
        while let Some(released) = reorder.pop() {
            assert_eq!(released.lost_before, 0);
            deliver(released.item, &mut resampler);
        }
    }
    while let Some(released) = reorder.flush() {
        deliver(released.item, &mut resampler);
    }
    assert_phrase_bounds(single_utterance(&events));
}

fn barge_ins(frames: &[VadFrame], agent_playing: bool) -> Vec<BargeIn> {
    let mut detector = BargeInDetector::new(BargeInConfig::default());
    frames.iter().filter_map(|frame| detector.push(frame, agent_playing)).collect()
}

/// 16 kHz → 8 kHz → μ-law → PCM → 16 kHz, as a call through a carrier would carry it.
fn through_the_telephone(original: &[i16]) -> Vec<i16> {
    let narrow = resample_all(SampleRate::Hz16000, SampleRate::Hz8000, original);
    let mut encoded = Vec::new();
    g711::mulaw_encode_into(&narrow, &mut encoded);
    let mut decoded = Vec::new();
    g711::mulaw_decode_into(&encoded, &mut decoded);
    resample_all(SampleRate::Hz8000, SampleRate::Hz16000, &decoded)
}

#[test]
fn a_short_ok_does_not_interrupt_the_agent_but_the_question_does() {
    for telephone in [false, true] {
        let audio = |name| {
            let clip = padded(name);
            if telephone { through_the_telephone(&clip) } else { clip }
        };
        let ok = vad_frames(&audio("ok.wav"));
        let question = vad_frames(&audio("opening_hours.wav"));

        // While the agent talks, "ok" is an acknowledgement, not an interruption.
        assert_eq!(barge_ins(&ok, true), vec![], "telephone: {telephone}");
        // The question interrupts, once, within the first words (narrowband speech scores
        // lower, so over the telephone the sure part starts a little later).
        let fired = barge_ins(&question, true);
        assert_eq!(fired.len(), 1, "telephone {telephone}: {fired:?}");
        assert!((1_000..=1_300).contains(&fired[0].started_at_ms), "{fired:?}");
        assert!((1_500..=1_800).contains(&fired[0].at_ms), "{fired:?}");

        // With the agent silent, the laxer rule lets even the "ok" through, after 250 ms.
        let fired = barge_ins(&ok, false);
        assert_eq!(fired.len(), 1, "telephone {telephone}: {fired:?}");
        assert!(fired[0].at_ms - fired[0].started_at_ms <= 300, "{fired:?}");
    }
}

#[test]
fn the_short_ok_is_still_a_turn_of_its_own() {
    let (start, end, _) = single_utterance(&turn_events(&vad_frames(&padded("ok.wav"))));
    assert!((900..=1_100).contains(&start), "start {start}");
    assert!((1_350..=1_600).contains(&end), "end {end}");
}

#[test]
fn speech_is_not_taken_for_key_presses_but_a_key_in_it_is_found() {
    let speech = resample_all(SampleRate::Hz16000, SampleRate::Hz8000, &padded("opening_hours.wav"));
    let detect = |samples: &[i16]| {
        let mut detector = DtmfDetector::new(DtmfDetectorConfig::default());
        let mut out = Vec::new();
        for chunk in samples.chunks(160) {
            detector.push(chunk, &mut out);
        }
        out
    };
    assert_eq!(detect(&speech), vec![]);

    // A "7" (852 + 1209 Hz) for 100 ms during the pause before the speech, through μ-law.
    let mut with_key = speech.clone();
    for (i, sample) in with_key[2_000..2_800].iter_mut().enumerate() {
        let t = i as f64 / 8_000.0;
        let tone =
            6_000.0 * (std::f64::consts::TAU * 852.0 * t).sin() + 5_000.0 * (std::f64::consts::TAU * 1_209.0 * t).sin();
        *sample = sample.saturating_add(tone as i16);
    }
    let mut encoded = Vec::new();
    g711::mulaw_encode_into(&with_key, &mut encoded);
    let mut decoded = Vec::new();
    g711::mulaw_decode_into(&encoded, &mut decoded);
    let found = detect(&decoded);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].digit, '7');
    assert!((2_000..2_400).contains(&found[0].at_sample), "{found:?}");
}

#[test]
fn a_call_recording_puts_the_caller_left_and_the_agent_right() {
    let caller = fixture("opening_hours.wav");
    let agent = fixture("ok.wav");
    let mut recorder = StereoRecorder::new(16_000);
    // The agent answers half a second after the caller finished, in 20 ms frames.
    recorder.push_caller(0, &caller);
    let answer_at = caller.len() as u64 + 8_000;
    for (i, frame) in agent.chunks(320).enumerate() {
        recorder.push_agent(answer_at + i as u64 * 320, frame);
    }
    let audio = read_wav(wav_bytes(&recorder.to_audio()).unwrap().as_slice()).unwrap();
    assert_eq!((audio.channels, audio.sample_rate), (2, 16_000));
    assert_eq!(audio.frames(), caller.len() + 8_000 + agent.len());
    let left: Vec<i16> = audio.samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = audio.samples.iter().skip(1).step_by(2).copied().collect();
    assert_eq!(&left[..caller.len()], &caller[..]);
    assert!(left[caller.len()..].iter().all(|&s| s == 0));
    assert!(right[..answer_at as usize].iter().all(|&s| s == 0));
    assert_eq!(&right[answer_at as usize..], &agent[..]);
    // Each side's speech is found on its own channel.
    assert_eq!(turn_events(&vad_frames(&left)).len(), 2);
}
