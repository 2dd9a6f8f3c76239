//! The `latch` command. It lives in the library so that the end-to-end suites can build the
//! very same server as a binary of their own (`latch-server`) and run several replicas.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use latch_core::keyring::open_keyring;

use crate::{
    Application, DEV_ORG, Limits, MasterKeySource, PreviousMasterKey, Settings, WorkerProcess,
};
use clap::{Args, Parser, Subcommand};
use latch_connector::EgressPolicy;
use latch_core::api_keys::issue_api_key;
use latch_core::callers::Scope;
use latch_core::catalogue::Catalogue;
use latch_core::webhook_settings::WebhookConfig;
use latch_core::worker::WorkerConfig;
use latch_store::DEFAULT_DATABASE_URL;
use secrecy::ExposeSecret;

const DEV_MASTER_KEY_FILE: &str = "./data/master.key";

#[derive(Parser)]
#[command(
    name = "latch",
    version,
    about = "Credential registry and token broker for data connectors"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the REST API. The master key comes from LATCH_MASTER_KEY, LATCH_MASTER_KEY_FILE
    /// or LATCH_MASTER_PASSPHRASE (first found wins).
    Serve(ServeArgs),
    /// Run the background worker (scheduled checks, housekeeping) without the HTTP server,
    /// with the same settings as `serve`; serving replicas may then run with LATCH_WORKER=off.
    Worker(ServeArgs),
    /// Create or update the database schema, then exit.
    Migrate(DatabaseArgs),
    /// Manage API keys.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Print the OpenAPI document.
    Openapi,
    /// Re-wrap every data key under the active master key, in batches, while servers keep
    /// serving; prints the data keys per KEK before and after. Safe to run again or to stop.
    /// Takes the master key and the previous ones from the same variables as `serve`.
    Rewrap(RewrapArgs),
    /// Show the key-encryption keys and how many data keys each wraps (no master key needed).
    Keys(DatabaseArgs),
}

#[derive(Args)]
struct RewrapArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// Data keys per transaction.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(i64).range(1..=10_000))]
    batch_size: i64,
    /// Stop after this many batches (to spread a large rewrap over several runs).
    #[arg(long)]
    max_batches: Option<u64>,
}

#[derive(Args)]
struct DatabaseArgs {
    /// sqlite://PATH or postgres://USER@HOST/DB.
    #[arg(long, env = "LATCH_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    database_url: String,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// Address and port to listen on.
    #[arg(long, env = "LATCH_LISTEN_ADDR", default_value = "127.0.0.1:8080")]
    listen_addr: String,
    /// Accept plain http:// connector hosts (local mock servers only).
    #[arg(long, env = "LATCH_ALLOW_HTTP_HOSTS")]
    allow_http_hosts: bool,
    /// Address ranges connectors may call although not public, comma separated
    /// (e.g. 127.0.0.0/8 for a local mock Looker). Any port is allowed on IPs inside them.
    #[arg(long, env = "LATCH_EGRESS_ALLOW_CIDRS", value_delimiter = ',')]
    egress_allow_cidrs: Vec<ipnet::IpNet>,
    /// Ports connectors may call besides 443 and 19999, comma separated.
    #[arg(long, env = "LATCH_EGRESS_ALLOW_PORTS", value_delimiter = ',')]
    egress_allow_ports: Vec<u16>,
    /// The address browsers reach Latch at; OAuth consents come back to
    /// `{public url}/v1/oauth/callback` (default: http:// and the listening address).
    #[arg(long, env = "LATCH_PUBLIC_URL")]
    public_url: Option<url::Url>,
    /// Origins, comma separated, that a connect session's `return_to` may point at besides
    /// the public URL's (a console served elsewhere).
    #[arg(long, env = "LATCH_CONSOLE_ORIGINS", value_delimiter = ',')]
    console_origins: Vec<url::Url>,
    /// A folder of provider declarations (`*.toml`) served beside the built-in connectors;
    /// see docs/ADDING_A_PROVIDER.md. A file that breaks a rule stops start-up.
    #[arg(long, env = "LATCH_PROVIDERS_DIR")]
    providers_dir: Option<PathBuf>,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "LATCH_WORKERS")]
    workers: Option<usize>,
    /// Failed authentications a minute from one address (IPv6: one /64) before further
    /// failing attempts are answered 429; 0 turns the limit off.
    #[arg(long, env = "LATCH_AUTH_FAILURES_PER_MINUTE", default_value_t = 30)]
    auth_failures_per_minute: u32,
    /// Seconds in which a forced token refresh that does not name the rejected token logs in
    /// at most once per credential.
    #[arg(
        long,
        env = "LATCH_FORCED_REFRESH_INTERVAL_SECONDS",
        default_value_t = 10
    )]
    forced_refresh_interval_seconds: u64,
    /// Seconds a client has to send a request's whole body; a slower one gets 408 and its
    /// connection is closed.
    #[arg(
        long,
        env = "LATCH_BODY_TIMEOUT_SECONDS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    body_timeout_seconds: u64,
    /// Pending connect sessions (consents not yet given) an organization may have at once;
    /// past it, starting one answers 429 until one expires or completes.
    #[arg(
        long,
        env = "LATCH_PENDING_CONNECT_SESSIONS_PER_ORG",
        default_value_t = 100,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pending_connect_sessions_per_org: u32,
    /// Days a connect session is kept after it expired (the audit trail keeps its history).
    #[arg(
        long,
        env = "LATCH_CONNECT_SESSION_RETENTION_DAYS",
        default_value_t = 7,
        value_parser = clap::value_parser!(u64).range(1..=3650)
    )]
    connect_session_retention_days: u64,
    /// Failed checks and token logins in a row (upstream unreachable, 5xx, 429, time-outs)
    /// that turn a credential `degraded`.
    #[arg(
        long,
        env = "LATCH_HEALTH_DEGRADED_AFTER",
        default_value_t = 3,
        value_parser = clap::value_parser!(u32).range(1..=1000)
    )]
    health_degraded_after: u32,
    #[command(flatten)]
    worker: WorkerArgs,
    /// Development mode: generate ./data/master.key when no master key is set, create the
    /// `default` organization and print an admin key on first start.
    #[arg(long)]
    dev: bool,
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create an API key (and its organization when missing); prints the key alone on stdout.
    Create {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Organization name.
        #[arg(long)]
        org: String,
        /// A scope: admin, credentials:read, credentials:write, tokens:issue. Repeatable.
        #[arg(long = "scope", required = true, value_parser = parse_scope)]
        scopes: Vec<Scope>,
        /// A name to recognise the key by.
        #[arg(long, default_value = "created with latch api-key create")]
        name: String,
    },
}

