//! The token endpoint calls every OAuth grant shares, against a strict authorization server
//! over real HTTP: each client authenticated the one way it is registered for, the answer
//! read as RFC 6749 §5.1 and §5.2 say, and nothing secret in what comes back.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use latch_connector::jwt_bearer::{self, Claims};
use latch_connector::oauth::OAuthGrant;
use latch_connector::token_endpoint::{
    ClientAuth, TokenEndpoint, TokenHint, client_credentials, refresh, revoke,
};
use latch_connector::{EgressClient, EgressPolicy, UpstreamError, ValidationStatus};
use latch_tests::mock_oauth::{Auth, MockOAuth, Profile};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, json};

/// A client that may call plain http on 127.0.0.0/8, where the server listens.
fn egress() -> EgressClient {
    EgressClient::new(EgressPolicy {
        allow_http: true,
        allow_cidrs: vec!["127.0.0.0/8".parse().unwrap()],
        ..EgressPolicy::default()
    })
    .unwrap()
}

fn endpoint<'a>(
    server: &MockOAuth,
    client_id: &'a str,
    secret: &'a SecretString,
    auth: ClientAuth,
) -> TokenEndpoint<'a> {
    TokenEndpoint {
        url: server.token_url().parse().unwrap(),
        client_id,
        client_secret: Some(secret),
        auth,
        upstream: "the test server",
        keep: &["instance_url"],
    }
}

/// Client `app`'s revocation endpoint, the client authenticating with `secret` by Basic.
fn revocation<'a>(server: &MockOAuth, secret: &'a SecretString) -> TokenEndpoint<'a> {
    let mut at = endpoint(server, "app", secret, ClientAuth::ClientSecretBasic);
    at.url = server.revocation_url().parse().unwrap();
    at
}

/// The client credentials grant of `client_id` with `secret`, authenticated as `auth`.
async fn grant(
    server: &MockOAuth,
    client_id: &str,
    secret: &str,
    auth: ClientAuth,
    scope: Option<&str>,
) -> Result<OAuthGrant, UpstreamError> {
    let secret = SecretString::from(secret);
    client_credentials(
        &egress(),
        &endpoint(server, client_id, &secret, auth),
        scope,
    )
    .await
}

fn profile(expires_in: Option<u64>) -> Profile {
    Profile {
        expires_in,
        ..Profile::default()
    }
}

#[tokio::test]
async fn a_basic_client_gets_a_token_with_a_secret_holding_reserved_characters() {
    let server = MockOAuth::start(profile(Some(3600))).await;
    let secret = "s3:cr%t+with spaces&more";
    server.register("client 1", secret, Auth::Basic, &[]);
    let answer = grant(
        &server,
        "client 1",
        secret,
        ClientAuth::ClientSecretBasic,
        None,
    )
    .await
    .unwrap();
    assert!(
        answer
            .access
            .token
            .expose_secret()
            .starts_with("mock-oauth-token-1-")
    );
    assert_eq!(answer.access.token_type, "Bearer");
    assert_eq!(answer.access.expires_in, Some(3600));
    assert!(answer.refresh_token.is_none());
    assert_eq!(server.grants(), 1);
}

#[tokio::test]
async fn a_post_client_gets_a_token_and_only_the_fields_the_connector_keeps() {
    let mut extra = Map::new();
    extra.insert("instance_url".into(), json!("https://eu7.example.test"));
    extra.insert("id_token".into(), json!("not-for-jobs"));
    let server = MockOAuth::start(Profile {
        expires_in: Some(900),
        extra,
        ..Profile::default()
    })
    .await;
    server.register("reporting", "post-secret", Auth::Post, &["read"]);
    let answer = grant(
        &server,
        "reporting",
        "post-secret",
        ClientAuth::ClientSecretPost,
        Some("read"),
    )
    .await
    .unwrap();
    assert_eq!(answer.access.expires_in, Some(900));
    assert_eq!(
        serde_json::Value::Object(answer.access.metadata),
        json!({"instance_url": "https://eu7.example.test"})
    );
}

#[tokio::test]
async fn an_answer_without_a_lifetime_leaves_the_lifetime_to_the_connector() {
    let server = MockOAuth::start(profile(None)).await;
    server.register("c", "s", Auth::Basic, &[]);
    let answer = grant(&server, "c", "s", ClientAuth::ClientSecretBasic, None)
        .await
        .unwrap();
    assert_eq!(answer.access.expires_in, None);
}

