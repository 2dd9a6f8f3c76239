//! Persistence for Latch.
//!
//! One [`Store`] trait with a SQLite and a PostgreSQL implementation, chosen by the scheme of
//! the database URL. The store keeps ciphertext bytes it cannot read: it never depends on the
//! vault. Every mutation that users can see carries its audit event and writes both in one
//! transaction, so there is never a change without its record or a record without its change.

mod connect_sessions;
mod error;
mod health;
mod model;
mod names;
mod oauth_apps;
pub mod outbox;
mod postgres;
mod sql;
mod sql_store;
mod sqlite;
mod traits;
mod webhooks;

use std::sync::Arc;

use async_trait::async_trait;

pub use connect_sessions::*;
pub use error::StoreError;
pub use health::*;
pub use model::*;
pub use names::folded_name;
pub use oauth_apps::*;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use traits::*;
pub use webhooks::*;

/// The default database: an embedded SQLite file, created with its folder when missing.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/latch.db";

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a database URL names, by its scheme.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let scheme = url.split_once(':').map(|(scheme, _)| scheme).unwrap_or("");
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            // The URL may hold a password: name only its scheme.
            other => Err(StoreError::UnsupportedUrl(other.to_string())),
        }
    }
}

/// Opens the database a URL names and brings its schema up to date.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match Backend::from_url(url)? {
        Backend::Sqlite => Arc::new(SqliteStore::connect(url).await?),
        Backend::Postgres => Arc::new(PostgresStore::connect(url).await?),
    })
}

/// Everything Latch keeps: every table group's trait, and the database itself. Every query
/// on tenant data filters by organisation.
#[async_trait]
pub trait Store:
    OrganizationStore
    + KeyringStore
    + ApiKeyStore
    + CredentialStore
    + HealthStore
    + WorkerStore
    + DataSourceStore
    + OAuthAppStore
    + ConnectSessionStore
    + TokenStore
    + ChangeStore
    + AuditStore
    + WebhookStore
    + DeliveryStore
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> Backend;

    /// Succeeds when the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}