fn parse_scope(text: &str) -> Result<Scope, String> {
    Scope::parse(text).ok_or_else(|| {
        "expected one of admin, credentials:read, credentials:write, tokens:issue".to_string()
    })
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("latch: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run_cli())
}

async fn run_cli() -> ExitCode {
    let cli = Cli::parse();
    // Held until the command ends, so that every queued log line is written.
    let _logs = if matches!(cli.command, Command::Openapi) {
        None
    } else {
        match crate::telemetry::init_logging() {
            Ok(guard) => Some(guard),
            Err(message) => {
                eprintln!("latch: {message}");
                return ExitCode::FAILURE;
            }
        }
    };
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("latch: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Worker(args) => worker(args).await,
        Command::Migrate(args) => {
            latch_store::connect(&args.database_url)
                .await
                .map_err(|error| error.to_string())?;
            eprintln!("latch: the database schema is up to date");
            Ok(())
        }
        Command::ApiKey(ApiKeyCommand::Create {
            database,
            org,
            scopes,
            name,
        }) => {
            let org = org.trim();
            if org.is_empty() || org.chars().count() > 128 {
                return Err("--org must be 1 to 128 characters".into());
            }
            let store = latch_store::connect(&database.database_url)
                .await
                .map_err(|error| error.to_string())?;
            let org = store
                .ensure_organization(org)
                .await
                .map_err(|error| error.to_string())?;
            let issued = issue_api_key(store.as_ref(), org.id, &name, &scopes, None, None)
                .await
                .map_err(|error| error.to_string())?;
            println!("{}", issued.key.expose_secret());
            Ok(())
        }
        Command::Openapi => {
            print!("{}", crate::openapi::spec_json());
            Ok(())
        }
        Command::Rewrap(args) => rewrap(args).await,
        Command::Keys(args) => {
            let store = latch_store::connect(&args.database_url)
                .await
                .map_err(|error| error.to_string())?;
            print!("{}", latch_core::rewrap::keys_table(store.as_ref()).await?);
            Ok(())
        }
    }
}

async fn rewrap(args: RewrapArgs) -> Result<(), String> {
    let master_key = MasterKeySource::from_env(None)?;
    let previous = PreviousMasterKey::from_env()?;
    let store = latch_store::connect(&args.database.database_url)
        .await
        .map_err(|error| error.to_string())?;
    let (current, previous) =
        crate::key_files::materials(&master_key, &previous).map_err(|error| error.to_string())?;
    let keyring = open_keyring(store.as_ref(), &current, &previous)
        .await
        .map_err(|error| error.to_string())?;
    let ids: Vec<String> = store
        .keyring_entries()
        .await
        .map_err(|error| error.to_string())?
        .into_iter()
        .map(|entry| entry.kek_id)
        .collect();
    println!("active key-encryption key: {}", keyring.active_kek_id());
    let report = latch_core::rewrap::rewrap(
        store.as_ref(),
        &keyring,
        args.batch_size,
        args.max_batches,
        |done| eprintln!("latch: {done} data keys rewrapped"),
    )
    .await?;
    println!(
        "before:\n{}after:\n{}rewrapped: {}, skipped (changed meanwhile): {}, failed: {}",
        latch_core::rewrap::usage_lines(&report.before, &ids),
        latch_core::rewrap::usage_lines(&report.after, &ids),
        report.rewrapped,
        report.skipped,
        report.failed
    );
    if report.failed > 0 {
        return Err(format!(
            "{} data keys did not open and were left as they are; see the log",
            report.failed
        ));
    }
    Ok(())
}

/// The background worker's settings.
#[derive(Args)]
struct WorkerArgs {
    /// Runs the background worker's scheduled checks and housekeeping in this process
    /// (`on` or `off`).
    #[arg(long, env = "LATCH_WORKER", default_value = "on", value_parser = on_or_off)]
    worker: bool,
    /// Seconds between two scheduled checks of a credential (less up to a tenth, drawn per
    /// credential); a token obtained meanwhile counts as a check.
    #[arg(
        long,
        env = "LATCH_CHECK_INTERVAL_SECONDS",
        default_value_t = 21_600,
        value_parser = clap::value_parser!(u64).range(1..=31_536_000)
    )]
    check_interval_seconds: u64,
    /// Test logins and refreshes at once against one upstream host.
    #[arg(
        long,
        env = "LATCH_CHECKS_PER_HOST",
        default_value_t = 2,
        value_parser = clap::value_parser!(u64).range(1..=64)
    )]
    checks_per_host: u64,
    /// Tokens of credentials jobs asked for within this many seconds are refreshed before
    /// they get shorter than the min_ttl_seconds asked for; 0 turns it off.
    #[arg(
        long,
        env = "LATCH_REFRESH_AHEAD_WINDOW_SECONDS",
        default_value_t = 900,
        value_parser = clap::value_parser!(u64).range(0..=86_400)
    )]
    refresh_ahead_window_seconds: u64,
    /// Milliseconds between two looks for work (leased tasks; refreshing ahead looks six
    /// times as often).
    #[arg(
        long,
        env = "LATCH_WORKER_TICK_MS",
        default_value_t = 30_000,
        value_parser = clap::value_parser!(u64).range(100..=3_600_000)
    )]
    worker_tick_ms: u64,
    /// Seconds a replica holds a task before another may take it over (renewed while it
    /// works).
    #[arg(
        long,
        env = "LATCH_WORKER_LEASE_SECONDS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    worker_lease_seconds: u64,
    /// Days audit events are kept; 0 keeps them for ever.
    #[arg(
        long,
        env = "LATCH_AUDIT_RETENTION_DAYS",
        default_value_t = 0,
        value_parser = clap::value_parser!(u64).range(0..=36_500)
    )]
    audit_retention_days: u64,
    /// Days a credential's status changes are kept.
    #[arg(
        long,
        env = "LATCH_HEALTH_HISTORY_RETENTION_DAYS",
        default_value_t = 90,
        value_parser = clap::value_parser!(u64).range(1..=36_500)
    )]
    health_history_retention_days: u64,
    /// Seconds before the first retry of a failed webhook delivery; each retry waits twice
    /// as long as the one before.
    #[arg(
        long,
        env = "LATCH_WEBHOOK_RETRY_FIRST_SECONDS",
        default_value_t = 5,
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    webhook_retry_first_seconds: u64,
    /// The longest wait between two attempts of a delivery (and the most a Retry-After is
    /// honoured for, never more than a day).
    #[arg(
        long,
        env = "LATCH_WEBHOOK_RETRY_MAX_SECONDS",
        default_value_t = 36_000,
        value_parser = clap::value_parser!(u64).range(1..=604_800)
    )]
    webhook_retry_max_seconds: u64,
    /// Seconds a delivery is retried, and an endpoint may fail every attempt before it is
    /// turned off.
    #[arg(
        long,
        env = "LATCH_WEBHOOK_RETRY_HORIZON_SECONDS",
        default_value_t = 259_200,
        value_parser = clap::value_parser!(u64).range(1..=2_592_000)
    )]
    webhook_retry_horizon_seconds: u64,
    /// Seconds an attempt may take.
    #[arg(
        long,
        env = "LATCH_WEBHOOK_TIMEOUT_SECONDS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=60)
    )]
    webhook_timeout_seconds: u64,
    /// Milliseconds between two looks for due deliveries when none were due.
    #[arg(
        long,
        env = "LATCH_WEBHOOK_POLL_MS",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u64).range(10..=60_000)
    )]
    webhook_poll_ms: u64,
    /// Days finished webhook deliveries are kept.
    #[arg(
        long,
        env = "LATCH_WEBHOOK_DELIVERY_RETENTION_DAYS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=36_500)
    )]
    webhook_delivery_retention_days: u64,
}

