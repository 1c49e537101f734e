//! Spoken calls over Twilio, end to end: the test plays Twilio (the signed voice
//! webhook, then a media-stream WebSocket client sending espeak-ng speech as 20 ms
//! μ-law frames at real-time pace and echoing marks as they play) against the real
//! server with the local voice sidecar (Whisper tiny.en, piper) and an agent answering
//! from its knowledge base.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha1::Sha1;
use switchboard_media::g711::{mulaw_decode_into, mulaw_encode_into};
use switchboard_media::resample::{SampleRate, resample_all};
use switchboard_runtime::speech::sidecar::sidecar_client;
use switchboard_runtime::speech::{EspeakSynthesizer, OpenAiTranscriber, PcmAudio, SpeechToText, TextToSpeech};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::common::TestServer;

const NUMBER: &str = "+14155550123";
const CALLER: &str = "+14155550999";
const QUESTION: &str = "What are your opening hours on Saturday?";
const ANSWER: &str = "On Saturday we are open from nine to one.";
const VOICE_PATH: &str = "/v1/telephony/twilio/voice";
/// 20 ms of μ-law silence.
const SILENCE: [u8; 160] = [0xFF; 160];

fn account_sid() -> String {
    format!("AC{}", "0123456789abcdef".repeat(2))
}

fn auth_token() -> String {
    "fedcba9876543210".repeat(2)
}

/// Whether espeak-ng is installed; says which package to install when not.
fn espeak_installed() -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join("espeak-ng").is_file()));
    if !found {
        println!("skipped: espeak-ng is not installed (Debian package espeak-ng)");
    }
    found
}

