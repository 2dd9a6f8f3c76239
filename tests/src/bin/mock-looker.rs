//! `mock-looker`: a stand-in Looker API for trying Latch without a Looker account.
//!
//! cargo run -p latch-tests --bin mock-looker -- --listen 127.0.0.1:19999

use std::time::Duration;

use clap::{Parser, ValueEnum};
use latch_tests::mock_looker::oauth::Approval;
use latch_tests::mock_looker::{Fault, MockLooker, MockLookerConfig};

#[derive(Parser)]
#[command(about = "A stand-in for the Looker 4.0 API: login, user, logout, and OAuth")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:19999")]
    listen: String,
    /// The client ID the mock accepts.
    #[arg(long, default_value = "mock-client-id")]
    client_id: String,
    /// The client secret the mock accepts.
    #[arg(long, default_value = "mock-client-secret")]
    client_secret: String,
    /// Lifetime of the tokens it hands out, in seconds.
    #[arg(long, default_value_t = 3600)]
    expires_in: u64,
    /// Delay before every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Misbehave from the start (change it later with PUT /__mock/fault).
    #[arg(long, value_enum, default_value_t = FaultArg::None)]
    fault: FaultArg,
    /// Registers an OAuth client app: `CLIENT_GUID=REDIRECT_URI` (repeatable).
    #[arg(long, value_parser = parse_app)]
    oauth_app: Vec<(String, String)>,
    /// How the consent screen answers: show Allow and Deny, or approve or deny at once.
    #[arg(long, value_enum, default_value_t = ApprovalArg::Ask)]
    approval: ApprovalArg,
}

#[derive(Clone, Copy, ValueEnum)]
enum ApprovalArg {
    Ask,
    Approve,
    Deny,
}

fn parse_app(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(guid, redirect)| (guid.to_string(), redirect.to_string()))
        .ok_or_else(|| "expected CLIENT_GUID=REDIRECT_URI".to_string())
}

#[derive(Clone, Copy, ValueEnum)]
enum FaultArg {
    None,
    ServerError,
    RateLimited,
    Malformed,
    Hang,
    Oversized,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let fault = match args.fault {
        FaultArg::None => Fault::None,
        FaultArg::ServerError => Fault::ServerError,
        FaultArg::RateLimited => Fault::RateLimited,
        FaultArg::Malformed => Fault::Malformed,
        FaultArg::Hang => Fault::Hang,
        FaultArg::Oversized => Fault::Oversized,
    };
    let config = MockLookerConfig {
        client_id: args.client_id,
        client_secret: args.client_secret,
        expires_in: args.expires_in,
        latency: Duration::from_millis(args.latency_ms),
        ..MockLookerConfig::default()
    };
    let mock = MockLooker::start_on(&args.listen, config, fault).await?;
    for (client_guid, redirect_uri) in &args.oauth_app {
        mock.register_oauth_app(client_guid, redirect_uri);
    }
    mock.set_approval(match args.approval {
        ApprovalArg::Ask => Approval::Ask,
        ApprovalArg::Approve => Approval::Approve,
        ApprovalArg::Deny => Approval::Deny,
    });
    eprintln!(
        "mock-looker listening on {} (client id `{}`); counters at {}/__mock/stats",
        mock.url,
        mock.config().client_id,
        mock.url
    );
    mock.wait().await;
    Ok(())
}