/// Seconds in a day.
const DAY: u64 = 24 * 3600;

fn on_or_off(text: &str) -> Result<bool, String> {
    match text {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        _ => Err("must be `on` or `off`".into()),
    }
}

impl WorkerArgs {
    fn config(&self) -> WorkerConfig {
        let tick = Duration::from_millis(self.worker_tick_ms);
        WorkerConfig {
            enabled: self.worker,
            tick,
            lease: Duration::from_secs(self.worker_lease_seconds),
            check_interval: Duration::from_secs(self.check_interval_seconds),
            per_host: usize::try_from(self.checks_per_host).unwrap_or(2),
            refresh_ahead_window: Duration::from_secs(self.refresh_ahead_window_seconds),
            refresh_ahead_tick: tick / 6,
            audit_retention: (self.audit_retention_days > 0)
                .then(|| Duration::from_secs(self.audit_retention_days * DAY)),
            health_history_retention: Duration::from_secs(self.health_history_retention_days * DAY),
            webhooks: WebhookConfig {
                retry_first: Duration::from_secs(self.webhook_retry_first_seconds),
                retry_max: Duration::from_secs(self.webhook_retry_max_seconds),
                horizon: Duration::from_secs(self.webhook_retry_horizon_seconds),
                timeout: Duration::from_secs(self.webhook_timeout_seconds),
                poll: Duration::from_millis(self.webhook_poll_ms),
                delivery_retention: Duration::from_secs(self.webhook_delivery_retention_days * DAY),
                ..WebhookConfig::default()
            },
            ..WorkerConfig::default()
        }
    }
}