/// A server with the local voice, ready.
async fn voice_server() -> TestServer {
    let s = TestServer::start_with(|c| c.voice.sidecar = true).await;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let health = s.call(reqwest::Method::GET, "/v1/health", None, None).await;
        if health.body["voice"] == "ready" {
            return s;
        }
        assert!(Instant::now() < deadline, "the voice never became ready: {}", health.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An agent answering from a knowledge base that knows the opening hours, on an
/// imported Twilio number.
async fn opening_hours_agent(s: &TestServer, first_message: &str) {
    let kb = s.post("/v1/knowledge-bases", json!({"name": "Hours"})).await;
    assert_eq!(kb.status, 201, "{}", kb.body);
    let kb = kb.body["id"].as_str().expect("kb id").to_owned();
    let entry =
        s.post(&format!("/v1/knowledge-bases/{kb}/entries"), json!({"question": QUESTION, "answer": ANSWER})).await;
    assert!(entry.status == 201 || entry.status == 200, "{}", entry.body);
    let agent =
        s.create_agent(json!({"name": "Front desk", "first_message": first_message, "knowledge_base_ids": [kb]})).await;
    let imported = s
        .post(
            "/v1/phone-numbers/import",
            json!({"provider": "twilio", "phone_number": NUMBER, "twilio_account_sid": account_sid(),
                   "twilio_auth_token": auth_token(), "agent_id": agent}),
        )
        .await;
    assert_eq!(imported.status, 201, "{}", imported.body);
}

fn form(params: &[(&str, &str)]) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    params.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// Twilio's signature: HMAC-SHA1 over the URL and the sorted parameters, base64.
fn twilio_signature(token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut mac = Hmac::<Sha1>::new_from_slice(token.as_bytes()).expect("HMAC takes any key");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Posts the voice webhook as Twilio does, signed with `token`.
async fn voice_webhook(s: &TestServer, call_sid: &str, token: &str) -> reqwest::Response {
    let sid = account_sid();
    let params = [
        ("AccountSid", sid.as_str()),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", call_sid),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
        ("From", CALLER),
        ("To", NUMBER),
    ];
    let url = format!("{}{VOICE_PATH}", s.base);
    s.client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", twilio_signature(token, &url, &params))
        .body(form(&params))
        .send()
        .await
        .expect("webhook")
}

/// The stream URL and token of the TwiML.
fn stream_of(twiml: &str) -> (String, String) {
    let attr = |name: &str| {
        let start = twiml.find(&format!("{name}=\"")).expect(name) + name.len() + 2;
        twiml[start..].split('"').next().expect(name).to_owned()
    };
    assert!(twiml.contains("<Connect><Stream"), "{twiml}");
    assert!(twiml.contains("<Parameter name=\"token\""), "{twiml}");
    (attr("url"), attr("value"))
}

/// What Twilio received on the stream.
#[derive(Debug)]
enum Got {
    Media(Vec<u8>),
    Mark(String),
    Clear,
    Closed,
}

/// Twilio's end of a media stream.
struct Twilio {
    send: mpsc::UnboundedSender<Message>,
    got: mpsc::UnboundedReceiver<(Got, Instant)>,
}

impl Twilio {
    /// Connects, sends `connected` and `start` with `token`; marks are echoed as they arrive
    /// (the server sends audio at real-time pace, so what came before a mark has played).
    async fn connect(url: &str, call_sid: &str, token: &str) -> Twilio {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("stream connects");
        let (mut write, mut read) = ws.split();
        let (send, mut outgoing) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(message) = outgoing.recv().await {
                if write.send(message).await.is_err() {
                    break;
                }
            }
        });
        let (got_tx, got) = mpsc::unbounded_channel();
        let echo = send.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = read.next().await {
                let Message::Text(text) = message else {
                    if let Message::Close(_) = message {
                        break;
                    }
                    continue;
                };
                let value: Value = serde_json::from_str(text.as_str()).expect("JSON from the server");
                assert_eq!(value["streamSid"], "MZ00000000000000000000000000000001", "{value}");
                let got = match value["event"].as_str() {
                    Some("media") => {
                        Got::Media(STANDARD.decode(value["media"]["payload"].as_str().unwrap_or("")).expect("base64"))
                    }
                    Some("mark") => {
                        let name = value["mark"]["name"].as_str().unwrap_or("").to_owned();
                        let back = json!({"event": "mark", "sequenceNumber": "9", "streamSid": value["streamSid"],
                                          "mark": {"name": name}});
                        echo.send(Message::Text(back.to_string().into())).ok();
                        Got::Mark(name)
                    }
                    Some("clear") => Got::Clear,
                    other => panic!("unexpected message {other:?}"),
                };
                if got_tx.send((got, Instant::now())).is_err() {
                    break;
                }
            }
            got_tx.send((Got::Closed, Instant::now())).ok();
        });
        let twilio = Twilio { send, got };
        twilio.json(json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}));
        twilio.json(json!({"event": "start", "sequenceNumber": "1", "streamSid": "MZ00000000000000000000000000000001",
            "start": {"accountSid": account_sid(), "streamSid": "MZ00000000000000000000000000000001", "callSid": call_sid,
                      "tracks": ["inbound"], "customParameters": {"token": token},
                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}));
        twilio
    }

    fn json(&self, value: Value) {
        self.send.send(Message::Text(value.to_string().into())).ok();
    }

    fn media(&self, frame: &[u8]) {
        self.json(json!({"event": "media", "streamSid": "MZ00000000000000000000000000000001",
                         "media": {"track": "inbound", "payload": STANDARD.encode(frame)}}));
    }

    async fn next(&mut self, wait: Duration) -> Option<(Got, Instant)> {
        tokio::time::timeout(wait, self.got.recv()).await.ok().flatten()
    }

    /// The audio received until the next mark (its name returned too).
    async fn until_mark(&mut self, while_waiting: &[u8]) -> (Vec<u8>, String, Option<Instant>) {
        let mut audio = Vec::new();
        let mut first = None;
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            assert!(Instant::now() < deadline, "no mark came");
            tokio::select! {
                got = self.got.recv() => match got {
                    Some((Got::Media(frame), at)) => {
                        first.get_or_insert(at);
                        audio.extend(frame);
                    }
                    Some((Got::Mark(name), _)) => return (audio, name, first),
                    Some((other, _)) => panic!("expected audio and a mark, got {other:?}"),
                    None => panic!("the stream ended"),
                },
                _ = tick.tick() => self.media(while_waiting),
            }
        }
    }
}

