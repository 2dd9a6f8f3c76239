//! A fresh database per test: a temporary SQLite file, or a new PostgreSQL database on the
//! server `LATCH_TEST_POSTGRES_URL` names, dropped when the test ends.

use latch_store::Backend;
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};
use tempfile::TempDir;
use uuid::Uuid;

pub struct TestDatabase {
    pub backend: Backend,
    pub url: String,
    /// The SQLite file's folder, removed on drop.
    pub dir: Option<TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// `None` when PostgreSQL is asked for but not configured (and not required).
    pub async fn create(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/latch.db", dir.path().display());
                Some(Self {
                    backend,
                    url,
                    dir: Some(dir),
                    postgres: None,
                })
            }
            Backend::Postgres => {
                let server = postgres_server_url()?;
                let name = format!("latch_test_{}", Uuid::new_v4().simple());
                let mut admin = PgConnection::connect(&server)
                    .await
                    .expect("LATCH_TEST_POSTGRES_URL answers");
                // The name is ours (a UUID), never user input.
                sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                let mut url = reqwest::Url::parse(&server).unwrap();
                url.set_path(&format!("/{name}"));
                Some(Self {
                    backend,
                    url: url.to_string(),
                    dir: None,
                    postgres: Some((server, name)),
                })
            }
        }
    }

    /// The PostgreSQL database's name, for statistics about it.
    pub fn postgres_name(&self) -> Option<&str> {
        self.postgres.as_ref().map(|(_, name)| name.as_str())
    }

    /// The SQLite database file, for tests that read its bytes.
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        self.dir.as_ref().map(|dir| dir.path().join("latch.db"))
    }
}

fn postgres_server_url() -> Option<String> {
    match std::env::var("LATCH_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("LATCH_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "LATCH_REQUIRE_POSTGRES=1 but LATCH_TEST_POSTGRES_URL is not set"
            );
            crate::skips::postgres();
            None
        }
    }
}

impl TestDatabase {
    /// The tables of the migrated schema that have a column named `column`.
    pub async fn tables_with_column(&self, column: &str) -> std::collections::BTreeSet<String> {
        use sqlx::Connection;
        let rows: Vec<(String,)> = match self.backend {
            Backend::Sqlite => {
                let mut connection = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query_as(
                    "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) p \
                     WHERE m.type = 'table' AND p.name = $1",
                )
                .bind(column)
                .fetch_all(&mut connection)
                .await
                .unwrap()
            }
            Backend::Postgres => {
                let mut connection = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query_as(
                    "SELECT table_name::text FROM information_schema.columns \
                     WHERE table_schema = 'public' AND column_name = $1",
                )
                .bind(column)
                .fetch_all(&mut connection)
                .await
                .unwrap()
            }
        };
        rows.into_iter().map(|(table,)| table).collect()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((server, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot block: use a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&server).await?;
                sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await
                .map(|_| ())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop test database");
        }
    }
}