/// What `serve` and `worker` run on.
fn settings_of(args: ServeArgs) -> Result<(Settings, Catalogue), String> {
    let master_key =
        MasterKeySource::from_env(args.dev.then(|| PathBuf::from(DEV_MASTER_KEY_FILE)))?;
    let settings = Settings {
        database_url: args.database.database_url,
        listen_addr: args.listen_addr,
        master_key,
        previous_master_keys: PreviousMasterKey::from_env()?,
        egress: EgressPolicy {
            allow_http: args.allow_http_hosts,
            extra_ports: args.egress_allow_ports,
            allow_cidrs: args.egress_allow_cidrs,
            ..EgressPolicy::default()
        },
        workers: args.workers,
        dev: args.dev,
        limits: Limits {
            auth_failures_per_minute: args.auth_failures_per_minute,
            forced_refresh_interval: Duration::from_secs(args.forced_refresh_interval_seconds),
            body_timeout: Duration::from_secs(args.body_timeout_seconds),
            pending_connect_sessions: args.pending_connect_sessions_per_org,
            connect_session_retention: Duration::from_secs(
                args.connect_session_retention_days * 24 * 3600,
            ),
            degraded_after: args.health_degraded_after,
        },
        public_url: args.public_url,
        console_origins: args.console_origins,
        worker: args.worker.config(),
    };
    let catalogue = match &args.providers_dir {
        Some(folder) => crate::connectors::with_providers_from(folder)?,
        None => crate::connectors::builtin(),
    };
    Ok((settings, catalogue))
}

async fn worker(args: ServeArgs) -> Result<(), String> {
    let (settings, catalogue) = settings_of(args)?;
    let worker = WorkerProcess::start(settings, catalogue)
        .await
        .map_err(|error| error.to_string())?;
    worker
        .run_until_stopped()
        .await
        .map_err(|error| error.to_string())
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let (settings, catalogue) = settings_of(args)?;
    let app = Application::build_with(settings, catalogue)
        .await
        .map_err(|error| error.to_string())?;
    if let Some(key) = &app.dev_admin_key {
        print_dev_banner(key.expose_secret(), app.port());
    }
    app.run_until_stopped()
        .await
        .map_err(|error| error.to_string())
}

fn print_dev_banner(key: &str, port: u16) {
    let rule = "=".repeat(78);
    println!(
        "{rule}\n  DEVELOPMENT MODE. An admin API key for organization `{DEV_ORG}` was created.\n  \
         It is shown this once:\n\n    export LATCH_KEY={key}\n\n  \
         Open the console at http://127.0.0.1:{port}/ and sign in with that key,\n  \
         or try: curl -H \"Authorization: Bearer $LATCH_KEY\" http://127.0.0.1:{port}/v1/connectors\n{rule}"
    );
}
