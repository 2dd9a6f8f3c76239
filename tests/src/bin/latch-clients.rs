//! The generated Python client against a fresh `latch serve` on SQLite with mock-looker,
//! everything on 127.0.0.1: starts both, makes an admin key, runs the driver script with
//! their addresses in its environment, and fails when it fails or the server logged a 500.
//!
//! latch-clients --python PATH --script tests/clients/drive.py
//! (`tests/clients/run` generates the client and puts it on PYTHONPATH first.)

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use clap::Parser;
use latch_tests::Replica;
use latch_tests::mock_looker::{MockLooker, MockLookerConfig};
use latch_tests::replica::admin_key;
use latch_vault::{ExposeSecret, MasterKey};

#[derive(Parser)]
#[command(about = "A generated client's script against a fresh Latch server with mock-looker")]
struct Args {
    /// The Python of the virtual environment the client runs in.
    #[arg(long)]
    python: PathBuf,
    /// The script that drives the client.
    #[arg(long)]
    script: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let workdir = tempfile::tempdir().expect("a temporary directory");
    let database_url = format!("sqlite://{}", workdir.path().join("latch.db").display());
    let log_path = workdir.path().join("server.log");
    let binary = std::env::current_exe()
        .expect("its own path")
        .with_file_name("latch-server");

    let config = MockLookerConfig::default();
    let mock = MockLooker::start(config.clone()).await;
    let key = admin_key(&binary, &database_url, "clients");
    let master = MasterKey::generate().expect("a master key").to_base64();
    let log = std::fs::File::create(&log_path).expect("the log file");
    let server = Replica::spawn_with_stderr(
        &binary,
        &database_url,
        master.expose_secret(),
        1,
        &[("LATCH_LOG", "info")],
        Stdio::from(log),
    )
    .await;
    let status = Command::new(&args.python)
        .arg(&args.script)
        .env("LATCH_URL", &server.address)
        .env("LATCH_KEY", &key)
        .env("LOOKER_URL", &mock.url)
        .env("LOOKER_CLIENT_ID", &config.client_id)
        .env("LOOKER_CLIENT_SECRET", &config.client_secret)
        .status()
        .expect("the driver script runs");
    let faults = server.stop_and_read_faults(&log_path).await;
    for line in &faults {
        eprintln!("server error: {line}");
    }
    if !status.success() {
        eprintln!("latch-clients: the driver script failed ({status})");
        return ExitCode::FAILURE;
    }
    if !faults.is_empty() {
        eprintln!("latch-clients: the server answered a request with a 500");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
