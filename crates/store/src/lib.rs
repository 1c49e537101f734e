//! Persistence for Switchboard: one sqlx `Any` pool over SQLite or PostgreSQL.
//!
//! Each resource has its own module adding methods to [`Store`]. Every method that
//! reads or writes tenant data takes the org or project it is scoped to, so an
//! object of another tenant is simply not found.

pub mod addresses;
pub mod agents;
pub mod appointments;
mod call_events;
pub mod calls;
pub mod carrier_numbers;
pub mod changes;
pub mod clock;
pub mod contacts;
pub mod deliveries;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod journal;
pub mod keys;
pub mod knowledge;
pub mod memory;
pub mod messages;
pub mod nodes;
pub mod orgs;
pub mod phone_numbers;
pub mod projects;
mod rows;
pub mod sms;
pub mod usage;
pub mod webhooks;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use clock::Clock;
pub use error::{Error, Result};

/// Which database is behind the pool; the few places where SQL differs ask this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The handle every part of the server shares: its pools and the clock it
/// stamps with.
#[derive(Clone)]
pub struct Store {
    /// Reads.
    pool: AnyPool,
    /// Writes. On SQLite, one connection: writers queue for it here instead
    /// of fighting over the database's write lock with busy-waits; on
    /// PostgreSQL, the same pool as reads.
    writer: AnyPool,
    backend: Backend,
    clock: Clock,
    /// Woken after a transaction that recorded events commits.
    outbox: std::sync::Arc<tokio::sync::Notify>,
    /// Told about committed writes that caches may hold copies of.
    changes: changes::Changes,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Connects to `sqlite://path` (created if missing, WAL journal) or
    /// `postgres://…`.
    pub async fn connect(url: &str, clock: Clock) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(Error::Config(format!("unsupported database URL scheme in {}", redact(url))));
        };
        let url = match backend {
            Backend::Sqlite => sqlite_url(url)?,
            Backend::Postgres => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url).map_err(Error::Db)?;
        let (pool, writer) = match backend {
            Backend::Sqlite => {
                let pool = sqlite_pool(8).connect_with(options.clone()).await?;
                let writer = sqlite_pool(1).connect_with(options).await?;
                (pool, writer)
            }
            Backend::Postgres => {
                let pool = pool_options().max_connections(16).connect_with(options).await?;
                (pool.clone(), pool)
            }
        };
        Ok(Store { pool, writer, backend, clock, outbox: Default::default(), changes: Default::default() })
    }

    /// Applies the migrations of this backend that have not run yet.
    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.writer).await.map_err(|e| Error::Migrate(e.to_string()))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Where caches listen for committed changes to what they hold.
    pub fn changes(&self) -> &changes::Changes {
        &self.changes
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    /// Starts a transaction that will write. SQLite takes the write lock up front
    /// (`BEGIN IMMEDIATE`) so two writers never deadlock upgrading read locks.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        let tx = match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.writer.begin().await?,
        };
        Ok(tx)
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// A SQLite pool of `connections`, each set up for WAL and a busy timeout.
fn sqlite_pool(connections: u32) -> AnyPoolOptions {
    pool_options().max_connections(connections).after_connect(|conn, _| {
        Box::pin(async move {
            conn.execute(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
            )
            .await?;
            Ok(())
        })
    })
}

/// Connections idle longer than this are pinged before use.
const PING_WHEN_IDLE: Duration = Duration::from_secs(30);

/// Pool settings of both backends. A connection is checked only when it has
/// been idle a while: pinging on every acquire doubled the round trips of
/// every query.
fn pool_options() -> AnyPoolOptions {
    AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10)).test_before_acquire(false).before_acquire(
        |conn, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_WHEN_IDLE {
                    use sqlx::Connection;
                    conn.ping().await?;
                }
                Ok(true)
            })
        },
    )
}

/// Makes sure a SQLite URL creates its file (and its folder) when missing.
fn sqlite_url(url: &str) -> Result<String> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(Error::Config("SQLite needs a file path, e.g. sqlite://./data/switchboard.db".into()));
    }
    if let Some(parent) = std::path::Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::Config(format!("cannot create {}: {e}", parent.display())))?;
    }
    Ok(if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}

/// A database URL with any password replaced, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        _ => url.split('@').next_back().unwrap_or(url).to_owned(),
    }
}
