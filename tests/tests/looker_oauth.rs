//! The Looker connector's OAuth grant (authorization code with PKCE, rotating refresh tokens)
//! against mock-looker over real HTTP: the browser's trip is followed by hand, one redirect at
//! a time, as a browser would.

use latch_connector::oauth::OAuthFlow;
use latch_connector::pkce::Pkce;
use latch_connector::{EgressClient, EgressPolicy, Fields, SecretFields, ValidationStatus};
use latch_connector_looker::oauth::{LookerOAuth, OAuthGrant};
use latch_tests::mock_looker::oauth::Approval;
use latch_tests::mock_looker::{Fault, MockLooker, MockLookerConfig};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use url::Url;

/// Looker's OAuth client apps have no secret.
fn none() -> SecretFields {
    SecretFields::new(Fields::new())
}

const APP: &str = "latch-test-app";
const REDIRECT: &str = "http://127.0.0.1:9/v1/oauth/callback";

struct Flow {
    mock: MockLooker,
    egress: EgressClient,
    config: Fields,
    browser: reqwest::Client,
}

async fn flow() -> Flow {
    let mock = MockLooker::start(MockLookerConfig::default()).await;
    mock.register_oauth_app(APP, REDIRECT);
    let egress = EgressClient::new(EgressPolicy {
        allow_http: true,
        allow_cidrs: vec!["127.0.0.0/8".parse().unwrap()],
        ..EgressPolicy::default()
    })
    .unwrap();
    let config = json!({"api_host_url": mock.url, "ui_host_url": mock.url, "client_id": APP})
        .as_object()
        .cloned()
        .unwrap();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Flow {
        mock,
        egress,
        config,
        browser,
    }
}

impl Flow {
    /// Opens the consent URL; the redirect's query when there is one.
    async fn consent(&self, url: &Url) -> (StatusCode, Option<Vec<(String, String)>>, String) {
        let response = self.browser.get(url.as_str()).send().await.unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|value| value.to_str().unwrap().to_string());
        let body = response.text().await.unwrap();
        let query = location.map(|location| {
            let location = Url::parse(&location).unwrap();
            assert!(
                location.as_str().starts_with(REDIRECT),
                "redirected elsewhere: {location}"
            );
            location.query_pairs().into_owned().collect()
        });
        (status, query, body)
    }

    /// A consented code and the verifier it was asked with.
    async fn code(&self) -> (SecretString, Pkce) {
        self.mock.set_approval(Approval::Approve);
        let pkce = Pkce::generate().unwrap();
        let url = LookerOAuth
            .authorization_url(&self.config, REDIRECT, "the-state", &pkce.challenge)
            .unwrap();
        let (status, query, _) = self.consent(&url).await;
        assert_eq!(status, StatusCode::FOUND);
        let query = query.unwrap();
        assert_eq!(value(&query, "state"), Some("the-state"));
        (
            SecretString::from(value(&query, "code").unwrap().to_string()),
            pkce,
        )
    }

    async fn exchange(&self, code: &SecretString, verifier: &SecretString) -> OAuthGrant {
        LookerOAuth
            .exchange_code(
                &self.egress,
                &self.config,
                &none(),
                code,
                verifier,
                REDIRECT,
            )
            .await
            .unwrap()
    }
}

fn value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

#[tokio::test]
async fn the_authorization_url_is_on_the_web_host_with_an_s256_challenge_and_cors_api_scope() {
    let flow = flow().await;
    let pkce = Pkce::generate().unwrap();
    let url = LookerOAuth
        .authorization_url(&flow.config, REDIRECT, "s", &pkce.challenge)
        .unwrap();
    assert_eq!(url.path(), "/auth");
    assert!(url.as_str().starts_with(&flow.mock.url));
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(value(&query, "response_type"), Some("code"));
    assert_eq!(value(&query, "client_id"), Some(APP));
    assert_eq!(value(&query, "redirect_uri"), Some(REDIRECT));
    assert_eq!(value(&query, "scope"), Some("cors_api"));
    assert_eq!(
        value(&query, "code_challenge"),
        Some(pkce.challenge.as_str())
    );
    assert_eq!(value(&query, "code_challenge_method"), Some("S256"));
    assert!(!url.as_str().contains(pkce.verifier.expose_secret()));
}

