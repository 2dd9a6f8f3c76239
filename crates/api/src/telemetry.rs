//! Logs: to stderr (standard output is kept for what commands print, such as a new API key),
//! filtered by `LATCH_LOG` (default `info,sqlx=warn`), as text or, with
//! `LATCH_LOG_FORMAT=json`, one JSON object a line.
//!
//! Lines are written by a thread of their own, so a request never waits on the terminal or
//! the pipe behind stderr. When that writer falls behind, logging waits rather than dropping
//! lines: a log that silently loses lines is worse than a slower request.

use std::io::IsTerminal;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Installs the process's log subscriber. Keep the guard until the process ends: dropping it
/// writes what is still queued.
pub fn init_logging() -> Result<WorkerGuard, String> {
    let filter =
        EnvFilter::try_from_env("LATCH_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("latch-log")
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match std::env::var("LATCH_LOG_FORMAT").as_deref() {
        Ok("json") => builder.json().init(),
        Ok("text") | Err(_) => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        Ok(other) => {
            return Err(format!(
                "LATCH_LOG_FORMAT must be `text` or `json`, not `{other}`"
            ));
        }
    }
    Ok(guard)
}
