//! Looker credentials made by consent: connect sessions, the browser's trip through
//! mock-looker's consent screen (followed one redirect at a time, as a browser would), the
//! callback, and tokens for jobs from the rotating refresh token, across replicas.

use latch_tests::mock_looker::Fault;
use latch_tests::mock_looker::oauth::Approval;
use latch_tests::{
    TestApp, TestOptions, WithMock, captured_logs, contains_bytes, on_both_backends,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use url::Url;

mod after_consent;

on_both_backends!(
    Consent:
        a_consent_saves_a_valid_credential_with_its_identity_and_its_token_serves_jobs,
        an_expired_token_is_refreshed_and_the_rotated_refresh_token_serves_the_next_refresh,
        another_replica_refreshes_with_the_refresh_token_the_first_one_stored,
        a_replayed_callback_changes_nothing_and_an_unknown_state_saves_nothing,
        a_declined_consent_fails_the_session_with_the_reason_and_saves_nothing,
        return_to_on_an_allowed_origin_is_where_the_browser_goes_back_and_elsewhere_is_refused,
        a_revoked_grant_makes_the_credential_invalid_and_says_to_connect_again,
        no_token_reaches_the_page_the_store_in_clear_or_a_connect_session_answer,
        bad_connect_session_requests_name_their_fields,
        an_oauth_credentials_settings_cannot_be_patched,
);

pub(crate) const APP: &str = "latch-oauth-test";

pub(crate) struct Consent {
    pub(crate) fixture: WithMock,
    pub(crate) browser: reqwest::Client,
    /// The OAuth app of the test's organization, registered at mock-looker for its client.
    pub(crate) app_id: String,
}

impl Consent {
    pub(crate) async fn create(backend: latch_tests::Backend) -> Option<Self> {
        let fixture = WithMock::create(backend).await?;
        fixture.mock.set_approval(Approval::Approve);
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let app = register_app(&fixture, "Looker", APP).await;
        Some(Self {
            fixture,
            browser,
            app_id: app["id"].as_str().unwrap().to_string(),
        })
    }

    pub(crate) fn app(&self) -> &TestApp {
        &self.fixture.app
    }

    pub(crate) fn body(&self, name: &str) -> Value {
        json!({"name": name, "oauth_app_id": self.app_id})
    }

    /// Starts a session; its answer.
    pub(crate) async fn start(&self, body: &Value) -> Value {
        let (status, answer) = self
            .app()
            .send(Method::POST, "/v1/connect-sessions", Some(body))
            .await;
        assert_eq!(status, 201, "{answer}");
        answer
    }

    /// A session as `GET /v1/connect-sessions/{id}` shows it now.
    pub(crate) async fn session_now(&self, session: &Value) -> Value {
        let path = format!("/v1/connect-sessions/{}", session["id"].as_str().unwrap());
        let (status, view) = self.app().send(Method::GET, &path, None).await;
        assert_eq!(status, 200, "{view}");
        view
    }

    /// The consent screen's answer: where it sends the browser back to.
    pub(crate) async fn back_from(&self, authorization_url: &str) -> String {
        let screen = self.browser.get(authorization_url).send().await.unwrap();
        assert_eq!(screen.status(), StatusCode::FOUND);
        let back = screen.headers()["location"].to_str().unwrap().to_string();
        assert!(
            back.starts_with(&self.app().address),
            "sent elsewhere: {back}"
        );
        back
    }

    /// The consent screen of a started session: where it sends the browser back to.
    pub(crate) async fn screen(&self, session: &Value) -> String {
        self.back_from(session["authorization_url"].as_str().unwrap())
            .await
    }

    /// The browser's trip: the consent screen, then wherever it sends the browser back to.
    pub(crate) async fn consent(&self, authorization_url: &str) -> reqwest::Response {
        let back = self.back_from(authorization_url).await;
        self.browser.get(back).send().await.unwrap()
    }

    /// A credential made by consent; its id.
    pub(crate) async fn connected(&self, name: &str) -> String {
        let session = self.start(&self.body(name)).await;
        let page = self
            .consent(session["authorization_url"].as_str().unwrap())
            .await;
        assert_eq!(page.status(), StatusCode::OK);
        let session = self.session_now(&session).await;
        session["credential_id"].as_str().unwrap().to_string()
    }

    pub(crate) async fn token(&self, address: &str, id: &str, body: Value) -> (u16, Value) {
        let response = self
            .app()
            .client
            .post(format!("{address}/v1/credentials/{id}/token"))
            .bearer_auth(&self.app().admin_key)
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

/// Registers an OAuth app for mock-looker's client `client_id` in the test's organization, and
/// its redirect URI at mock-looker, as the two admins would; the app.
pub(crate) async fn register_app(fixture: &WithMock, name: &str, client_id: &str) -> Value {
    let (status, app) = fixture
        .app
        .send(
            Method::POST,
            "/v1/oauth-apps",
            Some(&json!({
                "name": name,
                "connector": "looker",
                "config": {
                    "api_host_url": fixture.mock.url,
                    "ui_host_url": fixture.mock.url,
                    "client_id": client_id,
                },
            })),
        )
        .await;
    assert_eq!(status, 201, "{app}");
    fixture
        .mock
        .register_oauth_app(client_id, app["redirect_uri"].as_str().unwrap());
    app
}

fn query_of(url: &str) -> Vec<(String, String)> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

async fn a_consent_saves_a_valid_credential_with_its_identity_and_its_token_serves_jobs(
    consent: Consent,
) {
    let session = consent.start(&consent.body("Looker production")).await;
    assert_eq!(session["status"], "pending");
    let url = session["authorization_url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/auth?", consent.fixture.mock.url)));
    let query = query_of(url);
    assert_eq!(value(&query, "response_type"), Some("code"));
    assert_eq!(value(&query, "scope"), Some("cors_api"));
    assert_eq!(value(&query, "code_challenge_method"), Some("S256"));
    assert_eq!(
        value(&query, "redirect_uri"),
        Some(
            format!(
                "{}/v1/oauth/callback/{}",
                consent.app().address,
                consent.app_id
            )
            .as_str()
        )
    );
    // 256 random bits, base64url.
    assert!(value(&query, "state").unwrap().len() >= 43);
    let pending = consent.session_now(&session).await;
    assert_eq!(pending["status"], "pending");

    let page = consent.consent(url).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Looker production is connected as Latch API User"),
        "{html}"
    );

    let done = consent.session_now(&session).await;
    assert_eq!(done["status"], "completed");
    let id = done["credential_id"].as_str().unwrap();
    let (status, credential) = consent
        .app()
        .send(Method::GET, &format!("/v1/credentials/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(credential["status"], "valid");
    assert_eq!(credential["auth_method"], "oauth_authorization_code");
    assert_eq!(credential["identity"]["display_name"], "Latch API User");
    assert_eq!(
        credential["config"]["ui_host_url"],
        consent.fixture.mock.url
    );

    // The consent's own token serves the first job: no refresh, no login.
    let (status, token) = consent.token(&consent.app().address, id, json!({})).await;
    assert_eq!(status, 200, "{token}");
    assert!(
        consent
            .fixture
            .mock
            .is_active(token["access_token"].as_str().unwrap())
    );
    let stats = consent.fixture.mock.stats();
    assert_eq!(
        (stats.oauth_exchanges, stats.oauth_refreshes, stats.logins),
        (1, 0, 0)
    );
}

async fn an_expired_token_is_refreshed_and_the_rotated_refresh_token_serves_the_next_refresh(
    consent: Consent,
) {
    let id = consent.connected("refreshed").await;
    let address = consent.app().address.clone();
    let (status, first) = consent.token(&address, &id, json!({})).await;
    assert_eq!(status, 200, "{first}");
    // The job says the upstream refused its token: a refresh grant replaces it.
    let (status, second) = consent
        .token(
            &address,
            &id,
            json!({"rejected_token": first["access_token"]}),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["access_token"], first["access_token"]);
    // That refresh rotated the refresh token; the next one succeeds only with the rotated
    // one, which must have been stored with the new access token.
    let (status, third) = consent
        .token(
            &address,
            &id,
            json!({"rejected_token": second["access_token"]}),
        )
        .await;
    assert_eq!(status, 200, "{third}");
    assert_ne!(third["access_token"], second["access_token"]);
    assert_eq!(consent.fixture.mock.stats().oauth_refreshes, 2);
    assert_eq!(consent.fixture.mock.live_refresh_tokens().len(), 1);
}

async fn another_replica_refreshes_with_the_refresh_token_the_first_one_stored(consent: Consent) {
    let id = consent.connected("shared").await;
    let (_, first) = consent.token(&consent.app().address, &id, json!({})).await;
    let (status, _) = consent
        .token(
            &consent.app().address,
            &id,
            json!({"rejected_token": first["access_token"]}),
        )
        .await;
    assert_eq!(status, 200);
    // A second server on the same database, with the same public address (the redirect URI
    // a refresh must repeat).
    let replica = consent
        .app()
        .replica(TestOptions {
            public_url: Some(Url::parse(&consent.app().address).unwrap()),
            ..TestOptions::mock_reachable()
        })
        .await;
    let (status, cached) = consent.token(&replica, &id, json!({})).await;
    assert_eq!(status, 200, "{cached}");
    let (status, refreshed) = consent
        .token(
            &replica,
            &id,
            json!({"rejected_token": cached["access_token"]}),
        )
        .await;
    assert_eq!(status, 200, "{refreshed}");
    // And back: the first server, whose own copy is older, refreshes with the refresh token
    // the replica rotated and stored, not with the one it last saw.
    let (_, held) = consent.token(&consent.app().address, &id, json!({})).await;
    let (status, again) = consent
        .token(
            &consent.app().address,
            &id,
            json!({"rejected_token": held["access_token"]}),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    // No refresh was needed for that: the replica's newer token was in the store.
    assert_eq!(again["access_token"], refreshed["access_token"]);
    assert_eq!(consent.fixture.mock.stats().oauth_refreshes, 2);
    let (status, last) = consent
        .token(
            &consent.app().address,
            &id,
            json!({"rejected_token": again["access_token"]}),
        )
        .await;
    assert_eq!(status, 200, "{last}");
    assert_eq!(consent.fixture.mock.stats().oauth_refreshes, 3);
    assert_eq!(consent.fixture.mock.live_refresh_tokens().len(), 1);
}

async fn a_replayed_callback_changes_nothing_and_an_unknown_state_saves_nothing(consent: Consent) {
    let session = consent.start(&consent.body("once")).await;
    let back = consent.screen(&session).await;
    let first = consent.browser.get(&back).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);

    let replay = consent.browser.get(&back).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(replay.text().await.unwrap().contains("already used"));
    let after = consent.session_now(&session).await;
    assert_eq!(after["status"], "completed");

    let forged = consent
        .browser
        .get(consent.app().url(&format!(
            "/v1/oauth/callback/{}?code=mock-code-x&state={}",
            consent.app_id,
            "f".repeat(43)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);
    assert!(
        forged
            .text()
            .await
            .unwrap()
            .contains("not one Latch issued")
    );
    let missing = consent
        .browser
        .get(
            consent
                .app()
                .url(&format!("/v1/oauth/callback/{}", consent.app_id)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);

    let (_, list) = consent
        .app()
        .send(Method::GET, "/v1/credentials", None)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(consent.fixture.mock.stats().oauth_exchanges, 1);
}

async fn a_declined_consent_fails_the_session_with_the_reason_and_saves_nothing(consent: Consent) {
    consent.fixture.mock.set_approval(Approval::Deny);
    let session = consent.start(&consent.body("declined")).await;
    let page = consent
        .consent(session["authorization_url"].as_str().unwrap())
        .await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.text().await.unwrap().contains("declined"));
    let failed = consent.session_now(&session).await;
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].as_str().unwrap().contains("declined"));
    assert!(failed.get("credential_id").is_none());
    let (_, list) = consent
        .app()
        .send(Method::GET, "/v1/credentials", None)
        .await;
    assert!(list["items"].as_array().unwrap().is_empty());
    let (_, events) = consent
        .app()
        .send(Method::GET, "/v1/audit-events", None)
        .await;
    let failures: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["action"] == "connect_session.failed")
        .collect();
    assert_eq!(failures.len(), 1, "{events}");
    assert_eq!(failures[0]["outcome"], "failure");
}

async fn return_to_on_an_allowed_origin_is_where_the_browser_goes_back_and_elsewhere_is_refused(
    consent: Consent,
) {
    let mut body = consent.body("with return");
    let return_to = consent.app().url("/console/credentials?view=tiles");
    body["return_to"] = json!(return_to);
    let session = consent.start(&body).await;
    let back = consent
        .consent(session["authorization_url"].as_str().unwrap())
        .await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    let location = back.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&return_to), "{location}");
    let query = query_of(&location);
    assert_eq!(value(&query, "status"), Some("completed"));
    assert_eq!(value(&query, "connect_session"), session["id"].as_str());
    assert_eq!(value(&query, "view"), Some("tiles"));

    for elsewhere in [
        "https://evil.example/steal",
        "javascript:alert(1)",
        "/relative",
    ] {
        let mut body = consent.body("elsewhere");
        body["return_to"] = json!(elsewhere);
        let (status, problem) = consent
            .app()
            .send(Method::POST, "/v1/connect-sessions", Some(&body))
            .await;
        assert_eq!(status, 422, "{elsewhere}: {problem}");
        assert_eq!(problem["errors"][0]["field"], "return_to");
    }
}

