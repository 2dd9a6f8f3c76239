use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres};

use crate::sql_store::impl_store;
use crate::{Backend, StoreError};

/// PostgreSQL, for several stateless replicas sharing one database.
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    const BACKEND: Backend = Backend::Postgres;

    /// Connects and migrates. Migrations take an advisory lock, so replicas starting
    /// together apply them once.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|error| match error {
                sqlx::Error::Tls(cause) => StoreError::Setup(format!(
                    "the PostgreSQL connection could not use TLS as `sslmode` in \
                     LATCH_DATABASE_URL asks: {cause}"
                )),
                other => other.into(),
            })?;
        sqlx::migrate!("../../migrations/postgres")
            .run(&pool)
            .await?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl_store!(PostgresStore, Postgres);