#[tokio::test]
async fn a_client_that_authenticates_another_way_than_registered_is_refused_as_invalid() {
    let server = MockOAuth::start(profile(Some(3600))).await;
    server.register("c", "the-secret", Auth::Basic, &[]);
    let refused = grant(
        &server,
        "c",
        "the-secret",
        ClientAuth::ClientSecretPost,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(refused.status, ValidationStatus::Invalid, "{refused:?}");
    assert!(
        refused.detail.contains("invalid_client"),
        "{}",
        refused.detail
    );
    assert_eq!((server.grants(), server.refusals()), (0, 1));
}

#[tokio::test]
async fn a_wrong_secret_is_invalid_and_the_refusal_names_no_secret() {
    let server = MockOAuth::start(profile(Some(3600))).await;
    server.register("c", "right-secret", Auth::Basic, &[]);
    let refused = grant(
        &server,
        "c",
        "wrong-secret-7f3a",
        ClientAuth::ClientSecretBasic,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(refused.status, ValidationStatus::Invalid);
    let told = format!("{refused:?}");
    assert!(!told.contains("wrong-secret-7f3a") && !told.contains("right-secret"));
}

#[tokio::test]
async fn a_scope_the_client_may_not_have_is_refused_as_invalid() {
    let server = MockOAuth::start(profile(Some(3600))).await;
    server.register("c", "s", Auth::Post, &["read"]);
    let refused = grant(
        &server,
        "c",
        "s",
        ClientAuth::ClientSecretPost,
        Some("read write"),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.status, ValidationStatus::Invalid);
    assert!(
        refused.detail.contains("invalid_scope"),
        "{}",
        refused.detail
    );
}

#[tokio::test]
async fn a_rate_limited_token_endpoint_passes_its_retry_after_on() {
    let server = MockOAuth::start(Profile {
        rate_limited: Some(7),
        ..Profile::default()
    })
    .await;
    server.register("c", "s", Auth::Basic, &[]);
    let refused = grant(&server, "c", "s", ClientAuth::ClientSecretBasic, None)
        .await
        .unwrap_err();
    assert_eq!(refused.status, ValidationStatus::Error);
    assert_eq!(refused.retry_after, Some(7));
    assert!(
        refused.detail.contains("retry after 7 seconds"),
        "{}",
        refused.detail
    );
}

#[tokio::test]
async fn a_rotating_refresh_answers_a_new_refresh_token_and_the_one_used_dies() {
    let server = MockOAuth::start(Profile {
        expires_in: Some(1800),
        rotate_refresh_tokens: true,
        ..Profile::default()
    })
    .await;
    server.register("app", "s", Auth::Basic, &[]);
    let secret = SecretString::from("s");
    let endpoint = endpoint(&server, "app", &secret, ClientAuth::ClientSecretBasic);
    let first = SecretString::from(server.issue_refresh_token("app"));
    let answer = refresh(&egress(), &endpoint, &first, None).await.unwrap();
    let next = answer.refresh_token.expect("a rotated refresh token");
    assert_ne!(next.expose_secret(), first.expose_secret());
    assert!(
        !server.is_active(first.expose_secret()),
        "the used one died"
    );
    assert!(server.is_active(next.expose_secret()));
    assert_eq!(answer.access.expires_in, Some(1800));

    let replayed = refresh(&egress(), &endpoint, &first, None)
        .await
        .unwrap_err();
    assert_eq!(replayed.status, ValidationStatus::Invalid);
    assert!(
        replayed.detail.contains("invalid_grant"),
        "{}",
        replayed.detail
    );
    assert!(refresh(&egress(), &endpoint, &next, None).await.is_ok());
}

#[tokio::test]
async fn a_fixed_refresh_token_serves_again_and_no_new_one_is_answered() {
    let server = MockOAuth::start(profile(Some(3600))).await;
    server.register("app", "s", Auth::Post, &[]);
    let secret = SecretString::from("s");
    let endpoint = endpoint(&server, "app", &secret, ClientAuth::ClientSecretPost);
    let token = SecretString::from(server.issue_refresh_token("app"));
    for _ in 0..2 {
        let answer = refresh(&egress(), &endpoint, &token, None).await.unwrap();
        assert!(answer.refresh_token.is_none());
    }
    assert_eq!(server.grants(), 2);
}

#[tokio::test]
async fn a_revoked_refresh_token_is_gone_and_revoking_it_again_is_no_error() {
    let server = MockOAuth::start(profile(Some(3600))).await;
    server.register("app", "s", Auth::Basic, &[]);
    let secret = SecretString::from("s");
    let at = revocation(&server, &secret);
    let token = SecretString::from(server.issue_refresh_token("app"));
    revoke(&egress(), &at, &token, TokenHint::RefreshToken)
        .await
        .unwrap();
    assert!(!server.is_active(token.expose_secret()));
    // RFC 7009 §2.2: a token the server no longer knows is answered 200 as well.
    revoke(&egress(), &at, &token, TokenHint::RefreshToken)
        .await
        .unwrap();
    assert_eq!(server.revocations(), 1);
}

#[tokio::test]
async fn a_revocation_is_authenticated_as_a_token_request_is() {
    let server = MockOAuth::start(profile(Some(3600))).await;
    server.register("app", "s", Auth::Basic, &[]);
    let wrong = SecretString::from("not-s");
    let at = revocation(&server, &wrong);
    let token = SecretString::from(server.issue_refresh_token("app"));
    let refused = revoke(&egress(), &at, &token, TokenHint::RefreshToken)
        .await
        .unwrap_err();
    assert_eq!(refused.status, ValidationStatus::Invalid, "{refused:?}");
    assert!(
        server.is_active(token.expose_secret()),
        "nothing was revoked"
    );
}

/// A service account key made for these tests (nothing trusts it).
const SERVICE_ACCOUNT_KEY: &str = include_str!("../fixtures/jwt-test-key.pem");

fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

fn service_account_endpoint(server: &MockOAuth) -> TokenEndpoint<'static> {
    TokenEndpoint {
        url: server.token_url().parse().unwrap(),
        client_id: "",
        client_secret: None,
        auth: ClientAuth::Unauthenticated,
        upstream: "the test server",
        keep: &[],
    }
}

/// A server that knows the test service account.
async fn service_account_server(profile: Profile) -> MockOAuth {
    let server = MockOAuth::start(profile).await;
    server.register_service_account("exports@project.example.test", SERVICE_ACCOUNT_KEY);
    server
}

/// An assertion of the test service account for `audience`, living `lifetime` from now.
fn assertion(audience: &str, lifetime: Duration) -> SecretString {
    let key = SecretString::from(SERVICE_ACCOUNT_KEY);
    jwt_bearer::sign(&key, &claims(audience, lifetime), now()).unwrap()
}

fn claims(audience: &str, lifetime: Duration) -> Claims<'_> {
    Claims {
        issuer: "exports@project.example.test",
        subject: None,
        audience,
        scope: Some("read"),
        lifetime,
    }
}

