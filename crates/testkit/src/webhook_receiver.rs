//! A customer's webhook endpoint for tests: records every delivery (headers,
//! raw body, arrival time) and answers from a script of statuses, then 200.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;
use tokio::net::TcpListener;

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// A `Retry-After` header value.
    pub retry_after: Option<String>,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Reply { status, retry_after: None, delay: Duration::ZERO }
    }

    pub fn retry_after(status: u16, value: &str) -> Self {
        Reply { status, retry_after: Some(value.to_owned()), delay: Duration::ZERO }
    }

    pub fn slow(delay: Duration) -> Self {
        Reply { status: 200, retry_after: None, delay }
    }
}

/// One delivery as received.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The path after the receiver's base URL, e.g. `/org`.
    pub path: String,
    pub headers: HeaderMap,
    pub raw: Bytes,
    pub body: Value,
    pub at: Instant,
    /// The status it was answered with.
    pub answered: u16,
}

impl Delivery {
    pub fn event(&self) -> &str {
        self.body["event"].as_str().unwrap_or_default()
    }

    pub fn id(&self) -> &str {
        self.body["id"].as_str().unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Reply>,
    by_path: HashMap<String, VecDeque<Reply>>,
    received: Vec<Delivery>,
}

/// A running endpoint on 127.0.0.1 accepting POSTs on any path; stops when dropped.
pub struct WebhookReceiver {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl WebhookReceiver {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().route("/{*path}", post(handle)).with_state(inner.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}"));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        WebhookReceiver { addr, inner, task }
    }

    /// The URL of `path` on this receiver (e.g. `url("/org")`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Queues answers for the next requests (any path); afterwards 200.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.lock().script.extend(replies);
    }

    /// Answers every request to `path` with `reply` (before any queued answers).
    pub fn always(&self, path: &str, reply: Reply) {
        self.lock().by_path.insert(path.to_owned(), VecDeque::from([reply]));
    }

    /// Stops answering `path` with what [`WebhookReceiver::always`] set.
    pub fn recover(&self, path: &str) {
        self.lock().by_path.remove(path);
    }

    /// Everything received so far, in arrival order.
    pub fn received(&self) -> Vec<Delivery> {
        self.lock().received.clone()
    }

    /// Waits until `pred` holds for what was received, or panics after `limit`.
    pub async fn wait_until(&self, limit: Duration, pred: impl Fn(&[Delivery]) -> bool) -> Vec<Delivery> {
        let deadline = Instant::now() + limit;
        loop {
            let received = self.received();
            if pred(&received) {
                return received;
            }
            if Instant::now() > deadline {
                let seen: Vec<String> = received.iter().map(|d| format!("{} {}", d.path, d.event())).collect();
                panic!("the receiver did not get what was expected; it got {seen:?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let reply = {
        let mut inner = inner.lock().unwrap_or_else(PoisonError::into_inner);
        let fixed = inner.by_path.get(&format!("/{path}")).and_then(|q| q.front().cloned());
        fixed.or_else(|| inner.script.pop_front())
    };
    let reply = reply.unwrap_or_else(|| Reply::status(200));
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let delivery =
        Delivery { path: format!("/{path}"), headers, raw, body, at: Instant::now(), answered: reply.status };
    inner.lock().unwrap_or_else(PoisonError::into_inner).received.push(delivery);
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = status.into_response();
    if let Some(value) = reply.retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
        response.headers_mut().insert("retry-after", value);
    }
    response
}