async fn a_revoked_grant_makes_the_credential_invalid_and_says_to_connect_again(consent: Consent) {
    let id = consent.connected("revoked").await;
    let (_, current) = consent.token(&consent.app().address, &id, json!({})).await;
    consent.fixture.mock.revoke_oauth_tokens(APP);
    let rejected = json!({"rejected_token": current["access_token"]});
    let (status, problem) = consent
        .token(&consent.app().address, &id, rejected.clone())
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["type"], "urn:latch:problem:reconnect_required");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("/v1/credentials/{id}/reconnect")),
        "{problem}"
    );
    let (_, credential) = consent
        .app()
        .send(Method::GET, &format!("/v1/credentials/{id}"), None)
        .await;
    assert_eq!(credential["status"], "reauthorization_required");
    let (_, listed) = consent
        .app()
        .send(
            Method::GET,
            "/v1/credentials?status=reauthorization_required",
            None,
        )
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    // Refused at once afterwards: no storm of refresh grants.
    for _ in 0..5 {
        let (status, problem) = consent
            .token(&consent.app().address, &id, rejected.clone())
            .await;
        assert_eq!(status, 409);
        assert_eq!(problem["type"], "urn:latch:problem:reconnect_required");
    }
    assert_eq!(consent.fixture.mock.stats().oauth_refreshes, 0);
}

