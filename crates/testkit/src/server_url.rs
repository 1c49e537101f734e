//! A customer's server_url handler for tests: records every request Switchboard
//! sends (headers and raw body) and answers `call.started` and `tool.call` as
//! scripted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;
use tokio::net::TcpListener;

/// How the handler answers a request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// 200 with this JSON body.
    Json(Value),
    /// This status with an empty body.
    Status(u16),
    /// This raw body with status 200.
    Raw(String),
    /// Wait, then answer.
    Delayed(Duration, Box<Answer>),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub raw: Bytes,
    pub body: Value,
}

impl Received {
    pub fn event(&self) -> &str {
        self.body["event"].as_str().unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Clone)]
struct Shared {
    call_started: Answer,
    tools: Arc<HashMap<String, Answer>>,
    received: Arc<Mutex<Vec<Received>>>,
}

/// A running handler on 127.0.0.1; stops when dropped.
pub struct ServerUrlPeer {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ServerUrlPeer {
    /// Starts a handler answering `call.started` with `call_started` and every
    /// other event with an empty 200.
    pub async fn start(call_started: Answer) -> Self {
        Self::with_tools(call_started, Vec::new()).await
    }

    /// Like [`ServerUrlPeer::start`], answering `tool.call` of each named tool
    /// as given (an unknown tool gets 404).
    pub async fn with_tools(call_started: Answer, tools: Vec<(&str, Answer)>) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let tools = Arc::new(tools.into_iter().map(|(name, answer)| (name.to_owned(), answer)).collect());
        let shared = Shared { call_started, tools, received: received.clone() };
        let app = Router::new().route("/hook", post(handle)).with_state(shared);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}"));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Self { addr, received, task }
    }

    /// The URL to put in an agent's `server_url`.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Every request received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The requests of one event.
    pub fn events(&self, event: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.event() == event).collect()
    }
}

impl Drop for ServerUrlPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(State(shared): State<Shared>, headers: HeaderMap, raw: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let reply = match body["event"].as_str() {
        Some("call.started") => Some(shared.call_started.clone()),
        Some("tool.call") => {
            let tool = body["name"].as_str().and_then(|name| shared.tools.get(name).cloned());
            Some(tool.unwrap_or(Answer::Status(404)))
        }
        _ => None,
    };
    shared.received.lock().unwrap_or_else(PoisonError::into_inner).push(Received { headers, raw, body });
    match reply {
        Some(reply) => answer(reply).await,
        None => StatusCode::OK.into_response(),
    }
}

async fn answer(answer: Answer) -> Response {
    let mut answer = answer;
    loop {
        match answer {
            Answer::Json(value) => return axum::Json(value).into_response(),
            Answer::Status(code) => return StatusCode::from_u16(code).unwrap_or(StatusCode::OK).into_response(),
            Answer::Raw(body) => return (StatusCode::OK, body).into_response(),
            Answer::Delayed(wait, next) => {
                tokio::time::sleep(wait).await;
                answer = *next;
            }
        }
    }
}
