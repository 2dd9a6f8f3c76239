use std::path::Path;
#[cfg(all(test, unix))]
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};

use crate::sql_store::impl_store;
use crate::{Backend, StoreError};

/// The embedded database: one file, WAL mode, foreign keys on.
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    const BACKEND: Backend = Backend::Sqlite;

    /// Opens (creating when missing, with its folder) the database file and migrates it.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        prepare_private_file(options.get_filename())?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("../../migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }

    /// The pool, for tests that inspect the raw rows.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

impl_store!(SqliteStore, Sqlite);

/// Creates the database's folder (0700) and file (0600) when missing, so that no other user
/// can read them. SQLite gives its `-wal` and `-shm` files the database file's mode.
fn prepare_private_file(path: &Path) -> Result<(), StoreError> {
    if path.as_os_str().is_empty() || path == Path::new(":memory:") {
        return Ok(());
    }
    let setup = |what: &str, path: &Path, error: std::io::Error| {
        StoreError::Setup(format!(
            "cannot create the database {what} {}: {error}",
            path.display()
        ))
    };
    if let Some(folder) = path.parent()
        && !folder.as_os_str().is_empty()
        && !folder.exists()
    {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(folder)
            .map_err(|error| setup("folder", folder, error))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(setup("file", path, error)),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn a_new_database_its_log_files_and_its_folder_are_private() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join("data").join("nested");
        let file = folder.join("latch.db");
        let url = format!("sqlite://{}", file.display());
        let store = SqliteStore::connect(&url).await.unwrap();
        sqlx::query("CREATE TABLE probe (x INTEGER)")
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(mode(&folder), 0o700);
        assert_eq!(mode(&root.path().join("data")), 0o700);
        for suffix in ["", "-wal", "-shm"] {
            let path = PathBuf::from(format!("{}{suffix}", file.display()));
            assert!(path.exists(), "{}", path.display());
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
}
