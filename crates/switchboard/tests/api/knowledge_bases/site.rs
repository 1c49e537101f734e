//! A real website for crawls: an axum server on 127.0.0.1:0 serving pages set
//! by the test, logging every request, and able to hold its answers until the
//! test releases them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// One page: status, content type, body, and an optional `Location`.
#[derive(Clone)]
struct Page {
    status: u16,
    content_type: &'static str,
    body: String,
    location: Option<String>,
}

#[derive(Default)]
struct Shared {
    pages: Mutex<HashMap<String, Page>>,
    hits: Mutex<Vec<String>>,
}

pub struct Site {
    pub url: String,
    shared: Arc<Shared>,
    open: watch::Sender<bool>,
}

#[derive(Clone)]
struct AppState {
    shared: Arc<Shared>,
    open: watch::Receiver<bool>,
}

async fn serve(State(state): State<AppState>, uri: Uri) -> Response {
    let path = uri.path_and_query().map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
    state.shared.hits.lock().unwrap_or_else(PoisonError::into_inner).push(path.clone());
    let mut open = state.open.clone();
    open.wait_for(|o| *o).await.ok();
    let page = state.shared.pages.lock().unwrap_or_else(PoisonError::into_inner).get(&path).cloned();
    let Some(page) = page else { return StatusCode::NOT_FOUND.into_response() };
    let status = StatusCode::from_u16(page.status).unwrap_or(StatusCode::OK);
    let mut response = (status, [(header::CONTENT_TYPE, page.content_type)], page.body).into_response();
    if let Some(location) = page.location.and_then(|l| l.parse().ok()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

impl Site {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the site");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let shared = Arc::new(Shared::default());
        let (open, receiver) = watch::channel(true);
        let app = Router::new().fallback(serve).with_state(AppState { shared: shared.clone(), open: receiver });
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Site { url, shared, open }
    }

    fn put(&self, path: &str, page: Page) {
        self.shared.pages.lock().unwrap_or_else(PoisonError::into_inner).insert(path.to_owned(), page);
    }

    /// Serves an HTML page at `path`.
    pub fn html(&self, path: &str, body: &str) {
        self.put(
            path,
            Page { status: 200, content_type: "text/html; charset=utf-8", body: body.into(), location: None },
        );
    }

    /// Serves `robots.txt`.
    pub fn robots(&self, body: &str) {
        self.put("/robots.txt", Page { status: 200, content_type: "text/plain", body: body.into(), location: None });
    }

    /// Answers `path` with a bare status.
    pub fn status(&self, path: &str, status: u16) {
        self.put(path, Page { status, content_type: "text/plain", body: "error".into(), location: None });
    }

    /// Redirects `path` to `to` (301).
    pub fn redirect(&self, path: &str, to: &str) {
        self.put(
            path,
            Page { status: 301, content_type: "text/plain", body: String::new(), location: Some(to.into()) },
        );
    }

    /// Every path requested so far, in order.
    pub fn hits(&self) -> Vec<String> {
        self.shared.hits.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Holds every answer until [`Site::release`].
    pub fn hold(&self) {
        self.open.send_replace(false);
    }

    pub fn release(&self) {
        self.open.send_replace(true);
    }
}
