//! `/v1/telephony/…`: what carriers call. Twilio's voice webhook (form-encoded, signed
//! with the number's auth token, answered with TwiML) and its media-stream WebSocket.
//! Carriers carry no API key; the signature and the stream's single-use token stand in
//! for it. The handlers only translate HTTP and WebSocket frames; the rules live in
//! [`switchboard_runtime::telephony`].

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use switchboard_runtime::telephony::twilio::media::{self, CodecError, StreamIn};
use switchboard_runtime::telephony::twilio::stream::TwilioStream;
use switchboard_runtime::telephony::twilio::{STREAM_PATH, VOICE_PATH, WebhookError};

use crate::error::ApiError;
use crate::state::AppState;

/// The largest Media Streams message accepted: a `media` message is well under 1 KiB.
const MAX_STREAM_MESSAGE_BYTES: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route(VOICE_PATH, post(twilio_voice)).route(STREAM_PATH, any(twilio_stream))
}

/// Twilio's voice webhook for a call to an imported number.
async fn twilio_voice(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "Expected a form-encoded body."))?;
    let signature = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok());
    let path = uri.path_and_query().map_or(VOICE_PATH, |p| p.as_str());
    match state.telephony.twilio_voice(path, signature, &params).await {
        Ok(twiml) => Ok(([(header::CONTENT_TYPE, "text/xml")], twiml).into_response()),
        Err(err @ WebhookError::Forbidden) => Err(ApiError::new(StatusCode::FORBIDDEN, "FORBIDDEN", err.to_string())),
        Err(err @ WebhookError::NoPublicUrl) => {
            tracing::error!("a Twilio webhook arrived but public_url is not set");
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "PUBLIC_URL_NOT_SET", err.to_string()))
        }
    }
}

/// Twilio's bidirectional media stream.
async fn twilio_stream(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    let stream = state.telephony.twilio_stream();
    ws.max_message_size(MAX_STREAM_MESSAGE_BYTES).on_upgrade(move |socket| relay(socket, stream))
}

/// Moves messages between the WebSocket and the stream until either side ends.
async fn relay(mut socket: WebSocket, mut stream: TwilioStream) {
    let mut stream_sid = String::new();
    loop {
        tokio::select! {
            received = socket.recv() => match received {
                Some(Ok(Message::Text(text))) => match media::parse(text.as_str()) {
                    Ok(message) => {
                        if let StreamIn::Start(start) = &message {
                            stream_sid = start.stream_sid.clone();
                        }
                        if stream.inbound.send(message).await.is_err() {
                            break;
                        }
                    }
                    Err(CodecError::Ignored(_)) => {}
                    Err(err) => tracing::debug!(error = %err, "unreadable media-stream message"),
                },
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            sent = stream.outbound.recv() => match sent {
                Some(message) => {
                    let text = media::encode(&stream_sid, &message);
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                None => {
                    socket.send(Message::Close(None)).await.ok();
                    break;
                }
            },
        }
    }
}