#[tokio::test]
async fn a_service_account_assertion_signed_with_its_key_is_traded_for_a_token() {
    let server = service_account_server(profile(Some(3600))).await;
    let assertion = assertion(&server.token_url(), Duration::from_secs(300));
    let answer = jwt_bearer::exchange(&egress(), &service_account_endpoint(&server), &assertion)
        .await
        .unwrap();
    assert_eq!(answer.access.expires_in, Some(3600));
    assert_eq!(server.grants(), 1);
}

#[tokio::test]
async fn an_assertion_changed_after_signing_is_refused() {
    let server = service_account_server(profile(Some(3600))).await;
    let assertion = assertion(&server.token_url(), Duration::from_secs(300));
    // The same claims asking for more scope, under the original signature.
    let parts: Vec<&str> = assertion.expose_secret().split('.').collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["scope"] = json!("read write");
    let tampered = URL_SAFE_NO_PAD.encode(payload.to_string());
    let forged = SecretString::from(format!("{}.{tampered}.{}", parts[0], parts[2]));
    let refused = jwt_bearer::exchange(&egress(), &service_account_endpoint(&server), &forged)
        .await
        .unwrap_err();
    assert_eq!(refused.status, ValidationStatus::Invalid);
    assert!(
        refused.detail.contains("invalid_grant"),
        "{}",
        refused.detail
    );
    assert!(
        !format!("{refused:?}").contains(parts[2]),
        "no assertion in the refusal"
    );
    assert_eq!(server.grants(), 0);
}

#[tokio::test]
async fn an_assertion_living_longer_than_the_server_allows_is_refused() {
    let server = service_account_server(Profile {
        expires_in: Some(3600),
        max_assertion_lifetime: 300,
        ..Profile::default()
    })
    .await;
    let endpoint = service_account_endpoint(&server);
    let long = assertion(&server.token_url(), Duration::from_secs(3600));
    let refused = jwt_bearer::exchange(&egress(), &endpoint, &long)
        .await
        .unwrap_err();
    assert_eq!(refused.status, ValidationStatus::Invalid);
    let short = assertion(&server.token_url(), Duration::from_secs(300));
    assert!(
        jwt_bearer::exchange(&egress(), &endpoint, &short)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_assertion_for_another_audience_is_refused() {
    let server = service_account_server(profile(Some(3600))).await;
    let assertion = assertion("https://login.example.test/token", Duration::from_secs(300));
    let refused = jwt_bearer::exchange(&egress(), &service_account_endpoint(&server), &assertion)
        .await
        .unwrap_err();
    assert_eq!(refused.status, ValidationStatus::Invalid);
}
