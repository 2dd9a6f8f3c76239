//! Every log line the servers in this test process write, kept in memory so tests can prove
//! that no secret reached one.

use std::io::Write;
use std::sync::{Mutex, Once};

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber, at debug level, once per process.
pub fn install() {
    INSTALL.call_once(|| {
        tracing_subscriber::fmt()
            .with_env_filter("debug,sqlx=debug,h2=info,hyper=info")
            .with_ansi(false)
            .with_writer(|| Capture)
            .init();
    });
}

/// Everything logged so far by every server in this process.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}
