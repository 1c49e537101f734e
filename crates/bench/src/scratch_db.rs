//! Throwaway databases for the benchmarks: a SQLite file in a temporary folder,
//! or a fresh database on a PostgreSQL server, dropped when the run ends. A
//! bench never writes into a database that holds real data.

use anyhow::{Context, bail};
use reqwest::Url;
use sqlx::Connection;
use switchboard_store::redact;
use tempfile::TempDir;

/// A database that exists for one run only.
pub(crate) enum Database {
    Sqlite { url: String, _dir: TempDir },
    Postgres { server_url: String, name: String, url: String },
}

impl Database {
    /// Runs `bench` on a database made for it (on `server_url`, else a
    /// temporary SQLite file) and drops the database whether or not the bench
    /// succeeded.
    pub(crate) async fn run_with<T>(
        server_url: Option<&str>,
        bench: impl AsyncFnOnce(&Database) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let database = Self::create(server_url).await?;
        let outcome = bench(&database).await;
        let removed = database.remove().await;
        let report = outcome?;
        removed?;
        Ok(report)
    }

    async fn create(server_url: Option<&str>) -> anyhow::Result<Self> {
        match server_url {
            None => {
                let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                Ok(Database::Sqlite { url, _dir: dir })
            }
            Some(url) if url.starts_with("postgres:") || url.starts_with("postgresql:") => {
                Self::create_postgres(url).await
            }
            Some(_) => bail!(
                "a bench's --database-url takes a PostgreSQL server (postgres://…); \
                 without it the bench uses a temporary SQLite file"
            ),
        }
    }

    /// Creates `sb_bench_<ulid>` on the server and returns its URL.
    async fn create_postgres(server_url: &str) -> anyhow::Result<Self> {
        let name = format!("sb_bench_{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
        let mut conn = sqlx::PgConnection::connect(server_url)
            .await
            .with_context(|| format!("cannot connect to {}", redact(server_url)))?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .with_context(|| format!("cannot create the database {name}"))?;
        conn.close().await.ok();
        let mut url = Url::parse(server_url).context("--database-url is not a URL")?;
        url.set_path(&format!("/{name}"));
        Ok(Database::Postgres { server_url: server_url.to_owned(), name, url: url.to_string() })
    }

    pub(crate) fn url(&self) -> &str {
        match self {
            Database::Sqlite { url, .. } | Database::Postgres { url, .. } => url,
        }
    }

    pub(crate) fn label(&self) -> String {
        match self {
            Database::Sqlite { .. } => "SQLite (temporary file, WAL)".into(),
            Database::Postgres { server_url, name, .. } => {
                format!("PostgreSQL (fresh database {name} on {})", redact(server_url))
            }
        }
    }

    /// Drops the PostgreSQL database; the SQLite folder goes with `self`.
    pub(crate) async fn remove(self) -> anyhow::Result<()> {
        let Database::Postgres { server_url, name, .. } = self else {
            return Ok(());
        };
        let mut conn = sqlx::PgConnection::connect(&server_url)
            .await
            .with_context(|| format!("cannot connect to {} to drop {name}", redact(&server_url)))?;
        // FORCE (PostgreSQL 13+) ends connections a failed run may have left behind.
        let forced = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
            .execute(&mut conn)
            .await;
        if forced.is_err() {
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
                .execute(&mut conn)
                .await
                .with_context(|| format!("cannot drop the database {name}"))?;
        }
        conn.close().await.ok();
        Ok(())
    }
}