#[tokio::test]
async fn a_consented_code_trades_for_tokens_that_identify_the_person_and_refresh_with_rotation() {
    let flow = flow().await;
    let (code, pkce) = flow.code().await;
    let grant = flow.exchange(&code, &pkce.verifier).await;
    assert_eq!(grant.access.expires_in, Some(3600));
    let first_refresh = grant.refresh_token.expect("a refresh token");
    assert!(flow.mock.is_active(grant.access.token.expose_secret()));

    let outcome = LookerOAuth
        .identify(&flow.egress, &flow.config, &grant.access.token)
        .await;
    assert_eq!(outcome.status, ValidationStatus::Valid, "{outcome:?}");
    assert!(
        outcome.detail.contains("Latch API User"),
        "{}",
        outcome.detail
    );

    let refreshed = LookerOAuth
        .refresh(
            &flow.egress,
            &flow.config,
            &none(),
            &first_refresh,
            REDIRECT,
        )
        .await
        .unwrap();
    let second_refresh = refreshed.refresh_token.expect("a rotated refresh token");
    assert_ne!(
        second_refresh.expose_secret(),
        first_refresh.expose_secret()
    );
    assert!(
        !flow
            .mock
            .refresh_token_is_live(first_refresh.expose_secret())
    );
    assert!(
        flow.mock
            .refresh_token_is_live(second_refresh.expose_secret())
    );

    let reused = LookerOAuth
        .refresh(
            &flow.egress,
            &flow.config,
            &none(),
            &first_refresh,
            REDIRECT,
        )
        .await
        .unwrap_err();
    assert_eq!(reused.status, ValidationStatus::Invalid);
    assert!(reused.detail.contains("invalid_grant"), "{}", reused.detail);
    let stats = flow.mock.stats();
    assert_eq!((stats.oauth_exchanges, stats.oauth_refreshes), (1, 1));
}

#[tokio::test]
async fn a_code_is_refused_with_another_verifier_and_when_used_twice() {
    let flow = flow().await;
    let (code, pkce) = flow.code().await;
    let other = Pkce::generate().unwrap();
    let wrong = LookerOAuth
        .exchange_code(
            &flow.egress,
            &flow.config,
            &none(),
            &code,
            &other.verifier,
            REDIRECT,
        )
        .await
        .unwrap_err();
    assert_eq!(wrong.status, ValidationStatus::Invalid);
    assert!(wrong.detail.contains("invalid_grant"));

    flow.exchange(&code, &pkce.verifier).await;
    let again = LookerOAuth
        .exchange_code(
            &flow.egress,
            &flow.config,
            &none(),
            &code,
            &pkce.verifier,
            REDIRECT,
        )
        .await
        .unwrap_err();
    assert_eq!(again.status, ValidationStatus::Invalid);
    assert_eq!(flow.mock.stats().oauth_exchanges, 1);
}