async fn no_token_reaches_the_page_the_store_in_clear_or_a_connect_session_answer(
    consent: Consent,
) {
    let session = consent.start(&consent.body("sealed")).await;
    let back = consent.screen(&session).await;
    let code = value(&query_of(&back), "code").unwrap().to_string();
    let state = value(&query_of(&back), "state").unwrap().to_string();
    let page = consent.browser.get(&back).send().await.unwrap();
    let headers = format!("{:?}", page.headers());
    let html = page.text().await.unwrap();
    let view = consent.session_now(&session).await;
    let id = view["credential_id"].as_str().unwrap();
    let (_, token) = consent.token(&consent.app().address, id, json!({})).await;
    let access = token["access_token"].as_str().unwrap().to_string();
    let refresh = consent.fixture.mock.live_refresh_tokens();
    assert_eq!(refresh.len(), 1);

    let stored = consent.app().everything_stored().await;
    let logs = captured_logs();
    for secret in [&access, &refresh[0], &code, &state] {
        assert!(!logs.contains(secret.as_str()), "in a log line");
        assert!(!contains_bytes(&stored, secret), "stored in clear");
        assert!(!html.contains(secret.as_str()), "on the page");
        assert!(!headers.contains(secret.as_str()), "in a header");
        assert!(!view.to_string().contains(secret.as_str()));
        assert!(!session.to_string().contains(&refresh[0]));
    }
}

