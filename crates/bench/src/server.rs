//! The real server a benchmark measures: migrations applied, an enterprise org
//! (no request limit) bootstrapped, every layer serving on a loopback port
//! until the benchmark stops it.

use anyhow::Context;
use switchboard_api::AppState;
use switchboard_store::{Clock, Store, redact};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use switchboard::Config;
use switchboard::admin;
use switchboard::server::{build_state, serve_state};

pub struct BenchServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The project key of the bootstrapped org.
    pub key: String,
    pub org_id: String,
    pub project_id: String,
    /// The server's state, for direct store and registry reads.
    pub state: AppState,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl BenchServer {
    /// Serves `config` (its `listen` is ignored: a free loopback port is
    /// taken) for an org named `org_name` that starts with `credits` EUR.
    pub async fn start(config: Config, org_name: &str, credits: f64) -> anyhow::Result<Self> {
        let store = Store::connect(&config.database_url, Clock::system())
            .await
            .with_context(|| format!("cannot open {}", redact(&config.database_url)))?;
        store.migrate().await.context("cannot apply migrations")?;
        let boot = admin::bootstrap(&store, org_name, credits).await?;
        admin::set_tier(&store, &boot.org_id, "enterprise").await?;
        let state = build_state(&config, store).await?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (shutdown, stopped) = oneshot::channel::<()>();
        let served = state.clone();
        let task = tokio::spawn(async move {
            serve_state(&config, served, listener, async {
                stopped.await.ok();
            })
            .await
        });
        Ok(BenchServer {
            base,
            key: boot.project_key,
            org_id: boot.org_id,
            project_id: boot.project_id,
            state,
            shutdown,
            task,
        })
    }

    /// Stops serving and waits for the server to finish.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.send(()).ok();
        self.task.await.context("the server task failed")?
    }
}
