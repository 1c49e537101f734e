//! The outbound client against real HTTP servers on 127.0.0.1: SSRF refusals before any
//! connection, the dev and allow-list relaxations, redirects, timeouts, size caps and signatures.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use switchboard_runtime::outbound::{
    DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TOLERANCE_SECS, OutboundClient, OutboundError, OutboundPolicy,
    SWITCHBOARD_SIGNATURE_HEADER, SWITCHBOARD_TIMESTAMP_HEADER, WEBHOOK_ID_HEADER, WEBHOOK_SIGNATURE_HEADER,
    WEBHOOK_TIMESTAMP_HEADER, signature_headers, verify_standard, verify_switchboard,
};
use tokio::net::TcpListener;

const TIMEOUT: Duration = Duration::from_secs(10);
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A real HTTP peer that counts every request it sees and keeps what `/hook` received.
struct Peer {
    addr: SocketAddr,
    state: PeerState,
}

#[derive(Clone, Default)]
struct PeerState {
    requests: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    redirect_to: Arc<String>,
}

impl Peer {
    async fn start(redirect_to: &str) -> Peer {
        let state = PeerState { redirect_to: Arc::new(redirect_to.to_owned()), ..PeerState::default() };
        let router = Router::new()
            .route("/ok", get(|| async { "hello" }))
            .route("/hook", post(receive_hook))
            .route("/redirect", get(redirect))
            .route("/slow", get(slow).post(slow))
            .route("/big", get(|| async { vec![b'x'; DEFAULT_MAX_RESPONSE_BYTES + 1] }))
            .route("/exactly-the-limit", get(|| async { vec![b'x'; DEFAULT_MAX_RESPONSE_BYTES] }))
            .route("/big-chunked", get(big_chunked))
            .layer(middleware::from_fn_with_state(state.clone(), count_request))
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a local port");
        let addr = listener.local_addr().expect("bound address");
        tokio::spawn(async move { axum::serve(listener, router).await.expect("peer server") });
        Peer { addr, state }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn localhost_url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.addr.port())
    }

    fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }
}

async fn count_request(State(state): State<PeerState>, request: Request, next: Next) -> Response {
    state.requests.fetch_add(1, Ordering::SeqCst);
    next.run(request).await
}

async fn receive_hook(State(state): State<PeerState>, headers: HeaderMap, body: Bytes) -> &'static str {
    state.received.lock().expect("received lock").push((headers, body));
    "ok"
}

async fn redirect(State(state): State<PeerState>) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, state.redirect_to.as_str().to_owned())]).into_response()
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(60)).await;
    "too late"
}

/// 2 MiB in 64 KiB chunks with no Content-Length, so only the streaming cap can stop it.
async fn big_chunked() -> Body {
    let chunks = (0..32).map(|_| Ok::<_, Infallible>(Bytes::from(vec![b'y'; 64 * 1024])));
    Body::from_stream(futures_util::stream::iter(chunks))
}

fn client(policy: OutboundPolicy) -> OutboundClient {
    OutboundClient::new(policy).expect("valid policy")
}

fn strict() -> OutboundClient {
    client(OutboundPolicy::default())
}

fn dev() -> OutboundClient {
    client(OutboundPolicy { allow_private: true, ..OutboundPolicy::default() })
}

fn allowing(entries: &[&str]) -> OutboundClient {
    client(OutboundPolicy { allow_list: entries.iter().map(|e| e.to_string()).collect(), ..OutboundPolicy::default() })
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs() as i64
}

/// Whether anyone opened a TCP connection to `listener`. A connection made before the client
/// returned is already queued, so a short wait is enough to see it.
async fn was_connected(listener: &TcpListener) -> bool {
    tokio::time::timeout(Duration::from_millis(200), listener.accept()).await.is_ok()
}

#[tokio::test]
async fn loopback_literal_is_blocked_before_any_request() {
    let peer = Peer::start("").await;
    let err = strict().get(&peer.url("/ok"), &[], TIMEOUT).await.unwrap_err();
    assert!(matches!(err, OutboundError::Blocked(_)), "{err:?}");
    assert_eq!(err.to_string(), "blocked: 127.0.0.1 is a loopback address");
    assert_eq!(peer.requests(), 0);
}

