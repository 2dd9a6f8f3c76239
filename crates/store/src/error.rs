use thiserror::Error;

/// Errors of the store. Database messages never carry bound values, so no secret or
/// ciphertext reaches them.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("no such record")]
    NotFound,
    #[error("the record is at version {current}, not the one expected")]
    VersionMismatch { current: i64 },
    #[error("a record with the same unique key already exists")]
    Conflict,
    /// A row still refers to the one being deleted or changed.
    #[error("the record is still referred to")]
    InUse,
    /// A limit on pending records was reached; one frees up at `retry_at`.
    #[error("too many pending records")]
    LimitReached {
        retry_at: chrono::DateTime<chrono::Utc>,
    },
    /// The task lease a write depended on is held by another owner now, or lapsed.
    #[error("the task lease was lost")]
    LeaseLost,
    /// Text the database cannot hold (PostgreSQL refuses NUL characters in text and JSON).
    #[error("a text value holds a character the database cannot store")]
    UnstorableText,
    #[error("unsupported database URL scheme `{0}`: use sqlite:// or postgres://")]
    UnsupportedUrl(String),
    #[error("could not prepare the database: {0}")]
    Setup(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::InUse,
            // SQLite reports ON DELETE RESTRICT as a trigger constraint (extended code 1811),
            // with the foreign key's message.
            sqlx::Error::Database(db) if db.message() == "FOREIGN KEY constraint failed" => {
                StoreError::InUse
            }
            // character_not_in_repertoire (NUL in text), untranslatable_character (\u0000 in
            // JSON): the request's fault, caught here should a check upstream miss one.
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("22021") | Some("22P05")) =>
            {
                StoreError::UnstorableText
            }
            _ => StoreError::Database(error),
        }
    }
}