/// The question as espeak-ng says it, in 20 ms μ-law frames.
async fn spoken_question() -> Vec<Vec<u8>> {
    let audio = EspeakSynthesizer::default().synthesize(QUESTION, None).await.expect("espeak-ng speaks");
    let rate = SampleRate::from_hz(audio.sample_rate).expect("a known rate");
    let narrow = resample_all(rate, SampleRate::Hz8000, &audio.samples);
    let mut mulaw = Vec::new();
    mulaw_encode_into(&narrow, &mut mulaw);
    mulaw.chunks(160).map(|c| c.to_vec()).collect()
}

/// Sends frames at real-time pace, as a phone line does.
async fn play(twilio: &Twilio, frames: &[Vec<u8>]) {
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for frame in frames {
        tick.tick().await;
        twilio.media(frame);
    }
}

/// What the sidecar hears in μ-law audio.
async fn transcribe(s: &TestServer, mulaw: &[u8]) -> String {
    let base = s.state.voice.as_ref().and_then(|v| v.state().base_url().map(str::to_owned)).expect("voice ready");
    let endpoint = s.config.voice.settings().stt_endpoint(Some(&base)).expect("endpoint");
    let mut narrow = Vec::new();
    mulaw_decode_into(mulaw, &mut narrow);
    let wide = resample_all(SampleRate::Hz8000, SampleRate::Hz16000, &narrow);
    let stt = OpenAiTranscriber::new(sidecar_client().expect("client"), endpoint);
    stt.transcribe(&PcmAudio { samples: wide, sample_rate: 16_000 }, Some("en")).await.expect("transcribed")
}

/// The only call of the project, once it has ended.
async fn the_call(s: &TestServer) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        let list = s.get("/v1/calls").await;
        if let Some(id) = list.body["calls"][0]["call_id"].as_str() {
            break id.to_owned();
        }
        assert!(Instant::now() < deadline, "no call: {}", list.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    s.finished_call(&id).await
}

fn lines(call: &Value) -> Vec<(String, String)> {
    call["transcript"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| (t["role"].as_str().unwrap_or("").to_owned(), t["content"].as_str().unwrap_or("").to_owned()))
        .collect()
}

/// Waits for the server to close a stream without sending audio.
async fn refused(twilio: &mut Twilio) {
    match twilio.next(Duration::from_secs(15)).await {
        Some((Got::Closed, _)) => {}
        other => panic!("the stream was not refused: {other:?}"),
    }
}

#[tokio::test]
async fn a_caller_asks_by_voice_and_the_agent_answers_from_its_knowledge_base() {
    if !espeak_installed() {
        return;
    }
    let s = voice_server().await;
    opening_hours_agent(&s, "Thanks for calling Acme.").await;

    // A webhook not signed with the number's token is refused.
    let forged = voice_webhook(&s, "CA00000000000000000000000000000001", &"0".repeat(32)).await;
    assert_eq!(forged.status(), 403);

    let call_sid = "CA00000000000000000000000000000002";
    let answered = voice_webhook(&s, call_sid, &auth_token()).await;
    assert_eq!(answered.status(), 200);
    assert!(answered.headers()["content-type"].to_str().expect("header").starts_with("text/xml"));
    let (url, token) = stream_of(&answered.text().await.expect("TwiML"));
    assert!(url.starts_with("ws://127.0.0.1:") && url.ends_with("/v1/telephony/twilio/stream"), "{url}");

    // A stream with a made-up token is refused.
    let mut guessed = Twilio::connect(&url, call_sid, &"ab".repeat(32)).await;
    refused(&mut guessed).await;

    let mut twilio = Twilio::connect(&url, call_sid, &token).await;
    let (greeting, _, _) = twilio.until_mark(&SILENCE).await;
    assert!(greeting.len() > 8_000 / 2, "the greeting is audio: {} bytes", greeting.len());

    let question = spoken_question().await;
    play(&twilio, &question).await;
    let spoke_until = Instant::now();
    let (answer, _, first_frame) = twilio.until_mark(&SILENCE).await;
    let first_frame = first_frame.expect("the answer is audio");
    println!(
        "end of the caller's speech to the first frame of the answer: {} ms (600 ms of it the end-of-turn hang-over)",
        first_frame.duration_since(spoke_until).as_millis()
    );
    let heard = transcribe(&s, &answer).await.to_lowercase();
    // Whisper writes numbers as digits.
    assert!(
        heard.contains("saturday") && (heard.contains("nine") || heard.contains('9')),
        "the answer as heard: {heard}"
    );

    // The same token does not open a second stream.
    let mut replayed = Twilio::connect(&url, call_sid, &token).await;
    refused(&mut replayed).await;

    twilio.json(json!({"event": "stop", "sequenceNumber": "99", "streamSid": "MZ00000000000000000000000000000001",
                       "stop": {"accountSid": account_sid(), "callSid": call_sid}}));
    let call = the_call(&s).await;
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["to_number"], NUMBER);
    assert_eq!(call["from_number"], CALLER);
    let said = lines(&call);
    let user: Vec<&String> = said.iter().filter(|(role, _)| role == "user").map(|(_, text)| text).collect();
    assert!(
        user.iter().any(|t| t.to_lowercase().contains("opening hours") && t.to_lowercase().contains("saturday")),
        "{said:?}"
    );
    assert!(said.iter().any(|(role, text)| role != "user" && text.contains("nine to one")), "{said:?}");
    println!("latency_data: {}", call["latency_data"]);
    // A spoken turn is timed for real: recognition takes Whisper some time,
    // and each later step comes after it.
    let turn = &call["latency_data"]["turns"][0];
    let ms = |field: &str| turn[field].as_u64().unwrap_or_else(|| panic!("{field} in {turn}"));
    assert!(ms("stt_ms") > 0, "{turn}");
    assert!(ms("llm_ttfb_ms") >= ms("stt_ms") && ms("tts_ttfb_ms") >= ms("tts_start_ms"), "{turn}");
}