#[tokio::test]
async fn localhost_name_is_blocked_at_resolve_time_before_any_request() {
    let peer = Peer::start("").await;
    let err = strict().get(&peer.localhost_url("/ok"), &[], TIMEOUT).await.unwrap_err();
    assert!(matches!(err, OutboundError::Blocked(_)), "{err:?}");
    // What the name resolved to is for the server log, not for the customer.
    assert_eq!(err.to_string(), "blocked: destination localhost is not allowed");
    let err = strict().post_json(&peer.localhost_url("/hook"), &[], Bytes::from_static(b"{}"), TIMEOUT).await;
    assert!(matches!(err, Err(OutboundError::Blocked(_))), "{err:?}");
    assert_eq!(peer.requests(), 0);
}

#[tokio::test]
async fn blocked_destinations_never_see_a_tcp_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    for url in [format!("http://127.0.0.1:{port}/"), format!("http://localhost:{port}/")] {
        let err = strict().get(&url, &[], TIMEOUT).await.unwrap_err();
        assert!(matches!(err, OutboundError::Blocked(_)), "{url}: {err:?}");
    }
    assert!(!was_connected(&listener).await);
}

#[tokio::test]
async fn dev_mode_reaches_loopback() {
    let peer = Peer::start("").await;
    let client = dev();
    for url in [peer.url("/ok"), peer.localhost_url("/ok")] {
        let response = client.get(&url, &[], TIMEOUT).await.unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, "hello");
    }
    assert_eq!(peer.requests(), 2);
}

#[tokio::test]
async fn allow_list_address_and_cidr_entries_let_loopback_through() {
    let peer = Peer::start("").await;
    for entry in ["127.0.0.1", "127.0.0.0/8"] {
        let client = allowing(&[entry]);
        let response = client.get(&peer.url("/ok"), &[], TIMEOUT).await.unwrap();
        assert_eq!(response.status, 200, "{entry}");
        // The entry matches the address connected to, whatever name led there.
        let response = client.get(&peer.localhost_url("/ok"), &[], TIMEOUT).await.unwrap();
        assert_eq!(response.status, 200, "{entry}");
    }
    assert_eq!(peer.requests(), 4);
}

#[tokio::test]
async fn allow_list_host_and_port_entries_open_only_what_they_name() {
    let peer = Peer::start("").await;
    let port = peer.addr.port();

    let by_name = allowing(&["localhost"]);
    assert_eq!(by_name.get(&peer.localhost_url("/ok"), &[], TIMEOUT).await.unwrap().status, 200);
    let err = by_name.get(&peer.url("/ok"), &[], TIMEOUT).await.unwrap_err();
    assert!(matches!(err, OutboundError::Blocked(_)), "{err:?}");

    let by_socket = allowing(&[&format!("127.0.0.1:{port}")]);
    assert_eq!(by_socket.get(&peer.url("/ok"), &[], TIMEOUT).await.unwrap().status, 200);
    let other_port = format!("http://127.0.0.1:{}/ok", port.wrapping_add(1).max(1));
    assert!(matches!(by_socket.get(&other_port, &[], TIMEOUT).await, Err(OutboundError::Blocked(_))));

    let by_name_and_port = allowing(&[&format!("localhost:{port}")]);
    assert_eq!(by_name_and_port.get(&peer.localhost_url("/ok"), &[], TIMEOUT).await.unwrap().status, 200);
    let other_port = format!("http://localhost:{}/ok", port.wrapping_add(1).max(1));
    assert!(matches!(by_name_and_port.get(&other_port, &[], TIMEOUT).await, Err(OutboundError::Blocked(_))));

    assert_eq!(peer.requests(), 3);
}

#[tokio::test]
async fn redirects_are_returned_not_followed() {
    let target = Peer::start("").await;
    let redirecting = Peer::start(&target.url("/ok")).await;
    let response = dev().get(&redirecting.url("/redirect"), &[], TIMEOUT).await.unwrap();
    assert_eq!(response.status, 302);
    assert_eq!(response.headers[header::LOCATION], target.url("/ok"));
    assert_eq!(redirecting.requests(), 1);
    assert_eq!(target.requests(), 0);
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let peer = Peer::start("").await;
    let err = dev().get(&peer.url("/slow"), &[], Duration::from_millis(300)).await.unwrap_err();
    assert!(matches!(err, OutboundError::Timeout), "{err:?}");
    assert_eq!(err.to_string(), "timed out");
    let err = dev().post_json(&peer.url("/slow"), &[], Bytes::new(), Duration::from_millis(300)).await.unwrap_err();
    assert!(matches!(err, OutboundError::Timeout), "{err:?}");
    assert_eq!(peer.requests(), 2);
}

