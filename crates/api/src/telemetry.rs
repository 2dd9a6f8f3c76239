use tracing_subscriber::EnvFilter;

/// Logs to stderr, filtered by `LATCH_LOG` (default `info`). Standard output is kept for
/// what commands print, such as a new API key.
pub fn init_logging() {
    let filter =
        EnvFilter::try_from_env("LATCH_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