#[tokio::test]
async fn an_unknown_app_or_an_unregistered_redirect_uri_gets_an_error_page_and_no_redirect() {
    let flow = flow().await;
    flow.mock.set_approval(Approval::Approve);
    let pkce = Pkce::generate().unwrap();
    let elsewhere = "http://127.0.0.1:9/somewhere-else";
    let url = LookerOAuth
        .authorization_url(&flow.config, elsewhere, "s", &pkce.challenge)
        .unwrap();
    let response = flow.browser.get(url.as_str()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());

    let mut unknown = flow.config.clone();
    unknown.insert("client_id".into(), json!("not-registered"));
    let url = LookerOAuth
        .authorization_url(&unknown, REDIRECT, "s", &pkce.challenge)
        .unwrap();
    let response = flow.browser.get(url.as_str()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
}

#[tokio::test]
async fn a_denied_consent_comes_back_as_access_denied_with_the_state() {
    let flow = flow().await;
    flow.mock.set_approval(Approval::Deny);
    let pkce = Pkce::generate().unwrap();
    let url = LookerOAuth
        .authorization_url(&flow.config, REDIRECT, "st", &pkce.challenge)
        .unwrap();
    let (status, query, _) = flow.consent(&url).await;
    assert_eq!(status, StatusCode::FOUND);
    let query = query.unwrap();
    assert_eq!(value(&query, "error"), Some("access_denied"));
    assert_eq!(value(&query, "state"), Some("st"));
    assert_eq!(value(&query, "code"), None);
}

#[tokio::test]
async fn the_consent_screen_asks_and_its_allow_button_comes_back_with_a_code() {
    let flow = flow().await;
    let pkce = Pkce::generate().unwrap();
    let url = LookerOAuth
        .authorization_url(&flow.config, REDIRECT, "st", &pkce.challenge)
        .unwrap();
    let (status, query, page) = flow.consent(&url).await;
    assert_eq!((status, query), (StatusCode::OK, None));
    assert!(page.contains(">Allow</button>") && page.contains(">Deny</button>"));
    let request = page
        .split("name=\"request\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    let response = flow
        .browser
        .post(format!("{}/auth/decision", flow.mock.url))
        .form(&[("request", request), ("decision", "allow")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let query: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    let code = SecretString::from(value(&query, "code").unwrap().to_string());
    assert!(
        flow.exchange(&code, &pkce.verifier)
            .await
            .refresh_token
            .is_some()
    );
}

#[tokio::test]
async fn revoked_app_tokens_make_the_refresh_fail_with_invalid_grant() {
    let flow = flow().await;
    let (code, pkce) = flow.code().await;
    let grant = flow.exchange(&code, &pkce.verifier).await;
    flow.mock.revoke_oauth_tokens(APP);
    assert!(!flow.mock.is_active(grant.access.token.expose_secret()));
    let refused = LookerOAuth
        .refresh(
            &flow.egress,
            &flow.config,
            &none(),
            grant.refresh_token.as_ref().unwrap(),
            REDIRECT,
        )
        .await
        .unwrap_err();
    assert_eq!(refused.status, ValidationStatus::Invalid);
    assert!(refused.detail.contains("reconnect"), "{}", refused.detail);
}

#[tokio::test]
async fn a_rate_limited_refresh_is_an_error_with_the_wait_not_a_refusal() {
    let flow = flow().await;
    let (code, pkce) = flow.code().await;
    let grant = flow.exchange(&code, &pkce.verifier).await;
    flow.mock.set_fault(Fault::RateLimited);
    let limited = LookerOAuth
        .refresh(
            &flow.egress,
            &flow.config,
            &none(),
            grant.refresh_token.as_ref().unwrap(),
            REDIRECT,
        )
        .await
        .unwrap_err();
    assert_eq!(limited.status, ValidationStatus::Error);
    assert_eq!(limited.retry_after, Some(30));
    flow.mock.set_fault(Fault::None);
    // The refresh token was not spent by the refused call.
    assert!(
        flow.mock
            .refresh_token_is_live(grant.refresh_token.as_ref().unwrap().expose_secret())
    );
}

#[tokio::test]
async fn the_oauth_logout_ends_the_access_and_the_refresh_token() {
    let flow = flow().await;
    let (code, pkce) = flow.code().await;
    let grant = flow.exchange(&code, &pkce.verifier).await;
    LookerOAuth
        .logout(&flow.egress, &flow.config, &none(), &grant.access.token)
        .await;
    assert!(!flow.mock.is_active(grant.access.token.expose_secret()));
    assert!(
        !flow
            .mock
            .refresh_token_is_live(grant.refresh_token.as_ref().unwrap().expose_secret())
    );
}

#[tokio::test]
async fn a_grant_never_shows_its_tokens_in_debug_output() {
    let flow = flow().await;
    let (code, pkce) = flow.code().await;
    let grant = flow.exchange(&code, &pkce.verifier).await;
    let printed = format!("{grant:?}");
    assert!(!printed.contains(grant.access.token.expose_secret()));
    assert!(!printed.contains(grant.refresh_token.as_ref().unwrap().expose_secret()));
}