#[tokio::test]
async fn oversized_responses_are_refused_whether_declared_or_streamed() {
    let peer = Peer::start("").await;
    let client = dev();
    let err = client.get(&peer.url("/big"), &[], TIMEOUT).await.unwrap_err();
    assert!(matches!(err, OutboundError::TooLarge), "{err:?}");
    let err = client.get(&peer.url("/big-chunked"), &[], TIMEOUT).await.unwrap_err();
    assert!(matches!(err, OutboundError::TooLarge), "{err:?}");
    let response = client.get(&peer.url("/exactly-the-limit"), &[], TIMEOUT).await.unwrap();
    assert_eq!(response.body.len(), DEFAULT_MAX_RESPONSE_BYTES);
}

#[tokio::test]
async fn a_smaller_configured_limit_applies() {
    let peer = Peer::start("").await;
    let client = client(OutboundPolicy { allow_private: true, max_response_bytes: 4, ..OutboundPolicy::default() });
    assert!(matches!(client.get(&peer.url("/ok"), &[], TIMEOUT).await, Err(OutboundError::TooLarge)));
}

#[tokio::test]
async fn signed_requests_verify_on_the_receiving_side_with_both_schemes() {
    let peer = Peer::start("").await;
    let body = Bytes::from_static(br#"{"type":"call.started","data":{"call_id":"call_01","note":"caf\u00e9 \u2615"}}"#);
    let timestamp = unix_now();
    let mut headers = signature_headers(SECRET, "whe_01HZX", timestamp, &body).unwrap();
    headers.push((header::AUTHORIZATION, "Bearer sk_customer".to_owned()));

    let response = dev().post_json(&peer.url("/hook"), &headers, body.clone(), TIMEOUT).await.unwrap();
    assert_eq!(response.status, 200);
    assert!(response.is_success());

    let received = peer.state.received.lock().unwrap().clone();
    let (got, raw_body) = &received[0];
    assert_eq!(raw_body, &body);
    assert_eq!(got[header::CONTENT_TYPE], "application/json");
    assert_eq!(got[header::AUTHORIZATION], "Bearer sk_customer");
    let text = |name: &str| got[name].to_str().unwrap().to_owned();
    let now = unix_now();
    assert!(verify_switchboard(
        SECRET,
        &text(SWITCHBOARD_TIMESTAMP_HEADER),
        &text(SWITCHBOARD_SIGNATURE_HEADER),
        raw_body,
        now,
        DEFAULT_TOLERANCE_SECS
    ));
    assert!(verify_standard(
        SECRET,
        &text(WEBHOOK_ID_HEADER),
        &text(WEBHOOK_TIMESTAMP_HEADER),
        &text(WEBHOOK_SIGNATURE_HEADER),
        raw_body,
        now,
        DEFAULT_TOLERANCE_SECS
    ));
    assert!(!verify_standard(
        SECRET,
        &text(WEBHOOK_ID_HEADER),
        &text(WEBHOOK_TIMESTAMP_HEADER),
        &text(WEBHOOK_SIGNATURE_HEADER),
        b"{}",
        now,
        DEFAULT_TOLERANCE_SECS
    ));
}

#[tokio::test]
async fn connection_failures_are_described_without_the_url() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("http://127.0.0.1:{port}/hook?token=sk_live_topsecret");
    let err = dev().get(&url, &[], TIMEOUT).await.unwrap_err();
    assert!(matches!(err, OutboundError::Connect(_)), "{err:?}");
    assert_eq!(err.to_string(), "connection refused");

    let err = strict().get("http://no-such-host.invalid/hook?token=sk_live_topsecret", &[], TIMEOUT).await.unwrap_err();
    assert!(matches!(err, OutboundError::Connect(_)), "{err:?}");
    assert_eq!(err.to_string(), "could not resolve host no-such-host.invalid");
}

#[tokio::test]
async fn streaming_sends_are_checked_too() {
    let peer = Peer::start("").await;
    let strict = strict();
    let request = strict.http().get(peer.url("/ok")).build().unwrap();
    let err = strict.send_streaming(request).await.unwrap_err();
    assert!(matches!(err, OutboundError::Blocked(_)), "{err:?}");
    // Even bypassing the pre-flight check, the resolver refuses a name that leads to loopback.
    let err = strict.http().get(peer.localhost_url("/ok")).send().await.unwrap_err();
    assert!(matches!(OutboundError::from(err), OutboundError::Blocked(_)));
    assert_eq!(peer.requests(), 0);

    let dev = dev();
    let request = dev.http().get(peer.url("/ok")).timeout(TIMEOUT).build().unwrap();
    let response = dev.send_streaming(request).await.unwrap();
    assert_eq!(response.text().await.unwrap(), "hello");
    assert_eq!(peer.requests(), 1);
}
