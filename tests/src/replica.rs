//! A Latch server in a process of its own, as a replica: the same binary code as `latch`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// An admin key of organization `org` (created when missing), made with `binary`'s
/// `latch api-key create` on the database, as an operator would.
pub fn admin_key(binary: &Path, database_url: &str, org: &str) -> String {
    let output = Command::new(binary)
        .args(["api-key", "create", "--org", org, "--scope", "admin"])
        .args(["--name", "fixture"])
        .env("LATCH_DATABASE_URL", database_url)
        .env("LATCH_LOG", "warn")
        .output()
        .expect("latch api-key create runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("a key")
        .trim()
        .to_string()
}

pub struct Replica {
    pub address: String,
    child: Child,
}

impl Replica {
    /// Starts `latch serve` from `binary` on a database, with the master key, opening
    /// 127.0.0.0/8 for mock-looker; waits until it is ready.
    pub async fn spawn(binary: &Path, database_url: &str, master_key: &str) -> Self {
        Self::spawn_with_workers(binary, database_url, master_key, 2).await
    }

    pub async fn spawn_with_workers(
        binary: &Path,
        database_url: &str,
        master_key: &str,
        workers: usize,
    ) -> Self {
        Self::spawn_with_env(binary, database_url, master_key, workers, &[]).await
    }

    /// As [`Replica::spawn_with_workers`], with more environment variables (previous master
    /// keys, limits).
    pub async fn spawn_with_env(
        binary: &Path,
        database_url: &str,
        master_key: &str,
        workers: usize,
        extra: &[(&str, &str)],
    ) -> Self {
        Self::spawn_with_stderr(
            binary,
            database_url,
            master_key,
            workers,
            extra,
            Stdio::inherit(),
        )
        .await
    }

    /// As [`Replica::spawn_with_env`], its log (stderr) sent to `stderr`, a file to read
    /// afterwards.
    pub async fn spawn_with_stderr(
        binary: &Path,
        database_url: &str,
        master_key: &str,
        workers: usize,
        extra: &[(&str, &str)],
        stderr: Stdio,
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg("serve")
            .env("LATCH_DATABASE_URL", database_url)
            .env("LATCH_MASTER_KEY", master_key)
            .env("LATCH_LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("LATCH_ALLOW_HTTP_HOSTS", "true")
            .env("LATCH_EGRESS_ALLOW_CIDRS", "127.0.0.0/8")
            .env("LATCH_WORKERS", workers.to_string())
            .env("LATCH_LOG", "warn")
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("the replica starts");
        let replica = Self {
            address: format!("http://127.0.0.1:{port}"),
            child,
        };
        replica.wait_ready().await;
        replica
    }

    async fn wait_ready(&self) {
        latch_connector::egress::install_crypto_provider();
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(response) = client.get(format!("{}/readyz", self.address)).send().await
                && response.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the replica at {} did not become ready", self.address);
    }

    /// Sends SIGTERM, as an orchestrator stopping the replica would.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to end, up to `limit`; its exit status.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// Stops the server (SIGTERM, then up to 10 s to finish) and reads its log at
    /// `log_path` (where its stderr went): the lines that tell of a 500 or a fault.
    pub async fn stop_and_read_faults(mut self, log_path: &Path) -> Vec<String> {
        self.terminate();
        self.wait_exit(Duration::from_secs(10)).await;
        let log = std::fs::read_to_string(log_path).expect("the server log");
        server_faults(&log)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the process, in KiB (Linux).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lines of the server log that tell of a 500 or a fault of Latch's own: a run must hold
/// none. (actix logs a request it could not parse at ERROR: that is the client's fault, and
/// answered 400.)
fn server_faults(log: &str) -> Vec<String> {
    log.lines()
        .filter(|line| {
            line.contains("status=500")
                || line.contains("panicked")
                || (line.contains(" ERROR ") && line.contains("latch"))
        })
        .map(str::to_string)
        .collect()
}

/// A `latch worker` process (the background worker without the HTTP server) on a database,
/// looking for work five times a second with checks due every minute; killed when dropped.
pub struct WorkerProcess(Child);

impl WorkerProcess {
    pub fn start(binary: &Path, database_url: &str, master_key: &str) -> Self {
        let child = Command::new(binary)
            .arg("worker")
            .env("LATCH_DATABASE_URL", database_url)
            .env("LATCH_MASTER_KEY", master_key)
            .env("LATCH_ALLOW_HTTP_HOSTS", "true")
            .env("LATCH_EGRESS_ALLOW_CIDRS", "127.0.0.0/8")
            .env("LATCH_WORKER_TICK_MS", "200")
            .env("LATCH_WORKER_LEASE_SECONDS", "5")
            .env("LATCH_CHECK_INTERVAL_SECONDS", "60")
            .env("LATCH_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("latch worker starts");
        Self(child)
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