#[tokio::test]
async fn speaking_over_a_long_greeting_clears_it_and_keeps_only_what_was_heard() {
    if !espeak_installed() {
        return;
    }
    let s = voice_server().await;
    let greeting = "Thank you for calling Acme Hardware, the friendliest hardware store in town. \
        We stock tools, paint, garden supplies and everything you need for your home. \
        Our staff are happy to help you find the right product for any project. \
        How can I help you today?";
    opening_hours_agent(&s, greeting).await;
    let call_sid = "CA00000000000000000000000000000003";
    let answered = voice_webhook(&s, call_sid, &auth_token()).await;
    let (url, token) = stream_of(&answered.text().await.expect("TwiML"));
    let mut twilio = Twilio::connect(&url, call_sid, &token).await;

    // Wait for the greeting to play for a second, then ask over it.
    let mut frames = 0;
    while frames < 50 {
        match twilio.next(Duration::from_secs(60)).await {
            Some((Got::Media(_), _)) => frames += 1,
            other => panic!("expected the greeting's audio, got {other:?}"),
        }
        twilio.media(&SILENCE);
    }
    let question = spoken_question().await;
    let speaking = tokio::spawn({
        let send = twilio.send.clone();
        async move {
            let twilio_side = Twilio { send, got: mpsc::unbounded_channel().1 };
            play(&twilio_side, &question).await;
        }
    });
    let started = Instant::now();
    let cleared_at = loop {
        match twilio.next(Duration::from_secs(30)).await {
            Some((Got::Clear, at)) => break at,
            Some((Got::Media(_) | Got::Mark(_), _)) => {}
            other => panic!("expected a clear, got {other:?}"),
        }
    };
    println!("caller started talking to clear: {} ms", cleared_at.duration_since(started).as_millis());
    speaking.await.expect("the caller spoke");
    let (answer, _, _) = twilio.until_mark(&SILENCE).await;
    let heard = transcribe(&s, &answer).await.to_lowercase();
    assert!(heard.contains("saturday"), "the answer as heard: {heard}");

    twilio.json(json!({"event": "stop", "sequenceNumber": "99", "streamSid": "MZ00000000000000000000000000000001",
                       "stop": {"accountSid": account_sid(), "callSid": call_sid}}));
    let call = the_call(&s).await;
    let said = lines(&call);
    let (role, first) = &said[0];
    assert_ne!(role, "user");
    assert!(!first.is_empty() && first.len() < greeting.len(), "the greeting is cut short: {said:?}");
    assert!(greeting.starts_with(first.trim_end_matches(['.', '…', ' '])), "only what was heard: {first:?}");
    assert!(said.iter().any(|(role, text)| role == "user" && text.to_lowercase().contains("saturday")), "{said:?}");
}