async fn bad_connect_session_requests_name_their_fields(consent: Consent) {
    let cases = [
        (json!({}), vec!["name", "oauth_app_id"]),
        (
            json!({"name": "x", "oauth_app_id": consent.app_id, "connector": "looker"}),
            vec!["oauth_app_id"],
        ),
        (
            json!({"name": "x", "connector": "looker", "auth_method": "oauth_authorization_code"}),
            vec!["config"],
        ),
        (
            json!({"name": "x", "connector": "looker", "auth_method": "client_credentials", "config": {}}),
            vec!["auth_method"],
        ),
        (
            json!({"name": "x", "connector": "looker", "auth_method": "oauth_authorization_code",
                   "config": {"api_host_url": consent.fixture.mock.url, "client_id": APP}}),
            vec!["config.ui_host_url"],
        ),
        (
            json!({"name": "x", "connector": "nope", "auth_method": "oauth_authorization_code", "config": {}}),
            vec!["connector"],
        ),
    ];
    for (body, fields) in cases {
        let (status, problem) = consent
            .app()
            .send(Method::POST, "/v1/connect-sessions", Some(&body))
            .await;
        assert_eq!(status, 422, "{body}: {problem}");
        let mut named: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|error| error["field"].as_str().unwrap())
            .collect();
        named.sort();
        named.dedup();
        assert_eq!(named, fields, "{body}: {problem}");
    }
    let (status, _) = consent
        .app()
        .send(
            Method::GET,
            "/v1/connect-sessions/019a8f0e-5b7c-7d3e-9a41-6c2f8e1d4b20",
            None,
        )
        .await;
    assert_eq!(status, 404);
    // An app of no organization, or of another, is as missing as any other id.
    let (status, problem) = consent
        .app()
        .send(
            Method::POST,
            "/v1/connect-sessions",
            Some(&json!({"name": "x", "oauth_app_id": "019a8f0e-5b7c-7d3e-9a41-6c2f8e1d4b20"})),
        )
        .await;
    assert_eq!(status, 404, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("oauth_app_id"));
}

async fn an_oauth_credentials_settings_cannot_be_patched(consent: Consent) {
    let id = consent.connected("fixed").await;
    let (status, problem) = consent
        .app()
        .send(
            Method::PATCH,
            &format!("/v1/credentials/{id}"),
            Some(&json!({"config": {"client_id": "other"}})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("connecting it again")
    );
    let (status, renamed) = consent
        .app()
        .send(
            Method::PATCH,
            &format!("/v1/credentials/{id}"),
            Some(&json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(status, 200, "{renamed}");
    // A rename keeps the grant: a refresh still works without a new consent.
    let (_, current) = consent.token(&consent.app().address, &id, json!({})).await;
    let (status, _) = consent
        .token(
            &consent.app().address,
            &id,
            json!({"rejected_token": current["access_token"]}),
        )
        .await;
    assert_eq!(status, 200);
}
