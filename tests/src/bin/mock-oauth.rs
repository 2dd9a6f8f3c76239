//! `mock-oauth`: a stand-in OAuth 2.0 authorization server for trying the generic `oauth2`
//! provider (and providers of your own) without an identity provider. It is the strict server
//! the tests use: it knows one client, authenticated the way it is registered, approves every
//! consent at once for Ada Lovelace, and refuses what real servers refuse (a wrong secret, an
//! unregistered redirect URI, a wrong PKCE verifier, a reused code).
//!
//! cargo run -p latch-tests --bin mock-oauth -- --listen 127.0.0.1:19998

use clap::{Parser, ValueEnum};
use latch_tests::mock_oauth::{Auth, MockOAuth, Profile};

#[derive(Parser)]
#[command(
    about = "A stand-in OAuth 2.0 authorization server: /authorize, /token, /userinfo, /revoke"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:19998")]
    listen: String,
    /// The client ID it knows.
    #[arg(long, default_value = "tour-client")]
    client_id: String,
    /// The client's secret.
    #[arg(long, default_value = "tour-secret")]
    client_secret: String,
    /// How the client authenticates at the token endpoint.
    #[arg(long, value_enum, default_value_t = AuthArg::ClientSecretBasic)]
    client_auth: AuthArg,
    /// The scopes the client may ask for (repeatable).
    #[arg(long, default_values_t = ["read".to_string(), "openid".to_string()])]
    scope: Vec<String>,
    /// Redirect URIs the client may send consents back to; one ending in `/` stands for
    /// every URI below it (repeatable).
    #[arg(long, default_values_t = ["http://127.0.0.1:8080/v1/oauth/callback/".to_string()])]
    redirect_uri: Vec<String>,
    /// Lifetime of the tokens it hands out, in seconds.
    #[arg(long, default_value_t = 3600)]
    expires_in: u64,
}

#[derive(Clone, Copy, ValueEnum)]
enum AuthArg {
    ClientSecretBasic,
    ClientSecretPost,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let profile = Profile {
        expires_in: Some(args.expires_in),
        rotate_refresh_tokens: true,
        require_pkce: true,
        ..Profile::default()
    };
    let server = MockOAuth::start_on(&args.listen, profile)
        .await
        .unwrap_or_else(|error| panic!("mock-oauth cannot listen on {}: {error}", args.listen));
    let auth = match args.client_auth {
        AuthArg::ClientSecretBasic => Auth::Basic,
        AuthArg::ClientSecretPost => Auth::Post,
    };
    let scopes: Vec<&str> = args.scope.iter().map(String::as_str).collect();
    server.register(&args.client_id, &args.client_secret, auth, &scopes);
    for uri in &args.redirect_uri {
        server.register_redirect_uri(&args.client_id, uri);
    }
    println!(
        "mock-oauth on {}: authorize {}, token {}, userinfo {}, revoke {}; client `{}`",
        server.url,
        server.authorization_url(),
        server.token_url(),
        server.userinfo_url(),
        server.revocation_url(),
        args.client_id
    );
    tokio::signal::ctrl_c().await.expect("waiting for Ctrl-C");
}
