//! The webhook endpoint of the benchmarks: answers 200 with no body and keeps
//! only each delivery's `webhook-id` and arrival time, so it costs the machine
//! as little as a receiver can and the sender is what gets measured.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tokio::net::TcpListener;

type Arrivals = Arc<Mutex<Vec<(String, Instant)>>>;

/// A running receiver on 127.0.0.1; stops when dropped.
pub struct CountingReceiver {
    addr: SocketAddr,
    arrivals: Arrivals,
    task: tokio::task::JoinHandle<()>,
}

impl CountingReceiver {
    pub async fn start() -> anyhow::Result<Self> {
        let arrivals = Arrivals::default();
        let app = Router::new().route("/hook", post(receive)).with_state(arrivals.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Ok(CountingReceiver { addr, arrivals, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Deliveries received so far.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// Each delivery's `webhook-id` and arrival, in arrival order.
    pub fn arrivals(&self) -> Vec<(String, Instant)> {
        self.lock().clone()
    }

    /// Waits until `count` deliveries have arrived; an error after `limit`.
    pub async fn wait_for(&self, count: usize, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        while self.count() < count {
            if Instant::now() > deadline {
                anyhow::bail!("only {} of {count} deliveries arrived within {limit:?}", self.count());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(String, Instant)>> {
        self.arrivals.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for CountingReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(arrivals): State<Arrivals>, headers: HeaderMap) -> StatusCode {
    let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    arrivals.lock().unwrap_or_else(PoisonError::into_inner).push((id, Instant::now()));
    StatusCode::OK
}
